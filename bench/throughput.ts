/**
 * Throughput: N no-op jobs submitted and run to completion, statehub against BullMQ, on the same
 * private redis-server (flushed between the systems), with the same number of worker processes
 * and the same concurrency.
 *
 * - BullMQ: a Queue in this process adds the jobs (addBulk, 1,000 at a time); W worker processes
 *   each run a Worker (concurrency C) whose processor does nothing. Timed from the first add to
 *   the completed count reaching N (polled every 2 ms). No monitor.
 * - statehub: one hub process (the built hub, the CLI's defaults, --redis), W worker processes
 *   (`statehub worker --connectors simulation:C`), the jobs POSTed to /api/jobs/batch (1,000 per
 *   request) with payload { durationMs: 0, steps: 0 }, and one Monitor in this process counting
 *   completed job records. Timed from the first POST to the monitor seeing the last completion.
 *
 * Each system is warmed up first (500 jobs). During the measured window the CPU time of every
 * process (redis-server, hub, workers, this process) is read from /proc and Redis's
 * INFO commandstats is reset then read. A second statehub pass runs under the V8 sampling
 * profiler (in the hub process, started and stopped around that pass) and prints where the hub's
 * time goes.
 *
 * Both systems keep their defaults: BullMQ keeps completed jobs (no removeOnComplete), statehub
 * keeps finished jobs live up to 10,000 and readable by id for 24 h. Before each measured window
 * the bench waits (5 s quick, 2 min full, at most) for the machine to be quiet, and it reports the
 * CPU other processes used during each window: figures taken beside another benchmark are noise.
 *
 *   npm run bench -- --only throughput [--quick]
 *   env THROUGHPUT_JOBS, THROUGHPUT_WORKERS, THROUGHPUT_CONCURRENCY,
 *       THROUGHPUT_PROFILE=0 (no profiled pass), THROUGHPUT_WORKER_PROFILE=1 (also profile worker 1),
 *       THROUGHPUT_HUB=cli (run `statehub hub` itself: no event-loop figures, no profile),
 *       THROUGHPUT_QUIET_WAIT_MS
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { Monitor } from '../src/client/monitor.js';
import { startRedisServer, type RedisServer } from '../test/helpers/redis.js';
import { readProfile, summarizeProfile, type ProfileSummary } from './lib/cpu-profile.js';
import { CLI, machineCpuSeconds, ownCpuSeconds, processCpuSeconds, ProcessGroup, spawnNode, until, waitForQuiet, type NodeChild } from './lib/processes.js';
import { commandStats, networkBytes, resetStats, serverCpuSeconds, type CommandStat } from './lib/redis-stats.js';
import { table } from './lib/stats.js';

const BULLMQ_WORKER = fileURLToPath(new URL('./lib/bullmq-worker.ts', import.meta.url));
const HUB_PROCESS = fileURLToPath(new URL('./lib/hub-process.ts', import.meta.url));
const QUEUE = 'bench-throughput';
const BATCH = 1_000;
const WARMUP = 500;
const PAYLOAD = { durationMs: 0, steps: 0 };

interface Config {
  jobs: number;
  workers: number;
  concurrency: number;
  warmup: number;
  profileJobs: number;
  /** Longest wait for the machine to be quiet before a measured window. */
  quietWaitMs: number;
}

interface CpuUse {
  process: string;
  seconds: number;
}

interface Measured {
  system: 'BullMQ' | 'statehub' | 'statehub (profiled)';
  jobs: number;
  /** From the first submission to the last one answered. */
  submitMs: number;
  /** From the first submission to the last completion seen. */
  totalMs: number;
  firstCompletionMs: number;
  jobsPerSecond: number;
  /** Between 10 % and 90 % of the completions: the rate once both ends of the pipe are full. */
  steadyJobsPerSecond: number;
  cpu: CpuUse[];
  /** Cores the machine used just before the window (our processes idle): over 0.25, something else was running. */
  busyCoresBefore: number;
  /** CPU other processes on the machine used meanwhile (other benches, builds...): noise when large. */
  otherCpuSeconds: number;
  redisCpuSeconds: number;
  /** Bytes clients sent to Redis and Redis sent back, in the window. */
  redisBytes: { input: number; output: number };
  commands: CommandStat[];
}

