/**
 * Issue 14, point 5, over Socket.IO: hostile handshakes on /monitor and /worker, anything a
 * monitor emits, every worker event with malformed and adversarial payloads, and legitimate worker
 * reports replayed, duplicated and reordered. Whatever comes in:
 *
 * - every message sent with an ack gets an answer (`{ ok }`, `{ resync }`, a registration, or
 *   `{ error: { code, message } }`), never a hang, and never the hub failing on it (`internal`,
 *   `unavailable`: the socket's 5xx); a handshake is refused with `connect_error` data
 *   `{ code, message }` or connects and syncs;
 * - a socket is not dropped for a well-sized message;
 * - a job changes only as its lease holder's current attempt says, as the job machine allows
 *   (completed at most once), with no seq gaps, as the monitor that watched it all saw;
 * - afterwards the hub answers, a new monitor gets its snapshot, and a fresh job completes.
 *
 * Workers here are spoken by hand (test/helpers/raw-worker.ts), in whichever report format the
 * hub's own schemas define (with or without the attempt). Inputs that may break a hub for good
 * (deep nesting) are tried each on a hub of its own, so the smallest counterexample is the input
 * that did it.
 *
 * Reproducible: a fixed seed (FUZZ_SEED overrides it; FUZZ_SCALE multiplies the runs).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHub, type ActorRecord, type Hub, type Snapshot } from 'statehub';
import { createWorker, simulationConnector } from 'statehub/worker';
import { recordHub, type HubRecording } from 'statehub/testing';
import { byId } from '../helpers/hub.js';
import { RawClient, RawJson, RawWorker, idleSnapshot, jobRef } from '../helpers/raw-worker.js';
import {
  FAILURE_CODES,
  NASTY_KEYS,
  arrayOf,
  deepShape,
  deepText,
  depth,
  errorBodyProblem,
  fuzzParameters,
  isErrorBody,
  isRecord,
  jobHistoryProblems,
  jsonText,
  keyText,
  nastyString,
  numberText,
  objectOf,
  preview,
  safeParse,
  validIdText,
  valueText,
  type DeepShape,
} from './arbitraries.js';

/** Loose timings: workers spoken by hand send no heartbeats, and a hub busy with garbage must not take them for gone. */
const TIMINGS = { heartbeatMs: 1_000, staleAfterMs: 300_000, offlineAfterMs: 600_000 };
const TEST_TIMEOUT = 120_000;
const PATIENCE_MS = 5_000;

const testName = () => expect.getState().currentTestName ?? '';

/**
 * What the hub threw that nothing caught. The hub runs in this process: vitest catches such an
 * error, where it would end a real hub's process.
 */
const thrown: string[] = [];
const noteThrown = (error: unknown) => thrown.push(preview((error as Error)?.stack ?? error, 1_500));
/** Lets what the last message set off (broadcasts run on setImmediate) happen. */
const settleEvents = () => new Promise<void>((resolve) => setImmediate(() => setImmediate(resolve)));

// ---------------------------------------------------------------------------------------------
// HTTP, for the jobs the workers here get
// ---------------------------------------------------------------------------------------------

async function http(hub: Hub, method: string, path: string, body?: unknown): Promise<{ status: number; body: any; text: string }> {
  for (let attempt = 0; ; attempt++) {
    const response = await fetch(hub.url + path, { method, ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }) });
    const text = await response.text();
    // Busy (a rate limit, the store): the fixtures must happen whatever the garbage did.
    if ((response.status === 429 || response.status === 503) && attempt < 50) {
      await sleep(100);
      continue;
    }
    return { status: response.status, body: safeParse(text), text };
  }
}

async function submitJob(hub: Hub, job: Record<string, unknown>): Promise<ActorRecord> {
  const answer = await http(hub, 'POST', '/api/jobs', job);
  if (answer.status !== 201) throw new Error(`could not submit ${JSON.stringify(job)}: ${answer.status} ${answer.text}`);
  return answer.body;
}

async function getJob(hub: Hub, id: string): Promise<ActorRecord> {
  const answer = await http(hub, 'GET', `/api/jobs/${encodeURIComponent(id)}`);
  if (answer.status !== 200) throw new Error(`GET /api/jobs/${id}: ${answer.status} ${preview(answer.text)}`);
  return answer.body;
}

const context = (record: ActorRecord) => record.snapshot.context as Record<string, any>;
const FINAL = new Set(['completed', 'failed', 'cancelled']);

/** Cancels the job unless it is over, so its connector is free for the next run. */
async function finish(hub: Hub, id: string): Promise<void> {
  const job = await getJob(hub, id);
  if (FINAL.has(job.state)) return;
  const answer = await http(hub, 'POST', `/api/jobs/${encodeURIComponent(id)}/cancel`);
  if (answer.status !== 200 && answer.status !== 409) throw new Error(`cancel ${id}: ${answer.status} ${answer.text}`);
}

// ---------------------------------------------------------------------------------------------
// What an answer must look like
// ---------------------------------------------------------------------------------------------

/** Why `answer` is not a clear answer to `event`; undefined when it is. */
function answerProblem(event: string, answer: unknown): string | undefined {
  if (isErrorBody(answer)) {
    const problem = errorBodyProblem(answer);
    if (problem) return problem;
    if (FAILURE_CODES.has(answer.error.code)) return `the hub failed on it (${answer.error.code}: ${answer.error.message})`;
    return undefined;
  }
  switch (event) {
    case 'register':
      return isRecord(answer) && typeof answer.sessionId === 'string' ? undefined : `not a registration: ${preview(answer)}`;
    case 'heartbeat':
      return isRecord(answer) && typeof answer.resync === 'boolean' ? undefined : `not { resync }: ${preview(answer)}`;
    case 'drain':
    case 'connector':
    case 'job:started':
    case 'job:progress':
    case 'job:completed':
    case 'job:failed':
    case 'job:rejected':
      return isRecord(answer) && typeof answer.ok === 'boolean' ? undefined : `not { ok }: ${preview(answer)}`;
    default:
      return `an unknown event was answered with ${preview(answer)}, not an error`;
  }
}

/** Why the answer to a `reports` batch of `events` is not an answer per report, each clear. */
function batchProblem(events: readonly string[], answer: unknown): string | undefined {
  if (isErrorBody(answer)) return answerProblem('reports', answer);
  if (!Array.isArray(answer)) return `a reports batch was answered with ${preview(answer)}, not an answer per report`;
  if (answer.length !== events.length) return `${events.length} reports got ${answer.length} answers: ${preview(answer)}`;
  for (const [index, item] of answer.entries()) {
    const event = events[index] as string;
    const known = ['heartbeat', 'connector', 'job:started', 'job:progress', 'job:completed', 'job:failed', 'job:rejected'].includes(event);
    const problem = known ? answerProblem(event, item) : isErrorBody(item) ? answerProblem(event, item) : `the unknown report "${event}" was answered with ${preview(item)}`;
    if (problem) return `report ${index} (${event}): ${problem}`;
  }
  return undefined;
}

