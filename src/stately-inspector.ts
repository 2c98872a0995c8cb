/**
 * A connection to Stately's inspector (`--inspect`): XState inspection messages (`@xstate.actor`,
 * `@xstate.event`, `@xstate.snapshot`) sent over a WebSocket to whatever listens there, usually
 * the Node inspector server of `@statelyai/inspect`, which hands them to a page that embeds the
 * viewer hosted by Stately (https://stately.ai/inspect).
 *
 * The messages are made by `@statelyai/inspect`'s own `createInspector`; the socket is ours. The
 * library's WebSocket adapter (0.7.2) never reconnects after the receiver closed the connection,
 * keeps retrying after `stop()` (so a process that stopped it cannot exit), replays its whole
 * backlog on every reconnection, and writes without looking at what is still unsent.
 *
 * Inspection must never cost the process it watches: nothing is queued while the receiver is
 * away (each connection starts with `onConnect`, which tells it every live actor as it is now),
 * a receiver that reads too slowly is disconnected once `maxBufferedBytes` are unsent (as a slow
 * monitor is), and a retry timer never keeps the process alive. What is not sent is counted and
 * each outage is logged once.
 */
import { createInspector, type StatelyInspectionEvent } from '@statelyai/inspect';
import WebSocket from 'ws';
import type { AnyActorRef, InspectionEvent, Observer } from 'xstate';

/** Where the Node inspector server of `@statelyai/inspect` listens by default. */
export const DEFAULT_INSPECTOR_URL = 'ws://localhost:8080';

type Inspector = ReturnType<typeof createInspector>;

/** An actor as `inspector.actor()` reads it: a session id, optionally `_parent` (parentage) and `logic.config` (the definition sent). */
export type InspectedActor = Exclude<Parameters<Inspector['actor']>[0], string>;
/** A snapshot as the inspector shows it: status, value, context, output. */
export type InspectedSnapshot = NonNullable<Parameters<Inspector['actor']>[1]>;

export interface InspectorLog {
  info(message: string): void;
  warn(message: string): void;
}

export interface StatelyInspectorOptions {
  /** A ws:// or wss:// URL (see `inspectorUrl`). */
  url: string;
  log: InspectorLog;
  /** Runs on every connection, the first and each one after a loss: the receiver knows no actor yet. */
  onConnect?: () => void;
  /** Runs when an open connection is lost: nothing is sent until the next `onConnect`. */
  onDisconnect?: () => void;
  /**
   * Put before every session id sent, as `<scope>:<id>`. XState numbers sessions per process
   * (`x:0`, `x:1`...), so two processes sending to one inspector need a scope each.
   */
  sessionScope?: string;
  /** A receiver with more unsent bytes than this is disconnected (and told everything again when it is back). Default 4 MiB. */
  maxBufferedBytes?: number;
  /** Wait before connecting again after a failure or a loss. Default 5 s. */
  retryMs?: number;
}

export interface StatelyInspector {
  readonly url: string;
  /** True while the connection is open: only then is anything sent. */
  readonly connected: boolean;
  /** Messages not sent since the start: the receiver was away or too slow, or a message was not JSON. */
  readonly dropped: number;
  /** For `createActor(logic, { inspect })`: a live actor's own inspection events, converted only while connected. */
  readonly inspect: Observer<InspectionEvent>;
  /** Hand-fed messages, for actors that are not interpreted here (see `@statelyai/inspect`). */
  actor: Inspector['actor'];
  event: Inspector['event'];
  snapshot: Inspector['snapshot'];
  /** Tells the receiver about a live actor and its children (invoked or spawned), as they are now. */
  live(actor: AnyActorRef): void;
  /** Opens the connection, and opens it again whenever it is lost, until `close()`. */
  connect(): void;
  /** Closes the connection and stops trying; nothing is sent afterwards. */
  close(): void;
}

/**
 * The URL `text` names, checked: throws an Error saying what is expected when it is not a ws://
 * or wss:// URL (the Stately inspector server's page is http://, its socket ws://).
 */
export function inspectorUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`"${text}" is not a URL; the Stately inspector is reached at a ws:// or wss:// URL (default ${DEFAULT_INSPECTOR_URL})`);
  }
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
    throw new Error(`"${text}" is not a ws:// or wss:// URL; the Stately inspector is reached over a WebSocket (default ${DEFAULT_INSPECTOR_URL})`);
  }
  return url.href;
}

/** The inspector at `options.url`, not connected yet (see `connect`). Throws as `inspectorUrl` does. */
export function createStatelyInspector(options: StatelyInspectorOptions): StatelyInspector {
  const socket = new InspectorSocket({ ...options, url: inspectorUrl(options.url) });
  const { sessionScope } = options;
  const inspector = createInspector(socket, sessionScope === undefined ? {} : { serialize: scopeSessions(sessionScope) });
  // The library converts each event a turn later: skipped at once while nothing would be sent,
  // and so are the kinds it drops (microsteps, actions).
  const inspect: Observer<InspectionEvent> = {
    next: (event) => {
      if (socket.connected && CONVERTED.has(event.type)) inspector.inspect.next?.(event);
    },
  };
  // XState's own event for a new actor, again: converted as when the actor was created (named by
  // its id, with its definition, its parent and its snapshot as it is then).
  const live = (actor: AnyActorRef): void => {
    let root = actor;
    while (root._parent) root = root._parent;
    inspect.next?.({ type: '@xstate.actor', actorRef: actor, rootId: root.sessionId });
    const { children } = actor.getSnapshot() as { children?: Record<string, AnyActorRef | undefined> };
    for (const child of Object.values(children ?? {})) if (child) live(child);
  };
  return {
    url: socket.url,
    get connected() {
      return socket.connected;
    },
    get dropped() {
      return socket.dropped;
    },
    inspect,
    actor: inspector.actor,
    event: inspector.event,
    snapshot: inspector.snapshot,
    live,
    connect: () => socket.start(),
    close: () => socket.close(),
  };
}

