/** Keys from a key file, re-read whenever the file changes (another process rotated them). */
import { SecretsError } from './errors.js';
import { generateKey, newKeyId, readKeyFile, sameStamp, statKeyFile, writeKeyFile, type FileStamp, type KeySet } from './key-file.js';
import type { KeyBackend } from './keyring.js';

export class FileKeyBackend implements KeyBackend {
  readonly source = 'file' as const;
  readonly location: string;
  #stamp: FileStamp | undefined;

  constructor(path: string) {
    this.location = path;
  }

  load(): KeySet {
    const { set, stamp } = readKeyFile(this.location);
    this.#stamp = stamp;
    return set;
  }

  reload(force: boolean): KeySet | undefined {
    // One stat per call: cheap next to a database write, and it is what keeps a running
    // server from encrypting with a key `ofgw secrets rotate` has just retired.
    if (!force && sameStamp(statKeyFile(this.location), this.#stamp)) return undefined;
    return this.load();
  }

  /**
   * Read-modify-write from the file as it is now, not as cached. Callers serialize updates
   * (the store runs them inside a database write transaction).
   */
  update(change: (set: KeySet) => KeySet): KeySet {
    const { set } = readKeyFile(this.location);
    const next = change(set);
    writeKeyFile(this.location, next);
    // Re-read on next use rather than trusting a stat taken after the write.
    this.#stamp = undefined;
    return next;
  }
}

/**
 * Creates the key file with one fresh key, unless it exists. Two processes opening a new
 * database at once both end up with the winner's key.
 * @returns whether this call created it.
 */
export function createKeyFileIfMissing(path: string): boolean {
  try {
    const id = newKeyId();
    writeKeyFile(path, { current: id, keys: new Map([[id, generateKey()]]) }, { exclusive: true });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    if (error instanceof SecretsError) throw error;
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new SecretsError('KEY_FILE', `cannot create key file ${path} (${code})`, { cause: error });
  }
}
