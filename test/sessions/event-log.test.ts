/**
 * One suite for both event logs (types.ts EventLog): the embedded SQLite log always, the
 * Redis Streams log when Redis is reachable (under CI=true it must be). Each test uses its
 * own model ids; the Redis keys live under a prefix of this run and are deleted after it.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { RedisEventLog } from '../../src/sessions/event-log-redis.js';
import { EventLogLockedError, SqliteEventLog } from '../../src/sessions/event-log-sqlite.js';
import {
  compareIds,
  FencedError,
  parseId,
  sessionKeys,
  type EventLog,
  type LogEntry,
  type NewEntry,
  type Retention,
} from '../../src/sessions/types.js';
import { eventually, waitFor } from '../helpers.js';
import { REDIS_URL, serviceSkip } from '../services.js';
import { startWriter } from './killed-writer.js';
import { readAll } from './read-all.js';

const LONG: Retention = { maxEvents: 100_000, maxAgeMs: 3_600_000 };

interface Harness {
  log: EventLog;
  /** Another node's log on the same store (Redis), or the same object (SQLite: one process). */
  other: EventLog;
  /** Grants the model a new fencing token, as the ownership would. */
  grant(modelId: string): Promise<number>;
  /** The cluster log also refuses a token that was never granted. */
  strictFence: boolean;
  /** size() bytes are the payload bytes exactly (else an approximation at least as large). */
  exactBytes: boolean;
  /** Arguments for event-log-writer.js on a fresh log, and how to open that log afterwards. */
  killTarget(modelId: string, token: number): { args: string[]; path?: string; open(): Promise<EventLog> };
  /** Drops the log's follow connection (cluster only). */
  dropFeed?(): Promise<void>;
  close(): Promise<void>;
}

interface Subject {
  name: string;
  skip: string | false;
  setup(): Promise<Harness>;
}

