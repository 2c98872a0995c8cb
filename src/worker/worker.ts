/**
 * The worker SDK: a process's connectors as XState actors, connected to a hub. It registers,
 * heartbeats, streams every connector snapshot, runs what the hub assigns and reports how it
 * went. It reconnects by itself and resumes its session, to the same hub or another one: its
 * running jobs go on and outcomes finished meanwhile are delivered. Only when the hub opened a
 * new session (the worker was away longer than the heartbeat window) is the old work aborted:
 * the hub has already given those jobs to someone else.
 */
import { hostname } from 'node:os';
import { createActor, type EventObject } from 'xstate';
import { io, type Socket } from 'socket.io-client';
import type { Json, ErrorInfo } from '../../machines/json.js';
import type { Capabilities } from '../../machines/worker.js';
import { connectorMachine } from '../../machines/connector.js';
import { recordedEvent } from '../protocol/change-event.js';
import { describeMachine } from '../protocol/definition.js';
import type { PersistedSnapshot } from '../protocol/record.js';
import { MAX_PROGRESS_MESSAGE, type Abort, type Assignment, type HeartbeatAck, type RegisterAck, type WorkerLimits } from '../protocol/worker.js';
import { HubError } from '../protocol/errors.js';
import { checkShape } from '../protocol/shape.js';
import { tooLarge } from '../protocol/sizes.js';
import { redact } from '../redact.js';
import { createStatelyInspector } from '../stately-inspector.js';
import { connectorLogic, type ConnectorActor, type ConnectorImplementation, type JobRun } from './connector.js';

/** The connector machine as this worker runs it (implementations are provided, the definition is not changed): its version goes with every snapshot. */
const CONNECTOR_MACHINE = describeMachine(connectorMachine);
const CONNECTOR_VERSION = CONNECTOR_MACHINE.version;

export interface WorkerOptions {
  /** The hub's URL, e.g. http://127.0.0.1:3000. */
  hub: string;
  /** Default `<machineId>-<pid>`. */
  id?: string;
  /** Default: this host's name. */
  machineId?: string;
  /** Needed when the hub runs with tokens (role worker or admin). */
  token?: string;
  /** Matched against job requirements. */
  capabilities?: Capabilities;
  connectors: ConnectorImplementation[];
  /** Shortest gap between two progress reports of one job: a bar moving four times a second reads as live, and each report is a record every monitor receives. Default 250 ms. */
  progressIntervalMs?: number;
  /**
   * Where the worker says what happens, a line at a time, with its level and the actors it is
   * about (`statehub worker` hands them to its pino logger). Default: nothing.
   */
  log?: (message: string, fields: WorkerLogFields) => void;
  /**
   * A ws:// or wss:// URL: the connector actors (and the actors they invoke) report to Stately's
   * inspector there, as XState actors do, with session ids scoped by this worker's id. An
   * inspector that is away or slow never holds the worker up. Default: off.
   */
  inspect?: string;
}

export type WorkerLogLevel = 'debug' | 'info' | 'warn' | 'error';

/** What comes with each line: its level, and the ids of the actors it is about. */
export interface WorkerLogFields {
  level: WorkerLogLevel;
  workerId: string;
  connectorId?: string;
  jobId?: string;
}

export interface Worker {
  readonly id: string;
  readonly machineId: string;
  /** The connector actors, by id: subscribe to them, or send them events in tests. */
  readonly connectors: ReadonlyMap<string, ConnectorActor>;
  /** Resolves once registered with the hub; rejects when the hub refuses the worker. */
  ready(): Promise<void>;
  /** Takes no new jobs, finishes the running ones, then stops. */
  drain(): Promise<void>;
  /** Stops every connector and disconnects. Running jobs are aborted (the hub retries them). */
  stop(): Promise<void>;
}

interface Running {
  job: JobRun;
  connectorId: string;
}

