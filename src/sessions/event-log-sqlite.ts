/**
 * The embedded event log (one node): every model's log in one SQLite file of its own, beside
 * the store but apart from it, so that a busy model's appends never queue behind the store's
 * writes and the log can be deleted without touching the store.
 *
 * Durability: a commit is in the WAL file — the OS's page cache — before append() resolves,
 * which survives a killed process (the contract's promise: a node that is killed loses nothing
 * already logged). By default nothing is fsynced while the log runs (SQLite synchronous=OFF), as
 * Redis's and Kafka's defaults do: every checkpoint's fsyncs would stop the event loop for a few
 * milliseconds, the largest part of the delivery p99 (docs/performance.md). An OS crash or power
 * loss can then take the latest events and leave the file damaged; so an open after an end
 * without close() on another boot of the machine checks the file, and a damaged one is set aside
 * (renamed, kept) and a new log started — clients resuming from before get a gap, never a wrong
 * event. With `fsync` the checkpoints are fsynced (synchronous=NORMAL): a power loss takes at
 * most the last commits. close() fsyncs in both modes, so a log closed cleanly is whole on disk.
 *
 * One process owns the file: it is opened with an exclusive lock, held until close(), and a
 * second process opening it is refused (two gateways appending to one log would each hand
 * out ids the other does not see).
 */
import { existsSync, mkdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { Logger } from '../log.js';
import { syncDirectory } from '../sync-directory.js';
import { checkLimit, checkRetention, pageOf, readStart } from './event-log-page.js';
import {
  FencedError,
  nextId,
  parseId,
  type EntryKind,
  type EventLog,
  type Fence,
  type FollowListener,
  type LogEntry,
  type LogPage,
  type NewEntry,
  type Retention,
} from './types.js';

/** Default time between two sweeps of idle models' aged entries: a minute is well within the 24 h default age. */
export const DEFAULT_SWEEP_INTERVAL_MS = 60_000;
/**
 * At most this many entries (beyond the ones just appended) are trimmed by one append, and
 * per model by one sweep, so lowering a plan's maxEvents never makes one append slow; the
 * rest goes on the next appends and sweeps.
 */
export const TRIM_STEP = 1000;
/** Models visited by one sweep; the next sweep goes on where it stopped. */
const SWEEP_MODELS = 500;

export interface SqliteEventLogOptions {
  /** The log file (created with its folder when missing). */
  path: string;
  /** Sweep period; default {@link DEFAULT_SWEEP_INTERVAL_MS}. */
  sweepIntervalMs?: number;
  /** The clock (ms since the epoch) ids and ages are taken from; Date.now by default. */
  now?: () => number;
  /** Where a follower that throws is reported (it does not stop the others), and the open's check. */
  logger?: Logger;
  /** Fsync every checkpoint (synchronous=NORMAL) instead of leaving the writes to the OS; default false. */
  fsync?: boolean;
  /**
   * This boot of the machine, which tells a killed process (its writes are in the page cache)
   * from an OS crash (they may be torn); default Linux's boot_id, null where there is none
   * (then every end without close() is checked).
   */
  bootId?: string | null;
}

/** The kernel's id of this boot (Linux), or null. */
export function machineBootId(): string | null {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || null;
  } catch {
    return null;
  }
}

/** What the open found: a new or cleanly closed file, one a killed process left, or one it checked. */
export type EventLogOpening =
  | { kind: 'clean' }
  | { kind: 'killed' }
  | { kind: 'checked' }
  | { kind: 'set-aside'; damagedPath: string; problem: string };

/** Another process has the file open. */
export class EventLogLockedError extends Error {
  constructor(path: string) {
    super(`the event log ${path} is already open, by another process or another log in this one; two gateways cannot share one event log file`);
    this.name = 'EventLogLockedError';
  }
}

/** The file fails SQLite's integrity check. */
class DamagedLogError extends Error {}

