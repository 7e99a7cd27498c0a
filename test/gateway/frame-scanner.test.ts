/**
 * The frame scanner (src/wire/leg.ts) over real sockets: raw bytes written by hand on the
 * client leg (a `net` socket that does its own upgrade) and on the upstream leg (a `net`
 * server that answers the upgrade itself), against a real gateway.
 *
 * What is pinned down: many messages per TCP read relayed in order and byte-exact (masks
 * included: frames are not re-framed); frames split over many reads; fragmented messages
 * relayed with their fragmentation, pings answered in between and never forwarded; every
 * protocol error closing the offending leg with the RFC code while what preceded it in the
 * same read is still relayed; the hand-written handshakes on both legs; the close handshake.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ClientConnection } from '../../src/gateway/client-connection.js';
import { MODEL_USER_ID, socketConnections, startStack, waitFor, type Stack } from '../helpers.js';
import {
  closeBody,
  CONNECTED_REPLY,
  frame,
  header64,
  httpExchange,
  OP,
  RawClient,
  startRawUpstream,
  upgradeRequest,
  writeInPieces,
  type ParsedFrame,
  type RawUpstream,
  type RawUpstreamConn,
  type RawUpstreamOptions,
} from '../wire-helpers.js';
import { mulberry32 } from '../../src/sandbox/rng.js';

const MAX_MESSAGE = 256 * 1024;
const UPSTREAM_MAX_MESSAGE = 512 * 1024;
const T = { timeout: 20_000 };

function gatewayPort(stack: Stack): number {
  return stack.gateway.address().port;
}

function relayPath(modelId: string): string {
  return `/api/models/${modelId}/ws`;
}

interface RawRelay {
  client: RawClient;
  up: RawUpstream;
  conn: RawUpstreamConn;
  modelId: string;
  done(): Promise<void>;
}

/** A raw upstream, a model pointing at it, and a raw client with its relay confirmed. */
async function openRaw(stack: Stack, upstream: RawUpstreamOptions = {}, headers: Record<string, string | null> = {}): Promise<RawRelay> {
  const up = await startRawUpstream(upstream);
  try {
    const model = await stack.store.createModel(stack.orgId, { wsUrl: up.url, wsToken: stack.wsToken });
    const client = await RawClient.open(gatewayPort(stack), relayPath(model.id), { 'X-API-Key': stack.apiKey, ...headers });
    await client.confirmed();
    const conn = await up.conn();
    return {
      client,
      up,
      conn,
      modelId: model.id,
      async done() {
        client.destroy();
        await up.close();
      },
    };
  } catch (err) {
    await up.close();
    throw err;
  }
}

/** The relay whose client leg is `client`'s socket (found by the client's local port). */
function relayOf(stack: Stack, client: RawClient): ClientConnection | undefined {
  const port = client.socket.localPort;
  return socketConnections(stack.gateway).find((p) => p.client.socket.remotePort === port);
}

/** The "relay closed" log line of the relay for `modelId`, once both legs are closed. */
async function relayClosedLine(stack: Stack, modelId: string, timeoutMs = 8000): Promise<Record<string, unknown>> {
  let line: Record<string, unknown> | undefined;
  await waitFor(
    () => (line = stack.logs.records().find((r) => r.msg === 'relay closed' && r.modelId === modelId)) !== undefined,
    timeoutMs,
    `the relay-closed log line of model ${modelId}`,
  );
  return line as Record<string, unknown>;
}

function closeOf(f: ParsedFrame | undefined): { code: number; reason: string } {
  assert.ok(f, 'a close frame');
  assert.equal(f.opcode, OP.close);
  return { code: f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 1005, reason: f.payload.subarray(2).toString('utf8') };
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms))),
  ]);
}

/** 200 messages, alternating text and binary, with 7-bit and 16-bit lengths and empty ones. */
function mixedMessages(count: number, masked: boolean): { frames: Buffer[]; expected: { opcode: number; payload: Buffer }[] } {
  const frames: Buffer[] = [];
  const expected: { opcode: number; payload: Buffer }[] = [];
  for (let i = 0; i < count; i++) {
    const binary = i % 2 === 1;
    const size = i % 25 === 3 ? 126 + i : i % 5;
    let payload: Buffer;
    if (binary) {
      payload = Buffer.alloc(size);
      for (let j = 0; j < size; j++) payload[j] = (i * 31 + j * 7) & 0xff;
    } else {
      payload = Buffer.from(`{"i":${i},"s":"${'é✓'.repeat(size)}"}`);
    }
    const opcode = binary ? OP.binary : OP.text;
    frames.push(frame(opcode, payload, { mask: masked }));
    expected.push({ opcode, payload });
  }
  return { frames, expected };
}

function assertSameMessages(got: ParsedFrame[], expected: { opcode: number; payload: Buffer }[]): void {
  assert.equal(got.length, expected.length, 'message count');
  for (let i = 0; i < expected.length; i++) {
    const g = got[i] as ParsedFrame;
    const e = expected[i] as { opcode: number; payload: Buffer };
    assert.equal(g.opcode, e.opcode, `frame type of message ${i}`);
    assert.ok(g.fin, `message ${i} is one frame`);
    assert.ok(g.payload.equals(e.payload), `payload of message ${i}`);
  }
}

