/**
 * The locks a transaction that reads and then writes needs, per engine.
 *
 * SQLite needs none: every transaction begins immediate (sqlite-dialect.ts), so writers run one
 * at a time and a read inside one cannot go stale before its write. PostgreSQL runs writers
 * side by side under read committed, on every node at once, so:
 * - a read whose row the transaction then rewrites takes the row (`select … for update`); two
 *   nodes changing one model then queue, and the second decides on the first's result instead
 *   of losing an update or recording a transition twice;
 * - a transaction that encrypts a secret holds a shared advisory lock, and a key-file change
 *   (`ofgw secrets rotate` adding a key, `prune` removing unused ones) the exclusive one, which
 *   is the ordering SQLite's single writer gives for free: a value is never sealed under a key
 *   being retired and committed after the check that nothing uses it;
 * - appending to the change feed takes an exclusive advisory lock, held to the commit, before
 *   the row gets its `seq`. Without it two nodes could commit seq 11 before seq 10, and a poller
 *   that read 11 in between would resume after it and never see 10. The appends come last in
 *   their transactions, which wait for nothing after it, so the lock is held for a commit.
 */
import { sql, type Kysely, type SelectQueryBuilder } from 'kysely';
import type { DialectName } from './dialect.js';
import type { Database } from './schema.js';

export interface WriteLocks {
  /** The query with `for update` on PostgreSQL; unchanged on SQLite, whose SQL has no such clause. */
  row<DB, TB extends keyof DB, O>(query: SelectQueryBuilder<DB, TB, O>): SelectQueryBuilder<DB, TB, O>;
  /** Before encrypting a secret inside `trx`; held until it ends, shared with other writers. */
  secretWrite(trx: Kysely<Database>): Promise<void>;
  /** Before changing the key file inside `trx`; waits for, and holds off, every secret write. */
  keyChange(trx: Kysely<Database>): Promise<void>;
  /** Before appending to the change feed inside `trx`: rows then commit in `seq` order. */
  changeFeed(trx: Kysely<Database>): Promise<void>;
}

/**
 * An advisory lock's two keys: a constant for ofgw, and the schema's name with the lock's
 * purpose, hashed, so stores in different schemas of one database (one per test, or per
 * tenant) do not wait for each other.
 */
export const LOCK_CLASS = 0x6f666777; // "ofgw"
const lockKey = (purpose: 'secrets' | 'changes') => sql`${sql.lit(LOCK_CLASS)}, hashtext(current_schema() || ${sql.lit(`:${purpose}`)})`;

const SQLITE_LOCKS: WriteLocks = {
  row: (query) => query,
  secretWrite: async () => {},
  keyChange: async () => {},
  changeFeed: async () => {},
};

const POSTGRES_LOCKS: WriteLocks = {
  row: (query) => query.forUpdate(),
  secretWrite: async (trx) => {
    await sql`select pg_advisory_xact_lock_shared(${lockKey('secrets')})`.execute(trx);
  },
  keyChange: async (trx) => {
    await sql`select pg_advisory_xact_lock(${lockKey('secrets')})`.execute(trx);
  },
  changeFeed: async (trx) => {
    await sql`select pg_advisory_xact_lock(${lockKey('changes')})`.execute(trx);
  },
};

/** The locks for a store on `dialect`. */
export function writeLocks(dialect: DialectName): WriteLocks {
  return dialect === 'postgres' ? POSTGRES_LOCKS : SQLITE_LOCKS;
}
