/** Waiting in tests for something a stream of events brings: checked after every event, bounded in time. */
export class Conditions {
  private readonly checks = new Set<() => void>();

  /**
   * Resolves once `condition` holds (checked now and on every `notify`). Rejects after
   * `timeoutMs`, or as soon as `hopeless()` says it can no longer come, naming `description` and
   * what was received (`got()`).
   */
  until(condition: () => boolean, description: string, options: { timeoutMs: number; got: () => string; hopeless?: () => string | undefined }): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const check = () => {
        if (condition()) {
          cleanup();
          resolve();
          return;
        }
        const why = options.hopeless?.();
        if (why !== undefined) {
          cleanup();
          reject(new Error(`${why} while waiting for ${description}; got ${options.got()}`));
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out after ${options.timeoutMs} ms waiting for ${description}; got ${options.got()}`));
      }, options.timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.checks.delete(check);
      };
      this.checks.add(check);
    });
  }

  /** Something arrived: check every waiting condition. */
  notify(): void {
    for (const check of [...this.checks]) check();
  }
}
