/**
 * The last minute's transitions as a hub counts them from the log (src/hub/recent-transitions.ts),
 * on a memory store whose commits the test stamps: per second of the records' time, from each
 * actor's previous state value, by event; the minute read back by a hub that starts later, so it
 * answers as one that ran through it; counts as of an earlier offset.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import type { StateValue } from 'xstate';
import { HubError } from '../../src/protocol/errors.js';
import type { RecentAnswer, RecentTransition } from '../../src/protocol/recent.js';
import type { ActorRecord, Kind, LogEntry } from '../../src/protocol/record.js';
import { RecentTransitions, type RecentOptions } from '../../src/hub/recent-transitions.js';
import { MemoryStore } from '../../src/store/memory.js';

/** Commits each actor's next record, stamped as the test says, as a hub's step would. */
class Driver {
  readonly store = new MemoryStore();
  private readonly records = new Map<string, ActorRecord>();

  /** The actor's next record in `value`, stamped `at` (epoch ms), caused by `event`. */
  async change(id: string, value: StateValue, at: number, event: string, extra: { kind?: Kind; version?: string; removed?: true } = {}): Promise<LogEntry> {
    const before = this.records.get(id);
    const record: ActorRecord = {
      id,
      kind: extra.kind ?? 'job',
      seq: (before?.seq ?? 0) + 1,
      state: typeof value === 'string' ? value : (Object.keys(value)[0] as string),
      // Enough of a job's context for the store's queue and lease indexes.
      snapshot: { status: 'active', value, context: { type: 'test', requirements: {}, priority: 0, createdAt: new Date(at).toISOString(), workerId: 'w1' }, children: {} },
      updatedAt: new Date(at).toISOString(),
      version: extra.version ?? 'v1',
      ...(extra.removed ? { removed: true as const } : {}),
    };
    this.records.set(id, record);
    const [entry] = await this.store.commit({ records: [record], events: [{ type: event }], at });
    return entry as LogEntry;
  }

  counting(options: Partial<RecentOptions> = {}): RecentTransitions {
    const recent = new RecentTransitions(this.store, { onError: (error) => expect.fail(String(error)), ...options });
    onTestFinished(() => recent.close());
    return recent;
  }
}

/** The start of a whole second `seconds` before now: stamps the test chooses, in the window or out of it. */
function secondsAgo(seconds: number): number {
  return (Math.floor(Date.now() / 1_000) - seconds) * 1_000;
}

const transition = (from: StateValue | null, to: StateValue, event: string, count = 1, version = 'v1'): RecentTransition => ({ version, from, to, event, count });

/** Buckets with their transitions in one order (an answer's is unspecified), to compare. */
function sorted(answer: Pick<RecentAnswer, 'buckets'>): RecentAnswer['buckets'] {
  return answer.buckets.map((bucket) => ({ ...bucket, transitions: [...bucket.transitions].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))) }));
}

