/**
 * The envelope format on a relay-mode model (sessions-contract.md §3, "minus ids and resume"):
 * the confirmation says the format, each upstream frame arrives as an `event` with its key and
 * parsed data (base64 when it is not JSON), `{"type":"send"}` goes up as its `data`, and a
 * get_onlines answer comes back as the `reply` to its requestId.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MODEL_USER_ID, startStack, TestClient, waitFor, type Stack } from '../helpers.js';

describe('envelope format in relay mode', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack();
  });
  after(async () => {
    await stack.close();
  });

  it('wraps events, unwraps sends and answers get_onlines by requestId; raw stays the default', async () => {
    const c = new TestClient(stack.relayUrl(stack.modelId, '?format=envelope'), { headers: { 'X-API-Key': stack.apiKey } });
    assert.deepEqual(await c.confirmed(), { connected: true, modelId: stack.modelId, format: 'envelope' });
    stack.sim.push(MODEL_USER_ID, '{"new_message":{"id":3},"hasSystemNotifications":false}');
    const e = (await c.next()).json();
    assert.equal(e.type, 'event');
    assert.equal(e.event, 'new_message');
    assert.equal(e.modelId, stack.modelId);
    assert.equal(e.id, undefined, 'relay mode has no event ids');
    assert.deepEqual(e.data, { new_message: { id: 3 }, hasSystemNotifications: false });
    stack.sim.push(MODEL_USER_ID, Buffer.from([0, 1, 2]), { binary: true });
    const b = (await c.next()).json();
    assert.equal(b.encoding, 'base64');
    assert.equal(b.data, Buffer.from([0, 1, 2]).toString('base64'));

    const before = stack.sim.received.length;
    c.socket.send(JSON.stringify({ type: 'send', data: { act: 'typing', typing_to: 77 } }));
    await waitFor(() => stack.sim.received.length > before, 5000, 'the send upstream');
    assert.deepEqual(JSON.parse(stack.sim.received[before]!.data.toString()), { act: 'typing', typing_to: 77 });

    stack.sim.setOnline(['5']);
    c.socket.send(JSON.stringify({ type: 'send', requestId: 'q-1', data: { act: 'get_onlines', ids: ['5', '6'] } }));
    const r = (await c.next()).json();
    assert.deepEqual(r, { type: 'reply', requestId: 'q-1', data: { online: ['5'] } });

    c.socket.send('{"type":"bogus"}');
    const bad = (await c.next()).json();
    assert.equal(bad.type, 'reply');
    assert.equal(bad.code, 'BAD_REQUEST');
    assert.equal(c.socket.readyState, c.socket.OPEN);
    c.socket.close();
    await c.closed;

    const raw = new TestClient(stack.relayUrl(), { headers: { 'X-API-Key': stack.apiKey } });
    assert.deepEqual(await raw.confirmed(), { connected: true, modelId: stack.modelId });
    raw.socket.close();
    await raw.closed;
  });

  it('refuses since with the raw format, naming the parameter (BAD_REQUEST, 4400)', async () => {
    const c = new TestClient(stack.relayUrl(stack.modelId, '?since=1-0'), { headers: { 'X-API-Key': stack.apiKey } });
    const f = (await c.next()).json();
    assert.equal(f.code, 'BAD_REQUEST');
    assert.match(String(f.error), /since needs format=envelope/);
    assert.equal((await c.closed).code, 4400);
  });
});
