/**
 * The overview sampler on its own (src/observability/overview.ts): a ring of fixed size in time
 * order, counters as what happened since the previous sample, connection outcomes and webhook
 * results from their channels (this gateway's only), and the cluster merge by timestamp.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { relayFinished, webhookAttempted, type ObservedConnection } from '../../src/diagnostics.js';
import { mergeOverviews, OverviewSampler, type NodeOverview, type OverviewSample, type OverviewSource } from '../../src/observability/overview.js';
import type { SessionCounts } from '../../src/observability/observed.js';

/** A gateway's observed side that the test sets by hand. */
class Source implements OverviewSource {
  readonly connections = new Set<ObservedConnection>();
  readonly registry = { all: this.connections as ReadonlySet<ObservedConnection> };
  counts: SessionCounts = { byState: { connected: 0, reconnecting: 0, down: 0 }, clients: 0, upstreamReconnects: 0, eventsLogged: 0, deliveries: 0 };
  sessionStats(): SessionCounts {
    return this.counts;
  }
  sessionModels(): [] {
    return [];
  }
}

function connection(outcome: string, isOpen = false): ObservedConnection {
  return { startedAt: 0, openedAt: undefined, upstreamStartedAt: undefined, isOpen, traffic: { messagesToUpstream: 0, bytesToUpstream: 0, messagesToClient: 0, bytesToClient: 0 }, outcome, clientCloseCode: undefined };
}

