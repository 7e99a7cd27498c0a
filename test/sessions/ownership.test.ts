/**
 * Session ownership (sessions-contract.md §1): one suite for the single-node leases and the
 * Redis ones (two instances on one prefix = two nodes), plus what only a cluster has: leases
 * that expire, and a holder that believes in its lease for less time than Redis keeps it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { MemoryOwnership, tokenClock } from '../../src/sessions/ownership-memory.js';
import { RedisOwnership } from '../../src/sessions/ownership-redis.js';
import { sessionKeys, type Lease, type Ownership } from '../../src/sessions/types.js';
import { deleteKeys } from '../cluster/cluster-helpers.js';
import { waitFor } from '../helpers.js';
import { REDIS_URL, serviceSkip } from '../services.js';

const skip = await serviceSkip('redis');
const TTL_MS = 1000;

interface Nodes {
  /** This node. */
  a: Ownership;
  /** Another node sharing a's leases, where the implementation has others. */
  b: Ownership | undefined;
  /** A new instance standing for node a after a restart (`highest`: the highest token so far). */
  restart(highest: number): Promise<Ownership>;
  close(): Promise<void>;
}

function modelId(): string {
  return `model-${randomBytes(4).toString('hex')}`;
}

function ownershipSuite(name: string, options: { skip: string | false; make: () => Promise<Nodes> }): void {
  describe(`session ownership: ${name}`, { skip: options.skip }, () => {
    let nodes: Nodes;
    before(async () => {
      nodes = await options.make();
    });
    after(() => nodes?.close());

    it('only one of 20 racing acquires wins, across nodes', async () => {
      const model = modelId();
      const racers = Array.from({ length: 20 }, (_, i) => (i % 2 === 1 && nodes.b ? nodes.b : nodes.a));
      const results = await Promise.all(racers.map((o) => o.tryAcquire(model)));
      const winners = results.map((lease, i) => ({ lease, node: racers[i]?.nodeId })).filter((r) => r.lease !== null);
      assert.equal(winners.length, 1);
      assert.equal(await nodes.a.holder(model), winners[0]?.node);
    });

    it('tokens strictly increase across grants, and across a restart', async () => {
      const model = modelId();
      const tokens: number[] = [];
      for (let i = 0; i < 5; i++) {
        const owner = i % 2 === 1 && nodes.b ? nodes.b : nodes.a;
        const lease = await owner.tryAcquire(model);
        assert.ok(lease, `grant ${i}`);
        tokens.push(lease.token);
        await owner.release(lease);
      }
      const restarted = await nodes.restart(Math.max(...tokens));
      try {
        const lease = await restarted.tryAcquire(model);
        assert.ok(lease);
        tokens.push(lease.token);
      } finally {
        await restarted.close();
      }
      for (let i = 1; i < tokens.length; i++) assert.ok((tokens[i] as number) > (tokens[i - 1] as number), `tokens ${tokens.join(', ')}`);
    });

    it('renews and releases only the holder\'s current lease', async () => {
      const model = modelId();
      const first = await nodes.a.tryAcquire(model);
      assert.ok(first);
      assert.equal(await nodes.a.tryAcquire(model), null, 'held: a second acquire gets nothing');
      await nodes.a.release(first);
      assert.equal(await nodes.a.holder(model), null);
      const second = await nodes.a.tryAcquire(model);
      assert.ok(second);
      // A lease from an earlier grant is no longer the holder's, even on the same node.
      assert.equal(await nodes.a.renew(first), false);
      await nodes.a.release(first);
      assert.equal(await nodes.a.holder(model), nodes.a.nodeId);
      assert.equal(await nodes.a.renew(second), true);
      if (nodes.b) {
        const forged: Lease = { ...second };
        assert.equal(await nodes.b.renew(forged), false, 'another node cannot renew it');
        await nodes.b.release(forged);
        assert.equal(await nodes.b.holder(model), nodes.a.nodeId, 'another node cannot release it');
        assert.equal(await nodes.b.tryAcquire(model), null);
      }
      await nodes.a.release(second);
      assert.equal(await nodes.a.renew(second), false, 'a released lease is lost');
      assert.equal(await nodes.a.holder(model), null);
    });
  });
}

ownershipSuite('memory', {
  skip: false,
  async make() {
    return {
      a: new MemoryOwnership('node-a'),
      b: undefined,
      async restart(highest) {
        // See the memory-only restart test below for why it waits for the clock.
        await waitFor(() => tokenClock() > highest, 1000, 'the token clock to pass the old tokens');
        return new MemoryOwnership('node-a');
      },
      close: async () => undefined,
    };
  },
});

