/**
 * Issue 15 point 1: webhook endpoints and their delivery log through the management API, on a
 * real gateway, with a real receiver on 127.0.0.1 (webhookAllowPrivateTargets on) and the
 * target policy checked at registration on a gateway where it is off.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { WebhookAttempt, WebhookDelivery, WebhookEndpoint } from '../../src/store/webhook-types.js';
import { waitFor } from '../helpers.js';
import { startReceiver, verified, type Receiver } from '../webhooks/receiver.js';
import { startAdminStack, type AdminStack, type Answer } from './admin-helpers.js';

type Endpoint = WebhookEndpoint & { secret?: string };
type Delivery = WebhookDelivery & { attemptLog?: WebhookAttempt[] };

function assertInvalid(answer: Answer, field: string, mentions: RegExp): void {
  assert.equal(answer.status, 400, answer.text);
  const body = answer.json<{ code: string; error: string; issues: { field: string; rule: string }[] }>();
  assert.equal(body.code, 'INVALID_INPUT');
  assert.deepEqual(body.issues.map((i) => i.field), [field], answer.text);
  assert.match(body.error, new RegExp(`^${field} `), 'the message names the field');
  assert.match(body.error, mentions);
}

/** Polls an async condition, at most `rounds` × 10 ms. */
async function eventually(condition: () => Promise<boolean>, what: string, rounds = 500): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    if (await condition()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail(`timed out waiting for ${what}`);
}

