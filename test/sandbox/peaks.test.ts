import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConnectionPeaks } from '../../src/sandbox/peaks.js';
import { CONNECTED_REPLY, connectAs, openClient, startTestSimulator, waitFor } from './helpers.js';

test('overlapping sockets: open two, close one, and the peak is 2 with 1 current', async (t) => {
  const sim = await startTestSimulator(t);
  assert.equal(sim.peakConnections(5), 0);
  const first = await connectAs(t, sim, 5);
  await connectAs(t, sim, 5);
  await connectAs(t, sim, 6);
  assert.equal(sim.currentConnections(5), 2);
  await first.dispose();
  await waitFor(() => sim.currentConnections(5) === 1);
  assert.equal(sim.peakConnections(5), 2);
  assert.equal(sim.peakConnections('5'), 2);
  assert.equal(sim.peakConnections(6), 1);

  sim.resetPeaks();
  assert.equal(sim.peakConnections(5), 1);
  assert.equal(sim.currentConnections(5), 1);
  sim.dropConnections(5);
  await waitFor(() => sim.currentConnections(5) === 0);
  assert.equal(sim.peakConnections(5), 1, 'the peak holds until the next reset');
  sim.resetPeaks();
  assert.equal(sim.peakConnections(5), 0);
});

test('a socket counts from its upgrade: the old socket closing before the new one authenticates still overlaps', async (t) => {
  const sim = await startTestSimulator(t);
  const old = await connectAs(t, sim, 7);
  const replacement = await openClient(t, sim.wsUrl());
  await old.dispose();
  await waitFor(() => sim.currentConnections(7) === 0);
  replacement.sendJson({ act: 'connect', token: sim.issueToken({ userId: 7 }) });
  assert.equal((await replacement.next()).data.toString(), CONNECTED_REPLY);
  assert.equal(sim.currentConnections(7), 1);
  assert.equal(sim.peakConnections(7), 2);

  // Closing first and opening after is one socket at a time.
  sim.resetPeaks();
  await replacement.dispose();
  await waitFor(() => sim.currentConnections(7) === 0);
  await connectAs(t, sim, 7);
  assert.equal(sim.peakConnections(7), 1);
});

test('a socket that never authenticates counts for nobody', async (t) => {
  const sim = await startTestSimulator(t);
  const anonymous = await openClient(t, sim.wsUrl());
  anonymous.sendJson({ act: 'connect', token: 'not-a-jwt' });
  assert.equal((await anonymous.next()).data.toString(), '{"error":1}');
  await connectAs(t, sim, 8);
  assert.equal(sim.peakConnections(8), 1);
});

test('ConnectionPeaks credits a span backwards from its upgrade, and only since the last reset', () => {
  const peaks = new ConnectionPeaks(30_000);
  const [a, b, c, d] = [{}, {}, {}, {}];
  // a: 0–10; c: 5–, authenticated at 6; b upgraded at 2, authenticated at 12 after a closed.
  peaks.opened('u', a, 0, 0);
  peaks.opened('u', c, 5, 6);
  peaks.closed('u', a, 10);
  assert.equal(peaks.peak('u'), 2);
  peaks.opened('u', b, 2, 12);
  assert.equal(peaks.peak('u'), 3, 'a, b and c were all open from 5 to 10');
  assert.deepEqual(peaks.snapshot(), { u: { current: 2, peak: 3 } });

  peaks.reset(20);
  assert.deepEqual(peaks.snapshot(), { u: { current: 2, peak: 2 } });
  peaks.closed('u', b, 21);
  // d, upgraded at 15, was open with b and c from the reset at 20 until b closed at 21.
  peaks.opened('u', d, 15, 22);
  assert.equal(peaks.peak('u'), 3);
  assert.equal(peaks.current('u'), 2);

  // An overlap that ended before the reset does not count after it.
  const before = new ConnectionPeaks(30_000);
  before.opened('x', a, 0, 0);
  before.closed('x', a, 10);
  before.reset(11);
  before.opened('x', b, 5, 12);
  assert.equal(before.peak('x'), 1);

  // A close and an upgrade at the same instant do not overlap.
  const other = new ConnectionPeaks(30_000);
  other.opened('v', a, 0, 0);
  other.closed('v', a, 10);
  other.opened('v', b, 10, 11);
  assert.equal(other.peak('v'), 1);
  // A span closed longer ago than the lookback (the connect timeout) is forgotten: memory stays bounded.
  const short = new ConnectionPeaks(100);
  short.opened('w', a, 0, 0);
  short.closed('w', a, 50);
  short.opened('w', b, 10, 500);
  assert.equal(short.peak('w'), 1);
  short.reset(600);
  short.closed('w', b, 700);
  short.reset(800);
  assert.deepEqual(short.snapshot(), {}, 'a user with nothing open is forgotten on reset');
});
