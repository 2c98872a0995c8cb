/**
 * A worker in its own process, for tests that need to kill or freeze one (SIGKILL, SIGSTOP).
 * Run with `node --import tsx test/helpers/worker-process.ts`; configured by environment:
 *   STATEHUB_HUB        the hub's URL
 *   STATEHUB_WORKER_ID  the worker's id
 *   STATEHUB_MACHINE_ID its machine's id
 *   STATEHUB_CONNECTORS comma-separated connector types: `simulation`, or any other type, which
 *                       gets a connector that holds every job until it is aborted
 * Prints `ready` on stdout once registered, and a line per thing the worker logs.
 */
import { createWorker, simulationConnector, type ConnectorImplementation } from '../../src/worker/index.js';

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

/** Never finishes a job by itself: it only ends when the job's AbortSignal fires. */
function holdingConnector(type: string): ConnectorImplementation {
  return {
    type,
    run: (_job, { signal }) =>
      new Promise((_resolve, reject) => {
        signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
      }),
  };
}

const connectors = env('STATEHUB_CONNECTORS')
  .split(',')
  .map((type) => (type === 'simulation' ? simulationConnector({ startupMs: 1 }) : holdingConnector(type)));

const worker = createWorker({
  hub: env('STATEHUB_HUB'),
  id: env('STATEHUB_WORKER_ID'),
  machineId: env('STATEHUB_MACHINE_ID'),
  connectors,
  log: (message) => process.stdout.write(`log: ${message}\n`),
});

worker.ready().then(
  () => process.stdout.write('ready\n'),
  (error: Error) => {
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  },
);
