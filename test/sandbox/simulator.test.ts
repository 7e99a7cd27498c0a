import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startSimulator } from '../../src/sandbox/index.js';
import {
  CONNECTED_REPLY,
  TestClient,
  connectAs,
  failedUpgrade,
  openClient,
  startTestSimulator,
  waitFor,
  within,
} from './helpers.js';

test('serves /ws3/<n>, /ws2/ and /ws2, and answers other paths with 404', async (t) => {
  const sim = await startTestSimulator(t);
  const base = `ws://127.0.0.1:${sim.port}`;
  for (const path of ['/ws3/24', '/ws3/30', '/ws2/', '/ws2']) {
    const client = await openClient(t, base + path);
    client.sendJson({ act: 'connect', token: sim.issueToken({ userId: 1 }) });
    assert.equal((await client.next()).data.toString(), CONNECTED_REPLY, path);
  }
  for (const path of ['/ws3/abc', '/ws3/', '/ws4/1', '/']) {
    const failure = await failedUpgrade(base + path);
    assert.ok('status' in failure, path);
    assert.equal(failure.status, 404, path);
  }
  const plain = await fetch(`http://127.0.0.1:${sim.port}/nothing`);
  assert.equal(plain.status, 404);
  await plain.text();
});

test('connect in a text frame gets exactly the spaced reply as its first frame', async (t) => {
  const sim = await startTestSimulator(t);
  assert.equal(sim.wsUrl(), `ws://127.0.0.1:${sim.port}/ws3/24`);
  const client = await openClient(t, sim.wsUrl());
  client.sendJson({ act: 'connect', token: sim.issueToken({ userId: 562630475 }) });
  const reply = await client.next();
  assert.equal(reply.isBinary, false);
  assert.deepEqual(reply.data, Buffer.from('{"connected": true, "v": "5.4.0"}'));
  assert.equal(sim.connectionCount(562630475), 1);
  assert.equal(sim.connectionCount('562630475'), 1);
});

test('connect in a binary frame is accepted too (GM sends it that way)', async (t) => {
  const sim = await startTestSimulator(t, { version: '4.1' });
  const client = await openClient(t, sim.wsUrl(7));
  client.sendJson({ act: 'connect', token: sim.issueToken({ userId: 'abc' }) }, true);
  assert.equal((await client.next()).data.toString(), '{"connected": true, "v": "4.1"}');
});

test('initialCounters sends a counters frame right after the reply', async (t) => {
  const sim = await startTestSimulator(t, { initialCounters: true, seed: 1 });
  const client = await connectAs(t, sim, 5);
  const frame = (await client.nextJson()) as Record<string, unknown>;
  assert.deepEqual(Object.keys(frame), ['chat_messages', 'count_priority_chat', 'unread_tips']);
  assert.ok(Object.values(frame).every((n) => Number.isInteger(n)));
});

test('a bad signature, an expired token, garbage or a non-connect first frame get {"error":1} and a close', async (t) => {
  const sim = await startTestSimulator(t);
  const other = await startSimulator({ secret: 'another-secret' });
  const foreign = other.issueToken({ userId: 1 });
  await other.close();
  const firstFrames: unknown[] = [
    { act: 'connect', token: foreign },
    { act: 'connect', token: sim.issueToken({ userId: 1, ttlSeconds: -5 }) },
    { act: 'connect', token: 'not-a-jwt' },
    { act: 'connect', token: 'eyJ.eyJ.sig' },
    { act: 'connect' },
    { act: 'get_onlines', ids: [] },
    {},
  ];
  for (const first of firstFrames) {
    const client = await openClient(t, sim.wsUrl());
    client.sendJson(first);
    const reply = await client.next();
    assert.equal(reply.data.toString(), '{"error":1}', JSON.stringify(first));
    const closed = await within(client.closed);
    assert.equal(closed.code, 1000);
    assert.equal(closed.reason, 'authentication failed');
  }
  // Garbage bytes, not JSON at all.
  const client = await openClient(t, sim.wsUrl());
  client.ws.send('\u0000garbage');
  assert.equal((await client.next()).data.toString(), '{"error":1}');
  await within(client.closed);
  assert.equal(sim.connectionCount(), 0);
});

