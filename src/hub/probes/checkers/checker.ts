/** What every protocol's checker offers the probe runner, and the kept connection most of them use. */

/** Asks one dependency whether it answers, through that protocol's client library. */
export interface Checker {
  /**
   * Asks once. Resolves with a short, stable description of the answer (`PONG`, `HTTP 200`): no
   * times or counters in it, so that equal answers read the same. Rejects with why it failed.
   * The caller bounds it with the probe's timeout and calls `reset` after any failure.
   */
  check(): Promise<string>;
  /**
   * Closes whatever the checker holds open (a failed or timed-out connection is never asked
   * again); the next check opens anew. Never rejects, and settles within `CLOSE_WITHIN_MS` even
   * when the other side has stopped answering, so a hub closes with no handle left open.
   */
  reset(): Promise<void>;
}

/** How long a polite goodbye may take before the connection is cut. */
export const CLOSE_WITHIN_MS = 1_000;

/** Resolves when `promise` settles or after `ms`, whichever comes first; never rejects. */
export async function settleWithin(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise.catch(() => {}), new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

/**
 * One connection, opened by the first check and kept for the next ones: a check every second
 * must not cost the dependency a new connection every second (a PostgreSQL backend process, a
 * line in RabbitMQ's log). `close` must end the connection within CLOSE_WITHIN_MS, forcibly if
 * need be; it is called once the connection opened, even when it opens after being dropped.
 */
export class KeptConnection<C> {
  private current: Promise<C> | undefined;
  private readonly closing = new Set<Promise<void>>();

  constructor(
    private readonly open: () => Promise<C>,
    private readonly close: (connection: C) => Promise<void>,
  ) {}

  async use<T>(ask: (connection: C) => Promise<T>): Promise<T> {
    this.current ??= this.open();
    return ask(await this.current);
  }

  /** Drops the connection (see Checker.reset); resolves once every dropped connection is closed. */
  async reset(): Promise<void> {
    const dropped = this.current;
    this.current = undefined;
    if (dropped) {
      const closed = dropped.then((connection) => this.close(connection)).catch(() => {});
      this.closing.add(closed);
      void closed.finally(() => this.closing.delete(closed));
    }
    await Promise.all(this.closing);
  }
}
