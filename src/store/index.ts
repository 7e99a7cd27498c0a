/** The store's entry point: pick the implementation from the configured location. */
import { openSqliteStore } from './sqlite.js';
import type { Store } from './types.js';

export { StoreError, type StoreErrorCode } from './errors.js';
export type * from './types.js';
export { MODEL_STATUSES, SUBSCRIPTION_STATUSES, TOUCH_INTERVAL_MS } from './types.js';

/**
 * Opens the store at `location` (the `db` setting, `OFGW_DB`): a SQLite file path, or
 * `':memory:'`. PostgreSQL URLs are recognised and refused until that store exists.
 * @example const store = await openStore(config.db);
 */
export async function openStore(location: string): Promise<Store> {
  if (/^postgres(ql)?:\/\//i.test(location)) {
    throw new Error(
      'PostgreSQL is not supported yet: set db (OFGW_DB) to a SQLite file path such as ./data/ofgw.db',
    );
  }
  return openSqliteStore(location);
}
