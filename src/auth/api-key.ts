/**
 * API keys: `ofgw_sk_` + 32 random base62 characters + a 6-character base62 CRC32 of the
 * random part, in the style of GitHub's tokens. The fixed prefix lets secret scanners
 * recognise a leaked key; the checksum rejects typos and truncations without a database
 * query. Only a digest of the key is ever stored.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { crc32 } from 'node:zlib';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
export const API_KEY_PREFIX = 'ofgw_sk_';
/** 32 base62 characters carry 32 × log2(62) ≈ 190.5 bits. */
const RANDOM_LENGTH = 32;
/** 62^6 ≈ 5.7e10 covers every 32-bit CRC. */
const CHECKSUM_LENGTH = 6;
/** Characters shown to operators: the fixed prefix plus 4 random ones (`ofgw_sk_4fQz`). */
export const API_KEY_VISIBLE_LENGTH = API_KEY_PREFIX.length + 4;
const KEY_PATTERN = new RegExp(`^${API_KEY_PREFIX}[0-9A-Za-z]{${RANDOM_LENGTH + CHECKSUM_LENGTH}}$`);
/** The largest multiple of 62 that fits a byte: bytes at or above it are discarded. */
const UNBIASED_BYTE_LIMIT = 256 - (256 % 62);

export interface GeneratedApiKey {
  /** The plaintext key: give it to the user once, never store it. */
  key: string;
  /** Safe to store and display. */
  prefix: string;
  /** Hex SHA-256 of `key`, the value to store and look up. */
  hash: string;
}

/**
 * Creates a new key from the CSPRNG.
 * @example const { key, prefix, hash } = generateApiKey(); // key: 'ofgw_sk_4fQz…'
 */
export function generateApiKey(): GeneratedApiKey {
  const random = randomBase62(RANDOM_LENGTH);
  const key = `${API_KEY_PREFIX}${random}${checksum(random)}`;
  return { key, prefix: key.slice(0, API_KEY_VISIBLE_LENGTH), hash: hashApiKey(key) };
}

/**
 * True when `value` has the key format and a matching checksum. Says nothing about whether
 * the key exists; it only spares a query for typos, truncations and garbage.
 * @example isWellFormedApiKey('ofgw_sk_…') // false once any character is changed
 */
export function isWellFormedApiKey(value: string): boolean {
  if (!KEY_PATTERN.test(value)) return false;
  const random = value.slice(API_KEY_PREFIX.length, API_KEY_PREFIX.length + RANDOM_LENGTH);
  return value.slice(API_KEY_PREFIX.length + RANDOM_LENGTH) === checksum(random);
}

/**
 * Hex SHA-256 of the key. A fast, unsalted hash is enough here, unlike for passwords: with
 * ~190 random bits a stolen digest cannot be brute-forced however fast each guess is, and
 * an unsalted digest can be found through a unique index in one lookup.
 * @example hashApiKey(key) // 64 hex characters
 */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/**
 * Compares two hex digests in constant time (`timingSafeEqual` throws on unequal lengths,
 * so those are rejected first; a digest's length is not secret).
 * @example digestsEqual(row.key_hash, hashApiKey(presented))
 */
export function digestsEqual(a: string, b: string): boolean {
  const left = Buffer.from(a, 'hex');
  const right = Buffer.from(b, 'hex');
  return left.length === right.length && left.length > 0 && timingSafeEqual(left, right);
}

/** Uniform base62: a byte modulo 62 would favour the first 8 characters, so rejection-sample. */
function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length)) {
      if (byte < UNBIASED_BYTE_LIMIT && out.length < length) out += BASE62.charAt(byte % 62);
    }
  }
  return out;
}

function checksum(random: string): string {
  let value = crc32(random);
  let out = '';
  for (let i = 0; i < CHECKSUM_LENGTH; i++) {
    out = BASE62.charAt(value % 62) + out;
    value = Math.floor(value / 62);
  }
  return out;
}
