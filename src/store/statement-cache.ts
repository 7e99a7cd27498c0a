/**
 * A better-sqlite3 database whose `prepare` reuses statements, for Kysely's SQLite driver.
 *
 * The driver calls `db.prepare(sql)` for every query, and compiling the SQL is a large part of
 * a point read's cost. Kysely generates the same text for the same query shape (values are
 * bound as parameters), so a bounded cache keyed by the SQL text hits on every read after the
 * first. Reusing a statement is safe because better-sqlite3 rebinds all parameters on each
 * `all`/`run`/`iterate` (and clears them after), and SQLite re-prepares a statement by itself
 * when the schema changes.
 *
 * The one hazard is a statement that is still iterating (the driver's `streamQuery`): better-
 * sqlite3 refuses to run it again until the iterator ends ("This statement is busy executing a
 * query"). A cached statement that is busy is therefore never handed out: the caller gets a
 * freshly prepared one, which also replaces it in the cache.
 */
import type BetterSqlite3 from 'better-sqlite3';
import type { SqliteDatabase } from 'kysely';

/** Distinct SQL texts kept; the store issues a few dozen shapes, so this never churns in practice. */
export const DEFAULT_STATEMENT_CACHE_SIZE = 256;

type Statement = BetterSqlite3.Statement<unknown[], unknown>;

export class StatementCachingDatabase implements SqliteDatabase {
  readonly #db: BetterSqlite3.Database;
  readonly #capacity: number;
  /** Least recently used first: a hit moves its entry to the end. */
  readonly #statements = new Map<string, Statement>();

  constructor(db: BetterSqlite3.Database, capacity: number = DEFAULT_STATEMENT_CACHE_SIZE) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('the statement cache capacity must be a positive integer');
    this.#db = db;
    this.#capacity = capacity;
  }

  /** The number of statements cached now. */
  get size(): number {
    return this.#statements.size;
  }

  prepare(sql: string): Statement {
    const cached = this.#statements.get(sql);
    this.#statements.delete(sql);
    const statement = cached !== undefined && !cached.busy ? cached : this.#db.prepare<unknown[], unknown>(sql);
    this.#statements.set(sql, statement);
    if (this.#statements.size > this.#capacity) {
      const oldest = this.#statements.keys().next();
      if (!oldest.done) this.#statements.delete(oldest.value);
    }
    return statement;
  }

  /** Drops the cached statements and closes the database (which finalizes every statement). */
  close(): void {
    this.#statements.clear();
    this.#db.close();
  }
}
