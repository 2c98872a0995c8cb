/**
 * The `type` label of job and connector metrics. Clients choose job types freely, and every
 * label value is a series the hub keeps (and Prometheus stores) for good: past a bound, further
 * types share one value, so no client can grow them without end.
 */

/** Distinct types with a label value of their own, per hub. */
export const MAX_TYPE_LABELS = 200;
/** The label value of every type past the bound. */
export const OTHER_TYPES = '_other';

/** Returns the label for a type: its own name for the first MAX_TYPE_LABELS types seen, `_other` after. */
export function typeLabels(): (type: string) => string {
  const known = new Set<string>();
  return (type) => {
    if (known.has(type)) return type;
    if (known.size >= MAX_TYPE_LABELS) return OTHER_TYPES;
    known.add(type);
    return type;
  };
}
