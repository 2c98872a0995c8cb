/**
 * The `simulation` connector: pretends to work. Payload `{ durationMs?, steps?, failTimes?, failWith?, permanent? }`:
 * it reports `steps` progress updates over `durationMs`, fails its first `failTimes` attempts
 * with the message `failWith`, then completes with a result. With `permanent: true` a failure
 * is one that trying again cannot help (code `simulated`): the job fails at once. A payload it
 * cannot read fails its job the same way (code `bad_input`).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { PermanentError, type ConnectorImplementation, type JobRun, type RunContext } from '../connector.js';

export const simulationPayloadSchema = z
  .object({
    durationMs: z.number().int().min(0).max(3_600_000).default(1_000),
    steps: z.number().int().min(0).max(10_000).default(10),
    failTimes: z.number().int().min(0).default(0),
    failWith: z.string().default('simulated failure'),
    permanent: z.boolean().default(false),
  })
  .default({ durationMs: 1_000, steps: 10, failTimes: 0, failWith: 'simulated failure', permanent: false });

export type SimulationPayload = z.input<typeof simulationPayloadSchema>;

export interface SimulationOptions {
  id?: string;
  /** The job type it serves. Default `simulation`. */
  type?: string;
  /** How long its pretend health check takes. Default 20 ms. */
  startupMs?: number;
}

export function simulationConnector(options: SimulationOptions = {}): ConnectorImplementation {
  return {
    type: options.type ?? 'simulation',
    ...(options.id === undefined ? {} : { id: options.id }),
    async checkHealth(signal) {
      const started = performance.now();
      await sleep(options.startupMs ?? 20, undefined, { signal });
      return { latencyMs: Math.round(performance.now() - started) };
    },
    run: runSimulation,
  };
}

async function runSimulation(job: JobRun, { signal, progress }: RunContext) {
  const parsed = simulationPayloadSchema.safeParse(job.payload ?? undefined);
  if (!parsed.success) throw new PermanentError(`invalid simulation payload: ${z.prettifyError(parsed.error)}`, { code: 'bad_input' });
  const { durationMs, steps, failTimes, failWith, permanent } = parsed.data;
  const started = Date.now();
  for (let step = 1; step <= steps; step++) {
    // Aim at the schedule, not at the sum of sleeps, so timer drift does not add up.
    await sleep(Math.max(0, started + (durationMs * step) / steps - Date.now()), undefined, { signal });
    progress(Math.round((step / steps) * 100));
  }
  if (steps === 0) await sleep(durationMs, undefined, { signal });
  if (job.attempt <= failTimes) throw permanent ? new PermanentError(failWith, { code: 'simulated' }) : new Error(failWith);
  return { attempt: job.attempt, steps, durationMs: Date.now() - started };
}
