/**
 * The cluster event log: one Redis Stream per model (key layout from {@link sessionKeys}),
 * readable by every node, so a node that is killed loses nothing already logged and the next
 * holder of the model's session goes on with its ids.
 *
 * Appends and reads are Lua scripts (./redis-log-scripts.ts). Following is one subscriber
 * connection per log object (./redis-log-feed.ts): the append script publishes each batch on
 * the model's channel, whatever the number of models followed.
 */
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from '../log.js';
import { checkLimit, checkRetention, pageOf, readStart } from './event-log-page.js';
import { RedisLogFeed } from './redis-log-feed.js';
import { APPEND, entryOfRaw, LogScript, newestId, READ, type RawEntry } from './redis-log-scripts.js';
import {
  FencedError,
  sessionKeys,
  type EventLog,
  type Fence,
  type FollowListener,
  type LogEntry,
  type LogPage,
  type NewEntry,
  type Retention,
} from './types.js';
import { redisWhere } from '../cluster/redis-where.js';

/** A command (an append included) gives up after this: an append must not hang a session. */
const DEFAULT_COMMAND_TIMEOUT_MS = 2000;

export interface RedisEventLogOptions {
  url: string;
  /** The `redisPrefix` setting. */
  prefix: string;
  /** Names the connections in CLIENT LIST (`<name>` and `<name>:feed`). */
  connectionName?: string;
  commandTimeoutMs?: number;
  /** Where a follower that throws, and a lost feed connection, are reported. */
  logger?: Logger;
}


const appendScript = new LogScript(APPEND);
const readScript = new LogScript(READ);

export class RedisEventLog implements EventLog {
  private readonly redis: Redis;
  private readonly feed: RedisLogFeed;
  private readonly keys: ReturnType<typeof sessionKeys>;
  private closed = false;

  private constructor(redis: Redis, feed: RedisLogFeed, prefix: string) {
    this.redis = redis;
    this.feed = feed;
    this.keys = sessionKeys(prefix);
  }

  /**
   * Connects the command and the feed connections.
   * @throws naming the address (never the password) when Redis cannot be reached.
   */
  static async open(options: RedisEventLogOptions): Promise<RedisEventLog> {
    const name = options.connectionName ?? 'ofgw:eventlog';
    const common: RedisOptions = {
      lazyConnect: true,
      connectTimeout: 2000,
      // Reconnect for ever, a little slower each time, never more than 2 s apart.
      retryStrategy: (attempt) => Math.min(100 * attempt, 2000),
      maxRetriesPerRequest: 0,
    };
    // Appends fail at once while Redis is away rather than queueing behind a reconnect.
    const redis = new Redis(options.url, {
      ...common,
      enableOfflineQueue: false,
      commandTimeout: options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS,
      connectionName: name,
    });
    const subscriber = new Redis(options.url, { ...common, connectionName: `${name}:feed` });
    redis.on('error', (err: Error) => options.logger?.debug({ err: err.message }, 'event log: Redis connection error'));
    subscriber.on('error', (err: Error) => options.logger?.debug({ err: err.message }, 'event log: Redis feed connection error'));
    try {
      await Promise.all([redis.connect(), subscriber.connect()]);
    } catch (err) {
      redis.disconnect();
      subscriber.disconnect();
      throw new Error(`cannot reach Redis at ${redisWhere(options.url)} for the event log: ${(err as Error).message}`, { cause: err });
    }
    const keys = sessionKeys(options.prefix);
    const feed = new RedisLogFeed({ main: redis, subscriber, streamKey: keys.log, channel: keys.feed, logger: options.logger });
    return new RedisEventLog(redis, feed, options.prefix);
  }

  async append(fence: Fence, entries: readonly NewEntry[], retention: Retention): Promise<LogEntry[]> {
    this.checkOpen();
    checkRetention(retention);
    if (entries.length === 0) return [];
    const args: (string | Buffer | number)[] = [String(fence.token), retention.maxEvents, retention.maxAgeMs, fence.modelId, this.keys.feed(fence.modelId)];
    for (const entry of entries) args.push(entry.kind, entry.binary ? '1' : '0', entry.data);
    let ids: Buffer[];
    try {
      ids = (await appendScript.run(this.redis, [this.keys.fence(fence.modelId), this.keys.log(fence.modelId), this.keys.logs], args)) as Buffer[];
    } catch (err) {
      if (err instanceof Error && /^(ERR )?FENCED\b/.test(err.message)) throw new FencedError(fence.modelId, fence.token);
      throw err;
    }
    return ids.map((raw, i) => {
      const id = raw.toString();
      const entry = entries[i]!;
      return { id, ts: Number(id.slice(0, id.indexOf('-'))), kind: entry.kind, data: entry.data, binary: entry.binary };
    });
  }

  async read(modelId: string, afterId: string | null, limit: number): Promise<LogPage> {
    this.checkOpen();
    checkLimit(limit);
    const start = readStart(afterId);
    const after = 'after' in start ? start.after : '';
    const [raw, newest, found] = (await readScript.run(this.redis, [this.keys.log(modelId)], [after, limit + 1])) as [RawEntry[], Buffer, number];
    const lastId = newest.length > 0 ? newest.toString() : null;
    return pageOf(afterId, found === 1, raw.map(entryOfRaw), limit, lastId);
  }

  async lastId(modelId: string): Promise<string | null> {
    this.checkOpen();
    return newestId(this.redis, this.keys.log(modelId));
  }

  /**
   * Follows from the model's newest id as Redis sees it when it receives this call: a read
   * issued after follow() on this object covers every entry before that point.
   */
  follow(modelId: string, listener: FollowListener): () => void {
    this.checkOpen();
    return this.feed.follow(modelId, listener);
  }

  async remove(modelId: string): Promise<void> {
    this.checkOpen();
    await this.redis.multi().del(this.keys.log(modelId)).srem(this.keys.logs, modelId).exec();
  }

  /**
   * Entries are exact (XLEN); bytes are approximate: MEMORY USAGE of each stream, which counts
   * Redis's own overhead (ids, field names, listpack headers) besides the payloads.
   */
  async size(): Promise<{ entries: number; bytes: number }> {
    this.checkOpen();
    const models = await this.redis.smembers(this.keys.logs);
    if (models.length === 0) return { entries: 0, bytes: 0 };
    const pipeline = this.redis.pipeline();
    for (const modelId of models) {
      pipeline.xlen(this.keys.log(modelId));
      pipeline.memory('USAGE', this.keys.log(modelId));
    }
    const replies = (await pipeline.exec()) ?? [];
    let entries = 0;
    let bytes = 0;
    for (let i = 0; i < replies.length; i += 2) {
      entries += Number(replies[i]?.[1] ?? 0);
      bytes += Number(replies[i + 1]?.[1] ?? 0);
    }
    return { entries, bytes };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.feed.close();
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  private checkOpen(): void {
    if (this.closed) throw new Error('the event log is closed');
  }
}
