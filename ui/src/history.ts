/**
 * An actor's changes as the hub keeps them (`GET /api/actors/:id/history`: its last `limit`
 * changes), kept current from the stream change by change. The history is read after the page
 * starts following the stream, and read again when the two leave a hole between them (the page
 * opened before the monitor was live, or the monitor resynced from a fresh snapshot), so the list
 * is the same whenever the page was opened.
 */
import { createEffect, createSignal, onCleanup, type Accessor } from 'solid-js';
import type { ActorRecord, LogEntry } from '../../src/protocol/record.js';
import type { HubStore } from './store.js';

export interface ActorHistory {
  /** Oldest first, one per seq, at most the hub's limit. */
  entries: Accessor<LogEntry[]>;
  /** How many changes the hub keeps per actor, once known. */
  limit: Accessor<number | undefined>;
  /** Why the history could not be read, if it could not. */
  error: Accessor<string | undefined>;
}

interface HistoryAnswer {
  entries: LogEntry[];
  limit?: number;
}

/** `hub` may be the page's store, or anything that reads the history and follows an actor's changes the same way. */
export function createActorHistory(hub: Pick<HubStore, 'api' | 'changes'>, id: Accessor<string>): ActorHistory {
  const [entries, setEntries] = createSignal<LogEntry[]>([]);
  const [limit, setLimit] = createSignal<number>();
  const [error, setError] = createSignal<string>();

  createEffect(() => {
    const actorId = id();
    const bySeq = new Map<number, LogEntry>();
    /** The newest seq the last read of the history knew: a hole after it can be filled by reading again. */
    let readUpTo = 0;
    let reading = false;
    let again = false;
    let closed = false;

    /** Shows what is held; reads the history again when a hole it can fill appeared (not after a failed read: the next change retries). */
    const publish = (fillHoles = true) => {
      const sorted = [...bySeq.values()].sort((a, b) => a.record.seq - b.record.seq);
      const kept = limit();
      setEntries(kept === undefined ? sorted : sorted.slice(-kept));
      if (fillHoles && hasHoleAfter(sorted, readUpTo)) read();
    };
    const add = (items: LogEntry[], fromHistory: boolean) => {
      for (const entry of items) {
        // The history's entry carries the change's own offset; a snapshot's record carries the snapshot's.
        if (fromHistory || !bySeq.has(entry.record.seq)) bySeq.set(entry.record.seq, entry);
      }
    };
    const read = () => {
      if (reading) {
        again = true;
        return;
      }
      reading = true;
      let ok = false;
      hub
        .api<HistoryAnswer>(`/api/actors/${encodeURIComponent(actorId)}/history`)
        .then((answer) => {
          if (closed) return;
          ok = true;
          setError(undefined);
          if (answer.limit !== undefined) setLimit(answer.limit);
          add(answer.entries, true);
          readUpTo = Math.max(readUpTo, answer.entries.at(-1)?.record.seq ?? 0);
        })
        .catch((failure: Error) => !closed && setError(failure.message))
        .finally(() => {
          reading = false;
          if (closed) return;
          if (again && ok) {
            again = false;
            read();
          } else {
            publish(ok);
          }
        });
    };

    setEntries([]);
    // Follow first, then read: a change made meanwhile is in one or the other.
    const stop = hub.changes(actorId, (items) => {
      add(items, false);
      publish();
    });
    read();
    onCleanup(() => {
      closed = true;
      stop();
    });
  });

  return { entries, limit, error };
}

/** The later of two records of one actor (by seq): what a page shows of it. */
export function newestRecord(a: ActorRecord | undefined, b: ActorRecord | undefined): ActorRecord | undefined {
  if (!a || !b) return a ?? b;
  return a.seq >= b.seq ? a : b;
}

/** True when some seq after `after` is missing between the entries held. */
function hasHoleAfter(sorted: LogEntry[], after: number): boolean {
  for (let index = 1; index < sorted.length; index++) {
    const seq = (sorted[index] as LogEntry).record.seq;
    if (seq > after + 1 && seq !== (sorted[index - 1] as LogEntry).record.seq + 1) return true;
  }
  return false;
}
