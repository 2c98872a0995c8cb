/**
 * Runs the hub's actors (jobs, workers, machines, probes, webhooks) over the store: every change is one
 * transaction, committed atomically with compare-and-set on each actor's seq and retried from
 * fresh reads when another step got there first.
 */
import type { AnyStateMachine } from 'xstate';
import { connectorMachine } from '../../machines/connector.js';
import { jobMachine } from '../../machines/job.js';
import { hostMachine } from '../../machines/machine.js';
import { probeMachine } from '../../machines/probe.js';
import { webhookMachine } from '../../machines/webhook.js';
import { workerMachine } from '../../machines/worker.js';
import type { MachineDefinition } from '../protocol/definition.js';
import { encodeRecord } from '../protocol/encoding.js';
import { HubError } from '../protocol/errors.js';
import type { ActorRecord, Kind, LogEntry } from '../protocol/record.js';
import { ConflictError, TimerGoneError, type Store, type TimerRef } from '../store/store.js';
import { RecordCache } from './record-cache.js';
import { Stepper } from './step.js';
import { Transaction, type Effect, type TransactionEnv } from './transaction.js';

/** Runs on every transaction just before it commits: derives records from what it changed. */
export type BeforeCommit = (tx: Transaction) => Promise<void>;

const MAX_ATTEMPTS = 20;
/** Versions of worker-declared definitions kept (a fleet runs a handful of builds at once). */
const MAX_DECLARED = 32;
/** Steps made again only to be stamped later: each is cheap (no store read), but not endless. */
const MAX_RESTAMPS = 100;

/**
 * Encodes every record before it is committed (the text is kept for everyone who sends it), so a
 * record that could not be encoded is refused with nothing written, instead of breaking every
 * snapshot and stream afterwards.
 */
function encodable(records: readonly ActorRecord[]): void {
  for (const record of records) {
    try {
      encodeRecord(record);
    } catch (error) {
      throw new HubError('bad_request', `the change to ${record.kind} ${record.id} cannot be stored: ${(error as Error).message}`, { id: record.id });
    }
  }
}

export class ActorHost {
  private readonly env: TransactionEnv;
  private readonly beforeCommit: BeforeCommit[] = [];
  private readonly timerListeners = new Set<(dueAt: number) => void>();
  /** The latest time a commit of this hub was stamped with. */
  private lastSent = 0;
  /** Definitions workers declared, by version, oldest first. */
  private readonly declared = new Map<string, { kind: Kind; definition: MachineDefinition }>();

  constructor(
    readonly store: Store,
    /** Epoch ms: the store's clock, shared by every hub on it (see Store.now). */
    readonly clock: () => number = () => store.now(),
  ) {
    // A remote store's reads cost a round trip: keep the latest records here, fed by the log.
    const cache = store.kind === 'memory' ? undefined : new RecordCache();
    if (cache) store.subscribe((entries) => entries.forEach((entry) => cache.learn(entry.record)));
    this.env = {
      store,
      cache,
      steppers: {
        job: new Stepper(jobMachine),
        connector: new Stepper(connectorMachine),
        worker: new Stepper(workerMachine),
        machine: new Stepper(hostMachine),
        probe: new Stepper(probeMachine),
        webhook: new Stepper(webhookMachine),
      },
      effects: {},
    };
  }

  /**
   * The definition of the machine that makes `kind`'s records: by default the one this hub runs
   * (for connectors, the one shipped with it); with `version`, that version, if this hub runs it
   * or a worker registered here declared it.
   */
  definition(kind: Kind, version?: string): MachineDefinition | undefined {
    const own = this.env.steppers[kind]?.definition;
    if (version === undefined || own?.version === version) return own;
    const declared = this.declared.get(version);
    return declared?.kind === kind ? declared.definition : undefined;
  }

  /** A definition a worker runs (its connector machine), kept so charts of its records can be drawn; the oldest go past MAX_DECLARED. */
  declare(kind: Kind, definition: MachineDefinition): void {
    if (this.env.steppers[kind]?.definition.version === definition.version) return;
    this.declared.delete(definition.version);
    this.declared.set(definition.version, { kind, definition });
    if (this.declared.size > MAX_DECLARED) this.declared.delete(this.declared.keys().next().value as string);
  }

  /** The machine that makes `kind`'s records here, for tools that show it (the Stately inspector relay). */
  machine(kind: Kind): AnyStateMachine | undefined {
    return this.env.steppers[kind]?.machine;
  }

  /** Performs a machine's named action (`abortWork`, `workerLost`...) inside the step that produced it. */
  provideEffect(actionType: string, effect: Effect): void {
    this.env.effects[actionType] = effect;
  }

  addBeforeCommit(hook: BeforeCommit): void {
    this.beforeCommit.push(hook);
  }

  /** Calls `listener` with the due time of timers committed transactions set. */
  onTimersSet(listener: (dueAt: number) => void): () => void {
    this.timerListeners.add(listener);
    return () => this.timerListeners.delete(listener);
  }

  /**
   * Runs `work` in a transaction and commits what it staged. On a conflict the work runs again
   * from scratch, so it must read everything through `tx`. `consumeTimer` makes the commit
   * conditional on that timer still existing (and removes it).
   */
  async run<T>(work: (tx: Transaction) => Promise<T>, consumeTimer?: TimerRef): Promise<{ value: T; entries: LogEntry[] }> {
    let conflicts = 0;
    let fresh = false;
    for (let restamps = 0; ; ) {
      const tx = new Transaction(this.env, this.clock(), consumeTimer, fresh);
      const value = await work(tx);
      for (const hook of this.beforeCommit) await hook(tx);
      const args = tx.commitArgs();
      if (args.records.length === 0 && args.setTimers.length === 0 && args.clearTimers.length === 0 && consumeTimer === undefined) {
        return { value, entries: [] };
      }
      // The log never goes back in time. A step of this hub that began before another one was sent
      // is made again, stamped later, from what this hub holds (no read of the store): cheaper than
      // the store's refusal, which is kept for steps of other hubs.
      if (args.records.length > 0 && tx.now < this.lastSent && restamps++ < MAX_RESTAMPS) continue;
      encodable(args.records);
      try {
        if (args.records.length > 0) this.lastSent = Math.max(this.lastSent, tx.now);
        const entries = await this.store.commit(args);
        // This hub's next steps see its own writes before the log brings them back.
        if (this.env.cache) for (const record of args.records) this.env.cache.learn(record);
        tx.afterCommit();
        const dueAt = tx.earliestTimer();
        if (dueAt !== undefined) for (const listener of this.timerListeners) listener(dueAt);
        return { value, entries };
      } catch (error) {
        // A consumed timer that is gone stays gone: only a seq (or clock) conflict is worth another try.
        if (!(error instanceof ConflictError) || error instanceof TimerGoneError || ++conflicts >= MAX_ATTEMPTS) throw error;
        fresh = true;
      }
    }
  }
}
