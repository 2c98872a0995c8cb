import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { ConflictError } from '../../src/store/store.js';
import { RedisStore } from '../../src/store/redis.js';
import { startRedisServer, type RedisServer } from '../helpers/redis.js';
import { describeStoreContract } from './store-contract.js';

let server: RedisServer;
beforeAll(async () => {
  server = await startRedisServer();
});
afterAll(() => server?.stop());

// Each test its own prefix: the suite runs unchanged, on data no other test touches.
describeStoreContract(
  'redis',
  (options) => RedisStore.connect({ url: server.url, prefix: `test-${randomBytes(4).toString('hex')}`, ...options }),
);

describe('redis store: several connections on one prefix (several hubs)', () => {
  it('serializes concurrent changes to one actor by seq: none lost, none applied twice', async () => {
    const prefix = `shared-${randomBytes(4).toString('hex')}`;
    const stores = await Promise.all([1, 2, 3].map(() => RedisStore.connect({ url: server.url, prefix })));
    onTestFinished(() => Promise.all(stores.map((store) => store.close())).then(() => undefined));
    const base = { id: 'counter', kind: 'machine' as const, state: 'ready', updatedAt: new Date(0).toISOString() };
    const record = (seq: number, count: number) => ({ ...base, seq, snapshot: { status: 'active' as const, value: 'ready', context: { count }, children: {} } });
    await stores[0]!.commit({ records: [record(1, 0)] });

    // Each writer adds 1 to the count 20 times, reading and retrying on conflict, all at once.
    const increment = async (store: RedisStore) => {
      for (;;) {
        const current = (await store.get('counter'))!;
        try {
          await store.commit({ records: [record(current.seq + 1, (current.snapshot.context.count as number) + 1)] });
          return;
        } catch (error) {
          if (!(error instanceof ConflictError)) throw error;
        }
      }
    };
    await Promise.all(stores.flatMap((store) => Array.from({ length: 20 }, () => increment(store))));

    const final = (await stores[1]!.get('counter'))!;
    expect(final.seq).toBe(61);
    expect(final.snapshot.context.count).toBe(60);
    const log = (await stores[2]!.changesSince((await stores[2]!.snapshot()).offset.replace(/:.*/, ':0-0')))!;
    expect(log.map((entry) => entry.record.seq)).toEqual(Array.from({ length: 61 }, (_, index) => index + 1));
  });
});
