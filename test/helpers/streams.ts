/**
 * Observers for tests, written against the wire as a stranger would: an SSE reader over
 * fetch (with its own small parser) and a raw Socket.IO `/monitor` client that records every
 * event in arrival order. Both close when the test finishes.
 */
import { onTestFinished } from 'vitest';
import { io, type Socket } from 'socket.io-client';
import { Conditions } from './conditions.js';
import type { Hub } from 'statehub';

/** How long a test waits for something that should happen before it says what it waited for. */
const PATIENCE_MS = 10_000;

// ---------------------------------------------------------------------------------------------
// Server-Sent Events
// ---------------------------------------------------------------------------------------------

export interface SseEvent {
  /** The `event:` field, `message` when absent. */
  event: string;
  /** Every `data:` line, joined with `\n`. */
  data: string;
  /** The `id:` field of this event, if it had one. */
  id: string | undefined;
  /** The stream's last event id after this event (ids persist, as in EventSource). */
  lastEventId: string;
}

/**
 * An incremental parser for the text/event-stream format (WHATWG HTML, "Server-sent events"):
 * lines end with CRLF, LF or CR; a blank line dispatches; `:` starts a comment; one leading
 * space after the colon is dropped; unknown fields are ignored.
 */
export class SseParser {
  private buffer = '';
  private pendingCR = false;
  private eventType = '';
  private data: string[] = [];
  private id: string | undefined;
  private lastEventId = '';
  /** Comments seen (lines starting with `:`), without the colon. */
  readonly comments: string[] = [];

  constructor(private readonly onEvent: (event: SseEvent) => void) {}

  push(chunk: string): void {
    let text = chunk;
    // A CR at the end of the previous chunk may be the first half of a CRLF.
    if (this.pendingCR && text.startsWith('\n')) text = text.slice(1);
    this.pendingCR = false;
    this.buffer += text;
    for (;;) {
      const match = /\r\n|\r|\n/.exec(this.buffer);
      if (!match) break;
      if (match[0] === '\r' && match.index === this.buffer.length - 1) this.pendingCR = true;
      const line = this.buffer.slice(0, match.index);
      this.buffer = this.buffer.slice(match.index + match[0].length);
      this.line(line);
    }
  }

  private line(line: string): void {
    if (line === '') return this.dispatch();
    if (line.startsWith(':')) {
      this.comments.push(line.slice(1).trimStart());
      return;
    }
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'event':
        this.eventType = value;
        break;
      case 'data':
        this.data.push(value);
        break;
      case 'id':
        if (!value.includes('\0')) {
          this.id = value;
          this.lastEventId = value;
        }
        break;
      default:
        break;
    }
  }

  private dispatch(): void {
    const hadData = this.data.length > 0;
    const event: SseEvent = { event: this.eventType || 'message', data: this.data.join('\n'), id: this.id, lastEventId: this.lastEventId };
    this.eventType = '';
    this.data = [];
    this.id = undefined;
    if (hadData) this.onEvent(event);
  }
}

export class SseStream {
  readonly events: SseEvent[] = [];
  /** Set when the stream ended (the server closed it, or we did). */
  ended = false;
  private readonly conditions = new Conditions();

  private constructor(
    readonly status: number,
    readonly headers: Headers,
    private readonly controller: AbortController,
    readonly parser: SseParser,
  ) {}

  /** Opens `GET <path>` on the hub and starts reading; resolves once the response headers are in. */
  static async open(hub: Hub | string, path: string, headers: Record<string, string> = {}): Promise<SseStream> {
    const base = typeof hub === 'string' ? hub : hub.url;
    const controller = new AbortController();
    const response = await fetch(base + path, { headers: { accept: 'text/event-stream', ...headers }, signal: controller.signal });
    let stream!: SseStream;
    const parser = new SseParser((event) => {
      stream.events.push(event);
      stream.notify();
    });
    stream = new SseStream(response.status, response.headers, controller, parser);
    onTestFinished(() => stream.close());
    if (response.body) void stream.read(response.body);
    else stream.finish();
    return stream;
  }

  /** Events of one type, data parsed as JSON. */
  json<T = any>(event: string): T[] {
    return this.events.filter((item) => item.event === event).map((item) => JSON.parse(item.data) as T);
  }

  /** Resolves once `condition` holds (checked after every event); rejects saying what it waited for. */
  until(condition: () => boolean, description: string): Promise<void> {
    return this.conditions.until(condition, description, {
      timeoutMs: PATIENCE_MS,
      got: () => describeEvents(this.events),
      hopeless: () => (this.ended ? 'the SSE stream ended' : undefined),
    });
  }

