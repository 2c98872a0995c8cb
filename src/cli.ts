#!/usr/bin/env node
/** The `statehub` command: hub, worker, demo, submit. */
import { Command, InvalidArgumentError, Option } from 'commander';
import { readTokensFile } from './hub/auth.js';
import { parseOrigin } from './hub/origins.js';
import { readProbesFile, type ProbesConfig } from './hub/probes/config.js';
import { startHub, type HubOptions } from './hub/hub.js';
import { runDemo } from './demo.js';
import { LOG_FORMATS, LOG_LEVELS, commandLogger, workerLog, type LogFormat, type LogLevel } from './log.js';
import { submitJob } from './submit.js';
import { BUILT_IN_CONNECTORS, connectorsFromSpec, readConnectorConfig, type SpecOptions } from './worker/connector-spec.js';
import { createWorker } from './worker/worker.js';
import { DEFAULT_INSPECTOR_URL, inspectorUrl } from './stately-inspector.js';

const program = new Command('statehub')
  .description('Distributed job processing where every connector and job is an XState actor, streamed live to monitors.')
  .showHelpAfterError()
  .configureOutput({ outputError: (text, write) => write(text) });

const integer = (what: string, min: number, max = Number.MAX_SAFE_INTEGER) => (text: string) => {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(`${what} must be an integer from ${min} to ${max}.`);
  }
  return value;
};

const json = (what: string) => (text: string) => {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new InvalidArgumentError(`${what} must be JSON (${(error as Error).message}).`);
  }
};

const url = (text: string) => {
  try {
    return new URL(text).href.replace(/\/$/, '');
  } catch {
    throw new InvalidArgumentError(`"${text}" is not a URL (e.g. http://127.0.0.1:3000).`);
  }
};

const origins = (text: string, previous: string[]) => {
  try {
    return [...previous, parseOrigin(text)];
  } catch (error) {
    throw new InvalidArgumentError(`${(error as Error).message}.`);
  }
};

/** `--inspect` alone means the default URL (commander shows it as the preset); a value must be a ws:// or wss:// URL. */
const inspectOption = (what: string) =>
  new Option('--inspect [url]', `relay ${what} to Stately's inspector at this WebSocket URL (see the README)`)
    .preset(DEFAULT_INSPECTOR_URL)
    .argParser((text: string) => {
      try {
        return inspectorUrl(text);
      } catch (error) {
        throw new InvalidArgumentError(`${(error as Error).message}.`);
      }
    });

const logFormatOption = () =>
  new Option('--log-format <format>', 'pretty (readable lines) or json (one JSON object per line); default: pretty on a terminal, json when piped').choices(LOG_FORMATS);

const logLevelOption = () =>
  new Option('--log-level <level>', 'the least severe lines logged').choices(LOG_LEVELS).default('info').env('STATEHUB_LOG_LEVEL');

/** The logger `--log-format` and `--log-level` ask for. */
const loggerFor = (options: Record<string, unknown>) => commandLogger(options.logFormat as LogFormat | undefined, options.logLevel as LogLevel);

const portOption = () => new Option('--port <port>', 'port to listen on (0 picks a free one)').default(3000).argParser(integer('the port', 0, 65_535));

