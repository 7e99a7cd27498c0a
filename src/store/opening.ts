/**
 * What opening a store does once it has a database, on either engine: migrate it, load the
 * keyring and encrypt any secret an older version stored in clear.
 */
import { sql, type Kysely } from 'kysely';
import { loadKeyring, type Keyring } from '../secrets/index.js';
import type { DialectName } from './dialect.js';
import { StoreError } from './errors.js';
import { writeLocks } from './locks.js';
import { migrateToLatest } from './migrations/index.js';
import type { Database } from './schema.js';
import { encryptPlaintextSecrets, hasEncryptedSecrets, verifyKeyring } from './secret-maintenance.js';

/**
 * Where the store's secrets key comes from. Without `keyring`, it is loaded as
 * {@link loadKeyring} describes (environment, key file, or beside a SQLite database).
 */
export interface OpenStoreOptions {
  /** A keyring loaded by the caller; the key options are then ignored. */
  keyring?: Keyring;
  /** The `masterKeyFile` setting; empty or absent: OFGW_MASTER_KEY_FILE, then `<db name>.keys` beside a SQLite database. */
  masterKeyFile?: string;
  /** The `masterKey` setting (base64 of 32 bytes); empty or absent: OFGW_MASTER_KEY. */
  masterKey?: string;
  /** Environment to read OFGW_MASTER_KEY* from; defaults to `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** PostgreSQL only: connections this process keeps at most (default {@link DEFAULT_POOL_SIZE}). */
  poolSize?: number;
  /** Refuse to open unless the keyring decrypts the stored secrets (see {@link verifyKeyring}); `ofgw serve` sets it. */
  verifyKeys?: boolean;
  /**
   * Whether a location holding no store gets a new one (default true: `ofgw serve`, and
   * `ofgw org create`). False: {@link noStoreAt}, with nothing created (no file, folder, table
   * or key file), so a mistyped location is reported instead of answered from an empty store.
   */
  createIfMissing?: boolean;
}

/** The `NOT_FOUND` of a location without a store; `where` never holds a password. */
export function noStoreAt(where: string): StoreError {
  return new StoreError('NOT_FOUND', `no store at ${where}`);
}

/**
 * pg's own default. The connect path makes four point reads per new relay and writes are rare,
 * so ten connections carry thousands of connects a second; each costs the server a process.
 */
export const DEFAULT_POOL_SIZE = 10;

/** The migration every store starts with. */
const FIRST_MIGRATION = '001_initial';

export interface OpenedDatabase {
  db: Kysely<Database>;
  keyring: Keyring;
  dialect: DialectName;
}

export interface PrepareTarget {
  dialect: DialectName;
  /** The `db` setting; a SQLite path places the default key file beside it. */
  location: string;
  /** The location as messages name it: the SQLite path, or PostgreSQL's host, database and schema (no password). */
  where: string;
  /** PostgreSQL: the schema the tables live in (see {@link migrateToLatest}). */
  schema?: string;
  /** Engine settings of the connection, applied once the database holds (or may become) a store. */
  configure?: (db: Kysely<Database>) => Promise<void>;
  /** Runs when values were found in clear and encrypted (SQLite truncates its WAL). */
  afterPlaintextEncrypted?: (db: Kysely<Database>) => Promise<void>;
}

/**
 * Migrates `db`, loads the keyring and encrypts plaintext secrets. On failure `db` is
 * destroyed before the error is rethrown, so callers hold nothing open.
 */
export async function prepareDatabase(db: Kysely<Database>, target: PrepareTarget, options: OpenStoreOptions): Promise<OpenedDatabase> {
  try {
    if (options.createIfMissing === false && !(await holdsStore(db, target.schema))) throw noStoreAt(target.where);
    await target.configure?.(db);
    await migrateToLatest(db, target.dialect, target.schema);
    const keyring =
      options.keyring ??
      loadKeyring({
        dbLocation: target.location,
        masterKeyFile: options.masterKeyFile,
        masterKey: options.masterKey,
        env: options.env,
        createKeyFile: !(await hasEncryptedSecrets(db)),
      });
    if (options.verifyKeys) await verifyKeyring(db, keyring);
    if ((await encryptPlaintextSecrets(db, keyring, writeLocks(target.dialect))) > 0) await target.afterPlaintextEncrypted?.(db);
    return { db, keyring, dialect: target.dialect };
  } catch (error) {
    await db.destroy();
    throw error;
  }
}

/**
 * Whether the database (on PostgreSQL, its `schema`) holds a store: the first migration ran
 * there. Kysely's own bookkeeping table says so on both engines.
 */
async function holdsStore(db: Kysely<Database>, schema: string | undefined): Promise<boolean> {
  const tables = await db.introspection.getTables({ withInternalKyselyTables: true });
  if (!tables.some((t) => t.name === 'kysely_migration' && (schema === undefined || t.schema === schema))) return false;
  const table = sql.table(schema === undefined ? 'kysely_migration' : `${schema}.kysely_migration`);
  const { rows } = await sql<{ name: string }>`select name from ${table} where name = ${FIRST_MIGRATION}`.execute(db);
  return rows.length > 0;
}
