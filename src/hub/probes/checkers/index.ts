/** The checker of a probe, by its protocol. */
import type { Store } from '../../../store/store.js';
import type { ProbeTarget } from '../config.js';
import { amqpChecker } from './amqp.js';
import type { Checker } from './checker.js';
import { httpChecker } from './http.js';
import { mqttChecker } from './mqtt.js';
import { natsChecker } from './nats.js';
import { postgresChecker } from './postgres.js';
import { redisChecker } from './redis.js';
import { storeChecker } from './store.js';
import { tcpChecker } from './tcp.js';

export type { Checker } from './checker.js';

export function createChecker(target: ProbeTarget, store: Store): Checker {
  const { timeoutMs } = target.settings;
  const url = target.url ?? '';
  switch (target.protocol) {
    case 'store':
      return storeChecker(store);
    case 'redis':
      return redisChecker(url, timeoutMs);
    case 'postgres':
      return postgresChecker(url, timeoutMs);
    case 'amqp':
      return amqpChecker(url, timeoutMs);
    case 'mqtt':
      return mqttChecker(url, timeoutMs);
    case 'nats':
      return natsChecker(url, timeoutMs);
    case 'http':
      return httpChecker(url, target.settings.intervalMs, timeoutMs, { status: target.expectStatus, body: target.expectBody });
    case 'tcp':
      return tcpChecker(url);
  }
}
