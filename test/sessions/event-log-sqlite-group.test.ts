/**
 * The SQLite event log commits the appends of one event-loop turn together in one
 * transaction: a refused append (a stale fence) fails alone, the others commit, and every
 * append resolves only after its entries are in the log and its followers were told.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { SqliteEventLog } from '../../src/sessions/event-log-sqlite.js';
import { FencedError, type LogEntry } from '../../src/sessions/types.js';

const RETENTION = { maxEvents: 100, maxAgeMs: 3_600_000 };
const event = (text: string) => ({ kind: 'event' as const, data: Buffer.from(text), binary: false });

test('appends of one turn commit together; a stale fence fails alone; followers are told before each resolves', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ofgw-group-'));
  const log = new SqliteEventLog({ path: join(dir, 'events.db') });
  try {
    await log.append({ modelId: 'm-stale', token: 5 }, [event('first')], RETENTION);
    const told: string[] = [];
    for (const m of ['m1', 'm2', 'm3', 'm-stale']) log.follow(m, { entries: (entries: readonly LogEntry[]) => told.push(`${m}:${entries.length}`), lost: () => {} });
    const order: string[] = [];
    const appends = [
      log.append({ modelId: 'm1', token: 1 }, [event('a'), event('b')], RETENTION).then((e) => (order.push(`m1 told=${told.includes('m1:2')}`), e)),
      log.append({ modelId: 'm-stale', token: 4 }, [event('stale')], RETENTION),
      log.append({ modelId: 'm2', token: 1 }, [event('c')], RETENTION).then((e) => (order.push(`m2 told=${told.includes('m2:1')}`), e)),
      log.append({ modelId: 'm1', token: 1 }, [event('d')], RETENTION),
    ];
    const settled = await Promise.allSettled(appends);
    assert.equal(settled[0]!.status, 'fulfilled');
    const stale = settled[1]!;
    assert.ok(stale.status === 'rejected' && stale.reason instanceof FencedError, 'the stale fence is refused');
    assert.equal(settled[2]!.status, 'fulfilled');
    assert.equal(settled[3]!.status, 'fulfilled');
    assert.deepEqual(order, ['m1 told=true', 'm2 told=true']);
    const texts = async (m: string) => (await log.read(m, null, 10)).entries.map((e) => e.data.toString());
    assert.deepEqual(await texts('m1'), ['a', 'b', 'd'], 'both appends of m1, in order');
    assert.deepEqual(await texts('m2'), ['c']);
    assert.deepEqual(await texts('m-stale'), ['first'], 'nothing of the refused append');
    assert.deepEqual(told.sort(), ['m1:1', 'm1:2', 'm2:1']);
    // Ids keep increasing across the group.
    const ids = (await log.read('m1', null, 10)).entries.map((e) => e.id);
    assert.deepEqual([...ids].sort((x, y) => Number(x.split('-')[0]) - Number(y.split('-')[0]) || Number(x.split('-')[1]) - Number(y.split('-')[1])), ids);
    assert.equal(new Set(ids).size, 3);
  } finally {
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an append asked for just before close() is refused, not lost silently', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ofgw-group-'));
  const log = new SqliteEventLog({ path: join(dir, 'events.db') });
  try {
    const pending = log.append({ modelId: 'm1', token: 1 }, [event('late')], RETENTION);
    await log.close();
    await assert.rejects(pending, /is closed/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
