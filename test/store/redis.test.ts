import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { ConflictError } from '../../src/store/store.js';
import type { LogEntry } from '../../src/protocol/record.js';
import { RedisStore } from '../../src/store/redis.js';
import { startRedisServer, type RedisServer } from '../helpers/redis.js';
import { describeStoreContract, jobRecord } from './store-contract.js';
import { Redis } from 'ioredis';

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

describe('redis store: delivery of its own commits', () => {
  const record = (id: string, seq: number) => ({
    id,
    kind: 'machine' as const,
    seq,
    state: 'ready',
    updatedAt: new Date(0).toISOString(),
    snapshot: { status: 'active' as const, value: 'ready', context: { seq }, children: {} },
  });

  it('hands a commit to subscribers by the time commit() resolves when nothing lies between it and what was delivered', async () => {
    const store = await RedisStore.connect({ url: server.url, prefix: `own-${randomBytes(4).toString('hex')}` });
    onTestFinished(() => store.close());
    const seen: string[] = [];
    store.subscribe((entries) => seen.push(...entries.map((entry) => entry.offset)));
    for (let seq = 1; seq <= 5; seq++) {
      const [entry] = await store.commit({ records: [record('m', seq)] });
      expect(seen.at(-1)).toBe(entry!.offset);
      expect(store.delivered()).toBe(entry!.offset);
    }
    expect(seen).toHaveLength(5);
  });

  it('delivers the one log order to every store, each entry once, while three stores commit at once', async () => {
    const prefix = `order-${randomBytes(4).toString('hex')}`;
    const stores = await Promise.all([1, 2, 3].map(() => RedisStore.connect({ url: server.url, prefix })));
    onTestFinished(() => Promise.all(stores.map((store) => store.close())).then(() => undefined));
    const seen = stores.map((store) => {
      const offsets: string[] = [];
      store.subscribe((entries) => offsets.push(...entries.map((entry) => entry.offset)));
      return offsets;
    });
    await Promise.all(
      stores.map(async (store, index) => {
        for (let seq = 1; seq <= 40; seq++) {
          // A commit stamped before another store's is refused (the log never goes back in time) and made again, as a hub does.
          for (;;) {
            try {
              await store.commit({ records: [record(`m${index}`, seq)] });
              break;
            } catch (error) {
              if (!(error instanceof ConflictError)) throw error;
            }
          }
        }
      }),
    );
    const log = (await stores[0]!.changesSince((await stores[0]!.snapshot()).offset.replace(/:.*/, ':0-0')))!.map((entry) => entry.offset);
    expect(log).toHaveLength(120);
    for (const [index, store] of stores.entries()) {
      await expect.poll(() => store.delivered()).toBe(log.at(-1));
      expect(seen[index]).toEqual(log);
    }
  });

  it('another store on the same prefix reads each change\'s event from the log, as its own tail brings it', async () => {
    const prefix = `events-${randomBytes(4).toString('hex')}`;
    const [writer, reader] = await Promise.all([1, 2].map(() => RedisStore.connect({ url: server.url, prefix })));
    onTestFinished(() => Promise.all([writer!.close(), reader!.close()]).then(() => undefined));
    const seen: LogEntry[] = [];
    reader!.subscribe((entries) => seen.push(...entries));
    const written = [
      ...(await writer!.commit({ records: [record('m', 1)], events: [{ type: 'xstate.init' }] })),
      ...(await writer!.commit({ records: [record('m', 2)] })),
      ...(await writer!.commit({ records: [record('m', 3)], events: [{ type: 'WORKERS', online: 1, total: 1 }] })),
    ];
    await expect.poll(() => seen.length).toBe(3);
    expect(seen).toEqual(written);
    expect(seen.map((entry) => entry.event?.type)).toEqual(['xstate.init', undefined, 'WORKERS']);
  });
});

describe('redis store: data written before queue places and leases moved into meta', () => {
  it('a commit on a job whose meta has the older four fields takes its queue place and lease from the qm and leaseof hashes, and empties them', async () => {
    const prefix = `legacy-${randomBytes(4).toString('hex')}`;
    const store = await RedisStore.connect({ url: server.url, prefix });
    const redis = new Redis(server.url);
    onTestFinished(async () => {
      await store.close();
      redis.disconnect();
    });
    const acceptAll = () => true;
    await store.commit({ records: [jobRecord({ id: 'queued', seq: 1 }), jobRecord({ id: 'held', seq: 1 })] });
    await store.commit({ records: [jobRecord({ id: 'held', seq: 2, state: 'assigned', workerId: 'w1' })] });
    expect(await store.pendingJobs('render', acceptAll, 10)).toEqual(['queued']);
    expect(await store.leasesOf('w1')).toEqual(['held']);

    // Rewrite both actors' index state the way the previous commit.lua kept it.
    for (const id of ['queued', 'held']) {
      const [seq, kind, parent, removed, type, group, member, holder] = (await redis.hget(`${prefix}:meta`, id))!.split('\n');
      await redis.hset(`${prefix}:meta`, id, [seq, kind, parent, removed].join('\n'));
      if (member) await redis.hset(`${prefix}:qm`, id, [type, group, member].join('\n'));
      if (holder) await redis.hset(`${prefix}:leaseof`, id, holder);
    }

    await store.commit({
      records: [jobRecord({ id: 'queued', seq: 2, state: 'assigned', workerId: 'w2' }), jobRecord({ id: 'held', seq: 3, state: 'completed' })],
    });
    expect(await store.pendingJobs('render', acceptAll, 10)).toEqual([]);
    expect(await store.leasesOf('w1')).toEqual([]);
    expect(await store.leasesOf('w2')).toEqual(['queued']);
    expect(await redis.hlen(`${prefix}:qm`)).toBe(0);
    expect(await redis.hlen(`${prefix}:leaseof`)).toBe(0);
    expect(await redis.hget(`${prefix}:meta`, 'queued')).toBe(`2\njob\n\n\n\n\n\nw2`);
  });
});

describe('redis store: a Redis user without the channel hubs announce new log entries on', () => {
  it('is refused at connect with what to grant, and gets it once granted', async () => {
    const prefix = `acl-${randomBytes(4).toString('hex')}`;
    const user = `user-${prefix}`;
    const admin = new Redis(server.url);
    onTestFinished(async () => {
      await admin.call('ACL', 'DELUSER', user);
      admin.disconnect();
    });
    // All commands on its own keys, and no channel: what Redis 7 gives a new user by default.
    await admin.call('ACL', 'SETUSER', user, 'on', '>secret', `~${prefix}:*`, '+@all', 'resetchannels');
    const url = new URL(server.url);
    url.username = user;
    url.password = 'secret';
    const refusal = await RedisStore.connect({ url: url.href, prefix }).then(
      () => undefined,
      (error: Error) => error,
    );
    expect(refusal?.message).toContain(`may not use the channel ${prefix}:appended`);
    expect(refusal?.message).toContain(`ACL SETUSER <user> &${prefix}:appended`);
    expect(refusal?.message).not.toContain('secret');

    await admin.call('ACL', 'SETUSER', user, `&${prefix}:appended`);
    const store = await RedisStore.connect({ url: url.href, prefix });
    onTestFinished(() => store.close());
    const [entry] = await store.commit({ records: [jobRecord({ id: 'allowed', seq: 1 })] });
    expect(entry?.record.id).toBe('allowed');
  });
});
