/**
 * The `comfyui` connector: runs a workflow on a stock ComfyUI server through its own API.
 *
 * Protocol facts it follows, from ComfyUI's `server.py`, `execution.py`, `main.py` and
 * `script_examples/websockets_api_example.py` (github.com/comfyanonymous/ComfyUI):
 * - `POST /prompt` `{ prompt, client_id, prompt_id }` queues a workflow (API format) and answers
 *   `{ prompt_id, number, node_errors }`; a workflow that fails validation answers 400 with
 *   `{ error: { type, message, details }, node_errors: { <node>: { errors: [...], class_type } } }`.
 *   Current servers take the `prompt_id` we choose; older ones answer their own, which we use.
 * - `GET /ws?clientId=ID`: JSON text messages `{ type, data }` for the prompts queued with that
 *   client id (binary frames are previews): `execution_start`, `execution_cached { nodes }`,
 *   `executing { node, display_node }`, `progress { node, value, max }`, `executed { node, output }`,
 *   `execution_success`, `execution_error { node_id, node_type, exception_type, exception_message }`,
 *   `execution_interrupted { node_id, node_type }`, then `executing { node: null }` once the
 *   prompt's history is written (which is why that, not `execution_success`, is the moment to
 *   read it). A client that reconnects with the same id gets the rest of the messages.
 * - `GET /history/{prompt_id}` -> `{ <prompt_id>: { outputs, status: { status_str, completed,
 *   messages: [[type, data]...] } } }` once the prompt finished (`{}` before). `GET /view?filename&subfolder&type`
 *   serves an output file. `GET /queue` -> `{ queue_running, queue_pending }`, items
 *   `[number, prompt_id, ...]`. `POST /interrupt` `{ prompt_id }` stops that prompt if it runs
 *   (older servers ignore the body and stop whatever runs); `POST /queue` `{ delete: [prompt_id] }` drops a queued one.
 * - `GET /system_stats` -> `{ system: { comfyui_version }, devices: [{ name, type, vram_total, vram_free }] }`, bytes.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter, on } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import { z } from 'zod';
import type { HealthReport } from '../../../machines/connector.js';
import type { Json } from '../../../machines/json.js';
import { PermanentError, ServiceError, type ConnectorImplementation, type JobRun, type RunContext } from '../connector.js';
import {
  NoAnswerError,
  isRecord,
  serverMessage,
  serviceClient,
  serviceConnector,
  type ServiceClient,
  type ServiceConnectorOptions,
  type ServiceTimeouts,
} from './service-http.js';

export interface ComfyuiTimeouts extends ServiceTimeouts {
  /** A WebSocket that dropped mid-job is reconnected for up to this long before the attempt fails as a service fault. */
  reconnectMs?: number;
}

export interface ComfyuiConnectorOptions extends ServiceConnectorOptions {
  /** The ComfyUI server, e.g. http://127.0.0.1:8188. */
  url: string;
  /** Defaults: requestMs 30 s (every HTTP call: a run's progress comes on the WebSocket), healthMs 5 s, startMs 120 s, reconnectMs 30 s. The type defaults to `comfyui`. */
  timeouts?: ComfyuiTimeouts;
  /**
   * Most bytes of output files put in one job's result when its payload asks (`download: true`);
   * files past it are listed without their bytes. Default 512 KiB, which base64 keeps under the
   * hub's default 1 MiB result limit.
   */
  maxDownloadBytes?: number;
}

const workflowSchema = z
  .record(z.string(), z.looseObject({ class_type: z.string().min(1) }))
  .refine((workflow) => Object.keys(workflow).length > 0, 'the workflow has no nodes');

export const comfyuiPayloadSchema = z.strictObject({
  /** The workflow in ComfyUI's API format: `{ "<node id>": { class_type, inputs } }`. */
  workflow: workflowSchema,
  /** Put the output files' bytes (base64) in the result. */
  download: z.boolean().default(false),
});

export type ComfyuiPayload = z.input<typeof comfyuiPayloadSchema>;
type Workflow = z.infer<typeof workflowSchema>;

