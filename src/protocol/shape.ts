/**
 * Bounded shapes: every value that comes in (HTTP bodies, socket messages, what workers report)
 * is walked once, iteratively, before anything else touches it. JSON.parse takes any depth, but
 * JSON.stringify, deep equality and the socket encoder recurse: a payload nested 5,000 levels
 * deep would be stored, then break every snapshot and stream that encodes it.
 */
import { HubError } from './errors.js';

export interface ShapeLimits {
  /** Objects and arrays inside one another. */
  maxDepth: number;
  /** Keys of one object. */
  maxKeys: number;
  /** Items of one array. */
  maxItems: number;
  /** Characters of one string (and of one key). */
  maxStringLength: number;
}

export const SHAPE_LIMITS: Readonly<ShapeLimits> = {
  maxDepth: 64,
  maxKeys: 10_000,
  maxItems: 100_000,
  maxStringLength: 10 * 1024 * 1024,
};

/** Where a value sits, kept as links to its container so the path is only spelled out on an error. */
interface Place {
  parent: Place | undefined;
  key: string | number;
  depth: number;
}

/**
 * Throws a 400 HubError naming the field (`payload.a.b[3]`, under `root`) and the limit it is
 * over; `details` is `{ field, limit, value }` with the limit's name. Never recurses.
 */
export function checkShape(value: unknown, root: string, limits: ShapeLimits = SHAPE_LIMITS): void {
  const values: unknown[] = [value];
  const places: Array<Place | undefined> = [undefined];
  while (values.length > 0) {
    const current = values.pop();
    const place = places.pop();
    const depth = place?.depth ?? 0;
    if (typeof current === 'string') {
      if (current.length > limits.maxStringLength) throw overLimit(root, place, 'maxStringLength', limits.maxStringLength, `is ${count(current.length)} characters long, over the limit of ${count(limits.maxStringLength)}`);
      continue;
    }
    if (current === null || typeof current !== 'object') continue;
    if (depth >= limits.maxDepth) throw overLimit(root, place, 'maxDepth', limits.maxDepth, `nests deeper than the limit of ${limits.maxDepth} levels`);
    if (Array.isArray(current)) {
      if (current.length > limits.maxItems) throw overLimit(root, place, 'maxItems', limits.maxItems, `has ${count(current.length)} items, over the limit of ${count(limits.maxItems)}`);
      for (let index = 0; index < current.length; index++) {
        values.push(current[index]);
        places.push({ parent: place, key: index, depth: depth + 1 });
      }
      continue;
    }
    const keys = Object.keys(current);
    if (keys.length > limits.maxKeys) throw overLimit(root, place, 'maxKeys', limits.maxKeys, `has ${count(keys.length)} keys, over the limit of ${count(limits.maxKeys)}`);
    for (const key of keys) {
      const child: Place = { parent: place, key, depth: depth + 1 };
      if (key.length > limits.maxStringLength) throw overLimit(root, child, 'maxStringLength', limits.maxStringLength, `is a key ${count(key.length)} characters long, over the limit of ${count(limits.maxStringLength)}`);
      values.push((current as Record<string, unknown>)[key]);
      places.push(child);
    }
  }
}

function overLimit(root: string, place: Place | undefined, limit: keyof ShapeLimits, bound: number, what: string): HubError {
  const field = fieldName(root, place);
  return new HubError('bad_request', `${field || 'the body'} ${what}`, { field, limit, value: bound });
}

const count = (n: number) => n.toLocaleString('en');

/** `payload.a.b[3]`, shortened in the middle past a dozen steps (a path 5,000 levels deep says nothing more). */
function fieldName(root: string, place: Place | undefined): string {
  const steps: Array<string | number> = [];
  for (let at = place; at; at = at.parent) steps.push(at.key);
  steps.reverse();
  const shown = steps.length > 12 ? [...steps.slice(0, 6), '…', ...steps.slice(-5)] : steps;
  return shown.reduce<string>((text, step) => {
    if (typeof step === 'number') return `${text}[${step}]`;
    const name = /^[A-Za-z_$][\w$]*$/.test(step) || step === '…' ? step : JSON.stringify(step);
    return text ? `${text}.${name}` : name;
  }, root);
}