test('get_onlines lists the requested online ids in their requested type', async (t) => {
  const sim = await startTestSimulator(t);
  sim.setOnline([101, '202', 303]);
  const client = await connectAs(t, sim, 1);
  assert.deepEqual(await client.roundTrip([101, 202, '303', 404, '101']), { online: [101, 202, '303', '101'] });
  assert.deepEqual(await client.roundTrip(['404']), { online: [] });

  client.sendJson({ act: 'get_onlines', ids: [] });
  assert.equal((await client.next()).data.toString(), '{"online":[]}');
  client.sendJson({ act: 'get_onlines' });
  assert.equal((await client.next()).data.toString(), '{"online":[]}');
  client.sendJson({ act: 'get_onlines', ids: [101] }, true);
  assert.equal((await client.next()).data.toString(), '{"online":[101]}');

  sim.setOnline([]);
  assert.deepEqual(await client.roundTrip([101]), { online: [] });
});

test('a repeated connect, ping, typing and unknown acts are ignored and the socket stays usable', async (t) => {
  const sim = await startTestSimulator(t, { invalidCommandCloseMs: 50 });
  const client = await connectAs(t, sim, 1);
  client.sendJson({ act: 'connect', token: sim.issueToken({ userId: 1 }) });
  client.sendJson({ act: 'ping' });
  client.sendJson({ act: 'typing', typing_to: 42 });
  client.sendJson({ act: 'whatever', x: [1] });
  // The server handles frames in order, so a reply to anything above would arrive first.
  assert.deepEqual(await client.roundTrip(), { online: [] });
  assert.equal(client.ws.readyState, client.ws.OPEN);
  assert.equal(sim.connectionCount(1), 1);
});

test('a frame without a string act closes the socket after invalidCommandCloseMs', async (t) => {
  const sim = await startTestSimulator(t, { invalidCommandCloseMs: 60 });
  for (const frame of ['{}', 'not json', '{"act":5}', '[]']) {
    const client = await connectAs(t, sim, 1);
    const sentAt = Date.now();
    client.ws.send(frame);
    // Still served until the delay runs out.
    assert.deepEqual(await client.roundTrip(), { online: [] });
    const closed = await within(client.closed);
    assert.ok(Date.now() - sentAt >= 50, frame);
    assert.deepEqual(closed, { code: 1000, reason: 'invalid command' });
  }
});

test('invalidCommandCloseMs false tolerates frames without an act', async (t) => {
  const sim = await startTestSimulator(t, { invalidCommandCloseMs: false, idleTimeoutMs: 300 });
  const client = await connectAs(t, sim, 1);
  client.ws.send('{}');
  const closed = await within(client.closed);
  // Only the idle timeout ended it.
  assert.equal(closed.reason, 'idle timeout');
});

test('a socket that never sends connect is closed after connectTimeoutMs', async (t) => {
  const sim = await startTestSimulator(t, { connectTimeoutMs: 50 });
  const client = await openClient(t, sim.wsUrl());
  assert.deepEqual(await within(client.closed), { code: 1000, reason: 'connect timeout' });
  assert.equal(client.pending, 0);
});