export function createWorker(options: WorkerOptions): Worker {
  const machineId = options.machineId ?? hostname();
  const id = options.id ?? `${machineId}-${process.pid}`;
  /** The hub's URL as lines show it. */
  const hubName = redact(options.hub).replace(/\/$/, '');
  const output = options.log ?? (() => {});
  const log = (level: WorkerLogLevel, message: string, about: Pick<WorkerLogFields, 'connectorId' | 'jobId'> = {}) => output(message, { level, workerId: id, ...about });
  const progressIntervalMs = options.progressIntervalMs ?? 250;
  /** Jobs its connectors run now. */
  const running = new Map<string, Running>();
  /** Jobs finished here whose outcome the hub has not taken yet: the worker still holds them. */
  const outcomes = new Map<string, Outcome>();
  const connectors = new Map<string, ConnectorActor>();
  // Each connection starts blank: it is told every connector as it is now.
  const inspector =
    options.inspect === undefined
      ? undefined
      : createStatelyInspector({ url: options.inspect, log: { info: (message) => log('info', message), warn: (message) => log('warn', message) }, sessionScope: id, onConnect: () => connectors.forEach((actor) => inspector?.live(actor)) });
  const types = new Map<string, string>();
  const lastSent = new Map<string, PersistedSnapshot>();
  /** The event that made each connector's current snapshot: recorded with it by the hub. */
  const causes = new Map<string, EventObject>();
  /** The hub's session for this process: it outlives connections, so a reconnection resumes it. */
  let session: string | undefined;
  /** Registered on the current connection: reports may go out. */
  let registered = false;
  let limits: WorkerLimits = DEFAULT_LIMITS;
  let heartbeat: NodeJS.Timeout | undefined;
  let draining = false;
  let stopped = false;
  let connectorsStarted = false;

  const socket: Socket = io(new URL('/worker', options.hub).href, {
    transports: ['websocket'],
    // Its own connection, not multiplexed with a monitor's: its lifetime is the session's.
    forceNew: true,
    auth: { token: options.token },
    // Back quickly after a cut, well inside the heartbeat window that keeps its leases.
    reconnectionDelay: 200,
    reconnectionDelayMax: 500,
    autoConnect: false,
  });

  /**
   * Reports leave together, one `reports` message per turn of the event loop, answered by one
   * ack: a busy worker sends (and the hub commits) a batch, not a message per report. Only while
   * registered on a live connection; what matters across a reconnection (outcomes, starts,
   * connector snapshots) is sent again once it resumes.
   */
  let outbox: Outgoing[] = [];
  const send = (event: string, payload: unknown, onAnswer?: (answer: Answer | undefined) => void, bytes?: number) => {
    if (!registered || !socket.connected) return;
    outbox.push({ event, payload, onAnswer, bytes: bytes ?? Buffer.byteLength(JSON.stringify(payload)) });
    if (outbox.length === 1) setImmediate(flush);
  };
  /** Sends the outbox in messages the hub's socket accepts (it closes the connection on a bigger one). */
  function flush(): void {
    const items = outbox;
    outbox = [];
    if (items.length === 0 || !registered || !socket.connected) return;
    for (const message of splitBySize(items, limits.maxMessageBytes - MESSAGE_OVERHEAD)) {
      socket.timeout(10_000).emit('reports', message.map((item) => [item.event, item.payload]), (timedOut: Error | null, answers?: Answer[]) => {
        message.forEach((item, index) => item.onAnswer?.(timedOut ? undefined : answers?.[index]));
      });
    }
  }

  /**
   * Sends a job's outcome until the hub has taken it, or says the job is no longer this worker's.
   * A hub whose store is briefly away answers `unavailable` (or `rate_limited` when the worker
   * sends too much), a cut connection answers nothing: the outcome is kept and sent again, later
   * and later (a resumed session sends every outcome still kept).
   */
  function deliver(jobId: string, delayMs = 250): void {
    const outcome = outcomes.get(jobId);
    if (!outcome) return;
    const sent = ++outcome.sends;
    send(
      outcome.event,
      outcome.payload,
      (answer) => {
        if (outcomes.get(jobId) !== outcome || outcome.sends !== sent) return;
        if (answer?.ok) {
          outcomes.delete(jobId);
          return;
        }
        if (answer === undefined || answer.error?.code === 'unavailable' || answer.error?.code === 'rate_limited') {
          if (registered && !stopped) setTimeout(() => outcome.sends === sent && deliver(jobId, Math.min(delayMs * 2, 5_000)), delayMs);
          return;
        }
        outcomes.delete(jobId);
        log('warn', `hub did not take ${outcome.event} of ${jobId}: ${describe(answer)}`, { jobId, connectorId: outcome.connectorId });
      },
      outcome.bytes,
    );
  }

  const progress = coalesce(progressIntervalMs, (jobId: string, { attempt, percent, message }: { attempt: number; percent: number; message?: string }) =>
    send('job:progress', { jobId, attempt, progress: percent, ...(message === undefined ? {} : { message }) }),
  );

  /** The job ended here: its outcome is kept until the hub takes it. */
  function finish(jobId: string, outcome: (job: JobRun) => Report): void {
    const held = running.get(jobId);
    if (!held) return;
    progress.flush(jobId);
    running.delete(jobId);
    outcomes.set(jobId, { ...outcome(held.job), connectorId: held.connectorId, sends: 0 });
    deliver(jobId);
  }

  const reports = {
    job: (jobId: string) => running.get(jobId)?.job,
    progress: (jobId: string, percent: number, message?: string) => {
      const held = running.get(jobId);
      if (held) progress.push(jobId, { attempt: held.job.attempt, percent, ...(message === undefined ? {} : { message: boundProgressMessage(message) }) });
    },
    done: (jobId: string, result: Json) => finish(jobId, (job) => resultOutcome(job, result, limits.maxResultBytes)),
    failed: (jobId: string, error: ErrorInfo, permanent: boolean) => {
      const held = running.get(jobId);
      if (held) log('warn', `job ${jobId} failed its attempt ${held.job.attempt}${permanent ? ' for good' : ''}${reason(error)}`, { jobId, connectorId: held.connectorId });
      finish(jobId, (job) => jobReport('job:failed', { jobId, attempt: job.attempt, error, ...(permanent ? { retryable: false } : {}) }));
    },
  };

  const counters = new Map<string, number>();
  for (const implementation of options.connectors) {
    const n = (counters.get(implementation.type) ?? 0) + 1;
    counters.set(implementation.type, n);
    const connectorId = implementation.id ?? `${id}/${implementation.type}-${n}`;
    if (connectors.has(connectorId)) throw new Error(`connector id ${connectorId} is used twice`);
    const actor: ConnectorActor = createActor(connectorLogic(implementation, reports), {
      id: connectorId,
      input: {
        id: connectorId,
        type: implementation.type,
        healthIntervalMs: implementation.healthIntervalMs ?? null,
        ...(implementation.restartDelayMs === undefined ? {} : { restartDelayMs: implementation.restartDelayMs }),
      },
      // Snapshots are reported from here, where XState says which event made each one.
      inspect: (inspection) => {
        // Every actor of the connector's system (it and what it invokes) passes here.
        inspector?.inspect.next?.(inspection);
        if (inspection.type !== '@xstate.snapshot' || inspection.actorRef !== actor) return;
        causes.set(connectorId, inspection.event);
        noteError(connectorId, actor.getSnapshot());
        reportConnector(connectorId);
      },
    });
    connectors.set(connectorId, actor);
    types.set(connectorId, implementation.type);
    actor.subscribe({ error: (error) => log('error', `connector ${connectorId} crashed: ${(error as Error).message}`, { connectorId }) });
  }

  /** Connectors in `error` now: each time one enters it is one line. */
  const inError = new Set<string>();
  function noteError(connectorId: string, snapshot: ReturnType<ConnectorActor['getSnapshot']>): void {
    if (!snapshot.matches('error')) {
      inError.delete(connectorId);
      return;
    }
    if (inError.has(connectorId)) return;
    inError.add(connectorId);
    log('warn', `connector ${connectorId} is in error${reason(snapshot.context.error)}`, { connectorId });
  }

  function reportConnector(connectorId: string): void {
    const actor = connectors.get(connectorId);
    if (!actor || !registered) return;
    const snapshot = actor.getPersistedSnapshot() as PersistedSnapshot;
    const previous = lastSent.get(connectorId);
    if (previous && sameState(previous, snapshot)) return;
    lastSent.set(connectorId, snapshot);
    // Not taken (the hub's store was away): forget it was sent, so the next heartbeat sends it again.
    const cause = causes.get(connectorId);
    const event = cause && recordedEvent(cause);
    send('connector', { id: connectorId, snapshot, ...(event ? { event } : {}), version: CONNECTOR_VERSION }, (answer) => answer?.ok || lastSent.get(connectorId) !== snapshot || lastSent.delete(connectorId));
  }

  /** Stops a job here and forgets it: the hub no longer counts it as this worker's. */
  function drop(jobId: string, reason: string): void {
    outcomes.delete(jobId);
    const held = running.get(jobId);
    if (!held) return;
    log('info', `aborting ${jobId}: ${reason}`, { jobId, connectorId: held.connectorId });
    running.delete(jobId);
    progress.forget(jobId);
    connectors.get(held.connectorId)?.send({ type: 'CANCEL', jobId });
  }

  /** The connection dropped: nothing goes out until it is back; the session and its jobs stay. */
  function pause(): void {
    registered = false;
    outbox = [];
    clearInterval(heartbeat);
  }

  let readyResolve!: () => void;
  let readyReject!: (error: Error) => void;
  const readyPromise = new Promise<void>((resolve, reject) => {
    readyResolve = resolve;
    readyReject = reject;
  });
  readyPromise.catch(() => {});

  function register(): void {
    pause();
    const held = [...running].map(([jobId, { connectorId }]) => ({ jobId, connectorId }));
    for (const [jobId, { connectorId }] of outcomes) held.push({ jobId, connectorId });
    const registration = {
      workerId: id,
      machineId,
      capabilities: options.capabilities ?? {},
      connectors: [...connectors].map(([connectorId, actor]) => ({
        id: connectorId,
        type: types.get(connectorId) ?? '',
        snapshot: actor.getPersistedSnapshot() as PersistedSnapshot,
        version: CONNECTOR_VERSION,
      })),
      ...(session === undefined ? {} : { resume: { sessionId: session, jobs: held } }),
      ...(draining ? { draining } : {}),
      connectorMachine: CONNECTOR_MACHINE,
    };
    socket.emit('register', registration, (answer: RegisterAck | { error: ErrorInfo & { code: string } }) => {
      if ('error' in answer && answer.error.code === 'unavailable') {
        log('warn', `hub cannot register worker ${id} yet: ${answer.error.message}`);
        setTimeout(() => socket.connected && !stopped && register(), 1_000);
        return;
      }
      if ('error' in answer) {
        log('error', `hub refused worker ${id}: ${answer.error.message}`);
        readyReject(new Error(`hub refused worker ${id}: ${answer.error.message}`));
        return;
      }
      opened(answer, registration.connectors);
    });
  }

  /** Registered: drop what the hub took back, send again what a dropped connection may have lost. */
  function opened(answer: RegisterAck, reported: Array<{ id: string; snapshot: PersistedSnapshot }>): void {
    const resumed = session !== undefined && answer.resumed;
    if (session !== undefined && !resumed) log('warn', `hub opened a new session for worker ${id}: the jobs of the old one were given up`);
    // A new session holds nothing: whatever this process still runs was given to others.
    const revoked = resumed ? answer.revoked : [...running.keys(), ...outcomes.keys()];
    for (const jobId of revoked) drop(jobId, resumed ? 'the hub took it back while the worker was away' : 'its session ended');
    session = answer.sessionId;
    limits = answer.limits ?? DEFAULT_LIMITS;
    registered = true;
    for (const connector of reported) lastSent.set(connector.id, connector.snapshot);
    // Anything that changed while the registration was on its way.
    for (const connectorId of connectors.keys()) reportConnector(connectorId);
    // A start report lost with the connection (idempotent for a job already running).
    for (const [jobId, { job }] of running) send('job:started', { jobId, attempt: job.attempt });
    for (const [jobId, { payload }] of outcomes) send('job:started', { jobId, attempt: payload.attempt });
    for (const jobId of running.keys()) progress.resend(jobId);
    for (const jobId of outcomes.keys()) deliver(jobId);
    clearInterval(heartbeat);
    heartbeat = setInterval(beat, answer.heartbeatMs);
    // Connectors start once the hub listens, so every monitor sees them come up from `starting`.
    if (!connectorsStarted) {
      connectorsStarted = true;
      for (const actor of connectors.values()) actor.start();
    }
    lastRefusal = { message: '', at: 0 };
    log('info', `worker ${id} ${resumed ? 'resumed its session with' : 'registered with'} ${hubName} (${connectors.size} ${connectors.size === 1 ? 'connector' : 'connectors'})`);
    readyResolve();
  }

  function beat(): void {
    if (!registered) return;
    socket.timeout(10_000).emit('heartbeat', {}, (error: Error | null, answer?: HeartbeatAck) => {
      if (error || !answer || stopped || !registered) return;
      if (answer.resync) {
        log('warn', `hub asked worker ${id} to register again`);
        register();
      } else {
        for (const connectorId of connectors.keys()) reportConnector(connectorId);
      }
    });
  }

  socket.on('connect', () => register());
  socket.on('disconnect', (reason) => {
    log(stopped ? 'info' : 'warn', `worker ${id} disconnected from the hub (${reason})`);
    pause();
  });
  // A hub that is down is tried every half second: say so when the reason changes, and every 30 s.
  let lastRefusal = { message: '', at: 0 };
  socket.on('connect_error', (error: Error & { data?: { message?: string }; description?: { message?: string } }) => {
    const message = error.data?.message ?? error.description?.message ?? error.message;
    const now = Date.now();
    if (message !== lastRefusal.message || now - lastRefusal.at >= 30_000) {
      log(error.data ? 'error' : 'warn', `worker ${id} cannot connect to ${hubName}: ${message}${error.data ? '' : ' (trying again)'}`);
      lastRefusal = { message, at: now };
    }
    // A refusal by the hub (bad token...) is final; a hub that is down is retried by the client.
    if (error.data) readyReject(new Error(`hub refused worker ${id}: ${message}`));
  });
  // Assignments come in batches: the hub claims a worker's free connectors together.
  socket.on('job:assign', (assignments: Assignment[]) => {
    for (const assignment of assignments) start(assignment);
  });

  function start(assignment: Assignment): void {
    if (running.has(assignment.jobId) || outcomes.has(assignment.jobId)) return;
    const actor = connectors.get(assignment.connectorId);
    if (!actor || !actor.getSnapshot().matches('idle') || !registered) {
      send('job:rejected', { jobId: assignment.jobId, attempt: assignment.attempt, reason: `connector ${assignment.connectorId} is not idle on worker ${id}` });
      return;
    }
    const job: JobRun = {
      id: assignment.jobId,
      type: assignment.type,
      payload: assignment.payload,
      attempt: assignment.attempt,
      maxAttempts: assignment.maxAttempts,
      timeoutMs: assignment.timeoutMs,
    };
    running.set(job.id, { job, connectorId: assignment.connectorId });
    // The connector turns active first, so no monitor sees a running job on an idle connector.
    actor.send({ type: 'ASSIGN', jobId: job.id });
    send('job:started', { jobId: job.id, attempt: job.attempt }, (answer) => {
      // Cancelled (or reassigned) before it reached us: stop it.
      if (answer && !answer.ok && running.has(job.id)) drop(job.id, describe(answer));
    });
  }

  socket.on('job:abort', ({ jobId, reason }: Abort) => drop(jobId, reason));

  socket.connect();
  inspector?.connect();

  return {
    id,
    machineId,
    connectors,
    ready: () => readyPromise,
    async drain() {
      draining = true;
      await new Promise<void>((resolve) => {
        if (!registered) return resolve();
        socket.timeout(10_000).emit('drain', {}, () => resolve());
      });
      // Done when every job ran and the hub took every outcome.
      while (running.size > 0 || outcomes.size > 0) await new Promise((resolve) => setTimeout(resolve, 50));
      await this.stop();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      for (const actor of connectors.values()) actor.send({ type: 'STOP' });
      // Messages on one socket arrive in order: once this is answered, the stopped snapshots are in.
      flush();
      if (registered && socket.connected) await new Promise<void>((resolve) => socket.timeout(1_000).emit('heartbeat', {}, () => resolve()));
      pause();
      // Closing the connection itself is what tells the hub this worker left (not a cut).
      socket.disconnect();
      for (const actor of connectors.values()) actor.stop();
      inspector?.close();
    },
  };
}

