/**
 * The Redis store (ioredis): durable, and shared by several hubs. Every multi-key write is one
 * Lua script (src/store/lua), so a record and its log entry land together or not at all. The
 * log is a stream that every hub delivers in one order. A hub delivers its own commits from their
 * answers and reads the stream only when another writer appended to it: each commit publishes its
 * writer's id, which every hub hears on its own subscriber connection. A hub alone on its Redis
 * thus never reads back what it wrote (about 4.5 KB per no-op job; see BENCHMARKS.md).
 *
 * Offsets are `<epoch>:<stream id>`: the epoch is made once per Redis dataset, so an offset from
 * another deployment, or from before the data was lost, is never taken for one of ours.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Redis, type RedisOptions } from 'ioredis';
import type { Requirements } from '../../machines/job.js';
import { KINDS, type ActorRecord, type ChangeEvent, type Kind, type LogEntry, type Snapshot } from '../protocol/record.js';
import { encodeRecord } from '../protocol/encoding.js';
import { encodeEvent } from '../protocol/change-event.js';
import { redact } from '../redact.js';
import { RedisClock } from './redis-clock.js';
import { parseRecord } from './record-text.js';
import { leaseHolder, queuePlace } from './job-index.js';
import { ConflictError, STORE_DEFAULTS, StoreUnavailableError, TimerGoneError, type Commit, type LogStats, type Store, type StoreOptions, type Timer } from './store.js';

export interface RedisStoreOptions extends StoreOptions {
  url: string;
  /** Key prefix: several independent statehubs can share one Redis. Default `statehub`. */
  prefix?: string;
  /** How long one command may take before the store counts Redis as unreachable. Default 5 s. */
  commandTimeoutMs?: number;
}

interface Scripts {
  /** The log's end before the commit, then one new stream id per record. */
  statehubCommit(args: (string | number)[]): Promise<string[]>;
  statehubGet(...args: (string | number)[]): Promise<Array<string | null>>;
  statehubSince(...args: (string | number)[]): Promise<string[] | null>;
  statehubSnapshot(...args: (string | number)[]): Promise<string[]>;
  statehubChildren(...args: (string | number)[]): Promise<string[]>;
  statehubLogStats(...args: (string | number)[]): Promise<[number, number]>;
}

type ScriptedRedis = Redis & Scripts;

const lua = (name: string) => readFileSync(new URL(`./lua/${name}.lua`, import.meta.url), 'utf8');

/** Queue members sort as the queue does: priority (high first), then age, then id. */
const PRIORITY_SPAN = 1_000_000;
function queueMember(priority: number, createdAt: string, id: string): string {
  return `${String(PRIORITY_SPAN - priority).padStart(7, '0')}${createdAt}${id}`;
}
const MEMBER_ID_AT = 7 + 24;

const STREAM_ID = /^(\d+)-(\d+)$/;
/** A log stream item as XRANGE, XREVRANGE and XREAD answer it: id, then field, value, ... */
type StreamItem = [id: string, fields: string[]];
/** Log entries read per round trip by `changesStampedFrom`. */
const STAMPED_PAGE = 1_000;
/** How long a snapshot waits for this process's tail to reach the log's end before giving up (503). */
const TAIL_PATIENCE_MS = 10_000;
/** The tail also reads this often without being told (ms): a notification lost on the way costs at most this. */
const TAIL_POLL_MS = 1_000;
/** Stream entries read per round trip by the tail. */
const TAIL_PAGE = 1_000;

export class RedisStore implements Store {
  readonly kind = 'redis';
  private readonly options: Required<StoreOptions>;

  get historyLimit(): number {
    return this.options.historyLimit;
  }
  private readonly prefix: string;
  private readonly listeners = new Set<(entries: LogEntry[]) => void>();
  private readonly gapListeners = new Set<() => void>();
  private readonly availabilityListeners = new Set<(available: boolean, reason?: string) => void>();
  private available = true;
  private lastFailureAt = 0;
  /** The read in progress, if any; `readAgain` asks for one more round after it. */
  private reading: Promise<void> | undefined;
  private readAgain = false;
  /** Set when a read failed or the subscriber lost Redis: the next read checks what was missed. */
  private tailFailed = false;
  private readonly poll: NodeJS.Timeout;
  /** This store's id in the notifications commits publish: its own need no reading. */
  private readonly writer = randomBytes(6).toString('hex');
  private lastSeen = '0-0';
  /** Snapshots waiting for the tail to reach the log's end as it was when they asked. */
  private waiting: Array<{ id: string; resume: () => void }> = [];
  private closed = false;
  /** This process's own commits, by stream id, until the tail brings them back: no need to parse them. */
  private readonly own = new Map<string, LogEntry>();

