/** Matching job requirements against worker capabilities. */
import type { Json } from '../../machines/json.js';
import type { Requirements } from '../../machines/job.js';
import type { Capabilities } from '../../machines/worker.js';

/**
 * True when a worker offering `capabilities` may take a job needing `requirements`:
 * a number is a minimum, an array must be contained in the offered array, any other value must
 * match exactly. A requirement the worker does not offer is not met.
 */
export function meetsRequirements(capabilities: Capabilities, requirements: Requirements): boolean {
  for (const [key, wanted] of Object.entries(requirements)) {
    const offered = capabilities[key];
    if (offered === undefined) return false;
    if (typeof wanted === 'number') {
      if (typeof offered !== 'number' || offered < wanted) return false;
    } else if (Array.isArray(wanted)) {
      if (!Array.isArray(offered) || !wanted.every((item) => offered.some((have) => sameJson(have, item)))) return false;
    } else if (!sameJson(offered, wanted)) {
      return false;
    }
  }
  return true;
}

/** One canonical string per distinct requirements object, so equal requirements share a queue. */
export function requirementsKey(requirements: Requirements): string {
  return Object.keys(requirements).length === 0 ? '' : canonicalJson(requirements);
}

function sameJson(a: Json, b: Json): boolean {
  return a === b || canonicalJson(a) === canonicalJson(b);
}

function canonicalJson(value: Json): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value).sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(value[key] as Json)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
