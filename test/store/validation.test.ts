import assert from 'node:assert/strict';
import { StoreError } from '../../src/store/errors.js';
import type { NewModel } from '../../src/store/types.js';
import { storeTest } from './temp-store.js';

const good: NewModel = { wsUrl: 'wss://ws.example/ws', wsToken: 'tok' };

/** Each bad model field and the exact message it must produce. */
const modelCases: Array<[string, Record<string, unknown>, string]> = [
  ['empty name', { name: '   ' }, 'name must be 1–200 characters'],
  ['long name', { name: 'x'.repeat(201) }, 'name must be 1–200 characters'],
  ['name with a newline', { name: 'a\nb' }, 'name must not contain control characters'],
  ['http wsUrl', { wsUrl: 'https://ws.example/ws' }, 'wsUrl must be a ws:// or wss:// URL'],
  ['unparsable wsUrl', { wsUrl: 'not a url' }, 'wsUrl must be a ws:// or wss:// URL'],
  ['missing wsUrl', { wsUrl: undefined }, 'wsUrl is required'],
  ['empty wsToken', { wsToken: ' ' }, 'wsToken must not be empty'],
  ['wsToken with a space', { wsToken: 'ab cd' }, 'wsToken must not contain whitespace or control characters'],
  ['long wsToken', { wsToken: 'x'.repeat(8193) }, 'wsToken must be at most 8192 characters'],
  ['numeric wsToken', { wsToken: 42 }, 'wsToken must be a string'],
  ['non-ASCII userAgent', { userAgent: 'Mozilla/5.0 ☃' }, 'userAgent must contain only printable ASCII characters'],
  ['long userAgent', { userAgent: 'x'.repeat(1025) }, 'userAgent must be 1–1024 characters'],
  ['cookie with CRLF', { cookie: 'a=1\r\nX-Evil: 1' }, 'cookie must not contain line breaks or control characters'],
  ['long cookie', { cookie: 'x'.repeat(8193) }, 'cookie must be at most 8192 characters'],
  ['ftp proxyUrl', { proxyUrl: 'ftp://proxy:21' }, 'proxyUrl must be an http://, https://, socks5:// or socks5h:// URL with a host'],
  ['socks4 proxyUrl', { proxyUrl: 'socks4://proxy:1080' }, 'proxyUrl must be an http://, https://, socks5:// or socks5h:// URL with a host'],
  ['hostless proxyUrl', { proxyUrl: 'socks5://' }, 'proxyUrl must be an http://, https://, socks5:// or socks5h:// URL with a host'],
];

for (const [what, fields, message] of modelCases) {
  storeTest(`createModel rejects ${what}`, async (db) => {
    const store = await db.open();
    const org = await store.createOrganization({ name: 'Acme' });
    await assert.rejects(store.createModel(org.id, { ...good, ...fields } as NewModel), (error: unknown) => {
      assert.ok(error instanceof StoreError);
      assert.equal(error.code, 'INVALID_INPUT');
      assert.equal(error.message, message);
      return true;
    });
  });
}

storeTest('every accepted proxy scheme passes', async (db) => {
  const store = await db.open();
  const org = await store.createOrganization({ name: 'Acme' });
  for (const proxyUrl of ['http://p:3128', 'https://u:p@p', 'socks5://p:1080', 'socks5h://u:p@p:1080']) {
    assert.equal((await store.createModel(org.id, { ...good, proxyUrl })).orgId, org.id);
  }
});

storeTest('several bad fields are all named, in one message', async (db) => {
  const store = await db.open();
  const org = await store.createOrganization({ name: 'Acme' });
  await assert.rejects(store.createModel(org.id, { wsUrl: 'http://x', wsToken: '' }), {
    code: 'INVALID_INPUT',
    message: 'wsUrl must be a ws:// or wss:// URL; wsToken must not be empty',
  });
});

storeTest('updateModel applies the same rules and cannot clear the URL or token', async (db) => {
  const store = await db.open();
  const model = await store.createModel((await store.createOrganization({ name: 'Acme' })).id, good);
  await assert.rejects(store.updateModel(model.id, { wsUrl: 'http://x' }), { message: 'wsUrl must be a ws:// or wss:// URL' });
  await assert.rejects(store.updateModel(model.id, { wsToken: null } as never), { message: 'wsToken must be a string' });
});

