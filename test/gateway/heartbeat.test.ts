/**
 * Ping/pong per leg (issue item 2): a dead peer on either leg is detected within two
 * heartbeat periods and the relay closed with the contract's code; pings are never
 * forwarded and the gateway sends no application frame upstream.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MODEL_USER_ID, openRelay, startStack, waitFor, type Stack } from '../helpers.js';

describe('heartbeat', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ config: { heartbeatIntervalMs: 100 } });
  });
  after(async () => {
    await stack.close();
  });

  it('an upstream that stops answering pings: the client gets 1014', async () => {
    const client = await openRelay(stack);
    stack.sim.setFault({ kind: 'no-pong' }, { userId: MODEL_USER_ID });
    try {
      const closed = await client.closed;
      assert.equal(closed.code, 1014);
      assert.equal(closed.reason, 'upstream heartbeat timeout');
    } finally {
      stack.sim.clearFaults();
    }
  });

  it('a client that stops answering pings: the upstream socket is closed', async () => {
    const received = stack.sim.received.length;
    const client = await openRelay(stack, { autoPong: false });
    let pings = 0;
    client.socket.on('ping', () => pings++);
    await waitFor(() => stack.sim.connectionCount(MODEL_USER_ID) === 1, 5000, 'the upstream socket');
    await client.closed;
    await waitFor(() => stack.sim.connectionCount(MODEL_USER_ID) === 0, 5000, 'the upstream socket to close');
    assert.ok(pings >= 1, 'the client was pinged');
    // Heartbeats are control frames: nothing reached OnlyFans as a message.
    assert.equal(stack.sim.received.length, received);
  });

  it('a live relay on both legs stays open across many heartbeat periods', async () => {
    const client = await openRelay(stack);
    let pings = 0;
    client.socket.on('ping', () => pings++);
    await waitFor(() => pings >= 5, 5000, 'five heartbeat rounds');
    client.socket.send('{"act":"get_onlines","ids":[]}');
    assert.deepEqual((await client.next()).json(), { online: [] });
    client.socket.close();
    await client.closed;
  });
});
