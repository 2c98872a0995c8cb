/** The `statehub` command as a user types it: exit codes and messages. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { describe, expect, it, onTestFinished } from 'vitest';
import { api, submit } from '../helpers/hub.js';
import { startService } from '../helpers/http-service.js';
import { CLI, hubProcess, statehub, workerProcess } from '../helpers/cli.js';
import { inspectorReceiver } from '../helpers/inspector-receiver.js';
import { freePort, startRedisServer } from '../helpers/redis.js';

describe('statehub submit', () => {
  it('--wait follows a job to completed, prints its result and exits 0', async () => {
    const { url } = await hubProcess();
    await workerProcess(url, ['--connectors', 'simulation:1']);
    const submit = statehub(['submit', '--hub', url, '--type', 'simulation', '--payload', '{"durationMs":60,"steps":3,"failTimes":1}', '--wait']);
    expect(await submit.exited()).toBe(0);
    expect(submit.output()).toMatch(/submitted job_/);
    expect(submit.output()).toMatch(/retrying/);
    expect(submit.output()).toMatch(/"attempt": 2/);
  });

  it('--wait exits non-zero with the error when the job fails for good', async () => {
    const { url } = await hubProcess();
    await workerProcess(url, ['--connectors', 'simulation:1']);
    const submit = statehub(['submit', '--hub', url, '--type', 'simulation', '--max-attempts', '1', '--payload', '{"durationMs":10,"failTimes":1,"failWith":"no GPU"}', '--wait']);
    expect(await submit.exited()).toBe(1);
    expect(submit.output()).toMatch(/failed: no GPU \(after 1 attempt\)/);
  });

  it('--wait gives up with a message when the hub restarted without the job (memory store)', async () => {
    const port = String(await freePort());
    const first = statehub(['hub', '--port', port]);
    await first.waitFor(/statehub hub listening/);
    const url = `http://127.0.0.1:${port}`;
    const submit = statehub(['submit', '--hub', url, '--type', 'nobody-serves-this', '--wait']);
    const [, jobId] = await submit.waitFor(/submitted (job_\S+)/);
    await submit.waitFor(/pending 0% attempt 0\/3/);
    first.process.kill('SIGKILL');
    await first.exited();
    const second = statehub(['hub', '--port', port]);
    await second.waitFor(/statehub hub listening/);
    expect(await submit.exited()).toBe(1);
    expect(submit.output()).toContain(`the hub no longer knows job ${jobId} (was it restarted without --redis?)`);
  });

  it('without --wait prints the pending record and exits 0', async () => {
    const { url } = await hubProcess();
    const submit = statehub(['submit', '--hub', url, '--type', 'nobody-serves-this', '--priority', '5']);
    expect(await submit.exited()).toBe(0);
    const record = JSON.parse(submit.output());
    expect(record).toMatchObject({ kind: 'job', state: 'pending', snapshot: { context: { priority: 5 } } });
    expect((await api(url, 'GET', `/api/jobs/${record.id}`)).body.state).toBe('pending');
  });

  it('says clearly what is wrong: bad JSON, a hub refusing the job, no hub at all', async () => {
    const badJson = statehub(['submit', '--hub', 'http://127.0.0.1:1', '--type', 'x', '--payload', '{nope']);
    expect(await badJson.exited()).toBe(1);
    expect(badJson.output()).toMatch(/--payload must be JSON/);

    const { url } = await hubProcess();
    const refused = statehub(['submit', '--hub', url, '--type', 'has spaces']);
    expect(await refused.exited()).toBe(1);
    expect(refused.output()).toMatch(/the hub refused the job \(400\): invalid job: type/);

    const unreachable = statehub(['submit', '--hub', 'http://127.0.0.1:1', '--type', 'x']);
    expect(await unreachable.exited()).toBe(1);
    expect(unreachable.output()).toMatch(/cannot reach the hub at http:\/\/127\.0\.0\.1:1/);
  });
});

/** Everything `child` printed until `pattern` showed up (or 30 s passed); then it is stopped, with its process group. */
function untilOutput(child: ChildProcess, pattern: RegExp): Promise<string> {
  let output = '';
  const stop = () => {
    try {
      process.kill(-(child.pid as number), 'SIGKILL');
    } catch {
      // already gone
    }
  };
  onTestFinished(stop);
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      stop();
      resolve(output);
    };
    const timer = setTimeout(done, 30_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
      if (pattern.test(output)) done();
    });
    child.on('exit', done);
  });
}

