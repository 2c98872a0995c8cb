/**
 * One BullMQ worker process for bench/throughput.ts: a Worker with concurrency
 * BENCH_CONCURRENCY on queue BENCH_QUEUE whose processor does nothing. Says `{ type: 'ready' }`
 * over IPC once connected; closes on SIGTERM or when the parent goes away.
 */
import { Worker } from 'bullmq';

const port = Number(process.env.BENCH_REDIS_PORT);
const queue = process.env.BENCH_QUEUE ?? 'bench';
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 8);

const worker = new Worker(queue, () => Promise.resolve(), { connection: { host: '127.0.0.1', port }, concurrency });
worker.on('error', (error) => console.error(`bullmq worker error: ${error.message}`));

let closing = false;
const close = () => {
  if (closing) return;
  closing = true;
  worker.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on('SIGTERM', close);
process.on('SIGINT', close);
process.on('disconnect', close);

await worker.waitUntilReady();
process.send?.({ type: 'ready', pid: process.pid });
