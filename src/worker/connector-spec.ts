/** `simulation:2,http:1` -> connector implementations, for the command line. */
import type { ConnectorImplementation } from './connector.js';
import { a1111Connector } from './connectors/a1111.js';
import { comfyuiConnector } from './connectors/comfyui.js';
import { httpConnector } from './connectors/http.js';
import { simulationConnector } from './connectors/simulation.js';

export interface SpecOptions {
  httpUrl?: string;
  httpHealthUrl?: string;
  comfyuiUrl?: string;
  a1111Url?: string;
}

const BUILT_IN = ['simulation', 'http', 'comfyui', 'a1111'] as const;

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
    case 'comfyui':
      if (!options.comfyuiUrl) throw new Error('comfyui connectors need --comfyui-url (the ComfyUI server, e.g. http://127.0.0.1:8188)');
      return comfyuiConnector({ url: options.comfyuiUrl });
    case 'a1111':
      if (!options.a1111Url) throw new Error('a1111 connectors need --a1111-url (the stable-diffusion-webui server started with --api, e.g. http://127.0.0.1:7860)');
      return a1111Connector({ url: options.a1111Url });
    default:
      throw new Error(`unknown connector type "${type}"; built in: ${BUILT_IN.join(', ')}`);
  }
}
