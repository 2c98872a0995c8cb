/**
 * The hub's actors shown in Stately's inspector (`statehub hub --inspect`).
 *
 * The hub runs no interpreted actors: it steps persisted snapshots with XState's pure
 * `transition()`, which emits no inspection events. So the relay reads the log, the one every
 * hub sees in the same order whichever hub made the change, and feeds the inspector by hand, as
 * a monitor is fed: on each connection, an `@xstate.actor` message per live actor with its
 * machine's definition and the snapshot the store holds (restored, never the machine's initial
 * one); then for every change an `@xstate.event` message (the event that caused it, the actor as
 * its target) and an `@xstate.snapshot` message (the new snapshot). An actor created later is
 * announced with its first record, whose event is `xstate.init`.
 */
import type { AnyStateMachine } from 'xstate';
import type { ActorRecord, Kind, LogEntry } from '../protocol/record.js';
import {
  createStatelyInspector,
  type InspectedActor,
  type InspectedSnapshot,
  type InspectorLog,
  type StatelyInspector,
  type StatelyInspectorOptions,
} from '../stately-inspector.js';
import type { Feed, Follower } from './feed.js';

export interface StatelyRelayOptions extends Pick<StatelyInspectorOptions, 'maxBufferedBytes' | 'retryMs'> {
  /** The inspector's ws:// or wss:// URL. */
  url: string;
  feed: Feed;
  /** The machine that makes a kind's records, whose config is the definition the inspector draws. */
  machineOf: (kind: Kind) => AnyStateMachine | undefined;
  log: InspectorLog;
  /** Where a failed catch-up (the store did not answer) is reported; it is tried again. */
  onError: (error: unknown) => void;
  /** Jobs told about at once on a connection (see `toldOnConnect`). Default 500. */
  maxJobsOnConnect?: number;
}

/** Parents are announced before their children, so an actor's chain up to its root is known. */
const KIND_ORDER: Record<Kind, number> = { machine: 0, worker: 1, connector: 2, probe: 3, webhook: 3, job: 4 };
/** connector -> worker -> machine is the longest chain; a bound in case records ever loop. */
const MAX_ANCESTORS = 4;

export class StatelyRelay {
  private readonly inspector: StatelyInspector;
  /** Live actors the inspector was told about on this connection: id -> parentId. */
  private readonly told = new Map<string, string | undefined>();
  /** Following the feed for the current connection; undefined while the inspector is away. */
  private follower: Follower | undefined;
  private retry: NodeJS.Timeout | undefined;
  private readonly stopReset: () => void;

  /** Connects to the inspector at `options.url`; throws as `inspectorUrl` does for a bad URL. */
  constructor(private readonly options: StatelyRelayOptions) {
    this.inspector = createStatelyInspector({
      url: options.url,
      log: options.log,
      onConnect: () => this.follow(),
      onDisconnect: () => this.unfollow(),
      ...(options.maxBufferedBytes === undefined ? {} : { maxBufferedBytes: options.maxBufferedBytes }),
      ...(options.retryMs === undefined ? {} : { retryMs: options.retryMs }),
    });
    // Changes were lost before this hub could hand them out: start over from a snapshot.
    this.stopReset = options.feed.onReset(() => this.inspector.connected && this.follow());
    this.inspector.connect();
  }

  /** Messages not sent (the inspector away or too slow). */
  get dropped(): number {
    return this.inspector.dropped;
  }

  close(): void {
    this.stopReset();
    this.unfollow();
    this.inspector.close();
  }

  /** Tells the inspector every live actor, then every change after that snapshot, in log order. */
  private follow(): void {
    this.unfollow();
    const current = () => this.follower === follower;
    const follower: Follower = { push: (entries) => current() && entries.forEach((entry) => this.change(entry)) };
    this.follower = follower;
    this.options.feed
      .join(
        {},
        (initial, tail) => {
          if (!current()) return;
          if (initial.type === 'snapshot') for (const record of toldOnConnect(initial.snapshot.records, this.options.maxJobsOnConnect ?? 500)) this.announce(record);
          for (const entry of tail) this.change(entry);
        },
        follower,
      )
      .then(
        // The connection was lost (or started over) while the snapshot was read.
        () => current() || this.options.feed.leave(follower),
        (error: unknown) => {
          if (!current()) return;
          this.options.onError(error);
          this.retry = setTimeout(() => current() && this.follow(), this.options.retryMs ?? 5_000);
          this.retry.unref();
        },
      );
  }

  private unfollow(): void {
    clearTimeout(this.retry);
    if (this.follower) this.options.feed.leave(this.follower);
    this.follower = undefined;
    this.told.clear();
  }

  private change(entry: LogEntry): void {
    const { record } = entry;
    if (!this.told.has(record.id)) this.announce(record);
    // Changes written before events were recorded have none: their snapshot goes alone.
    const { event } = entry;
    if (event) this.inspector.event(record.id, event);
    this.inspector.snapshot(record.id, inspected(record), event ? { event } : {});
    if (record.removed) this.told.delete(record.id);
  }

  private announce(record: ActorRecord): void {
    this.told.set(record.id, record.parentId);
    this.inspector.actor(this.actorRef(record.id, this.options.machineOf(record.kind)), inspected(record));
  }

  /**
   * The actor as `inspector.actor()` reads it. `@statelyai/inspect` (0.7.2) takes the definition
   * and the parent only from an actor object (`logic.config`, `_parent`), never from an id and
   * `info`, so the relay hands it one: the session id is the record's id, `_parent` follows the
   * records' parentIds (the top one becomes the message's rootId).
   */
  private actorRef(id: string, machine?: AnyStateMachine, depth = 0): InspectedActor & { logic?: { config: unknown } } {
    const parentId = this.told.get(id);
    return {
      sessionId: id,
      send: () => {},
      getSnapshot: () => undefined,
      ...(parentId !== undefined && depth < MAX_ANCESTORS ? { _parent: this.actorRef(parentId, undefined, depth + 1) } : {}),
      ...(machine ? { logic: { config: machine.config } } : {}),
    };
  }
}

/** The record's snapshot; an actor taken out of the live set shows as stopped, as XState shows a stopped actor. */
function inspected(record: ActorRecord): InspectedSnapshot {
  return record.removed && record.snapshot.status === 'active' ? { ...record.snapshot, status: 'stopped' } : record.snapshot;
}

/**
 * What a connection is told at once: every actor but jobs, parents first, then at most `maxJobs`
 * jobs, unfinished ones first, latest change first. The others are told when they next change:
 * a backlog of thousands of jobs would hold the hub up (each actor message carries the
 * definition) and overflow the receiver, whose Node server keeps only its last 200 messages for
 * a page that opens later.
 */
function toldOnConnect(records: readonly ActorRecord[], maxJobs: number): ActorRecord[] {
  const others = records.filter((record) => record.kind !== 'job').sort((a, b) => KIND_ORDER[a.kind] - KIND_ORDER[b.kind]);
  const jobs = records
    .filter((record) => record.kind === 'job')
    .sort((a, b) => Number(b.snapshot.status === 'active') - Number(a.snapshot.status === 'active') || b.updatedAt.localeCompare(a.updatedAt))
    .slice(0, maxJobs);
  return [...others, ...jobs];
}
