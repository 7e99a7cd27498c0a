/**
 * Header fidelity (issue 3, item 5): what reaches OnlyFans is the model's User-Agent,
 * `Origin: https://onlyfans.com` and the model's cookie — and nothing of the customer's
 * request: not its API key (header or query), cookies, authorization or origin.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_USER_AGENT } from '../../src/upstream/connector.js';
import { startStack, TestClient, type Stack } from '../helpers.js';

describe('upstream headers', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack();
  });
  after(async () => {
    await stack.close();
  });

  async function handshakeFor(model: { wsUrl?: string; userAgent?: string; cookie?: string }, clientHeaders: Record<string, string>, query = '') {
    const created = await stack.store.createModel(stack.orgId, { wsUrl: model.wsUrl ?? stack.sim.wsUrl(7), wsToken: stack.wsToken, userAgent: model.userAgent ?? null, cookie: model.cookie ?? null });
    const before = stack.sim.handshakes.length;
    const client = new TestClient(stack.relayUrl(created.id, query), { headers: clientHeaders });
    await client.confirmed();
    client.socket.close();
    await client.closed;
    const handshakes = stack.sim.handshakes.slice(before);
    assert.equal(handshakes.length, 1, 'one upstream handshake per relay');
    return handshakes[0]!;
  }

  it('sends the model\'s User-Agent, the OnlyFans Origin and the model\'s cookie', async () => {
    const h = await handshakeFor({ userAgent: 'Mozilla/5.0 (ModelBrowser)', cookie: 'auth_id=1; sess=abc' }, { 'X-API-Key': stack.apiKey });
    assert.equal(h.path, '/ws3/7');
    assert.equal(h.headers['user-agent'], 'Mozilla/5.0 (ModelBrowser)');
    assert.equal(h.headers.origin, 'https://onlyfans.com');
    assert.equal(h.headers.cookie, 'auth_id=1; sess=abc');
    assert.equal(h.headers['sec-websocket-extensions'], undefined, 'permessage-deflate is not offered upstream');
  });

  it('uses a desktop browser User-Agent and no cookie when none is stored', async () => {
    const h = await handshakeFor({}, { 'X-API-Key': stack.apiKey });
    assert.equal(h.headers['user-agent'], DEFAULT_USER_AGENT);
    assert.equal(h.headers.cookie, undefined);
  });

  it('forwards nothing of the customer\'s request', async () => {
    const h = await handshakeFor(
      { cookie: 'sess=model' },
      {
        'X-API-Key': stack.apiKey,
        Cookie: 'customer_session=1',
        Authorization: 'Bearer customer-token',
        Origin: 'https://crm.example',
        'User-Agent': 'CustomerCRM/2.0',
        'X-Forwarded-For': '203.0.113.9',
      },
      `?api_key=${stack.apiKey}&trace=1`,
    );
    const all = JSON.stringify(h);
    assert.ok(!all.includes(stack.apiKey), 'the API key never reaches OnlyFans');
    for (const leaked of ['customer_session', 'customer-token', 'crm.example', 'CustomerCRM', '203.0.113.9', 'trace']) {
      assert.ok(!all.includes(leaked), `${leaked} is not forwarded`);
    }
    assert.equal(h.headers.cookie, 'sess=model');
    for (const name of ['x-api-key', 'authorization', 'x-forwarded-for']) assert.equal(h.headers[name], undefined, name);
  });
});
