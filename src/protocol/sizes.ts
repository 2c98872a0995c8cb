/** Size limits on what travels: the hub checks them, the worker SDK keeps under them, both say so the same way. */
import type { Json } from '../../machines/json.js';
import { HubError } from './errors.js';

/** Bytes of `value`'s JSON text (UTF-8). */
export function jsonBytes(value: Json): number {
  return Buffer.byteLength(JSON.stringify(value));
}

/** "the result is 1.5 MiB (1,572,864 bytes), over the limit of 1 MiB (1,048,576 bytes)" */
export function tooLarge(what: string, bytes: number, limit: number): string {
  return `${what} is ${formatBytes(bytes)} (${bytes.toLocaleString('en')} bytes), over the limit of ${formatBytes(limit)} (${limit.toLocaleString('en')} bytes)`;
}

/**
 * Throws a 400 naming `field` when `value`'s JSON text is over `limit` bytes (`option` names the
 * setting that raises it).
 */
export function checkSize(value: Json | undefined, limit: number, field: string, option: string): void {
  if (value === undefined) return;
  const bytes = jsonBytes(value);
  if (bytes > limit) throw new HubError('bad_request', `${tooLarge(field, bytes, limit)} (${option})`, { field, bytes, limit });
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const [value, unit] = bytes < 1024 ** 2 ? [bytes / 1024, 'KiB'] : [bytes / 1024 ** 2, 'MiB'];
  return `${Number(value.toFixed(1))} ${unit}`;
}