interface StatehubExtra {
  hubEventLoopUtilization: number;
  hubRssMB: number;
  /** Changes the monitor received per job, by kind. */
  changesPerJob: Record<string, number>;
  monitorProblems: number;
}

/** Completions over time: total rate, steady rate, first completion. */
class Progress {
  private readonly points: Array<[number, number]> = [];

  constructor(
    readonly startedAt: number,
    readonly target: number,
  ) {}

  record(count: number): void {
    const last = this.points.at(-1);
    if (!last || count > last[1]) this.points.push([performance.now() - this.startedAt, count]);
  }

  /** Milliseconds at which the count first reached `count`. */
  at(count: number): number {
    return this.points.find(([, done]) => done >= count)?.[0] ?? Number.NaN;
  }

  steadyRate(): number {
    const low = Math.ceil(this.target * 0.1);
    const high = Math.floor(this.target * 0.9);
    const ms = this.at(high) - this.at(low);
    return ms > 0 ? ((high - low) / ms) * 1000 : Number.NaN;
  }
}

/** CPU seconds of several processes over a window, and of everything else on the machine. */
function cpuWindow(readers: Array<{ process: string; read: () => number }>) {
  const before = readers.map((reader) => reader.read());
  const machineBefore = machineCpuSeconds();
  return () => {
    const cpu = readers.map((reader, index) => ({ process: reader.process, seconds: reader.read() - (before[index] as number) }));
    const ours = cpu.reduce((sum, use) => sum + use.seconds, 0);
    return { cpu, otherCpuSeconds: Math.max(0, machineCpuSeconds() - machineBefore - ours) };
  };
}

/** Other benchmarks or builds running at the same time skew the figures: wait a little for them, and say so. */
async function quietMachine(config: Config): Promise<{ busyCores: number }> {
  const { quiet, busyCores, waitedMs } = await waitForQuiet(config.quietWaitMs);
  if (!quiet) console.log(`warning: the machine was still busy (${busyCores.toFixed(2)} cores in use by other processes) after ${Math.round(waitedMs / 1000)} s; figures below are skewed`);
  return { busyCores };
}

const range = (count: number) => Array.from({ length: count }, (_, index) => index);
const timeoutFor = (jobs: number) => 30_000 + jobs * 10;

// ---------------------------------------------------------------------------------------------
// BullMQ