program
  .command('hub')
  .description('run a hub: HTTP API, Socket.IO endpoint and the monitor UI')
  .addOption(portOption())
  .option('--host <host>', 'interface to listen on; without tokens, keep it on loopback', '127.0.0.1')
  .addOption(new Option('--redis <url>', 'keep state in Redis (durable; several hubs may share it) instead of memory').env('REDIS_URL'))
  .option('--redis-prefix <prefix>', 'key prefix in Redis, so independent statehubs can share one server', 'statehub')
  .option('--tokens <file>', 'JSON file mapping tokens to roles (admin, monitor, client, worker); enables auth')
  .option('--allow-origin <origin>', 'let web pages of this origin (e.g. https://dash.example) use the hub besides its own monitor page; repeatable; * for any', origins, [])
  .option('--body-limit <bytes>', 'largest accepted request body', integer('the body limit', 1), 1024 * 1024)
  .option('--max-payload-bytes <bytes>', 'largest job payload (its JSON text); a bigger one is refused with 400', integer('the payload limit', 1), 1024 * 1024)
  .option('--max-result-bytes <bytes>', 'largest job result (its JSON text); a bigger one fails its job', integer('the result limit', 1), 1024 * 1024)
  .option('--http-rate-limit <n>', 'HTTP requests per second per client (its token, else its address); 0: no limit', integer('the HTTP rate limit', 0), 1_000)
  .option('--socket-rate-limit <n>', 'messages per second per worker or monitor socket; 0: no limit', integer('the socket rate limit', 0), 2_000)
  .option('--heartbeat-ms <ms>', 'how often workers send heartbeats', integer('the heartbeat interval', 10), 1_000)
  .option('--stale-after-ms <ms>', 'a worker without heartbeats this long is stale: its jobs are retried elsewhere', integer('the stale delay', 10), 3_000)
  .option('--offline-after-ms <ms>', 'a stale worker turns offline after this long', integer('the offline delay', 10), 10_000)
  .option('--keep-finished-ms <ms>', 'how long finished jobs stay in the live set', integer('the finished-job retention', 0), 5 * 60_000)
  .option('--max-finished <n>', 'most finished jobs kept in the live set', integer('the finished-job bound', 0), 10_000)
  .option('--history-limit <n>', 'changes kept per actor for its history and time travel (the oldest go first)', integer('the history limit', 0, 1_000_000), 1_000)
  .option(
    '--probe <url>',
    'check this dependency every second (its store is always checked): redis://, postgres://, amqp://, mqtt://, nats://, http(s)://, tcp://host:port; repeatable',
    (text: string, previous: string[]) => [...previous, text],
    [],
  )
  .option('--probes <file>', 'JSON file of probes with their thresholds (see the README); --probe URLs are added to it')
  .option('--webhook-lease-ms <ms>', 'how long a hub holds a webhook delivery round before another hub may deliver again', integer('the webhook lease', 1_000), 60_000)
  .option('--webhook-poll-ms <ms>', 'an idle webhook looks for changes at least this often (a matching change wakes it at once)', integer('the webhook poll interval', 10), 10_000)
  .option('--webhook-timeout-ms <ms>', 'longest a webhook POST may take, unless its registration says; at most half the lease', integer('the webhook timeout', 100), 10_000)
  .addOption(inspectOption('every actor (jobs, workers, machines, connectors as reported)'))
  .addOption(logFormatOption())
  .addOption(logLevelOption())
  .action(async (options) => {
    const hub = await startHub({ ...(await hubOptions(options)), logger: loggerFor(options) });
    onShutdown(() => hub.close());
  });

/** `--connectors`: what a worker runs; for the demo, a worker of your own services beside the simulated ones. */
function connectorsOption(required: boolean): Option {
  const types = `TYPE:COUNT[,TYPE:COUNT...]; types: ${BUILT_IN_CONNECTORS.join(', ')}`;
  return required
    ? new Option('--connectors <spec>', `connectors to run, ${types}`).makeOptionMandatory()
    : new Option('--connectors <spec>', `also run a worker with these connectors, against services you have (e.g. ollama:1 --ollama-url URL), ${types}`);
}

