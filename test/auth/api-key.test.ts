import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { digestsEqual, generateApiKey, hashApiKey, isWellFormedApiKey } from '../../src/auth/api-key.js';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** Replaces the character at `index` with a different base62 character. */
function flip(key: string, index: number): string {
  const next = BASE62[(BASE62.indexOf(key.charAt(index)) + 1) % 62] ?? '0';
  return key.slice(0, index) + next + key.slice(index + 1);
}

test('generateApiKey: ofgw_sk_ + 32 random + 6 checksum base62 characters', () => {
  const { key, prefix, hash } = generateApiKey();
  assert.match(key, /^ofgw_sk_[0-9A-Za-z]{38}$/);
  assert.equal(key.length, 46);
  assert.equal(prefix, key.slice(0, 12));
  assert.equal(hash, createHash('sha256').update(key).digest('hex'));
  assert.ok(isWellFormedApiKey(key));
});

test('keys do not repeat', () => {
  const keys = new Set(Array.from({ length: 2000 }, () => generateApiKey().key));
  assert.equal(keys.size, 2000);
});

test('the random part uses the whole base62 alphabet evenly', () => {
  const counts = new Map<string, number>();
  const samples = 2000;
  for (let i = 0; i < samples; i++) {
    for (const char of generateApiKey().key.slice(8, 40)) counts.set(char, (counts.get(char) ?? 0) + 1);
  }
  assert.equal(counts.size, 62);
  const expected = (samples * 32) / 62;
  // A modulo bias would give the first 8 characters ~25% more than the rest.
  for (const [char, count] of counts) assert.ok(Math.abs(count - expected) < expected * 0.15, `${char}: ${count}`);
});

test('any single changed character breaks the checksum', () => {
  const { key } = generateApiKey();
  for (let i = 8; i < key.length; i++) assert.equal(isWellFormedApiKey(flip(key, i)), false, `position ${i}`);
});

test('truncated, extended, re-prefixed and garbage keys are not well-formed', () => {
  const { key } = generateApiKey();
  assert.equal(isWellFormedApiKey(key.slice(0, -1)), false);
  assert.equal(isWellFormedApiKey(`${key}0`), false);
  assert.equal(isWellFormedApiKey(key.replace('ofgw_sk_', 'ofgw_pk_')), false);
  assert.equal(isWellFormedApiKey(` ${key}`), false);
  assert.equal(isWellFormedApiKey(''), false);
  assert.equal(isWellFormedApiKey(`ofgw_sk_${'-'.repeat(38)}`), false);
});

test('hashApiKey is hex SHA-256 and digestsEqual compares digests', () => {
  const { key, hash } = generateApiKey();
  assert.equal(hashApiKey(key), hash);
  assert.match(hash, /^[0-9a-f]{64}$/);
  assert.equal(digestsEqual(hash, hashApiKey(key)), true);
  assert.equal(digestsEqual(hash, hashApiKey(flip(key, 20))), false);
  assert.equal(digestsEqual(hash, hash.slice(0, 62)), false);
  assert.equal(digestsEqual('', ''), false);
});
