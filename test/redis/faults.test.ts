/**
 * Faults with real processes and kill -9, not polite shutdowns: hubs, workers and Redis die under
 * load, and nothing acknowledged is lost. Each test prints what it submitted, what the hubs
 * acknowledged (201), what completed and what was lost.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { recordHub, type HubRecording } from 'statehub/testing';
import { api, byId } from '../helpers/hub.js';
import { statehub, workerProcess, type CliProcess } from '../helpers/cli.js';
import { freePort, startRedisServer, type RedisServer } from '../helpers/redis.js';

const FAST = ['--heartbeat-ms', '100', '--stale-after-ms', '600', '--offline-after-ms', '1500'];
const FINAL = new Set(['completed', 'failed', 'cancelled']);

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function redisServer(options: { appendonly?: boolean } = {}): Promise<RedisServer> {
  const server = await startRedisServer(options);
  cleanups.push(() => server.stop());
  return server;
}

/** `statehub hub --redis` on a fixed port, so it can be started again where it was; FAST timings unless `timings` says otherwise. */
async function hub(redisUrl: string, port?: number, timings = FAST): Promise<{ url: string; port: number; process: CliProcess }> {
  const chosen = port ?? (await freePort());
  const process = statehub(['hub', '--port', String(chosen), '--redis', redisUrl, ...timings]);
  await process.waitFor(/statehub hub listening/);
  return { url: `http://127.0.0.1:${chosen}`, port: chosen, process };
}

async function watch(url: string): Promise<HubRecording> {
  const recording = await recordHub(url);
  cleanups.push(() => recording.close());
  return recording;
}

/** Submits jobs to the hubs in turn, counting what was acknowledged and what was refused. */
class Load {
  readonly acknowledged: string[] = [];
  refused = 0;
  submitted = 0;
  private stopped = false;
  private running: Promise<void> | undefined;

  constructor(
    private readonly hubs: () => string[],
    private readonly job: (index: number) => object,
  ) {}

  start(count: number, gapMs: number): void {
    this.running = (async () => {
      for (let index = 0; index < count && !this.stopped; index++) {
        const urls = this.hubs();
        const url = urls[index % urls.length] as string;
        this.submitted += 1;
        try {
          const answer = await api(url, 'POST', '/api/jobs', this.job(index));
          if (answer.status === 201) this.acknowledged.push(answer.body.id);
          else this.refused += 1;
        } catch {
          this.refused += 1; // the hub is down: not acknowledged
        }
        await sleep(gapMs);
      }
    })();
  }

  async done(): Promise<void> {
    await this.running;
  }

  stop(): Promise<void> {
    this.stopped = true;
    return this.done();
  }
}

/** Waits until every acknowledged job is final; returns the final records. */
async function finals(url: string, ids: string[], timeoutMs = 60_000): Promise<Map<string, any>> {
  const found = new Map<string, any>();
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const id of ids.filter((id) => !found.has(id))) {
      const answer = await api(url, 'GET', `/api/jobs/${id}`).catch(() => undefined);
      if (answer?.status === 200 && FINAL.has(answer.body.state)) found.set(id, answer.body);
    }
    if (found.size === ids.length) return found;
    await sleep(200);
  }
  const missing = ids.filter((id) => !found.has(id));
  const states = await Promise.all(missing.slice(0, 10).map(async (id) => `${id}: ${(await api(url, 'GET', `/api/jobs/${id}`).catch(() => ({ body: { state: 'unreadable' } }))).body.state}`));
  throw new Error(`${missing.length} acknowledged jobs did not finish: ${states.join(', ')}`);
}

/** Completed records per job as a monitor saw them: a job completes once in the log, or it completed twice. */
function completions(recording: HubRecording, ids: string[]): number[] {
  return ids.map((id) => recording.records(id).filter((record) => record.state === 'completed' && !record.removed).length);
}

/**
 * Every view equals GET /api/snapshot once the system is quiet. Workers that lost their hub
 * re-register on their own schedule, so a snapshot taken while that happens is retaken
 * until no view has moved past it.
 */
async function expectConverged(url: string, ...recordings: HubRecording[]): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const current = (await api(url, 'GET', '/api/snapshot')).body;
    for (const recording of recordings) await recording.caughtUp(current, { timeoutMs: 20_000 });
    const moved = recordings.some((recording) => recording.monitor.view.offset !== current.offset);
    if (moved && Date.now() < deadline) {
      await sleep(200);
      continue;
    }
    for (const recording of recordings) {
      expect(byId(recording.view.values())).toEqual(byId(current.records));
      expect(recording.monitor.view.problems).toEqual([]);
    }
    return;
  }
}

