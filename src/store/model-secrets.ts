/**
 * A model's secret columns (token, cookie, proxy URL) through the keyring. Each value is
 * bound to `ofgw:model:<orgId>:<modelId>:<field>`, so a ciphertext copied into another row,
 * or into another field of the same row, fails authentication instead of being used.
 */
import { isSealed, SecretsError, sealedKeyId, type Keyring } from '../secrets/index.js';
import { maskProxyPassword } from './records.js';

export type SecretField = 'wsToken' | 'cookie' | 'proxyUrl';

/** Column of each secret field. */
export const SECRET_COLUMNS = { wsToken: 'ws_token', cookie: 'cookie', proxyUrl: 'proxy_url' } as const;
export const SECRET_FIELDS = Object.keys(SECRET_COLUMNS) as SecretField[];

/** The authenticated data binding a value to its organization, model and field. */
export function secretAad(orgId: string, modelId: string, field: SecretField): string {
  return `ofgw:model:${orgId}:${modelId}:${field}`;
}

export interface ModelRef {
  orgId: string;
  modelId: string;
}

/** Encrypts a value about to be stored; `null`/`undefined` pass through (clear / leave). */
export function sealField<T extends string | null | undefined>(keyring: Keyring, ref: ModelRef, field: SecretField, value: T): string | Exclude<T, string> {
  if (typeof value !== 'string') return value as Exclude<T, string>;
  return keyring.encrypt(value, secretAad(ref.orgId, ref.modelId, field));
}

/**
 * Decrypts a stored value. Plaintext is refused, not passed through: the store encrypts
 * older plaintext on open (and older ofgw versions refuse the migrated database), so a
 * clear value here was written behind the store's back.
 * @throws {SecretsError} whose message names the field and the model, never the value.
 */
export function openField(keyring: Keyring, ref: ModelRef, field: SecretField, stored: string | null): string | null {
  if (stored === null) return null;
  try {
    return keyring.decrypt(stored, secretAad(ref.orgId, ref.modelId, field));
  } catch (error) {
    if (!(error instanceof SecretsError)) throw error;
    // The cause's message is in this one already: as a `cause` too, logs would say it twice.
    throw new SecretsError(error.code, `cannot decrypt ${field} of model ${ref.modelId}: ${error.message}`);
  }
}

/** Like {@link openField}, but `undefined` when the value cannot be decrypted. */
export function tryOpenField(keyring: Keyring, ref: ModelRef, field: SecretField, stored: string | null): string | null | undefined {
  try {
    return openField(keyring, ref, field, stored);
  } catch (error) {
    if (error instanceof SecretsError) return undefined;
    throw error;
  }
}

/** The clear, password-free copy kept beside an encrypted proxy URL. */
export function maskedProxy<T extends string | null | undefined>(proxyUrl: T): string | Exclude<T, string> {
  return (typeof proxyUrl === 'string' ? maskProxyPassword(proxyUrl) : proxyUrl) as string | Exclude<T, string>;
}

/** Pseudo key ids for values under no key; the `:` keeps them apart from real key ids. */
export const PLAINTEXT = ':plaintext';
export const MALFORMED = ':malformed';

/** The key id a stored value is encrypted with, {@link PLAINTEXT}, {@link MALFORMED}, or `undefined` for null. */
export function storedKeyId(stored: string | null): string | undefined {
  if (stored === null) return undefined;
  if (!isSealed(stored)) return PLAINTEXT;
  return sealedKeyId(stored) ?? MALFORMED;
}
