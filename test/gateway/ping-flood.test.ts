/**
 * Regression (issue 13, "ping flood"): a peer with a valid relay that sends pings (and
 * unsolicited pongs) and never reads got every ping answered with a pong queued without bound
 * — 262 MB of pings from four clients grew the gateway from 100 MB to 893 MB — and its pongs
 * kept the heartbeat satisfied, so the relay never ended. Now the pongs towards a peer that does
 * not read collapse into one for its latest ping (RFC 6455 §5.5.3), every frame the gateway
 * writes counts against the hard cap, and a pong that arrives while the gateway's own ping is
 * still queued is no answer to it. Both legs.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { ClientConnection } from '../../src/gateway/client-connection.js';
import { startStack, TestClient, waitFor, type Stack } from '../helpers.js';
import { frame, OP, RawClient, startRawUpstream } from '../wire-helpers.js';

const KiB = 1024;
const LOW_WATER = 16 * KiB;
/** 2,000 writes of 100 pings of 125 bytes: 26 MB, far more than the kernel buffers of a loopback connection hold. */
const WRITES = 2000;
const PINGS_PER_WRITE = 100;
const T = { timeout: 60_000 };

/**
 * Writes `batch` until `stop()` holds or WRITES writes are done (bounded in count and time),
 * sampling the gateway's queue towards the flooding peer after each write.
 */
async function flood(socket: Socket, batch: Buffer, queued: () => number, stop: () => boolean): Promise<{ maxQueued: number; bytes: number }> {
  let maxQueued = 0;
  let bytes = 0;
  const deadline = Date.now() + 30_000;
  for (let i = 0; i < WRITES && !stop() && !socket.destroyed && Date.now() < deadline; i++) {
    if (!socket.write(batch)) await Promise.race([once(socket, 'drain'), once(socket, 'close'), new Promise((r) => setTimeout(r, 1000))]);
    bytes += batch.length;
    await new Promise((r) => setImmediate(r));
    maxQueued = Math.max(maxQueued, queued());
  }
  return { maxQueued, bytes };
}

function pingBatch(masked: boolean): Buffer {
  const ping = frame(OP.ping, Buffer.alloc(125, 0x61), { mask: masked });
  const pong = frame(OP.pong, Buffer.alloc(0), { mask: masked });
  return Buffer.concat([...Array<Buffer>(PINGS_PER_WRITE).fill(ping), pong]);
}

describe('ping flood', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({
      config: { heartbeatIntervalMs: 300, lowWaterBytes: LOW_WATER, highWaterBytes: 64 * KiB, closeTimeoutMs: 500 },
    });
  });
  after(async () => {
    await stack.close();
  });

  function onlyOpenPair(): ClientConnection {
    const open = [...stack.gateway.registry.all].filter((p) => p.isOpen);
    assert.equal(open.length, 1, 'one open relay');
    return open[0] as ClientConnection;
  }

  it('a client that floods pings and pongs and never reads: the queue towards it stays bounded, and the heartbeat ends the relay', T, async () => {
    const client = await RawClient.open(stack.gateway.address().port, `/api/models/${stack.modelId}/ws`, { 'X-API-Key': stack.apiKey });
    await client.confirmed();
    const pair = onlyOpenPair();
    client.socket.pause(); // never reads again
    const { maxQueued, bytes } = await flood(client.socket, pingBatch(true), () => pair.client.bufferedAmount, () => pair.outcome !== 'ok');
    await waitFor(() => pair.outcome !== 'ok', 10_000, 'the relay to end');
    assert.equal(pair.outcome, 'CLIENT_HEARTBEAT_TIMEOUT');
    // Below the low-water mark pongs are written; above it one is owed: the mark, one pong, a ping.
    assert.ok(maxQueued <= LOW_WATER + 1024, `the gateway queued ${maxQueued} bytes towards the client after ${bytes} bytes of pings`);
    client.destroy();
  });

  it('an upstream that floods pings and pongs and never reads: the queue towards it stays bounded, and the client gets 1014', T, async () => {
    const up = await startRawUpstream();
    try {
      const model = await stack.store.createModel(stack.orgId, { wsUrl: up.url, wsToken: stack.wsToken });
      // A `ws` client: it answers the gateway's pings, so only the upstream can fail.
      const client = new TestClient(stack.relayUrl(model.id), { headers: { 'X-API-Key': stack.apiKey } });
      await client.confirmed();
      const conn = await up.conn();
      const pair = onlyOpenPair();
      conn.socket.pause();
      const upstream = pair.upstream as NonNullable<ClientConnection['upstream']>;
      const { maxQueued } = await flood(conn.socket, pingBatch(false), () => upstream.bufferedAmount, () => pair.outcome !== 'ok');
      const close = await client.closed;
      assert.deepEqual(close, { code: 1014, reason: 'upstream heartbeat timeout' });
      assert.ok(maxQueued <= LOW_WATER + 1024, `the gateway queued ${maxQueued} bytes towards the upstream`);
    } finally {
      await up.close();
    }
  });

  it('a client that pings while reading gets a pong for every ping, with its payload', T, async () => {
    const client = await RawClient.open(stack.gateway.address().port, `/api/models/${stack.modelId}/ws`, { 'X-API-Key': stack.apiKey });
    await client.confirmed();
    const pings = Array.from({ length: 50 }, (_, i) => frame(OP.ping, `ping ${i}`));
    client.write(Buffer.concat(pings));
    for (let i = 0; i < 50; i++) assert.equal((await client.in.nextOf(OP.pong)).payload.toString(), `ping ${i}`);
    client.destroy();
  });
});
