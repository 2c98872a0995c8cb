/**
 * Socket.IO namespace `/worker`: workers register their connectors, keep their session alive
 * with heartbeats, report connector snapshots and job outcomes, and receive assignments and
 * aborts. Each socket's messages are handled in the order they were sent; the reports that
 * queued up while one transaction was committing go together into the next one, so a busy
 * worker costs one commit per batch of reports, not one per report.
 */
import type { Logger } from 'pino';
import type { Namespace, Socket } from 'socket.io';
import { z } from 'zod';
import { HubError, invalidInput } from '../protocol/errors.js';
import { checkShape } from '../protocol/shape.js';
import {
  connectorUpdateSchema,
  jobCompletedSchema,
  jobFailedSchema,
  jobProgressSchema,
  jobRejectedSchema,
  jobStartedSchema,
  registerSchema,
  workerAuthSchema,
  type RegisterAck,
  type WorkerLimits,
} from '../protocol/worker.js';
import type { WorkerTimings } from '../../machines/worker.js';
import type { ActorHost } from './actor-host.js';
import type { Auth } from './auth.js';
import { toAssignment, type Dispatcher, type WorkerLink } from './dispatch.js';
import { completion, type Jobs } from './jobs.js';
import { reject, toConnectError } from './socket-errors.js';
import type { SocketRate } from './socket-rate.js';
import type { Transaction } from './transaction.js';
import type { JobEvent } from '../../machines/job.js';
import type { Presence } from './presence.js';
import type { ReportError } from './report-error.js';

export interface WorkerGatewayDeps {
  host: ActorHost;
  /** Sizes the hub accepts from workers; told to each worker when it registers. */
  limits: WorkerLimits;
  presence: Presence;
  jobs: Jobs;
  dispatcher: Dispatcher;
  auth: Auth;
  timings: WorkerTimings;
  /** Messages per second each worker socket may send. */
  rate: SocketRate;
  /** Where refused reports are told. */
  log: Pick<Logger, 'warn'>;
  /** True while the hub shuts down: its sockets closing is not the workers leaving. */
  closing: () => boolean;
  onError: ReportError;
}

type Ack = (answer: unknown) => void;

/** A message waiting its turn: `inTx` ones may share a transaction with their neighbours. */
type Pending =
  | { event: string; ack: Ack | undefined; inTx: (tx: Transaction) => Promise<unknown> }
  | { event: string; ack: Ack | undefined; alone: () => Promise<unknown> };

/** Most reports committed together. */
const MAX_BATCH = 256;

export function attachWorkerGateway(nsp: Namespace, deps: WorkerGatewayDeps): void {
  nsp.use((socket, next) => {
    try {
      checkShape(socket.handshake.auth, 'auth');
      const parsed = workerAuthSchema.safeParse(socket.handshake.auth ?? {});
      if (!parsed.success) throw invalidInput(parsed.error, 'worker handshake auth');
      deps.auth.check(parsed.data.token, 'work');
      next();
    } catch (error) {
      next(toConnectError(error));
    }
  });
  nsp.on('connection', (socket) => new WorkerSession(socket, deps));
}

class WorkerSession {
  private workerId: string | undefined;
  /** The worker's session, as the hub opened or resumed it on this connection. */
  private sessionId: string | undefined;
  private readonly handled = new Set<string>();
  /** How each report that may come in a `reports` batch is read. */
  private readonly reports = new Map<string, (payload: unknown, ack: Ack) => Pending | HubError>();
  private readonly pending: Pending[] = [];
  private draining = false;
  private readonly link: WorkerLink;

