/** The hub's log, commit by commit, straight from its store: to assert what changed together in one atomic step. */
import { onTestFinished } from 'vitest';
import type { ActorRecord, Hub, LogEntry } from 'statehub';

export interface CommitLog {
  /** Every commit since recording started, each the list of records it wrote, in log order. */
  readonly commits: ActorRecord[][];
  /** The first commit holding a record of `id` that matches. */
  find(id: string, match: (record: ActorRecord) => boolean): ActorRecord[] | undefined;
}

export function recordCommits(hub: Hub): CommitLog {
  const commits: ActorRecord[][] = [];
  const unsubscribe = hub.store.subscribe((entries: LogEntry[]) => commits.push(entries.map((entry) => entry.record)));
  onTestFinished(() => void unsubscribe());
  return {
    commits,
    find: (id, match) => commits.find((records) => records.some((record) => record.id === id && match(record))),
  };
}
