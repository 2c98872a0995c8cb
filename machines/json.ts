/** Plain JSON: what actor context may hold, so every snapshot survives the store and the wire. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * The longest delay a timer can express (2^31 - 1 ms, about 24.8 days). A delay this long
 * means "never": the hub stores no timer for it, and an interpreted actor's setTimeout
 * accepts it without overflowing.
 */
export const NEVER = 2_147_483_647;

/** A failure as actors record it: a message, nothing that cannot be serialized. */
export interface ErrorInfo {
  message: string;
  /** A short machine-readable reason, when the failure has one (`auth`, `bad_input`, `ECONNREFUSED`...). */
  code?: string;
}

/** The longest `ErrorInfo.code` kept (characters). */
export const MAX_ERROR_CODE = 100;

/** The longest error message kept (characters): a service's whole HTML error page must not become every monitor's traffic. */
export const MAX_ERROR_MESSAGE = 10_000;

export function toErrorInfo(error: unknown): ErrorInfo {
  const code = codeOf(error);
  return code === undefined ? { message: boundMessage(messageOf(error)) } : { message: boundMessage(messageOf(error)), code };
}

function codeOf(error: unknown): string | undefined {
  const code = error && typeof error === 'object' ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'string' && code.length > 0 && code.length <= MAX_ERROR_CODE ? code : undefined;
}

function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  if (typeof error === 'string') return error;
  if (error && typeof error === 'object' && typeof (error as { message?: unknown }).message === 'string') return (error as { message: string }).message;
  return String(error);
}

/** `message`, cut to MAX_ERROR_MESSAGE characters with a note saying how much was left out. */
export function boundMessage(message: string): string {
  if (message.length <= MAX_ERROR_MESSAGE) return message;
  // The note takes under 64 characters, so the whole stays within the bound.
  const kept = MAX_ERROR_MESSAGE - 64;
  return `${message.slice(0, kept)} … (${message.length - kept} more characters)`;
}
