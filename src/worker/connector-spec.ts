/** `simulation:2,http:1` -> connector implementations, for the command line. */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { ConnectorImplementation } from './connector.js';
import { a1111Connector } from './connectors/a1111.js';
import { comfyuiConnector } from './connectors/comfyui.js';
import { httpConnector, type HttpConnectorOptions } from './connectors/http.js';
import { ollamaConnector } from './connectors/ollama.js';
import { DEFAULT_OPENAI_URL, openaiConnector, type OpenAIConnectorOptions } from './connectors/openai.js';
import { simulationConnector } from './connectors/simulation.js';

export interface SpecOptions {
  httpUrl?: string;
  httpHealthUrl?: string;
  /** `--http-async`: the service takes jobs for later; their outcome comes by `poll` or `callback`. */
  httpAsync?: 'poll' | 'callback';
  httpStatusUrl?: string;
  httpCancelUrl?: string;
  httpCallbackUrl?: string;
  httpCallbackPort?: number;
  comfyuiUrl?: string;
  a1111Url?: string;
  /** Base URL of an OpenAI-compatible API; default OpenAI's own. */
  openaiUrl?: string;
  /** Its API key. */
  openaiKey?: string;
  /** Default http://127.0.0.1:11434. */
  ollamaUrl?: string;
  /** Settings by connector type, from `--connector-config FILE`; flags given win over them. */
  config?: ConnectorConfig;
}

const template = z.string().min(1).max(2_000);
/** For the connectors whose jobs wait out rate limits (RateLimitOptions). */
const rateLimitWaitMs = z.number().int().min(0).optional();
const httpConfigSchema = z.strictObject({
  url: z.url().optional(),
  healthUrl: z.url().optional(),
  headers: z.record(z.string(), z.string()).optional(),
  healthIntervalMs: z.number().int().min(100).nullable().optional(),
  healthTimeoutMs: z.number().int().min(1).optional(),
  restartDelayMs: z.number().int().min(1).optional(),
  rateLimitWaitMs,
  async: z
    .strictObject({
      mode: z.enum(['poll', 'callback']),
      statusUrl: template.optional(),
      cancelUrl: template.optional(),
      pollIntervalMs: z.number().int().min(10).optional(),
      // Partial: a file renames the fields its service names otherwise (a record over an enum would want every one).
      fields: z.partialRecord(z.enum(['id', 'status', 'progress', 'result', 'error', 'statusUrl', 'callbackUrl']), z.string().min(1)).optional(),
      progressScale: z.union([z.literal(100), z.literal(1)]).optional(),
      doneStatuses: z.array(z.string()).min(1).optional(),
      failedStatuses: z.array(z.string()).min(1).optional(),
      callback: z.strictObject({ host: z.string().optional(), port: z.number().int().min(0).max(65_535).optional(), publicUrl: z.url().optional() }).optional(),
    })
    .optional(),
});

const ms = z.number().int().min(1);
const timeoutsSchema = z.strictObject({ requestMs: ms.optional(), healthMs: ms.optional(), startMs: ms.optional() });
/** What every service connector takes (ServiceConnectorOptions) but its type, its id and its key: keys stay out of files (--openai-key or OPENAI_API_KEY). */
const serviceConfigSchema = z.strictObject({
  url: z.url().optional(),
  headers: z.record(z.string(), z.string()).optional(),
  healthIntervalMs: z.number().int().min(100).nullable().optional(),
  restartDelayMs: ms.optional(),
  timeouts: timeoutsSchema.optional(),
});
const comfyuiConfigSchema = serviceConfigSchema.extend({
  timeouts: timeoutsSchema.extend({ reconnectMs: ms.optional() }).optional(),
  maxDownloadBytes: z.number().int().min(0).optional(),
});
const a1111ConfigSchema = serviceConfigSchema.extend({ progressIntervalMs: z.number().int().min(10).optional() });
const openaiConfigSchema = serviceConfigSchema.extend({ rateLimitWaitMs, pollIntervalMs: z.number().int().min(10).optional() });
const ollamaConfigSchema = serviceConfigSchema.extend({ rateLimitWaitMs });

/** What `--connector-config FILE` holds: settings by connector type. */
export const connectorConfigSchema = z.strictObject({
  http: httpConfigSchema.optional(),
  comfyui: comfyuiConfigSchema.optional(),
  a1111: a1111ConfigSchema.optional(),
  openai: openaiConfigSchema.optional(),
  ollama: ollamaConfigSchema.optional(),
});
export type ConnectorConfig = z.output<typeof connectorConfigSchema>;