/** What a completion becomes: the result, or a failure retrying cannot fix when the result is over the hub's bounds (or not JSON). */
function resultOutcome(job: JobRun, result: Json, maxResultBytes: number): Report {
  const failure = (message: string) => jobReport('job:failed', { jobId: job.id, attempt: job.attempt, error: { message }, retryable: false });
  let text: string | undefined;
  try {
    checkShape(result ?? null, 'result');
    text = JSON.stringify(result ?? null);
  } catch (error) {
    return failure(error instanceof HubError ? error.message : `the result cannot be sent as JSON: ${(error as Error).message}`);
  }
  const bytes = Buffer.byteLength(text ?? 'null');
  if (bytes > maxResultBytes) return failure(`${tooLarge('the result', bytes, maxResultBytes)} (the hub's --max-result-bytes)`);
  return { event: 'job:completed', payload: { jobId: job.id, attempt: job.attempt, result: result ?? null }, bytes: bytes + 128 };
}

/** A progress message as the hub takes it: at most MAX_PROGRESS_MESSAGE characters. */
function boundProgressMessage(message: string): string {
  if (message.length <= MAX_PROGRESS_MESSAGE) return message;
  let end = MAX_PROGRESS_MESSAGE - 1;
  // Never cut a surrogate pair in two: the hub refuses lone surrogates.
  if (/[\uD800-\uDBFF]/.test(message.charAt(end - 1))) end -= 1;
  return `${message.slice(0, end)}…`;
}