/** The inspection events `@statelyai/inspect` turns into messages. */
const CONVERTED = new Set<InspectionEvent['type']>(['@xstate.actor', '@xstate.event', '@xstate.snapshot']);
const MiB = 1024 * 1024;
/** A receiver that accepted the TCP connection but never answers the upgrade is given up after this long. */
const HANDSHAKE_TIMEOUT_MS = 10_000;

/** The library's `Adapter`: where `createInspector` sends each message. */
class InspectorSocket {
  readonly url: string;
  dropped = 0;
  private socket: WebSocket | undefined;
  private retry: NodeJS.Timeout | undefined;
  private closed = false;
  /** The current outage (or slow receiver) was logged; cleared when a connection opens. */
  private outageLogged = false;
  private droppedAtLoss = 0;
  private unserializableLogged = false;
  private readonly maxBufferedBytes: number;
  private readonly retryMs: number;

  constructor(private readonly options: StatelyInspectorOptions) {
    this.url = options.url;
    this.maxBufferedBytes = options.maxBufferedBytes ?? 4 * MiB;
    this.retryMs = options.retryMs ?? 5_000;
  }

  get connected(): boolean {
    return this.socket?.readyState === WebSocket.OPEN;
  }

  start(): void {
    if (this.closed || this.socket) return;
    const socket = new WebSocket(this.url, { handshakeTimeout: HANDSHAKE_TIMEOUT_MS });
    this.socket = socket;
    let reason = 'the connection closed';
    let open = false;
    // Without an error listener a refused connection would throw out of the event loop.
    socket.on('error', (error) => (reason = error.message || (error as NodeJS.ErrnoException).code || String(error)));
    socket.on('open', () => {
      open = true;
      this.opened();
    });
    // The receiver's messages (the inspector server relays every client's to every other) are not ours: never read.
    socket.on('close', () => this.lost(socket, reason, open));
  }

  send(event: StatelyInspectionEvent): void {
    const socket = this.socket;
    if (!socket || socket.readyState !== WebSocket.OPEN) {
      this.dropped += 1;
      return;
    }
    if (socket.bufferedAmount > this.maxBufferedBytes) {
      this.dropped += 1;
      this.warnOnce(`the Stately inspector at ${this.url} reads too slowly (${socket.bufferedAmount} bytes unsent): disconnected; it is told every live actor again once it is back`);
      socket.terminate();
      return;
    }
    let text: string;
    try {
      text = JSON.stringify(event);
    } catch (error) {
      this.dropped += 1;
      if (!this.unserializableLogged) this.options.log.warn(`an inspection message is not JSON and was dropped (${(error as Error).message}); such messages are counted, not logged again`);
      this.unserializableLogged = true;
      return;
    }
    socket.send(text);
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retry);
    // Not a closing handshake: a receiver that does not answer must not hold the process for ws's 30 s.
    this.socket?.terminate();
    this.socket = undefined;
  }

  private opened(): void {
    const missed = this.dropped - this.droppedAtLoss;
    this.outageLogged = false;
    this.options.log.info(`inspection goes to the Stately inspector at ${this.url}${missed > 0 ? ` (${missed} messages were dropped while it was away)` : ''}`);
    this.options.onConnect?.();
  }

  private lost(socket: WebSocket, reason: string, wasOpen: boolean): void {
    if (socket !== this.socket || this.closed) return;
    this.socket = undefined;
    this.warnOnce(`the Stately inspector at ${this.url} is not reachable (${reason}): inspection messages are dropped until it is; trying every ${this.retryMs / 1_000} s`);
    if (wasOpen) {
      this.droppedAtLoss = this.dropped;
      this.options.onDisconnect?.();
    }
    this.retry = setTimeout(() => this.start(), this.retryMs);
    // Inspection never keeps a process alive.
    this.retry.unref();
  }

  /** One line per outage, however many attempts it takes. */
  private warnOnce(message: string): void {
    if (this.outageLogged) return;
    this.outageLogged = true;
    this.options.log.warn(message);
  }
}

/** `serialize` for `createInspector`: every session id a message names, scoped. */
function scopeSessions(scope: string): (event: StatelyInspectionEvent) => StatelyInspectionEvent {
  const scoped = <T extends string | undefined>(id: T): T => (id === undefined ? id : (`${scope}:${id}` as T));
  return (event) => {
    switch (event.type) {
      case '@xstate.actor':
        return { ...event, sessionId: scoped(event.sessionId), parentId: scoped(event.parentId), rootId: scoped(event.rootId) };
      case '@xstate.event':
        return { ...event, sessionId: scoped(event.sessionId), sourceId: scoped(event.sourceId), rootId: scoped(event.rootId) };
      case '@xstate.snapshot':
        return { ...event, sessionId: scoped(event.sessionId), rootId: scoped(event.rootId) };
    }
  };
}
