/**
 * A fake ComfyUI that speaks the protocol of ComfyUI's `server.py`, `execution.py` and `main.py`
 * (github.com/comfyanonymous/ComfyUI): `POST /prompt` validates the workflow (unknown node class,
 * a checkpoint it does not have: 400 with `error` and `node_errors`) and queues it; one prompt
 * runs at a time, its nodes in dependency order, telling the client that queued it on
 * `/ws?clientId=` `execution_start`, `execution_cached`, `executing`, `progress` (KSampler, one per
 * step, with a binary preview frame), `executed` (SaveImage), then `execution_success` (or
 * `execution_error` / `execution_interrupted`), writes the history, and last `executing` with
 * `node: null`. Messages for a client that is not connected are lost, as there. `/history/{id}`,
 * `/queue`, `/interrupt` (`{ prompt_id }` targeted), `/queue { delete }`, `/view` and
 * `/system_stats` answer as documented.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket, { WebSocketServer } from 'ws';
import { startFakeServer, type FakeRequest, type FakeServer, type Reply } from './fake-server.js';

export interface Node {
  class_type: string;
  inputs: Record<string, unknown>;
  _meta?: { title: string };
}
export type Workflow = Record<string, Node>;

interface Prompt {
  number: number;
  id: string;
  workflow: Workflow;
  clientId: string;
}

export interface HistoryEntry {
  prompt: unknown[];
  outputs: Record<string, unknown>;
  status: { status_str: 'success' | 'error'; completed: boolean; messages: [string, Record<string, unknown>][] };
  meta: Record<string, unknown>;
}

export interface ComfyService extends FakeServer {
  /** Node classes it has (others are refused). */
  nodeTypes: Set<string>;
  /** Checkpoints CheckpointLoaderSimple accepts. */
  checkpoints: string[];
  /** Wait between two sampler steps, and after each node. Default 2 ms. */
  stepMs: number;
  /** Bytes of each image SaveImage writes. Default 2,000. */
  imageBytes: number;
  /** The next `times` prompts (default: all) raise in this node, as a node raising an exception does. */
  failAt: { node: string; type: string; message: string; times?: number } | undefined;
  /** Nodes whose outputs it holds from an earlier run: told as `execution_cached` and skipped. */
  cachedNodes: string[];
  /** An older server: ignores the prompt_id it is sent and makes its own. */
  choosesPromptIds: boolean;
  /** What /system_stats answers: its devices, or a failure. */
  devices: Record<string, unknown>[];
  statsFailure: { status: number; body: unknown } | undefined;
  /** While set, WebSocket handshakes are answered 503. */
  refuseSockets: boolean;
  readonly prompts: Prompt[];
  readonly history: Map<string, HistoryEntry>;
  /** Every file it saved, by filename. */
  readonly files: Map<string, Buffer>;
  /** Id of the prompt running now. */
  running(): string | undefined;
  /** Open WebSocket connections. */
  sockets(): number;
  /** WebSocket connections accepted so far. */
  socketsOpened(): number;
  /** Drops every WebSocket connection (the server stays up). */
  dropSockets(): void;
}

const DEFAULT_NODES = ['CheckpointLoaderSimple', 'CLIPTextEncode', 'EmptyLatentImage', 'KSampler', 'VAEDecode', 'SaveImage', 'PreviewAny'];

