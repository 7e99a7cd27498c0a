/**
 * Issue item 6: a key revoked, a model disconnected or removed, a subscription ended, or a
 * key expiring closes the live relays it admitted, within 1 second, with the contract's
 * code — when the change is made by another process on the same store file. Issue 13: a
 * rotated key's relays last until its grace ends; a deleted organization's close (4401).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { openStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/types.js';
import { openRelay, startStack, TestClient, waitFor, type Stack } from '../helpers.js';

describe('changes reach live relays', () => {
  let stack: Stack;
  /** A second store on the same file: what `ofgw key revoke` from a shell does. */
  let other: Store;
  before(async () => {
    // The default poll interval, so the 1 s promise is tested as shipped.
    stack = await startStack({ config: { changePollIntervalMs: undefined } });
    other = await openStore(stack.dbPath);
  });
  after(async () => {
    await other.close();
    await stack.close();
  });

  async function expectClosedWithin(client: TestClient, code: string, closeCode: number, since: number): Promise<void> {
    const frame = (await client.next(2000)).json();
    const closed = await client.closed;
    const elapsed = Date.now() - since;
    assert.equal(frame.code, code);
    assert.equal(closed.code, closeCode);
    assert.equal(closed.reason, code);
    assert.ok(elapsed < 1000, `closed after ${elapsed} ms`);
  }

  it('a revoked key: INVALID_API_KEY, 4401; other keys\' relays stay open', async () => {
    const key = await stack.store.createApiKey(stack.orgId);
    const doomed = new TestClient(stack.relayUrl(), { headers: { 'X-API-Key': key.key } });
    await doomed.confirmed();
    const bystander = await openRelay(stack);
    const since = Date.now();
    await other.revokeApiKey(key.id);
    await expectClosedWithin(doomed, 'INVALID_API_KEY', 4401, since);
    // A new connection with the revoked key is refused at once.
    const again = new TestClient(stack.relayUrl(), { headers: { 'X-API-Key': key.key } });
    assert.equal((await again.next()).json().code, 'INVALID_API_KEY');
    // The other key's relay still relays.
    bystander.socket.send('{"act":"get_onlines","ids":[]}');
    assert.deepEqual((await bystander.next()).json(), { online: [] });
    bystander.socket.close();
    await bystander.closed;
  });

  it('a disconnected model: MODEL_NOT_CONNECTED, 4409', async () => {
    const model = await stack.store.createModel(stack.orgId, { wsUrl: stack.sim.wsUrl(), wsToken: stack.wsToken });
    const client = new TestClient(stack.relayUrl(model.id), { headers: { 'X-API-Key': stack.apiKey } });
    await client.confirmed();
    const since = Date.now();
    await other.setModelStatus(model.id, 'disconnected');
    await expectClosedWithin(client, 'MODEL_NOT_CONNECTED', 4409, since);
  });

  it('a removed model: MODEL_NOT_FOUND, 4404', async () => {
    const model = await stack.store.createModel(stack.orgId, { wsUrl: stack.sim.wsUrl(), wsToken: stack.wsToken });
    const client = new TestClient(stack.relayUrl(model.id), { headers: { 'X-API-Key': stack.apiKey } });
    await client.confirmed();
    const since = Date.now();
    await other.removeModel(model.id);
    await expectClosedWithin(client, 'MODEL_NOT_FOUND', 4404, since);
  });

  it('an ended subscription: NO_SUBSCRIPTION, 4402', async () => {
    const org = await stack.store.createOrganization({ name: 'Ending Soon' });
    await stack.store.setSubscription(org.id, { status: 'active' });
    const key = await stack.store.createApiKey(org.id);
    const model = await stack.store.createModel(org.id, { wsUrl: stack.sim.wsUrl(), wsToken: stack.wsToken });
    const client = new TestClient(stack.relayUrl(model.id), { headers: { 'X-API-Key': key.key } });
    await client.confirmed();
    const since = Date.now();
    await other.setSubscription(org.id, { status: 'canceled' });
    await expectClosedWithin(client, 'NO_SUBSCRIPTION', 4402, since);
  });

  it('a key that expires while connected: INVALID_API_KEY, 4401', async () => {
    const expiresAt = new Date(Date.now() + 600);
    const key = await stack.store.createApiKey(stack.orgId, { expiresAt: expiresAt.toISOString() });
    const client = new TestClient(stack.relayUrl(), { headers: { 'X-API-Key': key.key } });
    await client.confirmed();
    await expectClosedWithin(client, 'INVALID_API_KEY', 4401, expiresAt.getTime());
  });

  it("a key rotated with a grace period by another process: its relay stays open during the grace and closes at its end (4401)", async () => {
    const key = await stack.store.createApiKey(stack.orgId, { name: 'rotating' });
    const client = new TestClient(stack.relayUrl(), { headers: { 'X-API-Key': key.key } });
    await client.confirmed();
    const rotated = await other.rotateApiKey(key.id, { graceSeconds: 2 });
    const endsAt = Date.parse(rotated.graceEndsAt);
    // The watcher has read the rotation, and the relay still relays.
    const seq = await other.latestChangeSeq();
    await waitFor(() => stack.gateway.appliedChangeSeq >= seq, 5000, 'the watcher to apply the rotation');
    client.socket.send('{"act":"get_onlines","ids":[]}');
    assert.deepEqual((await client.next()).json(), { online: [] });
    // During the grace the old key still admits new relays.
    const during = new TestClient(stack.relayUrl(), { headers: { 'X-API-Key': key.key } });
    await during.confirmed();
    const frame = (await client.next(5000)).json();
    const closedAt = Date.now();
    assert.equal(frame.code, 'INVALID_API_KEY');
    assert.deepEqual(await client.closed, { code: 4401, reason: 'INVALID_API_KEY' });
    assert.ok(closedAt >= endsAt && closedAt < endsAt + 1000, `closed ${closedAt - endsAt} ms after the grace ended`);
    assert.equal((await during.next(2000)).json().code, 'INVALID_API_KEY');
    // After it, the old key is refused and the new one works.
    const after = new TestClient(stack.relayUrl(), { headers: { 'X-API-Key': key.key } });
    assert.equal((await after.next()).json().code, 'INVALID_API_KEY');
    const fresh = new TestClient(stack.relayUrl(), { headers: { 'X-API-Key': rotated.key } });
    await fresh.confirmed();
    fresh.socket.close();
    await fresh.closed;
  });

  it('an organization deleted by another process: its relays close with INVALID_API_KEY (4401), as a new connection with its key would be', async () => {
    const org = await stack.store.createOrganization({ name: 'Leaving' });
    await stack.store.setSubscription(org.id, { status: 'active' });
    const key = await stack.store.createApiKey(org.id);
    const model = await stack.store.createModel(org.id, { wsUrl: stack.sim.wsUrl(), wsToken: stack.wsToken });
    const client = new TestClient(stack.relayUrl(model.id), { headers: { 'X-API-Key': key.key } });
    await client.confirmed();
    const bystander = await openRelay(stack);
    const since = Date.now();
    await other.deleteOrganization(org.id);
    await expectClosedWithin(client, 'INVALID_API_KEY', 4401, since);
    const again = new TestClient(stack.relayUrl(model.id), { headers: { 'X-API-Key': key.key } });
    assert.equal((await again.next()).json().code, 'INVALID_API_KEY');
    bystander.socket.send('{"act":"get_onlines","ids":[]}');
    assert.deepEqual((await bystander.next()).json(), { online: [] });
    bystander.socket.close();
    await bystander.closed;
  });

  it('unrelated changes leave relays alone', async () => {
    const client = await openRelay(stack);
    const spare = await other.createApiKey(stack.orgId);
    await other.revokeApiKey(spare.id);
    await other.setSubscription(stack.orgId, { status: 'active', plan: 'bigger' });
    await other.updateModel(stack.modelId, { name: 'Renamed' });
    await other.renameOrganization(stack.orgId, 'Renamed Agency');
    // The relay answers after the watcher has certainly seen those changes.
    const seq = await other.latestChangeSeq();
    await waitFor(() => stack.gateway.appliedChangeSeq >= seq, 5000, 'the watcher to apply the changes');
    client.socket.send('{"act":"get_onlines"}');
    assert.deepEqual((await client.next()).json(), { online: [] });
    client.socket.close();
    await client.closed;
  });
});