interface ComfyMessage {
  type: string;
  data: Record<string, unknown>;
}

interface HistoryEntry {
  outputs: Record<string, unknown>;
  status: Record<string, unknown>;
}

/** Not ComfyUI's: told by our socket when it has reconnected, so the prompt's outcome is looked up. */
const RECONNECTED = 'statehub.reconnected';

const MiB = 1024 * 1024;

/**
 * Its calls get no rate-limit budget (service-http.ts): ComfyUI limits nobody, so a 429 comes from
 * something in front of it refusing more work for that GPU, which is a fault of the service as
 * this connector reaches it: the connector backs off and its health check says when it is back.
 */
export function comfyuiConnector(options: ComfyuiConnectorOptions): ConnectorImplementation {
  const comfy = new ComfyApi(options);
  return serviceConnector(options, { type: 'comfyui' }, {
    probe: (signal) => comfy.systemStats(signal),
    run: (job, context) => runWorkflow(comfy, job, context),
  });
}

async function runWorkflow(comfy: ComfyApi, job: JobRun, { signal, progress }: RunContext): Promise<Json> {
  const { workflow, download } = readPayload(job.payload);
  const socket = await ComfySocket.open(comfy, signal);
  let promptId: string = randomUUID();
  try {
    promptId = await comfy.queuePrompt(workflow, socket.clientId, promptId, signal);
    const entry = await followPrompt(comfy, socket, promptId, new WorkflowProgress(workflow, progress));
    const outputs = download ? await comfy.download(entry.outputs, signal) : (entry.outputs as Json);
    progress(100);
    return { prompt_id: promptId, outputs };
  } catch (error) {
    // Cancelled, timed out or lease lost: the GPU must not go on with work nobody will take.
    if (signal.aborted) await comfy.cancel(promptId);
    throw error;
  } finally {
    socket.close();
  }
}

function readPayload(payload: Json): z.infer<typeof comfyuiPayloadSchema> {
  const parsed = comfyuiPayloadSchema.safeParse(payload);
  if (!parsed.success) throw new PermanentError(`invalid comfyui payload: ${z.prettifyError(parsed.error)}`, { code: 'bad_input' });
  return parsed.data;
}

/** Follows the prompt's messages to its end; resolves with its history entry, rejects with why it failed. */
async function followPrompt(comfy: ComfyApi, socket: ComfySocket, promptId: string, tracker: WorkflowProgress): Promise<HistoryEntry> {
  for await (const [message] of socket.messages) {
    if (message.type === RECONNECTED) {
      const entry = await comfy.recover(promptId);
      if (entry) return settled(entry, promptId);
      continue;
    }
    if (message.data.prompt_id !== promptId) continue;
    const { data } = message;
    switch (message.type) {
      case 'execution_cached':
        tracker.cached(data.nodes);
        break;
      case 'executing':
        // `node: null` comes once the history is written: the documented end of a prompt.
        if (data.node === null) return settled(await comfy.history(promptId), promptId);
        tracker.executing(String(data.display_node ?? data.node));
        break;
      case 'progress':
        tracker.progress(String(data.node), Number(data.value), Number(data.max));
        break;
      case 'executed':
        tracker.executed(String(data.display_node ?? data.node));
        break;
      case 'execution_error':
        throw executionError(data);
      case 'execution_interrupted':
        throw interruptedError(promptId, data);
    }
  }
  throw new ServiceError(`ComfyUI's messages for prompt ${promptId} ended before it did`);
}

/** The entry of a finished prompt, or the failure its status records. */
function settled(entry: HistoryEntry | undefined, promptId: string): HistoryEntry {
  if (!entry) throw new ServiceError(`ComfyUI finished prompt ${promptId} but has no history of it`);
  if (entry.status.status_str !== 'error') return entry;
  const messages = Array.isArray(entry.status.messages) ? entry.status.messages : [];
  for (const item of messages) {
    if (!Array.isArray(item) || !isRecord(item[1])) continue;
    if (item[0] === 'execution_error') throw executionError(item[1]);
    if (item[0] === 'execution_interrupted') throw interruptedError(promptId, item[1]);
  }
  throw failure(`ComfyUI failed prompt ${promptId}`, 'execution_error');
}

