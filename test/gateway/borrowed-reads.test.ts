/**
 * Plain upstream sockets read into one buffer shared by all of them (`onread`, see
 * src/upstream/connector.ts and Leg.borrowedReads). The hazard of sharing: a write to a client
 * that stays queued, or an incomplete frame kept for the next read, still referring to the
 * buffer when another socket's read overwrites it. Here many relays stream at once, every
 * upstream writes random frames (whole and fragmented, text and binary, 1 B to 96 KiB) in
 * random pieces, and some clients stop reading for a while so their writes queue: every client
 * must receive exactly the bytes its upstream sent, frame by frame.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { mulberry32 } from '../../src/sandbox/rng.js';
import { socketConnections, startStack, type Stack } from '../helpers.js';
import { frame, OP, RawClient, startRawUpstream, writeInPieces, type RawUpstream } from '../wire-helpers.js';

const RELAYS = 12;
const FRAMES_PER_RELAY = 60;

/** A random stream of unmasked upstream frames; fragmented messages keep their fragments. */
function randomFrames(seed: number, bigFrames: number): Buffer[] {
  const rng = mulberry32(seed);
  const frames: Buffer[] = [];
  const payload = (n: number, text: boolean): Buffer => {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = text ? 0x20 + Math.floor(rng() * 95) : Math.floor(rng() * 256);
    return b;
  };
  // Large frames first: more than the kernel's socket buffers hold for a client that is not reading.
  for (let i = 0; i < bigFrames; i++) frames.push(frame(OP.binary, payload(128 * 1024 + Math.floor(rng() * 1024), false), { mask: false }));
  while (frames.length < bigFrames + FRAMES_PER_RELAY) {
    const text = rng() < 0.5;
    const size = rng() < 0.7 ? 1 + Math.floor(rng() * 300) : 1 + Math.floor(rng() * 96 * 1024);
    if (rng() < 0.15) {
      // A message in three fragments.
      const third = Math.max(1, Math.floor(size / 3));
      frames.push(frame(text ? OP.text : OP.binary, payload(third, text), { mask: false, fin: false }));
      frames.push(frame(OP.cont, payload(third, text), { mask: false, fin: false }));
      frames.push(frame(OP.cont, payload(third, text), { mask: false }));
    } else {
      frames.push(frame(text ? OP.text : OP.binary, payload(size, text), { mask: false }));
    }
  }
  return frames;
}

describe('borrowed upstream reads', () => {
  let stack: Stack;
  before(async () => {
    // A high-water mark above what a paused client is sent: its upstream keeps being read (into
    // the shared buffer) while the writes to the client stay queued.
    stack = await startStack({ config: { highWaterBytes: 16 * 1024 * 1024, hardCapBytes: 32 * 1024 * 1024 } });
  });
  after(async () => {
    await stack?.close();
  });

  it(`${RELAYS} relays streaming random frames in random pieces at once, some clients paused: every byte arrives as sent`, { timeout: 60_000 }, async () => {
    const ups: RawUpstream[] = [];
    const clients: RawClient[] = [];
    try {
      for (let i = 0; i < RELAYS; i++) {
        const up = await startRawUpstream();
        ups.push(up);
        const model = await stack.store.createModel(stack.orgId, { wsUrl: up.url, wsToken: stack.wsToken });
        const client = await RawClient.open(stack.gateway.address().port, `/api/models/${model.id}/ws`, { 'X-API-Key': stack.apiKey });
        clients.push(client);
        await client.confirmed();
      }
      const conns = await Promise.all(ups.map((up) => up.conn()));
      // Every third client stops reading for a while and gets 6 MiB more than the others: past
      // what the kernel buffers, the gateway's writes to it stay queued, referring to their bytes.
      const paused = (i: number): boolean => i % 3 === 0;
      const sent = conns.map((_, i) => randomFrames(1000 + i, paused(i) ? 48 : 0));
      const queuedSeen: number[] = [];
      for (let i = 0; i < RELAYS; i++) {
        if (!paused(i)) continue;
        const socket = (clients[i] as RawClient).socket;
        socket.pause();
        setTimeout(() => socket.resume(), 2000 + i * 20);
      }
      const sample = setInterval(() => {
        let queued = 0;
        for (const conn of socketConnections(stack.gateway)) queued = Math.max(queued, conn.client.bufferedAmount);
        queuedSeen.push(queued);
      }, 50);
      // The others stream while the paused ones resume and drain, so that reads keep landing in
      // the shared buffer while those clients' writes are still queued.
      await Promise.all(
        conns.map(async (conn, i) => {
          const rng = mulberry32(2000 + i);
          const frames = sent[i] as Buffer[];
          let at = 0;
          if (paused(i)) {
            conn.socket.write(Buffer.concat(frames.slice(0, 48)));
            at = 48;
          } else {
            await new Promise((r) => setTimeout(r, 300));
          }
          // Mostly whole frames, one to four per write, so that the reads the gateway relays are
          // views of the shared buffer; every fifth write splits its frames into random pieces.
          while (at < frames.length) {
            const n = 1 + Math.floor(rng() * 4);
            const group = Buffer.concat(frames.slice(at, at + n));
            at += n;
            if (rng() < 0.2) await writeInPieces(conn.socket, group, () => 1 + Math.floor(rng() * 3000), 0);
            else conn.socket.write(group);
            await new Promise((r) => setTimeout(r, paused(i) ? 15 : 2));
          }
        }),
      );
      clearInterval(sample);
      assert.ok(Math.max(...queuedSeen) > 0, 'writes to a paused client were queued in the gateway at some point');
      for (let i = 0; i < RELAYS; i++) {
        const client = clients[i] as RawClient;
        const want = sent[i] as Buffer[];
        const deadline = Date.now() + 30_000;
        // The confirmation was frame 0.
        while (client.in.frames.length < want.length + 1 && Date.now() < deadline && !client.in.ended) await new Promise((r) => setTimeout(r, 20));
        const got = client.in.frames.slice(1).map((f) => f.raw);
        assert.equal(got.length, want.length, `relay ${i}: frames received`);
        for (let k = 0; k < want.length; k++) assert.ok(got[k]?.equals(want[k] as Buffer), `relay ${i}: frame ${k} differs from what its upstream sent`);
      }
    } finally {
      for (const c of clients) c.destroy();
      for (const up of ups) await up.close();
    }
  });
});