describe('overview sampler', () => {
  it('keeps at most capacity samples, the newest, oldest first', () => {
    const source = new Source();
    const sampler = new OverviewSampler(source, { intervalMs: 1000, capacity: 5 });
    for (let i = 1; i <= 23; i++) {
      source.counts = { ...source.counts, eventsLogged: source.counts.eventsLogged + i };
      sampler.sample(i * 1000);
    }
    const samples = sampler.samples();
    assert.equal(samples.length, 5);
    assert.deepEqual(samples.map((s) => s.at), [19_000, 20_000, 21_000, 22_000, 23_000]);
    assert.deepEqual(samples.map((s) => s.events), [19, 20, 21, 22, 23], 'each one counts its own interval');
    // A long run never holds more than the capacity.
    for (let i = 24; i < 10_000; i++) sampler.sample(i * 1000);
    assert.equal(sampler.samples().length, 5);
    assert.equal(sampler.samples().at(-1)?.at, 9_999_000);
  });

  it('rounds times to the interval and folds a sample that is not later into the newest', () => {
    const source = new Source();
    const sampler = new OverviewSampler(source, { intervalMs: 10_000, capacity: 10 });
    source.counts = { ...source.counts, eventsLogged: 4 };
    assert.equal(sampler.sample(20_004).at, 20_000);
    source.counts = { ...source.counts, eventsLogged: 7, clients: 0 };
    source.connections.add(connection('ok', true));
    // The clock stepped back: same or earlier bucket, counters added, levels the latest.
    sampler.sample(19_000);
    const samples = sampler.samples();
    assert.equal(samples.length, 1);
    assert.deepEqual([samples[0]?.at, samples[0]?.events, samples[0]?.relays], [20_000, 7, 1]);
  });

  it('counts finished attempts by outcome and upstream failures, for its own connections only', () => {
    const source = new Source();
    const sampler = new OverviewSampler(source, { intervalMs: 1000 });
    sampler.start();
    try {
      const ours = ['ok', 'ok', 'INVALID_API_KEY', 'WS_CONNECT_ERROR', 'UPSTREAM_CLOSED_ABNORMALLY', 'made-up outcome'].map((o) => connection(o));
      for (const c of ours) source.connections.add(c);
      for (const c of ours) relayFinished.publish(c);
      relayFinished.publish(connection('ok')); // another gateway's, in the same process
      const first = sampler.sample(5000);
      assert.deepEqual(first.attempts, { ok: 2, INVALID_API_KEY: 1, WS_CONNECT_ERROR: 1, UPSTREAM_CLOSED_ABNORMALLY: 1, other: 1 });
      assert.equal(first.upstreamFailures, 2);
      assert.deepEqual(sampler.sample(6000).attempts, {}, 'the next interval starts from zero');
    } finally {
      sampler.stop();
    }
    relayFinished.publish([...source.connections][0]);
    assert.deepEqual(sampler.sample(7000).attempts, {}, 'stopped: no longer subscribed');
  });

  it('counts webhook attempts by result, zero when none happened', () => {
    const sampler = new OverviewSampler(new Source(), { intervalMs: 1000 });
    sampler.start();
    try {
      assert.deepEqual(sampler.sample(1000).webhooks, { delivered: 0, retrying: 0, failed: 0 });
      for (const result of ['delivered', 'delivered', 'retrying', 'failed', 'bogus']) webhookAttempted.publish({ result });
      assert.deepEqual(sampler.sample(2000).webhooks, { delivered: 2, retrying: 1, failed: 1 });
    } finally {
      sampler.stop();
    }
  });

  it('splits open connections into relays and session clients, and counts reconnects as deltas', () => {
    const source = new Source();
    const sampler = new OverviewSampler(source, { intervalMs: 1000 });
    sampler.start();
    try {
      for (let i = 0; i < 5; i++) source.connections.add(connection('ok', true));
      source.connections.add(connection('ok', false)); // still connecting: not counted
      source.counts = { ...source.counts, clients: 2, upstreamReconnects: 3 };
      const s = sampler.sample(1000);
      assert.deepEqual([s.relays, s.sessionClients, s.sessionReconnects], [3, 2, 3]);
      assert.equal(sampler.sample(2000).sessionReconnects, 0);
    } finally {
      sampler.stop();
    }
  });

  it('ticks on multiples of the interval of the wall clock', async () => {
    const sampler = new OverviewSampler(new Source(), { intervalMs: 50 });
    sampler.start();
    try {
      const deadline = Date.now() + 5000;
      while (sampler.samples().length < 3 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      const times = sampler.samples().map((s) => s.at);
      assert.ok(times.length >= 3, `ticked ${times.length} times`);
      for (const at of times) assert.equal(at % 50, 0);
      for (let i = 1; i < times.length; i++) assert.ok((times[i] as number) > (times[i - 1] as number), 'in time order');
    } finally {
      sampler.stop();
    }
  });

  it('refuses an interval or capacity that is not a positive whole number', () => {
    assert.throws(() => new OverviewSampler(new Source(), { intervalMs: 0 }), /intervalMs/);
    assert.throws(() => new OverviewSampler(new Source(), { intervalMs: 1000, capacity: 1.5 }), /capacity/);
  });
});

describe('merging node overviews', () => {
  const sample = (at: number, fields: Partial<OverviewSample>): OverviewSample => ({
    at, relays: 0, sessionClients: 0, events: 0, attempts: {}, upstreamFailures: 0, sessionReconnects: 0, webhooks: { delivered: 0, retrying: 0, failed: 0 }, ...fields,
  });
  const node = (name: string, samples: OverviewSample[]): NodeOverview => ({ node: name, intervalMs: 1000, samples, sessions: [] });

  it('adds the nodes up per timestamp, oldest first; levels once per node', () => {
    const merged = mergeOverviews(
      [
        node('a', [sample(1000, { relays: 2, events: 5, attempts: { ok: 1 } }), sample(2000, { relays: 3, attempts: { ok: 2, INVALID_API_KEY: 1 } })]),
        // b has two samples in one bucket (it took one off the tick): its latest level counts.
        node('b', [sample(2000, { relays: 1, sessionClients: 4 }), sample(2000, { relays: 7, events: 1 }), sample(3000, { relays: 1 })]),
      ],
      1000,
    );
    assert.deepEqual(merged.map((s) => [s.at, s.relays, s.sessionClients, s.events]), [
      [1000, 2, 0, 5],
      [2000, 10, 0, 1],
      [3000, 1, 0, 0],
    ]);
    assert.deepEqual(merged[1]?.attempts, { ok: 2, INVALID_API_KEY: 1 });
  });
});