  /** Resolves once an event with id `offset` has arrived. */
  reached(offset: string): Promise<void> {
    return this.until(() => this.events.some((event) => event.id === offset), `an event with id ${offset}`);
  }

  close(): void {
    this.controller.abort();
  }

  private async read(body: ReadableStream<Uint8Array>): Promise<void> {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        this.parser.push(decoder.decode(value, { stream: true }));
      }
    } catch {
      // aborted by close(), or the connection dropped: either way the stream ended
    }
    this.finish();
  }

  private finish(): void {
    this.ended = true;
    this.notify();
  }

  private notify(): void {
    this.conditions.notify();
  }
}

function describeEvents(events: SseEvent[]): string {
  return events.length === 0 ? 'no events' : events.map((event) => `${event.event}#${event.id ?? '-'}`).join(', ');
}

// ---------------------------------------------------------------------------------------------
// Socket.IO /monitor
// ---------------------------------------------------------------------------------------------

export interface Received {
  event: string;
  args: unknown[];
}

/** A raw `/monitor` client that keeps every event it receives, in order. */
export class MonitorClient {
  readonly received: Received[] = [];
  /** The hub's ticks (sent when it has nothing else to say for a second). */
  readonly ticks: Array<{ time: number; offset: string }> = [];
  readonly socket: Socket;
  private readonly conditions = new Conditions();

  constructor(hub: Hub | string, auth: Record<string, unknown> = {}) {
    const base = typeof hub === 'string' ? hub : hub.url;
    this.socket = io(new URL('/monitor', base).href, { transports: ['websocket'], forceNew: true, reconnection: false, auth });
    this.socket.onAny((event: string, ...args: unknown[]) => {
      // Ticks say the hub is there; they are not part of the stream the tests read.
      if (event === 'tick') return void this.ticks.push(args[0] as { time: number; offset: string });
      this.received.push({ event, args });
      this.notify();
    });
    this.socket.on('disconnect', () => this.notify());
    onTestFinished(() => this.close());
  }

  /** The payloads of every `event` received, in order. */
  all<T = any>(event: string): T[] {
    return this.received.filter((item) => item.event === event).map((item) => item.args[0] as T);
  }

  /** Event names in arrival order. */
  names(): string[] {
    return this.received.map((item) => item.event);
  }

  /** Resolves once `condition` holds (checked after every event); rejects saying what it waited for. */
  until(condition: () => boolean, description: string): Promise<void> {
    return this.conditions.until(condition, description, { timeoutMs: PATIENCE_MS, got: () => this.names().join(', ') || 'no events' });
  }

  /** Resolves with the first `synced` payload. */
  async synced(): Promise<{ offset: string; via: 'snapshot' | 'replay' }> {
    await this.until(() => this.all('synced').length > 0, 'synced');
    return this.all('synced')[0];
  }

  /** Resolves once a transition at `offset` (or a sync at it) has been received. */
  reached(offset: string): Promise<void> {
    return this.until(
      () =>
        this.all<Array<{ offset: string }>>('transitions').some((batch) => batch.some((entry) => entry.offset === offset)) ||
        this.all<{ offset: string }>('synced').some((sync) => sync.offset === offset),
      `offset ${offset}`,
    );
  }

  close(): void {
    this.socket.close();
  }

  private notify(): void {
    this.conditions.notify();
  }
}

/** Connects a raw monitor and waits until it is synced. */
export async function connectMonitor(hub: Hub | string, auth: Record<string, unknown> = {}): Promise<MonitorClient> {
  const client = new MonitorClient(hub, auth);
  await client.synced();
  return client;
}

export interface ConnectRefusal {
  message: string;
  data: { code: string; message: string; details?: unknown } | undefined;
}

/** Connects to a namespace expecting a refusal; resolves with the `connect_error`, rejects if it connects. */
export function refusedConnection(hub: Hub | string, namespace: string, auth: Record<string, unknown>): Promise<ConnectRefusal> {
  const base = typeof hub === 'string' ? hub : hub.url;
  const socket = io(new URL(namespace, base).href, { transports: ['websocket'], forceNew: true, reconnection: false, auth });
  onTestFinished(() => {
    socket.close();
  });
  return new Promise<ConnectRefusal>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`neither connected nor refused on ${namespace}`)), PATIENCE_MS);
    socket.on('connect', () => {
      clearTimeout(timer);
      socket.close();
      reject(new Error(`connected to ${namespace} with auth ${JSON.stringify(auth)}; expected a refusal`));
    });
    socket.on('connect_error', (error: Error & { data?: ConnectRefusal['data'] }) => {
      clearTimeout(timer);
      socket.close();
      resolve({ message: error.message, data: error.data });
    });
  });
}