/** Reads and checks a connector config file; throws an Error saying what is wrong with it. */
export function readConnectorConfig(path: string): ConnectorConfig {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new Error(`cannot read the connector config ${path}: ${(error as Error).message}`);
  }
  const parsed = connectorConfigSchema.safeParse(value);
  if (!parsed.success) throw new Error(`the connector config ${path} is not valid: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

/** The connector types the command line builds, in the order its help lists them. */
export const BUILT_IN_CONNECTORS = ['simulation', 'http', 'comfyui', 'a1111', 'openai', 'ollama'] as const;

export function connectorsFromSpec(spec: string, options: SpecOptions = {}): ConnectorImplementation[] {
  const connectors: ConnectorImplementation[] = [];
  for (const part of spec.split(',').map((item) => item.trim()).filter(Boolean)) {
    const match = /^([A-Za-z][\w-]*)(?::(\d+))?$/.exec(part);
    if (!match) throw new Error(`"${part}" is not TYPE:COUNT (e.g. simulation:2)`);
    const type = match[1] as string;
    const count = match[2] === undefined ? 1 : Number(match[2]);
    if (count < 1 || count > 1_000) throw new Error(`${part}: the count must be from 1 to 1000`);
    for (let i = 0; i < count; i++) connectors.push(builtIn(type, options));
  }
  if (connectors.length === 0) throw new Error('no connectors given (e.g. --connectors simulation:2)');
  return connectors;
}

function builtIn(type: string, options: SpecOptions): ConnectorImplementation {
  switch (type) {
    case 'simulation':
      return simulationConnector();
    case 'http':
      return httpConnector(httpOptions(options));
    case 'comfyui':
      return comfyuiConnector(withUrl('comfyui', serviceOptions(options.comfyuiUrl, options.config?.comfyui), 'the ComfyUI server, e.g. http://127.0.0.1:8188'));
    case 'a1111':
      return a1111Connector(withUrl('a1111', serviceOptions(options.a1111Url, options.config?.a1111), 'the stable-diffusion-webui server started with --api, e.g. http://127.0.0.1:7860'));
    case 'openai':
      return openaiConnector(openaiOptions(options));
    case 'ollama':
      return ollamaConnector(serviceOptions(options.ollamaUrl, options.config?.ollama));
    default:
      throw new Error(`unknown connector type "${type}"; built in: ${BUILT_IN_CONNECTORS.join(', ')}`);
  }
}

/** The http connector's settings: the config file's, with the flags given over them. */
function httpOptions(options: SpecOptions): HttpConnectorOptions {
  const file = options.config?.http ?? {};
  const url = options.httpUrl ?? file.url;
  if (!url) throw new Error('http connectors need --http-url (where jobs are POSTed), or "url" in the http section of --connector-config');
  const mode = options.httpAsync ?? file.async?.mode;
  const callback = { ...file.async?.callback, ...(options.httpCallbackUrl ? { publicUrl: options.httpCallbackUrl } : {}), ...(options.httpCallbackPort === undefined ? {} : { port: options.httpCallbackPort }) };
  const async = mode && {
    ...file.async,
    mode,
    ...(options.httpStatusUrl ? { statusUrl: options.httpStatusUrl } : {}),
    ...(options.httpCancelUrl ? { cancelUrl: options.httpCancelUrl } : {}),
    ...(Object.keys(callback).length > 0 ? { callback } : {}),
  };
  const { async: _async, ...rest } = file;
  return { ...rest, url, ...(options.httpHealthUrl ? { healthUrl: options.httpHealthUrl } : {}), ...(async ? { async } : {}) } as HttpConnectorOptions;
}

/** A service connector's settings: its config file section, with the URL its flag gives over the file's. */
function serviceOptions<T extends { url?: string | undefined }>(flagUrl: string | undefined, file: T | undefined): T {
  const url = flagUrl ?? file?.url;
  return { ...(file as T), ...(url ? { url } : {}) };
}

/** `options`, which must have a URL for a connector of `type` (one without a default); `what` says what the URL is. */
function withUrl<T extends { url?: string | undefined }>(type: string, options: T, what: string): T & { url: string } {
  if (!options.url) throw new Error(`${type} connectors need --${type}-url (${what}), or "url" in the ${type} section of --connector-config`);
  return options as T & { url: string };
}

/** The openai connector's settings, and its key. OpenAI's own API needs a key; another OpenAI-compatible server may not. */
function openaiOptions(options: SpecOptions): OpenAIConnectorOptions {
  const settings = serviceOptions(options.openaiUrl, options.config?.openai);
  if (!options.openaiKey && new URL(settings.url ?? DEFAULT_OPENAI_URL).origin === new URL(DEFAULT_OPENAI_URL).origin) {
    throw new Error('openai connectors need an API key: --openai-key or OPENAI_API_KEY (or --openai-url for a server that needs none)');
  }
  return { ...settings, ...(options.openaiKey ? { key: options.openaiKey } : {}) };
}
