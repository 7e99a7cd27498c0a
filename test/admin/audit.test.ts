/**
 * The operator trail through the management API (issue 13, points 16–18): who made each
 * change — a Bearer client (`api`), the CLI in remote mode (`cli-remote`, named by its
 * headers) or a dashboard session (`dashboard`) — listed by GET /events with filters; the
 * models' lifecycle listing moved to GET /model-events; organizations renamed and deleted;
 * keys rotated with a grace period; operator relay closes recorded.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createDashboardRoutes } from '../../src/dashboard/index.js';
import { createAdminRoutes } from '../../src/admin/index.js';
import { startStack, TestClient, type Stack } from '../helpers.js';
import { ADMIN_TOKEN, request, type Answer } from './admin-helpers.js';

interface Entry {
  seq: number;
  actorKind: string;
  actorDetail: string | null;
  action: string;
  orgId: string | null;
  orgName: string | null;
  targetId: string;
  targetName: string | null;
  details: Record<string, unknown> | null;
}

describe('management API: the operator audit trail', () => {
  let stack: Stack;
  let base: string;
  const bearer = { authorization: `Bearer ${ADMIN_TOKEN}` };
  const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = bearer): Promise<Answer> =>
    request(`${base}/admin/v1${path}`, method, body, headers);
  const events = async (query: string): Promise<Entry[]> => {
    const answer = await call('GET', `/events${query}`);
    assert.equal(answer.status, 200, answer.text);
    return answer.json<Entry[]>();
  };

  before(async () => {
    stack = await startStack({
      routes: (gw, logger) => [createAdminRoutes(gw, { adminToken: ADMIN_TOKEN, logger }), createDashboardRoutes({ adminToken: ADMIN_TOKEN, logger, trustForwardedFor: false })],
    });
    base = `http://127.0.0.1:${stack.gateway.address().port}`;
  });
  after(() => stack.close());

  it('a Bearer client is the api actor, with its IP', async () => {
    const org = (await call('POST', '/organizations', { name: 'Via API' })).json<{ id: string }>();
    const [entry] = await events(`?orgId=${org.id}`);
    assert.deepEqual([entry?.actorKind, entry?.actorDetail, entry?.action, entry?.targetName], ['api', '127.0.0.1', 'organization.created', 'Via API']);
  });

  it('the CLI in remote mode is cli-remote, with the user it reports', async () => {
    const headers = { ...bearer, 'x-ofgw-client': 'cli/9.9.9', 'x-ofgw-operator': 'alice@laptop' };
    const org = (await call('POST', '/organizations', { name: 'Via CLI' }, headers)).json<{ id: string }>();
    const [entry] = await events(`?orgId=${org.id}`);
    assert.equal(entry?.actorKind, 'cli-remote');
    assert.equal(entry?.actorDetail, 'alice@laptop (cli/9.9.9) from 127.0.0.1');
  });

  it('a dashboard session is the dashboard actor, with the session\'s short id (never the cookie)', async () => {
    const signIn = await request(`${base}/dashboard/api/session`, 'POST', { token: ADMIN_TOKEN });
    const cookie = (signIn.headers.get('set-cookie') ?? '').split(';', 1)[0] ?? '';
    const { csrfToken } = signIn.json<{ csrfToken: string }>();
    const org = (await call('POST', '/organizations', { name: 'Via dashboard' }, { cookie, 'x-csrf-token': csrfToken })).json<{ id: string }>();
    const [entry] = await events(`?orgId=${org.id}`);
    assert.equal(entry?.actorKind, 'dashboard');
    assert.match(entry?.actorDetail ?? '', /^session [0-9a-f]{12} from 127\.0\.0\.1$/);
    assert.ok(!JSON.stringify(entry).includes(cookie.split('=')[1] ?? 'x') && !JSON.stringify(entry).includes(csrfToken));
  });

  it('GET /events filters by organization, action or kind, actor and target, and pages with before', async () => {
    const org = (await call('POST', '/organizations', { name: 'Filtered' })).json<{ id: string }>();
    const key = (await call('POST', `/organizations/${org.id}/keys`, { name: 'k' })).json<{ id: string }>();
    await call('POST', `/keys/${key.id}/revoke`, {});
    assert.deepEqual((await events(`?orgId=${org.id}`)).map((e) => e.action), ['key.revoked', 'key.created', 'organization.created']);
    assert.deepEqual((await events(`?orgId=${org.id}&action=key`)).map((e) => e.action), ['key.revoked', 'key.created']);
    assert.deepEqual((await events(`?orgId=${org.id}&action=key.created`)).length, 1);
    assert.deepEqual((await events(`?targetId=${key.id}`)).map((e) => e.action), ['key.revoked', 'key.created']);
    assert.deepEqual(await events(`?orgId=${org.id}&actor=dashboard`), []);
    const [newest, second] = await events(`?orgId=${org.id}&limit=2`);
    assert.deepEqual((await events(`?orgId=${org.id}&before=${second?.seq ?? 0}`)).map((e) => e.action), ['organization.created']);
    assert.ok((newest?.seq ?? 0) > (second?.seq ?? 0));
    assert.deepEqual(await events(`?orgId=${org.id}&since=2999-01-01`), []);
    assert.equal((await events(`?orgId=${org.id}&until=2999-01-01`)).length, 3);
  });

  it('GET /events names the bad query parameter', async () => {
    for (const [query, names] of [
      ['?action=key.exploded', 'query parameter action must be one of'],
      ['?actor=robot', 'query parameter actor must be one of'],
      ['?limit=0', 'query parameter limit'],
      ['?since=yesterday', 'since'],
      ['?kind=key', 'query parameter kind is not a known field'],
    ] as const) {
      const answer = await call('GET', `/events${query}`);
      assert.equal(answer.status, 400, query);
      assert.equal(answer.json().code, 'INVALID_INPUT');
      assert.match(answer.json<{ error: string }>().error, new RegExp(names.replace('.', '\\.')), query);
    }
  });

  it('the models\' lifecycle listing moved to GET /model-events (and GET /models/{id}/events stays)', async () => {
    const model = (await call('POST', `/organizations/${stack.orgId}/models`, { name: 'Lifecycle', wsUrl: stack.sim.wsUrl(), wsToken: stack.wsToken })).json<{ id: string }>();
    await call('POST', `/models/${model.id}/disconnect`, {});
    const listed = (await call('GET', `/model-events?orgId=${stack.orgId}&limit=2`)).json<{ modelId: string; kind: string }[]>();
    assert.deepEqual(listed.map((e) => [e.modelId, e.kind]), [[model.id, 'disconnected'], [model.id, 'created']]);
    assert.equal((await call('GET', `/models/${model.id}/events`)).json<unknown[]>().length, 2);
    assert.deepEqual((await events(`?targetId=${model.id}`)).map((e) => e.action), ['model.disconnected', 'model.created']);
  });

  it('PATCH /organizations/{id} renames (old and new name in the trail); DELETE takes everything with it', async () => {
    const org = (await call('POST', '/organizations', { name: 'Old name' })).json<{ id: string }>();
    await call('PUT', `/organizations/${org.id}/subscription`, { status: 'active' });
    await call('POST', `/organizations/${org.id}/keys`, {});
    await call('POST', `/organizations/${org.id}/models`, { wsUrl: stack.sim.wsUrl(), wsToken: stack.wsToken });
    const renamed = await call('PATCH', `/organizations/${org.id}`, { name: 'New name' });
    assert.equal(renamed.status, 200);
    assert.equal(renamed.json().name, 'New name');
    assert.deepEqual((await events(`?orgId=${org.id}&action=organization.renamed`))[0]?.details, { from: 'Old name', to: 'New name' });
    const bad = await call('PATCH', `/organizations/${org.id}`, { name: '' });
    assert.equal(bad.status, 400);
    assert.match(bad.json<{ error: string }>().error, /name/);

    const deleted = await call('DELETE', `/organizations/${org.id}`);
    assert.equal(deleted.status, 200);
    assert.deepEqual(deleted.json(), { id: org.id, name: 'New name', deleted: true, keys: 1, models: 1, subscription: 'active' });
    assert.equal((await call('GET', `/organizations/${org.id}`)).status, 404);
    assert.equal((await call('DELETE', `/organizations/${org.id}`)).status, 404);
    const trail = await events(`?orgId=${org.id}`);
    assert.equal(trail[0]?.action, 'organization.deleted');
    assert.equal(trail[0]?.targetName, 'New name', 'the name outlives the organization');
  });

  it('POST /keys/{id}/rotate takes graceSeconds, bounded, and says when the old key ends', async () => {
    const key = (await call('POST', `/organizations/${stack.orgId}/keys`, { name: 'to rotate' })).json<{ id: string; key: string }>();
    const before = Date.now();
    const rotated = await call('POST', `/keys/${key.id}/rotate`, { graceSeconds: 3600 });
    assert.equal(rotated.status, 201, rotated.text);
    const body = rotated.json<{ id: string; replaces: string; graceEndsAt: string }>();
    assert.equal(body.replaces, key.id);
    assert.ok(Math.abs(Date.parse(body.graceEndsAt) - (before + 3600_000)) < 5000);
    const old = (await call('GET', `/organizations/${stack.orgId}/keys`)).json<{ id: string; expiresAt: string; replacedBy: string; revokedAt: null }[]>().find((k) => k.id === key.id);
    assert.deepEqual([old?.expiresAt, old?.replacedBy, old?.revokedAt], [body.graceEndsAt, body.id, null]);
    assert.equal((await call('POST', `/keys/${key.id}/rotate`, {})).status, 409, 'already rotated');
    const other = (await call('POST', `/organizations/${stack.orgId}/keys`, {})).json<{ id: string }>();
    for (const graceSeconds of [-1, 2_592_001, 1.5, '60']) {
      const answer = await call('POST', `/keys/${other.id}/rotate`, { graceSeconds });
      assert.equal(answer.status, 400, String(graceSeconds));
      assert.match(answer.json<{ error: string }>().error, /body field graceSeconds/);
    }
    const [entry] = await events(`?targetId=${key.id}&action=key.rotated`);
    assert.deepEqual(entry?.details, { newKeyId: body.id, newKeyPrefix: rotated.json().prefix, graceSeconds: 3600, graceEndsAt: body.graceEndsAt });
  });

  it('DELETE /relays/{id} is recorded with the relay\'s organization, model and key', async () => {
    const client = new TestClient(stack.relayUrl(), { headers: { 'X-API-Key': stack.apiKey } });
    await client.confirmed();
    const [relay] = (await call('GET', `/relays?orgId=${stack.orgId}`)).json<{ id: string; node: string }[]>();
    assert.equal((await call('DELETE', `/relays/${relay?.id ?? ''}`)).status, 202);
    await client.closed;
    const [entry] = await events(`?targetId=${relay?.id ?? ''}`);
    assert.equal(entry?.action, 'relay.closed');
    assert.equal(entry?.orgName, 'Acme Agency');
    assert.equal(entry?.targetName, 'Model A');
    assert.deepEqual(entry?.details, { modelId: stack.modelId, keyId: stack.keyId, key: `test (${stack.apiKey.slice(0, 12)}…)`, node: relay?.node });
    assert.ok(!JSON.stringify(entry).includes(stack.apiKey));
    // A relay no node holds is not closed, and nothing is recorded.
    assert.equal((await call('DELETE', `/relays/${relay?.id ?? ''}`)).status, 404);
    assert.equal((await events(`?targetId=${relay?.id ?? ''}`)).length, 1);
  });
});