interface ModelRow {
  fence: number;
  last_ms: number | null;
  last_seq: number | null;
  entries: number;
  bytes: number;
  max_events: number;
  max_age_ms: number;
}

/** An append waiting for the next group commit. */
interface PendingAppend {
  fence: Fence;
  entries: readonly NewEntry[];
  retention: Retention;
  resolve(entries: LogEntry[]): void;
  reject(err: unknown): void;
}

/** What a model's log holds. */
interface Kept {
  entries: number;
  bytes: number;
}

interface EntryRow {
  ms: number;
  seq: number;
  kind: EntryKind;
  is_binary: number;
  data: Buffer;
}

const SCHEMA = `
create table if not exists log_models (
  model_id text primary key,
  -- Highest fencing token an append ever carried; lower ones are refused.
  fence integer not null,
  -- The newest id handed out, kept when its entry is trimmed so ids never go back.
  last_ms integer,
  last_seq integer,
  -- Entries kept and their payload bytes, so that neither trimming nor size() counts rows.
  entries integer not null default 0,
  bytes integer not null default 0,
  -- The retention of the latest append, which the sweep applies to idle models.
  max_events integer not null,
  max_age_ms integer not null
);
-- What the open needs to know about the last run: boot (the machine's boot id).
create table if not exists log_meta (
  key text primary key,
  value text not null
);
create table if not exists log_entries (
  model_id text not null,
  ms integer not null,
  seq integer not null,
  kind text not null,
  is_binary integer not null,
  data blob not null,
  primary key (model_id, ms, seq)
);
`;

function entryOf(row: EntryRow): LogEntry {
  return { id: `${row.ms}-${row.seq}`, ts: row.ms, kind: row.kind, data: row.data, binary: row.is_binary === 1 };
}

export class SqliteEventLog implements EventLog {
  readonly path: string;
  private readonly db: Database.Database;
  private readonly now: () => number;
  private readonly logger: Logger | undefined;
  private readonly followers = new Map<string, Set<FollowListener>>();
  private readonly sweepTimer: NodeJS.Timeout;
  private sweepCursor = '';
  private closed = false;
  private readonly stmt;
  /**
   * Each model's oldest kept entry's ms (null: none), once read: trimming by age looks at the
   * entries only when the oldest one may have aged out, not on every append. One process owns
   * the file, so the only changes are this object's own; deleting entries forgets the model's.
   */
  private readonly oldestMs = new Map<string, number | null>();
  private readonly groupTransaction;
  private pendingAppends: PendingAppend[] = [];
  /** What the open found (and did: a damaged file is set aside). */
  readonly opening: EventLogOpening;

