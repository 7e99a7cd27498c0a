/**
 * AES-256-GCM for secrets at rest: a random 12-byte IV per value, a 16-byte tag, the key id
 * beside each ciphertext and caller-chosen authenticated data (the store binds organization,
 * model and field), so a value copied to another row or field fails to decrypt.
 *
 * Keys come from a {@link KeyBackend}. The file backend is what makes rotation work without
 * downtime: before encrypting, the keyring re-reads the file when it changed, so it never
 * writes with a retired key; on a value under a key id it does not know, it re-reads the
 * file once and retries, so it can read values another process re-encrypted.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { SecretsError } from './errors.js';
import { formatSealed, IV_BYTES, parseSealed, TAG_BYTES } from './format.js';
import type { KeySet } from './key-file.js';

const ALGORITHM = 'aes-256-gcm';

/** `file`: a rotatable key file; `env`: OFGW_MASTER_KEY; `memory`: a random key for `:memory:`. */
export type KeySource = 'file' | 'env' | 'memory';

/** Where a keyring's keys live and how they change. */
export interface KeyBackend {
  readonly source: KeySource;
  /** The key file path or the environment variable, for messages and `secrets status`. */
  readonly location: string;
  load(): KeySet;
  /** A newer key set when the source changed since the last load (or, with `force`, re-read anyway). */
  reload(force: boolean): KeySet | undefined;
  /** Read-modify-write of the stored set; absent when the source is read-only (env). */
  update?(change: (set: KeySet) => KeySet): KeySet;
}

/** Decrypted values kept per keyring (the connect path opens a model's token on every relay). */
const OPENED_CACHE_SIZE = 4096;

export class Keyring {
  readonly #backend: KeyBackend;
  #keys!: KeySet;
  /**
   * Recently decrypted values by stored value and authenticated data. A value is cached only
   * once it decrypted and authenticated, and the cache empties whenever the key set changes,
   * so it answers exactly what decrypting again would; bounded, oldest first out.
   */
  readonly #opened = new Map<string, string>();

  get #set(): KeySet {
    return this.#keys;
  }

  set #set(next: KeySet) {
    this.#keys = next;
    this.#opened.clear();
  }

  constructor(backend: KeyBackend) {
    this.#backend = backend;
    this.#set = backend.load();
  }

  get source(): KeySource {
    return this.#backend.source;
  }

  get location(): string {
    return this.#backend.location;
  }

  /** Decrypted values held in the cache (at most 4,096). */
  get cachedValues(): number {
    return this.#opened.size;
  }

  /** Whether keys can be added and removed (file and memory keyrings; not env). */
  get mutable(): boolean {
    return this.#backend.update !== undefined;
  }

  /** The key new values are encrypted with, after picking up any change to the source. */
  currentKeyId(): string {
    this.#refresh(false);
    return this.#set.current;
  }

  /** Every key id held, current first. */
  keyIds(): string[] {
    const { current, keys } = this.#set;
    return [current, ...[...keys.keys()].filter((id) => id !== current)];
  }

  hasKey(id: string): boolean {
    return this.#set.keys.has(id);
  }

  /**
   * Encrypts `plaintext` under the current key with `aad` bound as authenticated data.
   * @example keyring.encrypt('tok', 'ofgw:model:<org>:<model>:wsToken') // 'ofgw1:k…:…:…'
   */
  encrypt(plaintext: string, aad: string): string {
    this.#refresh(false);
    const keyId = this.#set.current;
    const key = this.#set.keys.get(keyId) as Buffer;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv(ALGORITHM, key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(aad, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return formatSealed({ keyId, iv, body });
  }

  /**
   * Decrypts a value made by {@link encrypt} with the same `aad`.
   * @throws {SecretsError} `MALFORMED`, `UNKNOWN_KEY` (after re-reading the source once) or
   *   `DECRYPT_FAILED` (tampered, wrong key, or bound to another row or field).
   */
  decrypt(stored: string, aad: string): string {
    const cacheKey = `${aad}\u0000${stored}`;
    const cached = this.#opened.get(cacheKey);
    if (cached !== undefined) return cached;
    const plain = this.#decrypt(stored, aad);
    if (this.#opened.size >= OPENED_CACHE_SIZE) this.#opened.delete(this.#opened.keys().next().value as string);
    this.#opened.set(cacheKey, plain);
    return plain;
  }

  #decrypt(stored: string, aad: string): string {
    const { keyId, iv, body } = parseSealed(stored);
    let key = this.#set.keys.get(keyId);
    if (key === undefined) {
      this.#refresh(true);
      key = this.#set.keys.get(keyId);
    }
    if (key === undefined) {
      throw new SecretsError('UNKNOWN_KEY', `stored secret is encrypted with key ${keyId}, which ${this.location} does not hold`);
    }
    const decipher = createDecipheriv(ALGORITHM, key, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
    try {
      // Nothing from update() is used until final() has checked the tag.
      const plain = Buffer.concat([decipher.update(body.subarray(0, body.length - TAG_BYTES)), decipher.final()]);
      return plain.toString('utf8');
    } catch (error) {
      throw new SecretsError(
        'DECRYPT_FAILED',
        `stored secret under key ${keyId} failed authentication: it was tampered with, or copied from another row or field`,
        { cause: error },
      );
    }
  }

  /**
   * Adds a fresh key and makes it current (rotation step one).
   * @throws {SecretsError} `NOT_APPLICABLE` for an env keyring.
   */
  addKey(id: string, key: Buffer): string {
    this.#set = this.#requireUpdate('adding a key')((set) => ({ current: id, keys: new Map([...set.keys, [id, key]]) }));
    return id;
  }

  /** Removes the given keys, never the current one; returns the ids actually removed. */
  removeKeys(ids: readonly string[]): string[] {
    const removed: string[] = [];
    this.#set = this.#requireUpdate('removing keys')((set) => {
      const keys = new Map(set.keys);
      for (const id of ids) if (id !== set.current && keys.delete(id)) removed.push(id);
      return { current: set.current, keys };
    });
    return removed;
  }

  #requireUpdate(what: string): (change: (set: KeySet) => KeySet) => KeySet {
    const update = this.#backend.update;
    if (update === undefined) {
      throw new SecretsError('NOT_APPLICABLE', `${what} does not apply to keys from ${this.location}`);
    }
    return update.bind(this.#backend);
  }

  #refresh(force: boolean): void {
    const next = this.#backend.reload(force);
    if (next !== undefined) this.#set = next;
  }
}

/** A fixed set (env), or a changeable in-memory one (`:memory:` databases, tests). */
export class StaticKeyBackend implements KeyBackend {
  readonly source: KeySource;
  readonly location: string;
  #set: KeySet;
  readonly update?: (change: (set: KeySet) => KeySet) => KeySet;

  constructor(source: 'env' | 'memory', location: string, set: KeySet) {
    this.source = source;
    this.location = location;
    this.#set = set;
    if (source === 'memory') this.update = (change) => (this.#set = change(this.#set));
  }

  load(): KeySet {
    return this.#set;
  }

  reload(): KeySet | undefined {
    return this.source === 'memory' ? this.#set : undefined;
  }
}
