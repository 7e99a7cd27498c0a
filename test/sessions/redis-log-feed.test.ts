/**
 * The cluster log's follow feed: batches the append script publishes, checked against the
 * id before them, so a batch a follower never got (a dropped message, a node that appended
 * without publishing) is told with lost() instead of being skipped unseen.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createConnection, createServer, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { RedisEventLog } from '../../src/sessions/event-log-redis.js';
import { parseBatch, RedisLogFeed } from '../../src/sessions/redis-log-feed.js';
import { sessionKeys, type LogEntry } from '../../src/sessions/types.js';
import { eventually, waitFor } from '../helpers.js';
import { REDIS_URL, serviceSkip } from '../services.js';

const LONG = { maxEvents: 100_000, maxAgeMs: 3_600_000 };
const event = (text: string) => ({ kind: 'event' as const, data: Buffer.from(text), binary: false });

/** A TCP gate to Redis on 127.0.0.1: connections are accepted at once, their bytes held until open(). */
async function heldGate(): Promise<{ url: string; open(): void; close(): void }> {
  const target = new URL(REDIS_URL);
  const sockets: Socket[] = [];
  const waiting: (() => void)[] = [];
  let opened = false;
  const server = createServer((client) => {
    sockets.push(client);
    client.pause();
    const pass = () => {
      const upstream = createConnection({ host: target.hostname, port: Number(target.port || 6379) });
      sockets.push(upstream);
      client.pipe(upstream).pipe(client);
      client.resume();
    };
    if (opened) pass();
    else waiting.push(pass);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const url = new URL(REDIS_URL); // its password and database, if any, with the gate's address
  url.hostname = '127.0.0.1';
  url.port = String(port);
  return {
    url: url.toString(),
    open() {
      opened = true;
      for (const pass of waiting.splice(0)) pass();
    },
    close() {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}

describe('published batches', () => {
  const batch = (head: string, ...data: Buffer[]) => Buffer.concat([Buffer.from(`${head}\n`, 'latin1'), ...data]);

  test('decode ids, kinds, the binary flag and data with newlines and spaces in it', () => {
    const binary = Buffer.from([0, 0x0a, 0x20, 0xff]);
    const parsed = parseBatch(batch('5-1 7-0 event 1 4 7-1 status 0 0 8-0 event 0 3', binary, Buffer.from('a b')));
    assert.ok(parsed);
    assert.equal(parsed.prev, '5-1');
    assert.deepEqual(parsed.entries.map((e) => [e.id, e.ts, e.kind, e.binary, e.data.toString('hex')]), [
      ['7-0', 7, 'event', true, '000a20ff'],
      ['7-1', 7, 'status', false, ''],
      ['8-0', 8, 'event', false, Buffer.from('a b').toString('hex')],
    ]);
  });

  test('refuse what the script never writes', () => {
    for (const bad of [
      Buffer.from('5-1 7-0 event 0 3'), // no newline
      batch('5-1'), // no entry
      batch('5-1 7-0 event 0', Buffer.from('abc')), // a field short
      batch('5-1 7-0 event 0 4', Buffer.from('abc')), // data shorter than said
      batch('5-1 7-0 event 0 2', Buffer.from('abc')), // data longer than said
      batch('5-1 x event 0 3', Buffer.from('abc')), // not an id
      batch('5-1 7-0 event 0 -1', Buffer.from('abc')),
    ]) {
      assert.equal(parseBatch(bad), undefined, bad.toString('latin1'));
    }
  });
});

describe('RedisEventLog follow', { skip: await serviceSkip('redis') }, () => {
  const prefix = `ofgw-test-${randomUUID()}:`;
  const keys = sessionKeys(prefix);
  let admin: Redis;
  let log: RedisEventLog;
  let other: RedisEventLog;

  before(async () => {
    admin = new Redis(REDIS_URL);
    log = await RedisEventLog.open({ url: REDIS_URL, prefix });
    other = await RedisEventLog.open({ url: REDIS_URL, prefix });
  });
  after(async () => {
    await log.close();
    await other.close();
    const found = await admin.keys(`${prefix}*`);
    if (found.length > 0) await admin.del(...found);
    admin.disconnect();
  });

  test('an entry appended without a publish is not skipped: the next batch tells lost(), and a read has it', async () => {
    const modelId = `m-${randomUUID()}`;
    const fence = { modelId, token: await admin.incr(keys.fence(modelId)) };
    await other.append(fence, [event('one')], LONG);
    const seen: LogEntry[] = [];
    let lost = 0;
    const stop = log.follow(modelId, { entries: (e) => seen.push(...e), lost: () => lost++ });
    try {
      await eventually(async () => (await admin.pubsub('NUMSUB', keys.feed(modelId)))[1] === 1, 5000, 'the subscription');
      await other.append(fence, [event('two')], LONG);
      await waitFor(() => seen.length === 1, 5000, 'the followed entry');
      // What a node of an older version (or a dropped message) leaves: an entry no follower was sent.
      const unseen = await admin.xadd(keys.log(modelId), '*', 'kind', 'event', 'binary', '0', 'data', 'three');
      await other.append(fence, [event('four')], LONG);
      await waitFor(() => lost === 1, 5000, 'lost() for the batch after the unseen entry');
      assert.deepEqual(seen.map((e) => e.data.toString()), ['two'], 'nothing is passed on over the hole');
      const page = await log.read(modelId, seen[0]!.id, 10);
      assert.deepEqual(page.entries.map((e) => e.data.toString()), ['three', 'four']);
      assert.equal(page.entries[0]!.id, unseen);
      // From there on the feed goes on from "four".
      await other.append(fence, [event('five')], LONG);
      await waitFor(() => seen.length === 2, 5000, 'the entry after');
      assert.equal(seen[1]!.data.toString(), 'five');
      assert.equal(lost, 1);
    } finally {
      stop();
    }
    await eventually(async () => (await admin.pubsub('NUMSUB', keys.feed(modelId)))[1] === 0, 5000, 'the last listener gone, the channel is left');
  });

  /**
   * A feed whose subscriber reaches Redis through a gate that holds its bytes until `open()`, so
   * its SUBSCRIBE takes effect after the start fetch and after whatever the test appends.
   */
  async function gatedFollow(modelId: string) {
    const main = new Redis(REDIS_URL);
    const gate = await heldGate();
    const feed = new RedisLogFeed({ main, subscriber: new Redis(gate.url), streamKey: keys.log, channel: keys.feed });
    const seen: LogEntry[] = [];
    const counts = { lost: 0 };
    const stop = feed.follow(modelId, { entries: (e) => seen.push(...e), lost: () => counts.lost++ });
    await main.ping(); // answered after the start fetch, sent before it on the same connection
    return {
      seen,
      counts,
      async open() {
        gate.open();
        await eventually(async () => (await admin.pubsub('NUMSUB', keys.feed(modelId)))[1] === 1, 5000, 'the subscription');
      },
      close() {
        stop();
        feed.close();
        main.disconnect();
        gate.close();
      },
    };
  }

  test('appends between the start fetch and the subscription taking effect are passed on at once, in order', async () => {
    const modelId = `m-${randomUUID()}`;
    const fence = { modelId, token: await admin.incr(keys.fence(modelId)) };
    await other.append(fence, [event('before')], LONG);
    const f = await gatedFollow(modelId);
    try {
      // Published while nobody here listens.
      const between = [...(await other.append(fence, [event('b1')], LONG)), ...(await other.append(fence, [event('b2'), event('b3')], LONG))];
      await f.open();
      await waitFor(() => f.seen.length === 3, 5000, 'the appends made before the subscription');
      assert.deepEqual(f.seen.map((e) => [e.id, e.data.toString()]), between.map((e) => [e.id, e.data.toString()]));
      await other.append(fence, [event('after')], LONG);
      await waitFor(() => f.seen.length === 4, 5000, 'the next batch');
      assert.equal(f.seen[3]!.data.toString(), 'after');
      assert.equal(f.counts.lost, 0, 'nothing to re-read');
    } finally {
      f.close();
    }
  });

  test('appends before the subscription that the stream no longer holds all of are told with lost()', async () => {
    const modelId = `m-${randomUUID()}`;
    const fence = { modelId, token: await admin.incr(keys.fence(modelId)) };
    await other.append(fence, [event('before')], LONG);
    const f = await gatedFollow(modelId);
    try {
      // Bounded to one entry: "b1" trims "before", "b2" trims "b1", unseen.
      await other.append(fence, [event('b1')], { maxEvents: 1, maxAgeMs: LONG.maxAgeMs });
      await other.append(fence, [event('b2')], { maxEvents: 1, maxAgeMs: LONG.maxAgeMs });
      await f.open();
      await waitFor(() => f.counts.lost === 1, 5000, 'lost() for the trimmed appends');
      assert.equal(f.seen.length, 0, 'no partial catch-up passed on as if complete');
      await other.append(fence, [event('after')], LONG);
      await waitFor(() => f.seen.length === 1, 5000, 'the next batch');
      assert.equal(f.seen[0]!.data.toString(), 'after');
      assert.equal(f.counts.lost, 1, 'told once');
    } finally {
      f.close();
    }
  });
});