async function runBullmq(redis: RedisServer, admin: Redis, group: ProcessGroup, config: Config): Promise<Measured> {
  const workers = range(config.workers).map((index) =>
    group.add(
      spawnNode(`bullmq worker ${index + 1}`, ['--import', 'tsx', BULLMQ_WORKER], {
        ipc: true,
        env: { BENCH_REDIS_PORT: String(redis.port), BENCH_QUEUE: QUEUE, BENCH_CONCURRENCY: String(config.concurrency) },
      }),
    ),
  );
  const queue = new Queue(QUEUE, { connection: { host: '127.0.0.1', port: redis.port } });
  queue.on('error', () => {});
  try {
    await Promise.all(workers.map((worker) => worker.message((message) => message.type === 'ready')));
    await queue.waitUntilReady();
    const completed = async () => (await queue.getJobCounts('completed')).completed ?? 0;
    const add = async (count: number) => {
      for (let sent = 0; sent < count; sent += BATCH) {
        await queue.addBulk(range(Math.min(BATCH, count - sent)).map(() => ({ name: 'simulation', data: PAYLOAD })));
      }
    };

    await add(config.warmup);
    await until(async () => (await completed()) >= config.warmup, timeoutFor(config.warmup), () => 'BullMQ warm-up jobs did not complete');

    const { busyCores: busyCoresBefore } = await quietMachine(config);
    await resetStats(admin);
    const redisCpuBefore = await serverCpuSeconds(admin);
    const cpu = cpuWindow([
      { process: 'redis-server', read: () => processCpuSeconds(redis.process.pid) },
      ...workers.map((worker) => ({ process: worker.name, read: () => worker.cpuSeconds() })),
      { process: 'bench process (Queue.addBulk, polling)', read: ownCpuSeconds },
    ]);
    const started = performance.now();
    const progress = new Progress(started, config.jobs);
    let submitMs = Number.NaN;
    let submitError: unknown;
    const adding = add(config.jobs).then(
      () => void (submitMs = performance.now() - started),
      (error: unknown) => void (submitError = error),
    );
    let done = 0;
    await until(
      async () => {
        if (submitError) throw submitError;
        done = (await completed()) - config.warmup;
        progress.record(done);
        return done >= config.jobs;
      },
      timeoutFor(config.jobs),
      () => `BullMQ completed ${done} of ${config.jobs} jobs`,
      2,
    );
    const totalMs = performance.now() - started;
    const used = cpu();
    await adding;
    const commands = await commandStats(admin);
    const redisBytes = await networkBytes(admin);
    return {
      system: 'BullMQ',
      jobs: config.jobs,
      submitMs,
      totalMs,
      firstCompletionMs: progress.at(1),
      jobsPerSecond: (config.jobs / totalMs) * 1000,
      steadyJobsPerSecond: progress.steadyRate(),
      ...used,
      busyCoresBefore,
      redisCpuSeconds: (await serverCpuSeconds(admin)) - redisCpuBefore,
      redisBytes,
      commands,
    };
  } finally {
    await queue.close().catch(() => {});
    await group.stop(workers);
  }
}

// ---------------------------------------------------------------------------------------------
// statehub

/** Counts the job completions (and every change, by kind) a monitor sees. */
class CompletionCounter {
  completed = 0;
  readonly changes = new Map<string, number>();
  progress: Progress | undefined;
  private base = 0;
  private readonly unsubscribe: () => void;

  constructor(readonly monitor: Monitor) {
    this.unsubscribe = monitor.view.subscribe((changes, reset) => {
      if (reset) return;
      for (const { record, previous } of changes) {
        this.changes.set(record.kind, (this.changes.get(record.kind) ?? 0) + 1);
        if (record.kind === 'job' && record.state === 'completed' && !record.removed && previous?.state !== 'completed') this.completed += 1;
      }
      this.progress?.record(this.completed - this.base);
    });
  }

  /** Starts counting a new window from here. */
  window(progress: Progress): void {
    this.progress = progress;
    this.base = this.completed;
    this.changes.clear();
  }

  get inWindow(): number {
    return this.completed - this.base;
  }

  close(): void {
    this.unsubscribe();
  }
}