  /**
   * Opens (creating it when missing) the log file and takes its lock.
   * @throws {EventLogLockedError} when another process has it open.
   */
  constructor(options: SqliteEventLogOptions) {
    this.path = options.path;
    this.now = options.now ?? Date.now;
    this.logger = options.logger;
    mkdirSync(dirname(options.path), { recursive: true });
    const bootId = options.bootId !== undefined ? options.bootId : machineBootId();
    const { db, opening } = this.openFile(options.fsync === true, bootId);
    this.db = db;
    this.opening = opening;
    this.stmt = {
      model: db.prepare<[string], ModelRow>('select fence, last_ms, last_seq, entries, bytes, max_events, max_age_ms from log_models where model_id = ?'),
      createModel: db.prepare('insert into log_models (model_id, fence, max_events, max_age_ms) values (?, ?, ?, ?)'),
      updateModel: db.prepare('update log_models set fence = ?, last_ms = ?, last_seq = ?, entries = ?, bytes = ?, max_events = ?, max_age_ms = ? where model_id = ?'),
      setCount: db.prepare('update log_models set entries = ?, bytes = ? where model_id = ?'),
      insert: db.prepare('insert into log_entries (model_id, ms, seq, kind, is_binary, data) values (?, ?, ?, ?, ?, ?)'),
      // The newest of the `n` oldest entries: trimming by count deletes up to it.
      nthOldest: db.prepare<[string, number], { ms: number; seq: number }>(
        'select ms, seq from log_entries where model_id = ? order by ms, seq limit 1 offset ?',
      ),
      // The newest entry older than the cut among the `n` oldest: trimming by age deletes up to it.
      agedOut: db.prepare<[string, number, number], { ms: number; seq: number }>(
        `select ms, seq from (select ms, seq from log_entries where model_id = ? and ms < ? order by ms, seq limit ?)
         order by ms desc, seq desc limit 1`,
      ),
      measureUpTo: db.prepare<[string, number, number], { entries: number; bytes: number }>(
        'select count(*) as entries, coalesce(sum(length(data)), 0) as bytes from log_entries where model_id = ? and (ms, seq) <= (?, ?)',
      ),
      deleteUpTo: db.prepare('delete from log_entries where model_id = ? and (ms, seq) <= (?, ?)'),
      // Trimming by count alone (the steady state of a full log): the `n + 1` oldest go in one
      // statement, which tells what they weighed.
      deleteOldest: db.prepare<{ model: string; n: number }, { len: number }>(
        `delete from log_entries where model_id = @model
           and (ms, seq) <= (select ms, seq from log_entries where model_id = @model order by ms, seq limit 1 offset @n)
         returning length(data) as len`,
      ),
      exists: db.prepare<[string, number, number], 1>('select 1 from log_entries where model_id = ? and ms = ? and seq = ?').pluck(),
      after: db.prepare<[string, number, number, number], EntryRow>(
        'select ms, seq, kind, is_binary, data from log_entries where model_id = ? and (ms, seq) > (?, ?) order by ms, seq limit ?',
      ),
      oldest: db.prepare<[string, number], EntryRow>(
        'select ms, seq, kind, is_binary, data from log_entries where model_id = ? order by ms, seq limit ?',
      ),
      oldestMs: db.prepare<[string], { ms: number }>('select ms from log_entries where model_id = ? order by ms, seq limit 1'),
      newest: db.prepare<[string], { ms: number; seq: number }>(
        'select ms, seq from log_entries where model_id = ? order by ms desc, seq desc limit 1',
      ),
      removeEntries: db.prepare('delete from log_entries where model_id = ?'),
      sweepModels: db.prepare<[string, number], { model_id: string }>(
        'select model_id from log_models where model_id > ? and entries > 0 order by model_id limit ?',
      ),
      size: db.prepare<[], { entries: number; bytes: number }>(
        'select coalesce(sum(entries), 0) as entries, coalesce(sum(bytes), 0) as bytes from log_models',
      ),
    };
    // A refused fence throws before its append writes anything, so it fails alone without a
    // savepoint; any other failure aborts the whole group (and every append in it is refused).
    this.groupTransaction = db.transaction((batch: readonly PendingAppend[], results: (LogEntry[] | Error)[]) => {
      for (const a of batch) {
        try {
          results.push(this.appendNow(a.fence, a.entries, a.retention));
        } catch (err) {
          if (!(err instanceof FencedError)) throw err;
          results.push(err);
        }
      }
    });
    this.sweepTimer = setInterval(() => this.sweep(), options.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS);
    this.sweepTimer.unref();
  }

