/**
 * The session bus (sessions-contract.md §3): one suite for the in-process bus and the Redis
 * one (two instances on one prefix = two nodes). Commands reach the model's holder only,
 * replies only the node they are addressed to, and a command nobody serves is reported unsent.
 * "Only" is checked by ordering: a later message to the other party is awaited, and the
 * earlier one must not have come before it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { MemoryBus } from '../../src/sessions/bus-memory.js';
import { BusMessageTooLargeError, MAX_BUS_MESSAGE_BYTES } from '../../src/sessions/bus-messages.js';
import { RedisBus } from '../../src/sessions/bus-redis.js';
import { sessionKeys, type SessionBus, type SessionCommand, type SessionReply } from '../../src/sessions/types.js';
import { deleteKeys } from '../cluster/cluster-helpers.js';
import { waitFor } from '../helpers.js';
import { REDIS_URL, serviceSkip } from '../services.js';

const skip = await serviceSkip('redis');

interface Buses {
  /** The node the tests send from (and which serves `model-a`). */
  a: SessionBus & { nodeId: string };
  /** Another node, where the implementation has others. */
  b: (SessionBus & { nodeId: string }) | undefined;
  /** Resolves once the model's commands reach a server (a subscription is asynchronous). */
  served(modelId: string): Promise<void>;
  /** Puts raw bytes on the model's command channel, where the implementation has one. */
  raw?(modelId: string, message: string): Promise<void>;
  close(): Promise<void>;
}

