/** GET /metrics read the way Prometheus reads it: families with their type, and samples by name and labels. */
import type { Hub } from 'statehub';
import { api } from './hub.js';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Scrape {
  /** Family name -> its `# TYPE` (counter, gauge, histogram...). */
  types: Map<string, string>;
  samples: Sample[];
  /** The value of the sample with exactly these labels; undefined when there is none. */
  value(name: string, labels?: Record<string, string>): number | undefined;
  /** The sum of the samples of `name` whose labels include `labels`: 0 when there are none. */
  sum(name: string, labels?: Record<string, string>): number;
  /** Every sample of `name`, as `labels -> value` with the labels as `k=v,k=v` (sorted), for comparing scrapes. */
  series(name: string): Record<string, number>;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Parses Prometheus text exposition; throws on a line it cannot read. */
export function parsePrometheus(text: string): Scrape {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('# HELP ')) continue;
    if (line.startsWith('# TYPE ')) {
      const [name, type] = line.slice('# TYPE '.length).split(' ');
      types.set(name!, type!);
      continue;
    }
    const match = SAMPLE.exec(line);
    if (!match) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, raw] of (match[2] ?? '').matchAll(LABEL)) labels[key!] = raw!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  const includes = (sample: Sample, labels: Record<string, string>) => Object.entries(labels).every(([key, value]) => sample.labels[key] === value);
  const key = (labels: Record<string, string>) =>
    Object.entries(labels)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
  return {
    types,
    samples,
    value: (name, labels = {}) => samples.find((sample) => sample.name === name && key(sample.labels) === key(labels))?.value,
    sum: (name, labels = {}) => samples.filter((sample) => sample.name === name && includes(sample, labels)).reduce((total, sample) => total + sample.value, 0),
    series: (name) => Object.fromEntries(samples.filter((sample) => sample.name === name).map((sample) => [key(sample.labels), sample.value])),
  };
}

/** One scrape of the hub's /metrics, parsed. */
export async function scrape(hub: Hub | string): Promise<Scrape> {
  const answer = await api<string>(hub, 'GET', '/metrics');
  if (answer.status !== 200) throw new Error(`GET /metrics answered ${answer.status}`);
  return parsePrometheus(answer.body);
}
