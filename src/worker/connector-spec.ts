/** `simulation:2,http:1` -> connector implementations, for the command line. */
import type { ConnectorImplementation } from './connector.js';
import { httpConnector } from './connectors/http.js';
import { ollamaConnector } from './connectors/ollama.js';
import { DEFAULT_OPENAI_URL, openaiConnector } from './connectors/openai.js';
import { simulationConnector } from './connectors/simulation.js';

export interface SpecOptions {
  httpUrl?: string;
  httpHealthUrl?: string;
  /** Base URL of an OpenAI-compatible API; default OpenAI's own. */
  openaiUrl?: string;
  /** Its API key. */
  openaiKey?: string;
  /** Default http://127.0.0.1:11434. */
  ollamaUrl?: string;
}

const BUILT_IN = ['simulation', 'http', 'openai', 'ollama'] as const;

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
      if (!options.httpUrl) throw new Error('http connectors need --http-url (where jobs are POSTed)');
      return httpConnector({ url: options.httpUrl, ...(options.httpHealthUrl ? { healthUrl: options.httpHealthUrl } : {}) });
    case 'openai':
      return openaiConnector(openaiOptions(options));
    case 'ollama':
      return ollamaConnector(options.ollamaUrl ? { url: options.ollamaUrl } : {});
    default:
      throw new Error(`unknown connector type "${type}"; built in: ${BUILT_IN.join(', ')}`);
  }
}

/** OpenAI's own API needs a key; another OpenAI-compatible server (given with --openai-url) may not. */
function openaiOptions({ openaiUrl, openaiKey }: SpecOptions) {
  if (!openaiKey && (!openaiUrl || new URL(openaiUrl).origin === new URL(DEFAULT_OPENAI_URL).origin)) {
    throw new Error('openai connectors need an API key: --openai-key or OPENAI_API_KEY (or --openai-url for a server that needs none)');
  }
  return { ...(openaiUrl ? { url: openaiUrl } : {}), ...(openaiKey ? { key: openaiKey } : {}) };
}
