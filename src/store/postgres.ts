/**
 * Opens the PostgreSQL store that several gateway nodes (and the CLI) share: the same tables,
 * migrations and queries as SQLite (kysely-store.ts), over a pg connection pool.
 */
import diagnostics from 'node:diagnostics_channel';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { ConfigError } from '../config.js';
import { ENV_KEY, ENV_KEY_FILE } from '../secrets/load.js';
import { KyselyStore } from './kysely-store.js';
import { DEFAULT_POOL_SIZE, prepareDatabase, type OpenedDatabase, type OpenStoreOptions } from './opening.js';
import { parsePostgresUrl, type PostgresTarget } from './postgres-url.js';
import type { Database } from './schema.js';
import type { Store } from './types.js';

/**
 * How long getting a connection may take before failing. Long enough for a database in
 * another region or a cold serverless one; short enough that a wrong host fails the start
 * (or one request) instead of hanging it.
 */
export const CONNECT_TIMEOUT_MS = 10_000;
/**
 * How long a statement waits for a row or advisory lock another node holds before failing,
 * as SQLite's busy timeout does: the store's transactions take milliseconds, so 5 s only runs
 * out when a holder is stuck, and then the caller gets an error instead of a hang.
 */
const LOCK_TIMEOUT_MS = 5000;
const MAX_POOL_SIZE = 1000;

export interface StoreConnectionErrorMessage {
  /** `host:port/database`. */
  where: string;
  /** The driver's message, password removed. */
  message: string;
}

/**
 * Published when an idle pooled connection fails (the server restarted or failed over, a
 * proxy dropped it). The pool discards it and the next query opens another, so this is for
 * logs and metrics only. Message: {@link StoreConnectionErrorMessage}.
 */
export const storeConnectionError = diagnostics.channel('ofgw:store:connection-error');

function usesConfiguredKey(options: OpenStoreOptions): boolean {
  const env = options.env ?? process.env;
  return (
    options.keyring !== undefined ||
    [options.masterKey, env[ENV_KEY], options.masterKeyFile, env[ENV_KEY_FILE]].some((value) => value !== undefined && value.trim() !== '')
  );
}

function poolSize(options: OpenStoreOptions): number {
  const size = options.poolSize ?? DEFAULT_POOL_SIZE;
  if (!Number.isInteger(size) || size < 1 || size > MAX_POOL_SIZE) {
    throw new ConfigError(`the PostgreSQL pool size must be a whole number from 1 to ${MAX_POOL_SIZE} (got ${String(size)})`);
  }
  return size;
}

/** The driver's reason, short: the system error code, a timeout, or PostgreSQL's own message. */
function failureReason(error: unknown, target: PostgresTarget): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === 'string' && /^E[A-Z0-9]+$/.test(code)) return code;
  const message = error instanceof Error ? error.message : String(error);
  if (/timeout/i.test(message)) return `no connection within ${CONNECT_TIMEOUT_MS / 1000} s`;
  return target.scrub(message) || 'unknown error';
}

/**
 * Opens one connection (so a wrong host, password or database fails here, clearly) and
 * returns the schema the tables go to: the first existing one on the search_path.
 */
async function checkConnection(pool: pg.Pool, target: PostgresTarget): Promise<string> {
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    throw new Error(`cannot connect to PostgreSQL at ${target.where}: ${failureReason(error, target)}`);
  }
  try {
    const { rows } = await client.query<{ schema: string | null; search_path: string }>(
      `select current_schema() as schema, current_setting('search_path') as search_path`,
    );
    const row = rows[0];
    if (!row?.schema) {
      throw new ConfigError(
        `PostgreSQL at ${target.where}: no schema on the search_path (${row?.search_path ?? ''}) exists; ` +
          'create it (create schema NAME) or name another in the URL (?options=-c%20search_path%3DNAME)',
      );
    }
    return row.schema;
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new Error(`cannot use PostgreSQL at ${target.where}: ${failureReason(error, target)}`);
  } finally {
    client.release();
  }
}

/**
 * Connects to the PostgreSQL database at `url`, migrates its schema (the search_path's first),
 * loads the keyring and encrypts any secret stored in clear.
 * @throws {ConfigError} for a malformed URL, a missing schema, or no configured master key:
 *   there is no database file to keep a key beside, and every node must use the same key.
 * @throws {Error} `cannot connect to PostgreSQL at host:port/database: <reason>`, never
 *   with the password.
 */
export async function openPostgresDatabase(url: string, options: OpenStoreOptions = {}): Promise<OpenedDatabase> {
  const target = parsePostgresUrl(url);
  if (!usesConfiguredKey(options)) {
    throw new ConfigError(
      `a PostgreSQL store (${target.where}) needs ${ENV_KEY} (the masterKey setting) or ${ENV_KEY_FILE} (masterKeyFile): ` +
        'there is no database file to keep a key file beside, and every node must decrypt model secrets with the same key',
    );
  }
  const pool = new pg.Pool({
    connectionString: target.url,
    max: poolSize(options),
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    lock_timeout: LOCK_TIMEOUT_MS,
    // Lets the OS notice a connection whose peer vanished (a failover) instead of waiting forever.
    keepAlive: true,
    // The URL's own application_name, if any, wins.
    application_name: 'ofgw',
  });
  // Without a listener, an idle connection's failure would be an uncaught 'error' event.
  pool.on('error', (error) => storeConnectionError.publish({ where: target.where, message: target.scrub(error.message) } satisfies StoreConnectionErrorMessage));
  // The pool listens only on idle connections. One in use (between two statements of a
  // transaction) that fails has its next query rejected, and the pool drops it on release.
  pool.on('connect', (client) => client.on('error', () => {}));
  let schema: string;
  try {
    schema = await checkConnection(pool, target);
  } catch (error) {
    await pool.end();
    throw error;
  }
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return prepareDatabase(db, { dialect: 'postgres', location: url, where: `${target.where} (schema ${schema})`, schema }, options);
}

/**
 * Opens the store at a postgres:// or postgresql:// URL (see {@link openPostgresDatabase}).
 * @example const store = await openPostgresStore('postgres://ofgw@db:5432/ofgw', { masterKey: process.env.OFGW_MASTER_KEY });
 */
export async function openPostgresStore(url: string, options: OpenStoreOptions = {}): Promise<Store> {
  const { db, keyring, dialect } = await openPostgresDatabase(url, options);
  return new KyselyStore(db, keyring, dialect);
}
