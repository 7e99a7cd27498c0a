/**
 * Following the cluster event log: one blocking connection per log object runs XREAD BLOCK
 * over every followed stream at once (a connection per model would cost a socket and a Redis
 * client each). When the followed set changes, the blocked XREAD is woken with CLIENT UNBLOCK
 * from the command connection and issued again with the new set.
 *
 * Each listener starts at the stream's newest id as fetched, on the command connection, when
 * it subscribed; entries the shared XREAD brings in before that fetch answers are held for it
 * (a bounded number) and passed on when they are newer. If the feed connection drops, every
 * listener is told lost() once it is back, and the feed goes on from the streams' newest ids.
 */
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import type { Logger } from '../log.js';
import { entryOfRaw, type RawEntry } from './redis-log-scripts.js';
import { compareIds, type FollowListener, type LogEntry } from './types.js';

/** Entries one XREAD brings per stream: bounds the memory of a burst. */
const FEED_COUNT = 1000;
/**
 * How long one XREAD blocks. Changes to the followed set unblock it at once; this only bounds
 * how long a missed unblock (a race with the XREAD being sent) delays a new stream.
 */
const FEED_BLOCK_MS = 2000;
/** CLIENT UNBLOCK attempts while an XREAD with an old set is still on its way. */
const UNBLOCK_ATTEMPTS = 20;
const UNBLOCK_RETRY_MS = 5;
/** Pause before re-reading after a failure on a connection that looks up (no busy loop). */
const FAILURE_PAUSE_MS = 200;
/** Retry period of a listener's start fetch that failed. */
const START_RETRY_MS = 500;
/** Entries held for a listener whose start is not known yet; past this it gets lost(). */
const MAX_HELD = 10_000;

interface Listening {
  listener: FollowListener;
  /** The newest id it has (or, before it had any, its start); null until the start is known. */
  from: string | null;
  held: LogEntry[];
  overflowed: boolean;
}

interface Followed {
  key: string;
  modelId: string;
  /** Where the next XREAD reads this stream from; null until a listener's start is known. */
  position: string | null;
  listening: Set<Listening>;
}

export interface RedisLogFeedOptions {
  main: Redis;
  blocking: Redis;
  streamKey: (modelId: string) => string;
  logger?: Logger;
}

export class RedisLogFeed {
  private readonly main: Redis;
  private readonly blocking: Redis;
  private readonly streamKey: (modelId: string) => string;
  private readonly logger: Logger | undefined;
  private readonly streams = new Map<string, Followed>();
  /** Bumped whenever the set of streams to read changes. */
  private generation = 0;
  /** The generation the XREAD in flight was built from; -1 when none is in flight. */
  private reading = -1;
  private blockingId: number | undefined;
  private running = false;
  private closed = false;

  constructor(options: RedisLogFeedOptions) {
    this.main = options.main;
    this.blocking = options.blocking;
    this.streamKey = options.streamKey;
    this.logger = options.logger;
  }

  follow(modelId: string, listener: FollowListener): () => void {
    let followed = this.streams.get(modelId);
    if (!followed) {
      followed = { key: this.streamKey(modelId), modelId, position: null, listening: new Set() };
      this.streams.set(modelId, followed);
    }
    const listening: Listening = { listener, from: null, held: [], overflowed: false };
    followed.listening.add(listening);
    void this.start(followed, listening, false);
    return () => {
      const current = this.streams.get(modelId);
      if (!current || !current.listening.delete(listening) || current.listening.size > 0) return;
      this.streams.delete(modelId);
      if (current.position !== null) this.changed();
    };
  }

  /** Fetches the listener's start (retrying while it fails) and lets it in. */
  private async start(followed: Followed, listening: Listening, retried: boolean): Promise<void> {
    let newest: string;
    try {
      newest = (await this.main.xrevrange(followed.key, '+', '-', 'COUNT', 1))[0]?.[0] ?? '0-0';
    } catch {
      if (this.closed || !followed.listening.has(listening)) return;
      await sleep(START_RETRY_MS, undefined, { ref: false });
      if (!this.closed && followed.listening.has(listening)) void this.start(followed, listening, true);
      return;
    }
    if (this.closed || !followed.listening.has(listening)) return;
    listening.from = newest;
    const held = listening.held.filter((entry) => compareIds(entry.id, newest) > 0);
    listening.held = [];
    if (listening.overflowed || retried) this.call(followed, listening, 'lost');
    else if (held.length > 0) this.pass(followed, listening, held);
    if (followed.position === null && this.streams.get(followed.modelId) === followed) {
      followed.position = newest;
      this.changed();
    }
  }

