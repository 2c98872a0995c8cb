/**
 * Machine definitions from the hub (GET /api/machines/:kind), read once per version: a version is
 * a hash of the definition, so the same version is the same chart for the page's whole life.
 */
import type { HubStore } from '../store.js';
import { readStatechart, type MachineAnswer, type Statechart } from './statechart.js';

export interface LoadedMachine {
  answer: MachineAnswer;
  chart: Statechart;
}

const byVersion = new Map<string, Promise<LoadedMachine>>();

/**
 * The definition of `kind` at `version`; without a version, the one the hub runs now. Rejects
 * with the hub's words when it does not run that version (a record from another build) or that kind.
 */
export function loadMachine(hub: Pick<HubStore, 'api'>, kind: string, version?: string): Promise<LoadedMachine> {
  const path = `/api/machines/${encodeURIComponent(kind)}`;
  if (version === undefined) return hub.api<MachineAnswer>(path).then((answer) => remember(answer));
  const key = `${kind}@${version}`;
  let loaded = byVersion.get(key);
  if (!loaded) {
    loaded = hub.api<MachineAnswer>(`${path}?version=${encodeURIComponent(version)}`).then(read);
    // Not kept when it failed: the hub may serve it later (a worker of that build connects).
    loaded.catch(() => byVersion.delete(key));
    byVersion.set(key, loaded);
  }
  return loaded;
}

/** The machines the hub runs: `GET /api/machines`. */
export async function listMachines(hub: Pick<HubStore, 'api'>): Promise<Array<{ kind: string; id: string; version: string }>> {
  return (await hub.api<{ machines: Array<{ kind: string; id: string; version: string }> }>('/api/machines')).machines;
}

function remember(answer: MachineAnswer): Promise<LoadedMachine> {
  const key = `${answer.kind}@${answer.version}`;
  const known = byVersion.get(key);
  if (known) return known;
  const loaded = Promise.resolve(read(answer));
  byVersion.set(key, loaded);
  return loaded;
}

function read(answer: MachineAnswer): LoadedMachine {
  return { answer, chart: readStatechart(answer.root, answer.version) };
}
