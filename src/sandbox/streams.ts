/**
 * Numbered streams: a steady flow of chat-message frames to one simulated user, numbered 1, 2,
 * 3, … per user and never reused (a new stream for the user continues the count), so a test
 * can say exactly which events a consumer missed across reconnects. A number is consumed
 * whether or not a socket is open, because OnlyFans does not replay what nobody heard; the
 * numbers that reached at least one socket are kept as ranges.
 */
import { performance } from 'node:perf_hooks';
import { numberedChatMessage, type OfFrame } from './events.js';
import { creatorIdOf } from './generator.js';
import type { Rng } from './rng.js';

/** How fast a stream sends, and optionally how many events before it stops by itself. */
export interface StreamOptions {
  /** Events per second, greater than 0 and at most {@link MAX_STREAM_PER_SECOND}. */
  perSecond: number;
  /** Stop after this many events; default: run until stopped. */
  count?: number;
}

/** A user's stream as `GET /_sim/users/{id}/stream` shows it. */
export interface StreamStatus {
  running: boolean;
  /** Rate of the latest stream; 0 when the user never had one. */
  perSecond: number;
  /** The latest stream's `count`, or null when it had none. */
  count: number | null;
  /** Numbers the latest stream consumed, heard or not. */
  sent: number;
  /** The number the next event will carry. */
  nextSeq: number;
  /**
   * Numbers that reached at least one socket, as inclusive `[first, last]` ranges in order
   * (the last {@link DELIVERED_RANGES_LIMIT}); the numbers between them were sent to nobody.
   */
  delivered: Array<[first: number, last: number]>;
}

/** Where stream frames go; returns how many sockets got the frame. */
export interface StreamTarget {
  push(userId: string, frame: OfFrame): number;
}

/** The highest rate a stream accepts: enough for load tests, low enough not to starve the loop. */
export const MAX_STREAM_PER_SECOND = 1000;
/** Delivered ranges kept per user; a range only starts when delivery resumes after a gap. */
export const DELIVERED_RANGES_LIMIT = 1000;
/** Users that can hold stream state (their numbering must survive a stopped stream). */
const MAX_STREAM_USERS = 1000;
// Fast streams send several events per tick rather than scheduling a timer per millisecond.
const MIN_TICK_MS = 10;
// Very slow rates still tick once a minute: a longer delay would overflow Node's timer range.
const MAX_TICK_MS = 60_000;
// Stream message ids sit above the generator's 9.0e12–9.5e12 range, so the two never collide.
const MESSAGE_ID_BASE = 9_500_000_000_000;

interface UserStream {
  nextSeq: number;
  readonly delivered: Array<[number, number]>;
  perSecond: number;
  count: number | undefined;
  sent: number;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Validates stream options from an untyped caller (the HTTP control API, plain JS). Throws
 * RangeError naming the field.
 */
export function parseStreamOptions(value: unknown): StreamOptions {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new RangeError('stream options must be a JSON object with "perSecond"');
  }
  const { perSecond, count, ...rest } = value as Record<string, unknown>;
  const unknown = Object.keys(rest)[0];
  if (unknown !== undefined) throw new RangeError(`unknown stream field "${unknown}"; expected perSecond and count`);
  if (typeof perSecond !== 'number' || !Number.isFinite(perSecond) || perSecond <= 0 || perSecond > MAX_STREAM_PER_SECOND) {
    throw new RangeError(`perSecond must be a number greater than 0 and at most ${MAX_STREAM_PER_SECOND}`);
  }
  if (count === undefined) return { perSecond };
  if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 1) {
    throw new RangeError('count must be a positive integer');
  }
  return { perSecond, count };
}

/** Every user's numbered stream in one simulator. */
export class NumberedStreams {
  private readonly users = new Map<string, UserStream>();
  private nextMessageId = MESSAGE_ID_BASE;

  constructor(
    private readonly target: StreamTarget,
    private readonly rng: Rng,
  ) {}

  /** Starts a stream for the user, replacing a running one; numbering continues. */
  start(userId: string, options: StreamOptions): StreamStatus {
    const { perSecond, count } = parseStreamOptions(options);
    const stream = this.users.get(userId) ?? this.create(userId);
    this.clear(stream);
    stream.perSecond = perSecond;
    stream.count = count;
    stream.sent = 0;
    const tickMs = Math.min(Math.max(1000 / perSecond, MIN_TICK_MS), MAX_TICK_MS);
    // After a stalled event loop the backlog is dropped, not sent in one burst.
    const burst = Math.ceil((perSecond * tickMs) / 1000) * 2;
    const startedAt = performance.now();
    let slots = 0;
    stream.timer = setInterval(() => {
      const due = Math.floor(((performance.now() - startedAt) * perSecond) / 1000);
      const todo = Math.min(due - slots, burst);
      slots = due;
      for (let i = 0; i < todo && stream.timer !== undefined; i++) this.emit(userId, stream);
    }, tickMs);
    stream.timer.unref();
    return this.status(userId);
  }

  /** Stops the user's stream (nothing happens when none runs) and returns its status. */
  stop(userId: string): StreamStatus {
    const stream = this.users.get(userId);
    if (stream !== undefined) this.clear(stream);
    return this.status(userId);
  }

  /** The user's stream; a user that never had one shows `running: false` and `nextSeq: 1`. */
  status(userId: string): StreamStatus {
    const stream = this.users.get(userId);
    if (stream === undefined) return { running: false, perSecond: 0, count: null, sent: 0, nextSeq: 1, delivered: [] };
    return {
      running: stream.timer !== undefined,
      perSecond: stream.perSecond,
      count: stream.count ?? null,
      sent: stream.sent,
      nextSeq: stream.nextSeq,
      delivered: stream.delivered.map(([first, last]) => [first, last]),
    };
  }

  /** Stops every stream (on simulator shutdown); numbering is kept. */
  stopAll(): void {
    for (const stream of this.users.values()) this.clear(stream);
  }

  private create(userId: string): UserStream {
    if (this.users.size >= MAX_STREAM_USERS) {
      throw new RangeError(`at most ${MAX_STREAM_USERS} users can have a stream in one simulator`);
    }
    const stream: UserStream = { nextSeq: 1, delivered: [], perSecond: 0, count: undefined, sent: 0, timer: undefined };
    this.users.set(userId, stream);
    return stream;
  }

  private emit(userId: string, stream: UserStream): void {
    const seq = stream.nextSeq++;
    stream.sent++;
    const frame = numberedChatMessage(this.rng, { creatorId: creatorIdOf(userId), now: Date.now() }, seq, this.nextMessageId++);
    if (this.target.push(userId, frame) > 0) addToRanges(stream.delivered, seq);
    if (stream.count !== undefined && stream.sent >= stream.count) this.clear(stream);
  }

  private clear(stream: UserStream): void {
    clearInterval(stream.timer);
    stream.timer = undefined;
  }
}

/** Extends the last range when `seq` follows it, else opens a new one (dropping the oldest at the limit). */
function addToRanges(ranges: Array<[number, number]>, seq: number): void {
  const last = ranges[ranges.length - 1];
  if (last !== undefined && last[1] === seq - 1) {
    last[1] = seq;
    return;
  }
  ranges.push([seq, seq]);
  if (ranges.length > DELIVERED_RANGES_LIMIT) ranges.shift();
}