  constructor(
    private readonly socket: Socket,
    private readonly deps: WorkerGatewayDeps,
  ) {
    this.link = {
      assign: (assignments) => socket.emit('job:assign', assignments),
      abort: (abort) => socket.emit('job:abort', abort),
    };
    const { presence, jobs } = deps;
    // A report the hub refuses changes nothing; the worker is told why, and so is the log.
    const report = async (tx: Transaction, { jobId, attempt }: { jobId: string; attempt: number }, event: JobEvent) => {
      const refused = await jobs.report(tx, this.registered(), jobId, attempt, event);
      if (refused === undefined) return { ok: true };
      deps.log.warn({ workerId: this.workerId, jobId, attempt, report: event.type, reason: refused }, 'refused a job report');
      return { ok: false, reason: refused };
    };
    this.alone('register', registerSchema, (registration) => this.register(registration));
    this.alone('drain', undefined, async () => ({ ok: await deps.host.run((tx) => presence.drain(tx, this.registered(), this.session())).then((done) => done.value) }));
    this.inTx('heartbeat', undefined, async (_, tx) => ({ resync: !(await presence.heartbeat(tx, this.registered(), this.session())) }));
    this.inTx('connector', connectorUpdateSchema, async ({ id, snapshot, event, version }, tx) => ({
      ok: await presence.connectorChanged(tx, this.registered(), this.session(), id, snapshot, event, version),
    }));
    this.inTx('job:started', jobStartedSchema, (started, tx) => report(tx, started, { type: 'START' }));
    this.inTx('job:progress', jobProgressSchema, (progress, tx) => report(tx, progress, { type: 'PROGRESS', progress: progress.progress, ...(progress.message === undefined ? {} : { message: progress.message }) }));
    this.inTx('job:completed', jobCompletedSchema, (completed, tx) => report(tx, completed, completion(completed.result ?? null, deps.limits.maxResultBytes)));
    this.inTx('job:failed', jobFailedSchema, ({ error, retryable, ...failed }, tx) => report(tx, failed, { type: 'FAIL', error, ...(retryable === undefined ? {} : { retryable }) }));
    this.inTx('job:rejected', jobRejectedSchema, (rejected, tx) => report(tx, rejected, { type: 'LEASE_LOST', reason: rejected.reason }));
    socket.on('reports', (...args: unknown[]) => void this.batch(args));
    this.handled.add('reports');
    socket.onAny((event: string, ...args: unknown[]) => {
      if (!this.handled.has(event)) reject(socket, new HubError('bad_request', `unknown worker event "${event}"`), args);
    });
    socket.on('disconnect', (reason) => this.disconnected(reason));
  }

  private async register(registration: z.output<typeof registerSchema>): Promise<RegisterAck> {
    if (this.workerId !== undefined && this.workerId !== registration.workerId) {
      throw new HubError('conflict', `this connection is worker ${this.workerId}; connect again to register ${registration.workerId}`);
    }
    const registered = await this.deps.presence.register(registration);
    this.workerId = registration.workerId;
    this.sessionId = registered.sessionId;
    this.socket.data.workerId = registration.workerId;
    this.deps.dispatcher.attach(registered, this.link);
    // After the answer (same socket, so in order): the worker has its session when they arrive.
    if (registered.reassigned.length > 0) setImmediate(() => this.socket.connected && this.link.assign(registered.reassigned.map(toAssignment)));
    return {
      sessionId: registered.sessionId,
      heartbeatMs: this.deps.timings.heartbeatMs,
      resumed: registered.resumed,
      revoked: registered.revoked,
      limits: this.deps.limits,
    };
  }

  private registered(): string {
    if (this.workerId === undefined) throw new HubError('conflict', 'register first');
    return this.workerId;
  }

  private session(): string {
    if (this.sessionId === undefined) throw new HubError('conflict', 'register first');
    return this.sessionId;
  }

  /** A message handled in its own transaction(s). */
  private alone<S extends z.ZodType | undefined>(event: string, schema: S, handle: (payload: Payload<S>) => Promise<unknown>): void {
    this.listen(event, schema, (payload, ack) => ({ event, ack, alone: () => handle(payload) }));
  }

  /** A report applied inside a transaction it may share with the reports queued beside it; it may also come in a `reports` batch. */
  private inTx<S extends z.ZodType | undefined>(event: string, schema: S, handle: (payload: Payload<S>, tx: Transaction) => Promise<unknown>): void {
    const toPending = (payload: Payload<S>, ack: Ack | undefined): Pending => ({ event, ack, inTx: (tx) => handle(payload, tx) });
    this.listen(event, schema, toPending);
    this.reports.set(event, (payload, ack) => {
      const unbounded = refuseShape(event, payload);
      if (unbounded) return unbounded;
      const parsed = schema ? schema.safeParse(payload) : { success: true as const, data: undefined };
      return parsed.success ? toPending(parsed.data as Payload<S>, ack) : invalidInput(parsed.error, `${event} report`);
    });
  }

  /** `reports` [[event, payload], ...]: many reports in one message, answered by one ack with an answer each. */
  private async batch(args: unknown[]): Promise<void> {
    const ack = typeof args.at(-1) === 'function' ? (args.pop() as Ack) : undefined;
    const limited = await this.deps.rate.refusal(this.socket.id);
    if (limited) return reject(this.socket, limited, ack ? [ack] : []);
    const parsed = reportsSchema.safeParse(args[0]);
    if (!parsed.success) return reject(this.socket, invalidInput(parsed.error, 'reports message'), ack ? [ack] : []);
    const answers: unknown[] = new Array(parsed.data.length);
    let left = parsed.data.length;
    const answered = (index: number) => (answer: unknown) => {
      answers[index] = answer;
      if (--left === 0) ack?.(answers);
    };
    parsed.data.forEach(([event, payload], index) => {
      const read = this.reports.get(event);
      const item = read ? read(payload, answered(index)) : new HubError('bad_request', `unknown report "${event}"`);
      if (item instanceof HubError) answered(index)(item.toBody());
      else this.pending.push(item);
    });
    void this.drain();
  }

