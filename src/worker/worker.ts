/**
 * The worker SDK: a process's connectors as XState actors, connected to a hub. It registers,
 * heartbeats, streams every connector snapshot, runs what the hub assigns and reports how it
 * went. It reconnects by itself; a new connection is a new session, so work from the old one
 * is aborted (the hub has already given those jobs to someone else).
 */
import { hostname } from 'node:os';
import { createActor } from 'xstate';
import { io, type Socket } from 'socket.io-client';
import type { Json, ErrorInfo } from '../../machines/json.js';
import type { Capabilities } from '../../machines/worker.js';
import type { PersistedSnapshot } from '../protocol/record.js';
import type { Abort, Assignment, HeartbeatAck, RegisterAck } from '../protocol/worker.js';
import { connectorLogic, type ConnectorActor, type ConnectorImplementation, type JobRun } from './connector.js';

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
  /** Where the worker says what happens. Default: nothing. */
  log?: (message: string) => void;
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
  const log = options.log ?? (() => {});
  const progressIntervalMs = options.progressIntervalMs ?? 250;
  const running = new Map<string, Running>();
  const connectors = new Map<string, ConnectorActor>();
  const types = new Map<string, string>();
  const lastSent = new Map<string, PersistedSnapshot>();
  let session: string | undefined;
  let heartbeat: NodeJS.Timeout | undefined;
  let stopped = false;
  let connectorsStarted = false;

  const socket: Socket = io(new URL('/worker', options.hub).href, {
    transports: ['websocket'],
    // Its own connection, not multiplexed with a monitor's: its lifetime is the session's.
    forceNew: true,
    auth: { token: options.token },
    reconnectionDelay: 250,
    reconnectionDelayMax: 2_000,
    autoConnect: false,
  });

  /**
   * Reports leave together, one `reports` message per turn of the event loop, answered by one
   * ack: a busy worker sends (and the hub commits) a batch, not a message per report. Only within
   * a live session: anything older is void for the hub anyway.
   */
  let outbox: Outgoing[] = [];
  const send = (event: string, payload: unknown, onAnswer?: (answer: Answer | undefined) => void) => {
    if (!session || !socket.connected) return;
    outbox.push({ event, payload, onAnswer });
    if (outbox.length === 1) setImmediate(flush);
  };
  function flush(): void {
    const items = outbox;
    outbox = [];
    if (items.length === 0 || !session || !socket.connected) return;
    socket.timeout(10_000).emit('reports', items.map((item) => [item.event, item.payload]), (timedOut: Error | null, answers?: Answer[]) => {
      items.forEach((item, index) => item.onAnswer?.(timedOut ? undefined : answers?.[index]));
    });
  }

  /**
   * Sends a job's outcome until the hub has taken it (or said the job is no longer ours): a hub
   * whose store is briefly away answers `unavailable`, and the outcome must not be lost then.
   */
  const deliver = (event: string, payload: { jobId: string; [field: string]: unknown }, delayMs = 250) => {
    const sentIn = session;
    send(event, payload, (answer) => {
      if (answer?.ok) return;
      const retry = answer === undefined || answer.error?.code === 'unavailable';
      if (retry && session === sentIn && !stopped) {
        setTimeout(() => deliver(event, payload, Math.min(delayMs * 2, 5_000)), delayMs);
      } else {
        log(`hub did not take ${event} of ${payload.jobId}: ${answer ? describe(answer) : 'no answer'}`);
      }
    });
  };

  const progress = coalesce(progressIntervalMs, (jobId: string, percent: number) => send('job:progress', { jobId, progress: percent }));
  const finish = (jobId: string) => {
    running.delete(jobId);
    progress.flush(jobId);
  };

  const reports = {
    job: (jobId: string) => running.get(jobId)?.job,
    progress: (jobId: string, percent: number) => progress.push(jobId, percent),
    done: (jobId: string, result: Json) => {
      finish(jobId);
      deliver('job:completed', { jobId, result });
    },
    failed: (jobId: string, error: ErrorInfo) => {
      finish(jobId);
      deliver('job:failed', { jobId, error });
    },
  };

  const counters = new Map<string, number>();
  for (const implementation of options.connectors) {
    const n = (counters.get(implementation.type) ?? 0) + 1;
    counters.set(implementation.type, n);
    const connectorId = implementation.id ?? `${id}/${implementation.type}-${n}`;
    if (connectors.has(connectorId)) throw new Error(`connector id ${connectorId} is used twice`);
    const actor = createActor(connectorLogic(implementation, reports), {
      id: connectorId,
      input: {
        id: connectorId,
        type: implementation.type,
        healthIntervalMs: implementation.healthIntervalMs ?? null,
        ...(implementation.restartDelayMs === undefined ? {} : { restartDelayMs: implementation.restartDelayMs }),
      },
    });
    connectors.set(connectorId, actor);
    types.set(connectorId, implementation.type);
    actor.subscribe({
      next: () => reportConnector(connectorId),
      error: (error) => log(`connector ${connectorId} crashed: ${(error as Error).message}`),
    });
  }

  function reportConnector(connectorId: string): void {
    const actor = connectors.get(connectorId);
    if (!actor || !session) return;
    const snapshot = actor.getPersistedSnapshot() as PersistedSnapshot;
    const previous = lastSent.get(connectorId);
    if (previous && sameState(previous, snapshot)) return;
    lastSent.set(connectorId, snapshot);
    // Not taken (the hub's store was away): forget it was sent, so the next heartbeat sends it again.
    send('connector', { id: connectorId, snapshot }, (answer) => answer?.ok || lastSent.get(connectorId) !== snapshot || lastSent.delete(connectorId));
  }

  /** Aborts every job of the old session: the hub has revoked them. */
  function abandonSession(): void {
    session = undefined;
    outbox = [];
    clearInterval(heartbeat);
    for (const [jobId, { connectorId }] of running) {
      running.delete(jobId);
      progress.forget(jobId);
      connectors.get(connectorId)?.send({ type: 'CANCEL', jobId });
    }
  }

  let readyResolve!: () => void;
  let readyReject!: (error: Error) => void;
  const readyPromise = new Promise<void>((resolve, reject) => {
    readyResolve = resolve;
    readyReject = reject;
  });
  readyPromise.catch(() => {});

  function register(): void {
    abandonSession();
    const registration = {
      workerId: id,
      machineId,
      capabilities: options.capabilities ?? {},
      connectors: [...connectors].map(([connectorId, actor]) => ({
        id: connectorId,
        type: types.get(connectorId) ?? '',
        snapshot: actor.getPersistedSnapshot() as PersistedSnapshot,
      })),
    };
    socket.emit('register', registration, (answer: RegisterAck | { error: ErrorInfo & { code: string } }) => {
      if ('error' in answer && answer.error.code === 'unavailable') {
        log(`hub cannot register worker ${id} yet: ${answer.error.message}`);
        setTimeout(() => socket.connected && !stopped && register(), 1_000);
        return;
      }
      if ('error' in answer) {
        log(`hub refused worker ${id}: ${answer.error.message}`);
        readyReject(new Error(`hub refused worker ${id}: ${answer.error.message}`));
        return;
      }
      session = answer.sessionId;
      for (const connector of registration.connectors) lastSent.set(connector.id, connector.snapshot);
      // Anything that changed while the registration was on its way.
      for (const connectorId of connectors.keys()) reportConnector(connectorId);
      heartbeat = setInterval(beat, answer.heartbeatMs);
      // Connectors start once the hub listens, so every monitor sees them come up from `starting`.
      if (!connectorsStarted) {
        connectorsStarted = true;
        for (const actor of connectors.values()) actor.start();
      }
      log(`worker ${id} registered with ${options.hub} (${connectors.size} connectors)`);
      readyResolve();
    });
  }

  function beat(): void {
    if (!session) return;
    socket.timeout(10_000).emit('heartbeat', {}, (error: Error | null, answer?: HeartbeatAck) => {
      if (error || !answer || stopped) return;
      if (answer.resync) {
        log(`hub asked worker ${id} to register again`);
        register();
      } else {
        for (const connectorId of connectors.keys()) reportConnector(connectorId);
      }
    });
  }

  socket.on('connect', () => register());
  socket.on('disconnect', (reason) => {
    log(`worker ${id} disconnected from the hub (${reason})`);
    abandonSession();
  });
  socket.on('connect_error', (error: Error & { data?: { message?: string } }) => {
    const message = error.data?.message ?? error.message;
    log(`worker ${id} cannot connect to ${options.hub}: ${message}`);
    // A refusal by the hub (bad token...) is final; a hub that is down is retried by the client.
    if (error.data) readyReject(new Error(`hub refused worker ${id}: ${message}`));
  });
  // Assignments come in batches: the hub claims a worker's free connectors together.
  socket.on('job:assign', (assignments: Assignment[]) => {
    for (const assignment of assignments) start(assignment);
  });

  function start(assignment: Assignment): void {
    const actor = connectors.get(assignment.connectorId);
    if (!actor || !actor.getSnapshot().matches('idle') || !session) {
      send('job:rejected', { jobId: assignment.jobId, reason: `connector ${assignment.connectorId} is not idle on worker ${id}` });
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
    send('job:started', { jobId: job.id }, (answer) => {
      // Cancelled (or reassigned) before it reached us: stop it.
      if (answer && !answer.ok && running.has(job.id)) abort({ jobId: job.id, reason: describe(answer) });
    });
  }

  socket.on('job:abort', (request: Abort) => abort(request));

  function abort({ jobId, reason }: Abort): void {
    const held = running.get(jobId);
    if (!held) return;
    log(`aborting ${jobId}: ${reason}`);
    running.delete(jobId);
    progress.forget(jobId);
    connectors.get(held.connectorId)?.send({ type: 'CANCEL', jobId });
  }

  socket.connect();

  return {
    id,
    machineId,
    connectors,
    ready: () => readyPromise,
    async drain() {
      await new Promise<void>((resolve) => {
        if (!session) return resolve();
        socket.emit('drain', {}, () => resolve());
      });
      while (running.size > 0) await new Promise((resolve) => setTimeout(resolve, 50));
      await this.stop();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      for (const actor of connectors.values()) actor.send({ type: 'STOP' });
      // Messages on one socket arrive in order: once this is answered, the stopped snapshots are in.
      flush();
      if (session && socket.connected) await new Promise<void>((resolve) => socket.timeout(1_000).emit('heartbeat', {}, () => resolve()));
      abandonSession();
      socket.disconnect();
      for (const actor of connectors.values()) actor.stop();
    },
  };
}

function sameState(a: PersistedSnapshot, b: PersistedSnapshot): boolean {
  return a.status === b.status && JSON.stringify(a.value) === JSON.stringify(b.value) && JSON.stringify(a.context) === JSON.stringify(b.context);
}

interface Answer {
  ok?: boolean;
  error?: { code?: string; message: string };
}

interface Outgoing {
  event: string;
  payload: unknown;
  /** Called with the hub's answer, or undefined when none came. */
  onAnswer: ((answer: Answer | undefined) => void) | undefined;
}

function describe(answer: Answer): string {
  return answer.error?.message ?? 'the job is no longer this worker’s';
}

/** At most one report per job every `intervalMs`; the last value always goes out. */
function coalesce(intervalMs: number, emit: (jobId: string, value: number) => void) {
  const pending = new Map<string, { value: number; timer: NodeJS.Timeout | undefined; last: number }>();
  return {
    push(jobId: string, value: number) {
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
