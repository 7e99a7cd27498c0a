/**
 * The sandbox on several non-production nodes (issue 13): it was wired to the first node's
 * in-process simulator, a second node started a simulator nobody used, and the sandbox died
 * with node 1. Now every node serves relays through the simulator on the shared sandbox port
 * (all of them accept the seeded token), and a node that finds the port held by another
 * node's simulator takes the port over when that node goes away.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { bannerCommand, startServe, type Served } from '../cli/cli-helpers.js';
import { freePort, TestClient, waitFor } from '../helpers.js';
import { REDIS_URL, serviceSkip } from '../services.js';
import { postgresSkip, tempDatabase } from '../store/temp-store.js';
import { deleteKeys } from './cluster-helpers.js';

const skip = postgresSkip || (await serviceSkip('redis'));

/** A relay through `node` is confirmed and then gets the simulator's first frame. */
async function relaysEvents(node: Served, modelId: string, apiKey: string): Promise<void> {
  const client = new TestClient(`ws://127.0.0.1:${node.port}/api/models/${modelId}/ws`, { headers: { 'X-API-Key': apiKey } });
  await client.confirmed();
  assert.equal(typeof (await client.next(5000)).json().chat_messages, 'number', 'the simulator sends its counters frame');
  client.socket.close();
  await client.closed;
}

test('the sandbox keeps working after the node that seeded it (and held its simulator) is killed', { skip }, async (t) => {
  const db = await tempDatabase(t, 'postgres');
  const prefix = `ofgw-test:${randomBytes(4).toString('hex')}:`;
  t.after(() => deleteKeys(REDIS_URL, prefix));
  const env = { OFGW_MASTER_KEY: randomBytes(32).toString('base64'), OFGW_MASTER_KEY_FILE: '', OFGW_MASTER_KEY_PREVIOUS: '', OFGW_LOG_LEVEL: 'info' };
  const args = ['--port', '0', '--db', db.location, '--sandbox-port', String(await freePort()), '--redis', REDIS_URL, '--redis-prefix', prefix, '--node-ttl-ms', '2000'];

  const first = await startServe(args, env);
  t.after(() => first.stop('SIGKILL'));
  const { modelId, apiKey } = bannerCommand(first.stderr());
  const second = await startServe(args, env);
  t.after(() => second.stop());
  assert.match(second.stdout(), /"simulator":"standby".*"msg":"sandbox ready"/, 'the second node stands by: the port is the first one\'s');
  assert.ok(!second.stderr().includes('API key'), 'the sandbox was not seeded again');

  // Through either node, the relay reaches the one simulator on the port.
  await relaysEvents(first, modelId, apiKey);
  await relaysEvents(second, modelId, apiKey);

  first.child.kill('SIGKILL');
  await first.exited;
  await waitFor(() => second.stdout().includes('"msg":"sandbox simulator taken over"'), 10_000, 'the second node to take the port over');
  await relaysEvents(second, modelId, apiKey);
  assert.equal(await second.stop(), 0, second.stderr());
});