/** Sends `event` with one raw JSON argument and an ack; the answer, or a rejection saying none came. */
async function ask(client: RawClient, event: string, payload: string, timeoutMs = PATIENCE_MS): Promise<unknown> {
  try {
    return await client.call(event, [new RawJson(payload)], timeoutMs);
  } catch (error) {
    throw new Error(`${event} ${preview(payload, 300)}: no answer within ${timeoutMs} ms (${(error as Error).message}; connected: ${client.connected}, ${client.disconnectReason ?? ''})`);
  }
}

/**
 * `ask`, again while the answer is `rate_limited` (after the wait it names): for the suite's own
 * steps, which must happen whatever the rate limit thinks of the fuzzing around them.
 */
async function askPatiently(client: RawClient, event: string, payload: string): Promise<unknown> {
  for (let attempt = 0; ; attempt++) {
    const answer = await ask(client, event, payload);
    if (!isErrorBody(answer) || answer.error.code !== 'rate_limited' || attempt >= 20) return answer;
    const details = (answer.error as { details?: { retryAfterMs?: number } }).details;
    await sleep(Math.min((details?.retryAfterMs ?? 1_000) + 10, 2_000));
  }
}

/** Keeps one socket under the hub's per-socket message rate (2,000 a second by default): a flood is refused, and these properties are about what each message does. */
const pace = () => sleep(1);

// ---------------------------------------------------------------------------------------------
// Fixtures: one hub, hand-spoken workers, a monitor watching it all
// ---------------------------------------------------------------------------------------------

let hub: Hub;
let recording: HubRecording;
/** Serves `fz-a`; holds `held` while the malformed messages fly. */
let w1: RawWorker;
/** Serves `fz-b`. */
let w2: RawWorker;
/** Serves `fz-c`: the jobs whose attempts are replayed. */
let w3: RawWorker;
/** The fuzzer's own worker: holds nothing, serves `g-type` (no job has it). */
let g: RawWorker;
/** A job held (running) by w1 while other sockets fuzz: nothing they send may move it. */
let held: ActorRecord;
/** Jobs that are over (completed, failed, cancelled), for replays. */
const over: string[] = [];

async function rawWorker(hubUrl: string, workerId: string, machineId: string, connectorId: string, type: string, extra: Record<string, unknown> = {}): Promise<RawWorker> {
  const worker = await RawWorker.connect(hubUrl);
  await worker.register({ workerId, machineId, connectors: [{ id: connectorId, type, snapshot: await idleSnapshot(connectorId, type) }], ...extra });
  return worker;
}

beforeAll(async () => {
  process.on('uncaughtException', noteThrown);
  process.on('unhandledRejection', noteThrown);
  hub = await startHub({ port: 0, logger: false, timings: TIMINGS });
  recording = await recordHub(hub.url);
  w1 = await rawWorker(hub.url, 'fz-w1', 'fz-m1', 'fz-w1/a', 'fz-a');
  w2 = await rawWorker(hub.url, 'fz-w2', 'fz-m2', 'fz-w2/b', 'fz-b');
  w3 = await rawWorker(hub.url, 'fz-w3', 'fz-m3', 'fz-w3/c', 'fz-c');
  g = await rawWorker(hub.url, 'g-fuzz', 'g-machine', 'g-fuzz/c', 'g-type');
  held = await submitJob(hub, { type: 'fz-a', maxAttempts: 1, payload: { held: true } });
  const assignment = await w1.assignment(held.id);
  expect(await askPatiently(w1, 'job:started', JSON.stringify(jobRef(held.id, assignment.attempt)))).toEqual({ ok: true });
  held = await getJob(hub, held.id);
  expect(held.state).toBe('running');
}, 60_000);

afterAll(async () => {
  process.off('uncaughtException', noteThrown);
  process.off('unhandledRejection', noteThrown);
  for (const client of [w1, w2, w3, g]) client?.close();
  recording?.close();
  await hub?.close();
});

// ---------------------------------------------------------------------------------------------
// Arbitraries for the worker protocol
// ---------------------------------------------------------------------------------------------