describe('statehub hub and worker', () => {
  it('refuse bad options with a message instead of starting', async () => {
    const port = statehub(['hub', '--port', 'eighty']);
    expect(await port.exited()).toBe(1);
    expect(port.output()).toMatch(/the port must be an integer from 0 to 65535/);

    const dir = mkdtempSync(join(tmpdir(), 'statehub-'));
    writeFileSync(join(dir, 'tokens.json'), '{"t": "superuser"}');
    const tokens = statehub(['hub', '--port', '0', '--tokens', join(dir, 'tokens.json')]);
    expect(await tokens.exited()).toBe(1);
    expect(tokens.output()).toMatch(/must map tokens to admin \| monitor \| client \| worker/);

    const redis = statehub(['hub', '--port', '0', '--redis', 'redis://127.0.0.1:1']);
    expect(await redis.exited()).toBe(1);
    expect(redis.output()).toMatch(/cannot reach Redis at redis:\/\/127\.0\.0\.1:1/);

    const connectors = statehub(['worker', '--hub', 'http://127.0.0.1:1', '--connectors', 'teleporter:2']);
    expect(await connectors.exited()).toBe(1);
    expect(connectors.output()).toMatch(/unknown connector type "teleporter"; built in: simulation, http, comfyui, a1111, openai, ollama$/m);

    // The help names every built-in type, and every section the config file takes.
    const help = statehub(['worker', '--help']);
    expect(await help.exited()).toBe(0);
    expect(help.output().replace(/\s+/g, ' ')).toMatch(/types: simulation, http, comfyui, a1111, openai, ollama/);
    expect(help.output().replace(/\s+/g, ' ')).toMatch(/JSON settings by connector type \(http, comfyui, a1111, openai, ollama\)/);

    const http = statehub(['worker', '--hub', 'http://127.0.0.1:1', '--connectors', 'http:1']);
    expect(await http.exited()).toBe(1);
    expect(http.output()).toMatch(/http connectors need --http-url/);

    for (const type of ['comfyui', 'a1111']) {
      const service = statehub(['worker', '--hub', 'http://127.0.0.1:1', '--connectors', `${type}:1`]);
      expect(await service.exited()).toBe(1);
      expect(service.output()).toMatch(new RegExp(`^statehub: ${type} connectors need --${type}-url \\(`, 'm'));
    }

    writeFileSync(join(dir, 'connectors.json'), '{"http": {"url": "http://127.0.0.1:1/jobs", "async": {"mode": "sometimes"}}}');
    const config = statehub(['worker', '--hub', 'http://127.0.0.1:1', '--connectors', 'http:1', '--connector-config', join(dir, 'connectors.json')]);
    expect(await config.exited()).toBe(1);
    expect(config.output()).toMatch(/the connector config .*connectors\.json is not valid:[\s\S]*async\.mode/);

    const mode = statehub(['worker', '--hub', 'http://127.0.0.1:1', '--connectors', 'http:1', '--http-url', 'http://127.0.0.1:1/jobs', '--http-async', 'later']);
    expect(await mode.exited()).toBe(1);
    expect(mode.output()).toMatch(/--http-async.*Allowed choices are poll, callback/);

    const inspect = statehub(['hub', '--port', '0', '--inspect', 'http://localhost:8080']);
    expect(await inspect.exited()).toBe(1);
    expect(inspect.output()).toMatch(/"http:\/\/localhost:8080" is not a ws:\/\/ or wss:\/\/ URL/);

    const workerInspect = statehub(['worker', '--hub', 'http://127.0.0.1:1', '--connectors', 'simulation:1', '--inspect', 'nowhere']);
    expect(await workerInspect.exited()).toBe(1);
    expect(workerInspect.output()).toMatch(/"nowhere" is not a URL; the Stately inspector is reached at a ws:\/\/ or wss:\/\/ URL/);
  });

  it("--inspect relays to Stately's inspector at its URL, or at ws://localhost:8080 when given alone", async () => {
    const receiver = await inspectorReceiver();
    const { url } = await hubProcess(['--inspect', receiver.url]);
    await workerProcess(url, ['--connectors', 'simulation:1', '--machine', 'cli-machine', '--inspect', receiver.url]);
    // The hub's record of the machine, and the worker's live connector actor, named by its id.
    await receiver.until(() => receiver.messages.some((message) => message.type === '@xstate.actor' && message.sessionId === 'cli-machine'), 'the machine told by the hub');
    await receiver.until(() => receiver.messages.some((message) => message.type === '@xstate.actor' && /^cli-machine-\d+:x:\d+$/.test(message.sessionId)), 'a connector told by the worker');

    // Whether or not something listens on 8080 here, the hub says where it sends.
    const { hub } = await hubProcess(['--inspect']);
    await hub.waitFor(/Stately inspector at ws:\/\/localhost:8080\//);
  });

  it('logs readable lines on a terminal or with --log-format pretty, JSON lines when piped or with --log-format json', async () => {
    const piped = statehub(['hub', '--port', '0']);
    const [jsonLine] = await piped.waitFor(/^\{.*statehub hub listening.*\}$/m);
    expect(JSON.parse(jsonLine)).toMatchObject({ level: 30, msg: expect.stringMatching(/^statehub hub listening on http/) });

    const pretty = statehub(['hub', '--port', '0', '--log-format', 'pretty']);
    const [line] = await pretty.waitFor(/^\[\d{2}:\d{2}:\d{2}\.\d{3}\] INFO: statehub hub listening on http:\/\/127\.0\.0\.1:\d+ without tokens \(loopback only\).*$/m);
    expect(line).not.toMatch(/\u001b\[/); // no colours when the output is not a terminal

    // A terminal gets the readable lines unasked (script(1) gives the hub one): read until it says it listens.
    const terminal = await untilOutput(spawn('script', ['-qec', `${process.execPath} ${CLI} hub --port 0`, '/dev/null'], { detached: true }), /listening on http/);
    expect(terminal).toMatch(/INFO.*statehub hub listening on http/);
    expect(terminal).not.toMatch(/"level":30/);

    const bad = statehub(['hub', '--port', '0', '--log-format', 'xml']);
    expect(await bad.exited()).toBe(1);
    expect(bad.output()).toMatch(/argument 'xml' is invalid\. Allowed choices are pretty, json/);
  });

  it('logs from --log-level up (hub, worker, demo); a worker logs JSON lines with its id', async () => {
    // At warn, a hub on loopback says nothing: it is there when it answers.
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const quiet = statehub(['hub', '--port', String(port), '--log-level', 'warn']);
    await expect.poll(async () => (await api(url, 'GET', '/healthz').catch(() => ({ status: 0 }))).status, { timeout: 15_000 }).toBe(200);

    const worker = statehub(['worker', '--hub', url, '--connectors', 'simulation:1', '--id', 'cli-log-1', '--log-format', 'json', '--log-level', 'debug']);
    const [line] = await worker.waitFor(/^\{.*registered with.*\}$/m);
    expect(JSON.parse(line)).toMatchObject({ level: 30, workerId: 'cli-log-1', msg: expect.stringMatching(/^worker cli-log-1 registered with http/) });
    const silent = statehub(['worker', '--hub', url, '--connectors', 'simulation:1', '--id', 'cli-log-2', '--log-level', 'error']);
    await expect.poll(async () => (await api(url, 'GET', '/api/actors/cli-log-2')).body.state, { timeout: 15_000 }).toBe('ready');
    expect(silent.output()).toBe('');
    expect(quiet.output()).toBe('');

    // The demo at warn: its hub and its four workers run, and none of their info lines is shown.
    const demoUrl = `http://127.0.0.1:${await freePort()}`;
    const demo = statehub(['demo', '--port', new URL(demoUrl).port, '--log-format', 'json', '--log-level', 'warn']);
    const readyWorkers = async () => {
      const answer = await api(demoUrl, 'GET', '/api/snapshot?kinds=worker').catch(() => ({ body: { records: [] } }));
      return (answer.body.records as Array<{ state: string }>).filter((record) => record.state !== 'offline').length;
    };
    await expect.poll(readyWorkers, { timeout: 15_000 }).toBe(4);
    expect(demo.output()).not.toMatch(/registered with|demo is running|listening/);

    const bad = statehub(['hub', '--port', '0', '--log-level', 'loud']);
    expect(await bad.exited()).toBe(1);
    expect(bad.output()).toMatch(/argument 'loud' is invalid\. Allowed choices are fatal, error, warn, info, debug, trace, silent/);
  });

  it('a hub takes its Redis from REDIS_URL: a job submitted to one hub process is there for the next', async () => {
    const redis = await startRedisServer();
    onTestFinished(() => redis.stop());
    const first = await hubProcess(['--redis-prefix', 'cli-env'], { REDIS_URL: redis.url });
    expect((await api(first.url, 'GET', '/healthz')).body).toMatchObject({ status: 'ok', store: 'redis' });
    const job = await api(first.url, 'POST', '/api/jobs', { type: 'kept' });
    expect(job.status).toBe(201);
    first.hub.process.kill('SIGKILL');
    await first.hub.exited();

    const second = await hubProcess(['--redis-prefix', 'cli-env'], { REDIS_URL: redis.url });
    expect((await api(second.url, 'GET', `/api/jobs/${job.body.id}`)).body).toMatchObject({ id: job.body.id, state: 'pending' });
  });

  it('a hub with tokens refuses a worker without one, and runs jobs for a worker with one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'statehub-'));
    writeFileSync(join(dir, 'tokens.json'), JSON.stringify({ 'w-secret': 'worker', 'c-secret': 'client' }));
    const { url } = await hubProcess(['--tokens', join(dir, 'tokens.json')]);

    const anonymous = statehub(['worker', '--hub', url, '--connectors', 'simulation:1']);
    expect(await anonymous.exited()).toBe(1);
    expect(anonymous.output()).toMatch(/hub refused worker .*a token is required/);

    await workerProcess(url, ['--connectors', 'simulation:1', '--token', 'w-secret']);
    const submit = statehub(['submit', '--hub', url, '--type', 'simulation', '--payload', '{"durationMs":10}', '--token', 'c-secret', '--wait']);
    expect(await submit.exited()).toBe(0);
  });

  it('demo serves a live hub with machines, workers and connectors', async () => {
    const demo = statehub(['demo', '--port', '0']);
    const [, url] = await demo.waitFor(/statehub demo is running: open (http:\/\/\S+)/);
    await expect
      .poll(async () => {
        const { records } = (await api(url as string, 'GET', '/api/snapshot')).body as { records: Array<{ kind: string; state: string }> };
        const count = (kind: string) => records.filter((record) => record.kind === kind).length;
        return [count('machine'), count('worker'), count('connector'), records.some((record) => record.kind === 'job')];
      }, { timeout: 15_000 })
      .toEqual([2, 4, 8, true]);
    const page = await fetch(url as string);
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/statehub/);
  });

  it('demo --connectors runs one more worker against services you have, beside the simulated ones', async () => {
    const service = await startService();
    service.answerJob = (body) => ({ status: 200, body: { answered: body.id } });
    const demo = statehub(['demo', '--port', '0', '--connectors', 'http:1', '--http-url', service.jobsUrl]);
    const [, url] = await demo.waitFor(/statehub demo is running: open (http:\/\/\S+)/);
    await expect
      .poll(async () => (await api(url as string, 'GET', '/api/actors/demo-services-worker%2Fhttp-1')).body.state, { timeout: 15_000 })
      .toBe('idle');
    const job = await submit(url as string, { type: 'http', payload: { q: 1 } });
    await expect.poll(async () => (await api(url as string, 'GET', `/api/jobs/${job.id}`)).body.snapshot.context.result, { timeout: 15_000 }).toEqual({ answered: job.id });

    const missing = statehub(['demo', '--port', '0', '--connectors', 'comfyui:1']);
    expect(await missing.exited()).toBe(1);
    expect(missing.output()).toMatch(/comfyui connectors need --comfyui-url/);
  });
});