  /**
   * Opens the file; after an end without close() on another boot, checks it first, and sets a
   * damaged one aside for a new one.
   */
  private openFile(fsync: boolean, bootId: string | null, retry = true): { db: Database.Database; opening: EventLogOpening } {
    const path = this.path;
    // close() checkpoints and removes the WAL; one left behind means the last run ended without it.
    const unclosed = (statSync(`${path}-wal`, { throwIfNoEntry: false })?.size ?? 0) > 0;
    let db: Database.Database | undefined;
    try {
      // No busy wait: the only other holder of the lock is another process, which keeps it.
      db = new Database(path, { timeout: 0 });
      // Exclusive before WAL: the lock is taken at the first write below and held until
      // close, and the WAL index lives in this process's memory (no -shm file to share).
      db.pragma('locking_mode = EXCLUSIVE');
      db.pragma('journal_mode = WAL');
      db.exec(SCHEMA);
      let opening: EventLogOpening = { kind: unclosed ? 'killed' : 'clean' };
      const lastBoot = db.prepare<[], string>("select value from log_meta where key = 'boot'").pluck().get();
      if (unclosed && (bootId === null || lastBoot !== bootId)) {
        this.logger?.warn({ eventLog: path }, 'the event log was not closed before the machine restarted: checking it');
        const problems = db.pragma('integrity_check(5)', { simple: false }) as { integrity_check: string }[];
        const found = problems.map((p) => p.integrity_check).filter((p) => p !== 'ok');
        if (found.length > 0) throw new DamagedLogError(found.join('; '));
        opening = { kind: 'checked' };
      }
      // This boot's id, committed with an fsync, and the directory's entry of the WAL too:
      // whatever an OS crash does to the rest, the next open knows to check.
      db.pragma('synchronous = FULL');
      db.prepare("insert into log_meta (key, value) values ('boot', ?) on conflict (key) do update set value = excluded.value").run(bootId ?? '');
      syncDirectory(dirname(path));
      db.pragma(fsync ? 'synchronous = NORMAL' : 'synchronous = OFF');
      return { db, opening };
    } catch (err) {
      try {
        db?.close();
      } catch {
        // a damaged file may fail its closing checkpoint too; it is set aside below either way
      }
      const code = (err as { code?: string }).code ?? '';
      if (code === 'SQLITE_BUSY') throw new EventLogLockedError(path);
      if (code === 'SQLITE_NOTADB') {
        throw new Error(`the event log ${path} is not an SQLite database (is --event-log-file pointing at another file?); move it away to start a new log`);
      }
      if (!retry || !(err instanceof DamagedLogError || code.startsWith('SQLITE_CORRUPT'))) throw err;
      const problem = (err as Error).message;
      const damagedPath = setAside(path);
      this.logger?.warn({ eventLog: path, damagedPath, problem }, 'the event log is damaged: it is set aside and a new log started; clients resuming from before it get a gap');
      const fresh = this.openFile(fsync, bootId, false);
      return { db: fresh.db, opening: { kind: 'set-aside', damagedPath, problem } };
    }
  }

