/**
 * Changes made through the management API reach live relays (issue 4 item 6): revoke,
 * rotate, disconnect and deleting the organization close them within a second with the
 * contract's codes (a rotation's grace keeps them open); the relay
 * list shows them with counters; DELETE /relays/{id} closes one as the operator.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TestClient, waitFor } from '../helpers.js';
import { startAdminStack, type AdminStack } from './admin-helpers.js';

describe('management API and live relays', () => {
  let stack: AdminStack;
  let orgId: string;
  let modelId: string;
  before(async () => {
    stack = await startAdminStack();
    orgId = (await stack.admin('POST', '/organizations', { name: 'Live' })).json<{ id: string }>().id;
    await stack.admin('PUT', `/organizations/${orgId}/subscription`, { status: 'active' });
    modelId = (await stack.admin('POST', `/organizations/${orgId}/models`, { wsUrl: stack.sim.wsUrl(), wsToken: stack.wsToken })).json<{ id: string }>().id;
  });
  after(async () => {
    await stack.close();
  });

  async function newKey(): Promise<{ id: string; key: string }> {
    return (await stack.admin('POST', `/organizations/${orgId}/keys`, { name: 'live' })).json<{ id: string; key: string }>();
  }

  async function relay(key: string, model = modelId): Promise<TestClient> {
    const client = new TestClient(`${stack.wsUrl}/api/models/${model}/ws`, { headers: { 'X-API-Key': key } });
    await client.confirmed();
    return client;
  }

  async function expectClosed(client: TestClient, code: string, closeCode: number, since: number): Promise<void> {
    const frame = (await client.next(2000)).json();
    const closed = await client.closed;
    assert.equal(frame.code, code);
    assert.equal(closed.code, closeCode);
    const elapsed = Date.now() - since;
    assert.ok(elapsed < 1000, `closed after ${elapsed} ms`);
  }

  it('revoke closes the key\'s live relay with INVALID_API_KEY (4401) within 1 s', async () => {
    const key = await newKey();
    const client = await relay(key.key);
    const since = Date.now();
    assert.equal((await stack.admin('POST', `/keys/${key.id}/revoke`)).status, 200);
    await expectClosed(client, 'INVALID_API_KEY', 4401, since);
  });

  it('rotate: the old key\'s relay closes (4401), the new key connects', async () => {
    const key = await newKey();
    const client = await relay(key.key);
    const since = Date.now();
    const rotated = await stack.admin('POST', `/keys/${key.id}/rotate`);
    assert.equal(rotated.status, 201);
    const fresh = rotated.json<{ id: string; key: string; name: string; orgId: string; replaces: string }>();
    assert.notEqual(fresh.id, key.id);
    assert.equal(fresh.name, 'live');
    assert.equal(fresh.orgId, orgId);
    assert.equal(fresh.replaces, key.id);
    await expectClosed(client, 'INVALID_API_KEY', 4401, since);
    const next = await relay(fresh.key);
    next.socket.close();
    await next.closed;
    const old = (await stack.admin('GET', `/organizations/${orgId}/keys`)).json<{ id: string; revokedAt: string | null }[]>().find((k) => k.id === key.id);
    assert.equal(typeof old?.revokedAt, 'string');
  });

  it('rotate with graceSeconds: the old key\'s relay stays open, the old key still connects', async () => {
    const key = await newKey();
    const client = await relay(key.key);
    const rotated = await stack.admin('POST', `/keys/${key.id}/rotate`, { graceSeconds: 3600 });
    assert.equal(rotated.status, 201);
    const seq = await stack.store.latestChangeSeq();
    await waitFor(() => stack.gateway.appliedChangeSeq >= seq, 5000, 'the watcher to apply the rotation');
    client.socket.send('{"act":"get_onlines","ids":[]}');
    assert.deepEqual((await client.next()).json(), { online: [] });
    const during = await relay(key.key);
    // Revoking the old key ends the grace at once.
    const since = Date.now();
    assert.equal((await stack.admin('POST', `/keys/${key.id}/revoke`)).status, 200);
    await expectClosed(client, 'INVALID_API_KEY', 4401, since);
    await expectClosed(during, 'INVALID_API_KEY', 4401, since);
  });

  it('deleting the organization closes its relays with INVALID_API_KEY (4401) within 1 s', async () => {
    const org = (await stack.admin('POST', '/organizations', { name: 'Doomed' })).json<{ id: string }>();
    await stack.admin('PUT', `/organizations/${org.id}/subscription`, { status: 'active' });
    const model = (await stack.admin('POST', `/organizations/${org.id}/models`, { wsUrl: stack.sim.wsUrl(), wsToken: stack.wsToken })).json<{ id: string }>();
    const key = (await stack.admin('POST', `/organizations/${org.id}/keys`, {})).json<{ key: string }>();
    const clients = [await relay(key.key, model.id), await relay(key.key, model.id)];
    const since = Date.now();
    assert.equal((await stack.admin('DELETE', `/organizations/${org.id}`)).status, 200);
    for (const client of clients) await expectClosed(client, 'INVALID_API_KEY', 4401, since);
  });

  it('disconnecting the model closes its relay with MODEL_NOT_CONNECTED (4409) within 1 s', async () => {
    const model = (await stack.admin('POST', `/organizations/${orgId}/models`, { wsUrl: stack.sim.wsUrl(), wsToken: stack.wsToken })).json<{ id: string }>();
    const key = await newKey();
    const client = await relay(key.key, model.id);
    const since = Date.now();
    assert.equal((await stack.admin('POST', `/models/${model.id}/disconnect`)).status, 200);
    await expectClosed(client, 'MODEL_NOT_CONNECTED', 4409, since);
  });

  it('the relay list shows a live relay with its counters; DELETE closes it with 1000 "closed by operator"', async () => {
    const key = await newKey();
    const client = await relay(key.key);
    client.socket.send('{"act":"get_onlines","ids":[]}');
    await client.next();
    // Counters are bumped as frames pass; the reply has been relayed by now.
    const listed = (await stack.admin('GET', `/relays?modelId=${modelId}`)).json<Record<string, unknown>[]>();
    const mine = listed.find((r) => r.keyId === key.id);
    assert.ok(mine, JSON.stringify(listed));
    assert.equal(mine.orgId, orgId);
    assert.equal(mine.modelId, modelId);
    assert.equal(mine.state, 'open');
    assert.ok(!Number.isNaN(Date.parse(mine.since as string)));
    assert.equal(mine.messagesToUpstream, 1);
    assert.ok((mine.bytesToUpstream as number) > 0);
    assert.ok((mine.messagesToClient as number) >= 1);
    assert.ok((mine.bytesToClient as number) > 0);
    assert.ok(!JSON.stringify(listed).includes(key.key));

    // Filters: another organization sees nothing of it.
    const other = (await stack.admin('POST', '/organizations', { name: 'Other' })).json<{ id: string }>();
    assert.deepEqual((await stack.admin('GET', `/relays?orgId=${other.id}`)).json(), []);
    assert.ok((await stack.admin('GET', `/relays?orgId=${orgId}`)).json<{ id: string }[]>().some((r) => r.id === mine.id));
    assert.equal((await stack.admin('GET', '/relays?state=open')).status, 400);

    const deleted = await stack.admin('DELETE', `/relays/${mine.id as string}`);
    assert.equal(deleted.status, 202);
    const closed = await client.closed;
    assert.deepEqual(closed, { code: 1000, reason: 'closed by operator' });
    await waitFor(() => ![...stack.gateway.registry.all].some((p) => p.id === mine.id), 2000, 'the relay to finish');
    assert.equal((await stack.admin('DELETE', `/relays/${mine.id as string}`)).status, 404);
  });
});
