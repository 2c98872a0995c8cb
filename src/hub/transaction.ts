/**
 * One atomic step of the hub: load records, feed events through the machines, stage the new
 * records and timers, then commit them all at once (or retry from fresh reads on a conflict).
 */
import { isDeepStrictEqual } from 'node:util';
import type { EventObject } from 'xstate';
import { NEVER } from '../../machines/json.js';
import { INIT_EVENT, REMOVE_EVENT, recordedEvent } from '../protocol/change-event.js';
import { stateSince, topState, type ActorRecord, type ChangeEvent, type Kind, type PersistedSnapshot } from '../protocol/record.js';
import { HubError } from '../protocol/errors.js';
import { UnreadableRecordError } from '../store/record-text.js';
import type { Store, Timer, TimerRef } from '../store/store.js';
import type { RecordCache } from './record-cache.js';
import type { Stepper, StepAction } from './step.js';

/** Performs a named action of a machine inside the transaction that produced it. */
export type Effect = (tx: Transaction, params: Record<string, unknown> | undefined, record: ActorRecord) => Promise<void> | void;

export interface TransactionEnv {
  store: Store;
  /** Records held in this process, for stores a read costs a round trip to. */
  cache: RecordCache | undefined;
  steppers: Partial<Record<Kind, Stepper>>;
  effects: Record<string, Effect>;
}

export class Transaction {
  /** Every record staged, in order; an actor changed twice appears twice. */
  readonly records: ActorRecord[] = [];
  /** The event that caused each of `records`, at the same index (undefined: not known). */
  readonly events: Array<ChangeEvent | undefined> = [];
  /** Each touched actor's record before this transaction (undefined: it did not exist). */
  readonly before = new Map<string, ActorRecord | undefined>();
  private readonly latest = new Map<string, ActorRecord>();
  private readonly setTimers = new Map<string, Timer>();
  private readonly clearTimers = new Set<string>();
  private readonly committed: Array<() => void> = [];
  readonly updatedAt: string;

  constructor(
    private readonly env: TransactionEnv,
    readonly now: number,
    readonly consumeTimer?: TimerRef,
    /** Read the store itself, not the cache: this transaction is a retry after a conflict. */
    private readonly fresh = false,
  ) {
    this.updatedAt = new Date(now).toISOString();
  }

  get store(): Store {
    return this.env.store;
  }

  /** The actor's record as this transaction sees it: staged, else stored. */
  async get(id: string): Promise<ActorRecord | undefined> {
    const staged = this.latest.get(id);
    if (staged) return staged;
    const { cache } = this.env;
    const cached = this.fresh ? undefined : cache?.get(id);
    if (cached) return cached;
    const stored = await this.env.store.get(id).catch((error: unknown) => {
      // Only the steps that touch that actor fail, each with this answer.
      throw error instanceof UnreadableRecordError ? new HubError('internal', error.message, { id }) : error;
    });
    if (stored) cache?.learn(stored);
    return stored;
  }

  /** Feeds `event` to a live actor; returns its record afterwards (unchanged if the event did nothing), or undefined for an unknown or removed actor. */
  async send<E extends EventObject>(id: string, event: E): Promise<ActorRecord | undefined> {
    const record = await this.get(id);
    if (!record || record.removed) return undefined;
    const stepped = this.stepper(record.kind).next(record.snapshot, event);
    const changed = hasChanged(record.snapshot, stepped.snapshot);
    const version = this.stepper(record.kind).definition.version;
    const next = changed
      ? this.stage(this.next(record, { ...record, state: topState(stepped.snapshot.value), snapshot: stepped.snapshot, version }), record, recordedEvent(event))
      : record;
    await this.perform(id, stepped.actions, next);
    return next;
  }

  /** Starts a new actor of `kind` from its machine's initial state; an id that was `removed` before goes on from its seq. */
  async create(kind: Kind, id: string, input: unknown, parentId?: string, removed?: ActorRecord): Promise<ActorRecord> {
    const stepper = this.stepper(kind);
    const stepped = stepper.initial(input);
    const record = this.stage(
      this.next(removed, {
        id,
        kind,
        ...(parentId === undefined ? {} : { parentId }),
        state: topState(stepped.snapshot.value),
        snapshot: stepped.snapshot,
        version: stepper.definition.version,
      }),
      removed,
      INIT_EVENT,
    );
    await this.perform(id, stepped.actions, record);
    return record;
  }

