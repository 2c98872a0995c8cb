/**
 * The Socket.IO protocols spoken by hand over socket.io-client, as a worker (or monitor) written in
 * another language would, with what a fuzzer needs on top:
 *
 * - messages sent as raw JSON text (`RawJson`), so they can hold what `JSON.stringify` cannot
 *   write or what would blow this process's own stack: nesting 100,000 levels deep, own
 *   `__proto__` keys, `1e400`, duplicated keys;
 * - whole event packets sent as raw text (`RawPacket`), so the event name can be anything (a
 *   number, an object, a reserved name);
 * - handshake `auth` sent as raw text too;
 * - every acknowledged call bounded by a timeout, so a hang is an answer as well (a rejection
 *   saying so).
 *
 * No cleanup is registered with the test runner: callers close what they open (fuzz properties
 * open hundreds of connections inside one test).
 */
import { io, type Socket } from 'socket.io-client';
import { Decoder, Encoder, type Packet } from 'socket.io-parser';
import { createActor, fromPromise, waitFor } from 'xstate';
import { connectorMachine } from 'statehub/machines';
import { Conditions } from './conditions.js';
import type { Abort, Assignment } from '../../src/protocol/worker.js';

/** An argument sent as this exact JSON text. */
export class RawJson {
  constructor(readonly text: string) {}
}

/** The whole data array of an event packet, event name included: `["any name", 1, {"a": 2}]`. */
export class RawPacket {
  constructor(readonly text: string) {}
}

/** socket.io-parser's encoder, except that `RawJson` and `RawPacket` arguments go out verbatim. */
class RawEncoder extends Encoder {
  override encode(packet: Packet): any[] {
    const data = packet.data as unknown;
    let text: string | undefined;
    if (data instanceof RawJson || data instanceof RawPacket) {
      text = data.text; // a CONNECT packet's auth
    } else if (Array.isArray(data) && data.some((item) => item instanceof RawJson || item instanceof RawPacket)) {
      const whole = data.find((item): item is RawPacket => item instanceof RawPacket);
      text = whole ? whole.text : `[${data.map((item) => (item instanceof RawJson ? item.text : JSON.stringify(item))).join(',')}]`;
    }
    if (text === undefined) return super.encode(packet);
    const nsp = packet.nsp && packet.nsp !== '/' ? `${packet.nsp},` : '';
    return [`${packet.type}${nsp}${packet.id ?? ''}${text}`];
  }
}

const rawParser = { Encoder: RawEncoder, Decoder };

/** The fields naming a job in a report: the job and the attempt it is about. */
export function jobRef(jobId: string, attempt: number): Record<string, unknown> {
  return { jobId, attempt };
}

/** An idle connector's persisted snapshot, as a worker reports it. */
export async function idleSnapshot(id: string, type: string): Promise<Record<string, unknown>> {
  const actor = createActor(connectorMachine.provide({ actors: { checkHealth: fromPromise(async () => ({})) } }), { input: { id, type } }).start();
  await waitFor(actor, (snapshot) => snapshot.matches('idle'));
  const snapshot = actor.getPersistedSnapshot() as unknown as Record<string, unknown>;
  actor.stop();
  return snapshot;
}

export interface RawClientOptions {
  /** Handshake auth: an object, or raw JSON text. */
  auth?: Record<string, unknown> | RawJson;
}

/** How a handshake ended. */
export type Handshake =
  | { outcome: 'connected'; client: RawClient }
  | { outcome: 'refused'; message: string; data: unknown }
  | { outcome: 'closed'; reason: string }
  | { outcome: 'timeout' };

/** One hand-spoken Socket.IO connection to a namespace of the hub. */
export class RawClient {
  readonly socket: Socket;
  /** Payloads of the `error` events the hub sent (its answer to a message sent without an ack). */
  readonly errors: unknown[] = [];
  /** Every event the hub sent, in order (`error` included). */
  readonly received: Array<{ event: string; args: unknown[] }> = [];
  /** Why the connection ended, once it did. */
  disconnectReason: string | undefined;
  private readonly conditions = new Conditions();

  constructor(hubUrl: string, namespace: string, options: RawClientOptions = {}) {
    const { auth } = options;
    this.socket = io(new URL(namespace, hubUrl).href, {
      transports: ['websocket'],
      forceNew: true,
      reconnection: false,
      autoConnect: false,
      parser: rawParser,
      ...(auth === undefined ? {} : { auth: (send: (data: object) => void) => send(auth) }),
    });
    this.socket.onAny((event: string, ...args: unknown[]) => {
      if (event === 'error') this.errors.push(args[0]);
      this.received.push({ event, args });
      this.notify();
    });
    this.socket.on('disconnect', (reason) => {
      this.disconnectReason = reason;
      this.notify();
    });
  }