describe('webhooks through the management API', () => {
  let stack: AdminStack;
  let receiver: Receiver;
  let orgId: string;
  before(async () => {
    receiver = await startReceiver();
    stack = await startAdminStack({ config: { webhookAllowPrivateTargets: true, webhookRetrySchedule: [100, 200], webhookSecretOverlapMs: 60_000 } });
    orgId = (await stack.admin('POST', '/organizations', { name: 'Hooks' })).json<{ id: string }>().id;
  });
  after(async () => {
    await stack.close();
    await receiver.close();
  });

  const create = async (body: Record<string, unknown>): Promise<Endpoint> => {
    const answer = await stack.admin('POST', `/organizations/${orgId}/webhooks`, body);
    assert.equal(answer.status, 201, answer.text);
    return answer.json<Endpoint>();
  };

  it('create answers the secret once; listings and show never carry it, nor do the logs', async () => {
    const created = await create({ url: receiver.url, events: ['onlyfans.*', 'model.connected'] });
    assert.match(created.secret ?? '', /^whsec_[A-Za-z0-9+/]+={0,2}$/);
    assert.deepEqual(created.events, ['onlyfans.*', 'model.connected']);
    assert.equal(created.models, null);
    assert.equal(created.enabled, true);
    const { secret: _shown, ...withoutSecret } = created;
    assert.deepEqual((await stack.admin('GET', `/webhooks/${created.id}`)).json(), withoutSecret);
    const listed = (await stack.admin('GET', `/organizations/${orgId}/webhooks`)).json<Endpoint[]>();
    assert.deepEqual(listed.find((e) => e.id === created.id), withoutSecret);
    assert.ok((await stack.admin('GET', `/webhooks?orgId=${orgId}`)).json<Endpoint[]>().some((e) => e.id === created.id));
    assert.ok((await stack.admin('GET', '/webhooks')).json<Endpoint[]>().some((e) => e.id === created.id));
    for (const e of listed) assert.ok(!('secret' in e));
    assert.ok(!stack.logs.lines.some((l) => l.includes(created.secret ?? '?')), 'the secret is never logged');
  });

  it("refuses what the store refuses, naming the body field, and an unknown organization", async () => {
    assertInvalid(await stack.admin('POST', `/organizations/${orgId}/webhooks`, { url: 'not a url' }), 'url', /https/);
    assertInvalid(await stack.admin('POST', `/organizations/${orgId}/webhooks`, { url: receiver.url, events: ['Bad Type!'] }), 'events.0', /event types/);
    assertInvalid(await stack.admin('POST', `/organizations/${orgId}/webhooks`, { url: receiver.url, models: ['nope'] }), 'models.0', /UUID/);
    const unknown = await stack.admin('POST', '/organizations/00000000-0000-4000-8000-000000000000/webhooks', { url: receiver.url });
    assert.equal(unknown.status, 404, unknown.text);
    assert.equal((await stack.admin('GET', '/organizations/00000000-0000-4000-8000-000000000000/webhooks')).status, 404);
  });

  it('update changes filters and URL; disabling records why, enabling clears it; remove takes the log too', async () => {
    const endpoint = await create({ url: receiver.url });
    const models = ['5B0F3C1E-2D4A-4C8E-9F10-7A6B5C4D3E2F'];
    const patched = (await stack.admin('PATCH', `/webhooks/${endpoint.id}`, { events: ['session.*'], models })).json<Endpoint>();
    assert.deepEqual([patched.events, patched.models], [['session.*'], [models[0]?.toLowerCase()]]);
    const disabled = (await stack.admin('PATCH', `/webhooks/${endpoint.id}`, { enabled: false })).json<Endpoint>();
    assert.deepEqual([disabled.enabled, disabled.disabledReason], [false, 'disabled by an operator']);
    const enabled = (await stack.admin('PATCH', `/webhooks/${endpoint.id}`, { enabled: true, events: null, url: `${receiver.url}/2` })).json<Endpoint>();
    assert.deepEqual([enabled.enabled, enabled.disabledReason, enabled.events, enabled.url], [true, null, null, `${receiver.url}/2`]);
    const nothing = await stack.admin('PATCH', `/webhooks/${endpoint.id}`, {});
    assert.equal(nothing.status, 400);
    assert.match(nothing.json<{ error: string }>().error, /nothing to change/);
    const test = (await stack.admin('POST', `/webhooks/${endpoint.id}/test`)).json<Delivery>();
    assert.equal((await stack.admin('DELETE', `/webhooks/${endpoint.id}`)).status, 204);
    assert.equal((await stack.admin('GET', `/webhooks/${endpoint.id}`)).status, 404);
    assert.equal((await stack.admin('GET', `/deliveries/${test.id}`)).status, 404, 'its deliveries went with it');
    assert.equal((await stack.admin('DELETE', `/webhooks/${endpoint.id}`)).status, 404);
    assert.equal((await stack.admin('PATCH', `/webhooks/${endpoint.id}`, { enabled: true })).status, 404);
  });

  it('test queues a webhook.test delivery the receiver gets signed; the log shows it with its attempts; redeliver resends the same id', async () => {
    const endpoint = await create({ url: receiver.url, events: ['model.connected'] });
    const before = receiver.requests.length;
    const queued = await stack.admin('POST', `/webhooks/${endpoint.id}/test`);
    assert.equal(queued.status, 202, queued.text);
    const test = queued.json<Delivery>();
    assert.deepEqual([test.type, test.status, test.endpointId], ['webhook.test', 'pending', endpoint.id]);
    await waitFor(() => receiver.requests.length > before, 5000, 'the test delivery');
    const got = receiver.requests[before]!;
    assert.equal(got.headers['webhook-id'], test.id);
    const body = verified(endpoint.secret ?? '', got) as { type: string; data: { endpointId: string } };
    assert.deepEqual([body.type, body.data.endpointId], ['webhook.test', endpoint.id]);

    await eventually(async () => (await stack.admin('GET', `/deliveries/${test.id}`)).json<Delivery>().status === 'delivered', 'delivered');
    const shown = (await stack.admin('GET', `/deliveries/${test.id}`)).json<Delivery>();
    assert.deepEqual([shown.attempts, shown.lastStatusCode, shown.attemptLog?.map((a) => a.statusCode)], [1, 200, [200]]);
    assert.ok((shown.attemptLog?.[0]?.latencyMs ?? -1) >= 0);

    const redelivered = await stack.admin('POST', `/deliveries/${test.id}/redeliver`);
    assert.equal(redelivered.status, 200, redelivered.text);
    assert.equal(redelivered.json<Delivery>().status, 'pending');
    await waitFor(() => receiver.requests.filter((r) => r.headers['webhook-id'] === test.id).length === 2, 5000, 'the redelivery');
    await eventually(async () => (await stack.admin('GET', `/deliveries/${test.id}`)).json<Delivery>().status === 'delivered', 'delivered again');
  });

  it('the delivery log filters by status and pages newest first', async () => {
    const endpoint = await create({ url: receiver.url });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await stack.admin('POST', `/webhooks/${endpoint.id}/test`)).json<Delivery>().id);
    const log = (query: string): Promise<Delivery[]> => stack.admin('GET', `/webhooks/${endpoint.id}/deliveries${query}`).then((a) => a.json<Delivery[]>());
    await eventually(async () => (await log('?status=delivered')).length === 3, 'three delivered');
    assert.deepEqual(await log('?status=failed'), []);
    assert.deepEqual(await log('?status=pending'), []);
    const all = await log('');
    assert.deepEqual(new Set(all.map((d) => d.id)), new Set(ids));
    const first = await log('?limit=2');
    assert.equal(first.length, 2);
    const rest = await log(`?limit=2&before=${first[1]?.id ?? ''}`);
    assert.deepEqual([...first, ...rest].map((d) => d.id), all.map((d) => d.id), 'pages follow each other');
    const bad = await stack.admin('GET', `/webhooks/${endpoint.id}/deliveries?status=lost`);
    assert.equal(bad.status, 400);
    assert.match(bad.json<{ error: string }>().error, /status/);
    assert.equal((await stack.admin('GET', '/webhooks/00000000-0000-4000-8000-000000000000/deliveries')).status, 404);
  });

  it('rotate-secret answers a new secret once; during the overlap both secrets sign', async () => {
    const endpoint = await create({ url: receiver.url });
    const rotated = await stack.admin('POST', `/webhooks/${endpoint.id}/rotate-secret`);
    assert.equal(rotated.status, 200, rotated.text);
    const fresh = rotated.json<Endpoint>();
    assert.match(fresh.secret ?? '', /^whsec_/);
    assert.notEqual(fresh.secret, endpoint.secret);
    const until = Date.parse(fresh.previousSecretUntil ?? '');
    assert.ok(until > Date.now() + 50_000 && until <= Date.now() + 60_000, 'the overlap is webhookSecretOverlapMs');
    assert.ok(!('secret' in (await stack.admin('GET', `/webhooks/${endpoint.id}`)).json()));
    const test = (await stack.admin('POST', `/webhooks/${endpoint.id}/test`)).json<Delivery>();
    await waitFor(() => receiver.requests.some((r) => r.headers['webhook-id'] === test.id), 5000, 'the test delivery');
    const got = receiver.requests.find((r) => r.headers['webhook-id'] === test.id)!;
    verified(fresh.secret ?? '', got);
    verified(endpoint.secret ?? '', got);
    assert.equal(String(got.headers['webhook-signature']).split(' ').length, 2);
  });

  it('unknown or malformed endpoint and delivery ids answer 404', async () => {
    for (const [method, path] of [
      ['GET', '/webhooks/00000000-0000-4000-8000-000000000000'],
      ['GET', '/webhooks/nope'],
      ['POST', '/webhooks/nope/rotate-secret'],
      ['POST', '/webhooks/00000000-0000-4000-8000-000000000000/test'],
      ['GET', '/deliveries/msg_nope'],
      ['POST', '/deliveries/msg_nope/redeliver'],
    ] as const) {
      const answer = await stack.admin(method, path, method === 'POST' ? {} : undefined);
      assert.equal(answer.status, 404, `${method} ${path}: ${answer.text}`);
      assert.equal(answer.json().code, 'NOT_FOUND');
    }
  });
});

