/**
 * Where the master keys come from, in order: `masterKey` / OFGW_MASTER_KEY (with older keys
 * in OFGW_MASTER_KEY_PREVIOUS), else the key file `masterKeyFile` / OFGW_MASTER_KEY_FILE,
 * else a key file beside the database (`data/ofgw.db` → `data/ofgw.keys`), generated with
 * mode 0600 on first use. A `:memory:` database gets a random in-memory key.
 */
import { createHash, randomBytes } from 'node:crypto';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { SecretsError } from './errors.js';
import { decodeKey, KEY_ID_PATTERN } from './format.js';
import { createKeyFileIfMissing, FileKeyBackend } from './file-backend.js';
import { generateKey, statKeyFile } from './key-file.js';
import { Keyring, StaticKeyBackend } from './keyring.js';

export const ENV_KEY = 'OFGW_MASTER_KEY';
export const ENV_PREVIOUS_KEYS = 'OFGW_MASTER_KEY_PREVIOUS';
export const ENV_KEY_FILE = 'OFGW_MASTER_KEY_FILE';

export interface LoadKeyringOptions {
  /** The store location (`db` setting); the default key file sits beside it. */
  dbLocation: string;
  /** The `masterKeyFile` setting; empty or absent: OFGW_MASTER_KEY_FILE, then the default. */
  masterKeyFile?: string;
  /** The `masterKey` setting (base64); empty or absent: OFGW_MASTER_KEY. */
  masterKey?: string;
  /** Defaults to `process.env`. */
  env?: NodeJS.ProcessEnv;
  /**
   * Create the key file when it is missing (default true). The store passes false once the
   * database holds encrypted values: a fresh key would silently make them unreadable.
   */
  createKeyFile?: boolean;
}

const nonEmpty = (value: string | undefined): string | undefined => (value?.trim() ? value.trim() : undefined);

function isMemory(dbLocation: string): boolean {
  return dbLocation === ':memory:' || dbLocation === '';
}

/**
 * The default key file for a database: same folder, same name, `.keys` extension, so two
 * databases in one folder never share (and prune) each other's keys.
 * @example defaultKeyFile('./data/ofgw.db') // 'data/ofgw.keys' (resolved)
 */
export function defaultKeyFile(dbLocation: string): string {
  const db = resolve(dbLocation);
  const file = join(dirname(db), `${basename(db, extname(db))}.keys`);
  return file === db ? `${db}.keys` : file;
}

/** The key file the options point to, or `undefined` in env or in-memory mode. */
export function keyFileFor(options: LoadKeyringOptions): string | undefined {
  const env = options.env ?? process.env;
  if (nonEmpty(options.masterKey) ?? nonEmpty(env[ENV_KEY])) return undefined;
  const explicit = nonEmpty(options.masterKeyFile) ?? nonEmpty(env[ENV_KEY_FILE]);
  if (explicit !== undefined) return resolve(explicit);
  return isMemory(options.dbLocation) ? undefined : defaultKeyFile(options.dbLocation);
}

/**
 * Loads the keyring the options describe.
 * @throws {SecretsError} naming the variable or file when key material is invalid, or
 *   `KEY_FILE_MISSING` when the file is absent and `createKeyFile` is false.
 * @example const keyring = loadKeyring({ dbLocation: config.db, masterKeyFile: config.masterKeyFile, masterKey: config.masterKey, env: process.env });
 */
export function loadKeyring(options: LoadKeyringOptions): Keyring {
  const env = options.env ?? process.env;
  const fromOption = nonEmpty(options.masterKey);
  const envKey = fromOption ?? nonEmpty(env[ENV_KEY]);
  const previous = nonEmpty(env[ENV_PREVIOUS_KEYS]);
  if (envKey !== undefined) {
    return new Keyring(new StaticKeyBackend('env', ENV_KEY, envKeySet(envKey, fromOption ? 'the masterKey setting' : ENV_KEY, previous)));
  }
  if (previous !== undefined) {
    throw new SecretsError('INVALID_KEY', `${ENV_PREVIOUS_KEYS} is set but ${ENV_KEY} is not: set the current key in ${ENV_KEY}`);
  }
  const file = keyFileFor(options);
  if (file === undefined) {
    const id = `mem-${randomBytes(4).toString('hex')}`;
    return new Keyring(new StaticKeyBackend('memory', 'an in-memory key', { current: id, keys: new Map([[id, generateKey()]]) }));
  }
  if (statKeyFile(file) === undefined) {
    if (options.createKeyFile === false) {
      throw new SecretsError(
        'KEY_FILE_MISSING',
        `the database holds encrypted secrets but its key file ${file} does not exist: restore it, or point ` +
          `${ENV_KEY_FILE} (masterKeyFile) or ${ENV_KEY} at the key that encrypted them`,
      );
    }
    createKeyFileIfMissing(file);
  }
  return new Keyring(new FileKeyBackend(file));
}

/** The env key's id: a fingerprint, so the same key always gets the same id on every node. */
export function envKeyId(key: Buffer): string {
  return `env-${createHash('sha256').update(key).digest('hex').slice(0, 8)}`;
}

/**
 * OFGW_MASTER_KEY_PREVIOUS entries are `base64`, or `keyId:base64` to keep reading values
 * written under a key file after switching to the environment.
 */
function envKeySet(current: string, where: string, previous: string | undefined) {
  const currentKey = decodeKey(current, where);
  const currentId = envKeyId(currentKey);
  const keys = new Map<string, Buffer>([[currentId, currentKey]]);
  const entries = (previous ?? '').split(',').map((e) => e.trim()).filter(Boolean);
  entries.forEach((entry, i) => {
    const label = `${ENV_PREVIOUS_KEYS} entry ${i + 1}`;
    const colon = entry.indexOf(':');
    const id = colon >= 0 ? entry.slice(0, colon) : undefined;
    if (id !== undefined && !KEY_ID_PATTERN.test(id)) {
      throw new SecretsError('INVALID_KEY', `${label}: the key id before ":" must be 1–64 letters, digits, _ or -`);
    }
    const key = decodeKey(colon >= 0 ? entry.slice(colon + 1) : entry, label);
    const keyId = id ?? envKeyId(key);
    if (!keys.has(keyId)) keys.set(keyId, key);
  });
  return { current: currentId, keys };
}
