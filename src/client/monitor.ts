/**
 * A monitor connection: keeps a View equal to the hub's snapshot, resuming with `since` after
 * every drop, so a reconnect costs only what changed meanwhile.
 *
 * The first snapshot is read over HTTP (GET /api/snapshot), then the socket resumes from its
 * offset: the same log, so the same result, and a browser takes a large snapshot several times
 * faster from fetch() than from one huge WebSocket message.
 */
import { io, type Socket } from 'socket.io-client';
import { TIME_HEADER, recordFilter, type Filter } from '../protocol/monitor.js';
import { applyDelta, type StreamEntry } from '../protocol/delta.js';
import type { ActorRecord, LogEntry, Snapshot } from '../protocol/record.js';
import { View } from './view.js';

/**
 * `stalled`: connected, but nothing heard for `stallAfterMs` (the hub ticks every second when it
 * has nothing else to say): the path went silent, or the hub froze. Live again as soon as
 * anything arrives; after `reconnectAfterMs` of silence the monitor reconnects, resuming with `since`.
 */
export type ConnectionState = 'connecting' | 'live' | 'stalled' | 'reconnecting' | 'refused';

export interface MonitorOptions {
  token?: string;
  filter?: Filter;
  /**
   * A view held from before (a snapshot and the changes applied to it, e.g. kept by a page across
   * reloads): the monitor starts from it and asks only for what changed after its offset.
   */
  resume?: Snapshot;
  /** Extra Socket.IO client options (e.g. `reconnectionDelayMax`). */
  socket?: Record<string, unknown>;
  /** Where the first snapshot comes from. Default `http`. */
  firstSnapshot?: 'http' | 'socket';
  /** Live changes as deltas against the previous record (whole records otherwise). Default true. */
  deltas?: boolean;
  /** Each change comes with the event that caused it (`ViewChange.event`), as inspectors need. Default false. */
  events?: boolean;
  /** Silence (ms) after which a live monitor is `stalled`. Default 3,000. */
  stallAfterMs?: number;
  /** Silence (ms) after which a stalled monitor drops the connection and reconnects with `since`. Default 10,000. */
  reconnectAfterMs?: number;
}

export interface MonitorErrorBody {
  code: string;
  message: string;
}

export class Monitor {
  readonly view = new View();
  state: ConnectionState = 'connecting';
  /** How the last (re)connection started: a full snapshot or a replay of what was missed. */
  lastSync: 'snapshot' | 'replay' | undefined;
  /** Why the hub refused the connection, when it did. */
  refusal: MonitorErrorBody | undefined;
  /**
   * The hub's clock minus this one, in ms, as last measured (0 until then): `Date.now() +
   * clockOffset` is the hub's time, what "5 s ago" must be counted from, whatever this machine's
   * clock says.
   */
  clockOffset = 0;
  /** When the hub was last heard from (this machine's clock): what `stalled` counts from. */
  lastHeardAt = Date.now();
  readonly socket: Socket;
  private readonly watchdog: ReturnType<typeof setInterval>;
  private readonly stateListeners = new Set<(state: ConnectionState) => void>();
  /** The first snapshot came over HTTP. */
  private fetchedFirst = false;
  private closed = false;

  constructor(
    private readonly hubUrl: string,
    private readonly options: MonitorOptions = {},
  ) {
    if (options.resume) this.view.applySnapshot(options.resume);
    this.socket = io(new URL('/monitor', hubUrl).href, {
      transports: ['websocket'],
      forceNew: true,
      autoConnect: false,
      reconnectionDelay: 250,
      reconnectionDelayMax: 2_000,
      ...options.socket,
      // Evaluated on every (re)connection: resume from what the view already holds.
      auth: (send: (auth: object) => void) =>
        send({
          token: options.token,
          since: this.view.offset,
          deltas: options.deltas ?? true,
          ...(options.events ? { events: true } : {}),
          ...(options.filter ? { filter: options.filter } : {}),
        }),
    });
    this.socket.on('snapshot', (snapshot: Snapshot) => this.view.applySnapshot(snapshot));
    this.socket.on('transitions', (entries: StreamEntry[]) => this.applyStream(entries));
    this.socket.on('synced', ({ via, time }: { offset: string; via: 'snapshot' | 'replay'; time?: number }) => {
      this.learnTime(time, Date.now());
      this.lastSync = this.lastSync === undefined && this.fetchedFirst ? 'snapshot' : via;
      this.setState('live');
    });
    this.socket.on('tick', ({ time }: { time?: number; offset?: string }) => this.learnTime(time, Date.now()));
    // Anything from the hub, ticks included, says the path is alive.
    this.socket.onAny(() => this.heard());
    this.socket.on('connect', () => this.heard());
    this.watchdog = setInterval(() => this.checkSilence(), 500);
    // In Node, a monitor must not keep the process alive by itself (`submit --wait` ends on its own).
    (this.watchdog as { unref?: () => void }).unref?.();
    this.socket.on('disconnect', () => this.setState('reconnecting'));
    this.socket.on('connect_error', (error: Error & { data?: MonitorErrorBody }) => {
      if (error.data) {
        this.refusal = error.data;
        this.setState('refused');
      } else {
        this.setState(this.view.offset === undefined ? 'connecting' : 'reconnecting');
      }
    });
    void this.start();
  }