function busSuite(name: string, options: { skip: string | false; injects: boolean; make: () => Promise<Buses> }): void {
  describe(`session bus: ${name}`, { skip: options.skip }, () => {
    let buses: Buses;
    before(async () => {
      buses = await options.make();
    });
    after(() => buses?.close());

    it('a command reaches the server of its model only, unchanged', async () => {
      const server = buses.b ?? buses.a;
      const gotA: SessionCommand[] = [];
      const gotB: SessionCommand[] = [];
      const offA = server.serve('model-a', (c) => gotA.push(c));
      const offB = server.serve('model-b', (c) => gotB.push(c));
      try {
        await Promise.all([buses.served('model-a'), buses.served('model-b')]);
        const command: SessionCommand = { text: '{"act":"get_onlines","ids":[1,2]}', reply: { node: buses.a.nodeId, requestId: 'r-1' } };
        assert.equal(await buses.a.send('model-a', command), true);
        assert.equal(await buses.a.send('model-b', { text: '{"act":"typing"}' }), true);
        await waitFor(() => gotB.length === 1 && gotA.length === 1, 2000, 'both commands');
        assert.deepEqual(gotA, [command]);
        assert.deepEqual(gotB, [{ text: '{"act":"typing"}' }]);
      } finally {
        offA();
        offB();
      }
    });

    it('send answers false when no server listens, also after the server unsubscribed', async () => {
      assert.equal(await buses.a.send('model-nobody', { text: '{"act":"typing"}' }), false);
      const got: SessionCommand[] = [];
      const off = (buses.b ?? buses.a).serve('model-gone', (c) => got.push(c));
      await buses.served('model-gone');
      assert.equal(await buses.a.send('model-gone', { text: '1' }), true);
      await waitFor(() => got.length === 1, 2000, 'the command');
      off();
      let sent = true;
      for (let i = 0; i < 100 && sent; i++) {
        sent = await buses.a.send('model-gone', { text: '2' });
        if (sent) await new Promise((resolve) => setTimeout(resolve, 10)); // the unsubscribe is on its way
      }
      assert.equal(sent, false);
      assert.deepEqual(got.map((c) => c.text), ['1'], 'nothing reaches a handler that unsubscribed');
    });

    it('a reply reaches only the node it is addressed to', async () => {
      const gotA: SessionReply[] = [];
      const gotB: SessionReply[] = [];
      const offA = buses.a.onReply((r) => gotA.push(r));
      const offB = buses.b?.onReply((r) => gotB.push(r));
      try {
        const first: SessionReply = { requestId: 'r-1', text: '{"onlines":[1]}' };
        const second: SessionReply = { requestId: 'r-2', error: { code: 'REQUEST_FAILED', message: 'no answer in time' } };
        await buses.a.reply(buses.b?.nodeId ?? 'node-elsewhere', first);
        await (buses.b ?? buses.a).reply(buses.a.nodeId, second);
        await waitFor(() => gotA.length === 1 && gotB.length === (buses.b ? 1 : 0), 2000, 'the replies');
        assert.deepEqual(gotA, [second], 'only the reply addressed to node a');
        if (buses.b) assert.deepEqual(gotB, [first]);
      } finally {
        offA();
        offB?.();
      }
    });

    it('refuses a command over 64 KiB, and turns a reply over 64 KiB into REQUEST_FAILED', async () => {
      const got: SessionCommand[] = [];
      const off = (buses.b ?? buses.a).serve('model-big', (c) => got.push(c));
      const replies: SessionReply[] = [];
      const offReply = buses.a.onReply((r) => replies.push(r));
      try {
        await buses.served('model-big');
        const big = 'x'.repeat(MAX_BUS_MESSAGE_BYTES);
        await assert.rejects(buses.a.send('model-big', { text: big }), BusMessageTooLargeError);
        await (buses.b ?? buses.a).reply(buses.a.nodeId, { requestId: 'r-big', text: big });
        await waitFor(() => replies.length === 1, 2000, 'the reply');
        assert.equal(replies[0]?.requestId, 'r-big');
        assert.equal(replies[0]?.text, undefined);
        assert.equal(replies[0]?.error?.code, 'REQUEST_FAILED');
        assert.match(replies[0]?.error?.message ?? '', /over the limit/);
        assert.equal(got.length, 0);
      } finally {
        off();
        offReply();
      }
    });

    it('drops a malformed message and goes on delivering', { skip: options.injects ? false : 'only this process puts messages on the in-process bus' }, async () => {
      assert.ok(buses.raw);
      const got: SessionCommand[] = [];
      const off = (buses.b ?? buses.a).serve('model-junk', (c) => got.push(c));
      try {
        await buses.served('model-junk');
        for (const junk of ['not json', '[1]', '{"text":3}', '{"text":"x","reply":{"node":1}}', 'x'.repeat(MAX_BUS_MESSAGE_BYTES + 1)]) await buses.raw('model-junk', junk);
        assert.equal(await buses.a.send('model-junk', { text: 'after' }), true);
        await waitFor(() => got.length > 0, 2000, 'the good command');
        assert.deepEqual(got, [{ text: 'after' }]);
      } finally {
        off();
      }
    });
  });
}

busSuite('memory', {
  skip: false,
  injects: false,
  async make() {
    const a = new MemoryBus('node-a');
    return { a, b: undefined, served: async () => undefined, close: () => a.close() };
  },
});

busSuite('Redis', {
  skip,
  injects: true,
  async make() {
    const prefix = `ofgw-test:${randomBytes(4).toString('hex')}:`;
    const keys = sessionKeys(prefix);
    const a = await RedisBus.start({ url: REDIS_URL, prefix, nodeId: 'node-a' });
    const b = await RedisBus.start({ url: REDIS_URL, prefix, nodeId: 'node-b' });
    const observer = new Redis(REDIS_URL);
    return {
      a,
      b,
      async served(modelId) {
        const subscribers = async (): Promise<number> => Number(((await observer.pubsub('NUMSUB', keys.commands(modelId))) as [string, number])[1]);
        let count = 0;
        for (let i = 0; i < 200 && count === 0; i++) {
          count = await subscribers();
          if (count === 0) await new Promise((resolve) => setTimeout(resolve, 10));
        }
        assert.ok(count > 0, `nobody subscribed to ${modelId}'s commands`);
      },
      async raw(modelId, message) {
        await observer.publish(keys.commands(modelId), message);
      },
      async close() {
        await Promise.all([a.close(), b.close()]);
        observer.disconnect();
        await deleteKeys(REDIS_URL, prefix);
      },
    };
  },
});
