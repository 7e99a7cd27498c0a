/**
 * Temporary stores for tests, on either engine: a SQLite file in its own folder, or a fresh
 * PostgreSQL schema (named in the URL's search_path) on the machine's server. Everything is
 * closed and deleted (`drop schema … cascade`) after the test, so tests run in parallel and
 * leave nothing behind.
 *
 *   storeTest('…', async (db) => { const store = await db.open(); … })   // once per engine
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { openSecretsAdmin, type SecretsAdmin } from '../../src/store/index.js';
import type { OpenStoreOptions } from '../../src/store/opening.js';
import { openPostgresStore } from '../../src/store/postgres.js';
import { openSqliteStore } from '../../src/store/sqlite.js';
import type { Store } from '../../src/store/types.js';
import { POSTGRES_URL, serviceSkip } from '../services.js';

export type Engine = 'sqlite' | 'postgres';
export const ENGINES: readonly Engine[] = ['sqlite', 'postgres'];

/** Skips the PostgreSQL runs on a machine without it (and fails them under CI=true). */
export const postgresSkip = await serviceSkip('postgres');

export interface TempDatabase {
  engine: Engine;
  /** The `db` setting for this database: a SQLite file path, or a PostgreSQL URL. */
  location: string;
  /** A folder of this test's own (the SQLite file is `dir/data/ofgw.db`; key files go here). */
  dir: string;
  /** The key file stores use unless told otherwise: beside the SQLite file, or in `dir`. */
  keyFile: string;
  /** PostgreSQL: this test's schema. */
  schema?: string;
  /**
   * Opens another store on the same database (like the CLI beside the server, or a second
   * node). Keys come from `options`; without any, from {@link keyFile} (the runner's
   * OFGW_MASTER_KEY* variables are ignored).
   */
  open(options?: OpenStoreOptions): Promise<Store>;
  /** `ofgw secrets` on this database, with the same key rules as {@link open}. */
  openSecretsAdmin(options?: OpenStoreOptions): Promise<SecretsAdmin>;
  /**
   * PostgreSQL: a raw connection to this test's schema (another node, mid-transaction), ended
   * before the schema is dropped, so an open transaction never holds up the clean-up.
   */
  connect(): Promise<pg.Client>;
  /** Runs SQL straight on the database, with `?` placeholders; returns the rows. */
  query<R = Record<string, unknown>>(text: string, params?: unknown[]): Promise<R[]>;
  /**
   * What the database holds, as bytes: SQLite: the file and its WAL; PostgreSQL: every row of
   * every table in the schema, as text.
   */
  contents(): Promise<Buffer>;
}

/** The options as given, or the test's key file when they configure no key. */
function withKeyFile(options: OpenStoreOptions, keyFile: string): OpenStoreOptions {
  const env = options.env ?? {};
  const configured = options.keyring ?? options.masterKey ?? options.masterKeyFile ?? env.OFGW_MASTER_KEY ?? env.OFGW_MASTER_KEY_FILE;
  return { ...options, env, ...(configured ? {} : { masterKeyFile: keyFile }) };
}

function sqliteDatabase(t: TestContext, dir: string, closing: Array<{ close(): Promise<void> }>): TempDatabase {
  const path = join(dir, 'data', 'ofgw.db');
  let raw: Database.Database | undefined;
  t.after(() => raw?.close());
  return {
    engine: 'sqlite',
    location: path,
    dir,
    keyFile: join(dir, 'data', 'ofgw.keys'),
    async open(options = { env: {} }) {
      const store = await openSqliteStore(path, { env: {}, ...options });
      closing.push(store);
      return store;
    },
    async openSecretsAdmin(options = { env: {} }) {
      const admin = await openSecretsAdmin(path, { env: {}, ...options });
      closing.push(admin);
      return admin;
    },
    async connect() {
      throw new Error('connect() is for PostgreSQL test databases');
    },
    async query<R>(text: string, params: unknown[] = []) {
      raw ??= new Database(path, { timeout: 5000 });
      const statement = raw.prepare(text);
      return (statement.reader ? statement.all(...params) : (statement.run(...params), [])) as R[];
    },
    async contents() {
      return Buffer.concat([path, `${path}-wal`].filter((f) => existsSync(f)).map((f) => readFileSync(f)));
    },
  };
}

/** `?` placeholders to PostgreSQL's `$1, $2, …`. */
function numbered(text: string): string {
  let n = 0;
  return text.replace(/\?/g, () => `$${++n}`);
}

/** The machine's PostgreSQL URL with `search_path` set to `schema` (libpq's `options`). */
export function postgresUrlFor(schema: string, base: string = POSTGRES_URL): string {
  const url = new URL(base);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return url.toString();
}

async function postgresDatabase(t: TestContext, dir: string, closing: Array<{ close(): Promise<void> }>): Promise<TempDatabase> {
  const schema = `ofgw_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  await admin.query(`create schema ${schema}`);
  await admin.query(`set search_path to ${schema}`);
  t.after(async () => {
    // After the stores close (registered first, so run first): nothing holds a lock.
    try {
      await admin.query(`drop schema ${schema} cascade`);
    } finally {
      await admin.end();
    }
  });
  const location = postgresUrlFor(schema);
  const keyFile = join(dir, 'ofgw.keys');
  return {
    engine: 'postgres',
    location,
    dir,
    keyFile,
    schema,
    async open(options = {}) {
      const store = await openPostgresStore(location, withKeyFile(options, keyFile));
      closing.push(store);
      return store;
    },
    async openSecretsAdmin(options = {}) {
      const secrets = await openSecretsAdmin(location, withKeyFile(options, keyFile));
      closing.push(secrets);
      return secrets;
    },
    async connect() {
      const client = new pg.Client({ connectionString: location });
      await client.connect();
      closing.push({ close: () => client.end() });
      return client;
    },
    async query<R>(text: string, params: unknown[] = []) {
      return (await admin.query(numbered(text), params)).rows as R[];
    },
    async contents() {
      const tables = await admin.query<{ table_name: string }>('select table_name from information_schema.tables where table_schema = $1 order by table_name', [schema]);
      const parts: string[] = [];
      for (const { table_name: table } of tables.rows) {
        const rows = await admin.query<{ row: string }>(`select t::text as row from ${schema}."${table}" t`);
        parts.push(...rows.rows.map((r) => r.row));
      }
      return Buffer.from(parts.join('\n'));
    },
  };
}

/**
 * A database of this test's own on `engine` (SQLite by default), deleted after it. Its
 * `data/` folder (SQLite) does not exist until a store opens it.
 */
export async function tempDatabase(t: TestContext, engine: Engine = 'sqlite'): Promise<TempDatabase> {
  const dir = mkdtempSync(join(tmpdir(), 'ofgw-store-'));
  const closing: Array<{ close(): Promise<void> }> = [];
  t.after(async () => {
    for (const opened of closing) await opened.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return engine === 'postgres' ? postgresDatabase(t, dir, closing) : sqliteDatabase(t, dir, closing);
}

/** A fresh store on a new database. */
export async function tempStore(t: TestContext, engine: Engine = 'sqlite'): Promise<Store> {
  return (await tempDatabase(t, engine)).open();
}

/**
 * Declares the test once per engine, named `… (sqlite)` and `… (postgres)`, each with a
 * fresh {@link TempDatabase}.
 */
export function storeTest(name: string, fn: (db: TempDatabase, t: TestContext) => Promise<void>): void {
  for (const engine of ENGINES) {
    test(`${name} (${engine})`, { skip: engine === 'postgres' ? postgresSkip : false }, async (t) => fn(await tempDatabase(t, engine), t));
  }
}
