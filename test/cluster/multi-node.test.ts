/**
 * Real `ofgw serve` processes on one PostgreSQL database and one Redis (issue 6, item 6):
 * a revocation on one node closes a relay on another, the organization's relay limit holds
 * across nodes, a node killed without a goodbye has its share released within nodeTtlMs,
 * and a node cut off from Redis keeps its relays, refuses new ones clearly and recovers.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startSimulator, type OnlyFansSimulator } from '../../src/sandbox/index.js';
import { ADMIN_TOKEN, request, type Answer } from '../admin/admin-helpers.js';
import { startServe, type Served } from '../cli/cli-helpers.js';
import { MODEL_USER_ID, TestClient, waitFor } from '../helpers.js';
import { REDIS_URL, serviceSkip } from '../services.js';
import { CuttableProxy, deleteKeys, redisTarget, tempSchema } from './cluster-helpers.js';

const skip = (await serviceSkip('postgres')) || (await serviceSkip('redis'));
const NODE_TTL_MS = 2000;
const MASTER_KEY = randomBytes(32).toString('base64');

interface Node {
  served: Served;
  admin(method: string, path: string, body?: unknown): Promise<Answer>;
  url(modelId: string): string;
}

describe('several ofgw serve processes on PostgreSQL and Redis', { skip }, () => {
  let db: Awaited<ReturnType<typeof tempSchema>>;
  let sim: OnlyFansSimulator;
  let proxy: CuttableProxy;
  const prefix = `ofgw-test:${randomBytes(4).toString('hex')}:`;
  const nodes: Node[] = [];
  let orgId = '';
  let apiKey = '';
  let modelIds: string[] = [];

  const startNode = async (redisUrl = REDIS_URL): Promise<Node> => {
    const served = await startServe(
      [
        '--production', '--port', '0', '--db', db.url, '--redis', redisUrl, '--redis-prefix', prefix,
        '--node-ttl-ms', String(NODE_TTL_MS), '--change-poll-interval-ms', '10000',
        '--max-relays-per-org', '3', '--ip-connect-burst', '1000', '--key-connect-burst', '1000',
      ],
      { OFGW_MASTER_KEY: MASTER_KEY, OFGW_ADMIN_TOKEN: ADMIN_TOKEN, OFGW_LOG_LEVEL: 'info' },
    );
    const base = `127.0.0.1:${served.port}`;
    const node: Node = {
      served,
      admin: (method, path, body) => request(`http://${base}/admin/v1${path}`, method, body, { authorization: `Bearer ${ADMIN_TOKEN}` }),
      url: (modelId) => `ws://${base}/api/models/${modelId}/ws`,
    };
    nodes.push(node);
    return node;
  };
  const client = (node: Node, modelId = modelIds[0] as string, key = apiKey): TestClient =>
    new TestClient(node.url(modelId), { headers: { 'X-API-Key': key } });
  const outcome = async (c: TestClient): Promise<string> => {
    const frame = (await c.next(5000)).json();
    return frame.connected === true ? 'ok' : String(frame.code);
  };

  before(async () => {
    db = await tempSchema();
    sim = await startSimulator();
    proxy = new CuttableProxy(redisTarget());
    await proxy.start();
    const first = await startNode();
    await startNode();
    const org = (await first.admin('POST', '/organizations', { name: 'Cluster Agency' })).json<{ id: string }>();
    orgId = org.id;
    await first.admin('PUT', `/organizations/${orgId}/subscription`, { status: 'active' });
    apiKey = (await first.admin('POST', `/organizations/${orgId}/keys`, { name: 'main' })).json<{ key: string }>().key;
    const wsToken = sim.issueToken({ userId: MODEL_USER_ID });
    for (let i = 0; i < 3; i++) {
      const model = (await first.admin('POST', `/organizations/${orgId}/models`, { wsUrl: sim.wsUrl(24), wsToken })).json<{ id: string }>();
      modelIds.push(model.id);
    }
  });

  after(async () => {
    for (const node of nodes) await node.served.stop('SIGKILL');
    await proxy?.cut();
    await sim?.close();
    await db?.drop();
    await deleteKeys(REDIS_URL, prefix);
  });

  it('a key revoked on node 1 closes its relay on node 2 within 1 s; both nodes are listed', async () => {
    const [one, two] = nodes as [Node, Node];
    const spare = (await one.admin('POST', `/organizations/${orgId}/keys`, { name: 'spare' })).json<{ id: string; key: string }>();
    const relay = client(two, modelIds[0], spare.key);
    await relay.confirmed();
    const listed = (await one.admin('GET', '/nodes')).json<{ pid: number }[]>();
    assert.deepEqual(listed.map((n) => n.pid).sort(), [one.served.child.pid, two.served.child.pid].sort());
    const start = Date.now();
    assert.equal((await one.admin('POST', `/keys/${spare.id}/revoke`)).status, 200);
    assert.equal((await relay.next(1000)).json().code, 'INVALID_API_KEY');
    assert.equal((await relay.closed).code, 4401);
    assert.ok(Date.now() - start < 1000, `closed after ${Date.now() - start} ms`);
  });

  it('the organization\'s limit (3) holds across nodes racing for it', async () => {
    const [one, two] = nodes as [Node, Node];
    const racing = Array.from({ length: 8 }, (_, i) => client(i % 2 ? two : one, modelIds[i % 3]));
    const results = await Promise.all(racing.map(outcome));
    assert.equal(results.filter((r) => r === 'ok').length, 3, results.join(','));
    assert.ok(results.every((r) => r === 'ok' || r === 'CONNECTION_LIMIT'), results.join(','));
    for (const c of racing) c.socket.close();
    await Promise.all(racing.map((c) => c.closed));
  });

  it('a node killed without a goodbye has its share released within nodeTtlMs', async () => {
    const [one] = nodes as [Node];
    const doomed = await startNode();
    const held = modelIds.map((id) => client(doomed, id));
    for (const c of held) await c.confirmed();
    assert.equal(await outcome(client(one)), 'CONNECTION_LIMIT');
    doomed.served.child.kill('SIGKILL');
    await doomed.served.exited;
    const killedAt = Date.now();
    let releasedAfter = -1;
    for (let i = 0; i < 40 && releasedAfter < 0; i++) {
      const attempt = client(one, modelIds[i % 3]);
      if ((await outcome(attempt)) === 'ok') {
        releasedAfter = Date.now() - killedAt;
        attempt.socket.close();
        await attempt.closed;
      } else await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(releasedAfter >= 0, 'the share was never released');
    assert.ok(releasedAfter <= NODE_TTL_MS + 1000, `released after ${releasedAfter} ms`);
    const listed = (await one.admin('GET', '/nodes')).json<{ pid: number }[]>();
    assert.ok(!listed.some((n) => n.pid === doomed.served.child.pid), 'the dead node is no longer listed');
  });

  it('a node cut off from Redis keeps its relays, refuses new ones with 1011, and recovers by itself', async () => {
    const cut = await startNode(proxy.url);
    const live = client(cut);
    await live.confirmed();
    await proxy.cut();
    await waitFor(() => cut.served.stdout().includes('cluster coordination unavailable'), 5000, 'the node to notice');
    live.socket.send(JSON.stringify({ act: 'get_onlines', ids: ['5'] }));
    assert.deepEqual((await live.next()).json(), { online: [] });
    assert.deepEqual(await client(cut).closed, { code: 1011, reason: 'cluster coordination unavailable' });
    await proxy.start();
    await waitFor(() => cut.served.stdout().includes('cluster coordination restored'), 10_000, 'the node to reconnect');
    const fresh = client(cut, modelIds[1]);
    assert.equal(await outcome(fresh), 'ok');
    assert.equal(cut.served.child.exitCode, null, 'the node is still running');
    live.socket.send(JSON.stringify({ act: 'get_onlines', ids: ['5'] }));
    assert.deepEqual((await live.next()).json(), { online: [] });
    for (const c of [live, fresh]) c.socket.close();
    await Promise.all([live.closed, fresh.closed]);
  });
});
