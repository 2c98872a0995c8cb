/**
 * The checker of a probe, by its protocol. Each protocol's module (and so its client library)
 * is loaded when a probe first uses it: pg, amqplib, mqtt and nats take about a second to load
 * together, which every `statehub` command would pay otherwise.
 */
import type { Store } from '../../../store/store.js';
import type { ProbeTarget } from '../config.js';
import type { Checker } from './checker.js';

export type { Checker } from './checker.js';

export async function createChecker(target: ProbeTarget, store: Store): Promise<Checker> {
  const { timeoutMs, intervalMs } = target.settings;
  const url = target.url ?? '';
  switch (target.protocol) {
    case 'store':
      return (await import('./store.js')).storeChecker(store);
    case 'redis':
      return (await import('./redis.js')).redisChecker(url, timeoutMs);
    case 'postgres':
      return (await import('./postgres.js')).postgresChecker(url, timeoutMs);
    case 'amqp':
      return (await import('./amqp.js')).amqpChecker(url, timeoutMs);
    case 'mqtt':
      return (await import('./mqtt.js')).mqttChecker(url, timeoutMs);
    case 'nats':
      return (await import('./nats.js')).natsChecker(url, timeoutMs);
    case 'http':
      return (await import('./http.js')).httpChecker(url, intervalMs, timeoutMs, { status: target.expectStatus, body: target.expectBody });
    case 'tcp':
      return (await import('./tcp.js')).tcpChecker(url);
  }
}
