/** The machines' definitions as the hub serves them, read into statecharts for the inspector's tests; elkjs on this thread. */
import type { ELK } from 'elkjs/lib/elk-api.js';
import { connectorMachine, hostMachine, jobMachine, workerMachine } from '../../machines/index.js';
import { describeMachine } from '../../src/protocol/definition.js';
import type { ActorRecord, Kind } from '../../src/protocol/record.js';
import { readStatechart, type Statechart } from '../../ui/src/inspector/statechart.js';

const machines = { job: jobMachine, connector: connectorMachine, worker: workerMachine, machine: hostMachine } as const;

export function statechartOf(kind: keyof typeof machines): Statechart {
  const definition = describeMachine(machines[kind]);
  return readStatechart(definition.root, definition.version);
}

/** elkjs as the pages' worker runs it, here on this thread. */
export async function bundledElk(): Promise<ELK> {
  // CommonJS: Node hands its module.exports (the constructor) over as `default`, which its typings
  // declare only to bundler resolution.
  const loaded: unknown = await import('elkjs/lib/elk.bundled.js');
  return new (loaded as { default: new () => ELK }).default();
}

/** A record with just what the inspector reads. */
export function recordOf(kind: Kind, id: string, seq: number, value: ActorRecord['snapshot']['value'], extra: Partial<ActorRecord> = {}): ActorRecord {
  return {
    id,
    kind,
    seq,
    state: typeof value === 'string' ? value : (Object.keys(value)[0] ?? ''),
    snapshot: { status: 'active', value, context: {}, children: {} },
    updatedAt: new Date(Date.UTC(2026, 10, 30, 12, 0, seq)).toISOString(),
    ...extra,
  };
}
