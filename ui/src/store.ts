/**
 * The Solid side of the model: one Monitor per page, its changes turned into signals once per
 * animation frame (so a burst of transitions costs one render), and remote actors that
 * `@xstate/solid`'s `fromActorRef` can follow record by record.
 */
import { batch, createSignal, type Accessor } from 'solid-js';
import { Monitor } from '../../src/client/monitor.js';
import type { ActorRecord } from '../../src/protocol/record.js';
import { HubModel, type Connection, type Topic } from './model.js';

const TOKEN_KEY = 'statehub.token';

export function savedToken(): string | undefined {
  return localStorage.getItem(TOKEN_KEY) ?? undefined;
}

export function saveToken(token: string | undefined): void {
  if (token) localStorage.setItem(TOKEN_KEY, token);
  else localStorage.removeItem(TOKEN_KEY);
}

/** An actor as the hub streams it: enough of an ActorRef for `fromActorRef`. */
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
  readonly connection: Accessor<Connection>;
  readonly refusal: Accessor<{ code: string; message: string } | undefined>;
  actor(id: string): RemoteActor;
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
  const [connection, setConnection] = createSignal<Connection>(model.connection);
  const [refusal, setRefusal] = createSignal(monitor.refusal);

  const watchers = new Map<string, Set<(record: ActorRecord | undefined) => void>>();
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
      if (pending.has('connection')) {
        setConnection(model.connection);
        setRefusal(monitor.refusal);
      }
      pending.clear();
      for (const id of changedIds) for (const watcher of watchers.get(id) ?? []) watcher(model.record(id));
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
    if (watchers.size === 0) return;
    if (reset) for (const id of watchers.keys()) changedIds.add(id);
    for (const { record } of changes) if (watchers.has(record.id)) changedIds.add(record.id);
    schedule();
  });

  return {
    model,
    jobs,
    topology,
    probes,
    connection,
    refusal,
    actor(id) {
      return {
        id,
        getSnapshot: () => model.record(id),
        subscribe(observer) {
          const next = typeof observer === 'function' ? observer : (record: ActorRecord | undefined) => observer.next?.(record);
          let set = watchers.get(id);
          if (!set) watchers.set(id, (set = new Set()));
          set.add(next);
          return {
            unsubscribe() {
              set.delete(next);
              if (set.size === 0) watchers.delete(id);
            },
          };
        },
      };
    },
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