function jobReport(event: Report['event'], payload: Report['payload']): Report {
  return { event, payload, bytes: Buffer.byteLength(JSON.stringify(payload)) };
}

/** Groups items, in order, into messages of at most `maxBytes`; an item bigger than that alone is answered with an error, never sent. */
function splitBySize(items: Outgoing[], maxBytes: number): Outgoing[][] {
  const messages: Outgoing[][] = [];
  let current: Outgoing[] = [];
  let size = 0;
  for (const item of items) {
    if (item.bytes > maxBytes) {
      item.onAnswer?.({ ok: false, error: { code: 'payload_too_large', message: tooLarge(`a ${item.event} report`, item.bytes, maxBytes) } });
      continue;
    }
    if (current.length > 0 && size + item.bytes > maxBytes) {
      messages.push(current);
      current = [];
      size = 0;
    }
    current.push(item);
    size += item.bytes + ITEM_OVERHEAD;
  }
  if (current.length > 0) messages.push(current);
  return messages;
}

function sameState(a: PersistedSnapshot, b: PersistedSnapshot): boolean {
  return a.status === b.status && JSON.stringify(a.value) === JSON.stringify(b.value) && JSON.stringify(a.context) === JSON.stringify(b.context);
}

interface Answer {
  ok?: boolean;
  /** Why the hub refused a job report. */
  reason?: string;
  error?: { code?: string; message: string };
}

