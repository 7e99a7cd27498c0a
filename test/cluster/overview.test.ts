/**
 * GET /admin/v1/overview in a cluster (two nodes, Redis): asked on one node, the answer adds up
 * both nodes' samples — relays and session clients on either node — and names the node holding
 * the session, with the clients of both nodes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { overviewSchema } from '../../src/admin/schemas.js';
import { MODEL_USER_ID, TestClient, waitFor } from '../helpers.js';
import { serviceSkip } from '../services.js';
import { startCluster, type TestCluster } from './cluster-helpers.js';

const skip = await serviceSkip('redis');
type Overview = ReturnType<typeof overviewSchema.parse>;

describe('the overview across a cluster', { skip }, () => {
  let cluster: TestCluster;
  const clients: TestClient[] = [];
  before(async () => {
    cluster = await startCluster({ config: { overviewSampleMs: 100, nodeTtlMs: 2000 } });
  });
  after(async () => {
    for (const c of clients) c.socket.terminate();
    await cluster?.close();
  });

  it('adds up every node and shows where the session runs', async () => {
    const [a, b] = cluster.nodes as [TestCluster['nodes'][number], TestCluster['nodes'][number]];
    const relayModel = await cluster.store.createModel(cluster.orgId, { name: 'Relay model', wsUrl: cluster.sim.wsUrl(24), wsToken: cluster.sim.issueToken({ userId: 616161 }) });
    await cluster.store.updateModel(cluster.modelId, { delivery: 'session' });
    await waitFor(() => cluster.sim.currentConnections(MODEL_USER_ID) === 1, 10_000, 'the session socket');
    const open = (node: typeof a, modelId: string): TestClient => {
      const c = cluster.client(node, modelId);
      clients.push(c);
      return c;
    };
    const opened = [open(a, relayModel.id), open(b, relayModel.id), open(b, relayModel.id), open(a, cluster.modelId), open(b, cluster.modelId)];
    for (const c of opened) assert.equal((await c.confirmed()).connected, true);

    const deadline = Date.now() + 10_000;
    let seen: Overview;
    for (;;) {
      const answer = await a.admin('GET', '/overview');
      assert.equal(answer.status, 200, answer.text);
      seen = overviewSchema.parse(answer.json());
      const latest = seen.series.at(-1);
      if (latest?.relays === 3 && latest.sessionClients === 2 && seen.sessionModels[0]?.clients === 2) break;
      if (Date.now() > deadline) throw new Error(`never added up: ${JSON.stringify({ nodes: seen.nodes, latest, sessionModels: seen.sessionModels })}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.deepEqual([...seen.nodes].sort(), [a.gateway.nodeId, b.gateway.nodeId].sort());
    assert.equal(seen.nodes[0], a.gateway.nodeId, 'the answering node first');
    assert.deepEqual(seen.missingNodes, []);
    const holder = cluster.nodes.find((n) => n.gateway.sessionStats().byState.connected === 1);
    assert.ok(holder, 'one node holds the session');
    assert.deepEqual(seen.sessionModels[0], { id: cluster.modelId, orgId: cluster.orgId, name: 'Model A', status: 'connected', upstream: 'connected', node: holder.gateway.nodeId, clients: 2 });
  });
});
