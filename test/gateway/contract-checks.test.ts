/**
 * Contract §2–§3: the seven checks in order, each answered with the error frame and then
 * the close code with the code as reason, after a completed upgrade.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { expiredKey, startStack, tamperedKey, TestClient, type Stack } from '../helpers.js';

async function refusal(url: string, headers: Record<string, string> = {}): Promise<{ frame: Record<string, unknown>; code: number; reason: string }> {
  const client = new TestClient(url, { headers });
  const frame = (await client.next()).json();
  // A relay that opened would never close by itself: fail here rather than wait for ever.
  assert.notEqual(frame.connected, true, 'expected a refusal, got the confirmation');
  const { code, reason } = await client.closed;
  assert.equal(client.frames.length, 1, 'exactly one frame before the close');
  return { frame, code, reason };
}

function assertRefused(r: { frame: Record<string, unknown>; code: number; reason: string }, code: string, closeCode: number): void {
  assert.equal(r.frame.code, code);
  assert.equal(typeof r.frame.error, 'string');
  assert.ok((r.frame.error as string).length > 0);
  assert.equal(r.code, closeCode);
  assert.equal(r.reason, code);
}

describe('contract checks', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack();
  });
  after(async () => {
    await stack.close();
  });

  it('confirms with {"connected": true, "modelId"} as the first frame (key in the header)', async () => {
    const client = new TestClient(stack.relayUrl(), { headers: { 'X-API-Key': stack.apiKey } });
    const first = await client.next();
    assert.equal(first.isBinary, false);
    assert.deepEqual(first.json(), { connected: true, modelId: stack.modelId });
    client.socket.close(1000);
    await client.closed;
    // The key's use is recorded for operators.
    const used = await stack.store.getApiKey(stack.keyId);
    assert.ok(used?.lastUsedAt, 'lastUsedAt is set');
  });

  it('accepts the key in the api_key query parameter', async () => {
    const client = new TestClient(stack.relayUrl(stack.modelId, `?api_key=${encodeURIComponent(stack.apiKey)}`));
    assert.deepEqual(await client.confirmed(), { connected: true, modelId: stack.modelId });
    client.socket.close();
    await client.closed;
  });

  it('1. NO_API_KEY (4401) without a key', async () => {
    assertRefused(await refusal(stack.relayUrl()), 'NO_API_KEY', 4401);
  });

  it('1. NO_API_KEY for an empty api_key parameter', async () => {
    assertRefused(await refusal(stack.relayUrl(stack.modelId, '?api_key=')), 'NO_API_KEY', 4401);
  });

  it('2. INVALID_API_KEY (4401) for an unknown, malformed or revoked key', async () => {
    const wellFormedUnknown = (await stack.store.createApiKey(stack.orgId)).key;
    // A real key for a moment, then revoked: the checksum passes but the key is refused.
    const revoked = await stack.store.createApiKey(stack.orgId);
    await stack.store.revokeApiKey(revoked.id);
    for (const key of ['nope', tamperedKey(stack.apiKey), revoked.key]) {
      assertRefused(await refusal(stack.relayUrl(), { 'X-API-Key': key }), 'INVALID_API_KEY', 4401);
    }
    assert.ok(wellFormedUnknown);
  });

  it('2. INVALID_API_KEY for an expired key', async () => {
    const expired = await expiredKey(stack.store, stack.orgId);
    assertRefused(await refusal(stack.relayUrl(), { 'X-API-Key': expired.key }), 'INVALID_API_KEY', 4401);
  });

  it('the header wins over the query parameter', async () => {
    // Good header, bad query: admitted.
    const ok = new TestClient(stack.relayUrl(stack.modelId, '?api_key=bad'), { headers: { 'X-API-Key': stack.apiKey } });
    await ok.confirmed();
    ok.socket.close();
    await ok.closed;
    // Bad header, good query: refused.
    const r = await refusal(stack.relayUrl(stack.modelId, `?api_key=${stack.apiKey}`), { 'X-API-Key': 'ofgw_sk_bad' });
    assertRefused(r, 'INVALID_API_KEY', 4401);
  });

  it('3. NO_SUBSCRIPTION (4402) when the organization has none or it is canceled', async () => {
    const org = await stack.store.createOrganization({ name: 'No Sub Inc' });
    const key = await stack.store.createApiKey(org.id);
    const model = await stack.store.createModel(org.id, { wsUrl: stack.sim.wsUrl(), wsToken: stack.wsToken });
    assertRefused(await refusal(stack.relayUrl(model.id), { 'X-API-Key': key.key }), 'NO_SUBSCRIPTION', 4402);
    await stack.store.setSubscription(org.id, { status: 'canceled' });
    assertRefused(await refusal(stack.relayUrl(model.id), { 'X-API-Key': key.key }), 'NO_SUBSCRIPTION', 4402);
  });

  it('3 before 4: a bad model id still answers NO_SUBSCRIPTION first', async () => {
    const org = await stack.store.createOrganization({ name: 'Order Check' });
    const key = await stack.store.createApiKey(org.id);
    assertRefused(await refusal(stack.relayUrl('not-a-uuid'), { 'X-API-Key': key.key }), 'NO_SUBSCRIPTION', 4402);
  });

  it('4. MODEL_NOT_FOUND (4404) for a malformed, unknown or other organization\'s model', async () => {
    const other = await stack.store.createOrganization({ name: 'Other Org' });
    await stack.store.setSubscription(other.id, { status: 'active' });
    const othersModel = await stack.store.createModel(other.id, { wsUrl: stack.sim.wsUrl(), wsToken: stack.wsToken });
    for (const id of ['not-a-uuid', '00000000-0000-4000-8000-000000000000', othersModel.id, '%E0%A4%A']) {
      assertRefused(await refusal(stack.relayUrl(id), { 'X-API-Key': stack.apiKey }), 'MODEL_NOT_FOUND', 4404);
    }
  });

  it('5. MODEL_NOT_CONNECTED (4409) for a disconnected model', async () => {
    const model = await stack.store.createModel(stack.orgId, { wsUrl: stack.sim.wsUrl(), wsToken: stack.wsToken });
    await stack.store.setModelStatus(model.id, 'disconnected');
    assertRefused(await refusal(stack.relayUrl(model.id), { 'X-API-Key': stack.apiKey }), 'MODEL_NOT_CONNECTED', 4409);
  });

  it('6. NO_WS_CREDENTIALS (4412) for a token known to be expired, without contacting OnlyFans', async () => {
    const expired = stack.sim.issueToken({ userId: 7, ttlSeconds: -60 });
    const model = await stack.store.createModel(stack.orgId, { wsUrl: stack.sim.wsUrl(), wsToken: expired });
    const handshakesBefore = stack.sim.handshakes.length;
    const r = await refusal(stack.relayUrl(model.id), { 'X-API-Key': stack.apiKey });
    assertRefused(r, 'NO_WS_CREDENTIALS', 4412);
    assert.equal(stack.sim.handshakes.length, handshakesBefore, 'the simulator was not contacted');
    assert.ok(!(r.frame.error as string).includes(expired), 'the token is not echoed');
  });

  it('7. WS_CONNECT_ERROR (4502) when OnlyFans rejects the token, with a reason and no secret', async () => {
    stack.sim.setFault({ kind: 'reject-token', errorCode: 3 }, { userId: MODEL_USER_ID_FOR_FAULT });
    const token = stack.sim.issueToken({ userId: MODEL_USER_ID_FOR_FAULT });
    const model = await stack.store.createModel(stack.orgId, { wsUrl: stack.sim.wsUrl(), wsToken: token });
    const r = await refusal(stack.relayUrl(model.id), { 'X-API-Key': stack.apiKey });
    stack.sim.clearFaults();
    assertRefused(r, 'WS_CONNECT_ERROR', 4502);
    assert.match(r.frame.error as string, /rejected the model's token \(error 3\)/);
    assert.ok(!JSON.stringify(r.frame).includes(token));
  });
});

const MODEL_USER_ID_FOR_FAULT = 9001;
