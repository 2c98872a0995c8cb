/**
 * The Solid side of the model: one Monitor per page, its changes turned into signals once per
 * animation frame (so a burst of transitions costs one render), and remote actors that
 * `@xstate/solid`'s `fromActorRef` can follow record by record.
 */
import { batch, createSignal, type Accessor } from 'solid-js';
import { Monitor, type MonitorOptions } from '../../src/client/monitor.js';
import type { ActorRecord, LogEntry } from '../../src/protocol/record.js';
import { HubModel, type Connection, type Topic } from './model.js';

const TOKEN_KEY = 'statehub.token';

export function savedToken(): string | undefined {
  return localStorage.getItem(TOKEN_KEY) ?? undefined;
}

export function saveToken(token: string | undefined): void {
  if (token) localStorage.setItem(TOKEN_KEY, token);
  else localStorage.removeItem(TOKEN_KEY);
}

/**
 * An actor as the hub streams it: enough of an ActorRef for `fromActorRef`. Its snapshot is the
 * actor's latest record this page holds: once it leaves the live set, its removal record (its
 * last state, with `removed: true`); undefined while the page holds none.
 */
export interface RemoteActor {
  readonly id: string;
  getSnapshot(): ActorRecord | undefined;
  subscribe(observer: { next?: (record: ActorRecord | undefined) => void } | ((record: ActorRecord | undefined) => void)): { unsubscribe(): void };
}

export interface HubStore {
  readonly model: HubModel;
  /** Bumped (once per frame at most) when that part of the model changed: read it to track it. */
  readonly jobs: Accessor<number>;
  readonly topology: Accessor<number>;
  readonly probes: Accessor<number>;
  readonly webhooks: Accessor<number>;
  readonly connection: Accessor<Connection>;
  readonly refusal: Accessor<{ code: string; message: string } | undefined>;
  /** The hub's time, epoch ms: this machine's clock corrected by what the hub said its clock read. */
  now(): number;
  /** When the hub was last heard from (the hub's time, epoch ms): what "stalled since" names. */
  lastHeardAt(): number;
  actor(id: string): RemoteActor;
  /**
   * Calls `listener` with every change of the actor, none skipped or merged (unlike the
   * once-a-frame signals), in offset order; `reset` when the monitor took a fresh snapshot, which
   * may have skipped changes (the entries then hold the actor's record in it, if any).
   */
  changes(id: string, listener: (entries: LogEntry[], reset: boolean) => void): () => void;
  /** A monitor of a page's own (one actor's changes with their events, say) on this hub, with the token; the page closes it. */
  monitor(options: Omit<MonitorOptions, 'token'>): Monitor;
  /** fetch() against the hub's API with the token; throws the hub's error message on 4xx/5xx. */
  api<T>(path: string, init?: RequestInit): Promise<T>;
  close(): void;
}

export function createHubStore(hubUrl: string, token: string | undefined): HubStore {
  const monitor = new Monitor(hubUrl, token ? { token } : {});
  const model = new HubModel(monitor);
  const [jobs, setJobs] = createSignal(0);
  const [topology, setTopology] = createSignal(0);
  const [probes, setProbes] = createSignal(0);
  const [webhooks, setWebhooks] = createSignal(0);
  const [connection, setConnection] = createSignal<Connection>(model.connection);
  const [refusal, setRefusal] = createSignal(monitor.refusal);

  const watchers = new Map<string, Set<(record: ActorRecord | undefined) => void>>();
  const followers = new Map<string, Set<(entries: LogEntry[], reset: boolean) => void>>();
  /** The removal records of watched actors that left the live set: what they were last. */
  const departed = new Map<string, ActorRecord>();
  const latest = (id: string) => model.record(id) ?? departed.get(id);
  const pending = new Set<Topic>();
  const changedIds = new Set<string>();
  let frame = 0;

  let rendered = false;
  const flush = () => {
    frame = 0;
    batch(() => {
      if (pending.has('jobs')) setJobs((n) => n + 1);
      if (pending.has('topology')) setTopology((n) => n + 1);
      if (pending.has('probes')) setProbes((n) => n + 1);
      if (pending.has('webhooks')) setWebhooks((n) => n + 1);
      if (pending.has('connection')) {
        setConnection(model.connection);
        setRefusal(monitor.refusal);
      }
      pending.clear();
      for (const id of changedIds) for (const watcher of watchers.get(id) ?? []) watcher(latest(id));
      changedIds.clear();
    });
    // The first frame rendered once live: when the page shows the whole hub (what bench/ui.ts reads).
    if (!rendered && model.connection !== 'connecting') {
      rendered = true;
      performance.mark('statehub:first-render');
    }
  };
  const schedule = () => {
    if (frame === 0) frame = requestAnimationFrame(flush);
  };
  model.subscribe((topics) => {
    for (const topic of topics) pending.add(topic);
    schedule();
  });
  const stopWatching = monitor.view.subscribe((changes, reset) => {
    if (watchers.size === 0 && followers.size === 0) return;
    if (reset) for (const id of watchers.keys()) changedIds.add(id);
    const byActor = new Map<string, LogEntry[]>();
    for (const { record, offset } of changes) {
      if (!watchers.has(record.id) && !followers.has(record.id)) continue;
      changedIds.add(record.id);
      if (record.removed) departed.set(record.id, record);
      else departed.delete(record.id);
      let entries = byActor.get(record.id);
      if (!entries) byActor.set(record.id, (entries = []));
      entries.push({ offset, record });
    }
    for (const [id, listeners] of followers) {
      const entries = byActor.get(id);
      if (entries || reset) for (const listener of listeners) listener(entries ?? [], reset);
    }
    schedule();
  });
  /** Adds `item` to the set under `id`; the returned function takes it out again. */
  const register = <T>(map: Map<string, Set<T>>, id: string, item: T) => {
    let set = map.get(id);
    if (!set) map.set(id, (set = new Set()));
    set.add(item);
    return () => {
      set.delete(item);
      if (set.size === 0) map.delete(id);
      if (!watchers.has(id) && !followers.has(id)) departed.delete(id);
    };
  };

  return {
    model,
    jobs,
    topology,
    probes,
    webhooks,
    connection,
    refusal,
    now: () => Date.now() + monitor.clockOffset,
    lastHeardAt: () => monitor.lastHeardAt + monitor.clockOffset,
    actor(id) {
      return {
        id,
        getSnapshot: () => latest(id),
        subscribe(observer) {
          const next = typeof observer === 'function' ? observer : (record: ActorRecord | undefined) => observer.next?.(record);
          return { unsubscribe: register(watchers, id, next) };
        },
      };
    },
    changes: (id, listener) => register(followers, id, listener),
    monitor: (options) => new Monitor(hubUrl, { ...options, ...(token ? { token } : {}) }),
    async api<T>(path: string, init: RequestInit = {}) {
      const headers = new Headers(init.headers);
      if (token) headers.set('authorization', `Bearer ${token}`);
      if (init.body !== undefined) headers.set('content-type', 'application/json');
      const response = await fetch(new URL(path, hubUrl), { ...init, headers });
      const body = (await response.json().catch(() => undefined)) as (T & { error?: { message: string } }) | undefined;
      if (!response.ok) throw new Error(body?.error?.message ?? `${response.status} ${response.statusText}`);
      return body as T;
    },
    close() {
      cancelAnimationFrame(frame);
      stopWatching();
      model.close();
      monitor.close();
    },
  };
}
