/**
 * Regression (issue 13): a second `{"connected": true, …}` from the upstream, after the
 * gateway's own confirmation, reached the client, and the contract's own §8 example
 * (`if (frame.connected) return console.log("relay open …")`) took it for a second
 * confirmation. The gateway now consumes every connect reply of the upstream, whenever it comes
 * (text or binary, spaced or compact), and relays everything else — events that merely mention
 * "connected" included.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startStack, TestClient, type Stack } from '../helpers.js';
import { frame, OP, startRawUpstream, type RawUpstream } from '../wire-helpers.js';

describe('a second connected reply from the upstream', () => {
  let stack: Stack;
  let up: RawUpstream;
  before(async () => {
    stack = await startStack();
    up = await startRawUpstream();
  });
  after(async () => {
    await up.close();
    await stack.close();
  });

  it('is consumed in every form; the events around it are relayed in order, unchanged', async () => {
    const model = await stack.store.createModel(stack.orgId, { wsUrl: up.url, wsToken: stack.wsToken });
    const client = new TestClient(stack.relayUrl(model.id), { headers: { 'X-API-Key': stack.apiKey } });
    assert.deepEqual(await client.confirmed(), { connected: true, modelId: model.id });
    const conn = await up.conn(up.conns.length - 1);
    const relayed = [
      '{"api2_chat_message":{"text":"we are connected now"}}',
      '{"connected":false}',
      '{"online":[1]}',
    ];
    conn.socket.write(
      Buffer.concat([
        frame(OP.text, relayed[0] as string, { mask: false }),
        frame(OP.text, '{"connected": true, "v": "5.4.0"}', { mask: false }),
        frame(OP.binary, '{"connected":true,"v":"5.4.0"}', { mask: false }),
        frame(OP.text, relayed[1] as string, { mask: false }),
        frame(OP.text, ' { "v" : "5.4.0" , "connected" : true } ', { mask: false }),
        frame(OP.text, relayed[2] as string, { mask: false }),
      ]),
    );
    for (const text of relayed) {
      const got = await client.next();
      assert.equal(got.isBinary, false);
      assert.equal(got.text, text);
    }
    // Nothing else came: the next frame is the one sent after this point.
    conn.socket.write(frame(OP.text, '{"chat_messages":1}', { mask: false }));
    assert.equal((await client.next()).text, '{"chat_messages":1}');
    client.socket.close();
    await client.closed;
  });

  it("the reply to a client's own connect act never reaches it as a second confirmation", async () => {
    const model = await stack.store.createModel(stack.orgId, { wsUrl: up.url, wsToken: stack.wsToken });
    const client = new TestClient(stack.relayUrl(model.id), { headers: { 'X-API-Key': stack.apiKey } });
    await client.confirmed();
    const conn = await up.conn(up.conns.length - 1);
    const before = conn.relayed().length;
    client.socket.send(JSON.stringify({ act: 'connect', token: stack.wsToken }));
    // The act went up unchanged; OnlyFans' reply to it is consumed.
    const act = await conn.in.next(5000, 'the relayed connect act');
    assert.deepEqual(JSON.parse(act.payload.toString()), { act: 'connect', token: stack.wsToken });
    assert.equal(conn.relayed().length, before + 1);
    conn.socket.write(Buffer.concat([frame(OP.text, '{"connected": true, "v": "5.4.0"}', { mask: false }), frame(OP.text, '{"online":[]}', { mask: false })]));
    const next = (await client.next()).json();
    assert.deepEqual(next, { online: [] });
    client.socket.close();
    await client.closed;
  });
});
