import assert from 'node:assert/strict';
import { test } from 'node:test';
import { streamSequence, type OnlyFansSimulator } from '../../src/sandbox/index.js';
import { CONNECTED_REPLY, connectAs, openClient, startTestSimulator, waitFor, within } from './helpers.js';

interface JsonReply {
  status: number;
  body: Record<string, unknown>;
}

async function call(sim: OnlyFansSimulator, method: string, path: string, body?: string | object): Promise<JsonReply> {
  const init: RequestInit = { method };
  if (body !== undefined) init.body = typeof body === 'string' ? body : JSON.stringify(body);
  const response = await fetch(`http://127.0.0.1:${sim.port}${path}`, init);
  assert.match(response.headers.get('content-type') ?? '', /application\/json/);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

test('POST /_sim/tokens issues a token that connects at the returned wsUrl', async (t) => {
  const sim = await startTestSimulator(t);
  const { status, body } = await call(sim, 'POST', '/_sim/tokens', { userId: 777, ttlSeconds: 60 });
  assert.equal(status, 200);
  assert.equal(body.wsUrl, sim.wsUrl());
  assert.match(String(body.token), /^eyJ0eXAi[\w-]*\.[\w-]+\.[\w-]+$/);
  const client = await openClient(t, String(body.wsUrl));
  client.sendJson({ act: 'connect', token: body.token });
  assert.equal((await client.next()).data.toString(), CONNECTED_REPLY);
  assert.equal(sim.connectionCount(777), 1);
});

test('POST /_sim/users/{id}/push delivers a compact frame and reports the count', async (t) => {
  const sim = await startTestSimulator(t);
  const client = await connectAs(t, sim, 42);
  const { status, body } = await call(sim, 'POST', '/_sim/users/42/push', '{ "typing": { "id": 5 } }');
  assert.equal(status, 200);
  assert.deepEqual(body, { delivered: 1 });
  assert.equal((await client.next()).data.toString(), '{"typing":{"id":5}}');
  assert.deepEqual((await call(sim, 'POST', '/_sim/users/43/push', { typing: { id: 5 } })).body, { delivered: 0 });
});

test('POST and DELETE /_sim/faults switch faults, and GET /_sim/status shows them', async (t) => {
  const sim = await startTestSimulator(t);
  const set = await call(sim, 'POST', '/_sim/faults', { fault: { kind: 'reject-token', errorCode: 3 }, userId: 8 });
  assert.equal(set.status, 200);
  assert.deepEqual(set.body.faults, [{ fault: { kind: 'reject-token', errorCode: 3 }, userId: '8' }]);
  const rejected = await openClient(t, sim.wsUrl());
  rejected.sendJson({ act: 'connect', token: sim.issueToken({ userId: 8 }) });
  assert.equal((await rejected.next()).data.toString(), '{"error":3}');
  await within(rejected.closed);

  assert.deepEqual((await call(sim, 'DELETE', '/_sim/faults')).body, { faults: [] });
  await connectAs(t, sim, 8);
  await connectAs(t, sim, 8);
  await connectAs(t, sim, 'nine');
  const status = await call(sim, 'GET', '/_sim/status');
  assert.deepEqual(status.body.connections, { '8': 2, nine: 1 });
  assert.equal(status.body.totalConnections, 3);
  assert.deepEqual(status.body.faults, []);
});

test('GET /_sim/handshakes returns the recorded upgrade headers', async (t) => {
  const sim = await startTestSimulator(t);
  await openClient(t, sim.wsUrl(5), { origin: 'https://onlyfans.com' });
  const { status, body } = await call(sim, 'GET', '/_sim/handshakes');
  assert.equal(status, 200);
  const [record] = body.handshakes as Array<{ path: string; headers: Record<string, string> }>;
  assert.equal(record?.path, '/ws3/5');
  assert.equal(record?.headers.origin, 'https://onlyfans.com');
});

test('POST /_sim/online and /_sim/users/{id}/drop', async (t) => {
  const sim = await startTestSimulator(t);
  const client = await connectAs(t, sim, 1);
  assert.deepEqual((await call(sim, 'POST', '/_sim/online', { ids: [5, '6'] })).body, { online: ['5', '6'] });
  assert.deepEqual(await client.roundTrip([5, 6, 7]), { online: [5, 6] });
  assert.deepEqual((await call(sim, 'POST', '/_sim/users/1/drop', { code: 4001, reason: 'test' })).body, { dropped: 1 });
  assert.deepEqual(await within(client.closed), { code: 4001, reason: 'test' });
});

test('POST, GET and DELETE /_sim/users/{id}/stream start, show and stop a numbered stream', async (t) => {
  const sim = await startTestSimulator(t);
  const client = await connectAs(t, sim, 100001);
  assert.deepEqual((await call(sim, 'GET', '/_sim/users/100001/stream')).body, {
    running: false, perSecond: 0, count: null, sent: 0, nextSeq: 1, delivered: [],
  });
  const started = await call(sim, 'POST', '/_sim/users/100001/stream', { perSecond: 100, count: 3 });
  assert.equal(started.status, 200);
  assert.equal(started.body.running, true);
  for (let seq = 1; seq <= 3; seq++) assert.equal(streamSequence((await client.next()).data), seq);
  await waitFor(() => !sim.streamStatus(100001).running);
  assert.deepEqual((await call(sim, 'GET', '/_sim/users/100001/stream')).body, {
    running: false, perSecond: 100, count: 3, sent: 3, nextSeq: 4, delivered: [[1, 3]],
  });

  await call(sim, 'POST', '/_sim/users/100001/stream', { perSecond: 100 });
  assert.equal(streamSequence((await client.next()).data), 4);
  const stopped = await call(sim, 'DELETE', '/_sim/users/100001/stream');
  assert.equal(stopped.body.running, false);
  assert.equal(sim.streamStatus(100001).running, false);
});

test('GET /_sim/peaks and POST /_sim/peaks/reset', async (t) => {
  const sim = await startTestSimulator(t);
  assert.deepEqual((await call(sim, 'GET', '/_sim/peaks')).body, {});
  const first = await connectAs(t, sim, 4);
  await connectAs(t, sim, 4);
  await connectAs(t, sim, 'five');
  await first.dispose();
  await waitFor(() => sim.currentConnections(4) === 1);
  assert.deepEqual((await call(sim, 'GET', '/_sim/peaks')).body, {
    '4': { current: 1, peak: 2 },
    five: { current: 1, peak: 1 },
  });
  const reset = await call(sim, 'POST', '/_sim/peaks/reset');
  assert.equal(reset.status, 200);
  assert.deepEqual(reset.body, { '4': { current: 1, peak: 1 }, five: { current: 1, peak: 1 } });
});

test('bad requests get a JSON error naming the problem', async (t) => {
  const sim = await startTestSimulator(t);
  const cases: Array<[string, string, string | object | undefined, number, RegExp]> = [
    ['POST', '/_sim/tokens', '{"userId": 1,', 400, /not valid JSON/],
    ['POST', '/_sim/tokens', undefined, 400, /empty/],
    ['POST', '/_sim/tokens', { userId: 'has space' }, 400, /userId/],
    ['POST', '/_sim/tokens', { userId: 1, ttlSeconds: 'x' }, 400, /ttlSeconds/],
    ['POST', '/_sim/users/1/push', '[1,2]', 400, /frame must be a JSON object/],
    ['POST', '/_sim/faults', { fault: { kind: 'explode' } }, 400, /fault\.kind/],
    ['POST', '/_sim/faults', { fault: { kind: 'refuse' }, userId: 1 }, 400, /cannot be scoped/],
    ['POST', '/_sim/users/1/drop', { code: 1005 }, 400, /close code/],
    ['POST', '/_sim/online', { ids: [{}] }, 400, /ids/],
    ['POST', '/_sim/users/1/stream', { perSecond: 5000 }, 400, /perSecond must be .* at most 1000/],
    ['POST', '/_sim/users/1/stream', { perSecond: 1, count: -1 }, 400, /count must be a positive integer/],
    ['POST', '/_sim/users/1/stream', { perSecond: 1, rate: 1 }, 400, /unknown stream field "rate"/],
    ['POST', '/_sim/users/1/stream', '[1]', 400, /perSecond/],
    ['POST', '/_sim/users/1/stream', undefined, 400, /empty/],
    ['PUT', '/_sim/users/1/stream', undefined, 405, /GET or POST or DELETE/],
    ['GET', '/_sim/peaks/reset', undefined, 405, /POST/],
    ['POST', '/_sim/peaks', undefined, 405, /GET/],
    ['POST', '/_sim/tokens', 'x'.repeat(70_000), 413, /exceeds/],
    ['GET', '/_sim/tokens', undefined, 405, /POST/],
    ['GET', '/_sim/nope', undefined, 404, /no control endpoint/],
  ];
  for (const [method, path, body, expected, message] of cases) {
    const reply = await call(sim, method, path, body);
    assert.equal(reply.status, expected, `${method} ${path}`);
    assert.match(String(reply.body.error), message, `${method} ${path}`);
  }
});
