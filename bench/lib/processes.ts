/**
 * Child processes for the benches: node scripts with captured output and optional IPC, their CPU
 * time read from /proc, and a group that stops all of them (SIGTERM, then SIGKILL) whatever
 * happened. Anything still alive when the bench process exits is killed.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CLI = fileURLToPath(new URL('../../dist/src/cli.js', import.meta.url));

const alive = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of alive) child.kill('SIGKILL');
});

const OUTPUT_KEPT = 64 * 1024;

export interface NodeChild {
  readonly name: string;
  readonly process: ChildProcess;
  readonly pid: number;
  /** The last 64 KiB of stdout and stderr. */
  output(): string;
  /** Resolves when `pattern` shows up in the output; rejects if the process ends first. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Resolves with the first IPC message `accept` takes. */
  message<T = Record<string, unknown>>(accept: (message: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<T>;
  /** Sends `{ id, ...message }` over IPC and resolves with the answer carrying the same id. */
  request<T = Record<string, unknown>>(message: Record<string, unknown>, timeoutMs?: number): Promise<T>;
  /** CPU seconds (user + system) the process used so far, from /proc; NaN where there is none. */
  cpuSeconds(): number;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it exited. */
  stop(graceMs?: number): Promise<void>;
}

export function spawnNode(name: string, args: string[], options: { ipc?: boolean; env?: Record<string, string> } = {}): NodeChild {
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, ...options.env },
    stdio: options.ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
  });
  alive.add(child);
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      alive.delete(child);
      resolve();
    }),
  );
  child.once('error', () => alive.delete(child));
  let output = '';
  const listeners = new Set<() => void>();
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
    if (output.length > OUTPUT_KEPT * 2) output = output.slice(-OUTPUT_KEPT);
    for (const listener of [...listeners]) listener();
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const hasExited = () => child.exitCode !== null || child.signalCode !== null;
  let nextId = 1;

  const waitUntil = <T>(what: string, timeoutMs: number, subscribe: (settle: (value: T) => void) => () => void): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      let unsubscribe = () => {};
      const done = () => {
        clearTimeout(timer);
        unsubscribe();
        child.off('exit', onExit);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${name}: no ${what} within ${timeoutMs} ms; its output:\n${output.slice(-4_000)}`));
      }, timeoutMs);
      const onExit = () => {
        done();
        reject(new Error(`${name} exited (${child.exitCode ?? child.signalCode}) before ${what}; its output:\n${output.slice(-4_000)}`));
      };
      child.once('exit', onExit);
      unsubscribe = subscribe((value) => {
        done();
        resolve(value);
      });
      if (hasExited()) onExit();
    });

  const handle: NodeChild = {
    name,
    process: child,
    pid: child.pid ?? -1,
    output: () => output,
    waitFor(pattern, timeoutMs = 30_000) {
      return waitUntil(String(pattern), timeoutMs, (settle) => {
        const check = () => {
          const match = output.match(pattern);
          if (match) settle(match);
        };
        listeners.add(check);
        queueMicrotask(check);
        return () => listeners.delete(check);
      });
    },
    message<T>(accept: (message: Record<string, unknown>) => boolean, timeoutMs = 30_000) {
      return waitUntil<T>('expected IPC message', timeoutMs, (settle) => {
        const onMessage = (message: unknown) => {
          if (message && typeof message === 'object' && accept(message as Record<string, unknown>)) settle(message as T);
        };
        child.on('message', onMessage);
        return () => child.off('message', onMessage);
      });
    },
    request<T>(message: Record<string, unknown>, timeoutMs = 30_000) {
      const id = nextId++;
      const answer = handle.message<T>((reply) => reply.id === id, timeoutMs);
      child.send({ ...message, id });
      return answer;
    },
    cpuSeconds: () => processCpuSeconds(child.pid),
    async stop(graceMs = 5_000) {
      if (hasExited()) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
  return handle;
}

/** Processes started together, stopped together (in parallel), errors or not. */
export class ProcessGroup {
  private readonly children = new Set<NodeChild>();

  add<T extends NodeChild>(child: T): T {
    this.children.add(child);
    return child;
  }

  async stop(children: Iterable<NodeChild> = [...this.children], graceMs = 5_000): Promise<void> {
    const list = [...children];
    await Promise.all(list.map((child) => child.stop(graceMs)));
    for (const child of list) this.children.delete(child);
  }

  stopAll(graceMs = 5_000): Promise<void> {
    return this.stop([...this.children], graceMs);
  }
}

let ticks: number | undefined;
function clockTicks(): number {
  if (ticks === undefined) {
    const answer = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
    const value = Number(answer.stdout?.trim());
    ticks = Number.isFinite(value) && value > 0 ? value : 100;
  }
  return ticks;
}

/** utime + stime of a process (all its threads), in seconds. */
export function processCpuSeconds(pid: number | undefined): number {
  if (pid === undefined || pid <= 0) return Number.NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces: the fields after its closing parenthesis, from field 3.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / clockTicks();
  } catch {
    return Number.NaN;
  }
}

/** CPU seconds every process on the machine used so far (all cores, from /proc/stat); NaN where there is none. */
export function machineCpuSeconds(): number {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] as string;
    const [, ...values] = line.trim().split(/\s+/).map(Number);
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    const busy = (values[0] ?? 0) + (values[1] ?? 0) + (values[2] ?? 0) + (values[5] ?? 0) + (values[6] ?? 0) + (values[7] ?? 0);
    return busy / clockTicks();
  } catch {
    return Number.NaN;
  }
}

/** This process's CPU seconds (user + system). */
export function ownCpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

/** Polls `check` every `intervalMs` until it holds; rejects with `describe()` after `timeoutMs`. */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, describe: () => string, intervalMs = 10): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${describe()}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/**
 * Waits (at most `maxWaitMs`) until the whole machine uses less than `cores` cores over a
 * `sampleMs` sample: other benchmarks or builds running meanwhile would skew a throughput
 * figure. Resolves with the last sample either way.
 */
export async function waitForQuiet(maxWaitMs: number, cores = 0.25, sampleMs = 500): Promise<{ quiet: boolean; busyCores: number; waitedMs: number }> {
  const started = performance.now();
  for (;;) {
    const before = machineCpuSeconds();
    const at = performance.now();
    await new Promise((resolve) => setTimeout(resolve, sampleMs));
    const busyCores = (machineCpuSeconds() - before) / ((performance.now() - at) / 1000);
    const waitedMs = performance.now() - started;
    if (!(busyCores >= cores) || waitedMs >= maxWaitMs) return { quiet: !(busyCores >= cores), busyCores, waitedMs };
  }
}