/**
 * A node raised while running. Not a PermanentError: out of memory and other faults of the moment
 * are among these, and the job's attempts bound the retries.
 */
function executionError(data: Record<string, unknown>): Error {
  const cause = [data.exception_type, data.exception_message].filter((part) => typeof part === 'string' && part !== '').join(': ');
  return failure(`ComfyUI node ${String(data.node_id)} (${String(data.node_type)}) failed: ${cause || 'no message'}`, 'execution_error');
}

function interruptedError(promptId: string, data: Record<string, unknown>): Error {
  return failure(`ComfyUI interrupted prompt ${promptId} at node ${String(data.node_id)} (${String(data.node_type)})`, 'interrupted');
}

function failure(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

/**
 * The job's 0-100 across the workflow's nodes: each node is an equal share, the running one
 * filled by its `progress` (value of max); cached nodes count as done. Held under 100 until the
 * outputs are in.
 */
class WorkflowProgress {
  private readonly done = new Set<string>();
  private current: { node: string; fraction: number } | undefined;

  constructor(
    private readonly workflow: Workflow,
    private readonly report: RunContext['progress'],
  ) {}

  cached(nodes: unknown): void {
    if (Array.isArray(nodes)) for (const node of nodes) this.finish(String(node));
  }

  executing(node: string): void {
    if (this.current) this.finish(this.current.node);
    this.current = { node, fraction: 0 };
    this.send(this.label(node));
  }

  progress(node: string, value: number, max: number): void {
    if (!Number.isFinite(value) || !Number.isFinite(max) || max <= 0) return;
    // Progress may come from a node the workflow expanded into (its id is not ours): it fills the one running.
    const running = this.current ?? { node, fraction: 0 };
    this.current = { node: running.node, fraction: Math.min(1, Math.max(0, value / max)) };
    this.send(`${this.label(running.node)} ${value}/${max}`);
  }

  executed(node: string): void {
    this.finish(node);
    this.send(this.label(node));
  }

  private finish(node: string): void {
    if (Object.hasOwn(this.workflow, node)) this.done.add(node);
    if (this.current?.node === node) this.current = undefined;
  }

  private send(message: string): void {
    const total = Object.keys(this.workflow).length;
    const share = this.done.size + (this.current && !this.done.has(this.current.node) ? this.current.fraction : 0);
    this.report(Math.min(99, Math.floor((share / total) * 100)), message);
  }

  /** The node's title in the workflow (`_meta.title`), else its class, else its id. */
  private label(node: string): string {
    const entry = Object.hasOwn(this.workflow, node) ? this.workflow[node] : undefined;
    const meta = entry?._meta;
    if (isRecord(meta) && typeof meta.title === 'string' && meta.title !== '') return meta.title;
    return entry?.class_type ?? `node ${node}`;
  }
}

/**
 * ComfyUI's WebSocket for one client id, kept open across drops: when it closes before we close
 * it, it reconnects with the same id (ComfyUI then sends that client's messages there) and tells
 * `RECONNECTED`, for messages lost meanwhile; after `reconnectMs` without success, `messages`
 * fails with a ServiceError. Opened before the prompt is queued, so none of its messages is missed.
 */
class ComfySocket {
  readonly clientId = randomUUID();
  /** Every message from now on, in order (each item is the emitted arguments: the message alone). */
  readonly messages: AsyncIterableIterator<[ComfyMessage]>;
  private readonly stream = new EventEmitter();
  private socket: WebSocket | undefined;
  private closed = false;

  private constructor(
    private readonly comfy: ComfyApi,
    private readonly signal: AbortSignal,
  ) {
    this.messages = on(this.stream, 'message', { signal }) as AsyncIterableIterator<[ComfyMessage]>;
    // A failure told once nobody follows any more (the job ended meanwhile) must not crash the worker.
    this.stream.on('error', () => {});
  }

  static async open(comfy: ComfyApi, signal: AbortSignal): Promise<ComfySocket> {
    const socket = new ComfySocket(comfy, signal);
    try {
      await socket.connect();
      return socket;
    } catch (error) {
      socket.close();
      throw error;
    }
  }

  close(): void {
    this.closed = true;
    this.socket?.terminate();
    void this.messages.return?.();
  }

  private async connect(): Promise<void> {
    const socket = await this.comfy.openSocket(this.clientId, this.signal);
    if (this.closed) return void socket.terminate();
    this.socket = socket;
    socket.on('message', (data, isBinary) => {
      const message = isBinary ? undefined : parseMessage(String(data));
      if (message) this.stream.emit('message', message);
    });
    socket.once('close', () => {
      if (!this.closed) void this.reconnect();
    });
  }

  private async reconnect(): Promise<void> {
    const { reconnectMs } = this.comfy;
    const deadline = performance.now() + reconnectMs;
    let lastError: unknown;
    for (let delay = 100; !this.closed && !this.signal.aborted; delay = Math.min(delay * 2, 2_000)) {
      try {
        await this.connect();
        this.stream.emit('message', { type: RECONNECTED, data: {} });
        return;
      } catch (error) {
        lastError = error;
      }
      if (performance.now() + delay > deadline) break;
      await sleep(delay, undefined, { signal: this.signal }).catch(() => undefined);
    }
    if (this.closed || this.signal.aborted) return;
    const why = lastError instanceof Error ? lastError.message : String(lastError);
    this.stream.emit('error', new ServiceError(`lost ComfyUI's WebSocket mid-job and could not reconnect within ${reconnectMs} ms: ${why}`, { cause: lastError }));
  }
}

function parseMessage(text: string): ComfyMessage | undefined {
  try {
    const message: unknown = JSON.parse(text);
    if (isRecord(message) && typeof message.type === 'string') return { type: message.type, data: isRecord(message.data) ? message.data : {} };
  } catch {
    // Not JSON: nothing we follow.
  }
  return undefined;
}

/** ComfyUI's HTTP and WebSocket endpoints, through a client with this connector's headers and timeouts. */
class ComfyApi {
  /** How long a dropped WebSocket is reconnected for (`timeouts.reconnectMs`). */
  readonly reconnectMs: number;
  private readonly client: ServiceClient;
  private readonly maxDownloadBytes: number;

  constructor(options: ComfyuiConnectorOptions) {
    this.client = serviceClient(options);
    this.reconnectMs = options.timeouts?.reconnectMs ?? 30_000;
    this.maxDownloadBytes = options.maxDownloadBytes ?? 512 * 1024;
  }

  /** Bounds every HTTP call and the WebSocket's handshake: none of them waits for a run, whose progress comes over the WebSocket. */
  private get requestMs(): number {
    return this.client.timeouts.requestMs;
  }

  /** The health probe: `/system_stats`, its devices and VRAM as capabilities. */
  async systemStats(signal: AbortSignal): Promise<HealthReport> {
    const { json: stats, latencyMs } = await this.client.probe('/system_stats', signal);
    if (!isRecord(stats) || !Array.isArray(stats.devices)) throw new ServiceError(`${this.client.url('/system_stats')} is not ComfyUI's: it lists no devices`);
    return { latencyMs, capabilities: capabilitiesOf(stats) };
  }

  /** Queues the workflow; resolves with the id the server gave it. A workflow it refuses is bad input. */
  async queuePrompt(workflow: Workflow, clientId: string, promptId: string, signal: AbortSignal): Promise<string> {
    const answer = await this.client.json('/prompt', { json: { prompt: workflow, client_id: clientId, prompt_id: promptId }, signal, timeoutMs: this.requestMs, describe: describeRefusal });
    if (!isRecord(answer) || typeof answer.prompt_id !== 'string') throw new ServiceError(`ComfyUI queued the workflow without a prompt_id: ${JSON.stringify(answer).slice(0, 200)}`);
    return answer.prompt_id;
  }

  /**
   * The prompt's history entry, once written. Asked for when ComfyUI said the prompt ended, so
   * it is there; a few quick retries cover a server that answers a moment early.
   */
  async history(promptId: string): Promise<HistoryEntry | undefined> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const entry = await this.historyEntry(promptId);
      if (entry) return entry;
      await sleep(50 * 2 ** attempt);
    }
    return undefined;
  }

  /**
   * After a reconnection: undefined while the prompt is still queued or running (its messages
   * come on the new socket), else its history entry. A prompt the server no longer knows at all
   * was lost with a restart: a service fault.
   */
  async recover(promptId: string): Promise<HistoryEntry | undefined> {
    // The queue first: a prompt leaves it and enters the history in one step, so read in this order it is seen in one or the other.
    if (listed(await this.queue(), promptId)) return undefined;
    const entry = await this.historyEntry(promptId);
    if (entry) return entry;
    throw new ServiceError(`ComfyUI no longer knows prompt ${promptId}: it restarted or dropped it mid-job`);
  }

  /** Stops the prompt: interrupted if it runs, removed if it waits. Best effort: a server that does not answer runs nothing of ours we could stop. */
  async cancel(promptId: string): Promise<void> {
    const request = { timeoutMs: this.requestMs };
    try {
      const { running, pending } = await this.queue();
      if (running.includes(promptId)) await this.client.json('/interrupt', { ...request, json: { prompt_id: promptId } });
      else if (pending.includes(promptId)) await this.client.json('/queue', { ...request, json: { delete: [promptId] } });
    } catch {
      // Nothing more to do: the job is already abandoned.
    }
  }

  /** `outputs` with each output file's bytes (base64) in `data`, up to maxDownloadBytes in all; files past it get `omitted`. */
  async download(outputs: Record<string, unknown>, signal: AbortSignal): Promise<Json> {
    let budget = this.maxDownloadBytes;
    return mapFiles(outputs as Json, async (file) => {
      const bytes = await this.view(file, budget, signal);
      if (!bytes) return { ...file, omitted: `over the ${this.maxDownloadBytes}-byte download limit` };
      budget -= bytes.length;
      return { ...file, bytes: bytes.length, data: bytes.toString('base64') };
    });
  }

  /** Opens `/ws?clientId=`; resolves once open. */
  openSocket(clientId: string, signal: AbortSignal): Promise<WebSocket> {
    const url = new URL(this.client.url(`/ws?clientId=${encodeURIComponent(clientId)}`));
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    return new Promise((resolve, reject) => {
      signal.throwIfAborted();
      const socket = new WebSocket(url, { headers: this.client.headers, handshakeTimeout: this.requestMs });
      const abort = () => {
        reject(signal.reason);
        socket.terminate();
      };
      const settle = () => signal.removeEventListener('abort', abort);
      signal.addEventListener('abort', abort, { once: true });
      // An error after the opening is followed by 'close', which the owner of the socket handles.
      socket.on('error', (error) => reject(socketError(url.href, error)));
      socket.once('open', () => resolve(socket)).once('open', settle).once('close', settle);
    });
  }

  private async historyEntry(promptId: string): Promise<HistoryEntry | undefined> {
    const history = await this.client.json(`/history/${encodeURIComponent(promptId)}`, { timeoutMs: this.requestMs });
    const entry = isRecord(history) ? history[promptId] : undefined;
    if (!isRecord(entry)) return undefined;
    return { outputs: isRecord(entry.outputs) ? entry.outputs : {}, status: isRecord(entry.status) ? entry.status : {} };
  }

  private async queue(): Promise<{ running: string[]; pending: string[] }> {
    const queue = await this.client.json('/queue', { timeoutMs: this.requestMs });
    const ids = (items: unknown) => (Array.isArray(items) ? items.flatMap((item) => (Array.isArray(item) && typeof item[1] === 'string' ? [item[1]] : [])) : []);
    return { running: ids(isRecord(queue) ? queue.queue_running : undefined), pending: ids(isRecord(queue) ? queue.queue_pending : undefined) };
  }

  /** One output file's bytes, or undefined when it is over `limit` (then not read further). */
  private async view(file: FileRef, limit: number, signal: AbortSignal): Promise<Buffer | undefined> {
    const path = `/view?${new URLSearchParams({ filename: file.filename, subfolder: file.subfolder ?? '', type: file.type ?? 'output' })}`;
    const answer = await this.client.call(path, { signal, timeoutMs: this.requestMs });
    if (Number(answer.headers.get('content-length')) > limit) {
      await answer.discard();
      return undefined;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of answer.chunks()) {
      size += chunk.length;
      // Leaving the loop cancels the rest of the body.
      if (size > limit) return undefined;
      chunks.push(Buffer.from(chunk));
    }
    return Buffer.concat(chunks);
  }
}

