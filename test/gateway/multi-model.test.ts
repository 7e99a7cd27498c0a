/**
 * One socket for many models (sessions-contract.md §4): every model's events on one socket,
 * each naming its model; the event filter; resume per model; per-model admission (one refused,
 * one admitted; none admitted closes); a model that leaves while the others stay; revocation
 * closing the whole socket; each model counted against the organization's and the model's
 * limits; client frames to one model's session.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startStack, TestClient, waitFor, type Frame, type Stack } from '../helpers.js';

interface Model {
  id: string;
  userId: number;
}

describe('multi-model sockets', () => {
  let stack: Stack;
  const models: Model[] = [];
  const [A, B, C] = [0, 1, 2];

  before(async () => {
    stack = await startStack({
      config: { sessionReconnectMinMs: 50, sessionReconnectMaxMs: 200, maxRelaysPerOrg: 5, maxSessionClientsPerModel: 2, maxModelsPerSocket: 3 },
    });
    for (const userId of [5001, 5002, 5003, 5004]) {
      const model = await stack.store.createModel(stack.orgId, { name: `Model ${userId}`, wsUrl: stack.sim.wsUrl(24), wsToken: stack.sim.issueToken({ userId }), userAgent: 'TestAgent/1.0' });
      await stack.store.updateModel(model.id, { delivery: 'session' });
      models.push({ id: model.id, userId });
    }
    for (const m of models) await waitFor(() => stack.sim.currentConnections(m.userId) === 1, 5000, `the session socket of ${m.userId}`);
  });
  after(async () => {
    await stack.close();
  });

  const m = (i: number): Model => models[i] as Model;

  function open(query: string, apiKey = stack.apiKey): TestClient {
    return new TestClient(`${stack.baseUrl}/api/ws?${query}`, { headers: { 'X-API-Key': apiKey } });
  }

  /** The next frame that is not an upstream status. */
  async function nextFrame(c: TestClient): Promise<Record<string, unknown>> {
    for (;;) {
      const f = (await c.next()).json();
      if (f.type !== 'status') return f;
    }
  }

  async function closeAll(...clients: TestClient[]): Promise<void> {
    for (const c of clients) c.socket.close();
    await Promise.all(clients.map((c) => c.closed));
  }

  function idOf(f: Record<string, unknown>): number {
    return ((f.data as Record<string, { id: number }>)[String(f.event)] as { id: number }).id;
  }

  it('delivers the events of every model, each with its modelId', async () => {
    const c = open(`models=${m(A).id},${m(B).id},${m(C).id}`);
    const conf = await c.confirmed();
    assert.equal(conf.format, 'envelope');
    assert.deepEqual(conf.models, [m(A).id, m(B).id, m(C).id]);
    for (const i of [A, B, C]) stack.sim.push(m(i).userId, `{"api2_chat_message":{"id":${i + 1}}}`);
    const got = new Map<string, number>();
    while (got.size < 3) {
      const f = await nextFrame(c);
      assert.equal(f.type, 'event');
      assert.match(String(f.id), /^\d+-\d+$/);
      got.set(String(f.modelId), idOf(f));
    }
    assert.deepEqual(Object.fromEntries(got), { [m(A).id]: 1, [m(B).id]: 2, [m(C).id]: 3 });
    await closeAll(c);
  });

  it('events= keeps only the given OnlyFans event keys', async () => {
    const c = open(`models=${m(A).id},${m(B).id}&events=api2_chat_message`);
    await c.confirmed();
    stack.sim.push(m(A).userId, '{"typing":{"id":10}}');
    stack.sim.push(m(B).userId, Buffer.from([1, 2, 3]), { binary: true });
    stack.sim.push(m(A).userId, '{"api2_chat_message":{"id":11}}');
    stack.sim.push(m(B).userId, '{"api2_chat_message":{"id":12}}');
    const seen: number[] = [];
    while (seen.length < 2) {
      const f = await nextFrame(c);
      assert.equal(f.event, 'api2_chat_message', `only chat messages pass: ${JSON.stringify(f)}`);
      seen.push(idOf(f));
    }
    assert.deepEqual(seen.sort(), [11, 12]);
    await closeAll(c);
  });

  it('resumes each model from its own since, and the others from the live tail', async () => {
    const first = open(`models=${m(A).id},${m(B).id}`);
    await first.confirmed();
    stack.sim.push(m(A).userId, '{"api2_chat_message":{"id":20}}');
    stack.sim.push(m(B).userId, '{"api2_chat_message":{"id":30}}');
    const last: Record<string, string> = {};
    while (Object.keys(last).length < 2) {
      const f = await nextFrame(first);
      last[String(f.modelId)] = String(f.id);
    }
    await closeAll(first);
    for (const id of [21, 22]) stack.sim.push(m(A).userId, `{"api2_chat_message":{"id":${id}}}`);
    stack.sim.push(m(B).userId, '{"api2_chat_message":{"id":31}}');
    // Logged already or arriving live: either way each once, in order.
    const watcher = open(`models=${m(A).id},${m(B).id}&since=${m(A).id}:${last[m(A).id]},${m(B).id}:${last[m(B).id]}`);
    const conf = await watcher.confirmed();
    assert.deepEqual(conf.resumed, { [m(A).id]: true, [m(B).id]: true });
    const a: number[] = [];
    const b: number[] = [];
    while (a.length + b.length < 3) {
      const f = await nextFrame(watcher);
      (f.modelId === m(A).id ? a : b).push(idOf(f));
    }
    assert.deepEqual(a, [21, 22]);
    assert.deepEqual(b, [31]);
    // Resume A only: B starts at the live tail (31 is not replayed).
    const resumed = open(`models=${m(A).id},${m(B).id}&since=${m(A).id}:${last[m(A).id]}`);
    const conf2 = await resumed.confirmed();
    assert.deepEqual(conf2.resumed, { [m(A).id]: true, [m(B).id]: false });
    assert.deepEqual([idOf(await nextFrame(resumed)), idOf(await nextFrame(resumed))], [21, 22]);
    stack.sim.push(m(B).userId, '{"api2_chat_message":{"id":32}}');
    const next = await nextFrame(resumed);
    assert.equal(next.modelId, m(B).id);
    assert.equal(idOf(next), 32);
    await closeAll(watcher, resumed);
  });

  it('admits some models and names each one refused; the socket stays open for the others', async () => {
    const unknown = randomUUID();
    const c = open(`models=${unknown},${m(A).id},${stack.modelId}`);
    const conf = await c.confirmed();
    assert.deepEqual(conf.models, [m(A).id]);
    const refusedUnknown = (await c.next()).json();
    assert.deepEqual(refusedUnknown, { type: 'error', modelId: unknown, code: 'MODEL_NOT_FOUND', error: refusedUnknown.error });
    const refusedRelay = (await c.next()).json();
    assert.equal(refusedRelay.modelId, stack.modelId);
    assert.equal(refusedRelay.code, 'BAD_REQUEST');
    assert.match(String(refusedRelay.error), /relay mode/);
    stack.sim.push(m(A).userId, '{"api2_chat_message":{"id":40}}');
    assert.equal(idOf(await nextFrame(c)), 40);
    await closeAll(c);
  });

  it('closes with the first refusal\'s code when no model is admitted', async () => {
    const unknown = randomUUID();
    const c = open(`models=${unknown},${stack.modelId}`);
    const frames: Frame[] = [];
    const closed = await c.closed;
    frames.push(...c.frames);
    assert.equal(closed.code, 4404);
    const json = frames.map((f) => f.json());
    assert.deepEqual(json.map((f) => [f.type, f.modelId, f.code]), [
      ['error', unknown, 'MODEL_NOT_FOUND'],
      ['error', stack.modelId, 'BAD_REQUEST'],
      [undefined, undefined, 'MODEL_NOT_FOUND'],
    ]);
    assert.ok(!json.some((f) => f.connected), 'no confirmation');
  });

  it('refuses more models than maxModelsPerSocket, and a malformed since, with BAD_REQUEST naming the parameter', async () => {
    const tooMany = open(`models=${models.map((x) => x.id).join(',')}`);
    const f = (await tooMany.next()).json();
    assert.equal(f.code, 'BAD_REQUEST');
    assert.match(String(f.error), /^models names more than 3 models/);
    assert.equal((await tooMany.closed).code, 4400);
    const badSince = open(`models=${m(A).id}&since=${m(B).id}:1-0`);
    assert.match(String((await badSince.next()).json().error), /^since names a model that models does not/);
    assert.equal((await badSince.closed).code, 4400);
    const noModels = open('events=typing');
    assert.match(String((await noModels.next()).json().error), /^models is required/);
  });

  it('a model that becomes unavailable gets an error frame and leaves; the others stay', async () => {
    const d = m(3);
    const c = open(`models=${m(A).id},${d.id}`);
    await c.confirmed();
    await stack.store.setModelStatus(d.id, 'disconnected');
    const left = await nextFrame(c);
    assert.deepEqual([left.type, left.modelId, left.code], ['error', d.id, 'MODEL_NOT_CONNECTED']);
    stack.sim.push(m(A).userId, '{"api2_chat_message":{"id":50}}');
    assert.equal(idOf(await nextFrame(c)), 50);
    assert.equal(c.socket.readyState, c.socket.OPEN);
    const views = await stack.gateway.listRelays({ modelId: d.id });
    assert.equal(views.relays.length, 0, 'the model no longer counts on the socket');
    await closeAll(c);
  });

  it('counts each model against the organization\'s limit and the model\'s client cap', async () => {
    const first = open(`models=${m(A).id},${m(B).id}`);
    await first.confirmed();
    const second = open(`models=${m(A).id},${m(C).id}`);
    await second.confirmed();
    const listed = await stack.gateway.listRelays({ modelId: m(C).id });
    assert.equal(listed.relays.length, 1);
    // A has 2 clients (its cap); the organization has 4 of 5.
    const third = open(`models=${m(A).id},${m(B).id}`);
    const conf = await third.confirmed();
    assert.deepEqual(conf.models, [m(B).id]);
    const refused = (await third.next()).json();
    assert.deepEqual([refused.modelId, refused.code], [m(A).id, 'CONNECTION_LIMIT']);
    assert.match(String(refused.error), /clients attached to this model/);
    // The organization is full: a socket whose every model is refused closes with 4429.
    const fourth = open(`models=${m(C).id}`);
    assert.equal((await fourth.closed).code, 4429);
    assert.match(String(fourth.frames[0]?.json().error), /concurrent relays for this organization/);
    await closeAll(first, second, third);
  });

  it('sends a client frame up the named model\'s session only, and refuses frames naming no model of the socket', async () => {
    const c = open(`models=${m(A).id},${m(B).id}`);
    await c.confirmed();
    const before = stack.sim.received.length;
    c.socket.send(JSON.stringify({ type: 'send', modelId: m(B).id, data: { act: 'typing', typing_to: 77 } }));
    await waitFor(() => stack.sim.received.slice(before).some((r) => r.userId === String(m(B).userId) && r.data.toString().includes('"typing_to":77')), 5000, 'typing upstream on B');
    assert.ok(!stack.sim.received.slice(before).some((r) => r.userId === String(m(A).userId)), 'nothing went up A');
    c.socket.send(JSON.stringify({ type: 'send', requestId: 'x', data: { act: 'typing' } }));
    const reply = await nextFrame(c);
    assert.deepEqual([reply.type, reply.requestId, reply.code], ['reply', 'x', 'ACTION_NOT_ALLOWED']);
    c.socket.send(JSON.stringify({ type: 'send', requestId: 'y', modelId: m(A).id, data: { act: 'connect' } }));
    assert.equal((await nextFrame(c)).code, 'ACTION_NOT_ALLOWED');
    await closeAll(c);
  });

  it('a revoked key closes the whole socket (4401)', async () => {
    const key = await stack.store.createApiKey(stack.orgId, { name: 'multi' });
    const c = open(`models=${m(A).id},${m(B).id}`, key.key);
    await c.confirmed();
    await stack.store.revokeApiKey(key.id);
    const closed = await c.closed;
    assert.equal(closed.code, 4401);
    const codes = c.frames.map((f) => f.json()).filter((f) => f.code !== undefined);
    assert.deepEqual(codes.map((f) => f.code), ['INVALID_API_KEY']);
  });
});
