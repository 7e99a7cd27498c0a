/**
 * Following the cluster event log the way Centrifugo's Redis engine does: the append script
 * publishes each batch it logged, with the id of the stream's entry before it, on the model's
 * channel, and each log object subscribes, on one connection, to the channels of the models it
 * follows. That costs Redis one PUBLISH per append; the XREAD BLOCK over every followed stream
 * it replaces was woken by each append and sent again with every stream, and took about half a
 * core of Redis at 5,000 events/s (docs/performance.md).
 *
 * Pub/sub drops messages when the subscriber connection fails (or falls past Redis's output
 * buffer limit), and a subscription takes effect a moment after follow() is called; the
 * previous id makes both safe. A listener takes a batch only when the batch's previous id is
 * not newer than the listener's own newest id, so nothing is skipped unseen; otherwise it is told
 * lost() (re-read from your last id) and goes on from that batch. Each listener starts at the
 * stream's newest id as fetched, on the command connection, when it subscribed, so a read issued
 * after follow() covers every entry before that point; batches that arrive before that fetch
 * answers are held for it (a bounded number). For a start fetched before the subscription took
 * effect, what was appended after it is read once the subscription has (those appends were
 * published to nobody here) and passed on, or lost() told when the stream no longer holds it
 * all. When the subscriber connection is back after a failure, every listener is told lost().
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import type { Logger } from '../log.js';
import { entryOfRaw, LogScript, newestId, SINCE, type RawEntry } from './redis-log-scripts.js';
import { compareIds, type EntryKind, type FollowListener, type LogEntry } from './types.js';

/** Retry period of a listener's start fetch, or a subscription, that failed. */
const START_RETRY_MS = 500;
/** Entries held for a listener whose start is not known yet; past this it gets lost(). */
const MAX_HELD = 10_000;
/** Entries one verify() passes on; past this the listener re-reads (lost()). */
const VERIFY_LIMIT = 1000;

const sinceScript = new LogScript(SINCE);

/** One append's entries as the script published them. */
export interface PublishedBatch {
  /** The stream's newest id before this append ('0-0' when it had none). */
  prev: string;
  entries: LogEntry[];
}

/**
 * Decodes a published batch: a line `<prev> (<id> <kind> <binary> <length>)…` and, after its
 * newline, the entries' data one after the other. Undefined when malformed.
 */
export function parseBatch(message: Buffer): PublishedBatch | undefined {
  const newline = message.indexOf(0x0a);
  if (newline < 0) return undefined;
  const head = message.toString('latin1', 0, newline).split(' ');
  if ((head.length - 1) % 4 !== 0) return undefined;
  const entries: LogEntry[] = [];
  let offset = newline + 1;
  for (let i = 1; i < head.length; i += 4) {
    const id = head[i]!;
    const length = Number(head[i + 3]);
    const dash = id.indexOf('-');
    if (dash < 1 || !Number.isSafeInteger(length) || length < 0 || offset + length > message.length) return undefined;
    const kind: EntryKind = head[i + 1] === 'status' ? 'status' : 'event';
    entries.push({ id, ts: Number(id.slice(0, dash)), kind, data: message.subarray(offset, offset + length), binary: head[i + 2] === '1' });
    offset += length;
  }
  if (offset !== message.length || entries.length === 0) return undefined;
  return { prev: head[0]!, entries };
}

interface Listening {
  listener: FollowListener;
  /** The newest id it has (or, before it had any, its start); null until the start is known. */
  from: string | null;
  /**
   * Its start was fetched before the channel's subscription took effect, so an append in
   * between reached neither: once both are done, verify() reads what it missed.
   */
  unverified: boolean;
  held: PublishedBatch[];
  heldEntries: number;
  overflowed: boolean;
}

interface Followed {
  key: string;
  channel: string;
  modelId: string;
  listening: Set<Listening>;
  /** SUBSCRIBE answered: every batch published from then on comes. */
  subscribed: boolean;
}