interface FileRef {
  filename: string;
  subfolder?: string;
  type?: string;
}

/** An output item naming a file ComfyUI serves at /view (images, audio, video...). */
function isFileRef(item: unknown): item is FileRef & Record<string, Json> {
  return isRecord(item) && typeof item.filename === 'string' && (item.subfolder === undefined || typeof item.subfolder === 'string') && (item.type === undefined || typeof item.type === 'string');
}

/** `value` with each file it names replaced by what `visit` makes of it, one file at a time. */
async function mapFiles(value: Json, visit: (file: FileRef & Record<string, Json>) => Promise<Json>): Promise<Json> {
  if (isFileRef(value)) return visit(value);
  if (Array.isArray(value)) {
    const items: Json[] = [];
    for (const item of value) items.push(await mapFiles(item, visit));
    return items;
  }
  if (value === null || typeof value !== 'object') return value;
  const fields: Record<string, Json> = {};
  for (const [key, item] of Object.entries(value)) fields[key] = await mapFiles(item, visit);
  return fields;
}

function listed(queue: { running: string[]; pending: string[] }, promptId: string): boolean {
  return queue.running.includes(promptId) || queue.pending.includes(promptId);
}

/** What ComfyUI says about a refused workflow: the error, then each node's errors. */
function describeRefusal(body: unknown): string | undefined {
  if (!isRecord(body)) return serverMessage(body);
  const parts: string[] = [];
  const { error, node_errors: nodeErrors } = body;
  if (isRecord(error)) parts.push(joinText([error.message, error.details], ': '));
  else if (typeof error === 'string') parts.push(error);
  for (const [node, info] of Object.entries(isRecord(nodeErrors) ? nodeErrors : {})) {
    if (!isRecord(info) || !Array.isArray(info.errors)) continue;
    const errors = info.errors.filter(isRecord).map((item) => joinText([item.message, item.details], ': '));
    parts.push(`node ${node} (${String(info.class_type)}): ${errors.join(', ')}`);
  }
  const text = parts.filter(Boolean).join('; ');
  return text === '' ? undefined : text;
}

