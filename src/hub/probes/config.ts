/**
 * Which probes a hub runs: its store's, always (`probe:store`), and one per URL given with
 * `--probe URL` or in the `--probes FILE` configuration:
 *
 *   {
 *     "defaults": { "intervalMs": 1000, "timeoutMs": 1000, "degradedMs": 500, "reportEveryMs": 10000 },
 *     "store": { "degradedMs": 50 },
 *     "probes": [
 *       "redis://127.0.0.1:6379",
 *       { "url": "postgres://postgres@127.0.0.1:5432/postgres", "name": "db", "degradedMs": 100 },
 *       { "url": "http://127.0.0.1:9000/minio/health/live", "expectStatus": 200 }
 *     ]
 *   }
 *
 * Every field is optional; unknown fields are refused (a misspelt threshold must not pass
 * silently). A probe's id is `probe:<name>`, or `probe:<its URL without credentials and query>`,
 * the same on every hub given the same URL: several hubs on one store share one probe actor.
 */
import { z } from 'zod';
import { PROBE_DEFAULTS, type ProbeSettings } from '../../../machines/probe.js';
import { readJsonFile } from '../../json-file.js';
import { redact } from '../../redact.js';

/** URL schemes and the client that checks them. */
const PROTOCOLS = {
  'redis:': 'redis',
  'rediss:': 'redis',
  'postgres:': 'postgres',
  'postgresql:': 'postgres',
  'amqp:': 'amqp',
  'amqps:': 'amqp',
  'mqtt:': 'mqtt',
  'mqtts:': 'mqtt',
  'nats:': 'nats',
  'http:': 'http',
  'https:': 'http',
  'tcp:': 'tcp',
} as const;

export type Protocol = (typeof PROTOCOLS)[keyof typeof PROTOCOLS];

const timingsSchema = z
  .object({
    intervalMs: z.number().int().min(100).max(3_600_000).optional(),
    timeoutMs: z.number().int().min(10).max(3_600_000).optional(),
    degradedMs: z.number().min(0).max(3_600_000).optional(),
    reportEveryMs: z.number().int().min(100).max(86_400_000).optional(),
  })
  .strict();

const probeEntrySchema = timingsSchema
  .extend({
    url: z.string().min(1),
    /** The probe's id is `probe:<name>`. */
    name: z
      .string()
      .min(1)
      .max(100)
      .regex(/^[\x21-\x7e]+$/, 'a name is printable ASCII without spaces')
      .optional(),
    /** HTTP(S): the status codes that pass (default: any 2xx). */
    expectStatus: z.union([z.number().int().min(100).max(599), z.array(z.number().int().min(100).max(599)).min(1)]).optional(),
    /** HTTP(S): text the body must contain (the first 64 KiB of it are read). */
    expectBody: z.string().min(1).max(1_000).optional(),
  })
  .strict();

export const probesConfigSchema = z
  .object({
    /** Timings for every probe that does not set its own (the store's included). */
    defaults: timingsSchema.optional(),
    /** Timings of the store's probe. */
    store: timingsSchema.optional(),
    probes: z.array(z.union([z.string(), probeEntrySchema])).optional(),
  })
  .strict();

/** The probes configuration: the `--probes` file, with the `--probe` URLs added to `probes`. */
export type ProbesConfig = z.input<typeof probesConfigSchema>;
type Timings = z.output<typeof timingsSchema>;

/** One probe as this hub runs it. The URL (credentials included) stays in this process; records get `settings.target`. */
export interface ProbeTarget {
  id: string;
  /** `store` for the hub's own store. */
  protocol: Protocol | 'store';
  url: string | undefined;
  settings: ProbeSettings;
  /** HTTP(S): passing status codes; undefined: any 2xx. */
  expectStatus: number[] | undefined;
  expectBody: string | undefined;
}

export const STORE_PROBE_ID = 'probe:store';