async function submit(url: string, count: number): Promise<void> {
  const body = (size: number) => JSON.stringify({ jobs: range(size).map(() => ({ type: 'simulation', payload: PAYLOAD })) });
  const full = body(BATCH);
  for (let sent = 0; sent < count; sent += BATCH) {
    const size = Math.min(BATCH, count - sent);
    const response = await fetch(`${url}/api/jobs/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: size === BATCH ? full : body(size),
    });
    // The answer holds the 1,000 records: read, not parsed (nothing here needs them).
    const answer = await response.arrayBuffer();
    if (response.status !== 201) throw new Error(`POST /api/jobs/batch answered ${response.status}: ${Buffer.from(answer).toString().slice(0, 500)}`);
  }
}

interface HubStats {
  elu: { idle: number; active: number; utilization: number };
  cpu: { user: number; system: number };
  rss: number;
}

async function measureStatehub(
  system: Measured['system'],
  jobs: number,
  url: string,
  redis: RedisServer,
  admin: Redis,
  hub: NodeChild,
  workers: NodeChild[],
  counter: CompletionCounter,
  config: Config,
  profilePath?: string,
): Promise<Measured & StatehubExtra> {
  const { busyCores: busyCoresBefore } = await quietMachine(config);
  // The profile covers exactly the window: from just before the first POST to the last completion.
  if (profilePath) await hub.request({ type: 'profile:start' });
  await resetStats(admin);
  const redisCpuBefore = await serverCpuSeconds(admin);
  // The plain CLI hub (THROUGHPUT_HUB=cli) answers no IPC: no event-loop figures then.
  const hubStats = () => (hub.process.connected ? hub.request<HubStats>({ type: 'stats' }) : Promise.resolve(undefined));
  const hubBefore = await hubStats();
  const cpu = cpuWindow([
    { process: 'redis-server', read: () => processCpuSeconds(redis.process.pid) },
    { process: 'statehub hub', read: () => hub.cpuSeconds() },
    ...workers.map((worker) => ({ process: worker.name, read: () => worker.cpuSeconds() })),
    { process: 'bench process (HTTP submit, Monitor)', read: ownCpuSeconds },
  ]);
  const started = performance.now();
  const progress = new Progress(started, jobs);
  counter.window(progress);
  let submitMs = Number.NaN;
  let submitError: unknown;
  const submitting = submit(url, jobs).then(
    () => void (submitMs = performance.now() - started),
    (error: unknown) => void (submitError = error),
  );
  await until(
    () => {
      if (submitError) throw submitError;
      return counter.inWindow >= jobs;
    },
    timeoutFor(jobs),
    () => `the monitor saw ${counter.inWindow} of ${jobs} statehub jobs completed`,
    1,
  );
  const totalMs = progress.at(jobs);
  const used = cpu();
  if (profilePath) await hub.request({ type: 'profile:stop', path: profilePath });
  await submitting;
  const hubAfter = await hubStats();
  const commands = await commandStats(admin);
  const redisBytes = await networkBytes(admin);
  const active = (hubAfter?.elu.active ?? Number.NaN) - (hubBefore?.elu.active ?? Number.NaN);
  const idle = (hubAfter?.elu.idle ?? Number.NaN) - (hubBefore?.elu.idle ?? Number.NaN);
  return {
    system,
    jobs,
    submitMs,
    totalMs,
    firstCompletionMs: progress.at(1),
    jobsPerSecond: (jobs / totalMs) * 1000,
    steadyJobsPerSecond: progress.steadyRate(),
    ...used,
    busyCoresBefore,
    redisCpuSeconds: (await serverCpuSeconds(admin)) - redisCpuBefore,
    redisBytes,
    commands,
    hubEventLoopUtilization: active + idle > 0 ? active / (active + idle) : Number.NaN,
    hubRssMB: (hubAfter?.rss ?? Number.NaN) / 2 ** 20,
    changesPerJob: Object.fromEntries([...counter.changes].map(([kind, count]) => [kind, count / jobs])),
    monitorProblems: counter.monitor.view.problems.length,
  };
}

async function runStatehub(
  redis: RedisServer,
  admin: Redis,
  group: ProcessGroup,
  config: Config,
): Promise<StatehubResult> {
  // Opt-in: profile the worker processes too (their whole life: start, warm-up and both passes).
  const workerProfileDir = process.env.THROUGHPUT_WORKER_PROFILE === '1' ? mkdtempSync(join(tmpdir(), 'statehub-throughput-workers-')) : undefined;
  // By default the built hub behind a small IPC wrapper (same startHub, same options as the CLI), for its
  // event-loop figures and the profile; THROUGHPUT_HUB=cli runs `statehub hub` itself instead.
  const cli = process.env.THROUGHPUT_HUB === 'cli';
  const hub = group.add(
    cli
      ? spawnNode('statehub hub', [CLI, 'hub', '--port', '0', '--redis', redis.url])
      : spawnNode('statehub hub', ['--import', 'tsx', HUB_PROCESS], { ipc: true, env: { BENCH_REDIS_URL: redis.url } }),
  );
  const workers: NodeChild[] = [];
  let result: StatehubResult;
  let monitor: Monitor | undefined;
  let counter: CompletionCounter | undefined;
  try {
    const url = cli
      ? ((await hub.waitFor(/"url":"(http:\/\/[^"]+)"/))[1] as string)
      : (await hub.message<{ url: string }>((message) => message.type === 'listening')).url;
    for (const index of range(config.workers)) {
      const profiling = workerProfileDir ? ['--cpu-prof', '--cpu-prof-dir', workerProfileDir, '--cpu-prof-name', `worker-${index + 1}.cpuprofile`] : [];
      workers.push(group.add(spawnNode(`statehub worker ${index + 1}`, [...profiling, CLI, 'worker', '--hub', url, '--connectors', `simulation:${config.concurrency}`])));
    }
    await Promise.all(workers.map((worker) => worker.waitFor(/registered with/)));
    monitor = new Monitor(url);
    counter = new CompletionCounter(monitor);
    const live = monitor;
    await until(() => live.state === 'live', 30_000, () => `the monitor is ${live.state}`);

    const warm = counter;
    await submit(url, config.warmup);
    await until(() => warm.completed >= config.warmup, timeoutFor(config.warmup), () => `statehub completed ${warm.completed} of ${config.warmup} warm-up jobs`);

    const measured = await measureStatehub('statehub', config.jobs, url, redis, admin, hub, workers, counter, config);
    result = { measured };
    if (config.profileJobs > 0 && !cli) {
      const profilePath = join(tmpdir(), `statehub-throughput-hub-${Date.now()}.cpuprofile`);
      const profiled = await measureStatehub('statehub (profiled)', config.profileJobs, url, redis, admin, hub, workers, counter, config, profilePath);
      result = { measured, profiled, profile: summarizeProfile(readProfile(profilePath), 15), profilePath };
    }
  } finally {
    counter?.close();
    monitor?.close();
    await group.stop(workers);
    await group.stop([hub]);
  }
  const workerProfilePath = workerProfileDir && join(workerProfileDir, 'worker-1.cpuprofile');
  if (workerProfilePath && existsSync(workerProfilePath)) {
    result.workerProfile = summarizeProfile(readProfile(workerProfilePath), 15);
    result.workerProfilePath = workerProfilePath;
  }
  return result;
}

interface StatehubResult {
  measured: Measured & StatehubExtra;
  profiled?: Measured & StatehubExtra;
  profile?: ProfileSummary;
  profilePath?: string;
  workerProfile?: ProfileSummary;
  workerProfilePath?: string;
}

// ---------------------------------------------------------------------------------------------
// Report

const round = (value: number, digits = 0) => (Number.isFinite(value) ? Number(value.toFixed(digits)) : null);
const percent = (value: number) => `${(value * 100).toFixed(1)} %`;

function printRuns(runs: Measured[], config: Config): void {
  console.log(`\n${config.workers} worker processes x concurrency ${config.concurrency}, no-op jobs, same redis-server (flushed between systems)\n`);
  table(
    ['system', 'jobs', 'submitted in (s)', 'first completion (ms)', 'all completed in (s)', 'jobs/s', 'jobs/s, 10-90 %', 'other processes (cores)'],
    runs.map((run) => [
      run.system,
      run.jobs,
      (run.submitMs / 1000).toFixed(2),
      run.firstCompletionMs,
      (run.totalMs / 1000).toFixed(2),
      run.jobsPerSecond,
      run.steadyJobsPerSecond,
      (run.otherCpuSeconds / (run.totalMs / 1000)).toFixed(2),
    ]),
  );
}

function printCpu(runs: Measured[]): void {
  console.log('\nCPU during the measured window (2 cores = 200 % available)\n');
  const rows: Array<Array<string | number>> = [];
  for (const run of runs) {
    const seconds = run.totalMs / 1000;
    const all = run.cpu.reduce((sum, use) => sum + use.seconds, 0);
    for (const use of run.cpu) rows.push([run.system, use.process, use.seconds, percent(use.seconds / seconds), (use.seconds * 1e6) / run.jobs]);
    rows.push([run.system, '**all of the above**', all, percent(all / seconds), (all * 1e6) / run.jobs]);
    rows.push([run.system, '(other processes on the machine)', run.otherCpuSeconds, percent(run.otherCpuSeconds / seconds), '']);
  }
  table(['system', 'process', 'CPU s', 'of one core', 'CPU us per job'], rows);
  const cores = availableParallelism();
  console.log(`\nCPU per job, all processes: ${runs.map((run) => {
    const perJob = run.cpu.reduce((sum, use) => sum + use.seconds, 0) / run.jobs;
    return `${run.system} ${Math.round(perJob * 1e6).toLocaleString('en-US')} us (at most ${Math.round(cores / perJob).toLocaleString('en-US')} jobs/s on ${cores} cores)`;
  }).join('; ')}`);
}

function printCommands(runs: Measured[], top = 8): void {
  console.log('\nRedis INFO commandstats in the window, by total time (commands run by Lua scripts are also counted inside their eval)\n');
  const rows: Array<Array<string | number>> = [];
  for (const run of runs) {
    const calls = run.commands.reduce((sum, command) => sum + command.calls, 0);
    rows.push([run.system, '**redis-server CPU (INFO cpu)**', '', '', '', run.redisCpuSeconds * 1000, (run.redisCpuSeconds * 1e6) / run.jobs]);
    for (const command of run.commands.slice(0, top)) {
      rows.push([run.system, command.command, command.calls, command.calls / run.jobs, command.usecPerCall, command.usec / 1000, command.usec / run.jobs]);
    }
    rows.push([run.system, '(all commands)', calls, calls / run.jobs, '', '', '']);
    rows.push([run.system, '(bytes in / out per job)', '', `${Math.round(run.redisBytes.input / run.jobs)} / ${Math.round(run.redisBytes.output / run.jobs)}`, '', '', '']);
  }
  table(['system', 'command', 'calls', 'calls per job', 'us per call', 'total ms', 'us per job'], rows);
}

function printStatehubExtra(runs: Array<Measured & StatehubExtra>): void {
  console.log('\nstatehub hub and monitor\n');
  table(
    ['run', 'hub event-loop utilization', 'hub RSS (MB)', 'changes the monitor got per job (by kind)', 'contract problems seen'],
    runs.map((run) => [
      run.system,
      percent(run.hubEventLoopUtilization),
      run.hubRssMB,
      Object.entries(run.changesPerJob)
        .map(([kind, count]) => `${kind} ${count.toFixed(2)}`)
        .join(', '),
      run.monitorProblems,
    ]),
  );
}

function printProfile(title: string, profile: ProfileSummary, path: string, jobs: number): void {
  const jobShare = (ms: number) => (ms * 1000) / jobs;
  console.log(
    `\n${title} (${(profile.durationMs / 1000).toFixed(2)} s; idle ${percent(profile.idleMs / profile.durationMs)}, GC ${percent(profile.gcMs / profile.durationMs)}): ${path}\n`,
  );
  console.log('Top functions by self time\n');
  table(
    ['function', 'module', 'self ms', 'of the pass', 'us per job'],
    profile.selfByFunction.map((entry) => [entry.name, entry.module, entry.ms, percent(entry.share), jobShare(entry.ms)]),
  );
  console.log('\nSelf time by module\n');
  table(
    ['module', 'self ms', 'of the pass', 'us per job'],
    profile.selfByModule.map((entry) => [entry.module, entry.ms, percent(entry.share), jobShare(entry.ms)]),
  );
  console.log('\nProject functions by inclusive time (each counted once per stack)\n');
  table(
    ['function', 'inclusive ms', 'of the pass', 'us per job'],
    profile.inclusiveProject.map((entry) => [entry.name, entry.ms, percent(entry.share), jobShare(entry.ms)]),
  );
  console.log('\nPackage functions by inclusive time (each counted once per stack)\n');
  table(
    ['function', 'inclusive ms', 'of the pass', 'us per job'],
    profile.inclusivePackages.map((entry) => [entry.name, entry.ms, percent(entry.share), jobShare(entry.ms)]),
  );
}

function cpuRecord(run: Measured): Record<string, number | null> {
  return Object.fromEntries(run.cpu.map((use) => [use.process, round(use.seconds, 3)]));
}

/** CPU us per job of each process, and `total`. */
function cpuPerJob(run: Measured): Record<string, number | null> {
  const total = run.cpu.reduce((sum, use) => sum + use.seconds, 0);
  return { ...Object.fromEntries(run.cpu.map((use) => [use.process, round((use.seconds / run.jobs) * 1e6)])), total: round((total / run.jobs) * 1e6) };
}

/** Every Redis command per job, those run inside Lua included (as INFO commandstats counts them). */
function commandsPerJob(run: Measured): number | null {
  return round(run.commands.reduce((sum, command) => sum + command.calls, 0) / run.jobs, 1);
}

function runRecord(run: Measured): Record<string, unknown> {
  return {
    jobs: run.jobs,
    seconds: round(run.totalMs / 1000, 3),
    submit_seconds: round(run.submitMs / 1000, 3),
    first_completion_ms: round(run.firstCompletionMs, 1),
    jobs_per_s: round(run.jobsPerSecond),
    steady_jobs_per_s: round(run.steadyJobsPerSecond),
    cpu_seconds: cpuRecord(run),
    cpu_us_per_job: round((run.cpu.reduce((sum, use) => sum + use.seconds, 0) / run.jobs) * 1e6),
    other_processes_cpu_seconds: round(run.otherCpuSeconds, 3),
    machine_busy_cores_before: round(run.busyCoresBefore, 2),
    redis_cpu_seconds: round(run.redisCpuSeconds, 3),
    redis_bytes_in_per_job: round(run.redisBytes.input / run.jobs),
    redis_bytes_out_per_job: round(run.redisBytes.output / run.jobs),
    redis_commands: run.commands.slice(0, 10).map((command) => ({
      command: command.command,
      calls: command.calls,
      calls_per_job: round(command.calls / run.jobs, 2),
      usec_per_call: command.usecPerCall,
      total_ms: round(command.usec / 1000, 1),
    })),
  };
}

function statehubRecord(run: Measured & StatehubExtra): Record<string, unknown> {
  return {
    ...runRecord(run),
    hub_event_loop_utilization: round(run.hubEventLoopUtilization, 3),
    hub_rss_mb: round(run.hubRssMB),
    changes_per_job: Object.fromEntries(Object.entries(run.changesPerJob).map(([kind, count]) => [kind, round(count, 2)])),
    monitor_contract_problems: run.monitorProblems,
  };
}

// ---------------------------------------------------------------------------------------------

export async function run(options: { quick: boolean }): Promise<Record<string, unknown>> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm run bench does)`);
  const envNumber = (name: string, fallback: number) => (process.env[name] ? Number(process.env[name]) : fallback);
  const jobs = envNumber('THROUGHPUT_JOBS', options.quick ? 3_000 : 20_000);
  const config: Config = {
    jobs,
    workers: envNumber('THROUGHPUT_WORKERS', 2),
    concurrency: envNumber('THROUGHPUT_CONCURRENCY', 8),
    warmup: WARMUP,
    // Quick keeps the profiled pass short: the suite runs four benches in under 3 minutes.
    profileJobs: process.env.THROUGHPUT_PROFILE === '0' ? 0 : Math.min(jobs, options.quick ? 1_500 : 10_000),
    quietWaitMs: envNumber('THROUGHPUT_QUIET_WAIT_MS', options.quick ? 5_000 : 120_000),
  };

  const redis = await startRedisServer();
  const admin = new Redis(redis.port, '127.0.0.1', { maxRetriesPerRequest: 1 });
  admin.on('error', () => {});
  const group = new ProcessGroup();
  try {
    const bullmq = await runBullmq(redis, admin, group, config);
    await admin.flushall();
    const statehub = await runStatehub(redis, admin, group, config);

    const runs: Measured[] = [bullmq, statehub.measured, ...(statehub.profiled ? [statehub.profiled] : [])];
    printRuns(runs, config);
    const ratio = statehub.measured.jobsPerSecond / bullmq.jobsPerSecond;
    console.log(`\nstatehub / BullMQ: **${ratio.toFixed(3)}** (${Math.round(statehub.measured.jobsPerSecond)} vs ${Math.round(bullmq.jobsPerSecond)} jobs/s)`);
    printCpu(runs);
    printCommands([bullmq, statehub.measured]);
    printStatehubExtra([statehub.measured, ...(statehub.profiled ? [statehub.profiled] : [])]);
    if (statehub.profile && statehub.profilePath && statehub.profiled) {
      printProfile('statehub hub CPU profile over the profiled pass', statehub.profile, statehub.profilePath, statehub.profiled.jobs);
    }
    if (statehub.workerProfile && statehub.workerProfilePath) {
      // Worker 1 ran about its share of every job submitted (warm-up and both passes).
      const handled = (config.warmup + config.jobs + (statehub.profiled ? config.profileJobs : 0)) / config.workers;
      printProfile('statehub worker 1 CPU profile over its whole life (us per job: per job it ran, about)', statehub.workerProfile, statehub.workerProfilePath, handled);
    }

    return {
      jobs: config.jobs,
      worker_processes: config.workers,
      concurrency: config.concurrency,
      warmup_jobs: config.warmup,
      statehub_jobs_per_s: round(statehub.measured.jobsPerSecond),
      bullmq_jobs_per_s: round(bullmq.jobsPerSecond),
      ratio: round(ratio, 3),
      // Per process and in all, for both systems (issue 9 asks for these by name).
      cpu_us_per_job: { bullmq: cpuPerJob(bullmq), statehub: cpuPerJob(statehub.measured) },
      redis_commands_per_job: { bullmq: commandsPerJob(bullmq), statehub: commandsPerJob(statehub.measured) },
      bullmq: runRecord(bullmq),
      statehub: statehubRecord(statehub.measured),
      ...(statehub.profiled && statehub.profile
        ? {
            statehub_profiled: {
              ...statehubRecord(statehub.profiled),
              profile_path: statehub.profilePath,
              profile_seconds: round(statehub.profile.durationMs / 1000, 2),
              idle_share: round(statehub.profile.idleMs / statehub.profile.durationMs, 3),
              gc_share: round(statehub.profile.gcMs / statehub.profile.durationMs, 3),
              top_self: statehub.profile.selfByFunction.slice(0, 10).map((entry) => ({ function: entry.name, ms: round(entry.ms), share: round(entry.share, 3) })),
              top_modules: statehub.profile.selfByModule.slice(0, 10).map((entry) => ({ module: entry.module, ms: round(entry.ms), share: round(entry.share, 3) })),
              top_project_inclusive: statehub.profile.inclusiveProject
                .slice(0, 10)
                .map((entry) => ({ function: entry.name, ms: round(entry.ms), share: round(entry.share, 3) })),
            },
          }
        : {}),
    };
  } finally {
    await group.stopAll();
    admin.disconnect();
    await redis.stop();
  }
}