interface Outgoing {
  event: string;
  payload: unknown;
  /** Called with the hub's answer, or undefined when none came. */
  onAnswer: ((answer: Answer | undefined) => void) | undefined;
  /** Size of the payload's JSON text. */
  bytes: number;
}

/** A finished job's report and its size. */
interface Report {
  event: 'job:completed' | 'job:failed';
  payload: { jobId: string; attempt: number; [field: string]: unknown };
  bytes: number;
}

/** A finished job's report, kept until the hub takes it. */
interface Outcome extends Report {
  connectorId: string;
  /** Bumped on every send, so only the latest answer counts. */
  sends: number;
}

/** Until a hub says otherwise: what a hub accepts by default. */
const DEFAULT_LIMITS: WorkerLimits = { maxMessageBytes: 2 * 1024 * 1024, maxResultBytes: 1024 * 1024 };
/** Room for the packet around the reports, and per report for its event name and brackets. */
const MESSAGE_OVERHEAD = 1_024;
const ITEM_OVERHEAD = 64;

/**
 * A connector's failure as the log says it: its code, not its message, which may quote what a
 * service answered (and so what the job carried). The message is in the job's or connector's
 * record, for whoever may read it.
 */
function reason(error: ErrorInfo | null): string {
  return `${error?.code ? ` (${error.code})` : ''}: its record says why`;
}