describe('recent transitions, counted from the log', () => {
  it('counts each change in the second it was stamped, from the actor’s previous state value, by event, per kind', async () => {
    const drive = new Driver();
    const recent = drive.counting();
    const t0 = secondsAgo(30);
    await drive.change('a', 'pending', t0, 'xstate.init');
    await drive.change('b', 'pending', t0 + 400, 'xstate.init');
    await drive.change('a', 'assigned', t0 + 1_200, 'ASSIGN');
    await drive.change('b', 'assigned', t0 + 1_900, 'ASSIGN');
    await drive.change('a', 'running', t0 + 3_000, 'START');
    await drive.change('a', 'running', t0 + 3_500, 'PROGRESS');
    await drive.change('c', { idle: 'ready' }, t0 + 3_600, 'xstate.init', { kind: 'connector' });
    await drive.change('c', 'active', t0 + 3_700, 'JOB', { kind: 'connector' });
    const last = await drive.change('c', { idle: 'ready' }, t0 + 3_800, 'JOB_DONE', { kind: 'connector' });

    const jobs = await recent.answer('job');
    expect(jobs.offset).toBe(last.offset);
    expect(jobs.windowMs).toBe(60_000);
    expect(jobs.now).toBeGreaterThanOrEqual(t0);
    expect(sorted(jobs)).toEqual(sorted({ buckets: [
      { at: new Date(t0).toISOString(), transitions: [transition(null, 'pending', 'xstate.init', 2)] },
      { at: new Date(t0 + 1_000).toISOString(), transitions: [transition('pending', 'assigned', 'ASSIGN', 2)] },
      { at: new Date(t0 + 3_000).toISOString(), transitions: [transition('assigned', 'running', 'START'), transition('running', 'running', 'PROGRESS')] },
    ] }));
    expect(sorted(await recent.answer('connector'))).toEqual(
      sorted({
        buckets: [
          {
            at: new Date(t0 + 3_000).toISOString(),
            transitions: [transition(null, { idle: 'ready' }, 'xstate.init'), transition({ idle: 'ready' }, 'active', 'JOB'), transition('active', { idle: 'ready' }, 'JOB_DONE')],
          },
        ],
      }),
    );
    expect((await recent.answer('worker')).buckets).toEqual([]);
  });

  it('counts a removal as nothing, and the first change after it (and after another version’s record) from null', async () => {
    const drive = new Driver();
    const recent = drive.counting();
    const t0 = secondsAgo(10);
    await drive.change('a', 'completed', t0, 'xstate.init');
    await drive.change('a', 'completed', t0 + 10, 'statehub.remove', { removed: true });
    await drive.change('a', 'pending', t0 + 20, 'RETURN');
    await drive.change('a', 'assigned', t0 + 30, 'ASSIGN', { version: 'v2' });
    await drive.change('a', 'running', t0 + 40, 'START', { version: 'v2' });
    expect(sorted(await recent.answer('job'))).toEqual(
      sorted({
        buckets: [
          {
            at: new Date(t0).toISOString(),
            transitions: [
              transition(null, 'completed', 'xstate.init'),
              transition(null, 'pending', 'RETURN'),
              transition(null, 'assigned', 'ASSIGN', 1, 'v2'),
              transition('assigned', 'running', 'START', 1, 'v2'),
            ],
          },
        ],
      }),
    );
  });

  it('answers only the last minute: the current second and the 60 before it', async () => {
    const drive = new Driver();
    const recent = drive.counting();
    const [before, within] = [secondsAgo(70), secondsAgo(50)];
    await drive.change('a', 'pending', secondsAgo(120), 'xstate.init');
    await drive.change('a', 'assigned', before, 'ASSIGN');
    await drive.change('a', 'running', within, 'START');
    const answer = await recent.answer('job');
    expect(Math.floor(answer.now / 1_000) - 60).toBeGreaterThan(before / 1_000);
    expect(answer.buckets).toEqual([{ at: new Date(within).toISOString(), transitions: [transition('assigned', 'running', 'START')] }]);
  });

  it('a hub that starts later reads the minute back from the log and answers what one that ran through it answers, previous states included', async () => {
    const drive = new Driver();
    const early = drive.counting();
    // Changes before the minute: the actors' states when it began, only the log's history knows them.
    await drive.change('a', 'pending', secondsAgo(200), 'xstate.init');
    await drive.change('b', 'pending', secondsAgo(150), 'xstate.init');
    await drive.change('b', 'assigned', secondsAgo(149), 'ASSIGN');
    for (let step = 0; step < 5; step++) {
      await drive.change(`j${step}`, 'pending', secondsAgo(40 - step), 'xstate.init');
      await drive.change(`j${step}`, 'assigned', secondsAgo(40 - step) + 500, 'ASSIGN');
    }
    await drive.change('a', 'assigned', secondsAgo(20), 'ASSIGN');
    await drive.change('b', 'running', secondsAgo(20), 'START');
    await drive.change('j0', 'completed', secondsAgo(19), 'statehub.remove', { removed: true });

    const late = drive.counting();
    // Committed while the late one reads back: counted once, by both.
    await drive.change('j1', 'running', secondsAgo(1), 'START');
    const [a, b] = await Promise.all([early.answer('job'), late.answer('job')]);
    expect(b.offset).toBe(a.offset);
    expect(sorted(b)).toEqual(sorted(a));
    expect(a.buckets.find((bucket) => bucket.at === new Date(secondsAgo(20)).toISOString())?.transitions).toEqual(
      expect.arrayContaining([transition('pending', 'assigned', 'ASSIGN'), transition('assigned', 'running', 'START')]),
    );
    // And both go on counting alike.
    await drive.change('j1', 'completed', secondsAgo(0), 'COMPLETE');
    expect(sorted(await late.answer('job'))).toEqual(sorted(await early.answer('job')));

    // Without reading histories, a change whose previous record is older than the minute counts from null.
    const blind = drive.counting({ lookups: 0 });
    const fromNull = (await blind.answer('job')).buckets.find((bucket) => bucket.at === new Date(secondsAgo(20)).toISOString())?.transitions;
    expect(fromNull).toEqual(expect.arrayContaining([transition(null, 'assigned', 'ASSIGN'), transition(null, 'running', 'START')]));
  });

  it('answers as of an earlier offset of the log, and says when it no longer knows the counts that far back', async () => {
    const drive = new Driver();
    const recent = drive.counting({ held: 3 });
    const t0 = secondsAgo(5);
    const offsets: string[] = [];
    for (let index = 0; index < 8; index++) offsets.push((await drive.change(`j${index}`, 'pending', t0 + index * 100, 'xstate.init')).offset);
    const count = (answer: RecentAnswer) => answer.buckets.flatMap((bucket) => bucket.transitions).reduce((sum, item) => sum + item.count, 0);
    const now = await recent.answer('job');
    expect(count(now)).toBe(8);
    // The newest 3 counted changes are held one by one: enough to answer as of offsets[4] or later.
    const asOf = await recent.answer('job', offsets[5]);
    expect(asOf.offset).toBe(offsets[5]);
    expect(count(asOf)).toBe(6);
    expect(count(await recent.answer('job', offsets[7]))).toBe(8);
    const refused = await recent.answer('job', offsets[0]).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(HubError);
    expect((refused as HubError).code).toBe('conflict');
  });

  it('waits for the counts to reach an offset not counted yet, and says so when they do not', async () => {
    const drive = new Driver();
    const recent = drive.counting({ patienceMs: 50 });
    const entry = await drive.change('a', 'pending', secondsAgo(1), 'xstate.init');
    // Offsets of this log that come later (the memory store's are `<epoch>-<n>`), as another hub's stream may bring before this one counted them.
    const later = (by: number) => entry.offset.replace(/-(\d+)$/, (_, n: string) => `-${Number(n) + by}`);
    const refused = await recent.answer('job', later(99)).catch((error: unknown) => error);
    expect((refused as HubError).code).toBe('unavailable');
    const waiting = recent.answer('job', later(1));
    await drive.change('a', 'assigned', secondsAgo(1), 'ASSIGN');
    expect((await waiting).buckets.flatMap((bucket) => bucket.transitions)).toHaveLength(2);
  });
});