  private constructor(
    private readonly redis: ScriptedRedis,
    /** Subscribed to the log's notifications (a subscribed connection runs no other command). */
    private readonly subscriber: Redis,
    private readonly clock: RedisClock,
    private readonly epoch: string,
    /** The live records as of `lastSeen`. */
    private mirror: Map<string, ActorRecord>,
    lastId: string,
    private readonly url: string,
    options: RedisStoreOptions,
  ) {
    this.options = { ...STORE_DEFAULTS, ...options };
    this.prefix = options.prefix ?? 'statehub';
    this.lastSeen = lastId;
    subscriber.on('message', (_channel: string, writer: string) => {
      if (writer !== this.writer) this.readSoon();
    });
    // Notifications sent while the subscriber was away are lost: read what they announced.
    subscriber.on('ready', () => {
      this.tailFailed = true;
      this.readSoon();
    });
    this.poll = setInterval(() => this.readSoon(), TAIL_POLL_MS).unref();
    this.readSoon();
  }

  /** Connects (failing with a clear message when Redis cannot be reached) and loads the scripts. */
  static async connect(options: RedisStoreOptions): Promise<RedisStore> {
    const prefix = options.prefix ?? 'statehub';
    const connection: RedisOptions = {
      lazyConnect: true,
      // Fail fast while Redis is away: the API answers 503 instead of hanging.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: options.commandTimeoutMs ?? 5_000,
      retryStrategy: (times) => Math.min(50 * 2 ** times, 1_000),
    };
    const redis = new Redis(options.url, connection) as ScriptedRedis;
    const subscriber = new Redis(options.url, { ...connection, commandTimeout: undefined });
    for (const client of [redis, subscriber]) client.on('error', () => {}); // surfaced per command
    try {
      await Promise.all([redis.connect(), subscriber.connect()]);
    } catch (error) {
      redis.disconnect();
      subscriber.disconnect();
      throw new StoreUnavailableError(`cannot reach Redis at ${redact(options.url)}: ${(error as Error).message}`, { cause: error });
    }
    redis.defineCommand('statehubCommit', { numberOfKeys: 0, lua: lua('commit') });
    redis.defineCommand('statehubGet', { numberOfKeys: 0, lua: lua('get') });
    redis.defineCommand('statehubSince', { numberOfKeys: 0, lua: lua('since') });
    redis.defineCommand('statehubSnapshot', { numberOfKeys: 0, lua: lua('snapshot') });
    redis.defineCommand('statehubChildren', { numberOfKeys: 0, lua: lua('children') });
    redis.defineCommand('statehubLogStats', { numberOfKeys: 0, lua: lua('log-stats') });
    await redis.set(`${prefix}:epoch`, randomBytes(6).toString('hex'), 'NX');
    const epoch = (await redis.get(`${prefix}:epoch`)) as string;
    const clock = new RedisClock(redis);
    await clock.start();
    // Subscribed before the mirror is read, so no commit falls between the two.
    const channel = appendedChannel(prefix);
    try {
      await subscriber.subscribe(channel);
    } catch (error) {
      redis.disconnect();
      subscriber.disconnect();
      const message = (error as Error).message;
      // Redis 7 gives a new ACL user no channels: say which one the hub needs, and how to grant it.
      if (message.startsWith('NOPERM')) {
        throw new StoreUnavailableError(
          `the Redis user of ${redact(options.url)} may not use the channel ${channel}, on which hubs announce new log entries: allow it (ACL SETUSER <user> &${channel}) (Redis said: ${message})`,
          { cause: error },
        );
      }
      throw new StoreUnavailableError(`cannot subscribe to ${channel} on Redis at ${redact(options.url)}: ${message}`, { cause: error });
    }
    const { last, mirror } = await readMirror(redis, prefix);
    return new RedisStore(redis, subscriber, clock, epoch, mirror, last, options.url, options);
  }

  /** Redis's clock (TIME), as this process reads it: the same for every hub on this Redis. */
  now(): number {
    return this.clock.now();
  }

