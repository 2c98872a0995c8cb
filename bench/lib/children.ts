/**
 * Bench child processes (`node --import tsx script.ts`) driven by request/answer messages over
 * their IPC channel. Every child started here is killed when the parent exits, however it
 * exits, and a child exits by itself when its parent goes away.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** High-resolution wall clock, comparable between processes of one machine. */
export const wallNow = () => performance.timeOrigin + performance.now();

interface Request {
  id: number;
  type: string;
  [key: string]: unknown;
}

type Answer = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: string };

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of running) child.kill('SIGKILL');
  });
}

export interface Child {
  readonly pid: number;
  /** What the child sent with `ready()`. */
  readonly hello: Record<string, unknown>;
  request<T = unknown>(type: string, payload?: Record<string, unknown>): Promise<T>;
  /** Asks it to stop, then kills it if it has not exited within `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

/** Starts `script` as a child and waits until it says it is ready. */
export async function startChild(script: URL, args: string[] = [], options: { readyTimeoutMs?: number } = {}): Promise<Child> {
  installExitHook();
  const child = fork(script, args, {
    execArgv: ['--import', 'tsx'],
    serialization: 'advanced',
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  running.add(child);
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  child.once('exit', (code, signal) => {
    exited = true;
    running.delete(child);
    for (const { reject } of pending.values()) reject(new Error(`bench child ${script.pathname} exited (${signal ?? code}) before answering`));
    pending.clear();
  });
  const hello = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`bench child ${script.pathname} was not ready in time`)), options.readyTimeoutMs ?? 60_000);
    child.once('message', (message: { type?: string }) => {
      clearTimeout(timer);
      if (message.type === 'ready') resolve(message as Record<string, unknown>);
      else reject(new Error(`bench child ${script.pathname} failed to start: ${JSON.stringify(message)}`));
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`bench child ${script.pathname} exited (${signal ?? code}) at start`));
    });
  }).catch((error: unknown) => {
    child.kill('SIGKILL');
    throw error;
  });
  child.on('message', (message: Answer) => {
    const waiter = pending.get(message.id);
    if (!waiter) return;
    pending.delete(message.id);
    if (message.ok) waiter.resolve(message.value);
    else waiter.reject(new Error(message.error));
  });
  let nextId = 1;
  return {
    pid: child.pid ?? -1,
    hello,
    request<T>(type: string, payload: Record<string, unknown> = {}): Promise<T> {
      if (exited) return Promise.reject(new Error(`bench child ${script.pathname} is gone`));
      const id = nextId++;
      return new Promise<T>((resolve, reject) => {
        pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
        child.send({ ...payload, id, type } satisfies Request);
      });
    },
    async stop(graceMs = 5_000) {
      if (exited) return;
      child.send({ id: 0, type: 'stop' } satisfies Request, () => {});
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exit;
      clearTimeout(timer);
    },
  };
}

/**
 * How far a child's `wallNow()` is ahead of ours, from the exchange with the shortest round trip
 * (its error is at most half that round trip, reported as `uncertainty`).
 */
export async function clockOffset(child: Child, rounds = 40): Promise<{ offset: number; uncertainty: number }> {
  let best = { offset: 0, uncertainty: Infinity };
  for (let round = 0; round < rounds; round++) {
    const sent = wallNow();
    const theirs = await child.request<number>('clock');
    const received = wallNow();
    const half = (received - sent) / 2;
    if (half < best.uncertainty) best = { offset: theirs - (sent + half), uncertainty: half };
  }
  return best;
}

/** The child side: answers the parent's requests with `handlers`; `stop` runs `onStop` then exits. */
export function serve(handlers: Record<string, (request: Record<string, unknown>) => unknown>, onStop: () => Promise<void> | void): void {
  const stop = async () => {
    try {
      await onStop();
    } finally {
      process.exit(0);
    }
  };
  process.on('disconnect', () => void stop());
  process.on('message', (message: Request) => {
    if (message.type === 'stop') return void stop();
    if (message.type === 'clock') return process.send?.({ id: message.id, ok: true, value: wallNow() } satisfies Answer);
    const handler = handlers[message.type];
    void (async () => {
      try {
        if (!handler) throw new Error(`unknown request ${message.type}`);
        const value = await handler(message);
        process.send?.({ id: message.id, ok: true, value } satisfies Answer);
      } catch (error) {
        process.send?.({ id: message.id, ok: false, error: (error as Error).stack ?? String(error) } satisfies Answer);
      }
    })();
  });
}

export function ready(details: Record<string, unknown> = {}): void {
  process.send?.({ ...details, type: 'ready' });
}

/** Reports a start-up failure to the parent (which rejects startChild) and exits. */
export function failed(error: unknown): never {
  if (!process.send) process.exit(1);
  process.send({ type: 'failed', error: (error as Error).stack ?? String(error) }, () => process.exit(1));
  // Never returns: the process exits once the message is out.
  return undefined as never;
}

/** CPU time (user + system) used by this process between two calls, as a percentage of one core. */
export function cpuMeter(): () => number {
  let start = process.cpuUsage();
  let at = performance.now();
  return () => {
    const used = process.cpuUsage(start);
    const elapsed = performance.now() - at;
    start = process.cpuUsage();
    at = performance.now();
    return elapsed > 0 ? ((used.user + used.system) / 1000 / elapsed) * 100 : 0;
  };
}

/**
 * CPU accounting from /proc (Linux), over one window: each watched process's CPU and the whole
 * machine's busy time, in % of one core, so a reader can tell what the bench used from what
 * other processes on the machine took meanwhile. NaN where /proc cannot be read.
 */
export class CpuWindow {
  private readonly ticksPerSecond = 100; // USER_HZ, the same on every Linux kernel's /proc ABI
  private started: { at: number; machine: number; processes: Map<number, number> } | undefined;

  constructor(private readonly pids: () => Record<string, number>) {}

  start(): void {
    const processes = new Map<number, number>();
    for (const pid of [...Object.values(this.pids()), process.pid]) processes.set(pid, processTicks(pid));
    this.started = { at: performance.now(), machine: machineBusyTicks(), processes };
  }

  /** % of one core per watched process, `machine` (everything busy) and `others` (machine - watched - this process). */
  stop(): Record<string, number> {
    const started = this.started;
    if (!started) return {};
    const seconds = (performance.now() - started.at) / 1000;
    const pct = (ticks: number) => (ticks / this.ticksPerSecond / seconds) * 100;
    const result: Record<string, number> = {};
    let watched = 0;
    for (const [name, pid] of Object.entries({ ...this.pids(), parent: process.pid })) {
      const before = started.processes.get(pid) ?? Number.NaN;
      const used = pct(processTicks(pid) - before);
      result[name] = used;
      if (Number.isFinite(used)) watched += used;
    }
    result.machine = pct(machineBusyTicks() - started.machine);
    result.others = Math.max(0, result.machine - watched);
    this.started = undefined;
    return result;
  }
}

function processTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command (which may hold spaces) start after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return Number.NaN;
  }
}

function machineBusyTicks(): number {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
    const [, ...values] = line.trim().split(/\s+/);
    const numbers = values.map(Number);
    // user nice system idle iowait irq softirq steal: busy = all but idle and iowait.
    return numbers.slice(0, 8).reduce((sum, value, index) => (index === 3 || index === 4 ? sum : sum + value), 0);
  } catch {
    return Number.NaN;
  }
}