/** The text-to-image workflow of ComfyUI's script_examples, in API format: 7 nodes, KSampler (3) with `steps` steps, SaveImage (9). */
export function txt2imgWorkflow(options: { steps?: number; checkpoint?: string } = {}): Workflow {
  return {
    '3': {
      class_type: 'KSampler',
      inputs: { seed: 5, steps: options.steps ?? 4, cfg: 8, sampler_name: 'euler', scheduler: 'normal', denoise: 1, model: ['4', 0], positive: ['6', 0], negative: ['7', 0], latent_image: ['5', 0] },
    },
    '4': { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: options.checkpoint ?? 'v1-5-pruned-emaonly.safetensors' } },
    '5': { class_type: 'EmptyLatentImage', inputs: { width: 512, height: 512, batch_size: 1 } },
    '6': { class_type: 'CLIPTextEncode', inputs: { text: 'a lighthouse at dusk', clip: ['4', 1] }, _meta: { title: 'Positive prompt' } },
    '7': { class_type: 'CLIPTextEncode', inputs: { text: 'blurry', clip: ['4', 1] } },
    '8': { class_type: 'VAEDecode', inputs: { samples: ['3', 0], vae: ['4', 2] } },
    '9': { class_type: 'SaveImage', inputs: { filename_prefix: 'statehub', images: ['8', 0] } },
  };
}