test('idleTimeoutMs closes a socket that sends no frame, and client frames keep it open', async (t) => {
  const sim = await startTestSimulator(t, { idleTimeoutMs: 150 });
  const client = await connectAs(t, sim, 1);
  const openedAt = Date.now();
  // Heartbeats every 50 ms for 300 ms keep it alive past twice the timeout.
  while (Date.now() - openedAt < 300) {
    assert.deepEqual(await client.roundTrip(), { online: [] });
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.equal(client.ws.readyState, client.ws.OPEN);
  assert.deepEqual(await within(client.closed), { code: 1000, reason: 'idle timeout' });
});

test('WebSocket pings are answered, and not under the no-pong fault', async (t) => {
  const sim = await startTestSimulator(t);
  const client = await connectAs(t, sim, 1);
  const pong = new Promise((resolve) => client.ws.once('pong', resolve));
  client.ws.ping(Buffer.from('hi'));
  assert.deepEqual(await within(pong), Buffer.from('hi'));

  sim.setFault({ kind: 'no-pong' });
  const before = client.pongs;
  client.ws.ping();
  // A pong would have been written before this reply.
  await client.roundTrip();
  assert.equal(client.pongs, before);

  sim.clearFaults();
  client.ws.ping();
  await client.roundTrip();
  assert.equal(client.pongs, before + 1);
});

test('push reaches every socket of that user and no other user', async (t) => {
  const sim = await startTestSimulator(t);
  const a1 = await connectAs(t, sim, 100);
  const a2 = await connectAs(t, sim, 100);
  const b = await connectAs(t, sim, 200);
  assert.equal(sim.connectionCount(), 3);
  assert.equal(sim.push(100, { typing: { id: 5 } }), 2);
  for (const client of [a1, a2]) assert.equal((await client.next()).data.toString(), '{"typing":{"id":5}}');
  assert.deepEqual(await b.roundTrip(), { online: [] });
  assert.equal(sim.push(300, { typing: { id: 5 } }), 0);
});

test('push keeps the frame type: strings and objects as text, Buffers as binary, unless overridden', async (t) => {
  const sim = await startTestSimulator(t);
  const client = await connectAs(t, sim, 1);
  sim.push(1, '{"raw": "spaced"}');
  sim.push(1, Buffer.from([1, 2, 3]));
  sim.push(1, { a: 1, b: [true, null] });
  sim.push(1, '{"x":1}', { binary: true });
  sim.push(1, Buffer.from('{"y":2}'), { binary: false });
  const frames = [];
  for (let i = 0; i < 5; i++) frames.push(await client.next());
  assert.deepEqual(
    frames.map((f) => [f.isBinary, f.data.toString('latin1')]),
    [
      [false, '{"raw": "spaced"}'],
      [true, '\u0001\u0002\u0003'],
      [false, '{"a":1,"b":[true,null]}'],
      [true, '{"x":1}'],
      [false, '{"y":2}'],
    ],
  );
});

test('reject-token replies with the given error code, scoped to one user', async (t) => {
  const sim = await startTestSimulator(t);
  sim.setFault({ kind: 'reject-token', errorCode: 7 }, { userId: 100 });
  const rejected = await openClient(t, sim.wsUrl());
  rejected.sendJson({ act: 'connect', token: sim.issueToken({ userId: '100' }) });
  assert.equal((await rejected.next()).data.toString(), '{"error":7}');
  assert.equal((await within(rejected.closed)).code, 1000);
  await connectAs(t, sim, 200);

  sim.setFault({ kind: 'reject-token' });
  const all = await openClient(t, sim.wsUrl());
  all.sendJson({ act: 'connect', token: sim.issueToken({ userId: 200 }) });
  assert.equal((await all.next()).data.toString(), '{"error":1}');
});

test('silence never replies to connect; the connect timeout still ends the socket', async (t) => {
  const sim = await startTestSimulator(t, { connectTimeoutMs: 80 });
  sim.setFault({ kind: 'silence' });
  const client = await openClient(t, sim.wsUrl());
  client.sendJson({ act: 'connect', token: sim.issueToken({ userId: 1 }) });
  client.sendJson({ act: 'get_onlines', ids: [] });
  assert.deepEqual(await within(client.closed), { code: 1000, reason: 'connect timeout' });
  assert.equal(client.pending, 0);
  assert.equal(sim.connectionCount(), 0);
});

test('refuse answers the upgrade with an HTTP error and cannot be user-scoped', async (t) => {
  const sim = await startTestSimulator(t);
  sim.setFault({ kind: 'refuse' });
  const failure = await failedUpgrade(sim.wsUrl());
  assert.ok('status' in failure);
  assert.equal(failure.status, 503);
  assert.match(failure.body, /refus/);
  sim.setFault({ kind: 'refuse', status: 429 });
  const custom = await failedUpgrade(sim.wsUrl());
  assert.ok('status' in custom && custom.status === 429);
  assert.throws(() => sim.setFault({ kind: 'refuse' }, { userId: 1 }), RangeError);
  assert.throws(() => sim.setFault({ kind: 'refuse', status: 101 }), RangeError);
  sim.clearFaults();
  await connectAs(t, sim, 1);
  assert.equal(sim.handshakes.length, 3);
});

test('reset destroys the TCP connection on the upgrade, or on connect when user-scoped', async (t) => {
  const sim = await startTestSimulator(t);
  sim.setFault({ kind: 'reset' });
  const failure = await failedUpgrade(sim.wsUrl());
  assert.ok('error' in failure);
  sim.clearFaults();

  sim.setFault({ kind: 'reset' }, { userId: 9 });
  const client = await openClient(t, sim.wsUrl());
  client.sendJson({ act: 'connect', token: sim.issueToken({ userId: 9 }) });
  const closed = await within(client.closed);
  assert.equal(closed.code, 1006); // no close frame
  assert.equal(client.pending, 0);
  await connectAs(t, sim, 10);
});

test('slow-reads stops reading so the client backs up, and clearFaults resumes', async (t) => {
  const sim = await startTestSimulator(t);
  const client = await connectAs(t, sim, 1);
  sim.setFault({ kind: 'slow-reads' }, { userId: 1 });
  const chunk = Buffer.alloc(1024 * 1024, 0x61);
  for (let i = 0; i < 24; i++) client.ws.send(chunk);
  client.sendJson({ act: 'get_onlines', ids: [] });
  // Proving the absence of a reply needs a bounded wait; 300 ms is ample on loopback.
  await assert.rejects(client.next(300), /no frame/);
  assert.ok(client.ws.bufferedAmount > 0, 'writes should back up');
  assert.ok(sim.received.length < 24);

  sim.clearFaults();
  assert.deepEqual(await client.nextJson(5000), { online: [] });
  assert.equal(sim.received.length, 25);
});

test('slow-reads set globally pauses new sockets before they can connect', async (t) => {
  const sim = await startTestSimulator(t);
  sim.setFault({ kind: 'slow-reads' });
  const client = await openClient(t, sim.wsUrl());
  client.sendJson({ act: 'connect', token: sim.issueToken({ userId: 1 }) });
  await assert.rejects(client.next(200), /no frame/);
  sim.clearFaults();
  assert.equal((await client.next()).data.toString(), CONNECTED_REPLY);
});

test('stop-content-after-exp admits an expired token, withholds content, still answers get_onlines', async (t) => {
  const sim = await startTestSimulator(t, { initialCounters: true });
  // Without the fault an expired token is refused.
  const refused = await openClient(t, sim.wsUrl());
  refused.sendJson({ act: 'connect', token: sim.issueToken({ userId: 1, ttlSeconds: -1 }) });
  assert.equal((await refused.next()).data.toString(), '{"error":1}');

  sim.setFault({ kind: 'stop-content-after-exp' });
  const expired = await connectAs(t, sim, 1, -1);
  const fresh = await connectAs(t, sim, 1);
  assert.deepEqual(Object.keys((await fresh.nextJson()) as object), ['chat_messages', 'count_priority_chat', 'unread_tips']);
  assert.equal(sim.push(1, { typing: { id: 2 } }), 1);
  assert.deepEqual(await fresh.nextJson(), { typing: { id: 2 } });
  sim.setOnline([3]);
  // No counters frame and no pushed frame came before this reply.
  assert.deepEqual(await expired.roundTrip([3]), { online: [3] });
  assert.equal(sim.connectionCount(1), 2);
});

test('dropConnections resets or cleanly closes one user\'s sockets', async (t) => {
  const sim = await startTestSimulator(t);
  const a = await connectAs(t, sim, 1);
  const b = await connectAs(t, sim, 2);
  assert.equal(sim.dropConnections(1), 1);
  assert.equal((await within(a.closed)).code, 1006);
  assert.equal(sim.dropConnections(2, { code: 4000, reason: 'bye' }), 1);
  assert.deepEqual(await within(b.closed), { code: 4000, reason: 'bye' });
  assert.throws(() => sim.dropConnections(3, { code: 1006 }), RangeError);
  await waitFor(() => sim.connectionCount() === 0);
  assert.equal(sim.dropConnections(1), 0);
});

test('handshakes record path, headers and address of every upgrade', async (t) => {
  const sim = await startTestSimulator(t);
  await openClient(t, sim.wsUrl(30), { origin: 'https://onlyfans.com', 'user-agent': 'TestUA/1.0' });
  await failedUpgrade(`ws://127.0.0.1:${sim.port}/elsewhere?x=1`);
  assert.equal(sim.handshakes.length, 2);
  const [first, second] = sim.handshakes;
  assert.equal(first?.path, '/ws3/30');
  assert.equal(first?.headers.origin, 'https://onlyfans.com');
  assert.equal(first?.headers['user-agent'], 'TestUA/1.0');
  assert.equal(first?.remoteAddress, '127.0.0.1');
  assert.ok(typeof first?.at === 'number' && first.at <= Date.now());
  assert.equal(second?.path, '/elsewhere?x=1');
});

test('received holds client frames after authentication, in order, with their type and user', async (t) => {
  const sim = await startTestSimulator(t);
  const a = await connectAs(t, sim, 1);
  const b = await connectAs(t, sim, 'two');
  a.ws.send('{"act":"ping"}');
  a.sendJson({ act: 'typing', typing_to: 3 }, true);
  // Each reply proves the server has taken everything that user sent before it.
  await a.roundTrip();
  b.ws.send(Buffer.from([0xff, 0x00]));
  await b.roundTrip([7]);
  assert.deepEqual(
    sim.received.map((r) => [r.userId, r.isBinary, r.data.toString('latin1')]),
    [
      ['1', false, '{"act":"ping"}'],
      ['1', true, '{"act":"typing","typing_to":3}'],
      ['1', false, '{"act":"get_onlines","ids":[]}'],
      ['two', true, '\u00ff\u0000'],
      ['two', false, '{"act":"get_onlines","ids":[7]}'],
    ],
  );
});

test('the generator sends realistic JSON frames to every authenticated socket', async (t) => {
  const sim = await startTestSimulator(t, { generator: { intervalMs: 5 }, seed: 42 });
  const a = await connectAs(t, sim, 15585607);
  const b = await connectAs(t, sim, 'sandbox');
  const { GENERATED_KEYS } = await import('../../src/sandbox/index.js');
  for (const client of [a, b]) {
    for (let i = 0; i < 10; i++) {
      const frame = await client.next();
      assert.equal(frame.isBinary, false);
      const value: unknown = JSON.parse(frame.data.toString());
      assert.ok(typeof value === 'object' && value !== null && !Array.isArray(value));
      for (const key of Object.keys(value)) assert.ok(GENERATED_KEYS.has(key), key);
    }
  }
});

test('client misbehaviour closes only that socket: oversized frames, invalid UTF-8, plain HTTP', async (t) => {
  const sim = await startTestSimulator(t);
  const big = await connectAs(t, sim, 1);
  big.ws.send(Buffer.alloc(8 * 1024 * 1024 + 1));
  assert.equal((await within(big.closed)).code, 1009);
  const bad = await connectAs(t, sim, 1);
  bad.ws.send(Buffer.from([0xc3, 0x28]), { binary: false });
  assert.equal((await within(bad.closed)).code, 1007);
  const plain = await fetch(`http://127.0.0.1:${sim.port}/ws3/24`);
  assert.equal(plain.status, 426);
  await plain.text();
  const healthy = await connectAs(t, sim, 2);
  assert.deepEqual(await healthy.roundTrip(), { online: [] });
});

test('close() ends live sockets with 1001 and resolves', async () => {
  const sim = await startSimulator({ generator: { intervalMs: 1000 }, idleTimeoutMs: 10_000 });
  const client = await TestClient.open(sim.wsUrl());
  client.sendJson({ act: 'connect', token: sim.issueToken({ userId: 1 }) });
  await client.next();
  const paused = await TestClient.open(sim.wsUrl());
  sim.setFault({ kind: 'slow-reads' });
  await within(sim.close());
  assert.equal((await within(client.closed)).code, 1001);
  await within(paused.closed);
  await sim.close(); // idempotent
});

test('invalid options are refused up front', async () => {
  await assert.rejects(startSimulator({ generator: { intervalMs: 0 } }), RangeError);
  await assert.rejects(startSimulator({ connectTimeoutMs: -1 }), RangeError);
  await assert.rejects(startSimulator({ idleTimeoutMs: Number.NaN }), RangeError);
});
