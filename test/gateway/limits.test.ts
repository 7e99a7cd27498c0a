/**
 * Limits (issue 4, item 5): each one crossed gives the contract's code (RATE_LIMITED with
 * retryAfterMs, or CONNECTION_LIMIT), and each recovers — by refill or by a slot freed.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openRelay, startStack, TestClient, waitFor, type Stack } from '../helpers.js';

async function firstFrame(url: string, headers: Record<string, string> = {}): Promise<{ frame: Record<string, unknown>; client: TestClient }> {
  const client = new TestClient(url, { headers });
  return { frame: (await client.next()).json(), client };
}

async function refused(stack: Stack, headers: Record<string, string>, modelId = stack.modelId): Promise<{ frame: Record<string, unknown>; code: number }> {
  const { frame, client } = await firstFrame(stack.relayUrl(modelId), headers);
  const { code } = await client.closed;
  return { frame, code };
}

/** Retries until a relay opens (the limit recovered), bounded by count and time. */
async function eventuallyConfirmed(stack: Stack, headers: Record<string, string>, modelId = stack.modelId): Promise<TestClient> {
  let opened: TestClient | undefined;
  const deadline = Date.now() + 5000;
  for (let i = 0; i < 200 && !opened && Date.now() < deadline; i++) {
    const { frame, client } = await firstFrame(stack.relayUrl(modelId), headers);
    if (frame.connected === true) opened = client;
    else {
      await client.closed;
      await new Promise((r) => setTimeout(r, Math.min(Number(frame.retryAfterMs ?? 50), 500)));
    }
  }
  assert.ok(opened, 'the limit recovered');
  return opened;
}

function assertRateLimited(r: { frame: Record<string, unknown>; code: number }, text: RegExp): void {
  assert.equal(r.frame.code, 'RATE_LIMITED');
  assert.match(r.frame.error as string, text);
  assert.equal(typeof r.frame.retryAfterMs, 'number');
  assert.ok((r.frame.retryAfterMs as number) > 0);
  assert.equal(r.code, 4429);
}

