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
}

export function toErrorInfo(error: unknown): ErrorInfo {
  if (error instanceof Error) return { message: error.message || error.name };
  if (typeof error === 'string') return { message: error };
  if (error && typeof error === 'object' && typeof (error as { message?: unknown }).message === 'string') {
    return { message: (error as { message: string }).message };
  }
  return { message: String(error) };
}
