/** The store's entry point: pick the engine from the configured location. */
import { KyselyStore } from './kysely-store.js';
import type { OpenedDatabase, OpenStoreOptions } from './opening.js';
import { openPostgresDatabase } from './postgres.js';
import { isPostgresUrl } from './postgres-url.js';
import { secretsAdmin, type SecretsAdmin } from './secrets-admin.js';
import { openSqliteDatabase } from './sqlite.js';
import type { Store } from './types.js';

export { StoreError, type StoreErrorCode } from './errors.js';
export type * from './types.js';
export type * from './webhook-types.js';
export { WEBHOOK_DELIVERY_STATUSES } from './webhook-types.js';
export { ACTOR_KINDS, AUDIT_ACTIONS, AUDIT_TARGET_KINDS, MAX_GRACE_SECONDS, MODEL_EVENT_KINDS, MODEL_STATUSES, SUBSCRIPTION_STATUSES, TOUCH_INTERVAL_MS } from './types.js';
export { SecretsError, loadKeyring, type Keyring, type LoadKeyringOptions, type SecretsErrorCode } from '../secrets/index.js';
export { DEFAULT_POOL_SIZE, type OpenStoreOptions } from './opening.js';
export { storeConnectionError, type StoreConnectionErrorMessage } from './postgres.js';
export { isPostgresUrl } from './postgres-url.js';
export type { SecretsAdmin } from './secrets-admin.js';
export type { KeyUsage, PruneResult, RotateOptions, RotationResult, RotationStep, SecretsStatus } from './secret-maintenance.js';

/** A postgres:// or postgresql:// URL opens PostgreSQL; anything else is a SQLite path. */
function openDatabase(location: string, options: OpenStoreOptions): Promise<OpenedDatabase> {
  return isPostgresUrl(location) ? openPostgresDatabase(location, options) : openSqliteDatabase(location, options);
}

/**
 * Opens the store at `location` (the `db` setting: OFGW_DB, else DATABASE_URL): a SQLite file
 * path, `':memory:'`, or a postgres:// / postgresql:// URL. Model secrets are encrypted with
 * the keyring `options` describe (OFGW_MASTER_KEY, else OFGW_MASTER_KEY_FILE, else — SQLite
 * only — a key file beside the database, created on first open; PostgreSQL requires one of
 * the first two).
 * @example const store = await openStore(config.db, { masterKeyFile: config.masterKeyFile, masterKey: config.masterKey });
 */
export async function openStore(location: string, options: OpenStoreOptions = {}): Promise<Store> {
  const { db, keyring, dialect } = await openDatabase(location, options);
  return new KyselyStore(db, keyring, dialect);
}

/**
 * Opens the database for `ofgw secrets status|rotate|prune`, with the same keyring rules as
 * {@link openStore}; safe to use while servers have the same database open.
 */
export async function openSecretsAdmin(location: string, options: OpenStoreOptions = {}): Promise<SecretsAdmin> {
  const { db, keyring, dialect } = await openDatabase(location, options);
  return secretsAdmin(db, keyring, dialect);
}