  /**
   * Group commit: the appends asked for in one turn of the event loop (typically several
   * models' events read in the same poll) are written in one transaction; one refused append
   * (a stale fence, found before it writes) fails alone. Each resolves once
   * that transaction has committed, after its followers were told — the same guarantee as a
   * transaction per append, for one commit instead of many.
   */
  append(fence: Fence, entries: readonly NewEntry[], retention: Retention): Promise<LogEntry[]> {
    try {
      this.checkOpen();
      checkRetention(retention);
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise((resolve, reject) => {
      this.pendingAppends.push({ fence, entries, retention, resolve, reject });
      if (this.pendingAppends.length === 1) setImmediate(this.commitPending);
    });
  }

  private readonly commitPending = (): void => {
    const batch = this.pendingAppends;
    this.pendingAppends = [];
    if (this.closed) {
      for (const a of batch) a.reject(new Error(`the event log ${this.path} is closed`));
      return;
    }
    const results: (LogEntry[] | Error)[] = [];
    try {
      this.groupTransaction.immediate(batch, results);
    } catch (err) {
      // The commit itself failed (a full disk): nothing of the batch is in the log.
      for (const a of batch) this.oldestMs.delete(a.fence.modelId);
      for (const a of batch) a.reject(err);
      return;
    }
    for (let i = 0; i < batch.length; i++) {
      const a = batch[i]!;
      const result = results[i]!;
      if (result instanceof Error) {
        a.reject(result); // refused before writing: nothing to undo
        continue;
      }
      const modelId = a.fence.modelId;
      if (result.length > 0 && this.oldestMs.get(modelId) === null) this.oldestMs.set(modelId, result[0]!.ts);
      if (result.length > 0) this.notify(modelId, result);
      a.resolve(result);
    }
  };

  private appendNow(fence: Fence, entries: readonly NewEntry[], retention: Retention): LogEntry[] {
    const { modelId, token } = fence;
    let model = this.stmt.model.get(modelId);
    if (model && token < model.fence) throw new FencedError(modelId, token);
    if (!model) {
      this.stmt.createModel.run(modelId, token, retention.maxEvents, retention.maxAgeMs);
      model = { fence: token, last_ms: null, last_seq: null, entries: 0, bytes: 0, max_events: retention.maxEvents, max_age_ms: retention.maxAgeMs };
    }
    // nextId() without the string round trip: a new ms starts at seq 0, the same ms counts on.
    let lastMs = model.last_ms;
    let lastSeq = model.last_seq ?? 0;
    const now = this.now();
    const appended: LogEntry[] = [];
    let bytes = model.bytes;
    for (const entry of entries) {
      const ms = lastMs === null || now > lastMs ? now : lastMs;
      const seq = ms === lastMs ? lastSeq + 1 : 0;
      this.stmt.insert.run(modelId, ms, seq, entry.kind, entry.binary ? 1 : 0, entry.data);
      appended.push({ id: `${ms}-${seq}`, ts: ms, kind: entry.kind, data: entry.data, binary: entry.binary, readAt: entry.readAt });
      bytes += entry.data.length;
      lastMs = ms;
      lastSeq = seq;
    }
    const lastPos = lastMs === null ? null : { ms: lastMs, seq: lastSeq };
    const kept = this.trim(modelId, { entries: model.entries + entries.length, bytes }, retention, entries.length + TRIM_STEP);
    this.stmt.updateModel.run(
      Math.max(model.fence, token), lastPos?.ms ?? null, lastPos?.seq ?? null, kept.entries, kept.bytes, retention.maxEvents, retention.maxAgeMs, modelId,
    );
    return appended;
  }

  /** Deletes the model's oldest entries over `retention`, at most `budget`; returns what is kept. */
  private trim(modelId: string, kept: Kept, retention: Retention, budget: number): Kept {
    const byCount = Math.min(kept.entries - retention.maxEvents, budget);
    const ageLimit = this.now() - retention.maxAgeMs;
    let oldest = this.oldestMs.get(modelId);
    if (oldest === undefined) {
      oldest = this.stmt.oldestMs.get(modelId)?.ms ?? null;
      this.oldestMs.set(modelId, oldest);
    }
    const mayHaveAged = oldest !== null && oldest < ageLimit;
    if (!mayHaveAged) {
      if (byCount <= 0) return kept;
      const gone = this.stmt.deleteOldest.all({ model: modelId, n: byCount - 1 });
      let bytes = 0;
      for (const row of gone) bytes += row.len;
      this.oldestMs.delete(modelId);
      return { entries: kept.entries - gone.length, bytes: kept.bytes - bytes };
    }
    const countCut = byCount > 0 ? this.stmt.nthOldest.get(modelId, byCount - 1) : undefined;
    const ageCut = this.stmt.agedOut.get(modelId, ageLimit, budget);
    const cut = !countCut ? ageCut : !ageCut ? countCut : (countCut.ms - ageCut.ms || countCut.seq - ageCut.seq) > 0 ? countCut : ageCut;
    if (!cut) return kept;
    const gone = this.stmt.measureUpTo.get(modelId, cut.ms, cut.seq)!;
    this.stmt.deleteUpTo.run(modelId, cut.ms, cut.seq);
    this.oldestMs.delete(modelId);
    return { entries: kept.entries - gone.entries, bytes: kept.bytes - gone.bytes };
  }

  /** Trims the aged entries of idle models (what the timer runs; a few models per call). */
  sweep(): void {
    if (this.closed) return;
    const models = this.stmt.sweepModels.all(this.sweepCursor, SWEEP_MODELS);
    this.sweepCursor = models.length < SWEEP_MODELS ? '' : models[models.length - 1]!.model_id;
    for (const { model_id: modelId } of models) {
      this.db.transaction(() => {
        const model = this.stmt.model.get(modelId);
        if (!model) return;
        const kept = this.trim(modelId, model, { maxEvents: model.max_events, maxAgeMs: model.max_age_ms }, TRIM_STEP);
        if (kept !== model) this.stmt.setCount.run(kept.entries, kept.bytes, modelId);
      }).immediate();
    }
  }

  async read(modelId: string, afterId: string | null, limit: number): Promise<LogPage> {
    this.checkOpen();
    checkLimit(limit);
    // One synchronous run of statements on the only connection: a consistent view.
    const start = readStart(afterId);
    let found = false;
    let rows: EntryRow[] | undefined;
    if ('after' in start) {
      const { ms, seq } = parseId(start.after)!;
      found = this.stmt.exists.get(modelId, ms, seq) === 1;
      if (found) rows = this.stmt.after.all(modelId, ms, seq, limit + 1);
    }
    rows ??= this.stmt.oldest.all(modelId, limit + 1);
    return pageOf(afterId, found, rows.map(entryOf), limit, this.newest(modelId));
  }

  async lastId(modelId: string): Promise<string | null> {
    this.checkOpen();
    return this.newest(modelId);
  }

  private newest(modelId: string): string | null {
    const row = this.stmt.newest.get(modelId);
    return row ? `${row.ms}-${row.seq}` : null;
  }

  /** In process: a listener gets each batch synchronously after its commit, before append() resolves. */
  follow(modelId: string, listener: FollowListener): () => void {
    let set = this.followers.get(modelId);
    if (!set) this.followers.set(modelId, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.followers.get(modelId) === set) this.followers.delete(modelId);
    };
  }