  async commit(commit: Commit): Promise<LogEntry[]> {
    const args: (string | number)[] = [
      this.prefix,
      commit.at ?? this.now(),
      this.options.logLimit,
      this.options.archiveRetentionMs,
      this.options.archiveLimit,
      this.options.historyLimit,
      commit.consumeTimer?.key ?? '',
      commit.consumeTimer?.dueAt ?? 0,
      commit.records.length,
    ];
    const events = commit.events?.map((event) => (event === undefined ? '' : encodeEvent(event))) ?? [];
    commit.records.forEach((record, index) => {
      const json = encodeRecord(record);
      const place = queuePlace(record);
      args.push(
        record.id,
        record.seq,
        record.kind,
        json,
        record.removed ? '1' : '',
        record.parentId ?? '',
        place?.type ?? '',
        place?.requirementsKey ?? '',
        place ? JSON.stringify(place.requirements) : '',
        place ? queueMember(place.priority, place.createdAt, record.id) : '',
        leaseHolder(record) ?? '',
        events[index] ?? '',
      );
    });
    const sets = commit.setTimers ?? [];
    args.push(sets.length);
    for (const timer of sets) args.push(timer.key, timer.dueAt, JSON.stringify(timer));
    const clears = commit.clearTimers ?? [];
    args.push(clears.length, ...clears, this.writer);
    const [logEnd, ...ids] = await this.call('commit', () => this.redis.statehubCommit(args));
    const entries = ids.map((id, index) => logEntry(this.offsetOf(id), commit.records[index] as ActorRecord, commit.events?.[index]));
    const last = ids.at(-1);
    // The tail may have brought these entries back already; then there is nothing left to do.
    if (last !== undefined && compareStreamIds(last, this.lastSeen) > 0) {
      // Nothing between what was delivered and this commit: deliver it now (the tail never reads
      // it). Otherwise other writers' entries come first: the tail reads them, and hands these
      // on after them without parsing them again.
      if (logEnd === this.lastSeen) this.deliver(last, entries);
      else {
        ids.forEach((id, index) => this.own.set(id, entries[index] as LogEntry));
        this.readSoon();
      }
    }
    return entries;
  }

  async get(id: string): Promise<ActorRecord | undefined> {
    const [json] = await this.call('get', () => this.redis.statehubGet(this.prefix, this.now(), id));
    return json ? parseRecord(json, id) : undefined;
  }

  async history(id: string): Promise<LogEntry[]> {
    if (!(await this.get(id))) return [];
    const items = await this.call('history', () => this.redis.lrange(`${this.prefix}:hist:${id}`, 0, -1));
    return items.map((item) => {
      // "<stream id>\n[E<event json>\n]<record json>" (see commit.lua).
      const newline = item.indexOf('\n');
      const offset = this.offsetOf(item.slice(0, newline));
      if (item[newline + 1] !== 'E') return { offset, record: parseRecord(item.slice(newline + 1), id) };
      const eventEnd = item.indexOf('\n', newline + 1);
      return logEntry(offset, parseRecord(item.slice(eventEnd + 1), id), parseEvent(item.slice(newline + 2, eventEnd)));
    });
  }

  async children(parentId: string): Promise<ActorRecord[]> {
    const texts = await this.call('children', () => this.redis.statehubChildren(this.prefix, parentId));
    return readable(texts);
  }

  /** Every live record as of the log's end when asked (or later), from the mirror. */
  async snapshot(kinds?: readonly Kind[]): Promise<Snapshot> {
    const [newest] = await this.call('snapshot', () => this.redis.xrevrange(`${this.prefix}:log`, '+', '-', 'COUNT', 1));
    await this.caughtUp(newest?.[0] ?? '0-0');
    const records: ActorRecord[] = [];
    for (const record of this.mirror.values()) if (!kinds || kinds.includes(record.kind)) records.push(record);
    return { offset: this.offsetOf(this.lastSeen), records };
  }

  private caughtUp(id: string): Promise<void> {
    if (compareStreamIds(this.lastSeen, id) >= 0) return Promise.resolve();
    this.readSoon();
    return new Promise<void>((resume, fail) => {
      const timer = setTimeout(() => {
        this.waiting = this.waiting.filter((waiter) => waiter.resume !== done);
        fail(new StoreUnavailableError(`the log tail of Redis at ${redact(this.url)} is behind; try again`));
      }, TAIL_PATIENCE_MS);
      const done = () => {
        clearTimeout(timer);
        resume();
      };
      this.waiting.push({ id, resume: done });
    });
  }

