/**
 * In-process hooks (`hub.on`): every change in offset order with the record it follows and its
 * event; per-kind hooks; a hook that throws, rejects or never finishes neither stops nor slows
 * the hub.
 */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { ActorRecord, Hub, LogEntry, Transition } from 'statehub';
import { submit, testHub, testRecording, testWorker } from '../helpers/hub.js';

/** Every change the hub's store delivers from now on: the log the hooks must follow. */
function logOf(hub: Hub): LogEntry[] {
  const entries: LogEntry[] = [];
  hub.store.subscribe((batch) => entries.push(...batch));
  return entries;
}

/** A hub whose log lines are kept, parsed. */
async function loggedHub(): Promise<{ hub: Hub; lines: Array<Record<string, any>> }> {
  const lines: Array<Record<string, any>> = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { hub: await testHub({ logger }), lines };
}

describe('hub.on', () => {
  it("'transition' hooks get every change in offset order, each with the record it follows and its event", async () => {
    const hub = await testHub();
    const log = logOf(hub);
    const told: Transition[] = [];
    hub.on('transition', (transition) => void told.push(transition));
    const recording = await testRecording(hub);
    await testWorker(hub);
    const job = await submit(hub, { type: 'simulation', backoffMs: 10, payload: { durationMs: 10, steps: 2, failTimes: 1 } });
    await recording.waitFor(job.id, 'completed');

    // The same changes as the log, in its order.
    expect(told.map(({ offset, record, event }) => ({ offset, record, event }))).toEqual(log.map(({ offset, record, event }) => ({ offset, record, event })));
    for (let index = 1; index < told.length; index++) expect(hub.store.compareOffsets(told[index - 1]!.offset, told[index]!.offset)).toBeLessThan(0);
    // Each with the actor's record before it: none for a new actor, else the one told last.
    const last = new Map<string, ActorRecord>();
    for (const { record, previous } of told) {
      expect(previous).toBe(last.get(record.id));
      if (previous) expect(previous.seq).toBe(record.seq - 1);
      last.set(record.id, record);
    }
    const ofJob = told.filter(({ record }) => record.id === job.id);
    // Its changes of state (progress reports change the record within `running`).
    const moves = ofJob.filter(({ previous, record }) => previous?.state !== record.state).map(({ previous, record }) => `${previous?.state ?? '-'}>${record.state}`);
    expect(moves).toEqual(['->pending', 'pending>assigned', 'assigned>running', 'running>retrying', 'retrying>pending', 'pending>assigned', 'assigned>running', 'running>completed']);
    expect(ofJob[0]!.event).toEqual({ type: 'xstate.init' });
    expect(ofJob.find(({ record }) => record.state === 'retrying')!.event).toMatchObject({ type: 'FAIL', error: { message: 'simulated failure' } });
  });

  it('a kind\'s hooks get only that kind\'s changes; a hook removed is called no more', async () => {
    const hub = await testHub();
    const jobs: string[] = [];
    const workers: string[] = [];
    const removed: string[] = [];
    hub.on('job', ({ record }) => void jobs.push(`${record.snapshot.context.type}:${record.state}`));
    hub.on('worker', ({ record }) => void workers.push(record.kind));
    const off = hub.on('job', ({ record }) => void removed.push(record.id));
    off();
    const recording = await testRecording(hub);
    await testWorker(hub);
    const job = await submit(hub, { type: 'simulation', payload: { durationMs: 1, steps: 0 } });
    await recording.waitFor(job.id, 'completed');
    expect(jobs.filter((step, index) => step !== jobs[index - 1])).toEqual(['simulation:pending', 'simulation:assigned', 'simulation:running', 'simulation:completed']);
    expect(workers.length).toBeGreaterThan(0);
    expect(new Set(workers)).toEqual(new Set(['worker']));
    expect(removed).toEqual([]);
    expect(() => hub.on('jobs' as 'job', () => {})).toThrow(/no hook event "jobs": use "transition" or a kind/);
  });

  it('a hook that throws or rejects is logged with the actor, once a minute per error, and the hub and other hooks go on', async () => {
    const { hub, lines } = await loggedHub();
    const told: string[] = [];
    hub.on('job', () => {
      throw new Error('the metrics system is down');
    });
    hub.on('transition', async () => {
      throw new Error('an async failure');
    });
    hub.on('job', ({ record }) => void told.push(record.state));
    const recording = await testRecording(hub);
    await testWorker(hub);
    const job = await submit(hub, { type: 'simulation', payload: { durationMs: 10, steps: 2 } });
    await recording.waitFor(job.id, 'completed');
    expect(told.at(-1)).toBe('completed');

    // The first change of another actor (the worker) may come first: order by message.
    const failures = lines.filter((line) => line.level === 50).sort((x, y) => (x.msg < y.msg ? -1 : 1));
    expect(failures.map((line) => [line.msg, line.err.message])).toEqual([
      ['a job hook failed', 'the metrics system is down'],
      ['a transition hook failed', 'an async failure'],
    ]);
    const [thrown] = failures;
    expect(thrown).toMatchObject({ hook: 'job', kind: 'job', actorId: job.id, offset: expect.any(String), err: { type: 'Error', stack: expect.any(String) } });
  });

  it('a slow async hook does not hold up the hub: the next changes are told while its work is still running', async () => {
    const hub = await testHub();
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const started: string[] = [];
    const finished: string[] = [];
    hub.on('job', async ({ record }) => {
      started.push(record.state);
      await released;
      finished.push(record.state);
    });
    const recording = await testRecording(hub);
    await testWorker(hub);
    const job = await submit(hub, { type: 'simulation', payload: { durationMs: 10, steps: 2 } });
    await recording.waitFor(job.id, 'completed');
    expect(started.at(-1)).toBe('completed');
    expect(finished).toEqual([]);
    release();
    await released;
    await new Promise((resolve) => setImmediate(resolve));
    expect(finished).toEqual(started);
  });
});
