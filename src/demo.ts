/**
 * `statehub demo`: a hub, 2 machines x 2 workers x 2 simulated connectors, and a steady trickle
 * of jobs (some failing once, some slow, a few failing for good), so a newcomer sees it alive.
 */
import type { Logger } from 'pino';
import { startHub, type Hub } from './hub/hub.js';
import { workerLog } from './log.js';
import type { JobSubmission } from './protocol/jobs.js';
import type { ConnectorImplementation } from './worker/connector.js';
import { simulationConnector } from './worker/connectors/simulation.js';
import { createWorker, type Worker } from './worker/worker.js';

export interface DemoOptions {
  port?: number;
  host?: string;
  /** Mean gap between two submitted jobs. Default 700 ms. */
  jobIntervalMs?: number;
  /** The hub's logger (see HubOptions). */
  logger?: Logger;
  /** Relay the hub's actors to Stately's inspector at this URL (see HubOptions). */
  inspect?: string;
  /**
   * Connectors to your own services (ComfyUI, Ollama...), run by one more worker (`demo-services-worker` on machine `demo-services`)
   * beside the simulated ones; submit their jobs yourself (the trickle is simulation jobs).
   */
  connectors?: ConnectorImplementation[];
}

export interface Demo {
  hub: Hub;
  workers: Worker[];
  close(): Promise<void>;
}

export async function runDemo(options: DemoOptions = {}): Promise<Demo> {
  const hub = await startHub({
    port: options.port ?? 3000,
    host: options.host ?? '127.0.0.1',
    retention: { keepFinishedMs: 10 * 60_000 },
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.inspect ? { inspect: options.inspect } : {}),
  });
  const workers: Worker[] = [];
  for (let m = 1; m <= 2; m++) {
    for (let w = 1; w <= 2; w++) {
      const machineId = `demo-machine-${m}`;
      workers.push(
        createWorker({
          hub: hub.url,
          machineId,
          id: `${machineId}-worker-${w}`,
          capabilities: { gpu: m, models: m === 1 ? ['sd15'] : ['sd15', 'sdxl'] },
          connectors: [simulationConnector(), simulationConnector()],
          log: workerLog(hub.log),
        }),
      );
    }
  }
  if (options.connectors && options.connectors.length > 0) {
    workers.push(createWorker({ hub: hub.url, machineId: 'demo-services', id: 'demo-services-worker', connectors: options.connectors, log: workerLog(hub.log) }));
  }
  await Promise.all(workers.map((worker) => worker.ready()));
  const interval = options.jobIntervalMs ?? 700;
  let timer: NodeJS.Timeout | undefined;
  const next = () => {
    timer = setTimeout(() => {
      void submit(hub.url, demoJob()).catch((error) => hub.log.warn(`demo could not submit a job: ${(error as Error).message}`));
      next();
    }, interval * (0.5 + Math.random()));
  };
  next();
  hub.log.info(`statehub demo is running: open ${hub.url} (Ctrl-C to stop)`);
  return {
    hub,
    workers,
    async close() {
      clearTimeout(timer);
      await Promise.all(workers.map((worker) => worker.stop()));
      await hub.close();
    },
  };
}

function demoJob(): JobSubmission {
  const roll = Math.random();
  const durationMs = 1_000 + Math.round(Math.random() * 3_000);
  const priority = Math.random() < 0.2 ? 10 : 0;
  if (roll < 0.15) return { type: 'simulation', priority, backoffMs: 1_000, payload: { durationMs, steps: 8, failTimes: 1, failWith: 'model server hiccup' } };
  if (roll < 0.25) return { type: 'simulation', priority, payload: { durationMs: 12_000 + Math.round(Math.random() * 8_000), steps: 20 } };
  if (roll < 0.3) return { type: 'simulation', priority, maxAttempts: 2, backoffMs: 500, payload: { durationMs: 800, steps: 4, failTimes: 5, failWith: 'out of memory' } };
  if (roll < 0.35) return { type: 'simulation', priority, requirements: { models: ['sdxl'] }, payload: { durationMs, steps: 10 } };
  return { type: 'simulation', priority, payload: { durationMs, steps: 10 } };
}

async function submit(hubUrl: string, job: JobSubmission): Promise<void> {
  const response = await fetch(`${hubUrl}/api/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(job) });
  if (!response.ok) throw new Error(`${response.status} ${await response.text()}`);
}