function joinText(parts: unknown[], separator: string): string {
  return parts.filter((part): part is string => typeof part === 'string' && part !== '').join(separator);
}

/** `/system_stats` as capabilities: the devices, and `vram` (MiB of the largest GPU, 0 without one) for requirements such as `{ vram: 8000 }`. */
function capabilitiesOf(stats: Record<string, unknown>): Record<string, Json> {
  const devices = (stats.devices as unknown[]).filter(isRecord).map((device) => ({
    name: String(device.name ?? ''),
    type: String(device.type ?? ''),
    vramTotal: Number(device.vram_total) || 0,
    vramFree: Number(device.vram_free) || 0,
  }));
  // A CPU "device" reports the machine's RAM as its VRAM: not what a job asking for VRAM means.
  const vram = Math.max(0, ...devices.filter((device) => device.type !== 'cpu').map((device) => Math.floor(device.vramTotal / MiB)));
  const version = isRecord(stats.system) && typeof stats.system.comfyui_version === 'string' ? stats.system.comfyui_version : undefined;
  return { comfyui: { ...(version === undefined ? {} : { version }), devices }, vram };
}

function socketError(url: string, error: Error): Error {
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && code.startsWith('E')) return new NoAnswerError(`cannot reach ${url}: ${code}`, code, { cause: error });
  if (/handshake has timed out/i.test(error.message)) return new NoAnswerError(`${url} gave no answer: ${error.message}`, 'ETIMEDOUT', { cause: error });
  return new ServiceError(`${url}: ${error.message}`, { cause: error });
}
