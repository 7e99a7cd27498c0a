/** The store's entry point: pick the implementation from the configured location. */
import { secretsAdmin, type SecretsAdmin } from './secrets-admin.js';
import { openSqliteDatabase, openSqliteStore, type OpenStoreOptions } from './sqlite.js';
import type { Store } from './types.js';

export { StoreError, type StoreErrorCode } from './errors.js';
export type * from './types.js';
export { MODEL_EVENT_KINDS, MODEL_STATUSES, SUBSCRIPTION_STATUSES, TOUCH_INTERVAL_MS } from './types.js';
export { SecretsError, loadKeyring, type Keyring, type LoadKeyringOptions, type SecretsErrorCode } from '../secrets/index.js';
export type { OpenStoreOptions } from './sqlite.js';
export type { SecretsAdmin } from './secrets-admin.js';
export type { KeyUsage, PruneResult, RotateOptions, RotationResult, RotationStep, SecretsStatus } from './secret-maintenance.js';

function refusePostgres(location: string): void {
  if (/^postgres(ql)?:\/\//i.test(location)) {
    throw new Error(
      'PostgreSQL is not supported yet: set db (OFGW_DB) to a SQLite file path such as ./data/ofgw.db',
    );
  }
}

/**
 * Opens the store at `location` (the `db` setting, `OFGW_DB`): a SQLite file path, or
 * `':memory:'`. PostgreSQL URLs are recognised and refused until that store exists.
 * Model secrets are encrypted with the keyring `options` describe (default: OFGW_MASTER_KEY,
 * else OFGW_MASTER_KEY_FILE, else a key file beside the database, created on first open).
 * @example const store = await openStore(config.db, { masterKeyFile: config.masterKeyFile, masterKey: config.masterKey });
 */
export async function openStore(location: string, options: OpenStoreOptions = {}): Promise<Store> {
  refusePostgres(location);
  return openSqliteStore(location, options);
}

/**
 * Opens the database for `ofgw secrets status|rotate|prune`, with the same keyring rules as
 * {@link openStore}; safe to use while a server has the same database open.
 */
export async function openSecretsAdmin(location: string, options: OpenStoreOptions = {}): Promise<SecretsAdmin> {
  refusePostgres(location);
  const { db, keyring } = await openSqliteDatabase(location, options);
  return secretsAdmin(db, keyring);
}