/** Reads a `--probes` file. Throws an Error saying what is wrong with it. */
export function readProbesFile(path: string): ProbesConfig {
  const result = probesConfigSchema.safeParse(readJsonFile(path, 'probes file'));
  if (!result.success) throw new Error(`probes file ${path} is invalid: ${z.prettifyError(result.error)}`);
  return result.data;
}

/**
 * The probes of a hub whose store is `storeKind` (false: its store is not probed): the store's
 * first, then the configured ones. Throws an Error naming the probe for a URL it cannot check,
 * settings that contradict each other, or two probes with one id.
 */
export function probeTargets(config: ProbesConfig | undefined, storeKind: string | false): ProbeTarget[] {
  const parsed = probesConfigSchema.safeParse(config ?? {});
  if (!parsed.success) throw new Error(`the probes configuration is invalid: ${z.prettifyError(parsed.error)}`);
  const { defaults = {}, store = {}, probes = [] } = parsed.data;
  const targets: ProbeTarget[] = [];
  if (storeKind !== false) {
    targets.push({
      id: STORE_PROBE_ID,
      protocol: 'store',
      url: undefined,
      settings: settings(`${storeKind} store`, STORE_PROBE_ID, defaults, store),
      expectStatus: undefined,
      expectBody: undefined,
    });
  }
  for (const item of probes) {
    const entry = typeof item === 'string' ? { url: item } : item;
    const url = parseUrl(entry.url);
    const target = shown(url, { user: true });
    const id = `probe:${entry.name ?? shown(url, { user: false })}`;
    if (targets.some((other) => other.id === id)) throw new Error(`two probes have the id ${id}: give one a "name" in the probes file`);
    const expectStatus = entry.expectStatus === undefined ? undefined : [entry.expectStatus].flat();
    targets.push({
      id,
      protocol: PROTOCOLS[url.protocol as keyof typeof PROTOCOLS],
      url: url.href,
      settings: settings(target, id, defaults, entry),
      expectStatus,
      expectBody: entry.expectBody,
    });
  }
  return targets;
}

function parseUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`probe ${redact(text)} is not a URL (e.g. redis://127.0.0.1:6379)`);
  }
  if (!(url.protocol in PROTOCOLS)) {
    throw new Error(`probe ${redact(text)}: statehub cannot check ${url.protocol}// URLs (it checks ${Object.keys(PROTOCOLS).join(', ')})`);
  }
  if (!url.hostname) throw new Error(`probe ${redact(text)} names no host`);
  if (url.protocol === 'tcp:' && !url.port) throw new Error(`probe ${redact(text)} names no port (tcp://host:port)`);
  return url;
}

/**
 * The URL as records show it: no password, no query (it may hold a token), no fragment; the user
 * name only when asked (an id stays the same whoever connects).
 */
function shown(url: URL, options: { user: boolean }): string {
  const copy = new URL(url.href);
  copy.search = '';
  copy.hash = '';
  if (!options.user) copy.username = '';
  if (!options.user) copy.password = '';
  return redact(copy.href).replace(/\/$/, '');
}

/** Defaults, then the configured defaults, then the probe's own; a timeout defaults to the interval. */
function settings(target: string, id: string, defaults: Timings, own: Timings): ProbeSettings {
  const merged = { ...PROBE_DEFAULTS, ...defaults, ...own };
  const intervalMs = merged.intervalMs;
  const timeoutMs = own.timeoutMs ?? defaults.timeoutMs ?? intervalMs;
  // Checks of one probe never pile up: each is over (answered or timed out) before the next is due.
  if (timeoutMs > intervalMs) throw new Error(`probe ${id}: timeoutMs (${timeoutMs}) is longer than intervalMs (${intervalMs})`);
  if (merged.reportEveryMs < intervalMs) throw new Error(`probe ${id}: reportEveryMs (${merged.reportEveryMs}) is shorter than intervalMs (${intervalMs})`);
  return { target, intervalMs, timeoutMs, degradedMs: merged.degradedMs, reportEveryMs: merged.reportEveryMs };
}