storeTest('organization, subscription and key inputs name the bad field', async (db) => {
  const store = await db.open();
  await assert.rejects(store.createOrganization({ name: '' }), { code: 'INVALID_INPUT', message: 'name must be 1–200 characters' });
  await assert.rejects(store.createOrganization({ name: 'A', sandbox: 'yes' as never }), { message: 'sandbox must be a boolean' });
  const org = await store.createOrganization({ name: 'Acme' });
  await assert.rejects(store.setSubscription(org.id, { status: 'paid' as never }), {
    message: 'status must be one of active, canceled',
  });
  await assert.rejects(store.setSubscription(org.id, { status: 'active', plan: 'x'.repeat(101) }), {
    message: 'plan must be 1–100 characters',
  });
  await assert.rejects(store.createApiKey(org.id, { expiresAt: 'next week' }), {
    message: 'expiresAt must be an ISO 8601 date: YYYY-MM-DD, or a time with its offset such as YYYY-MM-DDTHH:MM:SSZ',
  });
  await assert.rejects(store.createApiKey(org.id, { expiresAt: '2027-02-30' }), { code: 'INVALID_INPUT' });
  await assert.rejects(store.createApiKey(org.id, { name: '' }), { message: 'name must be 1–200 characters' });
});

storeTest('no error message echoes a secret value', async (db) => {
  const store = await db.open();
  const org = await store.createOrganization({ name: 'Acme' });
  const key = await store.createApiKey(org.id);
  const secret = 'SECRETVALUE';
  const attempts: Array<() => Promise<unknown>> = [
    () => store.createModel(org.id, { ...good, wsToken: `${secret} ${secret}` }),
    () => store.createModel(org.id, { ...good, wsToken: secret.repeat(1000) }),
    () => store.createModel(org.id, { ...good, cookie: `s=${secret}\r\nX-Evil: ${secret}` }),
    () => store.createModel(org.id, { ...good, proxyUrl: `ftp://user:${secret}@host` }),
    () => store.createModel(org.id, { ...good, wsUrl: `https://ws.example/?token=${secret}` }),
    () => store.createModel(org.id, { ...good, userAgent: `${secret}\u0000${secret}` }),
    // An API key pasted where an id belongs.
    () => store.revokeApiKey(key.key),
    () => store.removeModel(key.key),
    () => store.setSubscription(key.key, { status: 'active' }),
  ];
  for (const attempt of attempts) {
    await assert.rejects(attempt(), (error: Error) => {
      assert.ok(error instanceof StoreError);
      assert.equal(error.message.includes(secret), false, error.message);
      assert.equal(error.message.includes(key.key), false, error.message);
      assert.equal(error.message.includes(key.key.slice(12, 24)), false, error.message);
      return true;
    });
  }
});

// Issue 13 item 10: the fields were in the message only, so the CLI could not name its flags.
storeTest('INVALID_INPUT carries each bad field and its rule apart from the message', async (db) => {
  const store = await db.open();
  const org = await store.createOrganization({ name: 'Acme' });
  const refused = await store.createModel(org.id, { ...good, wsUrl: 'http://x', proxyUrl: 'ftp://p' }).catch((error: unknown) => error);
  assert.ok(refused instanceof StoreError);
  assert.equal(refused.message, 'wsUrl must be a ws:// or wss:// URL; proxyUrl must be an http://, https://, socks5:// or socks5h:// URL with a host');
  assert.deepEqual(refused.issues, [
    { field: 'wsUrl', rule: 'must be a ws:// or wss:// URL' },
    { field: 'proxyUrl', rule: 'must be an http://, https://, socks5:// or socks5h:// URL with a host' },
  ]);
  await assert.rejects(store.createApiKey(org.id, { expiresAt: '2020-01-01' }), (error: StoreError) => {
    assert.deepEqual(error.issues, [{ field: 'expiresAt', rule: 'must be in the future' }]);
    return true;
  });
});