  async logStats(): Promise<LogStats> {
    const [length, appended] = await this.call('logStats', () => this.redis.statehubLogStats(this.prefix));
    return { appended: appended < 0 ? undefined : appended, length };
  }

  async changesSince(offset: string, limit?: number): Promise<LogEntry[] | undefined> {
    const id = this.streamIdOf(offset);
    if (id === undefined) return undefined;
    const flat = await this.call('changesSince', () => this.redis.statehubSince(this.prefix, id, limit ?? 0));
    if (!flat) return undefined;
    const entries: LogEntry[] = [];
    for (let index = 0; index < flat.length; index += 3) {
      const [record] = readable([flat[index + 1] as string]);
      if (record) entries.push(logEntry(this.offsetOf(flat[index] as string), record, parseEvent(flat[index + 2] as string)));
    }
    return entries;
  }

  /** Read back from the log's end a page at a time (XREVRANGE), until a record stamped before `at`. */
  async changesStampedFrom(at: number, limit: number): Promise<LogEntry[]> {
    const key = `${this.prefix}:log`;
    const newestFirst: LogEntry[] = [];
    let end = '+';
    while (newestFirst.length < limit) {
      const count = Math.min(STAMPED_PAGE, limit - newestFirst.length);
      const page = (await this.call('changesStampedFrom', () => this.redis.xrevrange(key, end, '-', 'COUNT', count))) as StreamItem[];
      for (const [id, fields] of page) {
        const entry = this.streamEntry(id, fields);
        if (!entry) continue;
        if (!(Date.parse(entry.record.updatedAt) >= at)) return newestFirst.reverse();
        newestFirst.push(entry);
      }
      const last = page.at(-1);
      if (!last || page.length < count) break;
      end = `(${last[0]}`;
    }
    return newestFirst.reverse();
  }

  compareOffsets(a: string, b: string): number {
    return compareStreamIds(this.streamIdOf(a) ?? '0-0', this.streamIdOf(b) ?? '0-0');
  }