describe('limits', () => {
  it('connection attempts per IP', async () => {
    const stack = await startStack({ config: { ipConnectBurst: 3, ipConnectPerSecond: 5 } });
    try {
      const key = { 'X-API-Key': stack.apiKey };
      const open: TestClient[] = [];
      for (let i = 0; i < 3; i++) open.push(await openRelay(stack));
      assertRateLimited(await refused(stack, key), /connection attempts from this address/);
      open.push(await eventuallyConfirmed(stack, key));
      for (const c of open) c.socket.close();
    } finally {
      await stack.close();
    }
  });

  it('failed authentications per IP lock out even a good key, then recover', async () => {
    const stack = await startStack({ config: { ipAuthFailureBurst: 2, ipAuthFailurePerMinute: 600 } });
    try {
      assert.equal((await refused(stack, {})).frame.code, 'NO_API_KEY');
      assert.equal((await refused(stack, { 'X-API-Key': 'ofgw_sk_wrong' })).frame.code, 'INVALID_API_KEY');
      assertRateLimited(await refused(stack, { 'X-API-Key': stack.apiKey }), /failed authentications/);
      const ok = await eventuallyConfirmed(stack, { 'X-API-Key': stack.apiKey });
      ok.socket.close();
    } finally {
      await stack.close();
    }
  });

  it('connection attempts per API key, with a plan override', async () => {
    const stack = await startStack({ config: { keyConnectBurst: 2, keyConnectPerSecond: 5, plans: { pro: { keyConnectBurst: 4 } } } });
    try {
      // The stack's organization is on plan "pro": 4 attempts, then RATE_LIMITED.
      const open: TestClient[] = [];
      for (let i = 0; i < 4; i++) open.push(await openRelay(stack));
      assertRateLimited(await refused(stack, { 'X-API-Key': stack.apiKey }), /with this API key/);
      // Another key of the same organization has its own budget.
      const other = await stack.store.createApiKey(stack.orgId);
      const { frame, client } = await firstFrame(stack.relayUrl(), { 'X-API-Key': other.key });
      assert.equal(frame.connected, true);
      open.push(client, await eventuallyConfirmed(stack, { 'X-API-Key': stack.apiKey }));
      for (const c of open) c.socket.close();
    } finally {
      await stack.close();
    }
  });

  it('concurrent relays per organization (CONNECTION_LIMIT), per plan; a closed relay frees its slot', async () => {
    const stack = await startStack({ config: { maxRelaysPerOrg: 1, plans: { pro: { maxRelaysPerOrg: 2 } } } });
    try {
      const a = await openRelay(stack);
      const b = await openRelay(stack);
      const over = await refused(stack, { 'X-API-Key': stack.apiKey });
      assert.equal(over.frame.code, 'CONNECTION_LIMIT');
      assert.match(over.frame.error as string, /allows 2 concurrent relays/);
      assert.equal(over.code, 4429);
      // Another organization on the default plan gets 1.
      const org = await stack.store.createOrganization({ name: 'Small' });
      await stack.store.setSubscription(org.id, { status: 'active', plan: 'starter' });
      const key = await stack.store.createApiKey(org.id);
      const model = await stack.store.createModel(org.id, { wsUrl: stack.sim.wsUrl(), wsToken: stack.wsToken });
      const mine = await firstFrame(stack.relayUrl(model.id), { 'X-API-Key': key.key });
      assert.equal(mine.frame.connected, true);
      assert.equal((await refused(stack, { 'X-API-Key': key.key }, model.id)).frame.code, 'CONNECTION_LIMIT');
      a.socket.close();
      await a.closed;
      const c = await eventuallyConfirmed(stack, { 'X-API-Key': stack.apiKey });
      for (const s of [b, c, mine.client]) s.socket.close();
    } finally {
      await stack.close();
    }
  });

  it('concurrent OnlyFans sockets per model (CONNECTION_LIMIT)', async () => {
    const stack = await startStack({ config: { maxUpstreamSocketsPerModel: 1 } });
    try {
      const a = await openRelay(stack);
      const over = await refused(stack, { 'X-API-Key': stack.apiKey });
      assert.equal(over.frame.code, 'CONNECTION_LIMIT');
      assert.match(over.frame.error as string, /already has 1 OnlyFans sockets open/);
      const other = await stack.store.createModel(stack.orgId, { wsUrl: stack.sim.wsUrl(), wsToken: stack.wsToken });
      const b = await firstFrame(stack.relayUrl(other.id), { 'X-API-Key': stack.apiKey });
      assert.equal(b.frame.connected, true);
      a.socket.close();
      await a.closed;
      const again = await eventuallyConfirmed(stack, { 'X-API-Key': stack.apiKey });
      for (const s of [again, b.client]) s.socket.close();
    } finally {
      await stack.close();
    }
  });

  it('client→upstream messages per second per relay', async () => {
    const stack = await startStack({ config: { messagesPerSecond: 5, messageBurst: 5 }, simulator: { invalidCommandCloseMs: false } });
    try {
      const client = await openRelay(stack);
      for (let i = 0; i < 10; i++) client.socket.send('{"act":"typing","typing_to":1}');
      const frame = (await client.next()).json();
      assert.equal(frame.code, 'RATE_LIMITED');
      assert.match(frame.error as string, /More than 5 messages per second/);
      assert.equal(typeof frame.retryAfterMs, 'number');
      assert.equal((await client.closed).code, 4429);
      await waitFor(() => stack.sim.received.length >= 5, 2000, 'the allowed messages');
      assert.equal(stack.sim.received.length, 5, 'exactly the burst reached OnlyFans');
      // A new relay starts with a full budget.
      const again = await openRelay(stack);
      again.socket.send('{"act":"get_onlines","ids":[]}');
      assert.deepEqual((await again.next()).json(), { online: [] });
      again.socket.close();
    } finally {
      await stack.close();
    }
  });

  it('per-IP limits use X-Forwarded-For only when told to trust it', async () => {
    const stack = await startStack({ config: { ipConnectBurst: 1, ipConnectPerSecond: 0.1, trustForwardedFor: true } });
    try {
      const a = await firstFrame(stack.relayUrl(), { 'X-API-Key': stack.apiKey, 'X-Forwarded-For': 'spoofed, 198.51.100.1' });
      assert.equal(a.frame.connected, true);
      const b = await firstFrame(stack.relayUrl(), { 'X-API-Key': stack.apiKey, 'X-Forwarded-For': '198.51.100.2' });
      assert.equal(b.frame.connected, true, 'another address has its own budget');
      assert.equal((await refused(stack, { 'X-API-Key': stack.apiKey, 'X-Forwarded-For': 'other, 198.51.100.1' })).frame.code, 'RATE_LIMITED');
      for (const c of [a.client, b.client]) c.socket.close();
    } finally {
      await stack.close();
    }
  });
});
