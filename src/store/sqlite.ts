/** Opens the embedded SQLite store that the server and the CLI share. */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { Kysely } from 'kysely';
import { KyselyStore } from './kysely-store.js';
import { migrateToLatest } from './migrations/index.js';
import type { Database as Tables } from './schema.js';
import { ImmediateTransactionSqliteDialect } from './sqlite-dialect.js';
import type { Store } from './types.js';

/**
 * How long a statement waits for another process's write lock before failing. The CLI's
 * writes are a few milliseconds, so 5 s only runs out when something is truly stuck.
 */
const BUSY_TIMEOUT_MS = 5000;

/**
 * Opens (creating it and its folder if needed) the SQLite file at `path` and migrates it to
 * the latest schema. `':memory:'` gives a private in-memory database, for tests.
 * @example const store = await openSqliteStore('./data/ofgw.db');
 */
export async function openSqliteStore(path: string): Promise<Store> {
  const inMemory = path === ':memory:' || path === '';
  if (!inMemory) mkdirSync(dirname(path), { recursive: true });
  const sqlite = new Database(path, { timeout: BUSY_TIMEOUT_MS });
  try {
    // WAL lets the server read while the CLI writes; NORMAL sync is durable against
    // process crashes in WAL mode and only risks the last commits on power loss.
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('foreign_keys = ON');
  } catch (error) {
    sqlite.close();
    throw error;
  }
  const db = new Kysely<Tables>({ dialect: new ImmediateTransactionSqliteDialect({ database: sqlite }) });
  try {
    await migrateToLatest(db, 'sqlite');
  } catch (error) {
    await db.destroy();
    throw error;
  }
  return new KyselyStore(db);
}