  subscribe(listener: (entries: LogEntry[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  delivered(): string {
    return this.offsetOf(this.lastSeen);
  }

  onGap(listener: () => void): () => void {
    this.gapListeners.add(listener);
    return () => this.gapListeners.delete(listener);
  }

  async pendingJobs(type: string, accept: (requirements: Requirements) => boolean, limit: number): Promise<string[]> {
    if (limit <= 0) return [];
    const groups = await this.call('pendingJobs', () => this.redis.hgetall(`${this.prefix}:qg:${type}`));
    const accepted = Object.entries(groups).filter(([, requirements]) => accept(JSON.parse(requirements) as Requirements));
    if (accepted.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const [group] of accepted) pipeline.zrangebylex(`${this.prefix}:q:${type}:${group}`, '-', '+', 'LIMIT', 0, limit);
    const results = await this.call('pendingJobs', () => pipeline.exec());
    const members = (results ?? []).flatMap(([error, value]) => {
      if (error) throw new StoreUnavailableError(`redis pendingJobs failed: ${error.message}`, { cause: error });
      return value as string[];
    });
    return members
      .sort()
      .slice(0, limit)
      .map((member) => member.slice(MEMBER_ID_AT));
  }

  async leasesOf(workerId: string): Promise<string[]> {
    return this.call('leasesOf', () => this.redis.smembers(`${this.prefix}:lease:${workerId}`));
  }

  async dueTimers(now: number, limit: number): Promise<Timer[]> {
    if (limit <= 0) return [];
    const keys = await this.call('dueTimers', () => this.redis.zrangebyscore(`${this.prefix}:timers`, '-inf', now, 'LIMIT', 0, limit));
    if (keys.length === 0) return [];
    const texts = await this.call('dueTimers', () => this.redis.hmget(`${this.prefix}:timer`, ...keys));
    // A timer replaced between the two reads comes back as its replacement, which may not be due
    // yet: firing it would consume that one early (its due time is what a commit checks).
    return texts.flatMap((json) => (json ? [JSON.parse(json) as Timer] : [])).filter((timer) => timer.dueAt <= now);
  }

  async nextDueAt(): Promise<number | undefined> {
    const [, score] = await this.call('nextDueAt', () => this.redis.zrange(`${this.prefix}:timers`, '0', '0', 'WITHSCORES'));
    return score === undefined ? undefined : Number(score);
  }

  async putSecret(id: string, value: string): Promise<void> {
    await this.call('putSecret', () => this.redis.hset(`${this.prefix}:secrets`, id, value));
  }

  async getSecret(id: string): Promise<string | undefined> {
    return (await this.call('getSecret', () => this.redis.hget(`${this.prefix}:secrets`, id))) ?? undefined;
  }

  async deleteSecret(id: string): Promise<void> {
    await this.call('deleteSecret', () => this.redis.hdel(`${this.prefix}:secrets`, id));
  }

  async ping(): Promise<void> {
    await this.call('ping', () => this.redis.ping());
  }

  async close(): Promise<void> {
    this.closed = true;
    this.clock.stop();
    clearInterval(this.poll);
    this.listeners.clear();
    this.subscriber.disconnect();
    await this.reading;
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  /** Reads the log now, or right after the read in progress: one read at a time, so entries stay in order. */
  private readSoon(): void {
    if (this.closed) return;
    if (this.reading) {
      this.readAgain = true;
      return;
    }
    this.reading = this.readLog().finally(() => {
      this.reading = undefined;
    });
  }

  /** Reads what the log holds after what was delivered and hands every entry, in order, to the subscribers. */
  private async readLog(): Promise<void> {
    const key = `${this.prefix}:log`;
    do {
      this.readAgain = false;
      try {
        if (this.tailFailed) {
          await this.checkForGap();
          this.tailFailed = false;
        }
        let page: StreamItem[] = [];
        do {
          const answer = (await this.redis.xread('COUNT', TAIL_PAGE, 'STREAMS', key, this.lastSeen)) as Array<[string, StreamItem[]]> | null;
          page = answer?.[0]?.[1] ?? [];
          this.deliverRead(page);
        } while (page.length === TAIL_PAGE && !this.closed);
      } catch {
        if (this.closed) return;
        this.tailFailed = true;
        this.readAgain = true;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    } while (this.readAgain && !this.closed);
  }

  /** Delivers the entries of a read that follow what was delivered (own commits may have gone first). */
  private deliverRead(page: StreamItem[]): void {
    const fresh = page.filter(([id]) => compareStreamIds(id, this.lastSeen) > 0);
    if (fresh.length === 0) return;
    const entries: LogEntry[] = [];
    for (const [id, fields] of fresh) {
      const own = this.own.get(id);
      this.own.delete(id);
      if (own) {
        entries.push(own);
        continue;
      }
      const entry = this.streamEntry(id, fields);
      if (entry) entries.push(entry);
    }
    this.deliver(fresh[fresh.length - 1]?.[0] as string, entries);
  }

  /** A log stream item as a log entry; undefined when its record cannot be read (see `readable`). */
  private streamEntry(id: string, fields: string[]): LogEntry | undefined {
    // Fields: r <record json> [e <event json>].
    const record = readable([fields[1] as string])[0];
    return record && logEntry(this.offsetOf(id), record, parseEvent(fields[2] === 'e' ? fields[3] : undefined));
  }

  /** Hands entries that follow what was delivered, up to stream id `last`, to the mirror and the subscribers. */
  private deliver(last: string, entries: LogEntry[]): void {
    this.lastSeen = last;
    for (const { record } of entries) {
      if (record.removed) this.mirror.delete(record.id);
      else this.mirror.set(record.id, record);
    }
    this.resumeWaiting();
    for (const listener of [...this.listeners]) {
      try {
        listener(entries);
      } catch (error) {
        process.emitWarning(`a store listener failed: ${(error as Error).stack ?? String(error)}`);
      }
    }
  }

  /** After a read failed or the subscriber lost Redis: were entries it had not read trimmed, or the data wiped meanwhile? */
  private async checkForGap(): Promise<void> {
    const epoch = await this.redis.get(`${this.prefix}:epoch`);
    // Whether the changes after what was delivered are still held; one entry is enough to tell.
    const held = epoch === this.epoch ? await this.redis.statehubSince(this.prefix, this.lastSeen, 1) : null;
    if (held) return;
    const { last, mirror } = await readMirror(this.redis, this.prefix);
    this.mirror = mirror;
    this.lastSeen = last;
    this.own.clear();
    this.resumeWaiting();
    for (const listener of [...this.gapListeners]) listener();
  }

  private resumeWaiting(): void {
    if (this.waiting.length === 0) return;
    const still = [];
    for (const waiter of this.waiting) {
      if (compareStreamIds(this.lastSeen, waiter.id) >= 0) waiter.resume();
      else still.push(waiter);
    }
    this.waiting = still;
  }

  onAvailability(listener: (available: boolean, reason?: string) => void): () => void {
    this.availabilityListeners.add(listener);
    return () => this.availabilityListeners.delete(listener);
  }

  private async call<T>(what: string, run: () => Promise<T>): Promise<T> {
    let answer: T;
    try {
      answer = await run();
    } catch (error) {
      const message = (error as Error).message ?? String(error);
      if (message.startsWith('CONFLICT TIMER ')) throw new TimerGoneError(message.slice('CONFLICT TIMER '.length));
      if (message.startsWith('CONFLICT ')) throw new ConflictError(message.slice('CONFLICT '.length));
      if (message.startsWith('CLOCK ')) {
        // Another hub's reading of the clock was ahead: catch up, and let the step run again.
        this.clock.advanceTo(Number(message.slice('CLOCK '.length)));
        throw new ConflictError(`the log is stamped ${message.slice('CLOCK '.length)} ms: this hub's clock reading was behind`);
      }
      // ioredis refuses at once what it cannot send (no connection, offline queue off): that never left.
      const unsent = /enableOfflineQueue|Connection is closed|Stream isn't writeable/.test(message);
      this.setAvailable(false, message);
      throw new StoreUnavailableError(`Redis at ${redact(this.url)} did not answer ${what}: ${message}`, { cause: error, maybeApplied: !unsent });
    }
    this.setAvailable(true);
    return answer;
  }

  /** Down at the first failure; up again only once it answered with no failure for a second (a restarting Redis answers, then says it is loading). */
  private setAvailable(available: boolean, reason?: string): void {
    const now = Date.now();
    if (!available) this.lastFailureAt = now;
    if (this.available === available || (available && now - this.lastFailureAt < 1_000)) return;
    this.available = available;
    for (const listener of this.availabilityListeners) listener(available, reason);
  }

  private offsetOf(streamId: string): string {
    return `${this.epoch}:${streamId}`;
  }

  private streamIdOf(offset: string): string | undefined {
    const colon = offset.indexOf(':');
    if (colon < 0 || offset.slice(0, colon) !== this.epoch) return undefined;
    const id = offset.slice(colon + 1);
    return STREAM_ID.test(id) ? id : undefined;
  }
}

/** Where commits announce their writer's id (see commit.lua). */
function appendedChannel(prefix: string): string {
  return `${prefix}:appended`;
}

function logEntry(offset: string, record: ActorRecord, event: ChangeEvent | undefined): LogEntry {
  return event === undefined ? { offset, record } : { offset, record, event };
}

/** A stored event's text; one that cannot be read is left out (the change itself still counts). */
function parseEvent(text: string | undefined): ChangeEvent | undefined {
  if (!text) return undefined;
  try {
    const event = JSON.parse(text) as ChangeEvent | null;
    return event !== null && typeof event === 'object' && typeof event.type === 'string' ? event : undefined;
  } catch {
    return undefined;
  }
}

/** Every live record and the id of the last log entry they include, as one consistent read. */
async function readMirror(redis: ScriptedRedis, prefix: string): Promise<{ last: string; mirror: Map<string, ActorRecord> }> {
  const [last, ...pairs] = await redis.statehubSnapshot(prefix, ...KINDS);
  const mirror = new Map<string, ActorRecord>();
  for (let index = 0; index < pairs.length; index += 2) {
    for (const record of readable([pairs[index + 1] as string], pairs[index])) mirror.set(record.id, record);
  }
  return { last: last ?? '0-0', mirror };
}

/**
 * The records among `texts` that can be read. One that cannot is left out with a warning: it
 * fails its own reads (get, history), never a snapshot, the stream or another actor's.
 */
function readable(texts: string[], id?: string): ActorRecord[] {
  const records: ActorRecord[] = [];
  for (const text of texts) {
    try {
      records.push(parseRecord(text, id));
    } catch (error) {
      process.emitWarning((error as Error).message, 'UnreadableRecordWarning');
    }
  }
  return records;
}

function compareStreamIds(a: string, b: string): number {
  const [, aMs = '0', aSeq = '0'] = STREAM_ID.exec(a) ?? [];
  const [, bMs = '0', bSeq = '0'] = STREAM_ID.exec(b) ?? [];
  return Number(aMs) - Number(bMs) || Number(aSeq) - Number(bSeq);
}