  /** Validates `event` as it arrives (a bad one is answered at once) and queues it in order. */
  private listen<S extends z.ZodType | undefined>(event: string, schema: S, toPending: (payload: Payload<S>, ack: Ack | undefined) => Pending): void {
    this.handled.add(event);
    this.socket.on(event, async (...args: unknown[]) => {
      const ack = typeof args.at(-1) === 'function' ? (args.pop() as Ack) : undefined;
      // The limiter answers in the order it was asked, so messages stay in the order they came.
      const limited = await this.deps.rate.refusal(this.socket.id);
      if (limited) return reject(this.socket, limited, ack ? [ack] : []);
      const unbounded = refuseShape(event, args[0]);
      if (unbounded) return reject(this.socket, unbounded, ack ? [ack] : []);
      let payload: unknown;
      if (schema) {
        const parsed = schema.safeParse(args[0]);
        if (!parsed.success) return reject(this.socket, invalidInput(parsed.error, `${event} message`), ack ? [ack] : []);
        payload = parsed.data;
      }
      this.pending.push(toPending(payload as Payload<S>, ack));
      void this.drain();
    });
  }

  private async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.pending.length > 0) {
        const first = this.pending[0] as Pending;
        if ('alone' in first) {
          this.pending.shift();
          await this.answer([first], async () => [await first.alone()]);
          continue;
        }
        let count = 0;
        while (count < this.pending.length && count < MAX_BATCH && 'inTx' in (this.pending[count] as Pending)) count++;
        const batch = this.pending.splice(0, count) as Array<Extract<Pending, { inTx: unknown }>>;
        await this.answer(batch, async () => {
          const { value } = await this.deps.host.run(async (tx) => {
            const answers: unknown[] = [];
            // A refusal of one report (a HubError) is its answer; it does not undo the others.
            for (const item of batch) answers.push(await item.inTx(tx).catch((error: unknown) => (error instanceof HubError ? error : Promise.reject(error))));
            return answers;
          });
          return value;
        });
      }
    } finally {
      this.draining = false;
    }
  }

  /** Acks each message with its answer; when the work itself failed, answers them all with why. */
  private async answer(items: Pending[], work: () => Promise<unknown[]>): Promise<void> {
    let answers: unknown[];
    try {
      answers = await work();
    } catch (error) {
      const hubError = error instanceof HubError ? error : new HubError('unavailable', `hub could not handle ${items[0]?.event}: ${(error as Error).message}`);
      if (!(error instanceof HubError)) this.deps.onError(error, { what: `a worker's ${items[0]?.event} could not be handled`, workerId: this.workerId });
      answers = items.map(() => hubError);
    }
    items.forEach((item, index) => {
      const answer = answers[index];
      if (answer instanceof HubError) reject(this.socket, answer, item.ack ? [item.ack] : []);
      else item.ack?.(answer);
    });
  }

  /**
   * Only a worker that closed its connection itself has left. A connection that dropped (a
   * network cut, this hub going away) says nothing about the worker: it may resume its session on
   * any hub, and the heartbeat window decides when it is gone.
   */
  private disconnected(reason: string): void {
    const { workerId, sessionId } = this;
    if (workerId === undefined || sessionId === undefined) return;
    this.deps.dispatcher.detach(workerId, this.link);
    if (this.deps.closing() || reason !== 'client namespace disconnect') return;
    this.pending.push({ event: 'leave', ack: undefined, alone: () => this.deps.presence.leave(workerId, sessionId) });
    void this.drain();
  }
}

type Payload<S> = S extends z.ZodType ? z.output<S> : undefined;

/**
 * The message's refusal when its shape is over the bounds (protocol/shape.ts), checked before any
 * schema. A completion's result is left out: over the bounds, it fails its job (jobs.ts
 * `completion`) instead of leaving the job waiting for a report that will never pass.
 */
function refuseShape(event: string, payload: unknown): HubError | undefined {
  const checked = event === 'job:completed' && payload !== null && typeof payload === 'object' && !Array.isArray(payload) ? { ...payload, result: null } : payload;
  try {
    checkShape(checked, 'message');
    return undefined;
  } catch (error) {
    return error as HubError;
  }
}

const reportsSchema = z.array(z.tuple([z.string(), z.unknown()])).min(1).max(1_000);
