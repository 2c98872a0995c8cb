/**
 * The benchmark suite: `npm run bench` (full) or `npm run bench -- --quick` (under 3 minutes).
 * Every figure is measured beside a baseline in the same run, on this machine, and written to
 * bench/results.json.
 */
import { writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { parseArgs } from 'node:util';

export interface BenchOptions {
  quick: boolean;
}

/** A bench: runs, prints its own table, and returns its section of results.json. */
export type Bench = (options: BenchOptions) => Promise<Record<string, unknown>>;

const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, only: { type: 'string' } } });
const options: BenchOptions = { quick: values.quick ?? false };

const suite: Array<[string, () => Promise<{ run: Bench }>]> = [
  ['latency', () => import('./latency.js')],
  ['throughput', () => import('./throughput.js')],
  ['network', () => import('./network.js')],
  ['scale', () => import('./scale.js')],
];

const started = Date.now();
const results: Record<string, unknown> = {
  measuredAt: new Date().toISOString(),
  quick: options.quick,
  machine: { cpus: cpus().length, cpu: cpus()[0]?.model, memoryGB: Math.round(totalmem() / 2 ** 30), node: process.version },
};
for (const [name, load] of suite) {
  if (values.only && !values.only.split(',').includes(name)) continue;
  console.log(`\n=== ${name} ===`);
  const { run } = await load();
  results[name] = await run(options);
  writeFileSync(new URL('./results.json', import.meta.url), `${JSON.stringify(results, null, 2)}\n`);
}
results.durationSeconds = Math.round((Date.now() - started) / 1000);
writeFileSync(new URL('./results.json', import.meta.url), `${JSON.stringify(results, null, 2)}\n`);
console.log(`\nbench/results.json written (${results.durationSeconds} s)`);