  /** Connects; resolves with how the handshake ended (never rejects). */
  handshake(timeoutMs = 5_000): Promise<Handshake> {
    return new Promise<Handshake>((resolve) => {
      let settled = false;
      const done = (result: Handshake) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (result.outcome !== 'connected') this.close();
        resolve(result);
      };
      const timer = setTimeout(() => done({ outcome: 'timeout' }), timeoutMs);
      this.socket.once('connect', () => done({ outcome: 'connected', client: this }));
      this.socket.once('connect_error', (error: Error & { data?: unknown }) => done({ outcome: 'refused', message: error.message, data: error.data }));
      // socket.io-client closes the manager before it emits `connect_error`: give that a moment.
      this.socket.io.once('close', (reason: string) => setTimeout(() => done({ outcome: 'closed', reason }), 50));
      this.socket.connect();
    });
  }

  /** Connects, or throws saying why not. */
  async connect(timeoutMs = 5_000): Promise<this> {
    const result = await this.handshake(timeoutMs);
    if (result.outcome !== 'connected') throw new Error(`could not connect: ${JSON.stringify(result)}`);
    return this;
  }

  get connected(): boolean {
    return this.socket.connected;
  }

  /** Emits `event` with `args` and resolves with the hub's answer; rejects if none comes within `timeoutMs`. */
  call(event: string, args: unknown[], timeoutMs = 5_000): Promise<any> {
    return this.socket.timeout(timeoutMs).emitWithAck(event, ...args);
  }

  /** Emits `event` with `args`, no ack. */
  send(event: string, args: unknown[]): void {
    this.socket.emit(event, ...args);
  }

  /** Emits a whole raw event packet (`["name", ...args]`) with an ack. */
  callPacket(packet: string, timeoutMs = 5_000): Promise<any> {
    return this.socket.timeout(timeoutMs).emitWithAck('raw', new RawPacket(packet));
  }

  /** Resolves once `condition` holds (checked after every event and on disconnect), rejects after `timeoutMs` saying what it waited for. */
  until(condition: () => boolean, description: string, timeoutMs = 5_000): Promise<void> {
    return this.conditions.until(condition, description, { timeoutMs, got: () => this.received.map((item) => item.event).join(', ') || 'no events' });
  }

  /** The payloads of every `event` received, in order. */
  all<T = any>(event: string): T[] {
    return this.received.filter((item) => item.event === event).map((item) => item.args[0] as T);
  }

  /** Drops the connection the way a network cut does (no goodbye). */
  cut(): void {
    this.socket.io.engine?.close();
  }

  close(): void {
    this.socket.close();
  }

  /** Re-checks what `until` waits for (socket.io-client calls `onAny` listeners before the others: a subclass's own listeners call this after they recorded their event). */
  protected notify(): void {
    this.conditions.notify();
  }
}

/** A worker spoken by hand: what the hub assigned and aborted, and calls with a timeout. */
export class RawWorker extends RawClient {
  /** Assignments received, in order. */
  readonly assignments: Assignment[] = [];
  readonly aborts: Abort[] = [];

  constructor(hubUrl: string, options: RawClientOptions = {}) {
    super(hubUrl, '/worker', options);
    this.socket.on('job:assign', (batch: Assignment[]) => {
      this.assignments.push(...batch);
      this.notify();
    });
    this.socket.on('job:abort', (abort: Abort) => {
      this.aborts.push(abort);
      this.notify();
    });
  }

  static async connect(hubUrl: string, options: RawClientOptions = {}): Promise<RawWorker> {
    return new RawWorker(hubUrl, options).connect();
  }

  /** Registers (the payload as given) and throws unless the hub answers with a session. */
  async register(registration: Record<string, unknown>, timeoutMs = 5_000): Promise<{ sessionId: string; resumed: boolean; revoked: string[]; [key: string]: unknown }> {
    const answer = await this.call('register', [registration], timeoutMs);
    if (!answer || typeof answer.sessionId !== 'string') throw new Error(`registration refused: ${JSON.stringify(answer)}`);
    return answer;
  }

  /** Resolves with the assignment of `jobId` (with `attempt`, if given), already received or coming. */
  async assignment(jobId: string, attempt?: number, timeoutMs = 5_000): Promise<Assignment> {
    const find = () => this.assignments.find((item) => item.jobId === jobId && (attempt === undefined || item.attempt === attempt));
    await this.until(() => find() !== undefined, `the assignment of ${jobId}${attempt === undefined ? '' : ` (attempt ${attempt})`}`, timeoutMs);
    return find() as Assignment;
  }
}
