/** ActorHost.run: which conflicts make a step run again. */
import { describe, expect, it } from 'vitest';
import { ActorHost } from '../../src/hub/actor-host.js';
import { MemoryStore } from '../../src/store/memory.js';
import { TimerGoneError, type Commit } from '../../src/store/store.js';

/** A memory store that counts its commits. */
function countingStore(): { store: MemoryStore; commits: Commit[] } {
  const store = new MemoryStore();
  const commits: Commit[] = [];
  const commit = store.commit.bind(store);
  store.commit = (args) => {
    commits.push(args);
    return commit(args);
  };
  return { store, commits };
}

describe('a step that consumes a timer', () => {
  it('is not made again when the timer is gone or was reset: another step took it, and no retry can', async () => {
    const { store, commits } = countingStore();
    const host = new ActorHost(store);
    await store.commit({ records: [], setTimers: [{ key: 'w1|stale', actorId: 'w1', dueAt: 200, event: { type: 'X' } }] });
    commits.length = 0;
    await expect(host.run(async () => undefined, { key: 'w1|stale', dueAt: 100 })).rejects.toBeInstanceOf(TimerGoneError);
    expect(commits).toHaveLength(1);
  });

  it('is made again after an ordinary conflict (another step committed first), and then consumes its timer', async () => {
    const { store, commits } = countingStore();
    const host = new ActorHost(store);
    await store.commit({ records: [], setTimers: [{ key: 'm1|t', actorId: 'm1', dueAt: 100, event: { type: 'X' } }] });
    await host.run((tx) => tx.create('machine', 'm1', { id: 'm1' }));
    let attempts = 0;
    commits.length = 0;
    await host.run(async (tx) => {
      attempts += 1;
      const staged = await tx.send('m1', { type: 'WORKERS', online: 0, total: 1 });
      // The first attempt races another step of the same actor, which commits first (its seq is taken).
      if (attempts === 1) await new ActorHost(store).run((other) => other.send('m1', { type: 'WORKERS', online: 1, total: 1 }));
      return staged;
    }, { key: 'm1|t', dueAt: 100 });
    expect(attempts).toBe(2);
    expect(await store.nextDueAt()).toBeUndefined();
    expect((await store.get('m1'))?.state).toBe('offline');
  });
});