function describe(answer: Answer): string {
  return answer.error?.message ?? answer.reason ?? 'the job is no longer this worker’s';
}

/** At most one report per job every `intervalMs`; the last value always goes out. */
function coalesce<T>(intervalMs: number, emit: (jobId: string, value: T) => void) {
  const pending = new Map<string, { value: T; timer: NodeJS.Timeout | undefined; last: number }>();
  return {
    push(jobId: string, value: T) {
      const now = Date.now();
      let state = pending.get(jobId);
      if (!state) pending.set(jobId, (state = { value, timer: undefined, last: 0 }));
      state.value = value;
      if (state.timer) return;
      const wait = state.last + intervalMs - now;
      if (wait <= 0) {
        state.last = now;
        emit(jobId, value);
        return;
      }
      state.timer = setTimeout(() => {
        state.timer = undefined;
        state.last = Date.now();
        emit(jobId, state.value);
      }, wait);
    },
    /** Sends the job's last value again (after a reconnection). */
    resend(jobId: string) {
      const state = pending.get(jobId);
      if (state) emit(jobId, state.value);
    },
    /** Sends what is pending for the job now and forgets it. */
    flush(jobId: string) {
      const state = pending.get(jobId);
      this.forget(jobId);
      if (state?.timer) emit(jobId, state.value);
    },
    forget(jobId: string) {
      clearTimeout(pending.get(jobId)?.timer);
      pending.delete(jobId);
    },
  };
}
