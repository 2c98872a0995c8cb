/**
 * The hub's side of the probe actors (machines/probe.ts): it creates the probes it is given,
 * performs their `check` effect (the I/O, which the machine never does) and sends each outcome
 * back as CHECKED.
 *
 * With several hubs on one store, a probe's CHECK is a durable timer that any hub given that
 * probe may fire; firing consumes it atomically (TimerLoop), so exactly one hub wins each tick
 * and runs that check, and when it dies the next tick is another's. A hub fires no CHECK of a
 * probe it was not given (`accepts`): it could not check the target (it lacks the URL's
 * credentials), and a tick it took would be a check lost.
 */
import type { ProbeEvent, ProbeInput } from '../../../machines/probe.js';
import { HubError } from '../../protocol/errors.js';
import type { Store, Timer } from '../../store/store.js';
import type { ActorHost } from '../actor-host.js';
import type { ReportError } from '../report-error.js';
import { createChecker, type Checker } from './checkers/index.js';
import type { ProbeTarget } from './config.js';
import { runCheck } from './run-check.js';

interface Probe {
  target: ProbeTarget;
  /** Made at the first check this hub runs (see createChecker). */
  checker: Promise<Checker> | undefined;
  /** What no message may show: the URL and its password. */
  secrets: string[];
}

export class Probes {
  private readonly probes = new Map<string, Probe>();
  /** Checks under way, each until its outcome is committed (or failed to be). */
  private readonly running = new Set<Promise<void>>();
  private stopped = false;

  constructor(
    private readonly host: ActorHost,
    private readonly store: Store,
    targets: readonly ProbeTarget[],
    private readonly onError: ReportError,
  ) {
    for (const target of targets) this.probes.set(target.id, { target, checker: undefined, secrets: secretsOf(target.url) });
    // Only the step that committed (the one hub that won the tick) runs the check.
    host.provideEffect('check', (tx, _params, record) => tx.onCommit(() => this.launch(record.id)));
  }

  /**
   * Creates the probe actors this hub is given that the store does not hold, and gives the
   * others this hub's settings (CONFIGURE: a check comes at once), in one step. Throws HubError
   * `conflict` when a probe's id is taken by an actor of another kind.
   */
  async start(): Promise<void> {
    await this.host.run(async (tx) => {
      for (const { target } of this.probes.values()) {
        const record = await tx.get(target.id);
        if (record && !record.removed && record.kind !== 'probe') throw new HubError('conflict', `probe id ${target.id} is already used by a ${record.kind}`);
        if (!record || record.removed) {
          await tx.create('probe', target.id, { id: target.id, ...target.settings } satisfies ProbeInput, undefined, record);
        } else {
          await tx.send(target.id, { type: 'CONFIGURE', ...target.settings } satisfies ProbeEvent);
        }
      }
    });
  }

  /** False for the CHECK of a probe this hub was not given: that tick is left to a hub that was. */
  accepts(timer: Timer): boolean {
    return !(timer.event.type === 'CHECK' && timer.actorId.startsWith('probe:') && !this.probes.has(timer.actorId));
  }

  /** Lets the checks under way finish (each within its timeout) and closes every connection. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.running);
    await Promise.all([...this.probes.values()].map((probe) => probe.checker?.then((checker) => checker.reset(), () => {})));
  }

  private launch(id: string): void {
    const probe = this.probes.get(id);
    if (!probe || this.stopped) return;
    // The check's time on the store's clock, which every hub reads alike.
    const at = this.host.clock();
    probe.checker ??= createChecker(probe.target, this.store);
    const run = probe.checker
      .then((checker) => runCheck(checker, probe.target.settings.timeoutMs, probe.secrets))
      .then((outcome) => this.host.run((tx) => tx.send(id, { type: 'CHECKED', at, ...outcome } satisfies ProbeEvent)))
      .then(
        () => {},
        (error: unknown) => this.onError(error, { what: 'a probe check could not be recorded', actorId: id }),
      )
      .finally(() => this.running.delete(run));
    this.running.add(run);
  }
}

/** A URL with a password, and that password (as typed and decoded), to keep out of messages. */
function secretsOf(url: string | undefined): string[] {
  const password = url === undefined ? '' : new URL(url).password;
  if (!password) return [];
  let decoded = password;
  try {
    decoded = decodeURIComponent(password);
  } catch {
    // not percent-encoded after all: as typed is all there is
  }
  return [url as string, password, decoded];
}
