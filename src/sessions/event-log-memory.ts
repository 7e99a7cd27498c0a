/**
 * An {@link EventLog} kept in this process's memory: complete and correct, but gone with the
 * process, so it serves tests and single-process tools, never a gateway whose clients resume
 * after a restart (contract §2 wants the log outside the node's memory).
 *
 * Trimming happens on append, as the Redis implementation's XADD with MAXLEN/MINID does, so
 * the newest entry of a log that was ever appended to is always kept and a gap always has a
 * `before`. Memory is bounded by the retention each append passes.
 */
import {
  compareIds,
  FencedError,
  nextId,
  parseId,
  type EventLog,
  type Fence,
  type FollowListener,
  type LogEntry,
  type LogPage,
  type NewEntry,
  type Retention,
} from './types.js';

interface ModelLog {
  /** Oldest first; ids strictly increasing. */
  entries: LogEntry[];
  bytes: number;
  lastId: string | null;
}

export class MemoryEventLog implements EventLog {
  private readonly logs = new Map<string, ModelLog>();
  /** The highest fencing token seen per model; outlives {@link remove}, as tokens only grow. */
  private readonly fences = new Map<string, number>();
  private readonly followers = new Map<string, Set<FollowListener>>();
  private closed = false;

  /** `now` is the clock of ids and trimming (milliseconds since the epoch). */
  constructor(private readonly now: () => number = Date.now) {}

  async append(fence: Fence, entries: readonly NewEntry[], retention: Retention): Promise<LogEntry[]> {
    this.checkOpen();
    const highest = this.fences.get(fence.modelId) ?? -Infinity;
    if (fence.token < highest) throw new FencedError(fence.modelId, fence.token);
    this.fences.set(fence.modelId, fence.token);
    if (entries.length === 0) return [];
    let log = this.logs.get(fence.modelId);
    if (!log) this.logs.set(fence.modelId, (log = { entries: [], bytes: 0, lastId: null }));
    const now = this.now();
    const added: LogEntry[] = [];
    let last = log.lastId;
    for (const entry of entries) {
      const id = nextId(last, now);
      last = id;
      // Copied: the caller may reuse its buffers, and a view would pin a whole socket read.
      added.push({ id, ts: (parseId(id) as { ms: number }).ms, kind: entry.kind, data: Buffer.from(entry.data), binary: entry.binary, readAt: entry.readAt });
    }
    log.lastId = last;
    for (const entry of added) {
      log.entries.push(entry);
      log.bytes += entry.data.length;
    }
    trim(log, retention, now);
    const listeners = this.followers.get(fence.modelId);
    if (listeners) {
      for (const listener of [...listeners]) {
        try {
          listener.entries(added);
        } catch {
          // One follower's failure must neither fail the append nor starve the others.
        }
      }
    }
    return added;
  }

  async read(modelId: string, afterId: string | null, limit: number): Promise<LogPage> {
    this.checkOpen();
    if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError('limit must be a positive integer');
    const log = this.logs.get(modelId);
    const entries = log?.entries ?? [];
    const lastId = log?.lastId ?? null;
    const oldest = entries[0];
    if (oldest === undefined) return { entries: [], gap: null, lastId, more: false };
    let start = 0;
    let gap: LogPage['gap'] = null;
    if (afterId !== null) {
      const parsed = parseId(afterId);
      if (parsed === undefined) {
        gap = { after: null, before: oldest.id };
      } else if (compareIds(afterId, oldest.id) < 0) {
        gap = { after: afterId, before: oldest.id };
      } else {
        const at = indexOf(entries, afterId);
        if (at < 0) gap = { after: null, before: oldest.id };
        else start = at + 1;
      }
    }
    const page = entries.slice(start, start + limit);
    return { entries: page, gap, lastId, more: start + limit < entries.length };
  }

  async lastId(modelId: string): Promise<string | null> {
    this.checkOpen();
    return this.logs.get(modelId)?.lastId ?? null;
  }

  follow(modelId: string, listener: FollowListener): () => void {
    this.checkOpen();
    let listeners = this.followers.get(modelId);
    if (!listeners) this.followers.set(modelId, (listeners = new Set()));
    listeners.add(listener);
    return () => {
      listeners.delete(listener);
      if (listeners.size === 0 && this.followers.get(modelId) === listeners) this.followers.delete(modelId);
    };
  }

  async remove(modelId: string): Promise<void> {
    this.checkOpen();
    this.logs.delete(modelId);
  }

  async size(): Promise<{ entries: number; bytes: number }> {
    this.checkOpen();
    let entries = 0;
    let bytes = 0;
    for (const log of this.logs.values()) {
      entries += log.entries.length;
      bytes += log.bytes;
    }
    return { entries, bytes };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.logs.clear();
    this.followers.clear();
  }

  private checkOpen(): void {
    if (this.closed) throw new Error('the event log is closed');
  }
}

/** Drops entries past either bound, oldest first; always keeps the newest. */
function trim(log: ModelLog, retention: Retention, now: number): void {
  const entries = log.entries;
  const cutoff = now - retention.maxAgeMs;
  let drop = Math.max(0, entries.length - Math.max(1, retention.maxEvents));
  while (drop < entries.length - 1 && (entries[drop] as LogEntry).ts < cutoff) drop++;
  if (drop === 0) return;
  for (let i = 0; i < drop; i++) log.bytes -= (entries[i] as LogEntry).data.length;
  entries.splice(0, drop);
}

/** Binary search for an id; -1 when it is not kept. */
function indexOf(entries: readonly LogEntry[], id: string): number {
  let lo = 0;
  let hi = entries.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const c = compareIds((entries[mid] as LogEntry).id, id);
    if (c === 0) return mid;
    if (c < 0) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}
