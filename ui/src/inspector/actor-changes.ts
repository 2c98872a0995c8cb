/**
 * An actor's changes with the events that caused them, for the actor view: each actor followed
 * is a monitor of its own, filtered to that actor and asking for events. The page's monitor does
 * not ask for events, so the overview's stream stays as small as it was; this one carries one
 * actor's changes. Its first snapshot comes over the socket: over HTTP it would be the whole hub's.
 */
import type { LogEntry } from '../../../src/protocol/record.js';
import type { HubStore } from '../store.js';

/** `hub` as `createActorHistory` reads it, its `changes` carrying events. */
export function withEvents(hub: HubStore): Pick<HubStore, 'api' | 'changes'> {
  return {
    api: hub.api,
    changes(id, listener) {
      const monitor = hub.monitor({ filter: { ids: [id] }, events: true, firstSnapshot: 'socket' });
      const stop = monitor.view.subscribe((changes, reset) => {
        const entries: LogEntry[] = changes
          .filter((change) => change.record.id === id)
          .map(({ offset, record, event }) => (event === undefined ? { offset, record } : { offset, record, event }));
        if (entries.length > 0 || reset) listener(entries, reset);
      });
      return () => {
        stop();
        monitor.close();
      };
    },
  };
}