function sqliteSubject(): Subject {
  return {
    name: 'SqliteEventLog',
    skip: false,
    async setup() {
      const dir = mkdtempSync(join(tmpdir(), 'ofgw-eventlog-'));
      // A short sweep period, so that the idle-model test need not wait a minute.
      const log = new SqliteEventLog({ path: join(dir, 'events', 'log.db'), sweepIntervalMs: 25 });
      const tokens = new Map<string, number>();
      return {
        log,
        other: log,
        strictFence: false,
        exactBytes: true,
        async grant(modelId) {
          const token = (tokens.get(modelId) ?? 0) + 1;
          tokens.set(modelId, token);
          return token;
        },
        killTarget(modelId, token) {
          const path = join(dir, `killed-${randomUUID()}.db`);
          return { args: ['sqlite', path, modelId, String(token)], path, open: async () => new SqliteEventLog({ path }) };
        },
        async close() {
          await log.close();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  };
}

async function redisSubject(): Promise<Subject> {
  const skip = await serviceSkip('redis');
  return {
    name: 'RedisEventLog',
    skip,
    async setup() {
      const prefix = `ofgw-test-${randomUUID()}:`;
      const keys = sessionKeys(prefix);
      const admin = new Redis(REDIS_URL);
      const name = `ofgw-test-eventlog-${randomUUID()}`;
      const log = await RedisEventLog.open({ url: REDIS_URL, prefix, connectionName: name });
      const other = await RedisEventLog.open({ url: REDIS_URL, prefix });
      return {
        log,
        other,
        strictFence: true,
        exactBytes: false,
        grant: (modelId) => admin.incr(keys.fence(modelId)),
        killTarget(modelId, token) {
          return { args: ['redis', REDIS_URL, prefix, modelId, String(token)], open: () => RedisEventLog.open({ url: REDIS_URL, prefix }) };
        },
        async dropFeed() {
          const clients = (await admin.client('LIST')) as string;
          const line = clients.split('\n').find((l) => l.includes(` name=${name}:feed `));
          assert.ok(line, 'the feed connection is listed');
          const id = /\bid=(\d+)/.exec(line)![1]!;
          await admin.client('KILL', 'ID', id);
        },
        async close() {
          await log.close();
          await other.close();
          // Every key of this run, in bounded steps.
          let cursor = '0';
          for (let i = 0; i < 10_000; i++) {
            const [next, found] = await admin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
            if (found.length > 0) await admin.del(...found);
            cursor = next;
            if (cursor === '0') break;
          }
          admin.disconnect();
        },
      };
    },
  };
}

function event(text: string): NewEntry {
  return { kind: 'event', data: Buffer.from(text), binary: false };
}

function texts(entries: readonly LogEntry[]): string[] {
  return entries.map((e) => e.data.toString());
}

function assertIncreasing(ids: string[]): void {
  for (const id of ids) assert.match(id, /^[1-9]\d*-(0|[1-9]\d*)$/);
  for (let i = 1; i < ids.length; i++) assert.ok(compareIds(ids[i - 1]!, ids[i]!) < 0, `${ids[i - 1]} before ${ids[i]}`);
}

function eventLogSuite(subject: Subject): void {
  describe(subject.name, { skip: subject.skip }, () => {
    let h: Harness;
    const model = (): string => `m-${randomUUID()}`;
    /** A model with a granted token, and its fence. */
    const fenced = async (): Promise<{ modelId: string; fence: { modelId: string; token: number } }> => {
      const modelId = model();
      return { modelId, fence: { modelId, token: await h.grant(modelId) } };
    };

    before(async () => {
      h = await subject.setup();
    });
    after(async () => {
      await h?.close();
    });

    test('ids are <ms>-<seq>, strictly increasing, and the order holds across batches', async () => {
      const { modelId, fence } = await fenced();
      const sent: string[] = [];
      const ids: string[] = [];
      for (let b = 0; b < 30; b++) {
        const batch = Array.from({ length: 1 + (b % 4) }, (_, i) => `${b}.${i}`);
        sent.push(...batch);
        const appended = await h.log.append(fence, batch.map(event), LONG);
        assert.deepEqual(texts(appended), batch);
        for (const e of appended) assert.equal(e.ts, parseId(e.id)!.ms);
        ids.push(...appended.map((e) => e.id));
      }
      assertIncreasing(ids);
      const all = await readAll(h.log, modelId, 7);
      assert.deepEqual(all.map((e) => e.id), ids);
      assert.deepEqual(texts(all), sent);
      assert.equal(await h.log.lastId(modelId), ids[ids.length - 1]);
    });

    test('the exact bytes, the binary flag and the kind come back', async () => {
      const { modelId, fence } = await fenced();
      const entries: NewEntry[] = [
        { kind: 'event', data: randomBytes(4096), binary: true },
        { kind: 'event', data: Buffer.from([0, 255, 0, 13, 10, 0]), binary: true },
        { kind: 'event', data: Buffer.alloc(0), binary: false },
        { kind: 'event', data: Buffer.from('{"api2_chat_message":{"text":"héllo ✓ 😀"}}'), binary: false },
        { kind: 'status', data: Buffer.from('{"upstream":"reconnecting","reason":"closed 1006"}'), binary: false },
      ];
      await h.log.append(fence, entries, LONG);
      const back = (await h.other.read(modelId, null, 10)).entries;
      assert.equal(back.length, entries.length);
      back.forEach((e, i) => {
        assert.ok(e.data.equals(entries[i]!.data), `entry ${i}: same bytes`);
        assert.equal(e.binary, entries[i]!.binary);
        assert.equal(e.kind, entries[i]!.kind);
      });
    });

    test('retention by count: of 20,000 appended with maxEvents 100 exactly the newest 100 are kept', async () => {
      const { modelId, fence } = await fenced();
      const retention = { maxEvents: 100, maxAgeMs: 3_600_000 };
      const before = await h.log.size();
      const ids: string[] = [];
      for (let b = 0; b < 1000; b++) {
        const appended = await h.log.append(fence, Array.from({ length: 20 }, (_, i) => event(`${b * 20 + i}`)), retention);
        ids.push(...appended.map((e) => e.id));
        if (b % 100 === 99) assert.equal((await h.log.read(modelId, null, 1000)).entries.length, 100, 'bounded while appending');
      }
      assert.equal(ids.length, 20_000);
      const kept = await readAll(h.log, modelId);
      assert.deepEqual(kept.map((e) => e.id), ids.slice(-100));
      assert.deepEqual(texts(kept), Array.from({ length: 100 }, (_, i) => `${19_900 + i}`));
      const sizeAfter = await h.log.size();
      assert.equal(sizeAfter.entries - before.entries, 100);
    });

    test('retention by age: an append trims the entries older than maxAgeMs', async () => {
      const { modelId, fence } = await fenced();
      const [old] = await h.log.append(fence, [event('old')], LONG);
      await waitFor(() => Date.now() >= old!.ts + 60, 2000, 'the old entry to be 60 ms old');
      await h.log.append(fence, [event('new')], { maxEvents: 100, maxAgeMs: 30 });
      assert.deepEqual(texts((await h.log.read(modelId, null, 10)).entries), ['new']);
    });

    test('retention by age: an idle model ages out without further appends', async () => {
      const { modelId, fence } = await fenced();
      await h.log.append(fence, [event('a'), event('b')], { maxEvents: 100, maxAgeMs: 100 });
      await eventually(async () => (await h.log.read(modelId, null, 10)).entries.length === 0, 5000, 'the idle model to age out');
      assert.equal(await h.log.lastId(modelId), null);
    });

    test('read: from the start, after an id, after the last, trimmed, malformed, unknown, and in pages', async () => {
      const { modelId, fence } = await fenced();
      const retention = { maxEvents: 5, maxAgeMs: 3_600_000 };
      const first = await h.log.append(fence, ['0', '1', '2', '3', '4'].map(event), retention);
      const later = await h.log.append(fence, ['5', '6'].map(event), retention);
      const ids = [...first, ...later].map((e) => e.id);
      const kept = ids.slice(2);
      const idsOf = (page: { entries: LogEntry[] }): string[] => page.entries.map((e) => e.id);

      const all = await h.log.read(modelId, null, 10);
      assert.deepEqual({ ...all, entries: idsOf(all) }, { entries: kept, gap: null, lastId: ids[6], more: false });

      const afterThree = await h.log.read(modelId, ids[3]!, 10);
      assert.deepEqual(idsOf(afterThree), ids.slice(4));
      assert.equal(afterThree.gap, null);

      const afterLast = await h.log.read(modelId, ids[6]!, 10);
      assert.deepEqual({ ...afterLast, entries: idsOf(afterLast) }, { entries: [], gap: null, lastId: ids[6], more: false });

      const trimmed = await h.log.read(modelId, ids[0]!, 10);
      assert.deepEqual(trimmed.gap, { after: ids[0], before: ids[2] });
      assert.deepEqual(idsOf(trimmed), kept);

      for (const malformed of ['nope', '', '12', '1-2-3', '-1-0', `${'9'.repeat(16)}-0`]) {
        const page = await h.log.read(modelId, malformed, 10);
        assert.deepEqual(page.gap, { after: null, before: ids[2] }, `malformed ${JSON.stringify(malformed)}`);
        assert.deepEqual(idsOf(page), kept);
      }

      const newest = parseId(ids[6]!)!;
      const three = parseId(ids[3]!)!;
      for (const unknown of [`${newest.ms + 1000}-0`, `${three.ms}-${three.seq + 100_000}`]) {
        const page = await h.log.read(modelId, unknown, 10);
        assert.deepEqual(page.gap, { after: null, before: ids[2] }, `unknown ${unknown}`);
        assert.deepEqual(idsOf(page), kept);
      }

      const p1 = await h.log.read(modelId, null, 2);
      assert.deepEqual([idsOf(p1), p1.more, p1.lastId], [kept.slice(0, 2), true, ids[6]]);
      const p2 = await h.log.read(modelId, p1.entries[1]!.id, 2);
      assert.deepEqual([idsOf(p2), p2.more], [kept.slice(2, 4), true]);
      const p3 = await h.log.read(modelId, p2.entries[1]!.id, 2);
      assert.deepEqual([idsOf(p3), p3.more], [kept.slice(4), false]);

      const empty = await h.log.read(model(), 'whatever', 10);
      assert.deepEqual(empty, { entries: [], gap: null, lastId: null, more: false });
      assert.equal(await h.log.lastId(model()), null);
    });

    test('fencing: a lower token is refused with FencedError and writes nothing', async () => {
      const { modelId, fence } = await fenced();
      await h.log.append(fence, [event('first holder')], LONG);
      const newer = { modelId, token: await h.grant(modelId) };
      const [written] = await h.other.append(newer, [event('second holder')], LONG);
      await assert.rejects(h.log.append(fence, [event('stale 1'), event('stale 2')], LONG), FencedError);
      assert.equal(await h.log.lastId(modelId), written!.id);
      assert.deepEqual(texts((await h.log.read(modelId, null, 10)).entries), ['first holder', 'second holder']);
      if (h.strictFence) {
        await assert.rejects(h.log.append({ modelId, token: newer.token + 1 }, [event('never granted')], LONG), FencedError);
        await assert.rejects(h.log.append({ modelId: model(), token: 1 }, [event('no fence at all')], LONG), FencedError);
        assert.equal(await h.log.lastId(modelId), written!.id);
      }
    });

    test('follow: every later append, from either node, in id order and without holes', async () => {
      const { modelId, fence } = await fenced();
      await h.other.append(fence, [event('before follow')], LONG);
      const seen: LogEntry[] = [];
      let batches = 0;
      const lost: number[] = [];
      const stop = h.log.follow(modelId, { entries: (e) => { seen.push(...e); batches++; }, lost: () => lost.push(1) });
      const quiet: LogEntry[] = [];
      const stopQuiet = h.log.follow(modelId, { entries: (e) => quiet.push(...e), lost: () => {} });
      stopQuiet();
      // A read after follow() is the documented sync point: all later appends are followed.
      await h.log.lastId(modelId);
      const sent: LogEntry[] = [];
      for (let b = 0; b < 50; b++) {
        const via = b % 2 === 0 ? h.other : h.log;
        sent.push(...(await via.append(fence, [event(`${b}.0`), event(`${b}.1`)], LONG)));
      }
      await waitFor(() => seen.length >= sent.length, 5000, 'the followed entries');
      stop();
      assert.deepEqual(seen.map((e) => e.id), sent.map((e) => e.id));
      assert.deepEqual(texts(seen), texts(sent));
      assert.ok(batches >= 1);
      assert.deepEqual(lost, []);
      assert.deepEqual(quiet, [], 'an unsubscribed listener gets nothing');
      await h.other.append(fence, [event('after unsubscribe')], LONG);
      await h.log.lastId(modelId);
      assert.equal(seen.length, sent.length);
    });

    test('follow: a dropped feed connection tells lost(), then goes on', { skip: subject.name !== 'RedisEventLog' }, async () => {
      const { modelId, fence } = await fenced();
      const seen: LogEntry[] = [];
      let lost = 0;
      const stop = h.log.follow(modelId, { entries: (e) => seen.push(...e), lost: () => lost++ });
      await h.log.lastId(modelId);
      await h.other.append(fence, [event('one')], LONG);
      await waitFor(() => seen.length === 1, 5000, 'the first entry');
      await h.dropFeed!();
      await waitFor(() => lost === 1, 10_000, 'lost() after the feed reconnected');
      // lost() comes after the feed is back and placed: appends from now on are followed.
      await h.other.append(fence, [event('two')], LONG);
      await waitFor(() => seen.length === 2, 5000, 'the entry after the reconnect');
      stop();
      assert.deepEqual(texts(seen), ['one', 'two']);
    });

    test('remove forgets the log; ids of a new log are still later', async () => {
      const { modelId, fence } = await fenced();
      const before = await h.log.size();
      const [old] = await h.log.append(fence, [event('x'), event('y')], LONG).then((e) => e.slice(-1));
      assert.equal((await h.log.size()).entries - before.entries, 2);
      await h.log.remove(modelId);
      assert.deepEqual(await h.log.read(modelId, null, 10), { entries: [], gap: null, lastId: null, more: false });
      assert.equal((await h.log.size()).entries, before.entries);
      const [fresh] = await h.log.append(fence, [event('z')], LONG);
      assert.ok(compareIds(fresh!.id, old!.id) > 0);
    });

    test('size counts entries and payload bytes across models', async () => {
      const before = await h.log.size();
      const a = await fenced();
      const b = await fenced();
      await h.log.append(a.fence, [{ kind: 'event', data: randomBytes(1000), binary: true }, event('12345')], LONG);
      await h.log.append(b.fence, [{ kind: 'event', data: randomBytes(2000), binary: true }], LONG);
      const now = await h.log.size();
      assert.equal(now.entries - before.entries, 3);
      if (h.exactBytes) assert.equal(now.bytes - before.bytes, 3005);
      else assert.ok(now.bytes - before.bytes >= 3005, `approximate bytes ${now.bytes - before.bytes} cover the payloads`);
    });

    test('SIGKILL of the appending process loses no acknowledged entry', async () => {
      const modelId = model();
      const token = await h.grant(modelId);
      const target = h.killTarget(modelId, token);
      const writer = startWriter(target.args);
      try {
        await writer.ready();
        if (target.path) {
          assert.throws(() => new SqliteEventLog({ path: target.path! }), (err: Error) => {
            assert.ok(err instanceof EventLogLockedError);
            assert.ok(err.message.includes(target.path!), err.message);
            return true;
          });
        }
        await writer.acked(40);
      } finally {
        await writer.kill();
      }
      const acks = writer.acks;
      const lastAck = acks[acks.length - 1]!;
      const reopened = await target.open();
      try {
        const all = await readAll(reopened, modelId);
        const upToAck = all.filter((e) => compareIds(e.id, lastAck) <= 0);
        const batches = acks.length;
        assert.equal(upToAck.length, batches * 5, 'every acknowledged batch is there');
        assert.deepEqual(texts(upToAck), Array.from({ length: batches * 5 }, (_, i) => `${Math.floor(i / 5)}:${i % 5}`));
        for (const ack of acks) assert.ok(all.some((e) => e.id === ack), `acknowledged ${ack} kept`);
        assertIncreasing(all.map((e) => e.id));
        // The reopened log goes on after what the killed one wrote.
        const [next] = await reopened.append({ modelId, token }, [event('after the kill')], LONG);
        assert.ok(compareIds(next!.id, all[all.length - 1]!.id) > 0);
      } finally {
        await reopened.close();
      }
    });
  });
}

eventLogSuite(sqliteSubject());
eventLogSuite(await redisSubject());

describe('SqliteEventLog only', () => {
  test('ids never go back across a restart, even when the clock does and every entry aged out', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'ofgw-eventlog-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, 'log.db');
    let clock = 1_000_000;
    const fence = { modelId: 'm', token: 1 };
    const first = new SqliteEventLog({ path, now: () => clock });
    const appended = await first.append(fence, [event('a'), event('b')], { maxEvents: 10, maxAgeMs: 10 });
    assert.deepEqual(appended.map((e) => e.id), ['1000000-0', '1000000-1']);
    clock += 1000;
    first.sweep();
    assert.equal(await first.lastId('m'), null, 'aged out');
    await first.close();

    clock = 5;
    const second = new SqliteEventLog({ path, now: () => clock });
    t.after(() => second.close());
    const [next] = await second.append(fence, [event('c')], { maxEvents: 10, maxAgeMs: 10_000_000 });
    assert.equal(next!.id, '1000000-2');
    await assert.rejects(second.append({ modelId: 'm', token: 0 }, [event('stale')], LONG), FencedError);
  });

  test('trimming after maxEvents is lowered is bounded per append and converges', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'ofgw-eventlog-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const log = new SqliteEventLog({ path: join(dir, 'log.db') });
    t.after(() => log.close());
    const fence = { modelId: 'm', token: 1 };
    for (let b = 0; b < 5; b++) await log.append(fence, Array.from({ length: 1000 }, (_, i) => event(`${b}.${i}`)), LONG);
    assert.equal((await log.size()).entries, 5000);
    // maxEvents 10: one append trims at most TRIM_STEP (1000) + its own entries.
    await log.append(fence, [event('x')], { maxEvents: 10, maxAgeMs: 3_600_000 });
    assert.equal((await log.size()).entries, 4000);
    for (let i = 0; i < 4; i++) await log.append(fence, [event(`y${i}`)], { maxEvents: 10, maxAgeMs: 3_600_000 });
    assert.equal((await log.size()).entries, 10);
    assert.deepEqual(texts((await log.read('m', null, 100)).entries).slice(-5), ['x', 'y0', 'y1', 'y2', 'y3']);
  });
});
