/** The command line's logger: readable lines on a terminal, JSON lines (pino's) when piped or asked for. */
import pino, { type Logger } from 'pino';
import pinoPretty from 'pino-pretty';

export const LOG_FORMATS = ['pretty', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** `format` as chosen (`--log-format`), else pretty when stdout is a terminal. */
export function commandLogger(format: LogFormat | undefined): Logger {
  const pretty = format === undefined ? process.stdout.isTTY === true : format === 'pretty';
  if (!pretty) return pino({ name: 'statehub' });
  return pino({ name: 'statehub' }, pinoPretty({ colorize: process.stdout.isTTY === true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,name', singleLine: true }));
}