  /**
   * Records a snapshot computed elsewhere (a connector's, reported by its worker) as the actor's
   * next record; `event` caused it and `version` is the definition the reporter ran (absent: not
   * said, e.g. by an older worker).
   */
  async put(
    kind: Kind,
    id: string,
    parentId: string | undefined,
    snapshot: PersistedSnapshot,
    event?: ChangeEvent,
    version?: string,
  ): Promise<ActorRecord> {
    const previous = await this.get(id);
    return this.stage(
      this.next(previous, {
        id,
        kind,
        ...(parentId === undefined ? {} : { parentId }),
        state: topState(snapshot.value),
        snapshot,
        ...(version === undefined ? {} : { version }),
      }),
      previous,
      event && recordedEvent(event),
    );
  }

  /** Takes a live actor out of the live set; it stays readable by id for the store's retention. */
  remove(record: ActorRecord): ActorRecord {
    return this.stage({ ...this.next(record, record), removed: true }, record, REMOVE_EVENT);
  }

  /** Runs `fn` once the transaction committed (never if it did not). */
  onCommit(fn: () => void): void {
    this.committed.push(fn);
  }

  /** Records staged for actors of `kind`: each actor once, with its latest record. */
  changed(kind: Kind): ActorRecord[] {
    return [...this.latest.values()].filter((record) => record.kind === kind);
  }

  commitArgs() {
    return {
      records: this.records,
      events: this.events,
      setTimers: [...this.setTimers.values()],
      clearTimers: [...this.clearTimers],
      ...(this.consumeTimer === undefined ? {} : { consumeTimer: this.consumeTimer }),
      at: this.now,
    };
  }

  /** When the earliest timer this transaction set is due. */
  earliestTimer(): number | undefined {
    let earliest: number | undefined;
    for (const timer of this.setTimers.values()) if (earliest === undefined || timer.dueAt < earliest) earliest = timer.dueAt;
    return earliest;
  }

  afterCommit(): void {
    for (const fn of this.committed) fn();
  }

  /**
   * The record following `previous` (undefined: none, or a removed one when `change` brings the
   * actor back): the next seq, this commit's time, and the moment its current state was entered,
   * which moves only when the top-level state does.
   */
  private next(previous: ActorRecord | undefined, change: Omit<ActorRecord, 'seq' | 'updatedAt' | 'stateSince' | 'removed'>): ActorRecord {
    const { removed: _removed, version: _version, ...rest } = change as ActorRecord;
    // A record says which definition made it; a change that does not say (a removal) keeps the last one's.
    const version = change.version ?? previous?.version;
    const stays = previous !== undefined && !previous.removed && previous.state === change.state;
    return {
      ...rest,
      seq: (previous?.seq ?? 0) + 1,
      updatedAt: this.updatedAt,
      stateSince: stays ? stateSince(previous) : this.updatedAt,
      ...(version === undefined ? {} : { version }),
    };
  }

  private stage(record: ActorRecord, previous: ActorRecord | undefined, event: ChangeEvent | undefined): ActorRecord {
    if (!this.before.has(record.id)) this.before.set(record.id, previous);
    this.latest.set(record.id, record);
    this.records.push(record);
    this.events.push(event);
    return record;
  }

  private stepper(kind: Kind): Stepper {
    const stepper = this.env.steppers[kind];
    if (!stepper) throw new Error(`no machine runs actors of kind ${kind} in the hub`);
    return stepper;
  }

  private async perform(actorId: string, actions: StepAction[], record: ActorRecord): Promise<void> {
    for (const action of actions) {
      if (action.type === 'xstate.raise' && action.params?.delay !== undefined) {
        this.schedule(actorId, action.params);
      } else if (action.type === 'xstate.cancel') {
        const key = timerKey(actorId, String(action.params?.sendId));
        this.setTimers.delete(key);
        this.clearTimers.add(key);
      } else {
        await this.env.effects[action.type]?.(this, action.params, record);
      }
    }
  }

  private schedule(actorId: string, params: Record<string, unknown>): void {
    const delay = Number(params.delay);
    const key = timerKey(actorId, String(params.id));
    if (!(delay < NEVER)) return;
    this.clearTimers.delete(key);
    this.setTimers.set(key, { key, actorId, dueAt: this.now + delay, event: params.event as Timer['event'] });
  }
}

export function timerKey(actorId: string, sendId: string): string {
  return `${actorId}|${sendId}`;
}

function hasChanged(before: PersistedSnapshot, after: PersistedSnapshot): boolean {
  return (
    before.status !== after.status ||
    !isDeepStrictEqual(before.value, after.value) ||
    (before.context !== after.context && !isDeepStrictEqual(before.context, after.context))
  );
}
