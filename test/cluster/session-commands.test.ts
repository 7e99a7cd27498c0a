/**
 * Session mode across nodes (sessions-contract.md §1, §3), in process with the machine's Redis:
 * one socket for the model whichever node holds it; a client on another node gets the events
 * through the Redis log, its allow-listed frames and get_onlines reach the one socket through the
 * bus and the reply comes back to it only; the client cap counts across nodes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { serviceSkip } from '../services.js';
import { MODEL_USER_ID, TestClient, waitFor } from '../helpers.js';
import { startCluster, type TestCluster, type TestNode } from './cluster-helpers.js';

const skip = await serviceSkip('redis');

describe('session mode across nodes', { skip }, () => {
  let cluster: TestCluster;
  let holder: TestNode;
  let other: TestNode;
  before(async () => {
    cluster = await startCluster({ config: { nodeTtlMs: 2000, sessionReconnectMinMs: 50, sessionReconnectMaxMs: 200, maxSessionClientsPerModel: 3, sessionRequestTimeoutMs: 2000 } });
    await cluster.store.updateModel(cluster.modelId, { delivery: 'session' });
    await waitFor(() => cluster.nodes.some((n) => n.gateway.sessionStats().byState.connected === 1), 5000, 'a node to hold the session');
    holder = cluster.nodes.find((n) => n.gateway.sessionStats().byState.connected === 1)!;
    other = cluster.nodes.find((n) => n !== holder)!;
  });
  after(async () => {
    await cluster?.close();
  });

  const open = (node: TestNode, query = ''): TestClient =>
    new TestClient(`${node.relayUrl()}${query}`, { headers: { 'X-API-Key': cluster.apiKey } });

  it('one node holds one socket; a client on the other node gets every event, in order, with ids', async () => {
    assert.equal(other.gateway.sessionStats().byState.connected, 0);
    assert.equal(cluster.sim.currentConnections(MODEL_USER_ID), 1);
    const onOther = open(other, '?format=envelope');
    const onHolder = open(holder, '?format=envelope');
    await onOther.confirmed();
    await onHolder.confirmed();
    for (let i = 1; i <= 20; i++) cluster.sim.push(MODEL_USER_ID, `{"api2_chat_message":{"id":${i}}}`);
    for (const c of [onOther, onHolder]) {
      const got: number[] = [];
      const ids: string[] = [];
      while (got.length < 20) {
        const f = (await c.next()).json();
        if (f.type !== 'event') continue;
        got.push((f.data as { api2_chat_message: { id: number } }).api2_chat_message.id);
        ids.push(String(f.id));
      }
      assert.deepEqual(got, Array.from({ length: 20 }, (_, i) => i + 1));
      assert.equal(new Set(ids).size, 20);
    }
    // Both nodes see the same ids: one log.
    onOther.socket.close();
    onHolder.socket.close();
    await Promise.all([onOther.closed, onHolder.closed]);
    assert.equal(cluster.sim.peakConnections(MODEL_USER_ID), 1);
  });

  it("forwards a client's allowed frames from the other node up the one socket, and routes get_onlines replies back to the asker only", async () => {
    cluster.sim.setOnline(['31']);
    const asker = open(other, '?format=envelope');
    const bystander = open(holder);
    await asker.confirmed();
    await bystander.confirmed();
    const before = cluster.sim.received.length;
    asker.socket.send(JSON.stringify({ type: 'send', data: { act: 'typing', typing_to: 31 } }));
    await waitFor(() => cluster.sim.received.slice(before).some((r) => r.data.toString().includes('"typing_to":31')), 5000, 'typing through the holder');
    asker.socket.send(JSON.stringify({ type: 'send', requestId: 'x1', data: { act: 'get_onlines', ids: ['31', '32'] } }));
    const reply = (await asker.next()).json();
    assert.deepEqual(reply, { type: 'reply', requestId: 'x1', data: { online: ['31'] } });
    asker.socket.send(JSON.stringify({ type: 'send', requestId: 'x2', data: { act: 'connect', token: 'stolen' } }));
    const refused = (await asker.next()).json();
    assert.equal(refused.code, 'ACTION_NOT_ALLOWED');
    cluster.sim.push(MODEL_USER_ID, '{"typing":{"id":1}}');
    assert.equal((await bystander.next()).text, '{"typing":{"id":1}}', 'the bystander got no reply, only the event');
    asker.socket.close();
    bystander.socket.close();
    await Promise.all([asker.closed, bystander.closed]);
  });

  it('caps the clients of one model across the cluster (maxSessionClientsPerModel)', async () => {
    await waitFor(() => cluster.nodes.every((n) => n.gateway.registry.all.size === 0), 5000, 'earlier clients gone');
    const clients = [open(holder), open(other), open(other)];
    for (const c of clients) await c.confirmed();
    const extra = open(holder);
    assert.equal((await extra.next()).json().code, 'CONNECTION_LIMIT');
    assert.equal((await extra.closed).code, 4429);
    for (const c of clients) c.socket.close();
    await Promise.all(clients.map((c) => c.closed));
  });
});
