/**
 * The stored form of an encrypted value:
 * `ofgw1:<keyId>:<iv base64url>:<ciphertext‖16-byte GCM tag, base64url>`.
 * The key id beside each ciphertext is what lets old and new keys coexist during rotation.
 */
import { SecretsError } from './errors.js';

export const SEALED_PREFIX = 'ofgw1:';
export const IV_BYTES = 12;
export const TAG_BYTES = 16;
export const KEY_BYTES = 32;

/** Key ids go between `:` separators and into file names and logs: keep them plain. */
export const KEY_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

export interface Sealed {
  keyId: string;
  iv: Buffer;
  /** Ciphertext followed by the tag. */
  body: Buffer;
}

/** True when `value` is in the sealed format's envelope (it may still fail to decrypt). */
export function isSealed(value: string): boolean {
  return value.startsWith(SEALED_PREFIX);
}

/** The key id of a sealed value, or `undefined` for plaintext or a malformed value. */
export function sealedKeyId(value: string): string | undefined {
  if (!isSealed(value)) return undefined;
  const keyId = value.slice(SEALED_PREFIX.length).split(':', 1)[0] ?? '';
  return KEY_ID_PATTERN.test(keyId) ? keyId : undefined;
}

export function formatSealed({ keyId, iv, body }: Sealed): string {
  return `${SEALED_PREFIX}${keyId}:${iv.toString('base64url')}:${body.toString('base64url')}`;
}

/**
 * Splits a stored value. Node's base64url decoder skips invalid characters silently, so the
 * alphabet and lengths are checked here rather than trusting the decoded bytes.
 * @throws {SecretsError} `MALFORMED`, without echoing the value.
 */
export function parseSealed(value: string): Sealed {
  const parts = value.split(':');
  if (parts.length !== 4 || `${parts[0]}:` !== SEALED_PREFIX) {
    throw new SecretsError('MALFORMED', 'stored secret is not in the ofgw1:<keyId>:<iv>:<ciphertext> format');
  }
  const [, keyId = '', iv = '', body = ''] = parts;
  if (!KEY_ID_PATTERN.test(keyId) || !BASE64URL.test(iv) || !BASE64URL.test(body)) {
    throw new SecretsError('MALFORMED', 'stored secret has an invalid key id, IV or ciphertext encoding');
  }
  const sealed = { keyId, iv: Buffer.from(iv, 'base64url'), body: Buffer.from(body, 'base64url') };
  if (sealed.iv.length !== IV_BYTES || sealed.body.length < TAG_BYTES) {
    throw new SecretsError('MALFORMED', `stored secret has a bad IV or is shorter than its ${TAG_BYTES}-byte tag`);
  }
  return sealed;
}

const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Decodes a base64 (standard alphabet, padded) 32-byte key. `where` names the variable or
 * file for the error; the material itself is never echoed.
 * @throws {SecretsError} `INVALID_KEY`
 */
export function decodeKey(text: string, where: string): Buffer {
  const trimmed = text.trim();
  if (!STRICT_BASE64.test(trimmed)) {
    throw new SecretsError('INVALID_KEY', `${where} is not base64 (expected ${KEY_BYTES} random bytes, e.g. from \`openssl rand -base64 32\`)`);
  }
  const key = Buffer.from(trimmed, 'base64');
  if (key.length !== KEY_BYTES) {
    throw new SecretsError('INVALID_KEY', `${where} decodes to ${key.length} bytes; AES-256 needs exactly ${KEY_BYTES} (\`openssl rand -base64 32\`)`);
  }
  return key;
}