  private notify(modelId: string, entries: LogEntry[]): void {
    const set = this.followers.get(modelId);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        listener.entries(entries);
      } catch (err) {
        this.logger?.error({ err, modelId }, 'event log follower failed');
      }
    }
  }

  /**
   * Deletes the model's entries. The fence and the last id stay: a stale holder still cannot
   * write, and a model added again under the same id never reuses an id.
   */
  async remove(modelId: string): Promise<void> {
    this.checkOpen();
    this.oldestMs.delete(modelId);
    this.db.transaction(() => {
      this.stmt.removeEntries.run(modelId);
      this.stmt.setCount.run(0, 0, modelId);
    }).immediate();
  }

  /** Exact: entries and the payload bytes of all models. */
  async size(): Promise<{ entries: number; bytes: number }> {
    this.checkOpen();
    return this.stmt.size.get()!;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweepTimer);
    this.followers.clear();
    // The closing checkpoint fsyncs the file before it removes the WAL: a closed log is whole on disk.
    this.db.pragma('synchronous = NORMAL');
    this.db.close();
  }

  private checkOpen(): void {
    if (this.closed) throw new Error(`the event log ${this.path} is closed`);
  }
}

/** Renames the log file (and its WAL) to `<path>.damaged-<time>`; returns the new path. */
function setAside(path: string): string {
  const damagedPath = `${path}.damaged-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  renameSync(path, damagedPath);
  for (const suffix of ['-wal', '-shm', '-journal']) {
    if (existsSync(`${path}${suffix}`)) renameSync(`${path}${suffix}`, `${damagedPath}${suffix}`);
  }
  return damagedPath;
}
