/**
 * Nodes coordinated through the machine's Redis (issue 6, items 2–4): changes made on one
 * node reach relays on another within a second, cluster-wide limits cannot be overshot by
 * racing nodes, the cluster view spans nodes, and Redis going away never drops a working
 * relay. The change-feed poll is slowed to 10 s here, so what arrives within a second came
 * through Redis.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { waitFor, type TestClient } from '../helpers.js';
import { REDIS_URL, serviceSkip } from '../services.js';
import { CuttableProxy, deleteKeys, redisTarget, startCluster, type TestCluster } from './cluster-helpers.js';

const skip = await serviceSkip('redis');
const SLOW_POLL = { changePollIntervalMs: 10_000 };

/** Opens a relay and resolves with the client once confirmed, or with the refusal frame and close. */
async function attempt(client: TestClient): Promise<{ ok: true } | { ok: false; code: unknown; close: number }> {
  const frame = (await client.next()).json();
  if (frame.connected === true) return { ok: true };
  const { code } = await client.closed;
  return { ok: false, code: frame.code, close: code };
}

function elapsedSince(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

describe('cluster: changes on one node reach relays on another', { skip }, () => {
  let cluster: TestCluster;
  before(async () => {
    cluster = await startCluster({ config: SLOW_POLL });
  });
  after(() => cluster?.close());

  it('a key revoked through node A closes the relay on node B within 1 s (4401)', async () => {
    const [a, b] = cluster.nodes as [typeof cluster.nodes[0], typeof cluster.nodes[0]];
    const key = await cluster.store.createApiKey(cluster.orgId, { name: 'to revoke' });
    const client = new (await import('../helpers.js')).TestClient(b.relayUrl(), { headers: { 'X-API-Key': key.key } });
    await client.confirmed();
    const start = process.hrtime.bigint();
    assert.equal((await a.admin('POST', `/keys/${key.id}/revoke`)).status, 200);
    const frame = (await client.next(1000)).json();
    const closed = await client.closed;
    const ms = elapsedSince(start);
    assert.equal(frame.code, 'INVALID_API_KEY');
    assert.equal(closed.code, 4401);
    assert.ok(ms < 1000, `closed after ${ms} ms`);
  });

  it('a model disconnected through node A closes its relays on node B (4409), and connecting it again works', async () => {
    const [a, b] = cluster.nodes as [typeof cluster.nodes[0], typeof cluster.nodes[0]];
    const client = cluster.client(b);
    await client.confirmed();
    const start = process.hrtime.bigint();
    assert.equal((await a.admin('POST', `/models/${cluster.modelId}/disconnect`)).status, 200);
    assert.equal((await client.next(1000)).json().code, 'MODEL_NOT_CONNECTED');
    assert.equal((await client.closed).code, 4409);
    assert.ok(elapsedSince(start) < 1000);
    assert.equal((await a.admin('POST', `/models/${cluster.modelId}/connect`, {})).status, 200);
    const again = cluster.client(b);
    await again.confirmed();
    again.socket.close();
    await again.closed;
  });

  it('a subscription ended through node B closes the organization\'s relays on node A (4402)', async () => {
    const [a, b] = cluster.nodes as [typeof cluster.nodes[0], typeof cluster.nodes[0]];
    const org = await cluster.store.createOrganization({ name: 'Ending' });
    await cluster.store.setSubscription(org.id, { status: 'active' });
    const key = await cluster.store.createApiKey(org.id);
    const model = await cluster.store.createModel(org.id, { wsUrl: cluster.sim.wsUrl(24), wsToken: cluster.wsToken });
    const { TestClient } = await import('../helpers.js');
    const client = new TestClient(a.relayUrl(model.id), { headers: { 'X-API-Key': key.key } });
    await client.confirmed();
    const start = process.hrtime.bigint();
    assert.equal((await b.admin('PUT', `/organizations/${org.id}/subscription`, { status: 'canceled' })).status, 200);
    assert.equal((await client.next(1000)).json().code, 'NO_SUBSCRIPTION');
    assert.equal((await client.closed).code, 4402);
    assert.ok(elapsedSince(start) < 1000);
  });

  it('an organization deleted through node A closes its relays on node B within 1 s (4401)', async () => {
    const [a, b] = cluster.nodes as [typeof cluster.nodes[0], typeof cluster.nodes[0]];
    const org = await cluster.store.createOrganization({ name: 'Leaving' });
    await cluster.store.setSubscription(org.id, { status: 'active' });
    const key = await cluster.store.createApiKey(org.id);
    const model = await cluster.store.createModel(org.id, { wsUrl: cluster.sim.wsUrl(24), wsToken: cluster.wsToken });
    const { TestClient } = await import('../helpers.js');
    const client = new TestClient(b.relayUrl(model.id), { headers: { 'X-API-Key': key.key } });
    await client.confirmed();
    const start = process.hrtime.bigint();
    assert.equal((await a.admin('DELETE', `/organizations/${org.id}`)).status, 200);
    assert.equal((await client.next(1000)).json().code, 'INVALID_API_KEY');
    assert.equal((await client.closed).code, 4401);
    assert.ok(elapsedSince(start) < 1000);
  });

  it('a key rotated with a grace through node A: its relay on node B stays open, then closes at the grace\'s end (4401)', async () => {
    const [a, b] = cluster.nodes as [typeof cluster.nodes[0], typeof cluster.nodes[0]];
    const key = await cluster.store.createApiKey(cluster.orgId, { name: 'rotating' });
    const { TestClient } = await import('../helpers.js');
    const client = new TestClient(b.relayUrl(), { headers: { 'X-API-Key': key.key } });
    await client.confirmed();
    const rotated = await a.admin('POST', `/keys/${key.id}/rotate`, { graceSeconds: 2 });
    assert.equal(rotated.status, 201);
    const endsAt = Date.parse(rotated.json<{ graceEndsAt: string }>().graceEndsAt);
    // Node B learns the new end through Redis (its own poll is 10 s away) and closes then.
    const frame = (await client.next(4000)).json();
    const closedAt = Date.now();
    assert.equal(frame.code, 'INVALID_API_KEY');
    assert.equal((await client.closed).code, 4401);
    assert.ok(closedAt >= endsAt && closedAt < endsAt + 1000, `closed ${closedAt - endsAt} ms after the grace ended`);
  });

  it('node A lists both nodes and every node\'s relays with their counters, and closes a relay held by node B', async () => {
    const [a, b] = cluster.nodes as [typeof cluster.nodes[0], typeof cluster.nodes[0]];
    const onA = cluster.client(a);
    const onB = cluster.client(b);
    await onA.confirmed();
    await onB.confirmed();
    onB.socket.send(JSON.stringify({ act: 'get_onlines', ids: ['1'] }));
    await onB.next();

    const nodes = (await a.admin('GET', '/nodes')).json<{ id: string; self: boolean; relays: number; pid: number }[]>();
    assert.deepEqual(nodes.map((n) => n.id).sort(), [a.gateway.nodeId, b.gateway.nodeId].sort());
    assert.equal(nodes[0]?.id, a.gateway.nodeId);
    assert.equal(nodes[0]?.self, true);
    assert.equal(nodes[1]?.self, false);

    const answer = await a.admin('GET', `/relays?orgId=${cluster.orgId}`);
    assert.equal(answer.headers.get('x-ofgw-missing-nodes'), null);
    const relays = answer.json<{ id: string; node: string; messagesToUpstream: number; messagesToClient: number }[]>();
    assert.equal(relays.length, 2);
    const remote = relays.find((r) => r.node === b.gateway.nodeId);
    assert.ok(remote, 'node B\'s relay is listed');
    assert.equal(remote.messagesToUpstream, 1);
    assert.ok(remote.messagesToClient >= 1);
    assert.ok(relays.some((r) => r.node === a.gateway.nodeId));

    const start = process.hrtime.bigint();
    const closing = await a.admin('DELETE', `/relays/${remote.id}`);
    assert.equal(closing.status, 202);
    const closed = await onB.closed;
    assert.ok(elapsedSince(start) < 1000);
    assert.deepEqual(closed, { code: 1000, reason: 'closed by operator' });
    assert.equal((await a.admin('DELETE', `/relays/${remote.id}`)).status, 404);
    onA.socket.close();
    await onA.closed;
  });
});

describe('cluster: limits hold across nodes', { skip }, () => {
  let cluster: TestCluster;
  before(async () => {
    cluster = await startCluster({ nodes: 3, config: { plans: { pro: { maxRelaysPerOrg: 3 } }, maxUpstreamSocketsPerModel: 2 } });
  });
  after(() => cluster?.close());

  it('relays per organization: 12 racing admissions on 3 nodes confirm exactly 3; a freed slot is taken on another node', async () => {
    // Three models, so the per-model limit (2) is not what binds.
    const models = [cluster.modelId];
    for (let i = 0; i < 2; i++) {
      models.push((await cluster.store.createModel(cluster.orgId, { wsUrl: cluster.sim.wsUrl(24), wsToken: cluster.wsToken })).id);
    }
    const clients = Array.from({ length: 12 }, (_, i) => cluster.client(cluster.nodes[i % 3] as TestCluster['nodes'][0], models[i % 3]));
    const results = await Promise.all(clients.map(attempt));
    const confirmed = clients.filter((_, i) => results[i]?.ok);
    assert.equal(confirmed.length, 3, JSON.stringify(results));
    for (const r of results) if (!r.ok) assert.deepEqual([r.code, r.close], ['CONNECTION_LIMIT', 4429]);
    // Free one slot; a relay on a node that holds none of the three gets it.
    const holder = confirmed[0] as TestClient;
    holder.socket.close();
    await holder.closed;
    const node = cluster.nodes.find((n) => n.gateway.registry.all.size === 0) ?? (cluster.nodes[2] as TestCluster['nodes'][0]);
    const next = cluster.client(node, models[0]);
    await waitFor(() => true);
    assert.deepEqual(await attempt(next), { ok: true });
    assert.deepEqual(await attempt(cluster.client(node, models[1])), { ok: false, code: 'CONNECTION_LIMIT', close: 4429 });
    for (const c of [...confirmed.slice(1), next]) c.socket.close();
    await Promise.all([...confirmed.slice(1), next].map((c) => c.closed));
  });

  it('OnlyFans sockets per model: 6 racing admissions for one model on 3 nodes confirm exactly 2', async () => {
    const clients = Array.from({ length: 6 }, (_, i) => cluster.client(cluster.nodes[i % 3] as TestCluster['nodes'][0]));
    const results = await Promise.all(clients.map(attempt));
    assert.equal(results.filter((r) => r.ok).length, 2, JSON.stringify(results));
    for (const r of results) if (!r.ok) assert.deepEqual([r.code, r.close], ['CONNECTION_LIMIT', 4429]);
    for (const c of clients) c.socket.close();
    await Promise.all(clients.map((c) => c.closed));
  });

  it('a node that shuts down releases its share at once', async () => {
    const leaving = await cluster.addNode();
    const held = Array.from({ length: 2 }, () => cluster.client(leaving));
    for (const c of held) await c.confirmed();
    assert.deepEqual(await attempt(cluster.client(cluster.nodes[0] as TestCluster['nodes'][0])), { ok: false, code: 'CONNECTION_LIMIT', close: 4429 });
    await leaving.close();
    for (const c of held) assert.equal((await c.closed).code, 1012);
    const after = cluster.client(cluster.nodes[0] as TestCluster['nodes'][0]);
    assert.deepEqual(await attempt(after), { ok: true });
    after.socket.close();
    await after.closed;
  });
});

describe('cluster: Redis briefly unavailable', { skip }, () => {
  let cluster: TestCluster;
  let proxy: CuttableProxy;
  before(async () => {
    proxy = new CuttableProxy(redisTarget());
    await proxy.start();
    cluster = await startCluster({ nodes: 0, config: { maxUpstreamSocketsPerModel: 2 } });
    await cluster.addNode({ redis: proxy.url });
  });
  after(async () => {
    await proxy?.cut();
    await cluster?.close();
  });

  it('working relays go on, new ones fail clearly with 1011, and the node recovers by itself with its slots re-asserted', async () => {
    const node = cluster.nodes[0] as TestCluster['nodes'][0];
    const live = cluster.client(node);
    await live.confirmed();

    await proxy.cut();
    // Redis restarting empty: every key of this cluster is gone when it comes back.
    await deleteKeys(REDIS_URL, cluster.prefix);
    await waitFor(() => !node.gateway.clustered || node.logs.lines.some((l) => l.includes('cluster coordination unavailable')), 3000, 'the node to notice');

    live.socket.send(JSON.stringify({ act: 'get_onlines', ids: ['7'] }));
    assert.deepEqual((await live.next()).json(), { online: [] }, 'the open relay still relays');

    const start = process.hrtime.bigint();
    const refused = cluster.client(node);
    const closed = await refused.closed;
    assert.deepEqual(closed, { code: 1011, reason: 'cluster coordination unavailable' });
    assert.ok(elapsedSince(start) < 3000, 'refused promptly, not left hanging');
    assert.equal((await node.admin('GET', '/nodes')).status, 503);
    const ready = await fetch(`http://127.0.0.1:${node.port}/readyz`);
    assert.equal(ready.status, 503);
    assert.match(await ready.text(), /cluster coordination unavailable/);
    assert.match(await (await fetch(`http://127.0.0.1:${node.port}/metrics`)).text(), /^ofgw_cluster_coordination_up 0$/m);

    await proxy.start();
    await waitFor(() => node.logs.lines.some((l) => l.includes('cluster coordination restored')), 10_000, 'the node to reconnect');
    assert.equal((await fetch(`http://127.0.0.1:${node.port}/readyz`)).status, 200);
    assert.match(await (await fetch(`http://127.0.0.1:${node.port}/metrics`)).text(), /^ofgw_cluster_coordination_up 1$/m);
    // The relay opened before the outage counts again (limit 2): one more fits, then no more.
    const second = cluster.client(node);
    assert.deepEqual(await attempt(second), { ok: true });
    assert.deepEqual(await attempt(cluster.client(node)), { ok: false, code: 'CONNECTION_LIMIT', close: 4429 });
    const redis = new Redis(REDIS_URL);
    try {
      assert.equal(await redis.hlen(`${cluster.prefix}model:${cluster.modelId}`), 2);
    } finally {
      redis.disconnect();
    }
    live.socket.send(JSON.stringify({ act: 'get_onlines', ids: ['7'] }));
    assert.deepEqual((await live.next()).json(), { online: [] });
    for (const c of [live, second]) c.socket.close();
    await Promise.all([live.closed, second.closed]);
  });
});
