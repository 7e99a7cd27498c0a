/** The key file: created 0600 and atomically, validated, and re-read when another process changes it. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { SecretsError } from '../../src/secrets/errors.js';
import { createKeyFileIfMissing } from '../../src/secrets/file-backend.js';
import { newKeyId } from '../../src/secrets/key-file.js';
import { defaultKeyFile, loadKeyring } from '../../src/secrets/load.js';

const AAD = 'ofgw:model:o:m:cookie';
const posix = process.platform !== 'win32';

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'ofgw-keys-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('the default key file sits beside the database, named after it', () => {
  assert.equal(defaultKeyFile('/srv/ofgw/data/ofgw.db'), '/srv/ofgw/data/ofgw.keys');
  assert.equal(defaultKeyFile('/srv/b.sqlite'), '/srv/b.keys');
  assert.equal(defaultKeyFile('/srv/plain'), '/srv/plain.keys');
  assert.equal(defaultKeyFile('/srv/odd.keys'), '/srv/odd.keys.keys');
});

test('a missing key file is generated with mode 0600 and the documented JSON shape', { skip: !posix && 'POSIX modes' }, (t) => {
  const dir = tempDir(t);
  const keyring = loadKeyring({ dbLocation: join(dir, 'data', 'ofgw.db'), env: {} });
  const file = join(dir, 'data', 'ofgw.keys');
  assert.equal(keyring.source, 'file');
  assert.equal(keyring.location, file);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  const json = JSON.parse(readFileSync(file, 'utf8')) as { current: string; keys: Record<string, string> };
  assert.match(json.current, /^k\d{14}-[0-9a-f]{6}$/);
  assert.deepEqual(Object.keys(json.keys), [json.current]);
  assert.equal(Buffer.from(json.keys[json.current]!, 'base64').length, 32);
  assert.deepEqual(readdirSync(join(dir, 'data')), ['ofgw.keys'], 'no temp file left behind');

  // Loading again reuses it.
  assert.equal(loadKeyring({ dbLocation: join(dir, 'data', 'ofgw.db'), env: {} }).currentKeyId(), json.current);
});

test('OFGW_MASTER_KEY_FILE and masterKeyFile choose the file; the option wins', (t) => {
  const dir = tempDir(t);
  const fromEnv = loadKeyring({ dbLocation: ':memory:', env: { OFGW_MASTER_KEY_FILE: join(dir, 'env.keys') } });
  assert.equal(fromEnv.location, join(dir, 'env.keys'));
  const fromOption = loadKeyring({ dbLocation: ':memory:', masterKeyFile: join(dir, 'opt.keys'), env: { OFGW_MASTER_KEY_FILE: join(dir, 'env.keys') } });
  assert.equal(fromOption.location, join(dir, 'opt.keys'));
  // OFGW_MASTER_KEY wins over any file.
  const env = loadKeyring({ dbLocation: join(dir, 'x.db'), masterKeyFile: join(dir, 'opt.keys'), env: { OFGW_MASTER_KEY: randomBytes(32).toString('base64') } });
  assert.equal(env.source, 'env');
});

test('a key file readable by group or others is refused with the fix', { skip: !posix && 'POSIX modes' }, (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'ofgw.keys');
  createKeyFileIfMissing(file);
  chmodSync(file, 0o644);
  assert.throws(() => loadKeyring({ dbLocation: ':memory:', masterKeyFile: file, env: {} }), (error: unknown) => {
    assert.ok(error instanceof SecretsError);
    assert.equal(error.code, 'KEY_FILE');
    assert.match(error.message, /is accessible by group or others \(mode 0644\); run `chmod 600 /);
    return true;
  });
  chmodSync(file, 0o600);
  assert.equal(loadKeyring({ dbLocation: ':memory:', masterKeyFile: file, env: {} }).source, 'file');
});

test('a broken key file is named, and its contents never appear in the error', (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'ofgw.keys');
  const secret = randomBytes(32).toString('base64');
  const cases: [string, RegExp][] = [
    [`{"current": "k1", "keys": {"k1": "${secret}"`, /is not valid JSON/],
    [`["${secret}"]`, /expected \{ "current"/],
    [`{"current": "k2", "keys": {"k1": "${secret}"}}`, /the current key "k2" is not among its keys/],
    [`{"current": "k1", "keys": {"k1": "${secret.slice(0, 20)}"}}`, /key k1 in key file .* is not base64|decodes to/],
    [`{"current": "k:1", "keys": {"k:1": "${secret}"}}`, /key id "k:1" must be/],
  ];
  for (const [text, message] of cases) {
    writeFileSync(file, text, { mode: 0o600 });
    assert.throws(() => loadKeyring({ dbLocation: ':memory:', masterKeyFile: file, env: {} }), (error: unknown) => {
      assert.ok(error instanceof SecretsError, String(error));
      assert.match(error.message, message);
      assert.ok(error.message.includes(file), 'names the file');
      assert.ok(!error.message.includes(secret.slice(0, 12)), 'no key bytes');
      return true;
    });
  }
});

test('two processes creating the key file at once end up with one key', (t) => {
  const file = join(tempDir(t), 'ofgw.keys');
  assert.equal(createKeyFileIfMissing(file), true);
  const first = readFileSync(file, 'utf8');
  assert.equal(createKeyFileIfMissing(file), false);
  assert.equal(readFileSync(file, 'utf8'), first);
});

test('missing with createKeyFile false: KEY_FILE_MISSING names the file and the way out', (t) => {
  const dir = tempDir(t);
  assert.throws(() => loadKeyring({ dbLocation: join(dir, 'ofgw.db'), env: {}, createKeyFile: false }), (error: unknown) => {
    assert.ok(error instanceof SecretsError);
    assert.equal(error.code, 'KEY_FILE_MISSING');
    assert.match(error.message, /ofgw\.keys does not exist: restore it, or point OFGW_MASTER_KEY_FILE/);
    return true;
  });
});

test('a keyring picks up a key another process added before encrypting, and re-reads for unknown key ids', (t) => {
  const dir = tempDir(t);
  const db = join(dir, 'ofgw.db');
  const server = loadKeyring({ dbLocation: db, env: {} });
  const rotator = loadKeyring({ dbLocation: db, env: {} });
  const oldId = server.currentKeyId();
  const oldValue = server.encrypt('old', AAD);

  const newId = rotator.addKey(newKeyId(), randomBytes(32));
  assert.notEqual(newId, oldId);
  const newValue = rotator.encrypt('new', AAD);
  assert.ok(newValue.startsWith(`ofgw1:${newId}:`));

  // The server has not looked at the file since; decrypting a value under the new key re-reads it.
  assert.equal(server.decrypt(newValue, AAD), 'new');
  // And before encrypting, it checks the file, so it never writes under the retired key.
  const third = loadKeyring({ dbLocation: db, env: {} });
  const newer = rotator.addKey(newKeyId(), randomBytes(32));
  assert.ok(third.encrypt('x', AAD).startsWith(`ofgw1:${newer}:`));
  assert.ok(server.encrypt('x', AAD).startsWith(`ofgw1:${newer}:`));
  assert.equal(server.decrypt(oldValue, AAD), 'old');

  assert.deepEqual(rotator.removeKeys([oldId, newer]), [oldId], 'the current key is never removed');
  server.currentKeyId(); // picks up the change, as its next encryption would
  assert.throws(() => server.decrypt(oldValue, AAD), (error: unknown) => {
    assert.ok(error instanceof SecretsError);
    assert.equal(error.code, 'UNKNOWN_KEY');
    assert.match(error.message, new RegExp(`key ${oldId}, which .*ofgw\\.keys does not hold`));
    return true;
  });
  const file = JSON.parse(readFileSync(join(dir, 'ofgw.keys'), 'utf8')) as { current: string; keys: Record<string, string> };
  assert.equal(file.current, newer);
  assert.deepEqual(Object.keys(file.keys).sort(), [newId, newer].sort());
  if (posix) assert.equal(statSync(join(dir, 'ofgw.keys')).mode & 0o777, 0o600, 'rewrites keep mode 0600');
});