export interface RedisLogFeedOptions {
  /** The command connection (start fetches). */
  main: Redis;
  /** A connection of its own, which this feed puts in subscriber mode. */
  subscriber: Redis;
  streamKey: (modelId: string) => string;
  channel: (modelId: string) => string;
  logger?: Logger;
}

export class RedisLogFeed {
  private readonly main: Redis;
  private readonly subscriber: Redis;
  private readonly streamKey: (modelId: string) => string;
  private readonly channelOf: (modelId: string) => string;
  private readonly logger: Logger | undefined;
  private readonly streams = new Map<string, Followed>();
  private readonly byChannel = new Map<string, Followed>();
  private closed = false;
  /** Whether the subscriber was ever ready: a 'ready' after that is a reconnect. */
  private everReady: boolean;

  constructor(options: RedisLogFeedOptions) {
    this.main = options.main;
    this.subscriber = options.subscriber;
    this.streamKey = options.streamKey;
    this.channelOf = options.channel;
    this.logger = options.logger;
    this.subscriber.on('messageBuffer', this.onMessage);
    this.everReady = this.subscriber.status === 'ready';
    this.subscriber.on('ready', () => {
      if (this.everReady) void this.recover();
      this.everReady = true;
    });
  }

  follow(modelId: string, listener: FollowListener): () => void {
    let followed = this.streams.get(modelId);
    if (!followed) {
      followed = { key: this.streamKey(modelId), channel: this.channelOf(modelId), modelId, listening: new Set(), subscribed: false };
      this.streams.set(modelId, followed);
      this.byChannel.set(followed.channel, followed);
      void this.subscribe(followed, false);
    }
    const listening: Listening = { listener, from: null, unverified: false, held: [], heldEntries: 0, overflowed: false };
    followed.listening.add(listening);
    void this.start(followed, listening, false);
    return () => {
      const current = this.streams.get(modelId);
      if (!current || !current.listening.delete(listening) || current.listening.size > 0) return;
      this.streams.delete(modelId);
      this.byChannel.delete(current.channel);
      this.subscriber.unsubscribe(current.channel).catch(() => {
        // the connection is away: a reconnect subscribes to what is followed then, not this
      });
    };
  }

  /** Subscribes to the model's channel, retrying while that fails; a retried one may have missed batches. */
  private async subscribe(followed: Followed, retried: boolean): Promise<void> {
    try {
      await this.subscriber.subscribe(followed.channel);
    } catch {
      if (!this.isFollowed(followed)) return;
      await sleep(START_RETRY_MS, undefined, { ref: false });
      if (this.isFollowed(followed)) void this.subscribe(followed, true);
      return;
    }
    if (!this.isFollowed(followed)) return;
    followed.subscribed = true;
    if (retried) {
      for (const listening of followed.listening) this.lost(followed, listening);
      return;
    }
    for (const listening of followed.listening) if (listening.unverified && listening.from !== null) void this.verify(followed, listening);
  }

  /**
   * For a listener whose start was fetched before the subscription took effect: reads, now that
   * every later batch comes, the entries after its start (an append in between was published to
   * nobody here) and passes them on as a batch would be; lost() instead when the stream no
   * longer holds all of them (trimmed meanwhile) or they are more than one read.
   */
  private async verify(followed: Followed, listening: Listening): Promise<void> {
    listening.unverified = false;
    const start = listening.from!;
    let kept: number;
    let untrimmed: number;
    let raw: RawEntry[];
    try {
      [kept, untrimmed, raw] = (await sinceScript.run(this.main, [followed.key], [start, VERIFY_LIMIT])) as [number, number, RawEntry[]];
    } catch {
      if (followed.listening.has(listening)) this.lost(followed, listening);
      return;
    }
    if (this.closed || !followed.listening.has(listening)) return;
    // Trimming takes the oldest first: nothing after the start is gone while the start itself is
    // kept; a start of '0-0' (the stream was empty) needs a stream that never trimmed at all.
    const complete = kept === 1 || (start === '0-0' && untrimmed === 1);
    const entries = raw.map(entryOfRaw);
    if (!complete || entries.length >= VERIFY_LIMIT) {
      const last = entries[entries.length - 1]?.id;
      if (last !== undefined && compareIds(last, listening.from!) > 0) listening.from = last;
      this.call(followed, listening, 'lost');
      return;
    }
    if (entries.length > 0) this.take(followed, listening, { prev: start, entries });
  }

