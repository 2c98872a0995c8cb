/**
 * The store as the hub uses it, every call to it timed: `statehub_store_call_duration_seconds`
 * by operation, from the call to its answer (for Redis: the round trip, its queueing in the
 * client and the reading of the answer; for the memory store: the work itself).
 */
import { Histogram, type Registry } from 'prom-client';
import type { Store } from '../store/store.js';

/** The store's calls that go to it and answer later; the others (its clock, offsets, subscriptions) are local. */
const TIMED = new Set<PropertyKey>([
  'commit',
  'get',
  'history',
  'children',
  'snapshot',
  'logStats',
  'changesSince',
  'changesStampedFrom',
  'pendingJobs',
  'leasesOf',
  'dueTimers',
  'nextDueAt',
  'ping',
] satisfies Array<keyof Store>);

/** Seconds: from a memory-store read (microseconds) to a Redis call that times out (5 s). */
const BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** `store`, its calls timed into a histogram registered in `registry`. Failed calls are timed too. */
export function timedStore(store: Store, registry: Registry): Store {
  const histogram = new Histogram({
    name: 'statehub_store_call_duration_seconds',
    help: 'Time of the hub\'s calls to its store, from the call to its answer, by operation.',
    labelNames: ['op'],
    buckets: BUCKETS,
    registers: [registry],
  });
  const methods = new Map<PropertyKey, unknown>();
  return new Proxy(store, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      let method = methods.get(property);
      if (method === undefined) {
        const bound = (value as (...args: unknown[]) => unknown).bind(target);
        const observe = TIMED.has(property) ? histogram.labels(String(property)) : undefined;
        method = observe
          ? (...args: unknown[]) => {
              const started = performance.now();
              const settled = () => observe.observe((performance.now() - started) / 1_000);
              const answer = bound(...args) as Promise<unknown>;
              answer.then(settled, settled);
              return answer;
            }
          : bound;
        methods.set(property, method);
      }
      return method;
    },
  });
}