export async function startComfyService(options: { port?: number } = {}): Promise<ComfyService> {
  const sockets = new Map<string, WebSocket>();
  const wss = new WebSocketServer({ noServer: true });
  let pending: Prompt[] = [];
  let current: { prompt: Prompt; node: string | undefined; interrupted: boolean } | undefined;
  let number = 0;
  /** Counts the server's lives: a prompt running when it died leaves nothing behind. */
  let life = 0;
  let opened = 0;

  const send = (clientId: string, type: string, data: Record<string, unknown>) => {
    const socket = sockets.get(clientId);
    if (socket?.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type, data }));
  };

  const upgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(request.url ?? '/', 'http://fake');
    if (url.pathname !== '/ws' || service.refuseSockets) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => {
      const sid = url.searchParams.get('clientId') || randomUUID().replaceAll('-', '');
      // Reusing a client id replaces its old socket, as in server.py.
      sockets.set(sid, ws);
      opened += 1;
      ws.on('close', () => {
        if (sockets.get(sid) === ws) sockets.delete(sid);
        base.changed();
      });
      ws.send(JSON.stringify({ type: 'status', data: { status: { exec_info: { queue_remaining: pending.length + (current ? 1 : 0) } }, sid } }));
      // On reconnect, the client whose prompt runs is told the node (without a prompt_id), as server.py does.
      if (current?.prompt.clientId === sid && current.node) ws.send(JSON.stringify({ type: 'executing', data: { node: current.node } }));
      base.changed();
    });
  };

  const execute = async (prompt: Prompt) => {
    const messages: HistoryEntry['status']['messages'] = [];
    const outputs: Record<string, unknown> = {};
    const add = (type: string, data: Record<string, unknown>) => {
      const stamped = { ...data, timestamp: Date.now() };
      messages.push([type, stamped]);
      send(prompt.clientId, type, stamped);
    };
    const state: NonNullable<typeof current> = { prompt, node: undefined, interrupted: false };
    current = state;
    const born = life;
    const pause = async (ms: number) => {
      await sleep(ms);
      return life === born;
    };
    const executed: string[] = [];
    let outcome: 'success' | 'error' = 'success';
    add('execution_start', { prompt_id: prompt.id });
    const cached = service.cachedNodes.filter((node) => node in prompt.workflow);
    add('execution_cached', { nodes: cached, prompt_id: prompt.id });
    for (const node of executionOrder(prompt.workflow).filter((id) => !cached.includes(id))) {
      const { class_type: classType, inputs } = prompt.workflow[node]!;
      state.node = node;
      send(prompt.clientId, 'executing', { node, display_node: node, prompt_id: prompt.id });
      const steps = classType === 'KSampler' ? Number(inputs.steps) : 0;
      for (let step = 1; step <= steps && !state.interrupted; step++) {
        if (!(await pause(service.stepMs))) return;
        send(prompt.clientId, 'progress', { value: step, max: steps, prompt_id: prompt.id, node });
        // A preview image: a binary frame (event type 1, then the image).
        sockets.get(prompt.clientId)?.send(Buffer.from([0, 0, 0, 1, 0xff, 0xd8]));
      }
      if (!(await pause(service.stepMs))) return;
      if (state.interrupted) {
        add('execution_interrupted', { prompt_id: prompt.id, node_id: node, node_type: classType, executed });
        outcome = 'error';
        break;
      }
      if (service.failAt?.node === node) {
        const { type, message, times } = service.failAt;
        if (times !== undefined) service.failAt = times > 1 ? { ...service.failAt, times: times - 1 } : undefined;
        add('execution_error', { prompt_id: prompt.id, node_id: node, node_type: classType, executed, exception_message: message, exception_type: type, traceback: [], current_inputs: {}, current_outputs: {} });
        outcome = 'error';
        break;
      }
      if (classType === 'SaveImage') {
        const images = [{ filename: `${String(inputs.filename_prefix)}_${String(service.files.size + 1).padStart(5, '0')}_.png`, subfolder: '', type: 'output' }];
        for (const image of images) service.files.set(image.filename, Buffer.alloc(service.imageBytes, node));
        outputs[node] = { images };
        send(prompt.clientId, 'executed', { node, display_node: node, output: outputs[node], prompt_id: prompt.id });
      }
      executed.push(node);
    }
    if (outcome === 'success') add('execution_success', { prompt_id: prompt.id });
    // main.py: the history is written (task_done), then `executing` with node null.
    service.history.set(prompt.id, {
      prompt: [prompt.number, prompt.id, prompt.workflow, { client_id: prompt.clientId }, ['9']],
      outputs,
      status: { status_str: outcome, completed: outcome === 'success', messages },
      meta: {},
    });
    current = undefined;
    send(prompt.clientId, 'executing', { node: null, prompt_id: prompt.id });
    base.changed();
  };

  const work = async () => {
    while (!current && pending.length > 0) await execute(pending.shift()!);
  };

  const queuePrompt = (request: FakeRequest, reply: Reply) => {
    const workflow = request.body?.prompt as Workflow | undefined;
    if (!workflow || typeof workflow !== 'object') return reply.json(400, { error: { type: 'no_prompt', message: 'No prompt provided', details: 'No prompt provided', extra_info: {} }, node_errors: {} });
    const refusal = validate(workflow, service);
    if (refusal) return reply.json(400, refusal);
    const id = service.choosesPromptIds || typeof request.body.prompt_id !== 'string' ? randomUUID() : request.body.prompt_id;
    const prompt = { number: number++, id, workflow, clientId: String(request.body.client_id ?? '') };
    service.prompts.push(prompt);
    pending.push(prompt);
    reply.json(200, { prompt_id: id, number: prompt.number, node_errors: {} });
    void work();
  };

  const queueItem = (prompt: Prompt) => [prompt.number, prompt.id, prompt.workflow, { client_id: prompt.clientId }, ['9']];

  const routes: Record<string, (request: FakeRequest, reply: Reply) => void> = {
    'GET /system_stats': (_request, reply) =>
      service.statsFailure
        ? reply.json(service.statsFailure.status, service.statsFailure.body)
        : reply.json(200, { system: { os: 'posix', comfyui_version: '0.3.60', python_version: '3.12', pytorch_version: '2.7.0', embedded_python: false, argv: ['main.py'] }, devices: service.devices }),
    'POST /prompt': queuePrompt,
    'GET /queue': (_request, reply) => reply.json(200, { queue_running: current ? [queueItem(current.prompt)] : [], queue_pending: pending.map(queueItem) }),
    'POST /queue': (request, reply) => {
      const remove = new Set<string>(request.body?.delete ?? []);
      pending = pending.filter((prompt) => !remove.has(prompt.id));
      reply.json(200, {});
    },
    'POST /interrupt': (request, reply) => {
      const target = request.body?.prompt_id;
      if (current && (target === undefined || target === current.prompt.id)) current.interrupted = true;
      reply.json(200, {});
    },
    'GET /view': (request, reply) => {
      const file = service.files.get(request.query.get('filename') ?? '');
      if (!file || request.query.get('type') !== 'output') return reply.json(404, {});
      reply.bytes(200, file, 'image/png');
    },
  };

  const base = await startFakeServer(
    (request, reply) => {
      if (request.method === 'GET' && request.path.startsWith('/history/')) {
        const id = decodeURIComponent(request.path.slice('/history/'.length));
        const entry = service.history.get(id);
        return reply.json(200, entry ? { [id]: entry } : {});
      }
      const route = routes[`${request.method} ${request.path}`];
      if (!route) return reply.json(404, {});
      route(request, reply);
    },
    {
      ...options,
      upgrade,
      // A server that dies loses its queue and history with its process.
      onClose: () => {
        life += 1;
        for (const socket of wss.clients) socket.terminate();
        sockets.clear();
        pending = [];
        current = undefined;
        service.history.clear();
      },
    },
  );

  const service: ComfyService = Object.assign(base, {
    nodeTypes: new Set(DEFAULT_NODES),
    checkpoints: ['v1-5-pruned-emaonly.safetensors', 'sd_xl_base_1.0.safetensors'],
    stepMs: 2,
    imageBytes: 2_000,
    failAt: undefined,
    cachedNodes: [],
    choosesPromptIds: false,
    devices: [{ name: 'cuda:0 NVIDIA GeForce RTX 4090 : cudaMallocAsync', type: 'cuda', index: 0, vram_total: 25_386_352_640, vram_free: 23_000_000_000, torch_vram_total: 0, torch_vram_free: 0 }],
    statsFailure: undefined,
    refuseSockets: false,
    prompts: [],
    history: new Map(),
    files: new Map(),
    running: () => current?.prompt.id,
    sockets: () => sockets.size,
    socketsOpened: () => opened,
    dropSockets: () => {
      for (const socket of wss.clients) socket.terminate();
    },
  });
  return service;
}

