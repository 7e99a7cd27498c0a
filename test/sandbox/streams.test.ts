import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startSimulator, streamSequence } from '../../src/sandbox/index.js';
import { connectAs, startTestSimulator, waitFor, type TestClient } from './helpers.js';

/** The next frame's stream number; fails on a frame that is not a stream frame. */
async function nextSeq(client: TestClient, timeoutMs = 2000): Promise<number> {
  const frame = await client.next(timeoutMs);
  const seq = streamSequence(frame.data);
  assert.ok(seq !== undefined, `not a stream frame: ${frame.data.toString()}`);
  return seq;
}

/** Reads stream frames until `last` arrives; every number must follow the one before. */
async function readThrough(client: TestClient, first: number, last: number): Promise<number[]> {
  const seqs: number[] = [];
  for (let expected = first; expected <= last; expected++) {
    const seq = await nextSeq(client);
    assert.equal(seq, expected, `after ${seqs.join(',')}`);
    seqs.push(seq);
  }
  return seqs;
}

test('stream numbers continue across reconnects, and numbers sent with no socket open are lost and shown', async (t) => {
  const sim = await startTestSimulator(t);
  sim.startStream(1, { perSecond: 200 });
  const first = await connectAs(t, sim, 1);
  const start = await nextSeq(first);
  await readThrough(first, start + 1, start + 4);
  await first.dispose();
  await waitFor(() => sim.connectionCount(1) === 0);

  // Numbers keep being consumed while nobody listens.
  const whileAway = sim.streamStatus(1).nextSeq;
  await waitFor(() => sim.streamStatus(1).nextSeq >= whileAway + 5);
  const second = await connectAs(t, sim, 1);
  const resumed = await nextSeq(second);
  assert.ok(resumed >= whileAway + 5, `resumed at ${resumed}, away from ${whileAway}`);
  await readThrough(second, resumed + 1, resumed + 4);

  const stopped = sim.stopStream(1);
  assert.equal(stopped.running, false);
  // Everything sent to the open socket arrives, in order, up to the last number consumed.
  await readThrough(second, resumed + 5, stopped.nextSeq - 1);

  const { delivered, sent, nextSeq: next } = sim.streamStatus(1);
  assert.equal(sent, next - 1, 'one stream consumed every number so far');
  const [before, after] = [delivered[0], delivered[delivered.length - 1]];
  assert.ok(before !== undefined && after !== undefined);
  assert.ok(before[0] === start && before[1] >= start + 4 && before[1] < whileAway, `first range ${before.join('-')}`);
  assert.deepEqual(after, [resumed, next - 1]);
  assert.ok(delivered.length >= 2, 'the numbers sent while away are not in any range');
});

test('a stream keeps roughly its rate, slow and fast', async (t) => {
  const sim = await startTestSimulator(t);
  const client = await connectAs(t, sim, 2);
  for (const { perSecond, count } of [{ perSecond: 40, count: 20 }, { perSecond: 1000, count: 400 }]) {
    const firstSeq = sim.streamStatus(2).nextSeq;
    const startedAt = Date.now();
    sim.startStream(2, { perSecond, count });
    await readThrough(client, firstSeq, firstSeq + count - 1);
    const elapsed = Date.now() - startedAt;
    const expected = (count / perSecond) * 1000;
    assert.ok(elapsed >= expected / 3 && elapsed <= expected * 3, `${count} at ${perSecond}/s took ${elapsed} ms`);
  }
});

test('count stops the stream; a new stream replaces a running one and continues the numbering', async (t) => {
  const sim = await startTestSimulator(t);
  const client = await connectAs(t, sim, 3);
  const idle = sim.startStream(3, { perSecond: 0.01 });
  assert.deepEqual(idle, { running: true, perSecond: 0.01, count: null, sent: 0, nextSeq: 1, delivered: [] });

  sim.startStream(3, { perSecond: 200, count: 5 });
  await readThrough(client, 1, 5);
  await waitFor(() => !sim.streamStatus(3).running);
  assert.deepEqual(sim.streamStatus(3), { running: false, perSecond: 200, count: 5, sent: 5, nextSeq: 6, delivered: [[1, 5]] });
  // A reply to get_onlines would queue behind any further stream frame.
  assert.deepEqual(await client.roundTrip(), { online: [] });

  sim.startStream('3', { perSecond: 200, count: 2 });
  await readThrough(client, 6, 7);
  await waitFor(() => !sim.streamStatus(3).running);
  assert.deepEqual(sim.streamStatus(3), { running: false, perSecond: 200, count: 2, sent: 2, nextSeq: 8, delivered: [[1, 7]] });
});

test('stream frames are realistic chat messages with unique ids, sent to every socket of that user only', async (t) => {
  const sim = await startTestSimulator(t);
  const [a1, a2, b] = [await connectAs(t, sim, 10), await connectAs(t, sim, 10), await connectAs(t, sim, 'eleven')];
  sim.startStream(10, { perSecond: 200, count: 3 });
  sim.startStream('eleven', { perSecond: 200, count: 3 });
  const idsOf = new Map<TestClient, unknown[]>();
  for (const client of [a1, a2, b]) {
    const ids: unknown[] = [];
    for (let seq = 1; seq <= 3; seq++) {
      const frame = (await client.nextJson()) as Record<string, Record<string, unknown>>;
      assert.deepEqual(Object.keys(frame), ['api2_chat_message']);
      const message = frame.api2_chat_message ?? {};
      assert.equal(message.text, `stream #${seq}`);
      assert.equal(streamSequence(frame), seq);
      assert.equal(message.responseType, 'message');
      assert.match(String(message.createdAt), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$/);
      assert.ok(Number.isSafeInteger(message.id));
      ids.push(message.id);
    }
    idsOf.set(client, ids);
  }
  // Both sockets of user 10 got the same frames; user eleven's carry other ids.
  assert.deepEqual(idsOf.get(a1), idsOf.get(a2));
  assert.equal(new Set([...(idsOf.get(a1) ?? []), ...(idsOf.get(b) ?? [])]).size, 6);
  assert.deepEqual(await b.roundTrip(), { online: [] });
});

test('stream options are checked, naming the field', async (t) => {
  const sim = await startTestSimulator(t);
  const bad: Array<[unknown, RegExp]> = [
    [{ perSecond: 0 }, /perSecond/],
    [{ perSecond: 1001 }, /perSecond .*at most 1000/],
    [{ perSecond: Number.NaN }, /perSecond/],
    [{ perSecond: '5' }, /perSecond/],
    [{}, /perSecond/],
    [{ perSecond: 1, count: 0 }, /count must be a positive integer/],
    [{ perSecond: 1, count: 1.5 }, /count/],
    [{ perSecond: 1, rate: 2 }, /unknown stream field "rate"/],
  ];
  for (const [options, message] of bad) {
    assert.throws(() => sim.startStream(1, options as { perSecond: number }), message, JSON.stringify(options));
  }
  assert.throws(() => sim.startStream('has space', { perSecond: 1 }), RangeError);
  assert.equal(sim.streamStatus(1).running, false);
});

test('close() stops every stream, and a closed simulator starts none', async () => {
  const sim = await startSimulator();
  sim.startStream(1, { perSecond: 100 });
  await waitFor(() => sim.streamStatus(1).sent > 0);
  await sim.close();
  const { running, nextSeq } = sim.streamStatus(1);
  assert.equal(running, false);
  assert.throws(() => sim.startStream(1, { perSecond: 1 }), /closed/);
  assert.equal(sim.streamStatus(1).nextSeq, nextSeq);
});