describe('frame scanner', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({
      config: { maxMessageBytes: MAX_MESSAGE, upstreamMaxMessageBytes: UPSTREAM_MAX_MESSAGE, heartbeatIntervalMs: 600_000 },
      simulator: { invalidCommandCloseMs: false },
    });
  });
  after(async () => {
    await stack.close();
  });

  describe('many messages in one TCP write', () => {
    it('client → upstream: 200 text and binary frames in one write arrive in order, byte-exact (masks included)', T, async () => {
      const r = await openRaw(stack);
      try {
        const { frames, expected } = mixedMessages(200, true);
        const bytes = Buffer.concat(frames);
        r.client.write(bytes);
        await r.conn.in.until(() => r.conn.relayed().length >= 200, 5000, '200 relayed frames');
        const got = r.conn.relayed();
        assertSameMessages(got, expected);
        // Not re-framed: the upstream sees the very bytes the client wrote, mask keys included.
        assert.ok(Buffer.concat(got.map((f) => f.raw)).equals(bytes), 'the upstream received exactly the bytes the client wrote');
        assert.ok(got.every((f) => f.masked && f.rsv === 0));
      } finally {
        await r.done();
      }
    });

    it('client → upstream: large frames (16-bit and 64-bit lengths) mixed with small ones in one write', T, async () => {
      const r = await openRaw(stack);
      try {
        const frames: Buffer[] = [];
        const expected: { opcode: number; payload: Buffer }[] = [];
        for (let i = 0; i < 40; i++) {
          const size = i % 10 === 4 ? 70_000 + i : i % 10 === 7 ? 40_000 : i;
          const payload = i % 2 ? Buffer.alloc(size, i) : Buffer.from('ä'.repeat(Math.ceil(size / 2)));
          const opcode = i % 2 ? OP.binary : OP.text;
          frames.push(frame(opcode, payload));
          expected.push({ opcode, payload });
        }
        const bytes = Buffer.concat(frames);
        r.client.write(bytes);
        await r.conn.in.until(() => r.conn.relayed().length >= 40, 10_000, '40 relayed frames');
        assertSameMessages(r.conn.relayed(), expected);
        assert.ok(Buffer.concat(r.conn.relayed().map((f) => f.raw)).equals(bytes));
      } finally {
        await r.done();
      }
    });

    it('upstream → client: 200 frames in one write arrive in order, byte-exact', T, async () => {
      const r = await openRaw(stack);
      try {
        const { frames, expected } = mixedMessages(200, false);
        const bytes = Buffer.concat(frames);
        r.conn.socket.write(bytes);
        await r.client.in.until(() => r.client.in.frames.length >= 201, 5000, '200 frames after the confirmation');
        const got = r.client.in.since(1);
        assertSameMessages(got, expected);
        assert.ok(Buffer.concat(got.map((f) => f.raw)).equals(bytes), 'the client received exactly the bytes the upstream wrote');
        assert.ok(got.every((f) => !f.masked));
      } finally {
        await r.done();
      }
    });

    it("upstream → client: the 101, the connected reply and 50 events in one write (the upgrade's head)", T, async () => {
      const { frames, expected } = mixedMessages(50, false);
      const events = Buffer.concat(frames);
      const r = await openRaw(stack, {
        answer: (accept) =>
          Buffer.concat([
            Buffer.from(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`),
            frame(OP.text, CONNECTED_REPLY, { mask: false }),
            events,
          ]),
        onConnectAct: () => {},
      });
      try {
        // The connect act still went out, and the reply was consumed, not forwarded.
        const act = JSON.parse((r.conn.in.frames[0] as ParsedFrame).payload.toString('utf8')) as Record<string, unknown>;
        assert.equal(act.act, 'connect');
        await r.client.in.until(() => r.client.in.frames.length >= 51, 5000, '50 events after the confirmation');
        const got = r.client.in.since(1);
        assertSameMessages(got, expected);
        assert.ok(Buffer.concat(got.map((f) => f.raw)).equals(events));
      } finally {
        await r.done();
      }
    });

    it('client → upstream: frames in the same write as the upgrade request are held and delivered in order', T, async () => {
      const up = await startRawUpstream();
      try {
        const model = await stack.store.createModel(stack.orgId, { wsUrl: up.url, wsToken: stack.wsToken });
        const early = Array.from({ length: 5 }, (_, i) => frame(i % 2 ? OP.binary : OP.text, i % 2 ? Buffer.from([i, 0, 255]) : `{"act":"early","i":${i}}`));
        const client = await RawClient.open(gatewayPort(stack), relayPath(model.id), { 'X-API-Key': stack.apiKey }, Buffer.concat(early));
        try {
          await client.confirmed();
          const conn = await up.conn();
          await conn.in.until(() => conn.relayed().length >= 5, 5000, 'the 5 early frames');
          assert.deepEqual(
            conn.relayed().map((f) => f.raw.toString('hex')),
            early.map((f) => f.toString('hex')),
          );
        } finally {
          client.destroy();
        }
      } finally {
        await up.close();
      }
    });

    it('simulator → client: 200 pushes in a row arrive in order with their frame types', T, async () => {
      const client = await RawClient.open(gatewayPort(stack), relayPath(stack.modelId), { 'X-API-Key': stack.apiKey });
      try {
        await client.confirmed();
        await waitFor(() => stack.sim.connectionCount(MODEL_USER_ID) > 0, 5000, 'the simulator connection');
        for (let i = 0; i < 200; i++) {
          if (i % 3 === 0) stack.sim.push(MODEL_USER_ID, Buffer.from([i & 0xff, 1, 2]), { binary: true });
          else stack.sim.push(MODEL_USER_ID, `{"seq":${i}}`);
        }
        await client.in.until(() => client.in.frames.length >= 201, 5000, '200 pushed frames');
        const got = client.in.since(1);
        for (let i = 0; i < 200; i++) {
          const f = got[i] as ParsedFrame;
          if (i % 3 === 0) {
            assert.equal(f.opcode, OP.binary);
            assert.ok(f.payload.equals(Buffer.from([i & 0xff, 1, 2])));
          } else {
            assert.equal(f.opcode, OP.text);
            assert.equal(f.payload.toString(), `{"seq":${i}}`);
          }
        }
      } finally {
        client.destroy();
      }
    });
  });

  describe('frames split across reads', () => {
    it('client → upstream: a frame written byte by byte (16-bit length), then one more frame', T, async () => {
      const r = await openRaw(stack);
      try {
        const text = `{"act":"slow","pad":"${'x'.repeat(120)}","end":"✓"}`;
        const slow = frame(OP.text, text);
        const next = frame(OP.binary, Buffer.from([1, 2, 3, 4, 5]));
        const pieces = await r.client.writeInPieces(Buffer.concat([slow, next]), () => 1, 2);
        assert.equal(pieces, slow.length + next.length);
        await r.conn.in.until(() => r.conn.relayed().length >= 2, 5000, 'the two frames');
        const [a, b] = r.conn.relayed();
        assert.ok(a?.raw.equals(slow), 'the slow frame, byte-exact');
        assert.equal(a?.payload.toString('utf8'), text);
        assert.ok(b?.raw.equals(next));
      } finally {
        await r.done();
      }
    });

    it('upstream → client: a frame written byte by byte', T, async () => {
      const r = await openRaw(stack);
      try {
        const slow = frame(OP.text, `{"api2_chat_message":{"text":"${'y'.repeat(140)}"}}`, { mask: false });
        await writeInPieces(r.conn.socket, slow, () => 1, 2);
        const f = await r.client.in.next(5000, 'the slow frame');
        assert.ok(f.raw.equals(slow));
      } finally {
        await r.done();
      }
    });

    it('client → upstream: a 64-bit-length frame whose 14-byte header comes byte by byte', T, async () => {
      const r = await openRaw(stack);
      try {
        const big = frame(OP.binary, Buffer.alloc(70_000, 0x42));
        await writeInPieces(r.client.socket, big.subarray(0, 14), () => 1, 3);
        await writeInPieces(r.client.socket, big.subarray(14), () => 35_000, 3);
        const f = await r.conn.in.next(5000, 'the big frame');
        assert.ok(f.raw.equals(big));
      } finally {
        await r.done();
      }
    });

    it('empty messages and empty fragments are relayed as they are', T, async () => {
      const r = await openRaw(stack);
      try {
        const sent = [
          frame(OP.text, ''),
          frame(OP.binary, Buffer.alloc(0)),
          frame(OP.text, '', { fin: false }),
          frame(OP.cont, 'mid', { fin: false }),
          frame(OP.cont, '', { fin: true }),
          frame(OP.text, '', { fin: false }),
          frame(OP.cont, '', { fin: true }),
        ];
        r.client.write(Buffer.concat(sent));
        await r.conn.in.until(() => r.conn.relayed().length >= sent.length, 5000, 'all frames');
        assert.deepEqual(
          r.conn.relayed().map((f) => f.raw.toString('hex')),
          sent.map((f) => f.toString('hex')),
        );
      } finally {
        await r.done();
      }
    });

    for (const [direction, opcode] of [
      ['client → upstream', OP.binary],
      ['client → upstream', OP.text],
      ['upstream → client', OP.binary],
      ['upstream → client', OP.text],
    ] as const) {
      it(`${direction}: a 100 KiB ${opcode === OP.text ? 'text' : 'binary'} frame in random-sized pieces`, T, async () => {
        const seed = 0x5eed + opcode + (direction.startsWith('client') ? 0 : 100);
        const rand = mulberry32(seed);
        const r = await openRaw(stack);
        try {
          const payload =
            opcode === OP.text
              ? Buffer.from(Array.from({ length: 100 * 1024 }, (_, i) => String.fromCharCode(0x21 + (i % 90))).join(''))
              : Buffer.from(Array.from({ length: 100 * 1024 }, () => Math.floor(rand() * 256)));
          const fromClient = direction.startsWith('client');
          const big = frame(opcode, payload, { mask: fromClient });
          const sizes = (): number => 1 + Math.floor(rand() * 4096);
          const pieces = await writeInPieces(fromClient ? r.client.socket : r.conn.socket, big, sizes, 1);
          assert.ok(pieces > 20, `split in ${pieces} pieces (seed ${seed})`);
          const f = fromClient ? await r.conn.in.next(5000, 'the big frame upstream') : await r.client.in.next(5000, 'the big frame');
          assert.equal(f.raw.length, big.length, `seed ${seed}`);
          assert.ok(f.raw.equals(big), `the 100 KiB frame is byte-exact (seed ${seed})`);
        } finally {
          await r.done();
        }
      });
    }
  });

  describe('fragmented messages', () => {
    const parts = ['Hello, ', 'fragmented ', 'wörld ✓'];

    it('a client text message in 3 fragments with a ping between them: relayed with its fragmentation, the ping answered and not forwarded', T, async () => {
      const r = await openRaw(stack);
      try {
        const f1 = frame(OP.text, parts[0], { fin: false });
        const f2 = frame(OP.cont, parts[1], { fin: false });
        const f3 = frame(OP.cont, parts[2], { fin: true });
        r.client.write(f1);
        r.client.write(frame(OP.ping, 'p-1'));
        // The pong comes while the message is still incomplete.
        const pong = await r.client.in.next(3000, 'the pong');
        assert.equal(pong.opcode, OP.pong);
        assert.equal(pong.payload.toString(), 'p-1');
        assert.equal(pong.masked, false);
        await new Promise((res) => setTimeout(res, 20));
        r.client.write(f2);
        await new Promise((res) => setTimeout(res, 20));
        r.client.write(f3);
        r.client.write(frame(OP.text, 'after'));
        await r.conn.in.until(() => r.conn.relayed().length >= 4, 5000, 'the fragments and the next message');
        const got = r.conn.relayed();
        assert.deepEqual(
          got.slice(0, 3).map((f) => f.raw.toString('hex')),
          [f1, f2, f3].map((f) => f.toString('hex')),
          'the same three frames, in order, without the ping',
        );
        assert.equal(Buffer.concat(got.slice(0, 3).map((f) => f.payload)).toString('utf8'), parts.join(''));
        assert.deepEqual(got.map((f) => [f.opcode, f.fin]).slice(0, 3), [[OP.text, false], [OP.cont, false], [OP.cont, true]]);
        assert.equal(got[3]?.payload.toString(), 'after');
        assert.ok(!got.some((f) => f.opcode === OP.ping || f.opcode === OP.pong), 'no ping or pong forwarded');
      } finally {
        await r.done();
      }
    });

    it('the same in one write, with a multi-byte character split across fragments and pings between every fragment', T, async () => {
      const r = await openRaw(stack);
      try {
        const euro = Buffer.from('€'); // e2 82 ac
        const f1 = frame(OP.text, Buffer.concat([Buffer.from('price '), euro.subarray(0, 1)]), { fin: false });
        const f2 = frame(OP.cont, euro.subarray(1, 2), { fin: false });
        const f3 = frame(OP.cont, Buffer.concat([euro.subarray(2), Buffer.from(' 5')]), { fin: true });
        const before = frame(OP.binary, Buffer.from([9, 9]));
        const z = frame(OP.text, 'z');
        r.client.write(Buffer.concat([before, f1, frame(OP.ping, 'a'), f2, frame(OP.ping, 'b'), f3, z]));
        await r.conn.in.until(() => r.conn.relayed().length >= 5, 5000, 'five frames');
        const got = r.conn.relayed();
        assert.deepEqual(
          got.map((f) => f.raw.toString('hex')),
          [before, f1, f2, f3, z].map((f) => f.toString('hex')),
        );
        assert.equal(Buffer.concat(got.slice(1, 4).map((f) => f.payload)).toString('utf8'), 'price € 5');
        await r.client.in.until(() => r.client.in.frames.filter((f) => f.opcode === OP.pong).length >= 2, 3000, 'two pongs');
        assert.deepEqual(
          r.client.in.frames.filter((f) => f.opcode === OP.pong).map((f) => f.payload.toString()),
          ['a', 'b'],
        );
      } finally {
        await r.done();
      }
    });

    it('an upstream message in 3 fragments with a ping between them: the client gets the same frames, the upstream a masked pong', T, async () => {
      const r = await openRaw(stack);
      try {
        const f1 = frame(OP.binary, Buffer.from([1, 2]), { fin: false, mask: false });
        const f2 = frame(OP.cont, Buffer.from([3]), { fin: false, mask: false });
        const f3 = frame(OP.cont, Buffer.from([4, 5, 6]), { fin: true, mask: false });
        r.conn.socket.write(Buffer.concat([f1, frame(OP.ping, 'up-ping', { mask: false }), f2]));
        const pong = await r.conn.in.nextOf(OP.pong, 3000);
        assert.equal(pong.payload.toString(), 'up-ping');
        assert.equal(pong.masked, true, 'the gateway is the client on the upstream leg: its frames are masked');
        await new Promise((res) => setTimeout(res, 20));
        r.conn.socket.write(f3);
        await r.client.in.until(() => r.client.in.frames.length >= 4, 5000, 'three fragments');
        const got = r.client.in.since(1);
        assert.deepEqual(
          got.map((f) => f.raw.toString('hex')),
          [f1, f2, f3].map((f) => f.toString('hex')),
        );
      } finally {
        await r.done();
      }
    });
  });

  describe('client protocol errors', () => {
    const cases: [string, () => Buffer, number][] = [
      ['RSV1 set on a text frame', () => frame(OP.text, 'x', { rsv: 0x40 }), 1002],
      ['RSV2 set on a binary frame', () => frame(OP.binary, Buffer.from([1]), { rsv: 0x20 }), 1002],
      ['RSV3 set on a ping', () => frame(OP.ping, '', { rsv: 0x10 }), 1002],
      ['an unmasked frame', () => frame(OP.text, 'hi', { mask: false }), 1002],
      ['the unknown data opcode 3', () => frame(0x3, 'x'), 1002],
      ['the unknown control opcode 0xB', () => frame(0xb, ''), 1002],
      ['a continuation with nothing to continue', () => frame(OP.cont, 'x'), 1002],
      ['a ping over 125 bytes', () => frame(OP.ping, Buffer.alloc(126, 0x61)), 1002],
      ['a fragmented ping', () => frame(OP.ping, 'x', { fin: false }), 1002],
      ['a new message inside a fragmented one', () => Buffer.concat([frame(OP.text, 'a', { fin: false }), frame(OP.text, 'b')]), 1002],
      ['invalid UTF-8 in a short text message', () => frame(OP.text, Buffer.from([0x61, 0xff, 0x62])), 1007],
      ['invalid UTF-8 (a surrogate) at the end of a 64-byte text message', () => frame(OP.text, Buffer.concat([Buffer.alloc(61, 0x61), Buffer.from([0xed, 0xa0, 0x80])])), 1007],
      [
        'invalid UTF-8 across the fragments of a text message',
        () => Buffer.concat([frame(OP.text, Buffer.from([0x61, 0xe2, 0x82]), { fin: false }), frame(OP.cont, Buffer.from([0x28]), { fin: true })]),
        1007,
      ],
      ['a close frame with code 1005', () => frame(OP.close, closeBody(1005)), 1002],
      ['a close frame with code 999', () => frame(OP.close, closeBody(999)), 1002],
      ['a close frame with code 1015', () => frame(OP.close, closeBody(1015)), 1002],
      ['a close frame with code 5000', () => frame(OP.close, closeBody(5000)), 1002],
      ['a close frame with a 1-byte payload', () => frame(OP.close, Buffer.from([0x03])), 1002],
      ['a close reason that is not UTF-8', () => frame(OP.close, closeBody(4000, Buffer.from([0xc3, 0x28]))), 1007],
      ['a 64-bit length over 2^53', () => header64(OP.binary, 2n ** 53n + 1n, true), 1009],
      ['a 64-bit length with the top bit set', () => header64(OP.binary, 2n ** 63n + 5n, true), 1009],
      ['a header over maxMessageBytes, before any payload', () => header64(OP.binary, BigInt(MAX_MESSAGE + 1), true), 1009],
      ['a 64-bit length of 2^32 + 3 (high word 1)', () => Buffer.concat([header64(OP.binary, 2n ** 32n + 3n, true), Buffer.alloc(3)]), 1009],
      [
        'fragments over maxMessageBytes in total (each under it)',
        () => Buffer.concat([frame(OP.binary, Buffer.alloc(MAX_MESSAGE - 10), { fin: false }), frame(OP.cont, Buffer.alloc(11), { fin: true })]),
        1009,
      ],
    ];

    for (const [name, bad, expected] of cases) {
      it(`${name} → ${expected}, the relay ends, messages before it in the same write are relayed`, T, async () => {
        const r = await openRaw(stack);
        try {
          const first = frame(OP.text, `{"act":"before","case":${JSON.stringify(name)}}`);
          const second = frame(OP.binary, Buffer.from([0xde, 0xad]));
          r.client.write(Buffer.concat([first, second, bad()]));

          const { code } = await r.client.in.closeFrame(5000);
          assert.equal(code, expected, 'close code to the client');
          await withTimeout(r.client.closed, 3000, 'the gateway to close the client socket');

          // The upstream got the two messages, then a close with the same code, and nothing else.
          await r.conn.in.until(() => r.conn.relayed().some((f) => f.opcode === OP.close), 5000, 'a close upstream');
          const got = r.conn.relayed();
          assert.ok(got[0]?.raw.equals(first), 'the first message before the bad frame was relayed');
          assert.ok(got[1]?.raw.equals(second), 'the second message before the bad frame was relayed');
          assert.equal(got.length, 3, `nothing but the close after them (got opcodes ${got.map((f) => f.opcode).join(',')})`);
          assert.equal(closeOf(got[2]).code, expected, 'close code to the upstream');

          const line = await relayClosedLine(stack, r.modelId);
          assert.equal(line.outcome, 'CLIENT_PROTOCOL_ERROR');
          assert.equal(line.clientCloseCode, expected);
        } finally {
          await r.done();
        }
      });
    }

    it('a protocol error split across reads (an unmasked header arriving byte by byte) still closes with 1002', T, async () => {
      const r = await openRaw(stack);
      try {
        await writeInPieces(r.client.socket, frame(OP.binary, Buffer.alloc(200), { mask: false }).subarray(0, 4), () => 1, 5);
        const { code } = await r.client.in.closeFrame(5000);
        assert.equal(code, 1002);
        await withTimeout(r.client.closed, 3000, 'the client socket to close');
      } finally {
        await r.done();
      }
    });
  });

  describe('client protocol errors before the confirmation', () => {
    it('a ping before the confirmation is answered; the message after it is held and relayed', T, async () => {
      const up = await startRawUpstream({ onConnectAct: () => {} });
      try {
        const model = await stack.store.createModel(stack.orgId, { wsUrl: up.url, wsToken: stack.wsToken });
        const client = await RawClient.open(gatewayPort(stack), relayPath(model.id), { 'X-API-Key': stack.apiKey });
        try {
          const held = frame(OP.text, '{"act":"held"}');
          client.write(Buffer.concat([frame(OP.ping, 'early'), held]));
          const pong = await client.in.next(5000, 'the pong');
          assert.equal(pong.opcode, OP.pong);
          assert.equal(pong.payload.toString(), 'early');
          const conn = await up.conn();
          await new Promise((res) => setTimeout(res, 50));
          assert.equal(conn.relayed().length, 0, 'nothing relayed before the upstream confirmed');
          conn.socket.write(frame(OP.text, CONNECTED_REPLY, { mask: false }));
          await client.confirmed();
          const got = await conn.in.next(5000, 'the held message');
          assert.ok(got.raw.equals(held));
        } finally {
          client.destroy();
        }
      } finally {
        await up.close();
      }
    });

    it('a bad frame in the same write as the upgrade request → 1002, no upstream is opened', T, async () => {
      const up = await startRawUpstream();
      try {
        const model = await stack.store.createModel(stack.orgId, { wsUrl: up.url, wsToken: stack.wsToken });
        const client = await RawClient.open(gatewayPort(stack), relayPath(model.id), { 'X-API-Key': stack.apiKey }, frame(OP.text, 'x', { mask: false }));
        try {
          const pair = relayOf(stack, client);
          const { code } = await client.in.closeFrame(5000);
          assert.equal(code, 1002);
          assert.ok(!client.in.frames.some((f) => f.opcode === OP.text && f.payload.includes('"connected":true')), 'no confirmation');
          await withTimeout(client.closed, 3000, 'the client socket to close');
          // Never admitted, so the relay is found by its socket rather than its log line's modelId.
          assert.ok(pair, 'the relay is tracked from the upgrade on');
          await waitFor(() => !stack.gateway.registry.all.has(pair), 5000, 'the relay to finish');
          assert.equal(pair.outcome, 'CLIENT_PROTOCOL_ERROR');
          assert.equal(pair.clientCloseCode, 1002);
          await new Promise((res) => setTimeout(res, 100));
          assert.equal(up.conns.length, 0, 'no upstream socket was opened for a relay that already failed');
        } finally {
          client.destroy();
        }
      } finally {
        await up.close();
      }
    });

    it('held messages before a bad frame in the upgrade write are not relayed (the relay never opened)', T, async () => {
      const up = await startRawUpstream();
      try {
        const model = await stack.store.createModel(stack.orgId, { wsUrl: up.url, wsToken: stack.wsToken });
        const extra = Buffer.concat([frame(OP.text, '{"act":"early"}'), frame(OP.binary, Buffer.from([1]), { rsv: 0x40 })]);
        const client = await RawClient.open(gatewayPort(stack), relayPath(model.id), { 'X-API-Key': stack.apiKey }, extra);
        try {
          const pair = relayOf(stack, client);
          assert.equal((await client.in.closeFrame(5000)).code, 1002);
          assert.ok(pair, 'the relay is tracked from the upgrade on');
          await waitFor(() => !stack.gateway.registry.all.has(pair), 5000, 'the relay to finish');
          await new Promise((res) => setTimeout(res, 100));
          assert.equal(up.conns.length, 0);
        } finally {
          client.destroy();
        }
      } finally {
        await up.close();
      }
    });
  });

  describe('upstream protocol errors', () => {
    it('a protocol error before the connected reply → WS_CONNECT_ERROR, stage auth, naming the problem', T, async () => {
      const up = await startRawUpstream({
        onConnectAct: (conn) => conn.socket.write(frame(OP.text, CONNECTED_REPLY, { mask: true })),
      });
      try {
        const model = await stack.store.createModel(stack.orgId, { wsUrl: up.url, wsToken: stack.wsToken });
        const client = await RawClient.open(gatewayPort(stack), relayPath(model.id), { 'X-API-Key': stack.apiKey });
        try {
          const body = JSON.parse((await client.in.next(5000, 'the error frame')).payload.toString()) as Record<string, unknown>;
          assert.equal(body.code, 'WS_CONNECT_ERROR');
          assert.equal(body.stage, 'auth');
          assert.match(body.error as string, /masked frame/);
          assert.equal((await client.in.closeFrame(5000)).code, 4502);
        } finally {
          client.destroy();
        }
      } finally {
        await up.close();
      }
    });

    const cases: [string, () => Buffer, number][] = [
      ['a masked frame', () => frame(OP.text, '{"x":1}', { mask: true }), 1002],
      ['RSV1 set', () => frame(OP.text, '{"x":1}', { mask: false, rsv: 0x40 }), 1002],
      ['invalid UTF-8 text', () => frame(OP.text, Buffer.from([0x7b, 0xff, 0x7d]), { mask: false }), 1007],
      ['the unknown opcode 5', () => frame(0x5, 'x', { mask: false }), 1002],
      ['a continuation with nothing to continue', () => frame(OP.cont, 'x', { mask: false }), 1002],
      ['a close frame with code 1006', () => frame(OP.close, closeBody(1006), { mask: false }), 1002],
      ['a message over upstreamMaxMessageBytes (header only)', () => header64(OP.binary, BigInt(UPSTREAM_MAX_MESSAGE + 1), false), 1009],
      [
        'invalid UTF-8 across the fragments of a text message',
        () => Buffer.concat([frame(OP.text, Buffer.from([0x7b, 0xf0, 0x9f]), { fin: false, mask: false }), frame(OP.cont, Buffer.from([0x7d]), { mask: false })]),
        1007,
      ],
      ['a ping over 125 bytes', () => frame(OP.ping, Buffer.alloc(126), { mask: false }), 1002],
      ['a fragmented ping', () => frame(OP.ping, 'x', { fin: false, mask: false }), 1002],
      ['a close frame with a 1-byte payload', () => frame(OP.close, Buffer.from([3]), { mask: false }), 1002],
      ['a close reason that is not UTF-8', () => frame(OP.close, closeBody(4000, Buffer.from([0xff])), { mask: false }), 1007],
    ];
    for (const [name, bad, upstreamCode] of cases) {
      it(`${name} → 1014 to the client naming the upstream, ${upstreamCode} to the upstream`, T, async () => {
        const r = await openRaw(stack);
        try {
          const good = frame(OP.text, '{"api2_chat_message":{"id":7}}', { mask: false });
          r.conn.socket.write(Buffer.concat([good, bad()]));
          const first = await r.client.in.next(5000, 'the message before the bad frame');
          assert.ok(first.raw.equals(good), 'the message before the bad frame reached the client');
          const { code, reason } = await r.client.in.closeFrame(5000);
          assert.equal(code, 1014);
          assert.match(reason, /upstream/);
          r.client.write(frame(OP.close, closeBody(1014)));
          await r.conn.in.until(() => r.conn.relayed().some((f) => f.opcode === OP.close), 5000, 'a close to the upstream');
          const close = r.conn.relayed().find((f) => f.opcode === OP.close);
          assert.equal(closeOf(close).code, upstreamCode);
          assert.equal(close?.masked, true);
          const line = await relayClosedLine(stack, r.modelId);
          assert.equal(line.outcome, 'UPSTREAM_FAILED');
        } finally {
          await r.done();
        }
      });
    }
  });

  describe('handshakes', () => {
    it('a missing Sec-WebSocket-Key → 400 JSON BAD_HANDSHAKE', T, async () => {
      const port = gatewayPort(stack);
      const res = await httpExchange(port, upgradeRequest(relayPath(stack.modelId), port, { 'Sec-WebSocket-Key': null, 'X-API-Key': stack.apiKey }));
      assert.equal(res.status, 400);
      assert.match(res.headers['content-type'] ?? '', /application\/json/);
      assert.equal((JSON.parse(res.body) as { code: string }).code, 'BAD_HANDSHAKE');
    });

    for (const key of ['abc', 'not base64 at all!!!!!==', Buffer.alloc(20).toString('base64')]) {
      it(`an invalid Sec-WebSocket-Key (${JSON.stringify(key)}) → 400 JSON BAD_HANDSHAKE`, T, async () => {
        const port = gatewayPort(stack);
        const res = await httpExchange(port, upgradeRequest(relayPath(stack.modelId), port, { 'Sec-WebSocket-Key': key, 'X-API-Key': stack.apiKey }));
        assert.equal(res.status, 400);
        const body = JSON.parse(res.body) as { code: string; error: string };
        assert.equal(body.code, 'BAD_HANDSHAKE');
        assert.match(body.error, /Sec-WebSocket-Key/);
      });
    }

    it('Sec-WebSocket-Version 12 → 400 with a Sec-WebSocket-Version header', T, async () => {
      const port = gatewayPort(stack);
      const res = await httpExchange(port, upgradeRequest(relayPath(stack.modelId), port, { 'Sec-WebSocket-Version': '12', 'X-API-Key': stack.apiKey }));
      assert.equal(res.status, 400);
      assert.match(res.headers['sec-websocket-version'] ?? '', /\b13\b/);
      assert.equal((JSON.parse(res.body) as { code: string }).code, 'BAD_HANDSHAKE');
    });

    it('a missing Sec-WebSocket-Version → 400', T, async () => {
      const port = gatewayPort(stack);
      const res = await httpExchange(port, upgradeRequest(relayPath(stack.modelId), port, { 'Sec-WebSocket-Version': null, 'X-API-Key': stack.apiKey }));
      assert.equal(res.status, 400);
      assert.equal((JSON.parse(res.body) as { code: string }).code, 'BAD_HANDSHAKE');
    });

    it('an upgrade with POST → 405 with Allow: GET', T, async () => {
      const port = gatewayPort(stack);
      const res = await httpExchange(port, upgradeRequest(relayPath(stack.modelId), port, { 'X-API-Key': stack.apiKey, 'Content-Length': '0' }, 'POST'));
      assert.equal(res.status, 405);
      assert.equal(res.headers.allow, 'GET');
      assert.equal((JSON.parse(res.body) as { code: string }).code, 'BAD_HANDSHAKE');
    });

    it('the first subprotocol offered is echoed; no extension is negotiated even when offered', T, async () => {
      const r = await openRaw(stack, {}, { 'Sec-WebSocket-Protocol': 'chat, superchat', 'Sec-WebSocket-Extensions': 'permessage-deflate; client_max_window_bits' });
      try {
        assert.equal(r.client.headers['sec-websocket-protocol'], 'chat');
        assert.equal(r.client.headers['sec-websocket-extensions'], undefined);
        assert.equal(r.conn.request.headers['sec-websocket-extensions'], undefined, 'no extension offered upstream');
        assert.equal(r.conn.request.headers['sec-websocket-version'], '13');
        // The relay works: a message goes through.
        const m = frame(OP.text, '{"act":"x"}');
        r.client.write(m);
        const f = await r.conn.in.next(5000);
        assert.ok(f.raw.equals(m));
      } finally {
        await r.done();
      }
    });

    const badUpstreams: [string, (accept: string) => string, RegExp][] = [
      ['a wrong Sec-WebSocket-Accept', () => `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${Buffer.alloc(20).toString('base64')}\r\n\r\n`, /Sec-WebSocket-Accept/],
      ['no Sec-WebSocket-Accept', () => 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n', /Sec-WebSocket-Accept/],
      ['a Sec-WebSocket-Extensions header', (a) => `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${a}\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n`, /extension/],
      ['no Connection: Upgrade header', (a) => `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: ${a}\r\n\r\n`, /Connection|Upgrade/],
      ['no Upgrade header', (a) => `HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${a}\r\n\r\n`, /Upgrade/],
      ['Upgrade: h2c', (a) => `HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${a}\r\n\r\n`, /Upgrade: websocket/],
      ['a Sec-WebSocket-Protocol header', (a) => `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${a}\r\nSec-WebSocket-Protocol: chat\r\n\r\n`, /subprotocol/],
    ];
    for (const [name, answer, message] of badUpstreams) {
      it(`an upstream answering 101 with ${name} → WS_CONNECT_ERROR, stage handshake`, T, async () => {
        const up = await startRawUpstream({ answer });
        try {
          const model = await stack.store.createModel(stack.orgId, { wsUrl: up.url, wsToken: stack.wsToken });
          const client = await RawClient.open(gatewayPort(stack), relayPath(model.id), { 'X-API-Key': stack.apiKey });
          try {
            const f = await client.in.next(5000, 'the error frame');
            const body = JSON.parse(f.payload.toString('utf8')) as Record<string, unknown>;
            assert.equal(body.code, 'WS_CONNECT_ERROR');
            assert.equal(body.stage, 'handshake');
            assert.match(body.error as string, message);
            assert.doesNotMatch(body.error as string, /HTTP 101 instead of 101/, 'the error text must say what was wrong with the 101');
            assert.ok(!JSON.stringify(body).includes(stack.wsToken));
            const close = await client.in.closeFrame(5000);
            assert.equal(close.code, 4502);
            assert.equal(close.reason, 'WS_CONNECT_ERROR');
            assert.equal(up.conns.length, 0, 'no connect act (and so no token) was sent to it');
          } finally {
            client.destroy();
          }
        } finally {
          await up.close();
        }
      });
    }
  });

  describe('close handshake', () => {
    it('the client closes with 4001 "bye": the upstream gets 4001 "bye", the client gets the echo', T, async () => {
      const r = await openRaw(stack);
      try {
        r.client.write(frame(OP.close, closeBody(4001, 'bye')));
        const echo = await r.client.in.closeFrame(5000);
        assert.deepEqual({ code: echo.code, reason: echo.reason }, { code: 4001, reason: 'bye' });
        await withTimeout(r.client.closed, 3000, 'the gateway to end the client socket');
        await r.conn.in.until(() => r.conn.relayed().some((f) => f.opcode === OP.close), 5000, 'a close upstream');
        const up = r.conn.relayed().find((f) => f.opcode === OP.close);
        assert.deepEqual(closeOf(up), { code: 4001, reason: 'bye' });
        assert.equal(up?.masked, true);
        await withTimeout(r.conn.closed, 3000, 'the upstream socket to close after the echo');
        const line = await relayClosedLine(stack, r.modelId);
        assert.equal(line.clientCloseCode, 4001);
        assert.equal(line.upstreamCloseCode, 4001);
      } finally {
        await r.done();
      }
    });

    it('the upstream closes with 4002 "later": the client gets 4002 "later", the upstream the echo', T, async () => {
      const r = await openRaw(stack);
      try {
        r.conn.socket.write(frame(OP.close, closeBody(4002, 'later'), { mask: false }));
        const close = await r.client.in.closeFrame(5000);
        assert.deepEqual({ code: close.code, reason: close.reason }, { code: 4002, reason: 'later' });
        const echo = await r.conn.in.nextOf(OP.close, 5000);
        assert.deepEqual(closeOf(echo), { code: 4002, reason: 'later' });
        r.client.write(frame(OP.close, closeBody(4002, 'later')));
        await withTimeout(r.client.closed, 3000, 'the client socket to close after its echo');
        const line = await relayClosedLine(stack, r.modelId);
        assert.equal(line.upstreamCloseCode, 4002);
      } finally {
        await r.done();
      }
    });

    it('messages before a close in the same write go upstream first, in order', T, async () => {
      const r = await openRaw(stack);
      try {
        const a = frame(OP.text, '{"act":"a"}');
        const b = frame(OP.binary, Buffer.from([7]));
        r.client.write(Buffer.concat([a, b, frame(OP.close, closeBody(1000, 'done')), frame(OP.text, '{"act":"after-close"}')]));
        await r.conn.in.until(() => r.conn.relayed().some((f) => f.opcode === OP.close), 5000, 'a close upstream');
        await new Promise((res) => setTimeout(res, 50));
        const got = r.conn.relayed();
        assert.ok(got[0]?.raw.equals(a));
        assert.ok(got[1]?.raw.equals(b));
        assert.deepEqual(closeOf(got[2]), { code: 1000, reason: 'done' });
        assert.equal(got.length, 3, 'nothing after the close is relayed');
      } finally {
        await r.done();
      }
    });

    it('an empty close from the client: 1000 upstream, an empty close echoed', T, async () => {
      const r = await openRaw(stack);
      try {
        r.client.write(frame(OP.close));
        const echo = await r.client.in.closeFrame(5000);
        assert.equal(echo.raw.length, 0);
        const up = await r.conn.in.nextOf(OP.close, 5000);
        assert.deepEqual(closeOf(up), { code: 1000, reason: '' });
      } finally {
        await r.done();
      }
    });

    it('an upstream empty close → 1014 to the client', T, async () => {
      const r = await openRaw(stack);
      try {
        r.conn.socket.write(frame(OP.close, Buffer.alloc(0), { mask: false }));
        const close = await r.client.in.closeFrame(5000);
        assert.equal(close.code, 1014);
      } finally {
        await r.done();
      }
    });
  });

  describe('control frames', () => {
    it("a client ping is answered with its payload; pongs and pings are never forwarded", T, async () => {
      const r = await openRaw(stack);
      try {
        const payload = Buffer.alloc(125, 0x70);
        const w = frame(OP.text, 'w');
        const x = frame(OP.text, 'x');
        r.client.write(Buffer.concat([w, frame(OP.ping, payload), frame(OP.pong, 'unsolicited'), frame(OP.ping), x]));
        const pong = await r.client.in.next(3000, 'the pong');
        assert.equal(pong.opcode, OP.pong);
        assert.ok(pong.payload.equals(payload));
        const empty = await r.client.in.next(3000, 'the second pong');
        assert.equal(empty.opcode, OP.pong);
        assert.equal(empty.payload.length, 0);
        await r.conn.in.until(() => r.conn.relayed().length >= 2, 5000, 'two messages');
        await new Promise((res) => setTimeout(res, 50));
        assert.deepEqual(
          r.conn.relayed().map((f) => f.raw.toString('hex')),
          [w, x].map((f) => f.toString('hex')),
          'exactly the two messages, without the control frames between them',
        );
      } finally {
        await r.done();
      }
    });

    it('an upstream ping between events is answered upstream and not forwarded', T, async () => {
      const r = await openRaw(stack);
      try {
        const e1 = frame(OP.text, '{"e":1}', { mask: false });
        const e2 = frame(OP.text, '{"e":2}', { mask: false });
        r.conn.socket.write(Buffer.concat([e1, frame(OP.ping, 'hb', { mask: false }), e2]));
        const pong = await r.conn.in.nextOf(OP.pong, 3000);
        assert.equal(pong.payload.toString(), 'hb');
        await r.client.in.until(() => r.client.in.frames.length >= 3, 5000, 'two events');
        await new Promise((res) => setTimeout(res, 50));
        assert.deepEqual(
          r.client.in.since(1).map((f) => f.raw.toString('hex')),
          [e1, e2].map((f) => f.toString('hex')),
        );
      } finally {
        await r.done();
      }
    });
  });
});

describe('frame scanner limits', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({
      config: { maxBufferedChunks: 8, maxFragments: 4, handshakeTimeoutMs: 300, heartbeatIntervalMs: 600_000, messageBurst: 10, messagesPerSecond: 1 },
      simulator: { invalidCommandCloseMs: false },
    });
  });
  after(async () => {
    await stack.close();
  });

  it('a frame in a few pieces is fine under maxBufferedChunks', T, async () => {
    const r = await openRaw(stack);
    try {
      const f = frame(OP.binary, Buffer.alloc(400, 3));
      await writeInPieces(r.client.socket, f, () => 100, 15);
      const got = await r.conn.in.next(5000);
      assert.ok(got.raw.equals(f));
    } finally {
      await r.done();
    }
  });

  it('a frame dribbled in more pieces than maxBufferedChunks → 1008', T, async () => {
    const r = await openRaw(stack);
    try {
      const f = frame(OP.binary, Buffer.alloc(400, 3));
      // 10-byte pieces 10 ms apart: each its own read, far more than 8 of them.
      const writing = writeInPieces(r.client.socket, f, () => 10, 10).catch(() => 0);
      const { code } = await r.client.in.closeFrame(5000);
      assert.equal(code, 1008);
      await writing;
      const up = await r.conn.in.nextOf(OP.close, 5000);
      assert.equal(closeOf(up).code, 1008);
    } finally {
      await r.done();
    }
  });

  it('a message in more fragments than maxFragments → 1008, even with every fragment in one read', T, async () => {
    const r = await openRaw(stack);
    try {
      const frags = [frame(OP.text, 'a', { fin: false })];
      for (let i = 0; i < 5; i++) frags.push(frame(OP.cont, 'b', { fin: false }));
      frags.push(frame(OP.cont, 'c', { fin: true }));
      r.client.write(Buffer.concat(frags));
      const { code } = await r.client.in.closeFrame(5000);
      assert.equal(code, 1008);
      const up = await r.conn.in.nextOf(OP.close, 5000);
      assert.equal(closeOf(up).code, 1008);
      assert.equal(r.conn.relayed().filter((f) => f.opcode !== OP.close).length, 0, 'no fragment relayed');
    } finally {
      await r.done();
    }
  });

  it('a message in exactly maxFragments fragments is relayed', T, async () => {
    const r = await openRaw(stack);
    try {
      const frags = [frame(OP.text, 'a', { fin: false }), frame(OP.cont, 'b', { fin: false }), frame(OP.cont, 'c', { fin: false }), frame(OP.cont, 'd', { fin: true })];
      r.client.write(Buffer.concat(frags));
      await r.conn.in.until(() => r.conn.relayed().length >= 4, 5000, 'four fragments');
      assert.equal(Buffer.concat(r.conn.relayed().map((f) => f.payload)).toString(), 'abcd');
    } finally {
      await r.done();
    }
  });

  it('a rate limit reached in the middle of one read: the messages before it are relayed, the rest not, then RATE_LIMITED', T, async () => {
    const r = await openRaw(stack);
    try {
      const sent = Array.from({ length: 20 }, (_, i) => frame(OP.text, `{"act":"m","i":${i}}`));
      r.client.write(Buffer.concat(sent));
      const error = await r.client.in.next(5000, 'the error frame');
      assert.equal((JSON.parse(error.payload.toString()) as { code: string }).code, 'RATE_LIMITED');
      assert.equal((await r.client.in.closeFrame(5000)).code, 4429);
      await r.conn.in.until(() => r.conn.relayed().some((f) => f.opcode === OP.close), 5000, 'a close upstream');
      const got = r.conn.relayed();
      const data = got.filter((f) => f.opcode !== OP.close);
      assert.deepEqual(
        data.map((f) => f.raw.toString('hex')),
        sent.slice(0, 10).map((f) => f.toString('hex')),
        'exactly the burst of 10, byte-exact, before the close',
      );
      assert.equal(got[got.length - 1]?.opcode, OP.close);
    } finally {
      await r.done();
    }
  });

  it('an open relay outlives handshakeTimeoutMs (the upgraded socket is not cut by the HTTP timeouts)', T, async () => {
    const r = await openRaw(stack);
    try {
      await new Promise((res) => setTimeout(res, 1500));
      const m = frame(OP.text, '{"act":"still-here"}');
      r.client.write(m);
      const got = await r.conn.in.next(3000, 'the message after 1.5 s');
      assert.ok(got.raw.equals(m));
      r.conn.socket.write(frame(OP.text, '{"e":"still-here"}', { mask: false }));
      const back = await r.client.in.next(3000, 'the event after 1.5 s');
      assert.equal(back.payload.toString(), '{"e":"still-here"}');
    } finally {
      await r.done();
    }
  });
});