  /** Fetches the listener's start (retrying while it fails) and lets it in. */
  private async start(followed: Followed, listening: Listening, retried: boolean): Promise<void> {
    let newest: string;
    listening.unverified = !followed.subscribed;
    try {
      newest = (await newestId(this.main, followed.key)) ?? '0-0';
    } catch {
      if (this.closed || !followed.listening.has(listening)) return;
      await sleep(START_RETRY_MS, undefined, { ref: false });
      if (!this.closed && followed.listening.has(listening)) void this.start(followed, listening, true);
      return;
    }
    if (this.closed || !followed.listening.has(listening)) return;
    listening.from = newest;
    const held = listening.held;
    listening.held = [];
    listening.heldEntries = 0;
    if (listening.overflowed || retried) {
      listening.overflowed = false;
      this.call(followed, listening, 'lost');
      return;
    }
    for (const batch of held) this.take(followed, listening, batch);
    if (listening.unverified && followed.subscribed) void this.verify(followed, listening);
  }

  private readonly onMessage = (channel: Buffer, message: Buffer): void => {
    const followed = this.byChannel.get(channel.toString());
    if (!followed) return;
    const batch = parseBatch(message);
    if (!batch) {
      this.logger?.warn({ modelId: followed.modelId, bytes: message.length }, 'event log feed: a malformed batch; followers will re-read');
      for (const listening of followed.listening) this.lost(followed, listening);
      return;
    }
    for (const listening of followed.listening) {
      if (listening.from !== null) {
        this.take(followed, listening, batch);
      } else if (listening.heldEntries + batch.entries.length > MAX_HELD) {
        listening.overflowed = true;
      } else {
        listening.held.push(batch);
        listening.heldEntries += batch.entries.length;
      }
    }
  };

  /** Passes on the batch's entries newer than the listener's; lost() when some before them went by unseen. */
  private take(followed: Followed, listening: Listening, batch: PublishedBatch): void {
    const newest = batch.entries[batch.entries.length - 1]!.id;
    if (compareIds(batch.prev, listening.from!) > 0) {
      listening.from = newest;
      this.call(followed, listening, 'lost');
      return;
    }
    const from = listening.from!;
    const fresh = compareIds(batch.entries[0]!.id, from) > 0 ? batch.entries : batch.entries.filter((e) => compareIds(e.id, from) > 0);
    if (fresh.length === 0) return;
    listening.from = newest;
    this.call(followed, listening, 'entries', fresh);
  }

  /** Tells a listener it may have missed entries (a listener still starting is told by its start). */
  private lost(followed: Followed, listening: Listening): void {
    if (listening.from === null) listening.overflowed = true;
    else this.call(followed, listening, 'lost');
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
   * The subscriber connection is back: it subscribes again to every followed channel, and every
   * listener, which may have missed batches while it was away, is told so.
   */
  private async recover(): Promise<void> {
    if (this.closed) return;
    this.logger?.warn('event log feed reconnected; followers will re-read');
    const channels = [...this.byChannel.keys()];
    if (channels.length > 0) {
      try {
        await this.subscriber.subscribe(...channels);
      } catch {
        return; // down again: the next 'ready' comes back here
      }
    }
    for (const followed of this.streams.values()) for (const listening of followed.listening) this.lost(followed, listening);
  }

  private isFollowed(followed: Followed): boolean {
    return !this.closed && this.streams.get(followed.modelId) === followed;
  }

  close(): void {
    this.closed = true;
    this.streams.clear();
    this.byChannel.clear();
    this.subscriber.disconnect();
  }
}
