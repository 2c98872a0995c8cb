/** `statehub submit`: one job over the HTTP API; `--wait` follows it live with a progress bar. */
import cliProgress from 'cli-progress';
import type { JobContext } from '../machines/job.js';
import { JOB_FINAL_STATES } from '../machines/job.js';
import { Monitor } from './client/monitor.js';
import type { ActorRecord } from './protocol/record.js';

export interface SubmitOptions {
  hub: string;
  type: string;
  payload?: unknown;
  priority?: number;
  requirements?: unknown;
  maxAttempts?: number;
  timeoutMs?: number;
  token?: string;
  wait?: boolean;
}

const FINAL = new Set<string>(JOB_FINAL_STATES);

/** Submits the job and prints it; returns the exit code. */
export async function submitJob(options: SubmitOptions): Promise<number> {
  const body = {
    type: options.type,
    ...(options.payload !== undefined && { payload: options.payload }),
    ...(options.priority !== undefined && { priority: options.priority }),
    ...(options.requirements !== undefined && { requirements: options.requirements }),
    ...(options.maxAttempts !== undefined && { maxAttempts: options.maxAttempts }),
    ...(options.timeoutMs !== undefined && { timeoutMs: options.timeoutMs }),
  };
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let response: Response;
  try {
    response = await fetch(`${options.hub}/api/jobs`, { method: 'POST', headers, body: JSON.stringify(body) });
  } catch (error) {
    throw new Error(`cannot reach the hub at ${options.hub}: ${((error as { cause?: Error }).cause ?? (error as Error)).message}`);
  }
  const answer = (await response.json().catch(() => ({}))) as ActorRecord & { error?: { message: string } };
  if (!response.ok) throw new Error(`the hub refused the job (${response.status}): ${answer.error?.message ?? response.statusText}`);
  if (!options.wait) {
    console.log(JSON.stringify(answer, null, 2));
    return 0;
  }
  console.error(`submitted ${answer.id}`);
  const final = await follow(options, answer.id);
  const context = final.snapshot.context as unknown as JobContext;
  if (final.state === 'completed') {
    console.log(JSON.stringify(context.result, null, 2));
    return 0;
  }
  console.error(`job ${final.id} ${final.state}${context.error ? `: ${context.error.message}` : ''} (after ${context.attempts} attempt${context.attempts === 1 ? '' : 's'})`);
  return 1;
}

/** Watches the job until it is final; a progress bar on a terminal, a line per change otherwise. */
function follow(options: SubmitOptions, jobId: string): Promise<ActorRecord> {
  const monitor = new Monitor(options.hub, { filter: { ids: [jobId] }, ...(options.token ? { token: options.token } : {}) });
  const bar = process.stderr.isTTY
    ? new cliProgress.SingleBar(
        { format: ' {bar} {percentage}% | {state} | attempt {attempt}', hideCursor: true, clearOnComplete: false, stream: process.stderr },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  bar?.start(100, 0, { state: 'pending', attempt: 0 });
  let lastLine = '';
  return new Promise<ActorRecord>((resolve, reject) => {
    const show = (record: ActorRecord) => {
      const context = record.snapshot.context as unknown as JobContext;
      if (bar) bar.update(context.progress, { state: record.state, attempt: `${context.attempts}/${context.maxAttempts}` });
      else {
        const line = `${record.state} ${context.progress}% attempt ${context.attempts}/${context.maxAttempts}${context.error ? ` (${context.error.message})` : ''}`;
        if (line !== lastLine) console.error(line);
        lastLine = line;
      }
      if (FINAL.has(record.state)) done(record);
    };
    const done = (record: ActorRecord) => {
      bar?.stop();
      monitor.close();
      resolve(record);
    };
    const fail = (error: Error) => {
      bar?.stop();
      monitor.close();
      reject(error);
    };
    monitor.view.subscribe((changes) => {
      for (const { record } of changes) if (record.id === jobId) show(record);
    });
    monitor.onState((state) => {
      if (state === 'refused') {
        fail(new Error(`the hub refused to let us watch the job: ${monitor.refusal?.message}`));
      } else if (state === 'live' && !monitor.view.records.has(jobId)) {
        // Finished and already out of the live set: read it by id. Unknown there too, it is gone
        // (a hub on the memory store restarted): waiting would be forever.
        void fetchJob(options, jobId).then((record) => {
          if (record === undefined) fail(new Error(`the hub no longer knows job ${jobId} (was it restarted without --redis?)`));
          else if (FINAL.has(record.state)) show(record);
        }, fail);
      }
    });
  });
}

async function fetchJob(options: SubmitOptions, jobId: string): Promise<ActorRecord | undefined> {
  const response = await fetch(`${options.hub}/api/jobs/${encodeURIComponent(jobId)}`, {
    headers: options.token ? { authorization: `Bearer ${options.token}` } : {},
  });
  if (response.status === 404) return undefined;
  if (!response.ok) throw new Error(`cannot read job ${jobId}: the hub answered ${response.status}`);
  return (await response.json()) as ActorRecord;
}
