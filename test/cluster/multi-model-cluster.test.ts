/**
 * One socket for many models in a cluster (sessions-contract.md §4) with the machine's Redis:
 * the models' sessions may be held by any node; a multi-model socket on one node gets every
 * model's events from the shared log, its frames reach each model's holder, and its models count
 * against the cluster-wide client cap.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { serviceSkip } from '../services.js';
import { TestClient, waitFor } from '../helpers.js';
import { startCluster, type TestCluster } from './cluster-helpers.js';

const skip = await serviceSkip('redis');

describe('multi-model sockets across nodes', { skip }, () => {
  let cluster: TestCluster;
  const models: { id: string; userId: number }[] = [];
  before(async () => {
    cluster = await startCluster({ config: { nodeTtlMs: 2000, sessionReconnectMinMs: 50, sessionReconnectMaxMs: 200, maxSessionClientsPerModel: 2 } });
    for (const userId of [6001, 6002, 6003]) {
      const model = await cluster.store.createModel(cluster.orgId, { name: `Model ${userId}`, wsUrl: cluster.sim.wsUrl(24), wsToken: cluster.sim.issueToken({ userId }), delivery: 'session' });
      models.push({ id: model.id, userId });
    }
    for (const m of models) await waitFor(() => cluster.sim.currentConnections(m.userId) === 1, 8000, `the session socket of ${m.userId}`);
  });
  after(async () => {
    await cluster?.close();
  });

  const open = (node: number, query: string): TestClient =>
    new TestClient(`ws://127.0.0.1:${cluster.nodes[node]!.port}/api/ws?${query}`, { headers: { 'X-API-Key': cluster.apiKey } });

  it("gets every model's events on one node whichever node holds each session, and frames reach each holder", async () => {
    // The socket goes to the node holding fewer of the sessions: some of its models are held elsewhere.
    // A session's socket is open at the simulator a moment before the session says connected.
    const heldNow = (): number[] => cluster.nodes.map((n) => n.gateway.sessionStats().byState.connected);
    await waitFor(() => heldNow().reduce((x, y) => x + y, 0) === 3, 5000, 'all three sessions connected');
    const held = heldNow();
    const node = held[0]! <= held[1]! ? 0 : 1;
    assert.ok(held[node]! < 3);
    const c = open(node, `models=${models.map((m) => m.id).join(',')}`);
    const conf = await c.confirmed();
    assert.deepEqual(conf.models, models.map((m) => m.id));
    for (let i = 1; i <= 5; i++) for (const m of models) cluster.sim.push(m.userId, `{"api2_chat_message":{"id":${i}}}`);
    const got = new Map<string, number[]>();
    let n = 0;
    while (n < 15) {
      const f = (await c.next()).json();
      if (f.type !== 'event') continue;
      const list = got.get(String(f.modelId)) ?? [];
      list.push((f.data as { api2_chat_message: { id: number } }).api2_chat_message.id);
      got.set(String(f.modelId), list);
      n++;
    }
    for (const m of models) assert.deepEqual(got.get(m.id), [1, 2, 3, 4, 5], `model ${m.userId} in order`);
    const before = cluster.sim.received.length;
    for (const m of models) c.socket.send(JSON.stringify({ type: 'send', modelId: m.id, data: { act: 'typing', typing_to: m.userId } }));
    await waitFor(() => models.every((m) => cluster.sim.received.slice(before).some((r) => r.data.toString().includes(`"typing_to":${m.userId}`))), 5000, 'a typing frame up each model\'s socket');
    for (const m of models) assert.equal(cluster.sim.peakConnections(m.userId), 1);
    c.socket.close();
    await c.closed;
  });

  it("counts each model against the cluster-wide client cap: a model whose cap is reached elsewhere is refused on its own", async () => {
    await waitFor(() => cluster.nodes.every((n) => n.gateway.registry.all.size === 0), 5000, 'earlier sockets gone');
    const first = models[0]!;
    const holders = [cluster.client(cluster.nodes[0]!, first.id), cluster.client(cluster.nodes[1]!, first.id)];
    for (const h of holders) await h.confirmed();
    const c = open(1, `models=${models.map((m) => m.id).join(',')}`);
    const conf = await c.confirmed();
    assert.deepEqual(conf.models, models.slice(1).map((m) => m.id));
    const refusal = (await c.next()).json();
    assert.equal(refusal.type, 'error');
    assert.equal(refusal.modelId, first.id);
    assert.equal(refusal.code, 'CONNECTION_LIMIT');
    for (const s of [c, ...holders]) s.socket.close();
    await Promise.all([c, ...holders].map((s) => s.closed));
  });
});
