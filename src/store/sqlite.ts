/** Opens the embedded SQLite store that the server and the CLI share. */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, sql } from 'kysely';
import { KyselyStore } from './kysely-store.js';
import { noStoreAt, prepareDatabase, type OpenedDatabase, type OpenStoreOptions } from './opening.js';
import type { Database as Tables } from './schema.js';
import { ImmediateTransactionSqliteDialect } from './sqlite-dialect.js';
import { StatementCachingDatabase } from './statement-cache.js';
import type { Store } from './types.js';

export type { OpenedDatabase, OpenStoreOptions } from './opening.js';

/**
 * How long a statement waits for another process's write lock before failing. The CLI's
 * writes are a few milliseconds, so 5 s only runs out when something is truly stuck.
 */
const BUSY_TIMEOUT_MS = 5000;

/**
 * Opens (creating it and its folder if needed, unless `createIfMissing` is false) the SQLite
 * file at `path`, migrates it, loads the keyring (by default from a key file beside it) and
 * encrypts any secret an older version stored in clear.
 */
export async function openSqliteDatabase(path: string, options: OpenStoreOptions = {}): Promise<OpenedDatabase> {
  const inMemory = path === ':memory:' || path === '';
  const create = options.createIfMissing !== false;
  if (!inMemory && !create && !existsSync(path)) throw noStoreAt(path);
  if (!inMemory && create) mkdirSync(dirname(path), { recursive: true });
  const sqlite = new Database(path, { timeout: BUSY_TIMEOUT_MS, fileMustExist: !inMemory && !create });
  // Kysely's driver prepares every query anew, about a third of a point read's cost: reuse them.
  const database = new StatementCachingDatabase(sqlite);
  const db = new Kysely<Tables>({ dialect: new ImmediateTransactionSqliteDialect({ database }) });
  return prepareDatabase(db, {
    dialect: 'sqlite',
    location: path,
    where: path,
    // After the store check: switching to WAL writes the file, which must stay as it was if it
    // holds no store. Through Kysely, so that closing it closes the file on any failure.
    configure: async (opened) => {
      // WAL lets the server read while the CLI writes; NORMAL sync is durable against
      // process crashes in WAL mode and only risks the last commits on power loss.
      await sql`pragma journal_mode = WAL`.execute(opened);
      await sql`pragma synchronous = NORMAL`.execute(opened);
      await sql`pragma foreign_keys = ON`.execute(opened);
      // Zero freed space, so a replaced or deleted secret (plaintext from an older version,
      // an old ciphertext) does not linger in free pages of the file.
      await sql`pragma secure_delete = ON`.execute(opened);
    },
    // Old page images holding the plaintext sit in the WAL until a checkpoint; truncate it
    // (best effort: a reader in another process may hold part of it until it finishes).
    afterPlaintextEncrypted: async (opened) => {
      await sql`pragma wal_checkpoint(TRUNCATE)`.execute(opened);
    },
  }, options);
}

/**
 * Opens the store at `path` (see {@link openSqliteDatabase}). `':memory:'` gives a private
 * in-memory database with an in-memory key, for tests.
 * @example const store = await openSqliteStore('./data/ofgw.db');
 */
export async function openSqliteStore(path: string, options: OpenStoreOptions = {}): Promise<Store> {
  const { db, keyring, dialect } = await openSqliteDatabase(path, options);
  return new KyselyStore(db, keyring, dialect);
}