  private async start(): Promise<void> {
    if (this.view.offset === undefined && (this.options.firstSnapshot ?? 'http') === 'http') {
      const snapshot = await this.fetchSnapshot().catch(() => undefined);
      if (this.closed) return;
      // Without it (an older hub, a refusal), the socket brings the snapshot and says why not.
      if (snapshot) {
        mark('statehub:snapshot-fetched');
        this.view.applySnapshot(snapshot);
        mark('statehub:snapshot-applied');
        this.fetchedFirst = true;
      }
    }
    // A listener may have closed the monitor on that snapshot (`submit --wait` on a finished
    // job): connecting now would keep the process alive with nobody listening.
    if (this.closed) return;
    this.socket.connect();
  }

  private async fetchSnapshot(): Promise<Snapshot | undefined> {
    const url = new URL('/api/snapshot', this.hubUrl);
    const { kinds } = this.options.filter ?? {};
    if (kinds) url.searchParams.set('kinds', kinds.join(','));
    const sent = Date.now();
    const response = await fetch(url, this.options.token ? { headers: { authorization: `Bearer ${this.options.token}` } } : {});
    if (!response.ok) return undefined;
    // Read when the answer began (its time was taken then); the body may take a while.
    const received = Date.now();
    this.learnTime(Number(response.headers.get(TIME_HEADER) ?? Number.NaN), (sent + received) / 2);
    const snapshot = (await response.json()) as Snapshot;
    const matches = recordFilter(this.options.filter);
    return matches ? { ...snapshot, records: snapshot.records.filter(matches) } : snapshot;
  }

  /**
   * Turns deltas into records against what the view holds (or an earlier entry of the batch)
   * and applies them. A delta that does not follow is a broken promise: it is noted in the
   * view's problems, what came before it is kept, and the monitor reconnects to be sent whole
   * records from there (a resume with `since`).
   */
  private applyStream(entries: StreamEntry[]): void {
    const records: LogEntry[] = [];
    const batch = new Map<string, ActorRecord>();
    for (const entry of entries) {
      if ('record' in entry) {
        records.push(entry);
        batch.set(entry.record.id, entry.record);
        continue;
      }
      let record: ActorRecord;
      try {
        record = applyDelta(batch.get(entry.delta.id) ?? this.view.records.get(entry.delta.id), entry);
      } catch (error) {
        this.view.applyTransitions(records);
        this.view.problems.push(`${(error as Error).message} (offset ${entry.offset}): resyncing`);
        this.socket.io.engine?.close();
        return;
      }
      records.push(entry.event === undefined ? { offset: entry.offset, record } : { offset: entry.offset, record, event: entry.event });
      batch.set(record.id, record);
    }
    this.view.applyTransitions(records);
  }

  /** The hub said its clock read `time` at about `localTime` on this one. */
  private learnTime(time: number | undefined, localTime: number): void {
    if (typeof time === 'number' && Number.isFinite(time)) this.clockOffset = Math.round(time - localTime);
  }

  onState(listener: (state: ConnectionState) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  close(): void {
    this.closed = true;
    clearInterval(this.watchdog);
    this.socket.close();
  }

  private heard(): void {
    this.lastHeardAt = Date.now();
    if (this.state === 'stalled') this.setState('live');
  }

  /** Live but silent: stalled; silent for longer: reconnect (the socket may never notice by itself). */
  private checkSilence(): void {
    const silence = Date.now() - this.lastHeardAt;
    if (this.state === 'live' && silence >= (this.options.stallAfterMs ?? 3_000)) this.setState('stalled');
    if (this.state === 'stalled' && silence >= (this.options.reconnectAfterMs ?? 10_000)) this.socket.io.engine?.close();
  }

  private setState(state: ConnectionState): void {
    if (this.state === state) return;
    this.state = state;
    for (const listener of this.stateListeners) listener(state);
  }
}

/** A User Timing mark where there is a Performance timeline (browsers, Node): what benchmarks read. */
function mark(name: string): void {
  globalThis.performance?.mark?.(name);
}
