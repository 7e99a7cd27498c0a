/** The keyring's AES-256-GCM envelope: format, authentication and key sources. */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { Keyring, StaticKeyBackend } from '../../src/secrets/keyring.js';
import { envKeyId, loadKeyring } from '../../src/secrets/load.js';
import { isSecretsError } from './assertions.js';

const AAD = 'ofgw:model:org-1:model-1:wsToken';

function memoryKeyring(id = 'k1', key = randomBytes(32)): Keyring {
  return new Keyring(new StaticKeyBackend('memory', 'test keys', { current: id, keys: new Map([[id, key]]) }));
}

test('round trip, with the documented format and a fresh IV per value', () => {
  const keyring = memoryKeyring('k1');
  const a = keyring.encrypt('eyJhbGciOi.token', AAD);
  const b = keyring.encrypt('eyJhbGciOi.token', AAD);
  assert.match(a, /^ofgw1:k1:[A-Za-z0-9_-]{16}:[A-Za-z0-9_-]+$/);
  assert.notEqual(a, b, 'random IV');
  const [, , iv, body] = a.split(':');
  assert.equal(Buffer.from(iv!, 'base64url').length, 12);
  assert.equal(Buffer.from(body!, 'base64url').length, 'eyJhbGciOi.token'.length + 16, 'ciphertext plus a 16-byte tag');
  assert.equal(keyring.decrypt(a, AAD), 'eyJhbGciOi.token');
  assert.equal(keyring.decrypt(keyring.encrypt('', AAD), AAD), '');
  assert.equal(keyring.decrypt(keyring.encrypt('ünïcødé ✓', AAD), AAD), 'ünïcødé ✓');
});

test('a tampered ciphertext, IV or tag fails authentication with a clear error', () => {
  const keyring = memoryKeyring();
  const sealed = keyring.encrypt('secret-value', AAD);
  const [prefix, id, iv, body] = sealed.split(':') as [string, string, string, string];
  const flip = (b64: string, index: number): string => {
    const bytes = Buffer.from(b64, 'base64url');
    bytes[index] = (bytes[index] ?? 0) ^ 1;
    return bytes.toString('base64url');
  };
  const bodyBytes = Buffer.from(body, 'base64url').length;
  for (const tampered of [
    [prefix, id, iv, flip(body, 0)].join(':'),
    [prefix, id, iv, flip(body, bodyBytes - 1)].join(':'),
    [prefix, id, flip(iv, 0), body].join(':'),
  ]) {
    assert.throws(() => keyring.decrypt(tampered, AAD), isSecretsError('DECRYPT_FAILED', /failed authentication.*tampered.*another row or field/));
  }
  // A truncated tag is refused by length before GCM sees it (DEP0182: no short tags).
  const short = Buffer.from(body, 'base64url').subarray(0, 15).toString('base64url');
  assert.throws(() => keyring.decrypt([prefix, id, iv, short].join(':'), AAD), isSecretsError('MALFORMED'));
  assert.throws(() => keyring.decrypt([prefix, id, iv, Buffer.from(body, 'base64url').subarray(0, bodyBytes - 4).toString('base64url')].join(':'), AAD), isSecretsError('DECRYPT_FAILED'));
});

test('other authenticated data (another row or field) fails to decrypt', () => {
  const keyring = memoryKeyring();
  const sealed = keyring.encrypt('secret-value', AAD);
  assert.throws(() => keyring.decrypt(sealed, 'ofgw:model:org-1:model-2:wsToken'), isSecretsError('DECRYPT_FAILED'));
  assert.throws(() => keyring.decrypt(sealed, 'ofgw:model:org-1:model-1:cookie'), isSecretsError('DECRYPT_FAILED'));
});

test('an unknown key id and malformed values are named, never echoed', () => {
  const keyring = memoryKeyring('k1');
  const other = memoryKeyring('k2');
  assert.throws(() => keyring.decrypt(other.encrypt('secret-value', AAD), AAD), isSecretsError('UNKNOWN_KEY', /key k2, which test keys does not hold/));
  for (const bad of ['plain-secret-value', 'ofgw1:k1:abc', 'ofgw1:k1:!!!!:????', 'ofgw1:bad id:AAAAAAAAAAAAAAAA:AAAAAAAAAAAAAAAAAAAAAA', 'ofgw1:k1:AAAA:AAAAAAAAAAAAAAAAAAAAAA']) {
    assert.throws(() => keyring.decrypt(bad, AAD), (error: unknown) => {
      isSecretsError('MALFORMED')(error);
      assert.ok(!(error as Error).message.includes('plain-secret-value'));
      return true;
    });
  }
});

