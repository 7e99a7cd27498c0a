/**
 * Session fan-out under a slow client (sessions-contract.md §3): a client that stops reading
 * is closed with SLOW_CONSUMER, while the session and the other clients get every event, in
 * order and on time; memory held for the slow client stays bounded by its socket buffer.
 */
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { MODEL_USER_ID, socketConnections, startStack, TestClient, waitFor, type Stack } from '../helpers.js';

const KiB = 1024;

describe('session fan-out', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({
      config: { highWaterBytes: 64 * KiB, lowWaterBytes: 16 * KiB, hardCapBytes: 8 * 1024 * KiB, slowConsumerTimeoutMs: 500, sessionReconnectMinMs: 50 },
    });
    await stack.store.updateModel(stack.modelId, { delivery: 'session' });
    await waitFor(() => stack.sim.currentConnections(MODEL_USER_ID) === 1, 5000, 'the session socket');
  });
  after(async () => {
    await stack.close();
  });

  it('closes a client that stops reading with SLOW_CONSUMER, without slowing the others', async () => {
    const open = (query = ''): TestClient => new TestClient(stack.relayUrl(stack.modelId, query), { headers: { 'X-API-Key': stack.apiKey } });
    const slow = open();
    const fast = [open('?format=envelope'), open('?format=envelope')];
    await slow.confirmed();
    for (const c of fast) await c.confirmed();
    const slowConn = socketConnections(stack.gateway).find((c) => c.isOpen && c.query.format === 'raw');
    assert.ok(slowConn);
    (slow.socket as unknown as { _socket: Socket })._socket.pause();
    const N = 600;
    const chunk = 'x'.repeat(16 * KiB);
    let maxBuffered = 0;
    for (let i = 1; i <= N; i++) {
      stack.sim.push(MODEL_USER_ID, `{"api2_chat_message":{"id":${i},"text":"${chunk}"}}`);
      if (i % 25 === 0) {
        await new Promise((r) => setTimeout(r, 5));
        maxBuffered = Math.max(maxBuffered, slowConn.client.bufferedAmount);
      }
    }
    for (const c of fast) {
      const ids: number[] = [];
      while (ids.length < N) {
        const f = (await c.next(10000)).json();
        if (f.type === 'event') ids.push((f.data as { api2_chat_message: { id: number } }).api2_chat_message.id);
      }
      assert.deepEqual(ids, Array.from({ length: N }, (_, i) => i + 1));
    }
    await waitFor(() => slowConn.outcome === 'SLOW_CONSUMER', 10000, 'the slow-consumer verdict');
    // Nothing is queued for a client beyond its socket: the high-water mark plus one read's events.
    assert.ok(maxBuffered < 1024 * KiB, `the gateway buffered ${maxBuffered} bytes for the slow client`);
    (slow.socket as unknown as { _socket: Socket })._socket.resume();
    assert.equal((await slow.closed).code, 4408);
    assert.equal(stack.sim.peakConnections(MODEL_USER_ID) <= 1, true);
    for (const c of fast) c.socket.close();
    await Promise.all(fast.map((c) => c.closed));
  });
});
