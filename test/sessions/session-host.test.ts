/**
 * The session host (sessions-contract.md §1): exactly one node runs each session-mode model,
 * a node cut off from Redis stops its sessions before another may start them, a graceful stop
 * closes the socket before the lease is given up, and the model list decides what runs.
 *
 * The starter records every start, stop and abort on one clock (performance.now()), and
 * counts a start while another node's session of that model is still open as an overlap:
 * the one thing that must never happen.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { after, afterEach, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { createLogger } from '../../src/log.js';
import { MemoryOwnership } from '../../src/sessions/ownership-memory.js';
import { RedisOwnership } from '../../src/sessions/ownership-redis.js';
import { SessionHost, type WantedSession } from '../../src/sessions/session-host.js';
import { sessionKeys, type Lease, type Ownership, type SessionStarter } from '../../src/sessions/types.js';
import { CuttableProxy, deleteKeys, redisTarget } from '../cluster/cluster-helpers.js';
import { waitFor } from '../helpers.js';
import { REDIS_URL, serviceSkip } from '../services.js';

const skip = await serviceSkip('redis');
const TTL_MS = 1000;
const RENEW_MS = TTL_MS / 5;
const logger = createLogger('silent');

interface Happening {
  node: string;
  modelId: string;
  kind: 'start' | 'stop' | 'stopped' | 'abort';
  at: number;
  token: number;
  /** For `stopped`: who held the lease in Redis when the socket had closed. */
  holder?: string | null;
}

/** Sessions that record what happens to them, and notice two open at once for one model. */
class Recorder {
  readonly happenings: Happening[] = [];
  readonly overlaps: string[] = [];
  /** Model id → the node whose session of it is open. */
  private readonly open = new Map<string, string>();

  /** @param stopMs how long closing the "socket" takes */
  starter(node: string, ownership: Ownership, stopMs = 50): SessionStarter {
    return (modelId: string, _orgId: string, lease: Lease) => {
      const other = this.open.get(modelId);
      if (other !== undefined) this.overlaps.push(`${modelId}: started on ${node} while open on ${other}`);
      this.open.set(modelId, node);
      this.record(node, modelId, 'start', lease);
      let closed = false;
      const close = (): void => {
        if (!closed && this.open.get(modelId) === node) this.open.delete(modelId);
        closed = true;
      };
      return {
        stop: async () => {
          this.record(node, modelId, 'stop', lease);
          await new Promise((resolve) => setTimeout(resolve, stopMs)); // the socket closing
          close();
          this.record(node, modelId, 'stopped', lease, await ownership.holder(modelId).catch(() => undefined));
        },
        abort: () => {
          close();
          this.record(node, modelId, 'abort', lease);
        },
      };
    };
  }

  of(modelId: string, kind?: Happening['kind'], node?: string): Happening[] {
    return this.happenings.filter((h) => h.modelId === modelId && (!kind || h.kind === kind) && (!node || h.node === node));
  }