describe('session ownership: memory tokens after a restart', () => {
  it('a new instance grants every model, not only the old ones, a token above any granted before', async () => {
    const old = new MemoryOwnership('node-a');
    let highest = 0;
    for (let i = 0; i < 50; i++) highest = Math.max(highest, (await old.tryAcquire(`model-${i}`))?.token ?? 0);
    // The documented bound: tokens may run ahead of the clock by one per grant made faster than
    // one a microsecond (these fifty are), so the restart comes once the clock has passed them.
    await waitFor(() => tokenClock() > highest, 1000, 'the token clock to pass the old tokens');
    const restarted = new MemoryOwnership('node-a');
    const lease = await restarted.tryAcquire('a model never seen');
    assert.ok(lease && lease.token > highest, `${lease?.token} > ${highest}`);
    assert.equal(lease.validUntil, Number.POSITIVE_INFINITY, 'nothing in one process takes a lease away');
  });
});

/** Calls `attempt` every 20 ms until it answers non-null; rejects after `timeoutMs`. */
async function eventually<T>(attempt: () => Promise<T | null>, timeoutMs: number, what: string): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    const value = await attempt();
    if (value !== null) return value;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

let redisPrefix = '';
ownershipSuite('Redis', {
  skip,
  async make() {
    redisPrefix = `ofgw-test:${randomBytes(4).toString('hex')}:`;
    const start = (nodeId: string): Promise<RedisOwnership> => RedisOwnership.start({ url: REDIS_URL, prefix: redisPrefix, nodeId, ttlMs: TTL_MS });
    const [a, b] = await Promise.all([start('node-a'), start('node-b')]);
    return {
      a,
      b,
      restart: () => start('node-a'),
      async close() {
        await Promise.all([a.close(), b.close()]);
        await deleteKeys(REDIS_URL, redisPrefix);
      },
    };
  },
});

describe('session ownership: Redis leases expire', { skip }, () => {
  const prefix = `ofgw-test:${randomBytes(4).toString('hex')}:`;
  const keys = sessionKeys(prefix);
  let a!: RedisOwnership;
  let b!: RedisOwnership;
  let redis: Redis;
  before(async () => {
    const start = (nodeId: string): Promise<RedisOwnership> => RedisOwnership.start({ url: REDIS_URL, prefix, nodeId, ttlMs: TTL_MS });
    a = await start('node-a');
    b = await start('node-b');
    redis = new Redis(REDIS_URL);
  });
  after(async () => {
    await Promise.all([a?.close(), b?.close()]);
    redis?.disconnect();
    await deleteKeys(REDIS_URL, prefix);
  });

  it('another node takes an unrenewed lease over after the TTL, with a higher token', async () => {
    const model = modelId();
    const sent = performance.now();
    const lease = await a.tryAcquire(model);
    assert.ok(lease);
    const taken = await eventually(() => b.tryAcquire(model), 3 * TTL_MS, 'node b to take the lease');
    const waited = performance.now() - sent;
    assert.ok(waited >= TTL_MS - 50, `taken over after ${waited} ms`);
    assert.ok(taken.token > lease.token);
    assert.equal(await a.renew(lease), false, 'the old holder learns it lost the lease');
    assert.equal(await a.holder(model), 'node-b');
  });

  it('a holder believes in its lease for less time than Redis keeps it, after acquire and renew', async () => {
    const model = modelId();
    const lease = await a.tryAcquire(model);
    assert.ok(lease);
    const check = async (what: string): Promise<void> => {
      // Redis expires the key no earlier than when PTTL was sent plus the PTTL it answers.
      const asked = performance.now();
      const pttl = await redis.pttl(keys.lease(model));
      assert.ok(pttl > 0, `${what}: the lease key has a TTL`);
      assert.ok(lease.validUntil < asked + pttl, `${what}: validUntil ${lease.validUntil - asked} ms ahead, Redis ${pttl} ms`);
      assert.ok(lease.validUntil > performance.now(), `${what}: the lease is valid now`);
    };
    await check('acquired');
    const before = lease.validUntil;
    await waitFor(() => performance.now() > before - TTL_MS / 2, TTL_MS, 'half the validity to pass');
    assert.equal(await a.renew(lease), true);
    assert.ok(lease.validUntil > before, 'a renewal moves validUntil on');
    await check('renewed');
    assert.equal(await redis.get(keys.lease(model)), `node-a ${lease.token}`);
  });

  it('a renewal that cannot reach Redis throws instead of saying the lease is lost', async () => {
    const gone = await RedisOwnership.start({ url: REDIS_URL, prefix, nodeId: 'node-c', ttlMs: TTL_MS });
    const lease = await gone.tryAcquire(modelId());
    assert.ok(lease);
    await gone.close();
    await assert.rejects(gone.renew(lease), (err: Error) => err.name === 'OwnershipUnavailableError' && /127\.0\.0\.1:6379/.test(err.message));
  });

  it('refuses a node id with a space and a TTL too short for the safety margin', async () => {
    await assert.rejects(RedisOwnership.start({ url: REDIS_URL, prefix, nodeId: 'node x', ttlMs: TTL_MS }), /must not contain a space/);
    await assert.rejects(RedisOwnership.start({ url: REDIS_URL, prefix, nodeId: 'node-x', ttlMs: 250 }), /nodeTtlMs 250 is too short/);
  });
});
