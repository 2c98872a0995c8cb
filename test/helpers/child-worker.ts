/** A worker in a child process, so a test can kill it (SIGKILL) or freeze it (SIGSTOP) like a real crash or hang. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { onTestFinished } from 'vitest';

const SCRIPT = fileURLToPath(new URL('./worker-process.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface ChildWorker {
  readonly id: string;
  readonly process: ChildProcess;
  /** Everything the child printed so far. */
  output(): string;
  /** Resolves when the child has exited (at once if it already has). */
  exited(): Promise<void>;
}

export interface ChildWorkerOptions {
  id: string;
  machineId: string;
  /** Connector types: `simulation`, or any other type, which holds each job until it is aborted. */
  connectors: string[];
}

/** Spawns the worker, resolves once it registered; killed (after a SIGCONT, in case it is frozen) when the test ends. */
export async function spawnWorker(hubUrl: string, options: ChildWorkerOptions): Promise<ChildWorker> {
  const child = spawn(process.execPath, ['--import', 'tsx', SCRIPT], {
    cwd: ROOT,
    env: {
      ...process.env,
      STATEHUB_HUB: hubUrl,
      STATEHUB_WORKER_ID: options.id,
      STATEHUB_MACHINE_ID: options.machineId,
      STATEHUB_CONNECTORS: options.connectors.join(','),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exit = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  onTestFinished(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGCONT');
      child.kill('SIGKILL');
    }
    await exit;
  });
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (/^ready$/m.test(output)) resolve();
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code, signal) => reject(new Error(`worker process ${options.id} exited (${code ?? signal}) before it was ready:\n${output}`)));
  });
  return { id: options.id, process: child, output: () => output, exited: () => exit };
}
