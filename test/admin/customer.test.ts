/**
 * Issue 4 item 7: the customer API lists an organization's models behind an API key, with
 * the WebSocket's error codes, and leaves the relay path to the gateway's 426.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request, startAdminStack, type AdminStack, type Answer } from './admin-helpers.js';

describe('customer API', () => {
  let stack: AdminStack;
  let orgId: string;
  let key: string;
  let modelId: string;
  let foreignModelId: string;
  const cookie = 'customer-cookie-secret';
  before(async () => {
    stack = await startAdminStack();
    orgId = (await stack.admin('POST', '/organizations', { name: 'Customer' })).json<{ id: string }>().id;
    await stack.admin('PUT', `/organizations/${orgId}/subscription`, { status: 'active' });
    key = (await stack.admin('POST', `/organizations/${orgId}/keys`, {})).json<{ key: string }>().key;
    modelId = (
      await stack.admin('POST', `/organizations/${orgId}/models`, { name: 'Mine', wsUrl: stack.sim.wsUrl(), wsToken: stack.wsToken, cookie })
    ).json<{ id: string }>().id;
    const other = (await stack.admin('POST', '/organizations', { name: 'Someone else' })).json<{ id: string }>().id;
    foreignModelId = (await stack.admin('POST', `/organizations/${other}/models`, { wsUrl: stack.sim.wsUrl(), wsToken: stack.wsToken })).json<{ id: string }>().id;
  });
  after(async () => {
    await stack.close();
  });

  const get = (path: string, headers: Record<string, string> = { 'x-api-key': key }): Promise<Answer> => request(`${stack.httpUrl}${path}`, 'GET', undefined, headers);

  function assertCode(answer: Answer, status: number, code: string): void {
    assert.equal(answer.status, status, answer.text);
    assert.equal(answer.json().code, code);
    assert.equal(typeof answer.json().error, 'string');
  }

  it('lists the organization\'s models, {id, name, status} only (X-API-Key or Bearer)', async () => {
    const ways: Record<string, string>[] = [{ 'x-api-key': key }, { authorization: `Bearer ${key}` }];
    for (const headers of ways) {
      const answer = await get('/api/models', headers);
      assert.equal(answer.status, 200);
      assert.deepEqual(answer.json(), [{ id: modelId, name: 'Mine', status: 'connected' }]);
    }
    const one = await get(`/api/models/${modelId.toUpperCase()}`);
    assert.deepEqual(one.json(), { id: modelId, name: 'Mine', status: 'connected' });
    assert.ok(!one.text.includes(stack.wsToken) && !one.text.includes(cookie));
  });

  it('NO_API_KEY 401, INVALID_API_KEY 401, NO_SUBSCRIPTION 402, MODEL_NOT_FOUND 404', async () => {
    assertCode(await get('/api/models', {}), 401, 'NO_API_KEY');
    assertCode(await get('/api/models', { 'x-api-key': 'ofgw_sk_nope' }), 401, 'INVALID_API_KEY');
    assertCode(await get(`/api/models/${foreignModelId}`), 404, 'MODEL_NOT_FOUND');
    assertCode(await get('/api/models/not-a-uuid'), 404, 'MODEL_NOT_FOUND');
    assertCode(await get('/api/models/00000000-0000-4000-8000-000000000000'), 404, 'MODEL_NOT_FOUND');
    const lapsed = (await stack.admin('POST', '/organizations', { name: 'Lapsed' })).json<{ id: string }>().id;
    const lapsedKey = (await stack.admin('POST', `/organizations/${lapsed}/keys`, {})).json<{ key: string; id: string }>();
    assertCode(await get('/api/models', { 'x-api-key': lapsedKey.key }), 402, 'NO_SUBSCRIPTION');
    await stack.admin('POST', `/keys/${lapsedKey.id}/revoke`);
    assertCode(await get('/api/models', { 'x-api-key': lapsedKey.key }), 401, 'INVALID_API_KEY');
  });

  it('405 for other methods; the relay path still gets the gateway\'s 426', async () => {
    const post = await request(`${stack.httpUrl}/api/models`, 'POST', {}, { 'x-api-key': key });
    assertCode(post, 405, 'METHOD_NOT_ALLOWED');
    const ws = await get(`/api/models/${modelId}/ws`);
    assertCode(ws, 426, 'UPGRADE_REQUIRED');
    assertCode(await get('/api/other'), 404, 'NOT_FOUND');
  });
});
