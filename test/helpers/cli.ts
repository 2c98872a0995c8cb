/** The built `statehub` command in child processes, as a user runs it (`npm test` builds it first). */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { onTestFinished } from 'vitest';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CLI = fileURLToPath(new URL('../../dist/src/cli.js', import.meta.url));

export interface CliProcess {
  readonly process: ChildProcess;
  /** stdout and stderr so far. */
  output(): string;
  /** Resolves with the exit code (or signal) once the process ended; rejects with its output if it has not within `timeoutMs`. */
  exited(timeoutMs?: number): Promise<number | string>;
  /** Resolves when `pattern` shows up in the output; rejects if the process ends first. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
}

/**
 * Runs `statehub <args>`; killed when the test ends. `under` runs it under another command, e.g.
 * `['faketime', '-f', '+5s']` for a process whose clock is 5 s ahead.
 */
export function statehub(args: string[], env: Record<string, string> = {}, under: string[] = []): CliProcess {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does)`);
  const [command, ...prefix] = under.length > 0 ? under : [process.execPath];
  const argv = under.length > 0 ? [...prefix, process.execPath, CLI, ...args] : [CLI, ...args];
  // A wrapper such as faketime forks the command rather than becoming it: each runs in a process
  // group of its own, so that killing the group leaves no orphan.
  const child = spawn(command as string, argv, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: under.length > 0 });
  const kill = (signal: NodeJS.Signals) => {
    if (under.length > 0 && child.pid !== undefined) {
      try {
        process.kill(-child.pid, signal);
        return;
      } catch {
        // the group is gone already
      }
    }
    child.kill(signal);
  };
  let output = '';
  const listeners = new Set<() => void>();
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
    for (const listener of listeners) listener();
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const exit = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  onTestFinished(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      kill('SIGCONT');
      kill('SIGKILL');
    }
    await exit;
  });
  return {
    process: child,
    output: () => output,
    exited: (timeoutMs = 20_000) =>
      new Promise<number | string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`statehub ${args.join(' ')} still runs after ${timeoutMs} ms; its output:\n${output}`)), timeoutMs);
        void exit.then((code) => {
          clearTimeout(timer);
          resolve(code);
        });
      }),
    waitFor(pattern, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = output.match(pattern);
          if (!match) return;
          done();
          resolve(match);
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`no ${pattern} within ${timeoutMs} ms in the output of statehub ${args.join(' ')}:\n${output}`));
        }, timeoutMs);
        const onExit = () => {
          check();
          done();
          reject(new Error(`statehub ${args.join(' ')} exited before printing ${pattern}:\n${output}`));
        };
        const done = () => {
          clearTimeout(timer);
          listeners.delete(check);
          child.off('exit', onExit);
        };
        listeners.add(check);
        child.once('exit', onExit);
        check();
      });
    },
  };
}

/** Starts `statehub hub --port 0` and resolves with its URL, read from its first log line. */
export async function hubProcess(extraArgs: string[] = [], env: Record<string, string> = {}): Promise<{ hub: CliProcess; url: string }> {
  const hub = statehub(['hub', '--port', '0', ...extraArgs], env);
  const [, url] = await hub.waitFor(/"url":"(http:\/\/[^"]+)"/);
  return { hub, url: url as string };
}

/** Starts `statehub worker` and resolves once it registered. */
export async function workerProcess(url: string, args: string[]): Promise<CliProcess> {
  const worker = statehub(['worker', '--hub', url, ...args]);
  await worker.waitFor(/registered with/);
  return worker;
}
