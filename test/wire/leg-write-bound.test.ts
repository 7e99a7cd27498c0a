/**
 * The leg's one write bound (src/wire/leg.ts `maxBufferedBytes`), on real sockets: every frame
 * a leg writes counts — pongs and the gateway's own messages as much as relayed data — and the
 * owner hears once that the peer stopped reading; after that the leg reads nothing more.
 * Regression for issue 13's ping flood, where pongs were written past every bound.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { IGNORING_OWNER, Leg, type LegLimits, type LegOwner } from '../../src/wire/leg.js';
import { frame, OP } from '../wire-helpers.js';
import { waitFor } from '../helpers.js';

const KiB = 1024;

/** A connected pair on 127.0.0.1: the server side wrapped in a Leg, the client side raw and not reading. */
async function legPair(limits: Partial<LegLimits>, owner: LegOwner): Promise<{ leg: Leg; peer: net.Socket; close(): void }> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
  const peer = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  peer.on('error', () => {});
  const socket = await accepted;
  socket.on('error', () => {});
  peer.pause();
  const leg = new Leg(
    socket,
    true,
    { maxPayload: 64 * KiB, maxFragments: 16, maxBufferedChunks: 1024, closeTimeoutMs: 1000, lowWaterBytes: 16 * KiB, maxBufferedBytes: 256 * KiB, ...limits },
    owner,
  );
  return {
    leg,
    peer,
    close() {
      peer.destroy();
      socket.destroy();
      server.close();
    },
  };
}

/** An owner that counts overflow reports. */
function countingOwner(): LegOwner & { overflows: number } {
  const owner = { ...IGNORING_OWNER, overflows: 0, legOverflow: () => void owner.overflows++ };
  return owner;
}

describe('the leg write bound', () => {
  it('pongs count: a peer that pings and never reads ends in one legOverflow, then nothing more is read', { timeout: 30_000 }, async () => {
    // The low-water mark above the bound, so pongs are never collapsed and only the bound can stop them.
    const owner = countingOwner();
    const { leg, peer, close } = await legPair({ lowWaterBytes: 64 * 1024 * KiB, maxBufferedBytes: 256 * KiB }, owner);
    try {
      const pings = Buffer.concat(Array.from({ length: 100 }, () => frame(OP.ping, Buffer.alloc(125, 0x62))));
      for (let i = 0; i < 4000 && owner.overflows === 0; i++) {
        peer.write(pings);
        await new Promise((r) => setImmediate(r));
      }
      await waitFor(() => owner.overflows > 0, 10_000, 'the overflow report');
      assert.equal(owner.overflows, 1);
      assert.ok(leg.socket.isPaused(), 'the leg stopped reading');
      assert.ok(leg.bufferedAmount <= 256 * KiB + 127, `queued ${leg.bufferedAmount} bytes: the bound plus one pong at most`);
    } finally {
      close();
    }
  });

  it("the gateway's own messages count: sendText past the bound reports the overflow once", async () => {
    const owner = countingOwner();
    const { leg, close } = await legPair({ maxBufferedBytes: 256 * KiB }, owner);
    try {
      const text = 'x'.repeat(60 * KiB);
      for (let i = 0; i < 2000 && owner.overflows === 0; i++) leg.sendText(text);
      assert.equal(owner.overflows, 1);
      leg.sendText(text);
      leg.ping();
      assert.equal(owner.overflows, 1, 'reported once');
    } finally {
      close();
    }
  });
});