const WORKER_EVENTS = ['register', 'heartbeat', 'connector', 'drain', 'job:started', 'job:progress', 'job:completed', 'job:failed', 'job:rejected'] as const;
const REPORT_EVENTS = ['heartbeat', 'connector', 'job:started', 'job:progress', 'job:completed', 'job:failed', 'job:rejected'] as const;
const ODD_EVENTS = ['job:assign', 'job:abort', 'hello', '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'JOB:STARTED', 'job:started ', '', 'reports\u0000', 'x'.repeat(1_000)];

/** A field's value: the right thing (given), or something odd. */
const oddOr = (right: fc.Arbitrary<string>) => fc.oneof({ weight: 3, arbitrary: right }, { weight: 2, arbitrary: valueText }, { weight: 1, arbitrary: numberText });

/**
 * A payload for `event` as JSON text: its fields, each right or odd, some dropped, nasty keys
 * added, or the whole payload anything at all. `ids` are job ids worth naming (held by another
 * worker, over, unknown).
 */
function payloadText(event: string, ids: readonly string[], snapshotText: string): fc.Arbitrary<string> {
  const jobId = oddOr(fc.constantFrom(...ids, 'job_unknown', 'g-fuzz/c').map((id) => JSON.stringify(id)));
  const attempt = oddOr(fc.constantFrom('1', '2', '0', '-1', '1000000', '1000001', '1.5'));
  const snapshot = fc.oneof(
    { weight: 2, arbitrary: fc.constant(snapshotText) },
    { weight: 2, arbitrary: fc.tuple(keyText, valueText).map(([key, value]) => `${snapshotText.slice(0, -1)},${key}:${value}}`) },
    {
      weight: 2,
      arbitrary: fc
        .record({ status: oddOr(fc.constantFrom('"active"', '"done"', '"error"', '"stopped"')), value: oddOr(fc.constantFrom('"idle"', '{"idle":"ready"}', '{"active":"running"}', '{"__proto__":"x"}', '{}')), context: oddOr(fc.constant('{}')), children: oddOr(fc.constant('{}')) }, { requiredKeys: [] })
        .map((fields) => objectOf(Object.entries(fields).map(([key, value]): [string, string] => [JSON.stringify(key), value as string]))),
    },
    { weight: 1, arbitrary: valueText },
  );
  const fields = ((): Record<string, fc.Arbitrary<string>> => {
    switch (event) {
      case 'register':
        return {
          workerId: oddOr(fc.constantFrom('"g-fuzz"', '"fz-w1"', '"u-other"', '"g-machine"', '""', `"${'w'.repeat(201)}"`)),
          machineId: oddOr(fc.constantFrom('"g-machine"', '"g-machine-2"', '"fz-m1"', '"fz-w1"', '"g-fuzz"')),
          capabilities: oddOr(fc.oneof(fc.constant('{}'), fc.array(fc.tuple(keyText, valueText), { maxLength: 3 }).map(objectOf))),
          connectors: oddOr(
            fc
              .array(
                fc.record({ id: oddOr(fc.constantFrom('"g-fuzz/c"', '"g-fuzz/d"', '"fz-w1/a"', '"g-fuzz"')), type: oddOr(fc.constantFrom('"g-type"', '"g-other"', '""', '"-x"')), snapshot }).map(({ id, type, snapshot: snap }) => `{"id":${id},"type":${type},"snapshot":${snap}}`),
                { maxLength: 3 },
              )
              .map(arrayOf),
          ),
          resume: oddOr(fc.constantFrom('{"sessionId":"nope","jobs":[]}', `{"sessionId":"x","jobs":[{"jobId":${JSON.stringify(ids[0] ?? 'job_unknown')},"connectorId":"fz-w1/a"}]}`, '{"sessionId":"","jobs":[]}')),
          draining: oddOr(fc.constantFrom('true', 'false')),
        };
      case 'connector':
        return { id: oddOr(fc.constantFrom('"g-fuzz/c"', '"fz-w1/a"', '"nobody"')), snapshot };
      case 'job:started':
        return { jobId, attempt };
      case 'job:progress':
        return { jobId, attempt, progress: oddOr(numberText) };
      case 'job:completed':
        return { jobId, attempt, result: valueText };
      case 'job:failed':
        return { jobId, attempt, error: oddOr(fc.oneof(nastyString.map((message) => JSON.stringify({ message })), fc.constant('{"message":1}'))), retryable: oddOr(fc.constantFrom('true', 'false')) };
      case 'job:rejected':
        return { jobId, attempt, reason: oddOr(nastyString.map((reason) => JSON.stringify(reason))) };
      default:
        return {};
    }
  })();
  const structured = fc
    .tuple(fc.record(fields, { requiredKeys: [] }), fc.array(fc.tuple(fc.constantFrom(...NASTY_KEYS).map((key) => JSON.stringify(key)), valueText), { maxLength: 2 }))
    .map(([known, extra]) => objectOf([...Object.entries(known).map(([key, value]): [string, string] => [JSON.stringify(key), value as string]), ...extra]));
  return fc.oneof({ weight: 4, arbitrary: structured }, { weight: 1, arbitrary: valueText });
}

// ---------------------------------------------------------------------------------------------
// The suite
// ---------------------------------------------------------------------------------------------

describe('hostile Socket.IO traffic (issue 14)', () => {
  it('the /monitor handshake: any auth is refused with connect_error { code, message }, or connects and syncs', async () => {
    const offset = ((await http(hub, 'GET', '/api/snapshot')).body as Snapshot).offset;
    const ids = fc.oneof(
      fc.array(fc.constantFrom('fz-w1', 'g-fuzz', held.id, 'nobody', '', ' ', 'x'.repeat(201), '\u0000').map((id) => JSON.stringify(id)), { minLength: 0, maxLength: 5 }).map(arrayOf),
      fc.integer({ min: 9_990, max: 20_000 }).map((count) => ({ count })),
    );
    const filter = fc.oneof(
      fc.record({ kinds: oddOr(fc.array(fc.constantFrom('"job"', '"worker"', '"machine"', '"connector"', '"probe"', '"jobs"', '""'), { maxLength: 4 }).map(arrayOf)), ids, extra: fc.option(fc.tuple(keyText, valueText)) }, { requiredKeys: [] }),
      valueText,
    );
    const since = oddOr(fc.constantFrom(offset, '0-0', '0', '', 'x'.repeat(201), '99999999999999999999-0', 'abc'));
    type AuthInput = string | { token?: string; since?: string; filter?: unknown; deep?: { depth: number; shape: DeepShape } };
    // Well-formed (the hub goes on to serve it: odd offsets, long id lists), malformed, not an object, too deep.
    const wellFormed = fc.record(
      {
        token: nastyString.map((token) => JSON.stringify(token)),
        since: fc.oneof(fc.constantFrom(offset, '0-0', '0', 'abc', '99999999999999999999-0', '1-1', '-1'), validIdText).map((text) => JSON.stringify(text)),
        filter: fc.record(
          {
            kinds: fc.uniqueArray(fc.constantFrom('job', 'worker', 'machine', 'connector', 'probe'), { minLength: 1, maxLength: 5 }).map((kinds) => JSON.stringify(kinds)),
            ids: fc.oneof(fc.array(validIdText.map((id) => JSON.stringify(id)), { minLength: 1, maxLength: 5 }).map(arrayOf), fc.integer({ min: 1, max: 10_000 }).map((count) => ({ count }))),
          },
          { requiredKeys: [] },
        ),
      },
      { requiredKeys: [] },
    );
    const auth: fc.Arbitrary<AuthInput> = fc.oneof(
      { weight: 3, arbitrary: wellFormed },
      { weight: 3, arbitrary: fc.record({ token: oddOr(nastyString.map((token) => JSON.stringify(token))), since, filter }, { requiredKeys: [] }) },
      { weight: 1, arbitrary: valueText },
      { weight: 1, arbitrary: fc.record({ deep: fc.record({ depth, shape: deepShape }) }) },
    );
    const render = (input: AuthInput): string => {
      if (typeof input === 'string') return input;
      if (input.deep) return `{"filter":${deepText(input.deep.depth, input.deep.shape)}}`;
      const entries: Array<[string, string]> = [];
      if (input.token !== undefined) entries.push(['"token"', input.token]);
      if (input.since !== undefined) entries.push(['"since"', input.since]);
      if (input.filter !== undefined) {
        if (typeof input.filter === 'string') entries.push(['"filter"', input.filter]);
        else {
          const { kinds, ids: idList, extra } = input.filter as { kinds?: string; ids?: string | { count: number }; extra?: [string, string] | null };
          const parts: Array<[string, string]> = [];
          if (kinds !== undefined) parts.push(['"kinds"', kinds]);
          if (idList !== undefined) parts.push(['"ids"', typeof idList === 'string' ? idList : arrayOf(Array.from({ length: idList.count }, (_, index) => `"i${index}"`))]);
          if (extra) parts.push(extra);
          entries.push(['"filter"', objectOf(parts)]);
        }
      }
      return objectOf(entries);
    };
    await fc.assert(
      fc.asyncProperty(auth, async (input) => {
        const text = render(input);
        const client = new RawClient(hub.url, '/monitor', { auth: new RawJson(text) });
        try {
          const handshake = await client.handshake(PATIENCE_MS);
          const parsed = safeParse(text);
          const anObject = isRecord(parsed);
          if (handshake.outcome === 'connected') {
            await client.until(() => client.all('synced').length > 0 || client.disconnectReason !== undefined, 'synced');
            if (client.all('synced').length === 0) throw new Error(`auth ${preview(text)}: connected, then dropped (${client.disconnectReason}) before it was synced`);
            if (client.errors.length > 0) throw new Error(`auth ${preview(text)}: connected, then got errors ${preview(client.errors)}`);
          } else if (handshake.outcome === 'refused') {
            const problem = errorBodyProblem({ error: handshake.data });
            if (problem) throw new Error(`auth ${preview(text)}: refused with data that is not { code, message }: ${problem}`);
            const code = (handshake.data as { code: string }).code;
            if (FAILURE_CODES.has(code)) throw new Error(`auth ${preview(text)}: the hub failed on it (${code}: ${(handshake.data as { message: string }).message})`);
          } else if (anObject) {
            // Only what is not an object may be refused by Socket.IO itself, before the hub sees it.
            throw new Error(`auth ${preview(text)}: neither connected nor refused (${JSON.stringify(handshake)})`);
          }
        } finally {
          client.close();
        }
      }),
      fuzzParameters(testName(), 250),
    );
  }, TEST_TIMEOUT);

  it('a monitor that emits anything (any name, any payload, with or without an ack) is refused with an error and stays connected', async () => {
    const monitor = new RawClient(hub.url, '/monitor', { auth: {} });
    await monitor.connect();
    try {
      const input = fc.record({
        event: fc.oneof(fc.constantFrom('snapshot', 'transitions', 'synced', 'error', 'register', 'job:completed', 'subscribe', '__proto__', 'constructor', 'toString', ''), nastyString),
        payload: valueText,
        ack: fc.boolean(),
      });
      await fc.assert(
        fc.asyncProperty(input, async ({ event, payload, ack }) => {
          await pace();
          const errorsBefore = monitor.errors.length;
          if (ack) {
            const answer = await ask(monitor, event, payload);
            const problem = isErrorBody(answer) ? answerProblem(event, answer) : `answered ${preview(answer)}, not an error`;
            if (problem) throw new Error(`monitor emitted ${JSON.stringify(event)} ${preview(payload)}: ${problem}`);
          } else {
            monitor.send(event, [new RawJson(payload)]);
            await monitor.until(() => monitor.errors.length > errorsBefore || !monitor.connected, `an error event for ${JSON.stringify(event)}`);
            const problem = errorBodyProblem(monitor.errors.at(-1));
            if (problem) throw new Error(`monitor emitted ${JSON.stringify(event)} ${preview(payload)} without an ack: ${problem}`);
          }
          if (!monitor.connected) throw new Error(`monitor emitted ${JSON.stringify(event)} ${preview(payload)}: disconnected (${monitor.disconnectReason})`);
        }),
        fuzzParameters(testName(), 200),
      );
    } finally {
      monitor.close();
    }
  }, TEST_TIMEOUT);

  it('the /worker handshake: any auth is refused with connect_error { code, message }, or connects', async () => {
    const auth = fc.oneof(fc.record({ token: oddOr(nastyString.map((token) => JSON.stringify(token))), extra: fc.option(fc.tuple(keyText, valueText)) }, { requiredKeys: [] }).map(({ token, extra }) => objectOf([...(token === undefined ? [] : [['"token"', token] as [string, string]]), ...(extra ? [extra] : [])])), valueText);
    await fc.assert(
      fc.asyncProperty(auth, async (text) => {
        const client = new RawWorker(hub.url, { auth: new RawJson(text) });
        try {
          const handshake = await client.handshake(PATIENCE_MS);
          if (handshake.outcome === 'refused') {
            const problem = errorBodyProblem({ error: handshake.data });
            if (problem) throw new Error(`auth ${preview(text)}: refused with data that is not { code, message }: ${problem}`);
            if (FAILURE_CODES.has((handshake.data as { code: string }).code)) throw new Error(`auth ${preview(text)}: the hub failed on it: ${preview(handshake.data)}`);
          } else if (handshake.outcome !== 'connected' && isRecord(safeParse(text))) {
            throw new Error(`auth ${preview(text)}: neither connected nor refused (${JSON.stringify(handshake)})`);
          }
        } finally {
          client.close();
        }
      }),
      fuzzParameters(testName(), 100),
    );
  }, TEST_TIMEOUT);

  it('packets Socket.IO itself refuses (reserved or non-string event names, empty events) cost only their own connection', async () => {
    const packets = fc.constantFrom('["newListener",1]', '["removeListener","x"]', '["disconnect"]', '["connect"]', '["connect_error"]', '["disconnecting"]', '[]', '[null]', '[{"a":1}]', '[["x"]]', '[true]', '[1.5]', '[1]', '["__proto__"]');
    await fc.assert(
      fc.asyncProperty(packets, fc.constantFrom('/monitor', '/worker'), async (packet, namespace) => {
        const client = new RawClient(hub.url, namespace, { auth: {} });
        try {
          await client.connect();
          // Answered (a number is an event name the hub refuses) or the connection closed by Socket.IO.
          const answer = await client.callPacket(packet, 1_000).catch(() => undefined);
          if (answer !== undefined && !isErrorBody(answer)) throw new Error(`${namespace} ${packet}: answered ${preview(answer)}`);
        } finally {
          client.close();
        }
        for (const other of [w1, w2, w3, g]) if (!other.connected) throw new Error(`${namespace} ${packet}: worker socket ${other.socket.id} was dropped (${other.disconnectReason})`);
        const health = await http(hub, 'GET', '/healthz');
        if (health.status !== 200) throw new Error(`${namespace} ${packet}: /healthz answered ${health.status}`);
      }),
      fuzzParameters(testName(), 30),
    );
  }, TEST_TIMEOUT);

  it('before registering, every event with any payload is answered clearly; a registration that is valid opens a session', async () => {
    const ids = [held.id];
    const snapshotText = JSON.stringify(await idleSnapshot('u-conn', 'g-type'));
    const message = fc.oneof(
      { weight: 8, arbitrary: fc.constantFrom(...WORKER_EVENTS).chain((event) => payloadText(event, ids, snapshotText).map((payload) => ({ event, payload }))) },
      { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...ODD_EVENTS), valueText).map(([event, payload]) => ({ event, payload })) },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(message, { minLength: 1, maxLength: 3 }), async (messages) => {
        const client = new RawWorker(hub.url);
        try {
          await client.connect();
          for (const { event, payload } of messages) {
            // A valid registration here takes the id it names: never one of the workers the other properties rely on.
            const named = safeParse(payload);
            if (event === 'register' && isRecord(named) && ['fz-w1', 'fz-w2', 'fz-w3', 'g-fuzz'].includes(named.workerId as string) && !['g-machine-2', 'u-elsewhere'].includes(named.machineId as string)) continue;
            const answer = await ask(client, event, payload);
            const problem = answerProblem(event, answer);
            if (problem) throw new Error(`unregistered ${event} ${preview(payload)}: ${problem}`);
            if (!client.connected) throw new Error(`unregistered ${event} ${preview(payload)}: dropped (${client.disconnectReason})`);
          }
        } finally {
          client.close();
        }
      }),
      fuzzParameters(testName(), 150),
    );
  }, TEST_TIMEOUT);

  it('after a valid registration, every worker event with malformed, odd or hostile payloads (alone, without an ack, or in reports batches) is answered clearly, the socket stays, and the job another worker runs does not move', async () => {
    const snapshotText = JSON.stringify(await idleSnapshot('g-fuzz/c', 'g-type'));
    const ids = [held.id, ...over.slice(-5)];
    type Sent = { event: string; payload: string; via: 'ack' | 'noack' | 'batch'; batch: Array<[string, string]> };
    const events = fc.oneof({ weight: 9, arbitrary: fc.constantFrom<string>(...WORKER_EVENTS, 'reports') }, { weight: 1, arbitrary: fc.constantFrom(...ODD_EVENTS) });
    const reportItem = fc.oneof({ weight: 6, arbitrary: fc.constantFrom<string>(...REPORT_EVENTS) }, { weight: 1, arbitrary: fc.constantFrom('register', 'drain', 'nope', '__proto__') }).chain((event) => payloadText(event, ids, snapshotText).map((payload): [string, string] => [event, payload]));
    const sent: fc.Arbitrary<Sent> = events.chain((event) =>
      fc.record({
        event: fc.constant(event),
        payload: event === 'reports' ? fc.oneof({ weight: 1, arbitrary: valueText }, { weight: 5, arbitrary: fc.constant('') }) : payloadText(event, ids, snapshotText),
        via: fc.constantFrom<Sent['via']>('ack', 'ack', 'noack'),
        batch: event === 'reports' ? fc.oneof({ weight: 8, arbitrary: fc.array(reportItem, { minLength: 1, maxLength: 6 }) }, { weight: 1, arbitrary: fc.constantFrom(1_000, 1_001).map((count) => Array.from({ length: count }, (): [string, string] => ['heartbeat', '{}'])) }) : fc.constant([]),
      }),
    );
    const heldBefore = await getJob(hub, held.id);
    await fc.assert(
      fc.asyncProperty(sent, async ({ event, payload, via, batch }) => {
        await pace();
        const thrownBefore = thrown.length;
        const errorsBefore = g.errors.length;
        const text = event === 'reports' && payload === '' ? arrayOf(batch.map(([name, body]) => `[${JSON.stringify(name)},${body}]`)) : payload;
        const what = `${event} ${preview(text, 400)}${via === 'noack' ? ' (no ack)' : ''}`;
        if (via === 'noack') {
          g.send(event, [new RawJson(text)]);
          // The next call is answered after it: the socket handles its messages in order.
          const answer = await ask(g, 'heartbeat', '{}');
          const problem = answerProblem('heartbeat', answer);
          if (problem) throw new Error(`${what}, then heartbeat: ${problem}`);
        } else {
          const answer = await ask(g, event, text);
          const problem = event === 'reports' && payload === '' ? batchProblem(batch.map(([name]) => name), answer) : answerProblem(event, answer);
          if (problem) throw new Error(`${what}: ${problem}`);
        }
        if (!g.connected) throw new Error(`${what}: the hub dropped the worker's socket (${g.disconnectReason})`);
        for (const body of g.errors.slice(errorsBefore)) {
          const problem = isErrorBody(body) ? answerProblem(event, body) : `an error event that is not { error: { code, message } }: ${preview(body)}`;
          if (problem) throw new Error(`${what}: ${problem}`);
        }
        await settleEvents();
        if (thrown.length > thrownBefore) throw new Error(`${what}: the hub threw what nothing caught:\n${thrown.slice(thrownBefore).join('\n')}`);
      }),
      fuzzParameters(testName(), 500),
    );
    const heldAfter = await getJob(hub, held.id);
    expect({ state: heldAfter.state, seq: heldAfter.seq }, 'the job w1 runs').toEqual({ state: heldBefore.state, seq: heldBefore.seq });
    // Done with it: its connector is needed next.
    await finish(hub, held.id);
    over.push(held.id);
  }, TEST_TIMEOUT);

  describe('legitimate reports replayed, duplicated and reordered', () => {
    type Kind = 'started' | 'progress' | 'completed' | 'failed' | 'rejected';
    interface Step {
      /** Who sends it: the job's lease holder, or the other worker. */
      from: 'holder' | 'other';
      /** About which job: one of the two running now, one that is over, or none the hub knows. */
      job: 'first' | 'second' | 'over' | 'unknown';
      kind: Kind;
      progress: number;
      /** JSON text of a result. */
      result: string;
      message: string;
      retryable: boolean | undefined;
      /** Where the protocol names attempts: the right one, or one the hub never gave. */
      attempt: 'current' | 'stale';
      via: 'ack' | 'batch' | 'noack';
      times: 1 | 2;
    }
    const step: fc.Arbitrary<Step> = fc.record({
      from: fc.constantFrom('holder', 'holder', 'other'),
      job: fc.constantFrom('first', 'first', 'second', 'over', 'unknown'),
      kind: fc.constantFrom<Kind>('started', 'started', 'progress', 'completed', 'failed', 'rejected'),
      progress: fc.oneof(fc.integer({ min: -10, max: 110 }), fc.constantFrom(1e308, -1e308, 5e-324, 0.5, 99.999)),
      result: valueText,
      message: nastyString,
      retryable: fc.constantFrom(undefined, true, false),
      attempt: fc.constantFrom('current', 'current', 'current', 'stale'),
      via: fc.constantFrom('ack', 'ack', 'batch', 'noack'),
      times: fc.constantFrom(1, 1, 2),
    }) as fc.Arbitrary<Step>;

    const EVENT: Record<Kind, string> = { started: 'job:started', progress: 'job:progress', completed: 'job:completed', failed: 'job:failed', rejected: 'job:rejected' };

    /** The report as JSON text. */
    function reportText(s: Step, jobId: string, attempt: number): string {
      const ref = JSON.stringify(jobRef(jobId, s.attempt === 'current' ? attempt : attempt + 1)).slice(1, -1);
      switch (s.kind) {
        case 'started':
          return `{${ref}}`;
        case 'progress':
          return `{${ref},"progress":${JSON.stringify(s.progress)}}`;
        case 'completed':
          return `{${ref},"result":${s.result}}`;
        case 'failed':
          return `{${ref},"error":${JSON.stringify({ message: s.message })}${s.retryable === undefined ? '' : `,"retryable":${s.retryable}`}}`;
        case 'rejected':
          return `{${ref},"reason":${JSON.stringify(s.message)}}`;
      }
    }

    /** What a job of one attempt (maxAttempts 1) becomes under its holder's well-formed reports, as the job machine says. */
    interface Expected {
      state: 'assigned' | 'running' | 'completed' | 'failed';
      progress: number;
      result: string;
      error: string | null;
    }
    function apply(job: Expected, s: Step): void {
      if (job.state === 'assigned') {
        if (s.kind === 'started') job.state = 'running';
      } else if (job.state === 'running') {
        if (s.kind === 'progress') job.progress = Math.min(100, Math.max(0, s.progress));
        if (s.kind === 'completed') Object.assign(job, { state: 'completed', progress: 100, result: JSON.stringify(JSON.parse(s.result)) });
      } else {
        return;
      }
      // One attempt: a failure, retryable or not, and a lease given back are the end.
      if (s.kind === 'failed' || s.kind === 'rejected') Object.assign(job, { state: 'failed', error: s.message, progress: job.progress });
    }

    it('each job ends as its lease holder\'s reports of its current attempt say, whatever else arrives; nobody else\'s report is taken', async () => {
      // w1's connector must be free, whatever the properties before this one left.
      await finish(hub, held.id);
      let run = 0;
      await fc.assert(
        fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 10 }), async (steps) => {
          run++;
          const first = await submitJob(hub, { type: 'fz-a', maxAttempts: 1, payload: { run } });
          const second = await submitJob(hub, { type: 'fz-b', maxAttempts: 1, payload: { run } });
          const jobs = {
            first: { id: first.id, holder: w1, other: w2, attempt: (await w1.assignment(first.id)).attempt },
            second: { id: second.id, holder: w2, other: w1, attempt: (await w2.assignment(second.id)).attempt },
          };
          const expected: Record<'first' | 'second', Expected> = {
            first: { state: 'assigned', progress: 0, result: 'null', error: null },
            second: { state: 'assigned', progress: 0, result: 'null', error: null },
          };
          const log: string[] = [];
          const errorsBefore = [w1.errors.length, w2.errors.length];
          try {
            for (const s of steps) {
              const target = s.job === 'first' || s.job === 'second' ? jobs[s.job] : undefined;
              const jobId = target?.id ?? (s.job === 'over' ? (over.at(-1) ?? 'job_over') : 'job_unknown');
              const sender = target ? target[s.from] : s.from === 'holder' ? w1 : w2;
              const text = reportText(s, jobId, target?.attempt ?? 1);
              const event = EVENT[s.kind];
              const counts = target && s.from === 'holder' && s.attempt === 'current';
              for (let time = 0; time < s.times; time++) {
                await pace();
                const what = `${sender === w1 ? 'w1' : 'w2'} ${event} ${preview(text, 200)} about the ${s.job} job${s.via === 'noack' ? ' (no ack)' : s.via === 'batch' ? ' (in reports)' : ''}`;
                log.push(what);
                let answer: unknown;
                if (s.via === 'noack') sender.send(event, [new RawJson(text)]);
                else if (s.via === 'batch') {
                  const answers = await ask(sender, 'reports', `[[${JSON.stringify(event)},${text}]]`);
                  const problem = batchProblem([event], answers);
                  if (problem) throw new Error(`${what}: ${problem}`);
                  answer = (answers as unknown[])[0];
                } else {
                  answer = await ask(sender, event, text);
                }
                if (answer !== undefined) {
                  const problem = answerProblem(event, answer);
                  if (problem) throw new Error(`${what}: ${problem}`);
                  if (!counts && isRecord(answer) && answer.ok === true) throw new Error(`${what}: taken ({ ok: true }) though it is not the holder's report of the current attempt`);
                  if (counts && isErrorBody(answer) && answer.error.code === 'bad_request') throw new Error(`${what}: a well-formed report refused as invalid: ${answer.error.message}`);
                }
                // A refusal changes nothing; anything else from the holder about the current attempt counts.
                if (counts && !isErrorBody(answer)) apply(expected[s.job as 'first' | 'second'], s);
              }
            }
            // Both sockets handle their messages in order: once these are answered, all before them were handled.
            await askPatiently(w1, 'heartbeat', '{}');
            await askPatiently(w2, 'heartbeat', '{}');
            const refusedSilently = [w1.errors.slice(errorsBefore[0]), w2.errors.slice(errorsBefore[1])].flat();
            if (refusedSilently.some((body) => !isErrorBody(body) || FAILURE_CODES.has(body.error.code))) throw new Error(`error events: ${preview(refusedSilently)}`);
            for (const name of ['first', 'second'] as const) {
              const record = await getJob(hub, jobs[name].id);
              const actual = { state: record.state, progress: context(record).progress, result: JSON.stringify(context(record).result), error: context(record).error?.message ?? null };
              const want = expected[name];
              if (refusedSilently.length > 0 && actual.state !== want.state) continue; // a report without an ack was refused: the model cannot tell which
              if (JSON.stringify(actual) !== JSON.stringify(want)) {
                throw new Error(`the ${name} job is ${JSON.stringify(actual)}, but its holder's reports say ${JSON.stringify(want)}; sent:\n  ${log.join('\n  ')}`);
              }
            }
          } finally {
            for (const job of Object.values(jobs)) {
              await finish(hub, job.id);
              over.push(job.id);
            }
          }
        }),
        fuzzParameters(testName(), 60, 30_000),
      );
    }, TEST_TIMEOUT);

    it('reports of an attempt the hub has moved on from (the job retried on the same worker) change nothing', async () => {
      const replay = fc.record({
        kind: fc.constantFrom<Kind>('started', 'progress', 'completed', 'failed', 'rejected'),
        via: fc.constantFrom<'ack' | 'batch'>('ack', 'batch'),
        twice: fc.boolean(),
      });
      const input = fc.record({ retriedBy: fc.constantFrom<'rejected' | 'failed'>('rejected', 'rejected', 'failed'), replays: fc.array(replay, { minLength: 1, maxLength: 4 }) });
      let run = 0;
      await fc.assert(
        fc.asyncProperty(input, async ({ retriedBy, replays }) => {
          run++;
          const job = await submitJob(hub, { type: 'fz-c', maxAttempts: 3, backoffMs: 0, payload: { run } });
          try {
            const firstAttempt = (await w3.assignment(job.id, 1)).attempt;
            const stale = (kind: Kind) => reportText({ kind, progress: 50, result: '{"stale":true}', message: 'from attempt 1', retryable: true, attempt: 'current' } as Step, job.id, firstAttempt);
            expect(await askPatiently(w3, 'job:started', stale('started'))).toEqual({ ok: true });
            expect(await askPatiently(w3, EVENT[retriedBy], stale(retriedBy))).toEqual({ ok: true });
            // Retried (at once after a rejection, after the backoff after a failure) on the only connector of its type.
            const secondAttempt = (await w3.assignment(job.id, firstAttempt + 1, PATIENCE_MS)).attempt;
            const sent: string[] = [];
            for (const { kind, via, twice } of replays) {
              for (let time = 0; time < (twice ? 2 : 1); time++) {
                const text = stale(kind);
                sent.push(`${EVENT[kind]} ${text}${via === 'batch' ? ' (in reports)' : ''}`);
                const answer = via === 'batch' ? ((await ask(w3, 'reports', `[[${JSON.stringify(EVENT[kind])},${text}]]`)) as unknown[])[0] : await ask(w3, EVENT[kind], text);
                const problem = answerProblem(EVENT[kind], answer);
                if (problem) throw new Error(`${sent.at(-1)}: ${problem}`);
              }
            }
            const now = await getJob(hub, job.id);
            if (now.state !== 'assigned' || context(now).attempts !== secondAttempt) {
              throw new Error(
                `attempt ${secondAttempt} was assigned and never started, but after replaying reports of attempt ${firstAttempt} the job is ${now.state} (attempts ${context(now).attempts}, result ${preview(context(now).result)}, error ${preview(context(now).error)}); replayed:\n  ${sent.join('\n  ')}`,
              );
            }
            // The current attempt still goes through.
            const current = (kind: Kind, result = '{"fresh":true}') => reportText({ kind, progress: 0, result, message: '', retryable: undefined, attempt: 'current' } as Step, job.id, secondAttempt);
            expect(await askPatiently(w3, 'job:started', current('started'))).toEqual({ ok: true });
            expect(await askPatiently(w3, 'job:completed', current('completed'))).toEqual({ ok: true });
            const done = await getJob(hub, job.id);
            expect({ state: done.state, result: context(done).result }).toEqual({ state: 'completed', result: { fresh: true } });
          } finally {
            await finish(hub, job.id);
            over.push(job.id);
          }
        }),
        fuzzParameters(testName(), 20, 30_000),
      );
    }, TEST_TIMEOUT);
  });

  describe('deep and huge values where a worker may put them, each tried on a hub of its own', () => {
    type Where = 'result' | 'resultInReports' | 'capabilities' | 'connectorContext' | 'connectorValue' | 'errorMessage' | 'reason';
    interface Hostile {
      where: Where;
      depth: number;
      shape: DeepShape;
      /** For the strings: how long. */
      length: number;
    }
    /** `crash`: only what the hub throws uncaught counts (the other checks may fail first and hide it). */
    const trial = async ({ where, depth: levels, shape, length }: Hostile, focus: 'all' | 'crash' = 'all'): Promise<void> => {
      const own = await startHub({ port: 0, logger: false, timings: TIMINGS });
      const worker = new RawWorker(own.url);
      let watcher: HubRecording | undefined;
      const thrownBefore = thrown.length;
      const deep = deepText(levels, shape);
      const text = 'é'.repeat(length);
      let what = '';
      const fail = (problem: string) => {
        throw new Error(`${what}: ${problem}`);
      };
      try {
        await worker.connect();
        const connector = { id: 'fz-r/c', type: 'fz-d', snapshot: await idleSnapshot('fz-r/c', 'fz-d') };
        const registration = { workerId: 'fz-r', machineId: 'fz-r-machine', connectors: [connector] };
        await worker.register(registration);
        watcher = await recordHub(own.url);
        const job = await submitJob(own, { type: 'fz-d', maxAttempts: 2 });
        const { attempt } = await worker.assignment(job.id);
        const ref = JSON.stringify(jobRef(job.id, attempt)).slice(1, -1);
        expect(await askPatiently(worker, 'job:started', `{${ref}}`)).toEqual({ ok: true });
        const snapshotText = JSON.stringify(connector.snapshot);
        const [event, payload] = ((): [string, string] => {
          switch (where) {
            case 'result':
              return ['job:completed', `{${ref},"result":${deep}}`];
            case 'resultInReports':
              return ['reports', `[["job:progress",{${ref},"progress":50}],["job:completed",{${ref},"result":${deep}}]]`];
            case 'capabilities':
              return ['register', `{"workerId":"fz-r","machineId":"fz-r-machine","connectors":[{"id":"fz-r/c","type":"fz-d","snapshot":${snapshotText}}],"capabilities":{"gpu":${deep}}}`];
            case 'connectorContext':
              return ['connector', `{"id":"fz-r/c","snapshot":${snapshotText.replace('"context":{', `"context":{"deep":${deep},`)}}`];
            case 'connectorValue':
              return ['connector', `{"id":"fz-r/c","snapshot":${snapshotText.replace(/"value":\{[^}]*\}/, `"value":{"idle":${deep}}`)}}`];
            case 'errorMessage':
              return ['job:failed', `{${ref},"error":{"message":${JSON.stringify(text)}},"retryable":false}`];
            case 'reason':
              return ['job:rejected', `{${ref},"reason":${JSON.stringify(text)}}`];
          }
        })();
        what = `${event} ${preview(payload, 300)} (${where}: ${where === 'errorMessage' || where === 'reason' ? `${length} characters` : `${levels} levels`})`;
        const answer = await ask(worker, event, payload);
        const problem = event === 'reports' ? batchProblem(['job:progress', 'job:completed'], answer) : answerProblem(event, answer);
        if (problem) fail(problem);
        if (!worker.connected) fail(`the hub dropped the worker's socket (${worker.disconnectReason})`);
        // Nothing thrown that nothing catches (the change is broadcast on the next turns).
        await sleep(20);
        if (thrown.length > thrownBefore) fail(`the hub threw what nothing caught (a hub process would have died):\n${thrown.slice(thrownBefore).join('\n')}`);
        // Reads and streams still work.
        const current = await http(own, 'GET', '/api/snapshot');
        if (current.status !== 200) fail(`then GET /api/snapshot answered ${current.status} ${preview(current.text)}`);
        const read = await http(own, 'GET', `/api/jobs/${job.id}`);
        if (read.status !== 200) fail(`then GET /api/jobs/${job.id} answered ${read.status} ${preview(read.text)}`);
        await watcher.caughtUp(current.body as Snapshot, { timeoutMs: 2_000 }).catch(() => fail(`the monitor that was watching never got the change (it is ${watcher!.monitor.state})`));
        const fresh = new RawClient(own.url, '/monitor', { auth: {} });
        try {
          await fresh.connect();
          await fresh.until(() => fresh.all('synced').length > 0 || fresh.disconnectReason !== undefined, 'synced', 2_000).catch(() => undefined);
          const [sent] = fresh.all<Snapshot>('snapshot');
          if (!sent) fail(`a new monitor got no snapshot (${fresh.disconnectReason ?? 'connected'}; errors ${preview(fresh.errors)})`);
          const again = await http(own, 'GET', '/api/snapshot');
          if (again.body?.offset === sent!.offset && jsonText(byId(sent!.records)) !== jsonText(byId(again.body.records))) fail('a new monitor got a snapshot other than GET /api/snapshot');
        } finally {
          fresh.close();
        }
        // The job: a completion taken completes it or fails it saying why (a result over a bound).
        const after = read.body as ActorRecord;
        if ((where === 'result' || where === 'resultInReports') && !['completed', 'failed', 'running'].includes(after.state)) fail(`the job is ${after.state}`);
        if (after.state === 'failed' && !(typeof context(after).error?.message === 'string' && context(after).error.message.length > 0)) fail('the job failed without saying why');
        // And the hub goes on: the worker finishes this job (if it can) and runs the next.
        await finish(own, job.id);
        const next = await submitJob(own, { type: 'fz-d' });
        const nextAssignment = await worker.assignment(next.id, undefined, 2_000).catch(() => undefined);
        if (!nextAssignment) fail(`the next job was never assigned (worker ${(await http(own, 'GET', '/api/actors/fz-r')).body?.state})`);
        const nextAttempt = nextAssignment!.attempt;
        const nextRef = JSON.stringify(jobRef(next.id, nextAttempt)).slice(1, -1);
        await askPatiently(worker, 'job:started', `{${nextRef}}`);
        await askPatiently(worker, 'job:completed', `{${nextRef},"result":1}`);
        const nextJob = await getJob(own, next.id);
        if (nextJob.state !== 'completed') fail(`the next job ended ${nextJob.state}`);
      } catch (error) {
        if (focus === 'all') throw error;
      } finally {
        watcher?.close();
        worker.close();
        await own.close();
      }
      if (focus === 'crash') {
        await sleep(20);
        if (thrown.length > thrownBefore) throw new Error(`${what || where}: the hub threw what nothing caught (a hub process would have died):\n${thrown.slice(thrownBefore).join('\n')}`);
      }
    };
    const property = (wheres: Where[], numRuns: number, focus: 'all' | 'crash' = 'all') => async () => {
      const input = fc.record({ where: fc.constantFrom(...wheres), depth, shape: deepShape, length: fc.oneof(fc.integer({ min: 9_990, max: 10_010 }), fc.integer({ min: 0, max: 200_000 })) });
      await fc.assert(
        fc.asyncProperty(input, (hostile) => trial(hostile, focus)),
        fuzzParameters(testName(), numRuns, 25_000),
      );
    };
    it('a deep result (alone or in a reports batch): a clear answer, the job completed or failed saying why, reads and monitors unharmed, the hub goes on', property(['result', 'resultInReports'], 30), TEST_TIMEOUT);
    it('deep capabilities and connector snapshots: a clear answer, reads and monitors unharmed, the hub goes on', property(['capabilities', 'connectorContext', 'connectorValue'], 30), TEST_TIMEOUT);
    it('long error messages and reasons: a clear answer, reads and monitors unharmed, the hub goes on', property(['errorMessage', 'reason'], 12), TEST_TIMEOUT);
    it('whatever of these fails, the hub throws nothing that nothing catches', property(['result', 'resultInReports', 'capabilities', 'connectorContext', 'connectorValue'], 30, 'crash'), TEST_TIMEOUT);
  });

  describe('afterwards', () => {
    it('the monitor that watched it all saw every seq once and in order, holds the snapshot, and every job only changed as the job machine allows', async () => {
      const now = await http(hub, 'GET', '/api/snapshot');
      expect(now.status, preview(now.text)).toBe(200);
      await recording.caughtUp(now.body as Snapshot, { timeoutMs: PATIENCE_MS });
      expect(recording.monitor.view.problems).toEqual([]);
      expect(recording.monitor.state).toBe('live');
      if (recording.monitor.view.offset === now.body.offset) expect(jsonText(byId(recording.view.values()))).toBe(jsonText(byId(now.body.records)));
      const problems = recording.ids('job').flatMap((id) => jobHistoryProblems(recording.records(id)));
      expect(problems).toEqual([]);
    }, TEST_TIMEOUT);

    it('a new monitor gets a snapshot equal to GET /api/snapshot', async () => {
      for (let attempt = 0; ; attempt++) {
        const before = await http(hub, 'GET', '/api/snapshot');
        expect(before.status, preview(before.text)).toBe(200);
        const client = new RawClient(hub.url, '/monitor', { auth: {} });
        try {
          await client.connect();
          await client.until(() => client.all('synced').length > 0 || client.disconnectReason !== undefined, 'synced');
          const [sent] = client.all<Snapshot>('snapshot');
          const after = await http(hub, 'GET', '/api/snapshot');
          if (before.body.offset !== after.body.offset && attempt < 5) continue;
          expect(client.errors).toEqual([]);
          expect(sent?.offset).toBe(after.body.offset);
          expect(jsonText(byId(sent!.records))).toBe(jsonText(byId(after.body.records)));
          return;
        } finally {
          client.close();
        }
      }
    }, TEST_TIMEOUT);

    it('the hand-spoken workers are still connected and the hub still counts their sessions', async () => {
      for (const [name, worker] of [['w1', w1], ['w2', w2], ['w3', w3], ['g', g]] as const) {
        expect(worker.connected, `${name}: ${worker.disconnectReason}`).toBe(true);
        expect(answerProblem('heartbeat', await askPatiently(worker, 'heartbeat', '{}')), name).toBeUndefined();
      }
    }, TEST_TIMEOUT);

    it('the hub answers /healthz and runs a fresh job to completion on a worker of the SDK', async () => {
      expect((await http(hub, 'GET', '/healthz')).status).toBe(200);
      const worker = createWorker({ hub: hub.url, id: 'fz-sdk', machineId: 'fz-sdk-machine', connectors: [simulationConnector({ type: 'fz-final', startupMs: 1 })] });
      try {
        await worker.ready();
        const job = await submitJob(hub, { type: 'fz-final', payload: { durationMs: 1, steps: 1 } });
        await recording.waitFor(job.id, 'completed');
      } finally {
        await worker.stop();
      }
    }, TEST_TIMEOUT);

    it('the hub never threw what nothing caught (in a hub process of its own, that would have ended it)', () => {
      expect(thrown).toEqual([]);
    });
  });
});
