/**
 * In-process hooks for those who embed the hub (`hub.on('transition', fn)`, `hub.on('job', fn)`):
 * every change this hub's log delivery hands out, in offset order, with the record it follows.
 *
 * Hooks are synchronous notifications: each is called once per change, in offset order, before
 * the next change is told, and the hub does not wait for anything it returns. Async work is the
 * caller's: a hook that starts some may return its promise (a rejection is logged), but the next
 * change does not wait for it, so such work may finish out of order. A hook that throws (or
 * whose promise rejects) is logged with the change's actor and never stops the hub or the other
 * hooks. A hook runs on the hub's event loop: one that computes for long holds everything up.
 */
import type { Kind } from '../protocol/record.js';
import { KINDS } from '../protocol/record.js';
import type { RecordOf } from '../protocol/states.js';
import type { LiveSet, Transition } from './live-set.js';

/** What a hook may listen to: every change, or the changes of one kind of actor. */
export type HookEvent = 'transition' | Kind;

/**
 * A hook of `E`: a kind's hook gets that kind's records, typed (`record.snapshot.context` is a
 * JobContext for 'job'). What it returns is ignored, but for a promise's rejection, which is logged.
 */
export type Hook<E extends HookEvent> = (transition: Transition<E extends Kind ? RecordOf<E> : Transition['record']>) => unknown;

/** Where a failed hook is told: the error, and which change it failed on. */
export type HookFailure = (error: unknown, context: { hook: HookEvent; actorId: string; kind: Kind; offset: string }) => void;

const EVENTS = new Set<string>(['transition', ...KINDS]);

type AnyHook = (transition: Transition) => unknown;

export class Hooks {
  private readonly hooks = new Map<HookEvent, Set<AnyHook>>();

  constructor(
    live: LiveSet,
    private readonly failed: HookFailure,
  ) {
    live.listen({ change: (transition) => this.tell(transition) });
  }

  /** Calls `hook` with every later change of `event`; returns what removes it. Throws a TypeError for an unknown event. */
  on<E extends HookEvent>(event: E, hook: Hook<E>): () => void {
    if (!EVENTS.has(event)) throw new TypeError(`no hook event "${String(event)}": use "transition" or a kind (${KINDS.join(', ')})`);
    let hooks = this.hooks.get(event);
    if (!hooks) this.hooks.set(event, (hooks = new Set()));
    // Each registration is its own, even of the same function twice.
    const registered: AnyHook = (transition) => hook(transition as Parameters<Hook<E>>[0]);
    hooks.add(registered);
    return () => void hooks.delete(registered);
  }

  private tell(transition: Transition): void {
    this.call('transition', transition);
    this.call(transition.record.kind, transition);
  }

  private call(event: HookEvent, transition: Transition): void {
    const hooks = this.hooks.get(event);
    if (!hooks) return;
    for (const hook of hooks) {
      try {
        const result = hook(transition);
        if (result instanceof Promise) result.catch((error: unknown) => this.report(error, event, transition));
      } catch (error) {
        this.report(error, event, transition);
      }
    }
  }

  private report(error: unknown, hook: HookEvent, { record, offset }: Transition): void {
    this.failed(error, { hook, actorId: record.id, kind: record.kind, offset });
  }
}
