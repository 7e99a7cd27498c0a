/**
 * `ofgw connect` as a real process against a real gateway: where it takes the gateway's
 * address from (issue 13 item 9: it read OFGW_URL, which the record commands read as the
 * management API's address, so exporting it for one broke the other).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MODEL_USER_ID, startStack, waitFor, type Stack } from '../helpers.js';
import { runCli, spawnCli } from './cli-helpers.js';

/** Nothing of the runner's own environment decides where these processes connect. */
const CLEAN = { OFGW_URL: '', OFGW_ADMIN_URL: '', OFGW_GATEWAY_URL: '' };

describe('ofgw connect', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack();
  });
  after(async () => {
    await stack.close();
  });

  it('takes the gateway from OFGW_GATEWAY_URL and prints the frames', async () => {
    const connect = spawnCli(['connect', stack.modelId, '--api-key', stack.apiKey, '--count', '1'], { ...CLEAN, OFGW_GATEWAY_URL: stack.baseUrl });
    await waitFor(() => connect.stdout().includes('"connected":true'), 10_000, `the relay to open (stderr: ${connect.stderr()})`);
    stack.sim.push(MODEL_USER_ID, { typing: { id: 7 } });
    assert.equal(await connect.exited, 0, connect.stderr());
    assert.match(connect.stdout(), /^\{"typing":\{"id":7\}\}$/m);
  });

  it('does not take OFGW_URL (the management API) for the gateway, and names the variable to use', async () => {
    const r = await runCli(['connect', stack.modelId, '--api-key', stack.apiKey, '--count', '1'], { ...CLEAN, OFGW_URL: stack.baseUrl });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^ofgw: connect: OFGW_URL is not read here: it names the management API .*; give the gateway's address with --url or OFGW_GATEWAY_URL/);
  });

  it('a gateway address of the wrong form names where it came from', async () => {
    for (const [env, args, from] of [
      [{ OFGW_GATEWAY_URL: 'ftp://127.0.0.1:1' }, [], 'OFGW_GATEWAY_URL'],
      [{}, ['--url', '127.0.0.1:8080'], '--url'],
    ] as const) {
      const r = await runCli(['connect', stack.modelId, '--api-key', stack.apiKey, ...args], { ...CLEAN, ...env });
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, new RegExp(`^ofgw: connect: ${from} must be the gateway's ws:// or wss:// URL`));
    }
  });
});
