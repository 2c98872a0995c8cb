/**
 * A machine (kind `machine`): a host running workers. The hub derives it from its workers:
 *
 *   starting ──a worker online──> ready ──no worker online──> offline ──a worker online──> ready
 *
 * An offline machine stays in the snapshot, so a monitor shows it greyed instead of losing it.
 */
import { assign, setup } from 'xstate';

export interface HostInput {
  id: string;
}

export interface HostContext {
  id: string;
  /** Workers of this machine that are online (ready, busy or draining). */
  onlineWorkers: number;
  /** Workers that ever registered from this machine and have not been removed. */
  workers: number;
}

export type HostEvent = { type: 'WORKERS'; online: number; total: number };

export const hostMachine = setup({
  types: {
    context: {} as HostContext,
    events: {} as HostEvent,
    input: {} as HostInput,
  },
  guards: {
    anyOnline: ({ event }) => event.online > 0,
  },
  actions: {
    count: assign({ onlineWorkers: ({ event }) => event.online, workers: ({ event }) => event.total }),
  },
}).createMachine({
  id: 'machine',
  context: ({ input }) => ({ id: input.id, onlineWorkers: 0, workers: 0 }),
  initial: 'starting',
  states: {
    starting: {
      on: { WORKERS: [{ guard: 'anyOnline', target: 'ready', actions: 'count' }, { actions: 'count' }] },
    },
    ready: {
      on: { WORKERS: [{ guard: 'anyOnline', actions: 'count' }, { target: 'offline', actions: 'count' }] },
    },
    offline: {
      on: { WORKERS: [{ guard: 'anyOnline', target: 'ready', actions: 'count' }, { actions: 'count' }] },
    },
  },
});

export type HostMachine = typeof hostMachine;
