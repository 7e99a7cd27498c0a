/**
 * Issue 4 item 6: the management API's auth, resources and error answers, against a real
 * gateway on a socket.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { expiredKey, TestClient } from '../helpers.js';
import { ADMIN_TOKEN, request, startAdminStack, type AdminStack, type Answer } from './admin-helpers.js';

function assertError(answer: Answer, status: number, code: string, mentions?: string): void {
  assert.equal(answer.status, status, answer.text);
  const body = answer.json();
  assert.equal(body.code, code);
  assert.equal(typeof body.error, 'string');
  if (mentions) assert.match(body.error as string, new RegExp(mentions), `"${body.error as string}" should name ${mentions}`);
}

describe('management API', () => {
  let stack: AdminStack;
  before(async () => {
    stack = await startAdminStack();
  });
  after(async () => {
    await stack.close();
  });

  describe('auth', () => {
    it('401 UNAUTHORIZED without a token, with a wrong one, with another scheme', async () => {
      assertError(await stack.admin('GET', '/organizations', undefined, { token: null }), 401, 'UNAUTHORIZED');
      assertError(await stack.admin('GET', '/organizations', undefined, { token: 'x'.repeat(40) }), 401, 'UNAUTHORIZED');
      assertError(await stack.admin('GET', '/organizations', undefined, { token: `${ADMIN_TOKEN}x` }), 401, 'UNAUTHORIZED');
      const basic = await request(`${stack.httpUrl}/admin/v1/organizations`, 'GET', undefined, { authorization: `Basic ${ADMIN_TOKEN}` });
      assertError(basic, 401, 'UNAUTHORIZED');
      // Unknown paths do not reveal themselves before auth either.
      assertError(await stack.admin('GET', '/nope', undefined, { token: null }), 401, 'UNAUTHORIZED');
    });

    it('the right token is accepted', async () => {
      const answer = await stack.admin('GET', '/organizations');
      assert.equal(answer.status, 200);
      assert.ok(Array.isArray(answer.json()));
    });

    it('disabled (empty adminToken): every /admin/v1 path answers 404 ADMIN_DISABLED', async () => {
      const disabled = await startAdminStack({ adminToken: '' });
      try {
        for (const path of ['', '/', '/organizations', '/openapi.json', '/nope']) {
          assertError(await disabled.admin('GET', path), 404, 'ADMIN_DISABLED');
        }
        assertError(await disabled.admin('POST', '/organizations', { name: 'x' }), 404, 'ADMIN_DISABLED');
      } finally {
        await disabled.close();
      }
    });

    it('paths outside /admin/v1 are left to the gateway', async () => {
      const answer = await request(`${stack.httpUrl}/admin/v10/organizations`, 'GET');
      assertError(answer, 404, 'NOT_FOUND');
      assert.equal(answer.json().error, 'No such endpoint');
    });
  });

  describe('organizations and subscriptions', () => {
    it('create, list, show; subscription put and get', async () => {
      const created = await stack.admin('POST', '/organizations', { name: 'Acme' });
      assert.equal(created.status, 201);
      const org = created.json<{ id: string; name: string }>();
      assert.equal(org.name, 'Acme');
      const list = (await stack.admin('GET', '/organizations')).json<{ id: string }[]>();
      assert.ok(list.some((o) => o.id === org.id));
      assert.deepEqual((await stack.admin('GET', `/organizations/${org.id}`)).json(), created.json());

      const none = await stack.admin('GET', `/organizations/${org.id}/subscription`);
      assert.deepEqual(none.json(), { orgId: org.id, status: 'none', plan: null });
      const put = await stack.admin('PUT', `/organizations/${org.id}/subscription`, { status: 'active', plan: 'pro' });
      assert.equal(put.status, 200);
      assert.equal(put.json().status, 'active');
      const got = (await stack.admin('GET', `/organizations/${org.id}/subscription`)).json();
      assert.equal(got.plan, 'pro');
      assert.equal(got.status, 'active');
    });

    it('bad input names the field; unknown fields are refused', async () => {
      assertError(await stack.admin('POST', '/organizations', {}), 400, 'INVALID_INPUT', 'body field name is required');
      assertError(await stack.admin('POST', '/organizations', { name: 'x', color: 'red' }), 400, 'INVALID_INPUT', 'body field color is not a known field');
      assertError(await stack.admin('POST', '/organizations', { name: 42 }), 400, 'INVALID_INPUT', 'body field name must be a string');
      assertError(await stack.admin('POST', '/organizations', { name: '   ' }), 400, 'INVALID_INPUT', 'name');
      assertError(await stack.admin('POST', '/organizations', '{"name":'), 400, 'INVALID_INPUT', 'not valid JSON');
      const org = (await stack.admin('POST', '/organizations', { name: 'Sub test' })).json<{ id: string }>();
      assertError(await stack.admin('PUT', `/organizations/${org.id}/subscription`, { status: 'paused' }), 400, 'INVALID_INPUT', 'body field status');
    });

    it('unknown ids: 404 NOT_FOUND', async () => {
      const unknown = '00000000-0000-4000-8000-000000000000';
      assertError(await stack.admin('GET', `/organizations/${unknown}`), 404, 'NOT_FOUND', unknown);
      assertError(await stack.admin('GET', '/organizations/not-a-uuid'), 404, 'NOT_FOUND');
      assertError(await stack.admin('GET', `/organizations/${unknown}/subscription`), 404, 'NOT_FOUND');
      assertError(await stack.admin('PUT', `/organizations/${unknown}/subscription`, { status: 'active' }), 404, 'NOT_FOUND');
      assertError(await stack.admin('GET', `/organizations/${unknown}/keys`), 404, 'NOT_FOUND');
      assertError(await stack.admin('POST', `/organizations/${unknown}/keys`, {}), 404, 'NOT_FOUND');
      assertError(await stack.admin('GET', `/organizations/${unknown}/models`), 404, 'NOT_FOUND');
      assertError(await stack.admin('GET', `/models/${unknown}`), 404, 'NOT_FOUND');
      assertError(await stack.admin('GET', `/models/${unknown}/events`), 404, 'NOT_FOUND');
      assertError(await stack.admin('POST', `/keys/${unknown}/revoke`), 404, 'NOT_FOUND');
      assertError(await stack.admin('POST', `/keys/${unknown}/rotate`), 404, 'NOT_FOUND');
      assertError(await stack.admin('DELETE', `/relays/${unknown}`), 404, 'NOT_FOUND');
      assertError(await stack.admin('GET', '/no/such/endpoint'), 404, 'NOT_FOUND');
    });

    it('405 with Allow, 413 over 64 KiB, 415 for a non-JSON body', async () => {
      const wrong = await stack.admin('DELETE', '/organizations');
      assertError(wrong, 405, 'METHOD_NOT_ALLOWED');
      assert.equal(wrong.headers.get('allow'), 'POST, GET');
      assertError(await stack.admin('POST', '/organizations', { name: 'x'.repeat(70 * 1024) }), 413, 'BODY_TOO_LARGE');
      const form = await stack.admin('POST', '/organizations', 'name=x', { headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      assertError(form, 415, 'UNSUPPORTED_MEDIA_TYPE', 'application/json');
      // Chunked, with no declared length: refused once it passes the bound.
      const chunked = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = httpRequest(`${stack.httpUrl}/admin/v1/organizations`, {
          method: 'POST',
          headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
        });
        req.on('response', (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => {
            req.destroy();
            resolve({ status: res.statusCode ?? 0, body });
          });
        });
        req.on('error', reject);
        req.write('{"name":"');
        for (let i = 0; i < 10; i++) req.write('x'.repeat(8 * 1024));
      });
      assert.equal(chunked.status, 413);
      assert.equal(JSON.parse(chunked.body).code, 'BODY_TOO_LARGE');
      // The server still answers after refusing a large body.
      assert.equal((await stack.admin('GET', '/organizations')).status, 200);
    });
  });

  it('an unexpected failure: 500 INTERNAL without details, logged by kind only', async () => {
    // Routes use the store as the caller (store.as): make the caller's view fail.
    const original = stack.store.as.bind(stack.store);
    stack.store.as = (actor) => {
      const view = original(actor);
      view.listOrganizations = () => Promise.reject(new Error('db exploded near secret-detail'));
      return view;
    };
    try {
      const answer = await stack.admin('GET', '/organizations');
      assertError(answer, 500, 'INTERNAL');
      assert.ok(!answer.text.includes('secret-detail'));
    } finally {
      stack.store.as = original;
    }
    const failed = stack.logs.records().find((r) => r.msg === 'admin request failed');
    assert.ok(failed);
    assert.ok(!JSON.stringify(failed).includes('secret-detail'));
  });

  describe('API keys', () => {
    let orgId: string;
    let modelId: string;
    before(async () => {
      orgId = (await stack.admin('POST', '/organizations', { name: 'Keys Inc' })).json<{ id: string }>().id;
      await stack.admin('PUT', `/organizations/${orgId}/subscription`, { status: 'active' });
      const model = await stack.admin('POST', `/organizations/${orgId}/models`, { wsUrl: stack.sim.wsUrl(), wsToken: stack.wsToken });
      modelId = model.json<{ id: string }>().id;
    });

    it('create shows the key once, and it opens a relay', async () => {
      const created = await stack.admin('POST', `/organizations/${orgId}/keys`, { name: 'ci' });
      assert.equal(created.status, 201);
      const key = created.json<{ id: string; key: string; prefix: string; name: string }>();
      assert.match(key.key, /^ofgw_/);
      assert.ok(key.key.startsWith(key.prefix));
      assert.equal(key.name, 'ci');
      const listed = (await stack.admin('GET', `/organizations/${orgId}/keys`)).json<Record<string, unknown>[]>();
      const row = listed.find((k) => k.id === key.id);
      assert.ok(row);
      assert.equal(row.key, undefined);
      assert.ok(!JSON.stringify(listed).includes(key.key));
      const client = new TestClient(`${stack.wsUrl}/api/models/${modelId}/ws`, { headers: { 'X-API-Key': key.key } });
      await client.confirmed();
      client.socket.close();
      await client.closed;
    });

    it('revoke is idempotent; rotate refuses a revoked key (409)', async () => {
      const key = (await stack.admin('POST', `/organizations/${orgId}/keys`, {})).json<{ id: string }>();
      const first = await stack.admin('POST', `/keys/${key.id}/revoke`);
      assert.equal(first.status, 200);
      const revokedAt = first.json().revokedAt;
      assert.equal(typeof revokedAt, 'string');
      assert.equal((await stack.admin('POST', `/keys/${key.id}/revoke`, {})).json().revokedAt, revokedAt);
      assertError(await stack.admin('POST', `/keys/${key.id}/rotate`), 409, 'CONFLICT', 'already revoked');
      assertError(await stack.admin('POST', `/keys/${key.id}/revoke`, { force: true }), 400, 'INVALID_INPUT', 'body field force is not a known field');
    });

    it('rotate refuses an expired key (409), as a revoked one: its replacement would be born expired', async () => {
      const expired = await expiredKey(stack.store, orgId);
      assertError(await stack.admin('POST', `/keys/${expired.id}/rotate`), 409, 'CONFLICT', `API key ${expired.id} expired at ${expired.expiresAt}: create a new key instead`);
      assert.equal((await stack.admin('GET', `/organizations/${orgId}/keys`)).json<{ id: string; revokedAt: string | null }[]>().find((k) => k.id === expired.id)?.revokedAt, null, 'left as it was');
    });

    it('bad expiresAt names the field', async () => {
      assertError(await stack.admin('POST', `/organizations/${orgId}/keys`, { expiresAt: 'tomorrow' }), 400, 'INVALID_INPUT', 'expiresAt');
    });

    it('an expiry in the past is refused, naming expiresAt (a key could be created already expired)', async () => {
      const before = (await stack.admin('GET', `/organizations/${orgId}/keys`)).json<unknown[]>().length;
      assertError(await stack.admin('POST', `/organizations/${orgId}/keys`, { expiresAt: '2020-01-01' }), 400, 'INVALID_INPUT', 'expiresAt must be in the future');
      assert.equal((await stack.admin('GET', `/organizations/${orgId}/keys`)).json<unknown[]>().length, before, 'no key was created');
    });
  });

  describe('models', () => {
    let orgId: string;
    const cookie = 'sess=cookie-secret-value-123';
    const proxyPassword = 'proxy-pass-secret-456';
    before(async () => {
      orgId = (await stack.admin('POST', '/organizations', { name: 'Models LLC' })).json<{ id: string }>().id;
    });

    it('add, list, show, patch, disconnect, connect, events, delete — no secret in any answer', async () => {
      const answers: Answer[] = [];
      const call = async (method: string, path: string, body?: unknown): Promise<Answer> => {
        const a = await stack.admin(method, path, body);
        answers.push(a);
        return a;
      };
      const created = await call('POST', `/organizations/${orgId}/models`, {
        name: 'Model B',
        wsUrl: stack.sim.wsUrl(),
        wsToken: stack.wsToken,
        userAgent: 'UA/1',
        cookie,
        proxyUrl: `http://user:${proxyPassword}@127.0.0.1:3128`,
      });
      assert.equal(created.status, 201, created.text);
      const model = created.json<Record<string, unknown> & { id: string }>();
      assert.equal(model.status, 'connected');
      assert.equal(model.hasWsToken, true);
      assert.equal(model.hasCookie, true);
      assert.equal(model.proxyUrl, 'http://user:***@127.0.0.1:3128');
      assert.equal(model.lastError, null);

      assert.ok((await call('GET', `/organizations/${orgId}/models`)).json<{ id: string }[]>().some((m) => m.id === model.id));
      assert.ok((await call('GET', `/models?orgId=${orgId}`)).json<{ id: string }[]>().some((m) => m.id === model.id));
      assert.equal((await call('GET', `/models/${model.id}`)).json().name, 'Model B');

      const patched = await call('PATCH', `/models/${model.id}`, { name: 'Renamed', cookie: null });
      assert.equal(patched.status, 200);
      assert.equal(patched.json().name, 'Renamed');
      assert.equal(patched.json().hasCookie, false);

      assert.equal((await call('POST', `/models/${model.id}/disconnect`)).json().status, 'disconnected');
      const connected = await call('POST', `/models/${model.id}/connect`, { wsToken: stack.wsToken, cookie });
      assert.equal(connected.json().status, 'connected');

      const events = (await call('GET', `/models/${model.id}/events?limit=2`)).json<{ kind: string }[]>();
      assert.equal(events.length, 2);
      assert.equal(events[0]?.kind, 'connected');

      assert.equal((await call('DELETE', `/models/${model.id}`)).status, 204);
      assertError(await call('GET', `/models/${model.id}`), 404, 'NOT_FOUND');
      // The audit trail outlives the model.
      const trail = (await call('GET', `/models/${model.id}/events`)).json<{ kind: string }[]>();
      assert.equal(trail[0]?.kind, 'removed');

      for (const a of answers) {
        for (const secret of [stack.wsToken, cookie, proxyPassword, ADMIN_TOKEN]) assert.ok(!a.text.includes(secret), `answer leaks a secret: ${a.text}`);
      }
      const logText = stack.logs.lines.join('\n');
      for (const secret of [stack.wsToken, cookie, proxyPassword, ADMIN_TOKEN]) assert.ok(!logText.includes(secret), 'a log line leaks a secret');
    });

    it('bad input names the field', async () => {
      assertError(await stack.admin('POST', `/organizations/${orgId}/models`, { wsUrl: 'http://x' , wsToken: 't' }), 400, 'INVALID_INPUT', 'wsUrl');
      assertError(await stack.admin('POST', `/organizations/${orgId}/models`, { wsUrl: stack.sim.wsUrl() }), 400, 'INVALID_INPUT', 'body field wsToken is required');
      assertError(await stack.admin('POST', `/organizations/${orgId}/models`, { wsUrl: stack.sim.wsUrl(), wsToken: 't', password: 'x' }), 400, 'INVALID_INPUT', 'body field password is not a known field');
      const model = (await stack.admin('POST', `/organizations/${orgId}/models`, { wsUrl: stack.sim.wsUrl(), wsToken: stack.wsToken })).json<{ id: string }>();
      assertError(await stack.admin('PATCH', `/models/${model.id}`, {}), 400, 'INVALID_INPUT', 'nothing to change');
      assertError(await stack.admin('PATCH', `/models/${model.id}`, { proxyUrl: 'ftp://x' }), 400, 'INVALID_INPUT', 'proxyUrl');
      assertError(await stack.admin('GET', `/models/${model.id}/events?limit=0`), 400, 'INVALID_INPUT', 'query parameter limit must be at least 1');
      assertError(await stack.admin('GET', `/models/${model.id}/events?since=1`), 400, 'INVALID_INPUT', 'query parameter since is not a known field');
      assertError(await stack.admin('DELETE', `/models/00000000-0000-4000-8000-000000000000`), 404, 'NOT_FOUND');
    });

    it('delivery: relay by default, session on add, switched by PATCH, recorded in the lifecycle and operator trails', async () => {
      const plain = (await stack.admin('POST', `/organizations/${orgId}/models`, { wsUrl: stack.sim.wsUrl(), wsToken: stack.wsToken })).json();
      assert.equal(plain.delivery, 'relay');
      const created = await stack.admin('POST', `/organizations/${orgId}/models`, { name: 'Shared', wsUrl: stack.sim.wsUrl(), wsToken: stack.wsToken, delivery: 'session' });
      assert.equal(created.status, 201, created.text);
      const model = created.json<{ id: string; delivery: string }>();
      assert.equal(model.delivery, 'session');
      assert.equal((await stack.admin('GET', `/models/${model.id}`)).json().delivery, 'session');
      const listed = (await stack.admin('GET', `/organizations/${orgId}/models`)).json<{ id: string; delivery: string }[]>();
      assert.equal(listed.find((m) => m.id === model.id)?.delivery, 'session');
      assert.equal(listed.find((m) => m.id === plain.id)?.delivery, 'relay');
      assert.equal((await stack.admin('GET', '/models')).json<{ id: string; delivery: string }[]>().find((m) => m.id === model.id)?.delivery, 'session');

      const seq = await stack.store.latestChangeSeq();
      const same = await stack.admin('PATCH', `/models/${model.id}`, { delivery: 'session' });
      assert.equal(same.status, 200);
      assert.equal(await stack.store.latestChangeSeq(), seq, 'the same mode again writes nothing');
      const patched = await stack.admin('PATCH', `/models/${model.id}`, { delivery: 'relay' });
      assert.equal(patched.status, 200, patched.text);
      assert.equal(patched.json().delivery, 'relay');
      assert.equal((await stack.store.getModel(model.id))?.delivery, 'relay');

      const [event] = (await stack.admin('GET', `/models/${model.id}/events?limit=1`)).json<{ kind: string; reason: string }[]>();
      assert.deepEqual([event?.kind, event?.reason], ['delivery_changed', 'session → relay']);
      const [audit] = (await stack.admin('GET', `/events?targetId=${model.id}&action=model.updated`)).json<{ actorKind: string; details: unknown }[]>();
      assert.equal(audit?.actorKind, 'api');
      assert.deepEqual(audit?.details, { fields: ['delivery'], previousDelivery: 'session', delivery: 'relay' });
    });

    it('a bad delivery names the body field and the values, and changes nothing', async () => {
      const model = (await stack.admin('POST', `/organizations/${orgId}/models`, { wsUrl: stack.sim.wsUrl(), wsToken: stack.wsToken })).json<{ id: string }>();
      const count = (await stack.admin('GET', `/organizations/${orgId}/models`)).json<unknown[]>().length;
      const add = await stack.admin('POST', `/organizations/${orgId}/models`, { wsUrl: stack.sim.wsUrl(), wsToken: stack.wsToken, delivery: 'webhook' });
      assert.equal(add.status, 400);
      assert.deepEqual(add.json(), { error: 'body field delivery must be one of relay, session', code: 'INVALID_INPUT', issues: [{ field: 'delivery', rule: 'must be one of relay, session' }] });
      assert.equal((await stack.admin('GET', `/organizations/${orgId}/models`)).json<unknown[]>().length, count, 'no model was added');
      assertError(await stack.admin('PATCH', `/models/${model.id}`, { delivery: 'SESSION' }), 400, 'INVALID_INPUT', '^body field delivery must be one of relay, session$');
      assertError(await stack.admin('PATCH', `/models/${model.id}`, { delivery: null }), 400, 'INVALID_INPUT', '^body field delivery must be one of relay, session$');
      assert.equal((await stack.store.getModel(model.id))?.delivery, 'relay');
    });

    it('names query parameters and body fields as sent, with the rule, also as issues (it said "expected number, received NaN")', async () => {
      const model = (await stack.admin('POST', `/organizations/${orgId}/models`, { wsUrl: stack.sim.wsUrl(), wsToken: stack.wsToken })).json<{ id: string }>();
      const notNumber = await stack.admin('GET', `/models/${model.id}/events?limit=abc`);
      assert.equal(notNumber.status, 400);
      assert.deepEqual(notNumber.json(), { error: 'query parameter limit must be a number', code: 'INVALID_INPUT', issues: [{ field: 'limit', rule: 'must be a number' }] });
      assertError(await stack.admin('GET', `/models/${model.id}/events?limit=1.5`), 400, 'INVALID_INPUT', '^query parameter limit must be a whole number$');
      const body = await stack.admin('POST', `/organizations/${orgId}/models`, { wsUrl: 'http://x', wsToken: 7, extra: true });
      assert.deepEqual(body.json().issues, [
        { field: 'wsToken', rule: 'must be a string' },
        { field: 'extra', rule: 'is not a known field' },
      ]);
      assert.equal(body.json().error, 'body field wsToken must be a string; body field extra is not a known field');
      // The store's own rules arrive the same way.
      const store = await stack.admin('POST', `/organizations/${orgId}/keys`, { expiresAt: '2020-01-01' });
      assert.deepEqual(store.json(), { error: 'expiresAt must be in the future', code: 'INVALID_INPUT', issues: [{ field: 'expiresAt', rule: 'must be in the future' }] });
    });
  });
});
