/**
 * Concurrent sockets per simulated user and the peak since the last reset, for tests that
 * check a gateway never holds two OnlyFans sockets for one model.
 *
 * A socket counts from its accepted upgrade, not from its `connect` act. The user is known
 * only once the token arrives, so the socket's span is credited backwards then: otherwise a
 * gateway that opens a new socket and closes the old one before the new one authenticates
 * would seem never to have held two. Closed spans are therefore kept for as long as a socket
 * may take to authenticate (the connect timeout), and no longer.
 */
import { performance } from 'node:perf_hooks';

/** One user's sockets now and at most since the last reset. */
export interface ConnectionCounts {
  current: number;
  peak: number;
}

interface Span {
  start: number;
  end: number;
}

interface UserSpans {
  /** Authenticated live sockets and their upgrade times. */
  readonly open: Map<object, number>;
  /** Recently closed sockets, oldest first. */
  closed: Span[];
  peak: number;
}

// Bounds the spans kept per user when a peer churns sockets faster than the lookback expires them.
const CLOSED_SPANS_LIMIT = 1000;

/** Socket counts per user; times are `performance.now()` milliseconds. */
export class ConnectionPeaks {
  private readonly users = new Map<string, UserSpans>();
  private resetAt = -Infinity;

  /** @param lookbackMs how long after its upgrade a socket can still authenticate. */
  constructor(private readonly lookbackMs: number) {}

  /** Records that `socket`, upgraded at `upgradedAt`, has authenticated as the user. */
  opened(userId: string, socket: object, upgradedAt: number, now = performance.now()): void {
    let user = this.users.get(userId);
    if (user === undefined) {
      user = { open: new Map(), closed: [], peak: 0 };
      this.users.set(userId, user);
    }
    const horizon = now - this.lookbackMs;
    user.closed = user.closed.filter((span) => span.end > horizon);
    user.open.set(socket, upgradedAt);
    user.peak = Math.max(user.peak, peakSince(spansOf(user), Math.max(upgradedAt, this.resetAt)));
  }

  /** Records that an authenticated socket closed. */
  closed(userId: string, socket: object, now = performance.now()): void {
    const user = this.users.get(userId);
    const start = user?.open.get(socket);
    if (user === undefined || start === undefined) return;
    user.open.delete(socket);
    user.closed.push({ start, end: now });
    if (user.closed.length > CLOSED_SPANS_LIMIT) user.closed.shift();
  }

  current(userId: string): number {
    return this.users.get(userId)?.open.size ?? 0;
  }

  peak(userId: string): number {
    return this.users.get(userId)?.peak ?? 0;
  }

  /** Starts a new peak window: every peak becomes the current count; users with nothing open are forgotten. */
  reset(now = performance.now()): void {
    this.resetAt = now;
    for (const [userId, user] of this.users) {
      user.peak = user.open.size;
      // A span that ended before the reset cannot overlap anything counted from now on.
      user.closed = [];
      if (user.open.size === 0) this.users.delete(userId);
    }
  }

  /** Every user seen since the last reset. */
  snapshot(): Record<string, ConnectionCounts> {
    const counts: Record<string, ConnectionCounts> = {};
    for (const [userId, user] of this.users) counts[userId] = { current: user.open.size, peak: user.peak };
    return counts;
  }
}

function spansOf(user: UserSpans): Span[] {
  const spans = [...user.closed];
  for (const start of user.open.values()) spans.push({ start, end: Infinity });
  return spans;
}

/**
 * The most spans alive at once at or after `from`, by one sweep over starts and ends. At equal
 * times an end comes first: a socket closed at the instant another was upgraded did not overlap it.
 */
function peakSince(spans: readonly Span[], from: number): number {
  let alive = 0;
  const changes: Array<[time: number, delta: number]> = [];
  for (const span of spans) {
    if (span.end <= from) continue;
    if (span.start <= from) alive++;
    else changes.push([span.start, 1]);
    if (span.end !== Infinity) changes.push([span.end, -1]);
  }
  changes.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let peak = alive;
  for (const [, delta] of changes) {
    alive += delta;
    peak = Math.max(peak, alive);
  }
  return peak;
}
