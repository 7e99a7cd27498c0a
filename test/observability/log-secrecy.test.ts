/**
 * Log secrecy (issue 4 item 4): real relays and every refusal the gateway can reach run
 * through one gateway, then the whole log is searched for every secret involved — API keys
 * (whole, without the `ofgw_sk_` prefix, without the visible part), WebSocket tokens, a
 * cookie, and a proxy password (raw, URL-encoded and base64, alone and as `user:password`).
 * Each relay must also leave exactly one `relay closed` line with the documented fields.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { API_KEY_PREFIX, API_KEY_VISIBLE_LENGTH } from '../../src/auth/api-key.js';
import { expiredKey, freePort, MODEL_USER_ID, startStack, tamperedKey, TestClient, waitFor, type Stack } from '../helpers.js';

const COOKIE = 'sess=c00kie-S3CRET-value-7f3a; auth_id=424242; fp=q9Zx';
const PROXY_USER = 'proxyuser';
const PROXY_PASSWORD = 'Pr0xy-P@ss/w0rd:+x';
const PENDING_MESSAGES = 2; // the hard bound is 4×: the 9th held message is RATE_LIMITED

type LogRecord = Record<string, unknown>;

describe('log secrecy and relay-closed lines', () => {
  let stack: Stack;
  /** Every secret a log line must not contain. */
  const secrets = new Set<string>();
  /** Relay-closed lines already checked by a scenario. */
  let checkedLines = 0;
  let expectedRelays = 0;

  before(async () => {
    stack = await startStack({
      config: { pendingMessages: PENDING_MESSAGES, maxUpstreamSocketsPerModel: 1 },
      simulator: { invalidCommandCloseMs: false },
    });
    addKey(stack.apiKey);
    secrets.add(stack.wsToken);
  });
  after(async () => {
    await stack?.close();
  });

  function addKey(key: string): void {
    secrets.add(key);
    secrets.add(key.slice(API_KEY_PREFIX.length));
    secrets.add(key.slice(API_KEY_VISIBLE_LENGTH));
  }

  function token(userId: number, ttlSeconds?: number): string {
    const t = stack.sim.issueToken(ttlSeconds === undefined ? { userId } : { userId, ttlSeconds });
    secrets.add(t);
    secrets.add(t.split('.')[2] as string); // the signature alone
    return t;
  }

  function closedLines(): LogRecord[] {
    return stack.logs.records().filter((r) => r.msg === 'relay closed');
  }

  /**
   * Waits until the gateway tracks no relay, then checks the `relay closed` lines written
   * since the previous scenario: one per relay, with the expected outcomes in order.
   */
  async function expectClosed(...outcomes: string[]): Promise<LogRecord[]> {
    await waitFor(() => stack.gateway.registry.all.size === 0, 5000, 'every relay to finish');
    const lines = closedLines().slice(checkedLines);
    assert.deepEqual(lines.map((l) => l.outcome), outcomes);
    checkedLines += lines.length;
    expectedRelays += outcomes.length;
    return lines;
  }

  /** A connection the gateway refuses: the error frame, then its close code. */
  async function refused(url: string, headers: Record<string, string> | undefined, code: string, closeCode: number): Promise<void> {
    const client = new TestClient(url, headers ? { headers } : {});
    const frame = (await client.next()).json();
    assert.equal(frame.code, code, JSON.stringify(frame));
    assert.equal((await client.closed).code, closeCode);
    await expectClosed(code);
  }

  const withKey = (key: string) => ({ 'X-API-Key': key });

  it('a relay with the key in the header, with traffic both ways', async () => {
    const client = new TestClient(stack.relayUrl(), { headers: withKey(stack.apiKey) });
    await client.confirmed();
    client.socket.send('{"act":"noop","n":1}');
    client.socket.send('{"act":"noop","n":2}');
    await waitFor(() => stack.sim.received.length >= 2, 5000, 'two upstream messages');
    stack.sim.push(MODEL_USER_ID, '{"new_message":{"id":1}}');
    await client.next();
    client.socket.close(1000);
    await client.closed;
    const [line] = await expectClosed('ok');
    assert.equal(line?.messagesToUpstream, 2);
    assert.equal(line?.bytesToUpstream, 40);
    assert.equal(line?.messagesToClient, 1);
    assert.equal(line?.bytesToClient, 24);
    assert.equal(line?.clientCloseCode, 1000);
  });

  it('a relay with the key in the api_key query parameter', async () => {
    const client = new TestClient(stack.relayUrl(stack.modelId, `?api_key=${encodeURIComponent(stack.apiKey)}`));
    await client.confirmed();
    client.socket.close(1000);
    await client.closed;
    await expectClosed('ok');
  });

  it('a relay to a model with a cookie (sent upstream, never logged)', async () => {
    const model = await stack.store.createModel(stack.orgId, { wsUrl: stack.sim.wsUrl(), wsToken: token(5101), cookie: COOKIE });
    const client = new TestClient(stack.relayUrl(model.id), { headers: withKey(stack.apiKey) });
    await client.confirmed();
    assert.equal(stack.sim.handshakes.at(-1)?.headers.cookie, COOKIE, 'the cookie went upstream');
    client.socket.close(1000);
    await client.closed;
    await expectClosed('ok');
  });

  it('NO_API_KEY', async () => {
    await refused(stack.relayUrl(), undefined, 'NO_API_KEY', 4401);
  });

  it('INVALID_API_KEY: a tampered, a revoked and an expired key', async () => {
    const tampered = tamperedKey(stack.apiKey);
    addKey(tampered);
    await refused(stack.relayUrl(), withKey(tampered), 'INVALID_API_KEY', 4401);
    const revoked = await stack.store.createApiKey(stack.orgId);
    addKey(revoked.key);
    await stack.store.revokeApiKey(revoked.id);
    await refused(stack.relayUrl(), withKey(revoked.key), 'INVALID_API_KEY', 4401);
    const expired = await expiredKey(stack.store, stack.orgId);
    addKey(expired.key);
    // In the query parameter this time: a refused key there must not reach the log either.
    await refused(stack.relayUrl(stack.modelId, `?api_key=${expired.key}`), undefined, 'INVALID_API_KEY', 4401);
  });

  it('NO_SUBSCRIPTION', async () => {
    const org = await stack.store.createOrganization({ name: 'Lapsed Ltd' });
    const key = await stack.store.createApiKey(org.id);
    addKey(key.key);
    const model = await stack.store.createModel(org.id, { wsUrl: stack.sim.wsUrl(), wsToken: token(5102) });
    await refused(stack.relayUrl(model.id), withKey(key.key), 'NO_SUBSCRIPTION', 4402);
  });

  it('MODEL_NOT_FOUND', async () => {
    await refused(stack.relayUrl('00000000-0000-4000-8000-000000000000'), withKey(stack.apiKey), 'MODEL_NOT_FOUND', 4404);
  });

  it('MODEL_NOT_CONNECTED', async () => {
    const model = await stack.store.createModel(stack.orgId, { wsUrl: stack.sim.wsUrl(), wsToken: token(5103) });
    await stack.store.setModelStatus(model.id, 'disconnected');
    await refused(stack.relayUrl(model.id), withKey(stack.apiKey), 'MODEL_NOT_CONNECTED', 4409);
  });

  it('NO_WS_CREDENTIALS: an expired token', async () => {
    const model = await stack.store.createModel(stack.orgId, { wsUrl: stack.sim.wsUrl(), wsToken: token(5104, -60) });
    await refused(stack.relayUrl(model.id), withKey(stack.apiKey), 'NO_WS_CREDENTIALS', 4412);
  });

  it('WS_CONNECT_ERROR: OnlyFans rejects the token', async () => {
    const userId = 5105;
    stack.sim.setFault({ kind: 'reject-token' }, { userId });
    const model = await stack.store.createModel(stack.orgId, { wsUrl: stack.sim.wsUrl(), wsToken: token(userId), cookie: COOKIE });
    await refused(stack.relayUrl(model.id), withKey(stack.apiKey), 'WS_CONNECT_ERROR', 4502);
    stack.sim.clearFaults();
  });

  it('WS_CONNECT_ERROR: the upstream refuses the upgrade, or the TCP connection', async () => {
    const model = await stack.store.createModel(stack.orgId, { wsUrl: stack.sim.wsUrl(), wsToken: token(5106) });
    stack.sim.setFault({ kind: 'refuse', status: 403 });
    await refused(stack.relayUrl(model.id), withKey(stack.apiKey), 'WS_CONNECT_ERROR', 4502);
    stack.sim.clearFaults();
    const closed = await stack.store.createModel(stack.orgId, { wsUrl: `ws://127.0.0.1:${await freePort()}/ws3/1`, wsToken: token(5107) });
    await refused(stack.relayUrl(closed.id), withKey(stack.apiKey), 'WS_CONNECT_ERROR', 4502);
  });

  it('WS_CONNECT_ERROR: a proxy with a password that cannot be reached, and a cookie', async () => {
    const encoded = encodeURIComponent(PROXY_PASSWORD);
    for (const s of [PROXY_PASSWORD, encoded, `${PROXY_USER}:${PROXY_PASSWORD}`, `${PROXY_USER}:${encoded}`]) {
      secrets.add(s);
      secrets.add(Buffer.from(s).toString('base64'));
      secrets.add(Buffer.from(s).toString('base64url'));
    }
    const proxyUrl = `http://${PROXY_USER}:${encoded}@127.0.0.1:${await freePort()}`;
    const model = await stack.store.createModel(stack.orgId, { wsUrl: stack.sim.wsUrl(), wsToken: token(5108), cookie: COOKIE, proxyUrl });
    await refused(stack.relayUrl(model.id), withKey(stack.apiKey), 'WS_CONNECT_ERROR', 4502);
    assert.ok(stack.logs.records().some((r) => r.msg === 'model proxy failing'), 'the proxy failure was logged');
  });

  it('RATE_LIMITED: too many messages before the confirmation', async () => {
    const userId = 5109;
    stack.sim.setFault({ kind: 'silence' }, { userId });
    const model = await stack.store.createModel(stack.orgId, { wsUrl: stack.sim.wsUrl(), wsToken: token(userId) });
    const client = new TestClient(stack.relayUrl(model.id), { headers: withKey(stack.apiKey) });
    await new Promise((r) => client.socket.once('open', r));
    // One write: the gateway parses every frame of the chunk even once it pauses the client.
    for (let i = 0; i < PENDING_MESSAGES * 4 + 4; i++) client.socket.send(`{"act":"noop","i":${i}}`);
    const frame = (await client.next()).json();
    assert.equal(frame.code, 'RATE_LIMITED', JSON.stringify(frame));
    assert.equal((await client.closed).code, 4429);
    stack.sim.clearFaults();
    await expectClosed('RATE_LIMITED');
  });

  it('CONNECTION_LIMIT: a second OnlyFans socket for the same model', async () => {
    const first = new TestClient(stack.relayUrl(), { headers: withKey(stack.apiKey) });
    await first.confirmed();
    const second = new TestClient(stack.relayUrl(), { headers: withKey(stack.apiKey) });
    assert.equal((await second.next()).json().code, 'CONNECTION_LIMIT');
    assert.equal((await second.closed).code, 4429);
    first.socket.close(1000);
    await first.closed;
    await expectClosed('CONNECTION_LIMIT', 'ok');
  });

  it('a relay closed because its key was revoked while connected', async () => {
    const key = await stack.store.createApiKey(stack.orgId, { name: 'soon revoked' });
    addKey(key.key);
    const client = new TestClient(stack.relayUrl(), { headers: withKey(key.key) });
    await client.confirmed();
    await stack.store.revokeApiKey(key.id);
    assert.equal((await client.closed).code, 4401);
    const [line] = await expectClosed('INVALID_API_KEY');
    assert.equal(line?.keyId, key.id);
  });

  it('no secret appears in any log line', () => {
    assert.ok(stack.logs.lines.length > expectedRelays, 'the log has lines');
    for (const secret of secrets) {
      assert.ok(secret.length >= 8, `a secret too short to search for: ${secret}`);
      const leaks = stack.logs.lines.filter((l) => l.includes(secret));
      assert.deepEqual(leaks, [], `a secret (${secret.slice(0, 4)}…) reached the log`);
    }
    // A cookie value, and any header or URL the redaction missed, searched by its distinctive part.
    for (const fragment of ['c00kie-S3CRET', 'api_key=ofgw', 'Pr0xy']) {
      assert.deepEqual(stack.logs.lines.filter((l) => l.includes(fragment)), [], fragment);
    }
  });

  it('each relay has exactly one "relay closed" line with the documented fields', () => {
    const records = stack.logs.records();
    const closed = records.filter((r) => r.msg === 'relay closed');
    assert.equal(closed.length, expectedRelays);
    const ids = closed.map((r) => r.relay);
    assert.equal(new Set(ids).size, ids.length, 'one line per relay');
    const opened = records.filter((r) => r.msg === 'relay opened');
    assert.equal(new Set(opened.map((r) => r.relay)).size, opened.length, 'one opened line per relay');
    for (const o of opened) assert.ok(ids.includes(o.relay), `opened relay ${String(o.relay)} has a closed line`);
    const openedIds = new Set(opened.map((r) => r.relay));
    for (const line of closed) {
      const what = JSON.stringify(line);
      assert.match(String(line.relay), /^[0-9a-f-]{36}$/, what);
      assert.equal(typeof line.outcome, 'string', what);
      assert.equal(typeof line.clientCloseCode, 'number', what);
      assert.equal(typeof line.durationMs, 'number', what);
      for (const field of ['messagesToUpstream', 'bytesToUpstream', 'messagesToClient', 'bytesToClient']) {
        assert.equal(typeof line[field], 'number', `${field} in ${what}`);
      }
      if (openedIds.has(line.relay)) {
        for (const field of ['orgId', 'keyId', 'modelId']) assert.match(String(line[field]), /^[0-9a-f-]{36}$/, `${field} in ${what}`);
        assert.equal(typeof line.upstreamCloseCode, 'number', what);
        assert.equal(typeof line.openMs, 'number', what);
      } else {
        assert.equal(line.openMs, undefined, what);
      }
    }
  });
});
