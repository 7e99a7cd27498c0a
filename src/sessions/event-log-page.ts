/**
 * The read rules both event logs share (types.ts {@link EventLog.read}): which entries a page
 * holds and when it carries a gap. An implementation fetches, in one consistent view, whether
 * `afterId` is in the log and the entries after it (or, when it is not, from the oldest kept),
 * and this decides the rest, so the embedded and the cluster log cannot drift apart.
 */
import { compareIds, parseId, type LogEntry, type LogPage } from './types.js';

/** Where a read starts: after a kept entry, or at the oldest kept one. */
export type ReadStart = { after: string } | { oldest: true };

/**
 * Where to read from for `afterId`: after it when well-formed (the implementation then checks
 * it is kept, see {@link pageOf}), else from the oldest.
 */
export function readStart(afterId: string | null): ReadStart {
  return afterId !== null && parseId(afterId) ? { after: afterId } : { oldest: true };
}

/**
 * Builds the page. `rows` holds up to `limit + 1` entries in id order: after `afterId` when
 * `found`, else from the oldest kept. A well-formed id that is not kept and is older than the
 * oldest kept was trimmed, so the gap starts after it; any other id (malformed, newer than the
 * newest, between two kept ones) never was in this log, so the gap starts at the beginning.
 * The log does not remember trimmed ids: an id trimmed just before the oldest kept one also
 * gets a gap, though nothing lies between. A gap may be told when nothing was lost, never
 * the reverse.
 */
export function pageOf(afterId: string | null, found: boolean, rows: LogEntry[], limit: number, lastId: string | null): LogPage {
  const more = rows.length > limit;
  const entries = more ? rows.slice(0, limit) : rows;
  const first = entries[0];
  let gap: LogPage['gap'] = null;
  if (afterId !== null && !found && first) {
    const trimmed = parseId(afterId) !== undefined && compareIds(afterId, first.id) < 0;
    gap = { after: trimmed ? afterId : null, before: first.id };
  }
  return { entries, gap, lastId, more };
}

/** Checks a read's `limit` (a programming error, not a client's: callers bound it). */
export function checkLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`read limit must be a positive integer, got ${limit}`);
}

/** Checks a retention before it trims anything. */
export function checkRetention(retention: { maxEvents: number; maxAgeMs: number }): void {
  if (!Number.isInteger(retention.maxEvents) || retention.maxEvents < 1) {
    throw new RangeError(`retention maxEvents must be a positive integer, got ${retention.maxEvents}`);
  }
  if (!Number.isInteger(retention.maxAgeMs) || retention.maxAgeMs < 1) {
    throw new RangeError(`retention maxAgeMs must be a positive integer, got ${retention.maxAgeMs}`);
  }
}