describe('webhook URLs without webhookAllowPrivateTargets', () => {
  let stack: AdminStack;
  let orgId: string;
  before(async () => {
    stack = await startAdminStack();
    orgId = (await stack.admin('POST', '/organizations', { name: 'Strict' })).json<{ id: string }>().id;
  });
  after(async () => {
    await stack.close();
  });

  it('refuses plain http, localhost and literal private, loopback or link-local addresses, naming url', async () => {
    const post = (url: string): Promise<Answer> => stack.admin('POST', `/organizations/${orgId}/webhooks`, { url });
    assertInvalid(await post('http://hooks.example.com/in'), 'url', /https.*webhookAllowPrivateTargets/);
    // A trailing dot is still the loopback name.
    for (const url of ['https://localhost/in', 'https://api.localhost:8443/in', 'https://LOCALHOST./in']) assertInvalid(await post(url), 'url', /localhost.*webhookAllowPrivateTargets/);
    for (const url of ['https://127.0.0.1/in', 'https://10.1.2.3/in', 'https://192.168.0.10/in', 'https://169.254.169.254/latest', 'https://[::1]/in', 'https://[fd00::1]/in', 'https://[::ffff:127.0.0.1]/in', 'https://0.0.0.0/in']) {
      assertInvalid(await post(url), 'url', /loopback, private, link-local or reserved.*webhookAllowPrivateTargets/);
    }
    assert.equal((await stack.admin('GET', `/organizations/${orgId}/webhooks`)).json<unknown[]>().length, 0, 'none was created');
    const ok = await post('https://hooks.example.com/in');
    assert.equal(ok.status, 201, ok.text);
    const id = ok.json<{ id: string }>().id;
    assertInvalid(await stack.admin('PATCH', `/webhooks/${id}`, { url: 'https://172.16.0.1/in' }), 'url', /private/);
    assert.equal((await stack.admin('GET', `/webhooks/${id}`)).json<{ url: string }>().url, 'https://hooks.example.com/in');
  });
});