  private record(node: string, modelId: string, kind: Happening['kind'], lease: Lease, holder?: string | null): void {
    this.happenings.push({ node, modelId, kind, at: performance.now(), token: lease.token, ...(holder !== undefined ? { holder } : {}) });
  }
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function models(n: number): WantedSession[] {
  return Array.from({ length: n }, (_, i) => ({ modelId: `model-${i}`, orgId: 'org-1' }));
}

describe('session host: two nodes on Redis', { skip }, () => {
  const prefix = `ofgw-test:${randomBytes(4).toString('hex')}:`;
  after(() => deleteKeys(REDIS_URL, prefix));

  async function node(nodeId: string, recorder: Recorder, wanted: () => WantedSession[], url = REDIS_URL, stopMs?: number): Promise<{ host: SessionHost; ownership: RedisOwnership }> {
    const ownership = await RedisOwnership.start({ url, prefix, nodeId, ttlMs: TTL_MS });
    const host = new SessionHost({ ownership, start: recorder.starter(nodeId, ownership, stopMs), logger, renewEveryMs: RENEW_MS, wanted });
    cleanups.push(async () => {
      await host.stopAll();
      await ownership.close();
    });
    await host.start();
    return { host, ownership };
  }

  it('exactly one node runs each model, round after round', async () => {
    const recorder = new Recorder();
    const list = models(5).map((m) => ({ ...m, modelId: `${m.modelId}-one` }));
    const [a, b] = await Promise.all([node('node-a', recorder, () => list), node('node-b', recorder, () => list)]);
    const held = (): string[] => [...a.host.held(), ...b.host.held()].sort();
    await waitFor(() => held().length === list.length, 3000, 'every model to run');
    const acquiredBefore = a.host.stats().acquired + b.host.stats().acquired;
    // Past the TTL, renewal rounds on both nodes have kept every lease where it was.
    const until = performance.now() + 1.5 * TTL_MS;
    await waitFor(() => performance.now() > until, 3 * TTL_MS, 'one and a half TTLs to pass');
    await Promise.all([a.host.reconcile(), b.host.reconcile()]);
    assert.deepEqual(held(), list.map((m) => m.modelId).sort());
    assert.equal(a.host.stats().acquired + b.host.stats().acquired, acquiredBefore);
    assert.equal(recorder.happenings.filter((h) => h.kind === 'start').length, list.length);
    assert.equal(recorder.happenings.filter((h) => h.kind === 'abort').length, 0);
    assert.deepEqual(recorder.overlaps, []);
  });

  it('a node cut off from Redis aborts its sessions before the other node starts them, within the TTL', async () => {
    const recorder = new Recorder();
    const list = models(3).map((m) => ({ ...m, modelId: `${m.modelId}-cut` }));
    const proxy = new CuttableProxy(redisTarget());
    await proxy.start();
    cleanups.push(() => proxy.cut());
    const a = await node('node-a', recorder, () => list, proxy.url);
    await waitFor(() => a.host.held().length === list.length, 3000, 'node a to run every model');
    const b = await node('node-b', recorder, () => list);
    assert.deepEqual(b.host.held(), []);
    // As good as a SIGKILL for Redis: no renewal, no release, ever again; but node a's own
    // timers still run, which is what a paused or partitioned node has.
    const cutAt = performance.now();
    await proxy.cut();
    await waitFor(() => b.host.held().length === list.length, 3 * TTL_MS, 'node b to take every model over');
    assert.deepEqual(a.host.held(), []);
    for (const { modelId } of list) {
      const [aborted] = recorder.of(modelId, 'abort', 'node-a');
      const [started] = recorder.of(modelId, 'start', 'node-b');
      const [first] = recorder.of(modelId, 'start', 'node-a');
      assert.ok(aborted && started && first);
      assert.ok(aborted.at <= started.at, `${modelId}: aborted at ${aborted.at}, taken over at ${started.at}`);
      assert.ok(started.token > first.token, 'the new holder has a higher fencing token');
      assert.ok(started.at - cutAt < TTL_MS + 3 * RENEW_MS + 300, `${modelId} taken over ${started.at - cutAt} ms after the cut`);
    }
    assert.ok(a.host.stats().lost >= list.length);
    assert.ok(a.host.stats().ownershipErrors > 0);
    assert.deepEqual(recorder.overlaps, []);
  });

  it('a node that renews no more at all (killed) is taken over only after its lease could no longer be believed', async () => {
    const recorder = new Recorder();
    const modelId = 'model-killed';
    const ownership = await RedisOwnership.start({ url: REDIS_URL, prefix, nodeId: 'node-a', ttlMs: TTL_MS });
    cleanups.push(() => ownership.close());
    // Node a as a process that is killed right after acquiring: nothing of it runs any more.
    const sent = performance.now();
    const lease = await ownership.tryAcquire(modelId);
    assert.ok(lease);
    const believedUntil = lease.validUntil;
    await ownership.close();
    const b = await node('node-b', recorder, () => [{ modelId, orgId: 'org-1' }]);
    await waitFor(() => b.host.held().includes(modelId), 3 * TTL_MS, 'node b to take the model over');
    const [started] = recorder.of(modelId, 'start', 'node-b');
    assert.ok(started && started.at >= believedUntil, `taken over at +${(started?.at ?? NaN) - sent} ms, node a believed until +${believedUntil - sent} ms`);
    assert.ok(started.token > lease.token);
  });

  it('a graceful stop hands over: the socket closes, then the lease is released, then the other node starts', async () => {
    const recorder = new Recorder();
    const list = models(2).map((m) => ({ ...m, modelId: `${m.modelId}-graceful` }));
    const a = await node('node-a', recorder, () => list, REDIS_URL, 150);
    await waitFor(() => a.host.held().length === list.length, 3000, 'node a to run every model');
    const b = await node('node-b', recorder, () => list);
    const stoppedAt = performance.now();
    await a.host.stopAll();
    assert.deepEqual(a.host.held(), []);
    await waitFor(() => b.host.held().length === list.length, 3 * TTL_MS, 'node b to take every model over');
    for (const { modelId } of list) {
      const [stopped] = recorder.of(modelId, 'stopped', 'node-a');
      const [started] = recorder.of(modelId, 'start', 'node-b');
      assert.ok(stopped && started);
      assert.equal(stopped.holder, 'node-a', 'the lease is still held while the socket closes');
      assert.ok(stopped.at <= started.at);
      // Released, not expired: taken well before the TTL would have run out.
      assert.ok(started.at - stoppedAt < TTL_MS, `${modelId} taken over ${started.at - stoppedAt} ms after the stop`);
    }
    assert.equal(recorder.happenings.filter((h) => h.kind === 'abort').length, 0);
    assert.deepEqual(recorder.overlaps, []);
  });

  it('a lease taken away in Redis aborts the session at the next renewal', async () => {
    const recorder = new Recorder();
    const modelId = 'model-stolen';
    const a = await node('node-a', recorder, () => [{ modelId, orgId: 'org-1' }]);
    await waitFor(() => a.host.held().includes(modelId), 3000, 'the session');
    const redis = new Redis(REDIS_URL);
    cleanups.push(async () => redis.disconnect());
    const stolenAt = performance.now();
    await redis.set(sessionKeys(prefix).lease(modelId), 'node-x 999999', 'PX', 60_000);
    await waitFor(() => recorder.of(modelId, 'abort').length === 1, 3000, 'the abort');
    const [aborted] = recorder.of(modelId, 'abort');
    assert.ok((aborted?.at ?? Infinity) - stolenAt < RENEW_MS + 150, 'at the next renewal, not when validUntil passes');
    assert.deepEqual(a.host.held(), []);
    assert.equal(await a.ownership.holder(modelId), 'node-x', 'an aborted session does not release a lease that is not its own');
    await redis.del(sessionKeys(prefix).lease(modelId));
  });
});

describe('session host: the model list decides (one node)', () => {
  it('reconcile starts models that appear and stops, then releases, those that go', async () => {
    const recorder = new Recorder();
    const ownership = new MemoryOwnership('node-a');
    let list: WantedSession[] = [{ modelId: 'm-1', orgId: 'org-1' }];
    const host = new SessionHost({ ownership, start: recorder.starter('node-a', ownership, 20), logger, renewEveryMs: 60_000, wanted: () => list });
    cleanups.push(() => host.stopAll());
    await host.start();
    assert.deepEqual(host.held(), ['m-1']);
    list = [...list, { modelId: 'm-2', orgId: 'org-1' }];
    await host.reconcile();
    assert.deepEqual(host.held().sort(), ['m-1', 'm-2']);
    list = [{ modelId: 'm-2', orgId: 'org-1' }];
    await host.reconcile();
    await waitFor(() => !host.held().includes('m-1'), 2000, 'm-1 to stop');
    const [stopped] = recorder.of('m-1', 'stopped');
    assert.equal(stopped?.holder, 'node-a', 'released only after the socket closed');
    assert.equal(await ownership.holder('m-1'), null, 'released once stopped');
    assert.equal(host.stats().stopped, 1);
    assert.deepEqual(recorder.of('m-1', 'abort'), []);
    await host.stopAll();
    assert.deepEqual(host.held(), []);
    assert.equal(await ownership.holder('m-2'), null);
    await host.reconcile();
    assert.deepEqual(host.held(), [], 'nothing starts after stopAll');
    assert.equal(recorder.of('m-2', 'start').length, 1);
  });

  it('a model list that cannot be read stops nothing', async () => {
    const recorder = new Recorder();
    const ownership = new MemoryOwnership('node-a');
    let failing = false;
    const host = new SessionHost({
      ownership,
      start: recorder.starter('node-a', ownership),
      logger,
      renewEveryMs: 60_000,
      wanted: async () => {
        if (failing) throw new Error('store unavailable');
        return [{ modelId: 'm-1', orgId: 'org-1' }];
      },
    });
    cleanups.push(() => host.stopAll());
    await host.start();
    failing = true;
    await host.reconcile();
    assert.deepEqual(host.held(), ['m-1']);
    assert.deepEqual(recorder.of('m-1', 'stop'), []);
  });

  it('acquires at most maxAcquiresPerRound models per round, and reaches every model in turn', async () => {
    const recorder = new Recorder();
    const ownership = new MemoryOwnership('node-a');
    const list = models(10);
    const host = new SessionHost({ ownership, start: recorder.starter('node-a', ownership), logger, renewEveryMs: 60_000, wanted: () => list, maxAcquiresPerRound: 4 });
    cleanups.push(() => host.stopAll());
    await host.start();
    assert.equal(host.held().length, 4);
    await host.reconcile();
    assert.equal(host.held().length, 8);
    await host.reconcile();
    assert.deepEqual(host.held().sort(), list.map((m) => m.modelId).sort());
  });

  it('modelChanged reaches the running session of that model only, and reconciles', async () => {
    const ownership = new MemoryOwnership('node-a');
    const changed: string[] = [];
    let list: WantedSession[] = models(2);
    const host = new SessionHost({
      ownership,
      start: (modelId) => ({ stop: async () => undefined, abort: () => undefined, modelChanged: () => changed.push(modelId) }),
      logger,
      renewEveryMs: 60_000,
      wanted: () => list,
    });
    cleanups.push(() => host.stopAll());
    await host.start();
    list = [...list, { modelId: 'model-new', orgId: 'org-1' }];
    await host.modelChanged('model-1');
    assert.deepEqual(changed, ['model-1']);
    assert.ok(host.held().includes('model-new'));
  });

  it('a starter that throws gives the lease back', async () => {
    const ownership = new MemoryOwnership('node-a');
    const host = new SessionHost({
      ownership,
      start: () => {
        throw new Error('no credentials');
      },
      logger,
      renewEveryMs: 60_000,
      wanted: () => [{ modelId: 'm-1', orgId: 'org-1' }],
    });
    cleanups.push(() => host.stopAll());
    await host.start();
    assert.deepEqual(host.held(), []);
    assert.equal(host.stats().startErrors, 1);
    assert.equal(await ownership.holder('m-1'), null);
  });
});