test('OFGW_MASTER_KEY: key id from its fingerprint, previous keys decrypt only', () => {
  const oldKey = randomBytes(32);
  const newKey = randomBytes(32);
  const fileKey = randomBytes(32);
  const before = loadKeyring({ dbLocation: '/nowhere/ofgw.db', env: { OFGW_MASTER_KEY: oldKey.toString('base64') } });
  assert.equal(before.source, 'env');
  assert.equal(before.currentKeyId(), `env-${createHash('sha256').update(oldKey).digest('hex').slice(0, 8)}`);
  assert.equal(before.currentKeyId(), envKeyId(oldKey));
  const sealed = before.encrypt('value', AAD);

  const after = loadKeyring({
    dbLocation: '/nowhere/ofgw.db',
    env: {
      OFGW_MASTER_KEY: ` ${newKey.toString('base64')}\n`,
      OFGW_MASTER_KEY_PREVIOUS: `${oldKey.toString('base64')}, k20260101000000-abcdef:${fileKey.toString('base64')}`,
    },
  });
  assert.equal(after.currentKeyId(), envKeyId(newKey));
  assert.deepEqual(after.keyIds(), [envKeyId(newKey), envKeyId(oldKey), 'k20260101000000-abcdef']);
  assert.equal(after.decrypt(sealed, AAD), 'value');
  assert.ok(after.encrypt('value', AAD).startsWith(`ofgw1:${envKeyId(newKey)}:`));
  assert.equal(after.mutable, false);
  assert.throws(() => after.addKey('k2', randomBytes(32)), isSecretsError('NOT_APPLICABLE'));
});

test('invalid env key material names the variable and never prints it', () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ OFGW_MASTER_KEY: 'not base64 at all!' }, /OFGW_MASTER_KEY is not base64/],
    [{ OFGW_MASTER_KEY: randomBytes(16).toString('base64') }, /OFGW_MASTER_KEY decodes to 16 bytes; AES-256 needs exactly 32/],
    [{ OFGW_MASTER_KEY: randomBytes(32).toString('base64'), OFGW_MASTER_KEY_PREVIOUS: `x,${randomBytes(32).toString('base64')}` }, /OFGW_MASTER_KEY_PREVIOUS entry 1 is not base64/],
    [{ OFGW_MASTER_KEY: randomBytes(32).toString('base64'), OFGW_MASTER_KEY_PREVIOUS: `bad id:${randomBytes(32).toString('base64')}` }, /OFGW_MASTER_KEY_PREVIOUS entry 1: the key id/],
    [{ OFGW_MASTER_KEY_PREVIOUS: randomBytes(32).toString('base64') }, /OFGW_MASTER_KEY_PREVIOUS is set but OFGW_MASTER_KEY is not/],
  ];
  for (const [env, message] of cases) {
    assert.throws(() => loadKeyring({ dbLocation: '/nowhere/ofgw.db', env }), (error: unknown) => {
      isSecretsError('INVALID_KEY', message)(error);
      for (const value of Object.values(env)) for (const part of value.split(/[,:]/)) if (part.length > 8) assert.ok(!(error as Error).message.includes(part));
      return true;
    });
  }
  assert.throws(
    () => loadKeyring({ dbLocation: '/nowhere/ofgw.db', masterKey: 'short', env: {} }),
    isSecretsError('INVALID_KEY', /the masterKey setting is not base64/),
  );
});

test(':memory: gets a random in-memory key; empty settings count as unset', () => {
  const keyring = loadKeyring({ dbLocation: ':memory:', masterKey: '', masterKeyFile: '', env: { OFGW_MASTER_KEY: '' } });
  assert.equal(keyring.source, 'memory');
  assert.match(keyring.currentKeyId(), /^mem-[0-9a-f]{8}$/);
  assert.equal(keyring.decrypt(keyring.encrypt('x', AAD), AAD), 'x');
});

test('decrypted values are cached only as decrypting again would answer: bounded, emptied when the keys change', () => {
  const keyring = memoryKeyring('k1');
  const sealed = keyring.encrypt('secret-value', AAD);
  assert.equal(keyring.decrypt(sealed, AAD), 'secret-value');
  assert.equal(keyring.decrypt(sealed, AAD), 'secret-value', 'from the cache');
  assert.equal(keyring.cachedValues, 1);
  // Cached under the value and its authenticated data together: another row still fails.
  assert.throws(() => keyring.decrypt(sealed, 'ofgw:model:org-1:model-2:wsToken'), isSecretsError('DECRYPT_FAILED'));
  const [prefix, id, iv, body] = sealed.split(':') as [string, string, string, string];
  const bytes = Buffer.from(body, 'base64url');
  bytes[0] = (bytes[0] ?? 0) ^ 1;
  assert.throws(() => keyring.decrypt([prefix, id, iv, bytes.toString('base64url')].join(':'), AAD), isSecretsError('DECRYPT_FAILED'));
  assert.equal(keyring.cachedValues, 1, 'failures are not cached');
  // A retired key stops decrypting at once, cache or not.
  keyring.addKey('k2', randomBytes(32));
  assert.equal(keyring.cachedValues, 0);
  assert.equal(keyring.decrypt(sealed, AAD), 'secret-value');
  keyring.removeKeys(['k1']);
  assert.throws(() => keyring.decrypt(sealed, AAD), isSecretsError('UNKNOWN_KEY'));
  // Bounded: 5,000 distinct values keep at most 4,096, and the newest stay.
  const values = Array.from({ length: 5000 }, (_, i) => keyring.encrypt(`token-${i}`, AAD));
  for (const v of values) keyring.decrypt(v, AAD);
  assert.equal(keyring.cachedValues, 4096);
  assert.equal(keyring.decrypt(values[4999]!, AAD), 'token-4999');
  assert.equal(keyring.decrypt(values[0]!, AAD), 'token-0', 'an evicted value decrypts again');
});
