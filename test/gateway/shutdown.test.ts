/**
 * Graceful shutdown (issue item 4): new connections refused, every relay closed with 1012,
 * upstreams closed, bounded in time.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MODEL_USER_ID, openRelay, startStack, TestClient, waitFor } from '../helpers.js';

describe('unexpected failures', () => {
  it('closes with 1011 and no made-up code when the store fails during the checks', async () => {
    const stack = await startStack();
    try {
      await stack.store.close();
      const client = new TestClient(stack.relayUrl(), { headers: { 'X-API-Key': stack.apiKey } });
      const closed = await client.closed;
      assert.equal(closed.code, 1011);
      assert.equal(client.frames.length, 0);
      assert.ok(stack.logs.records().some((r) => r.msg === 'relay failed unexpectedly'));
    } finally {
      await stack.close();
    }
  });
});

describe('graceful shutdown', () => {
  it('closes every relay with 1012 and its upstream, then stops listening', async () => {
    const stack = await startStack({ config: { shutdownTimeoutMs: 3000 } });
    try {
      const a = await openRelay(stack);
      const b = await openRelay(stack);
      await waitFor(() => stack.sim.connectionCount(MODEL_USER_ID) === 2, 5000, 'two upstream sockets');
      const started = Date.now();
      await stack.gateway.close();
      assert.ok(Date.now() - started < 3000);
      for (const c of [a, b]) {
        const closed = await c.closed;
        assert.equal(closed.code, 1012);
      }
      await waitFor(() => stack.sim.connectionCount(MODEL_USER_ID) === 0, 5000, 'the upstream sockets to close');
      const late = new TestClient(stack.relayUrl(), { headers: { 'X-API-Key': stack.apiKey } });
      const { code } = await late.closed;
      assert.equal(code, 1006, 'no new connection is accepted');
    } finally {
      await stack.close();
    }
  });

  it('destroys relays whose client ignores the close, within shutdownTimeoutMs', async () => {
    const stack = await startStack({ config: { shutdownTimeoutMs: 300, closeTimeoutMs: 10_000 } });
    try {
      const client = await openRelay(stack);
      // A client that stops reading never answers the close frame.
      (client.socket as unknown as { _socket: import('node:net').Socket })._socket.pause();
      const started = Date.now();
      await stack.gateway.close();
      const elapsed = Date.now() - started;
      assert.ok(elapsed < 2000, `shutdown took ${elapsed} ms`);
      assert.equal(stack.gateway.registry.all.size, 0);
    } finally {
      await stack.close();
    }
  });
});
