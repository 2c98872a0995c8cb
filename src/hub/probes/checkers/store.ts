/** The hub's own store: its ping (PING for Redis; the memory store always answers). */
import type { Store } from '../../../store/store.js';
import type { Checker } from './checker.js';

export function storeChecker(store: Store): Checker {
  return {
    async check() {
      await store.ping();
      return `the ${store.kind} store answered`;
    },
    async reset() {},
  };
}
