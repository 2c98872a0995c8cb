/**
 * The command line's logger: readable lines on a terminal, JSON lines (pino's) when piped or
 * asked for, from `--log-level` up. Every error is one line either way: in JSON with its type,
 * message, code and stack; in readable lines with its type, message, code and where it was thrown.
 */
import pino, { type Logger } from 'pino';
import pinoPretty from 'pino-pretty';
import type { WorkerLogFields } from './worker/worker.js';

export const LOG_FORMATS = ['pretty', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * `format` as chosen (`--log-format`), else pretty when stdout is a terminal; lines below `level`
 * (default info) are left out. Lines go to `destination` (default stdout).
 */
export function commandLogger(format: LogFormat | undefined, level: LogLevel = 'info', destination?: NodeJS.WritableStream): Logger {
  const terminal = ((destination ?? process.stdout) as { isTTY?: boolean }).isTTY === true;
  const pretty = format === undefined ? terminal : format === 'pretty';
  if (!pretty) return destination ? pino({ name: 'statehub', level }, destination) : pino({ name: 'statehub', level });
  return pino(
    { name: 'statehub', level },
    pinoPretty({
      ...(destination ? { destination } : {}),
      colorize: terminal,
      translateTime: 'SYS:HH:MM:ss.l',
      // pino-pretty prints an `err` over several lines: it goes on the message's line instead.
      ignore: 'pid,hostname,name,err',
      messageFormat: (log, messageKey) => `${String(log[messageKey])}${describeError(log.err)}`,
      singleLine: true,
    }),
  );
}

/** `: Error: message [code] (at where)` for a logged error (hub.ts `loggedError`), or '' when there is none. */
function describeError(err: unknown): string {
  if (err === null || typeof err !== 'object') return '';
  const { type, message, code, stack } = err as { type?: unknown; message?: unknown; code?: unknown; stack?: unknown };
  const where = typeof stack === 'string' ? /\n\s+at (.+)/.exec(stack)?.[1] : undefined;
  return `: ${String(type ?? 'Error')}: ${String(message ?? '')}${code === undefined ? '' : ` [${String(code)}]`}${where ? ` (at ${where})` : ''}`;
}

/** A worker's lines (WorkerOptions.log) to `logger`, at their level, with the actors' ids as fields. */
export function workerLog(logger: Logger): (message: string, fields: WorkerLogFields) => void {
  return (message, { level, ...ids }) => logger[level](ids, message);
}