/** The settings of the built-in connectors, for every command that starts some. */
function withConnectorSettings(command: Command): Command {
  return command
    .option('--http-url <url>', 'for http connectors: where jobs are POSTed', url)
    .option('--http-health-url <url>', 'for http connectors: what the health check GETs (default: <origin>/health)', url)
    .addOption(new Option('--http-async <mode>', 'for http connectors: the service takes jobs for later; learn their outcome by polling its status URL or by its callback').choices(['poll', 'callback']))
    .option('--http-status-url <template>', 'for async http jobs: where to poll when the answer gives no status URL, {id} being the service\'s job id')
    .option('--http-cancel-url <template>', 'for async http jobs: POSTed when a job is stopped, {id} being the service\'s job id')
    .option('--http-callback-url <url>', 'for callback mode: the base URL the service must call back (default: the address listened on)', url)
    .option('--http-callback-port <n>', 'for callback mode: the port to listen on for callbacks (default: any free one)', integer('the callback port', 0, 65_535))
    .option('--comfyui-url <url>', 'for comfyui connectors: the ComfyUI server, e.g. http://127.0.0.1:8188', url)
    .option('--a1111-url <url>', 'for a1111 connectors: the stable-diffusion-webui server (started with --api), e.g. http://127.0.0.1:7860', url)
    .option('--openai-url <url>', 'for openai connectors: the base URL of an OpenAI-compatible API (default: https://api.openai.com/v1)', url)
    .addOption(new Option('--openai-key <key>', 'for openai connectors: the API key (prefer the variable: arguments show in process lists)').env('OPENAI_API_KEY'))
    .option('--ollama-url <url>', 'for ollama connectors: the Ollama server (default: http://127.0.0.1:11434)', url)
    .option(
        '--connector-config <file>',
        `JSON settings by connector type (${BUILT_IN_CONNECTORS.filter((type) => type !== 'simulation').join(', ')}), e.g. {"http":{"url":...,"headers":{...},"async":{"mode":"poll","fields":{...}}}}; flags win over it`,
      );
}

function specOptions(options: Record<string, unknown>): SpecOptions {
  return {
    httpUrl: options.httpUrl as string | undefined,
    httpHealthUrl: options.httpHealthUrl as string | undefined,
    httpAsync: options.httpAsync as SpecOptions['httpAsync'],
    httpStatusUrl: options.httpStatusUrl as string | undefined,
    httpCancelUrl: options.httpCancelUrl as string | undefined,
    httpCallbackUrl: options.httpCallbackUrl as string | undefined,
    httpCallbackPort: options.httpCallbackPort as number | undefined,
    comfyuiUrl: options.comfyuiUrl as string | undefined,
    a1111Url: options.a1111Url as string | undefined,
    openaiUrl: options.openaiUrl as string | undefined,
    openaiKey: options.openaiKey as string | undefined,
    ollamaUrl: options.ollamaUrl as string | undefined,
    ...(options.connectorConfig ? { config: readConnectorConfig(options.connectorConfig as string) } : {}),
  };
}

withConnectorSettings(program.command('worker').description('run a worker process embedding connector actors'))
  .requiredOption('--hub <url>', 'the hub to connect to', url)
  .option('--machine <id>', 'the machine this worker runs on (default: the host name)')
  .option('--id <id>', 'this worker\'s id (default: <machine>-<pid>)')
  .option('--token <token>', 'token with the worker role, when the hub uses tokens')
  .option('--capabilities <json>', 'what this worker offers, matched against job requirements', json('--capabilities'))
  .addOption(connectorsOption(true))
  .addOption(inspectOption('the connector actors as they run here'))
  .addOption(logFormatOption())
  .addOption(logLevelOption())
  .action(async (options) => {
    const logger = loggerFor(options);
    const connectors = connectorsFromSpec(options.connectors as string, specOptions(options));
    const worker = createWorker({
      hub: options.hub,
      ...(options.id && { id: options.id }),
      ...(options.machine && { machineId: options.machine }),
      ...(options.token && { token: options.token }),
      ...(options.capabilities && { capabilities: options.capabilities }),
      connectors,
      ...(options.inspect && { inspect: options.inspect as string }),
      log: workerLog(logger),
    });
    onShutdown(() => worker.drain(), () => worker.stop());
    await worker.ready();
  });

