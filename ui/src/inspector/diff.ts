/**
 * What changed between two JSON values (a context before and after one change): one line per
 * leaf that was added, removed or changed, with its path. Objects and arrays are compared member
 * by member, so `progress: 20 -> 30` reads as that, not as "the context changed".
 */

export interface Difference {
  /** Keys and indexes from the top: `['error', 'message']`, `['items', 2]`. */
  path: Array<string | number>;
  change: 'added' | 'removed' | 'changed';
  before?: unknown;
  after?: unknown;
}

export function diffJson(before: unknown, after: unknown): Difference[] {
  const differences: Difference[] = [];
  const walk = (a: unknown, b: unknown, path: Array<string | number>) => {
    if (Object.is(a, b)) return;
    if (Array.isArray(a) && Array.isArray(b)) {
      for (let index = 0; index < Math.max(a.length, b.length); index++) {
        if (index >= b.length) differences.push({ path: [...path, index], change: 'removed', before: a[index] });
        else if (index >= a.length) differences.push({ path: [...path, index], change: 'added', after: b[index] });
        else walk(a[index], b[index], [...path, index]);
      }
      return;
    }
    if (isRecord(a) && isRecord(b)) {
      for (const key of Object.keys(a)) {
        if (!(key in b)) differences.push({ path: [...path, key], change: 'removed', before: a[key] });
        else walk(a[key], b[key], [...path, key]);
      }
      for (const key of Object.keys(b)) if (!(key in a)) differences.push({ path: [...path, key], change: 'added', after: b[key] });
      return;
    }
    differences.push({ path, change: 'changed', before: a, after: b });
  };
  walk(before, after, []);
  return differences;
}

/** `error.message`, `items[2]`, `["odd key"]`; `(the whole value)` for the top. */
export function pathText(path: ReadonlyArray<string | number>): string {
  if (path.length === 0) return '(the whole value)';
  return path
    .map((part, index) => {
      if (typeof part === 'number') return `[${part}]`;
      if (/^[A-Za-z_$][\w$]*$/.test(part)) return index === 0 ? part : `.${part}`;
      return `[${JSON.stringify(part)}]`;
    })
    .join('');
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