  /** The set of streams to read changed: (re)start the loop, or wake its XREAD. */
  private changed(): void {
    this.generation++;
    if (!this.running) void this.run();
    else void this.unblock();
  }

  private async unblock(): Promise<void> {
    for (let attempt = 0; attempt < UNBLOCK_ATTEMPTS; attempt++) {
      if (this.closed || this.reading === -1 || this.reading >= this.generation || this.blockingId === undefined) return;
      try {
        if ((await this.main.client('UNBLOCK', this.blockingId)) === 1) return;
      } catch {
        return; // Redis is away: the feed's own recovery re-reads everything
      }
      // Not blocked yet (the XREAD is on its way) or no longer (it is returning): look again.
      await sleep(UNBLOCK_RETRY_MS, undefined, { ref: false });
    }
  }

  private async run(): Promise<void> {
    this.running = true;
    try {
      while (!this.closed) {
        const active = [...this.streams.values()].filter((s) => s.position !== null);
        if (active.length === 0) return;
        this.reading = this.generation;
        let reply: [Buffer, RawEntry[]][] | null;
        try {
          // Sent together: the id is known before the XREAD blocks, for CLIENT UNBLOCK.
          const id = this.blocking.client('ID');
          const read = this.blocking.callBuffer(
            'XREAD', 'COUNT', FEED_COUNT, 'BLOCK', FEED_BLOCK_MS, 'STREAMS', ...active.map((s) => s.key), ...active.map((s) => s.position!),
          );
          this.blockingId = (await id) as number;
          reply = (await read) as [Buffer, RawEntry[]][] | null;
        } catch (err) {
          this.reading = -1;
          if (this.closed) return;
          await this.recover(err as Error);
          continue;
        }
        this.reading = -1;
        if (reply) this.deliver(active, reply);
      }
    } finally {
      this.running = false;
      this.reading = -1;
    }
  }

  private deliver(active: Followed[], reply: [Buffer, RawEntry[]][]): void {
    const byKey = new Map(active.map((s) => [s.key, s]));
    for (const [key, raw] of reply) {
      const followed = byKey.get(key.toString());
      if (!followed || raw.length === 0) continue;
      const entries = raw.map(entryOfRaw);
      followed.position = entries[entries.length - 1]!.id;
      if (this.streams.get(followed.modelId) !== followed) continue; // unsubscribed meanwhile
      for (const listening of followed.listening) {
        if (listening.from === null) {
          if (listening.held.length + entries.length > MAX_HELD) listening.overflowed = true;
          else listening.held.push(...entries);
          continue;
        }
        const from = listening.from;
        this.pass(followed, listening, entries.filter((entry) => compareIds(entry.id, from) > 0));
      }
    }
  }

  private pass(followed: Followed, listening: Listening, entries: LogEntry[]): void {
    if (entries.length === 0) return;
    listening.from = entries[entries.length - 1]!.id;
    this.call(followed, listening, 'entries', entries);
  }

  private call(followed: Followed, listening: Listening, what: 'entries' | 'lost', entries?: LogEntry[]): void {
    try {
      if (what === 'entries') listening.listener.entries(entries!);
      else listening.listener.lost();
    } catch (err) {
      this.logger?.error({ err, modelId: followed.modelId }, 'event log follower failed');
    }
  }

  /**
   * The feed connection failed: once it is back, every stream goes on from its newest id and
   * every listener is told it may have missed entries.
   */
  private async recover(err: Error): Promise<void> {
    this.logger?.warn({ err: err.message }, 'event log feed interrupted; followers will re-read');
    if (this.blocking.status === 'ready') await sleep(FAILURE_PAUSE_MS, undefined, { ref: false });
    else await Promise.race([once(this.blocking, 'ready'), once(this.blocking, 'end')]);
    if (this.closed || this.blocking.status !== 'ready') return;
    const streams = [...this.streams.values()].filter((s) => s.position !== null);
    let newest: (string | undefined)[];
    try {
      newest = await Promise.all(streams.map(async (s) => (await this.blocking.xrevrange(s.key, '+', '-', 'COUNT', 1))[0]?.[0]));
    } catch {
      return; // the loop fails again and comes back here
    }
    streams.forEach((followed, i) => {
      followed.position = newest[i] ?? '0-0';
      for (const listening of followed.listening) {
        if (listening.from === null) continue; // its own start fetch places it
        listening.from = followed.position;
        this.call(followed, listening, 'lost');
      }
    });
  }

  close(): void {
    this.closed = true;
    this.streams.clear();
    this.blocking.disconnect();
  }
}