/** Each node after the nodes its inputs link to (`[node id, output index]`), as ComfyUI runs them. */
function executionOrder(workflow: Workflow): string[] {
  const order: string[] = [];
  const visit = (id: string) => {
    if (order.includes(id) || !workflow[id]) return;
    for (const input of Object.values(workflow[id].inputs ?? {})) if (Array.isArray(input) && typeof input[0] === 'string') visit(input[0]);
    order.push(id);
  };
  for (const id of Object.keys(workflow)) visit(id);
  return order;
}

/** execution.py's validate_prompt, in the two ways tests need: a class it does not know, a checkpoint it does not have. */
function validate(workflow: Workflow, service: ComfyService): Record<string, unknown> | undefined {
  for (const [id, node] of Object.entries(workflow)) {
    if (!service.nodeTypes.has(node?.class_type)) {
      return {
        error: { type: 'invalid_prompt', message: `Cannot execute because node ${String(node?.class_type)} does not exist.`, details: `Node ID '#${id}'`, extra_info: {} },
        node_errors: {},
      };
    }
  }
  const nodeErrors: Record<string, unknown> = {};
  for (const [id, node] of Object.entries(workflow)) {
    const checkpoint = node.inputs?.ckpt_name;
    if (node.class_type !== 'CheckpointLoaderSimple' || service.checkpoints.includes(String(checkpoint))) continue;
    nodeErrors[id] = {
      errors: [{ type: 'value_not_in_list', message: 'Value not in list', details: `ckpt_name: '${String(checkpoint)}' not in ${JSON.stringify(service.checkpoints)}`, extra_info: { input_name: 'ckpt_name' } }],
      dependent_outputs: ['9'],
      class_type: node.class_type,
    };
  }
  if (Object.keys(nodeErrors).length === 0) return undefined;
  return { error: { type: 'prompt_outputs_failed_validation', message: 'Prompt outputs failed validation', details: '', extra_info: {} }, node_errors: nodeErrors };
}
