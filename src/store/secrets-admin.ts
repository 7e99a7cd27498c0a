/** `ofgw secrets …` over an open database: status, rotation and pruning of the keyring. */
import type { Kysely } from 'kysely';
import type { Keyring } from '../secrets/index.js';
import type { DialectName } from './dialect.js';
import { writeLocks } from './locks.js';
import type { Database } from './schema.js';
import {
  pruneKeys,
  rotateSecrets,
  secretsStatus,
  type PruneResult,
  type RotateOptions,
  type RotationResult,
  type SecretsStatus,
} from './secret-maintenance.js';

export interface SecretsAdmin {
  readonly keyring: Keyring;
  /** Key ids, which is current, and how many stored values each encrypts. */
  status(): Promise<SecretsStatus>;
  /** Adds a new current key (key file) and re-encrypts every value under the current key. */
  rotate(options?: RotateOptions): Promise<RotationResult>;
  /** Removes keys no stored value uses (key file only). */
  prune(): Promise<PruneResult>;
  close(): Promise<void>;
}

export function secretsAdmin(db: Kysely<Database>, keyring: Keyring, dialect: DialectName): SecretsAdmin {
  const locks = writeLocks(dialect);
  return {
    keyring,
    status: () => secretsStatus(db, keyring),
    rotate: (options) => rotateSecrets(db, keyring, locks, options),
    prune: () => pruneKeys(db, keyring, locks),
    close: () => db.destroy(),
  };
}