withConnectorSettings(program.command('demo').description('a hub plus simulated workers and a trickle of jobs: what `npm start` runs'))
  .addOption(connectorsOption(false))
  .addOption(portOption())
  .option('--host <host>', 'interface to listen on', '127.0.0.1')
  .addOption(inspectOption("the demo hub's actors"))
  .addOption(logFormatOption())
  .addOption(logLevelOption())
  .action(async (options) => {
    const demo = await runDemo({
      port: options.port,
      host: options.host,
      ...(options.connectors && { connectors: connectorsFromSpec(options.connectors as string, specOptions(options)) }),
      ...(options.inspect && { inspect: options.inspect as string }),
      logger: loggerFor(options),
    });
    onShutdown(() => demo.close());
  });

program
  .command('submit')
  .description('submit a job; with --wait, follow it to the end')
  .requiredOption('--hub <url>', 'the hub', url)
  .requiredOption('--type <type>', 'the job type (served by connectors of that type)')
  .option('--payload <json>', 'the job payload', json('--payload'))
  .option('--priority <n>', 'higher runs first', integer('the priority', -1_000_000, 1_000_000))
  .option('--requirements <json>', 'what a worker must offer, e.g. {"gpu":1}', json('--requirements'))
  .option('--max-attempts <n>', 'attempts before the job fails', integer('--max-attempts', 1, 1_000))
  .option('--timeout-ms <ms>', 'longest one attempt may run', integer('--timeout-ms', 1))
  .option('--token <token>', 'token with the client role, when the hub uses tokens')
  .option('--wait', 'follow the job with a progress bar; exit 0 on completed, 1 otherwise')
  .action(async (options) => {
    process.exitCode = await submitJob(options);
  });

async function hubOptions(options: Record<string, unknown>): Promise<HubOptions> {
  return {
    ...(options.redis ? { redis: options.redis as string } : {}),
    ...(options.redisPrefix ? { redisPrefix: options.redisPrefix as string } : {}),
    ...(options.inspect ? { inspect: options.inspect as string } : {}),
    port: options.port as number,
    host: options.host as string,
    bodyLimit: options.bodyLimit as number,
    maxPayloadBytes: options.maxPayloadBytes as number,
    maxResultBytes: options.maxResultBytes as number,
    historyLimit: options.historyLimit as number,
    httpRateLimit: options.httpRateLimit as number,
    socketRateLimit: options.socketRateLimit as number,
    ...(options.tokens ? { tokens: readTokensFile(options.tokens as string) } : {}),
    ...((options.allowOrigin as string[]).length > 0 ? { allowOrigins: options.allowOrigin as string[] } : {}),
    timings: {
      heartbeatMs: options.heartbeatMs as number,
      staleAfterMs: options.staleAfterMs as number,
      offlineAfterMs: options.offlineAfterMs as number,
    },
    retention: { keepFinishedMs: options.keepFinishedMs as number, maxFinished: options.maxFinished as number },
    probes: probesOption(options.probes as string | undefined, options.probe as string[]),
    webhooks: { leaseMs: options.webhookLeaseMs as number, pollMs: options.webhookPollMs as number, timeoutMs: options.webhookTimeoutMs as number },
  };
}

/** The `--probes` file with the `--probe` URLs added to its probes. */
function probesOption(file: string | undefined, urls: string[]): ProbesConfig {
  const config = file === undefined ? {} : readProbesFile(file);
  if (urls.length === 0) return config;
  return { ...config, probes: [...(config.probes ?? []), ...urls] };
}

/** First signal: `graceful`; a second one: `immediate` (or exit). */
function onShutdown(graceful: () => Promise<void>, immediate?: () => Promise<void>): void {
  let signals = 0;
  const handle = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals === 1) {
      console.error(`${signal}: shutting down (again to force)`);
      graceful().then(
        () => process.exit(0),
        (error) => fail(error),
      );
    } else if (immediate && signals === 2) {
      immediate().then(() => process.exit(0), fail);
    } else {
      process.exit(130);
    }
  };
  process.on('SIGINT', handle);
  process.on('SIGTERM', handle);
}

function fail(error: unknown): never {
  console.error(`statehub: ${(error as Error).message ?? String(error)}`);
  process.exit(1);
}

program.parseAsync().catch(fail);
