/**
 * What `GET /api/machines/:kind/recent` must answer, worked out from the actors' histories
 * (`GET /api/actors/:id/history`) independently of the hub's counting: each change as (version,
 * previous state value, new value, event type) in the whole second it was stamped, the first
 * record and the first after a removal from null, removals not counted.
 */
import { expect } from 'vitest';
import type { RecentAnswer } from '../../src/protocol/recent.js';
import type { ActorRecord, ChangeEvent } from '../../src/protocol/record.js';
import { api } from './hub.js';

interface HistoryEntry {
  offset: string;
  record: ActorRecord;
  event?: ChangeEvent;
}

/** Second (ISO) -> transition as JSON -> count. */
export type Tally = Map<string, Map<string, number>>;

/**
 * The tally of the changes of `ids` up to `offset` (ordered by `compare`, the store's), stamped
 * from the second 60 s before `now` on. Each actor's history must hold its whole life.
 */
export async function expectedTally(hubUrl: string, ids: Iterable<string>, answer: Pick<RecentAnswer, 'offset' | 'now'>, compare: (a: string, b: string) => number): Promise<Tally> {
  const tally: Tally = new Map();
  const first = Math.floor(answer.now / 1_000) - 60;
  for (const id of ids) {
    const { body } = await api<{ entries: HistoryEntry[] }>(hubUrl, 'GET', `/api/actors/${encodeURIComponent(id)}/history`);
    expect(body.entries[0]?.record.seq, `${id}'s history from its first record`).toBe(1);
    let previous: ActorRecord | undefined;
    for (const { offset, record, event } of body.entries) {
      if (compare(offset, answer.offset) > 0) break;
      const second = Math.floor(Date.parse(record.updatedAt) / 1_000);
      if (!record.removed && second >= first) {
        const from = previous && previous.version === record.version ? previous.snapshot.value : null;
        add(tally, new Date(second * 1_000).toISOString(), JSON.stringify({ version: record.version ?? null, from, to: record.snapshot.value, event: event?.type ?? null }), 1);
      }
      previous = record.removed ? undefined : record;
    }
  }
  return tally;
}

/** An answer as a tally, to compare with `expectedTally`. */
export function tallyOf(answer: Pick<RecentAnswer, 'buckets'>): Tally {
  const tally: Tally = new Map();
  for (const { at, transitions } of answer.buckets) {
    for (const { count, version, from, to, event } of transitions) add(tally, at, JSON.stringify({ version, from, to, event }), count);
  }
  return tally;
}

function add(tally: Tally, at: string, key: string, count: number): void {
  let counts = tally.get(at);
  if (!counts) tally.set(at, (counts = new Map()));
  counts.set(key, (counts.get(key) ?? 0) + count);
}
