/**
 * Backpressure both ways (issue item 2): the source is paused above the high-water mark and
 * resumed below the low one, a client that does not read ends with SLOW_CONSUMER, and the
 * gateway's buffers stay bounded whatever the peers do.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MODEL_USER_ID, openRelay, socketConnections, startStack, waitFor, type Stack } from '../helpers.js';

const KiB = 1024;

describe('backpressure', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({
      config: {
        highWaterBytes: 64 * KiB,
        lowWaterBytes: 16 * KiB,
        hardCapBytes: 8 * 1024 * KiB,
        slowConsumerTimeoutMs: 400,
        closeTimeoutMs: 2000,
      },
      simulator: { invalidCommandCloseMs: false },
    });
  });
  after(async () => {
    await stack.close();
  });

  /** The one open relay (an earlier test's relay may still be finishing its close). */
  function onlyPair() {
    const pairs = socketConnections(stack.gateway).filter((p) => p.isOpen);
    assert.equal(pairs.length, 1);
    return pairs[0]!;
  }

  it('a client that stops reading: the upstream is paused, then SLOW_CONSUMER (4408)', async () => {
    const client = await openRelay(stack);
    const pair = onlyPair();
    // Stop reading at the TCP level: the gateway's writes back up in the kernel, then in ws.
    (client.socket as unknown as { _socket: import('node:net').Socket })._socket.pause();
    const chunk = `{"api2_chat_message":{"text":"${'x'.repeat(16 * KiB)}"}}`;
    let maxBuffered = 0;
    // Push far more than the kernel buffers hold (bounded count), watching the gateway's buffer.
    for (let i = 0; i < 2000 && pair.outcome === 'ok'; i++) {
      stack.sim.push(MODEL_USER_ID, chunk);
      if (i % 50 === 49) {
        await new Promise((r) => setImmediate(r));
        maxBuffered = Math.max(maxBuffered, pair.client.bufferedAmount);
      }
    }
    await waitFor(() => pair.outcome === 'SLOW_CONSUMER', 5000, 'the slow-consumer verdict');
    // Bounded: the high-water mark plus what was in flight when the upstream was paused.
    assert.ok(maxBuffered < 1024 * KiB, `gateway buffered ${maxBuffered} bytes for the client`);
    (client.socket as unknown as { _socket: import('node:net').Socket })._socket.resume();
    let error: Record<string, unknown> | undefined;
    for (;;) {
      const frame = await client.next(5000).catch(() => undefined);
      if (!frame) break;
      if (frame.text.startsWith('{"error"')) error = frame.json();
    }
    assert.equal(error?.code, 'SLOW_CONSUMER');
    const closed = await client.closed;
    assert.equal(closed.code, 4408);
    assert.equal(closed.reason, 'SLOW_CONSUMER');
  });

  it('an upstream that stops reading pauses the client; nothing is lost when it reads again', async () => {
    const client = await openRelay(stack);
    const pair = onlyPair();
    stack.sim.setFault({ kind: 'slow-reads' }, { userId: MODEL_USER_ID });
    const before = stack.sim.received.length;
    const pad = 'y'.repeat(32 * KiB);
    // Kernel buffers on loopback absorb tens of MiB first; send in batches until the gateway
    // stops reading the client, bounded at 256 MiB.
    let sent = 0;
    while (!pair.paused.client && sent < 8192) {
      for (let i = 0; i < 64; i++) client.socket.send(`{"act":"bulk","i":${sent++},"pad":"${pad}"}`);
      await waitFor(() => client.socket.bufferedAmount < 1024 * KiB || pair.paused.client, 10_000, 'the client to flush');
    }
    assert.ok(pair.paused.client, `the gateway paused the client after ${sent} messages`);
    // Bounded: the high-water mark plus at most what one read delivered.
    assert.ok(pair.upstream!.bufferedAmount < 1024 * KiB, `gateway buffered ${pair.upstream!.bufferedAmount} bytes upstream`);
    const forwarded = pair.traffic.messagesToUpstream;
    assert.ok(forwarded < sent, 'the rest waits in the client and the kernel, not in the gateway');
    stack.sim.clearFaults();
    await waitFor(() => !pair.paused.client, 20_000, 'the client to be resumed');
    await waitFor(() => stack.sim.received.length >= before + sent, 30_000, `${sent} upstream messages`);
    const order = stack.sim.received.slice(before).map((r) => (JSON.parse(r.data.toString()) as { i: number }).i);
    assert.deepEqual(order, Array.from({ length: sent }, (_, i) => i));
    client.socket.close();
    await client.closed;
  });
});
