/** The bench side of bench/lib/scale-hub.ts: starts the hub process, sends it commands, stops it. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { HeapReading, HubCommand, SeedResult } from './scale-hub.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SCRIPT = fileURLToPath(new URL('./scale-hub.ts', import.meta.url));

/** Every hub process still running, killed if the bench process exits without stopping them. */
const running = new Set<ChildProcess>();
let exitHookInstalled = false;
function killOnExit(child: ChildProcess): void {
  running.add(child);
  child.once('exit', () => running.delete(child));
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const process of running) process.kill('SIGKILL');
  });
}

export class HubProcess {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  private exited = false;

  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
  ) {
    child.on('message', (message: { id?: number; ok?: boolean; result?: unknown; error?: string }) => {
      if (message.id === undefined) return;
      const waiter = this.pending.get(message.id);
      if (!waiter) return;
      this.pending.delete(message.id);
      if (message.ok) waiter.resolve(message.result);
      else waiter.reject(new Error(`hub process: ${message.error}`));
    });
    child.once('exit', (code, signal) => {
      this.exited = true;
      for (const waiter of this.pending.values()) waiter.reject(new Error(`the hub process exited (${signal ?? code})`));
      this.pending.clear();
    });
  }

  /** `node --expose-gc --import tsx bench/lib/scale-hub.ts`, with a memory or Redis store. */
  static async start(options: { redis?: string; prefix?: string } = {}): Promise<HubProcess> {
    const child = spawn(process.execPath, ['--expose-gc', '--max-old-space-size=8192', '--import', 'tsx', SCRIPT, JSON.stringify(options)], {
      cwd: ROOT,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    killOnExit(child);
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('the hub process did not start within 60 s')), 60_000);
        child.once('error', reject);
        child.once('exit', (code, signal) => reject(new Error(`the hub process exited at start (${signal ?? code})`)));
        child.on('message', (message: { ready?: boolean; url?: string }) => {
          if (message.ready && message.url) {
            clearTimeout(timer);
            resolve(message.url);
          }
        });
      });
      return new HubProcess(child, url);
    } catch (error) {
      child.kill('SIGKILL');
      throw error;
    }
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  heap(): Promise<HeapReading> {
    return this.call({ cmd: 'heap' }) as Promise<HeapReading>;
  }

  seed(workers: number, jobs: number, chunk: number): Promise<SeedResult> {
    return this.call({ cmd: 'seed', workers, jobs, chunk }, 600_000) as Promise<SeedResult>;
  }

  /** The offset up to which the hub delivered changes: where a monitor that saw everything stands. */
  offset(): Promise<string> {
    return this.call({ cmd: 'offset' }) as Promise<string>;
  }

  /** Commits `count` job changes; resolves with the offset after them, once the hub delivered them. */
  changes(count: number, chunk: number): Promise<string> {
    return this.call({ cmd: 'changes', count, chunk }, 300_000) as Promise<string>;
  }

  async stallReset(): Promise<void> {
    await this.call({ cmd: 'stallReset' });
  }

  /** The longest event-loop block in the hub process since stallReset, in ms. */
  stallMax(): Promise<number> {
    return this.call({ cmd: 'stallMax' }) as Promise<number>;
  }

  /** Closes the hub and waits for the process to end; kills it if it does not within 10 s. */
  async stop(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => (this.exited ? resolve() : this.child.once('exit', () => resolve())));
    await this.call({ cmd: 'close' }, 10_000).catch(() => {});
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }

  private call(command: HubCommand, timeoutMs = 120_000): Promise<unknown> {
    if (this.exited) return Promise.reject(new Error('the hub process has exited'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`the hub process did not answer ${command.cmd} within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      this.child.send({ id, ...command });
    });
  }
}
