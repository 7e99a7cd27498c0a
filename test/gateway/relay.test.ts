/**
 * Contract §4: bytes and frame type preserved both ways, in order; the upstream's own
 * handshake reply consumed; pre-confirmation messages held in order; close codes passed
 * through both ways with 1005/1006 mapped; oversize messages closed with 1009.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MODEL_USER_ID, openRelay, startScriptedUpstream, startStack, TestClient, waitFor, type Stack } from '../helpers.js';

describe('relaying', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({
      config: { maxMessageBytes: 64 * 1024, upstreamMaxMessageBytes: 128 * 1024, pendingMessages: 3, pendingBytes: 1000 },
      simulator: { invalidCommandCloseMs: false },
    });
  });
  after(async () => {
    await stack.close();
  });

  it('relays get_onlines and its answer (contract §5)', async () => {
    stack.sim.setOnline(['12345678']);
    const client = await openRelay(stack);
    client.socket.send(JSON.stringify({ act: 'get_onlines', ids: ['12345678', '87654321'] }));
    assert.deepEqual((await client.next()).json(), { online: ['12345678'] });
    client.socket.close();
    await client.closed;
  });

  it('preserves bytes and frame type in both directions', async () => {
    const client = await openRelay(stack);
    const before = stack.sim.received.length;
    const text = '{"act":"typing","typing_to":123,"note":"héllo ✓"}';
    const binary = Buffer.from([0, 1, 2, 0xfe, 0xff, 0x7b]);
    client.socket.send(text);
    client.socket.send(binary);
    await waitFor(() => stack.sim.received.length >= before + 2, 5000, 'two upstream messages');
    const [t, b] = stack.sim.received.slice(before);
    assert.equal(t?.isBinary, false);
    assert.equal(t?.data.toString('utf8'), text);
    assert.equal(b?.isBinary, true);
    assert.ok(b?.data.equals(binary));

    stack.sim.push(MODEL_USER_ID, '{"api2_chat_message":{"id":1,"text":"<p>hi</p>"}}');
    stack.sim.push(MODEL_USER_ID, Buffer.from([9, 8, 7]), { binary: true });
    stack.sim.push(MODEL_USER_ID, '{"typing":{"id":5}}', { binary: true });
    const f1 = await client.next();
    assert.equal(f1.isBinary, false);
    assert.equal(f1.text, '{"api2_chat_message":{"id":1,"text":"<p>hi</p>"}}');
    const f2 = await client.next();
    assert.equal(f2.isBinary, true);
    assert.ok(f2.data.equals(Buffer.from([9, 8, 7])));
    const f3 = await client.next();
    assert.equal(f3.isBinary, true);
    assert.equal(f3.text, '{"typing":{"id":5}}');
    client.socket.close();
    await client.closed;
  });

  it('keeps order under load in both directions', async () => {
    const client = await openRelay(stack);
    const n = 3000;
    const before = stack.sim.received.length;
    for (let i = 0; i < n; i++) client.socket.send(`{"act":"seq","i":${i}}`);
    for (let i = 0; i < n; i++) stack.sim.push(MODEL_USER_ID, `{"seq":${i}}`);
    for (let i = 0; i < n; i++) assert.equal((await client.next()).text, `{"seq":${i}}`);
    await waitFor(() => stack.sim.received.length >= before + n, 10_000, `${n} upstream messages`);
    const got = stack.sim.received.slice(before, before + n).map((r) => JSON.parse(r.data.toString()) as { i: number });
    assert.deepEqual(got.map((g) => g.i), Array.from({ length: n }, (_, i) => i));
    client.socket.close();
    await client.closed;
  });

  it('holds messages sent before the confirmation and delivers them in order', async () => {
    const before = stack.sim.received.length;
    const client = new TestClient(stack.relayUrl(), { headers: { 'X-API-Key': stack.apiKey } });
    // Sent on open, before the gateway has even checked the key; more than pendingMessages,
    // so the client is paused and resumed on the way.
    client.socket.once('open', () => {
      for (let i = 0; i < 8; i++) client.socket.send(`{"act":"early","i":${i}}`);
    });
    await client.confirmed();
    await waitFor(() => stack.sim.received.length >= before + 8, 5000, 'the held messages');
    const got = stack.sim.received.slice(before).map((r) => r.data.toString());
    assert.deepEqual(got, Array.from({ length: 8 }, (_, i) => `{"act":"early","i":${i}}`));
    client.socket.close();
    await client.closed;
  });

  it('ends with RATE_LIMITED when held messages pass the hard bound', async () => {
    const token = stack.sim.issueToken({ userId: 77 });
    stack.sim.setFault({ kind: 'silence' }, { userId: 77 });
    const model = await stack.store.createModel(stack.orgId, { wsUrl: stack.sim.wsUrl(), wsToken: token });
    const client = new TestClient(stack.relayUrl(model.id), { headers: { 'X-API-Key': stack.apiKey } });
    client.socket.once('open', () => client.socket.send('x'.repeat(5000)));
    const frame = (await client.next()).json();
    assert.equal(frame.code, 'RATE_LIMITED');
    assert.equal(typeof frame.retryAfterMs, 'number');
    assert.equal((await client.closed).code, 4429);
    stack.sim.clearFaults();
  });

  it('closes a client message over maxMessageBytes with 1009', async () => {
    const client = await openRelay(stack);
    client.socket.send(Buffer.alloc(64 * 1024 + 1));
    assert.equal((await client.closed).code, 1009);
  });

  it('closes a client message split into more than maxFragments fragments with 1008', async () => {
    const client = await openRelay(stack);
    // 1025 continuation frames of one byte: tiny, but each one costs the receiver bookkeeping.
    for (let i = 0; i < 1025; i++) client.socket.send('a', { fin: false });
    client.socket.send('a', { fin: true });
    assert.equal((await client.closed).code, 1008);
  });

  it('closes the client with 1014 when the upstream sends a message over its limit', async () => {
    const client = await openRelay(stack);
    stack.sim.push(MODEL_USER_ID, Buffer.alloc(128 * 1024 + 1), { binary: true });
    const { code, reason } = await client.closed;
    assert.equal(code, 1014);
    assert.match(reason, /upstream/);
  });
});

describe('close codes', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack();
  });
  after(async () => {
    await stack.close();
  });

  async function relayTo(upstreamUrl: string): Promise<TestClient> {
    const model = await stack.store.createModel(stack.orgId, { wsUrl: upstreamUrl, wsToken: stack.wsToken });
    const client = new TestClient(stack.relayUrl(model.id), { headers: { 'X-API-Key': stack.apiKey } });
    await client.confirmed();
    return client;
  }

  const clientCases: [string, (c: TestClient) => void, { code: number; reason: string }][] = [
    ['a sendable code and reason', (c) => c.socket.close(4321, 'bye now'), { code: 4321, reason: 'bye now' }],
    ['1001 going away', (c) => c.socket.close(1001), { code: 1001, reason: '' }],
    ['no code (1005) as 1000', (c) => c.socket.close(), { code: 1000, reason: '' }],
    ['an abrupt drop (1006) as 1014', (c) => c.socket.terminate(), { code: 1014, reason: '' }],
  ];
  for (const [name, close, expected] of clientCases) {
    it(`client → upstream: ${name}`, async () => {
      const upstream = await startScriptedUpstream();
      try {
        const client = await relayTo(upstream.url);
        close(client);
        await waitFor(() => upstream.closes.length > 0, 5000, 'the upstream close');
        assert.deepEqual(upstream.closes[0], expected);
      } finally {
        await upstream.close();
      }
    });
  }

  const upstreamCases: [string, (ws: import('ws').WebSocket) => void, { code: number; reason?: string | RegExp }][] = [
    ['a sendable code and reason', (ws) => ws.close(4000, 'model logged out'), { code: 4000, reason: 'model logged out' }],
    ['1000', (ws) => ws.close(1000), { code: 1000, reason: '' }],
    ['1011', (ws) => ws.close(1011, 'oops'), { code: 1011, reason: 'oops' }],
    ['no code (1005) as 1014', (ws) => ws.close(), { code: 1014 }],
    ['an abrupt drop (1006) as 1014', (ws) => ws.terminate(), { code: 1014 }],
  ];
  for (const [name, close, expected] of upstreamCases) {
    it(`upstream → client: ${name}`, async () => {
      const upstream = await startScriptedUpstream();
      try {
        const client = await relayTo(upstream.url);
        close(await upstream.socket());
        const got = await client.closed;
        assert.equal(got.code, expected.code);
        if (typeof expected.reason === 'string') assert.equal(got.reason, expected.reason);
      } finally {
        await upstream.close();
      }
    });
  }

  it('upstream → client: a TCP reset from the simulator is 1014', async () => {
    const client = await openRelay(stack);
    await waitFor(() => stack.sim.connectionCount(MODEL_USER_ID) > 0, 5000, 'the upstream socket');
    stack.sim.dropConnections(MODEL_USER_ID, 'reset');
    assert.equal((await client.closed).code, 1014);
  });
});
