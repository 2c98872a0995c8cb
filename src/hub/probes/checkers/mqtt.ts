/**
 * MQTT (`mqtt://`, `mqtts://`) through mqtt.js: PINGREQ on a kept connection, answered PINGRESP
 * (MQTT 3.1.1 section 3.12: the protocol's own round trip, which publishes nothing).
 */
import { connectAsync, type MqttClient, type Packet } from 'mqtt';
import { randomBytes } from 'node:crypto';
import { CLOSE_WITHIN_MS, KeptConnection, settleWithin, type Checker } from './checker.js';

export function mqttChecker(url: string, timeoutMs: number): Checker {
  const connection = new KeptConnection(
    async () => {
      const client = await connectAsync(url, {
        connectTimeout: timeoutMs,
        reconnectPeriod: 0, // a probe reports a broken connection; the next check connects again
        clientId: `statehub-probe-${randomBytes(6).toString('hex')}`,
      });
      client.on('error', () => {}); // a broken connection fails the next check, which drops it
      return client;
    },
    (client) => settleWithin(client.endAsync(true), CLOSE_WITHIN_MS),
  );
  return {
    check: () => connection.use(ping),
    reset: () => connection.reset(),
  };
}

function ping(client: MqttClient): Promise<string> {
  return new Promise((resolve, reject) => {
    const onPacket = (packet: Packet) => {
      if (packet.cmd !== 'pingresp') return;
      stop();
      resolve('PINGRESP');
    };
    const onClose = () => {
      stop();
      reject(new Error('the broker closed the connection'));
    };
    const stop = () => {
      client.off('packetreceive', onPacket);
      client.off('close', onClose);
    };
    if (!client.connected) {
      reject(new Error('not connected to the broker'));
      return;
    }
    client.on('packetreceive', onPacket);
    client.on('close', onClose);
    client.sendPing();
  });
}