function report(name: string, load: Load, completed: number): void {
  const lost = load.acknowledged.length - completed;
  console.log(`[fault ${name}] submitted ${load.submitted}, acknowledged ${load.acknowledged.length}, refused ${load.refused}, completed ${completed}, lost ${lost}`);
}

const job = (index: number) => ({ type: 'simulation', maxAttempts: 10, backoffMs: 50, payload: { durationMs: 40 + (index % 5) * 20, steps: 2 } });

describe('faults with real processes on one Redis', () => {
  it('(a) a hub killed with -9 under load and started again: every acknowledged job finishes once, both hubs converge', async () => {
    const redis = await redisServer();
    const a = await hub(redis.url);
    const b = await hub(redis.url);
    await workerProcess(a.url, ['--connectors', 'simulation:2', '--id', 'on-a', '--machine', 'm-a']);
    await workerProcess(b.url, ['--connectors', 'simulation:2', '--id', 'on-b', '--machine', 'm-b']);
    const onB = await watch(b.url);
    // Watching hub A through its death: it must come back by itself and catch up.
    const onA = await watch(a.url);

    let urls = [a.url, b.url];
    const load = new Load(() => urls, job);
    load.start(80, 25);
    await sleep(700);
    a.process.process.kill('SIGKILL');
    await a.process.exited();
    urls = [b.url];
    await sleep(700);
    await hub(redis.url, a.port);
    urls = [a.url, b.url];
    await load.done();

    const done = await finals(b.url, load.acknowledged);
    const completed = [...done.values()].filter((record) => record.state === 'completed').length;
    report('hub kill -9', load, completed);
    expect(completed).toBe(load.acknowledged.length);
    await onB.until(() => completions(onB, load.acknowledged).every((count) => count >= 1), 'every completion seen', { timeoutMs: 20_000 });
    expect(completions(onB, load.acknowledged).every((count) => count === 1)).toBe(true);
    // Hub B marked A's worker offline while A was dead; it comes back by itself.
    await onB.waitFor('on-a', 'ready', { timeoutMs: 20_000 });
    await expectConverged(b.url, onA, onB, await watch(a.url));
  });

  it('(b) a worker killed with -9 mid-job: the job is retried on another worker and completes', async () => {
    const redis = await redisServer();
    const { url } = await hub(redis.url);
    const watcher = await watch(url);
    const doomed = await workerProcess(url, ['--connectors', 'simulation:1', '--id', 'doomed', '--machine', 'm1']);
    const answer = await api(url, 'POST', '/api/jobs', { type: 'simulation', payload: { durationMs: 60_000, steps: 600 } });
    await watcher.waitFor(answer.body.id, (record) => record.state === 'running' && record.snapshot.context.workerId === 'doomed');
    await workerProcess(url, ['--connectors', 'simulation:1', '--id', 'survivor', '--machine', 'm2']);
    doomed.process.kill('SIGKILL');
    await watcher.waitFor('doomed', 'offline');
    // Running on the survivor as attempt 2 proves the move (the retry is as long as the first attempt).
    const moved = await watcher.waitFor(answer.body.id, (record) => record.state === 'running' && record.snapshot.context.workerId === 'survivor');
    expect(moved.snapshot.context.attempts).toBe(2);
    watcher.expect(answer.body.id, 'pending > assigned > running > pending > assigned > running');
    expect(watcher.view.get('doomed/simulation-1')?.state).toBe('offline');
  });

  it('(c) Redis killed with -9 and restarted (appendonly) under load: hubs and workers come back by themselves and lose nothing acknowledged', async () => {
    const redis = await redisServer({ appendonly: true });
    const a = await hub(redis.url);
    const b = await hub(redis.url);
    await workerProcess(a.url, ['--connectors', 'simulation:2', '--id', 'on-a', '--machine', 'm-a']);
    await workerProcess(b.url, ['--connectors', 'simulation:2', '--id', 'on-b', '--machine', 'm-b']);

    const load = new Load(() => [a.url, b.url], job);
    load.start(80, 25);
    await sleep(700);
    await redis.kill();
    await sleep(700);
    await redis.restart();
    await load.done();

    const done = await finals(b.url, load.acknowledged);
    const completed = [...done.values()].filter((record) => record.state === 'completed').length;
    report('redis restart', load, completed);
    expect(completed).toBe(load.acknowledged.length);
    // Both hubs serve the same state again, and their workers are back.
    await expect.poll(async () => (await api(a.url, 'GET', '/api/actors/on-a')).body.state, { timeout: 20_000 }).toMatch(/ready|busy/);
    await expect.poll(async () => (await api(b.url, 'GET', '/api/actors/on-b')).body.state, { timeout: 20_000 }).toMatch(/ready|busy/);
    await expectConverged(b.url, await watch(a.url), await watch(b.url));
  });

  it('(d) Redis unreachable: writes answer 503, /healthz says why, and the hub recovers by itself', async () => {
    const redis = await redisServer({ appendonly: true });
    const { url, process } = await hub(redis.url);
    await workerProcess(url, ['--connectors', 'simulation:1', '--id', 'w1']);
    await redis.kill();

    const refused = await api(url, 'POST', '/api/jobs', { type: 'simulation' });
    expect(refused.status).toBe(503);
    expect(refused.body.error.code).toBe('unavailable');
    expect(refused.body.error.message).toMatch(/Redis at redis:\/\/127\.0\.0\.1:\d+ did not answer/);
    // The commit never left (no connection): nothing to check by id.
    expect(refused.body.error.details).toBeUndefined();
    const health = await api(url, 'GET', '/healthz');
    expect(health.status).toBe(503);
    expect(health.body.error.message).toMatch(/the redis store does not answer/);
    const snapshot = await api(url, 'GET', '/api/snapshot');
    expect(snapshot.status).toBe(503);

    await redis.restart();
    await expect.poll(async () => (await api(url, 'GET', '/healthz')).status, { timeout: 20_000 }).toBe(200);
    const accepted = await api(url, 'POST', '/api/jobs', { type: 'simulation', payload: { durationMs: 20 } });
    expect(accepted.status).toBe(201);
    const [final] = (await finals(url, [accepted.body.id])).values();
    expect(final.state).toBe('completed');
    expect(process.process.exitCode).toBeNull();
    // The log says it once each way, not once per step that ran into it.
    const count = (text: string) => process.output().split('\n').filter((line) => line.includes(text)).length;
    await expect.poll(() => count('the redis store answers again')).toBe(1);
    expect(count('writes answer 503 until it does')).toBe(1);
    const lines = process.output().split('\n');
    expect(lines.filter((line) => line.includes('"level":50'))).toEqual([]);
  });

  it('(e) durable timers still fire after every hub was killed and one started again', async () => {
    const redis = await redisServer();
    const first = await hub(redis.url);
    await workerProcess(first.url, ['--connectors', 'simulation:1', '--id', 'w1']);
    const answer = await api(first.url, 'POST', '/api/jobs', { type: 'simulation', backoffMs: 2_500, payload: { durationMs: 10, failTimes: 1 } });
    await expect.poll(async () => (await api(first.url, 'GET', `/api/jobs/${answer.body.id}`)).body.state, { timeout: 10_000 }).toBe('retrying');

    // No hub left to hold the backoff in memory: only the timer in Redis knows the job is due.
    first.process.process.kill('SIGKILL');
    await first.process.exited();
    const second = await hub(redis.url, first.port);
    const [done] = (await finals(second.url, [answer.body.id])).values();
    expect(done.state).toBe('completed');
    expect(done.snapshot.context.attempts).toBe(2);
  });

  it('(f) a hub killed with -9 while its workers run jobs costs no attempt: they resume their sessions on the restarted hub, and a draining worker stays draining', async () => {
    const redis = await redisServer();
    // The hub's own timings: heartbeats every 1 s, stale after 3 s.
    const first = await hub(redis.url, undefined, []);
    const watcher = await watch(first.url);
    const runner = await workerProcess(first.url, ['--connectors', 'simulation:1', '--id', 'w6', '--machine', 'm6']);
    const drainer = await workerProcess(first.url, ['--connectors', 'simulation:1', '--id', 'w7', '--machine', 'm7']);
    const submitted = await api(first.url, 'POST', '/api/jobs/batch', {
      jobs: [0, 1].map(() => ({ type: 'simulation', maxAttempts: 1, payload: { durationMs: 8_000, steps: 8 } })),
    });
    const ids: string[] = submitted.body.records.map((record: { id: string }) => record.id);
    for (const id of ids) await watcher.waitFor(id, 'running');
    drainer.process.kill('SIGTERM');
    await watcher.waitFor('w7', 'draining');
    await sleep(2_000);

    first.process.process.kill('SIGKILL');
    await first.process.exited();
    await hub(redis.url, first.port, []);

    const done = await finals(first.url, ids, 30_000);
    for (const id of ids) expect(done.get(id)).toMatchObject({ state: 'completed', snapshot: { context: { attempts: 1, error: null } } });
    expect(new Set(ids.map((id) => done.get(id).snapshot.context.workerId))).toEqual(new Set(['w6', 'w7']));
    expect(await drainer.exited()).toBe(0);
    await watcher.waitFor('w7', 'offline', { timeoutMs: 20_000 });
    // The watcher followed the hub through its restart: nobody went stale, draining stayed draining.
    watcher.expect('w6', 'ready > busy > ready');
    watcher.expect('w7', 'ready > busy > draining > offline');
    for (const id of ids) watcher.expect(id, 'pending > assigned > running > completed');
    expect(runner.process.exitCode).toBeNull();
  });
});
