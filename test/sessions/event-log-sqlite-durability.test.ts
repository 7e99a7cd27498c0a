/**
 * The embedded log leaves its writes to the OS (no fsync while it runs): a killed process keeps
 * everything, and after an end without close() on another boot of the machine (an OS crash or
 * a power loss, where the writes may be torn) the next open checks the file and sets a damaged
 * one aside for a new log. Each test kills a real writer process with SIGKILL; the "other boot"
 * is a boot id the test passes, since a test cannot crash the machine.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import type Database from 'better-sqlite3';
import { machineBootId, SqliteEventLog } from '../../src/sessions/event-log-sqlite.js';
import type { Retention } from '../../src/sessions/types.js';
import { LogCapture } from '../helpers.js';
import { createLogger } from '../../src/log.js';
import { startWriter } from './killed-writer.js';
import { readAll } from './read-all.js';

const LONG: Retention = { maxEvents: 100_000, maxAgeMs: 3_600_000 };
const event = (text: string) => ({ kind: 'event' as const, data: Buffer.from(text), binary: false });

function tempLog(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'ofgw-durability-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'events.db');
}

/** A writer process appends to `model` until it has `acks` acknowledged batches, then is SIGKILLed. */
async function killedWriter(path: string, model: string, acks = 30): Promise<string[]> {
  const writer = startWriter(['sqlite', path, model, '1']);
  try {
    await writer.ready();
    await writer.acked(acks);
  } finally {
    await writer.kill();
  }
  return writer.acks;
}

function synchronousOf(log: SqliteEventLog): number {
  return (log as unknown as { db: Database.Database }).db.pragma('synchronous', { simple: true }) as number;
}

test('the boot id is the kernel\'s on Linux', () => {
  if (!existsSync('/proc/sys/kernel/random/boot_id')) return;
  assert.equal(machineBootId(), readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim());
});

test('no fsync while running unless asked; closing checkpoints with an fsync and removes the WAL', async (t) => {
  const path = tempLog(t);
  const log = new SqliteEventLog({ path });
  assert.equal(synchronousOf(log), 0, 'synchronous=OFF by default');
  await log.append({ modelId: 'm', token: 1 }, [event('a')], LONG);
  assert.ok(statSync(`${path}-wal`).size > 0, 'the append is in the WAL');
  await log.close();
  assert.equal(existsSync(`${path}-wal`), false, 'a closed log has no WAL');
  const synced = new SqliteEventLog({ path, fsync: true, bootId: 'another boot' });
  t.after(() => synced.close());
  assert.equal(synchronousOf(synced), 1, 'synchronous=NORMAL with fsync');
  assert.deepEqual(synced.opening, { kind: 'clean' }, 'closed cleanly: no check even on another boot');
  assert.deepEqual((await readAll(synced, 'm')).map((e) => e.data.toString()), ['a']);
});

test('a writer killed on this boot: reopened without a check, every acknowledged entry there', async (t) => {
  const path = tempLog(t);
  const acks = await killedWriter(path, 'm');
  const logs = new LogCapture();
  const log = new SqliteEventLog({ path, logger: createLogger('info', logs) });
  t.after(() => log.close());
  assert.deepEqual(log.opening, { kind: 'killed' });
  const ids = (await readAll(log, 'm')).map((e) => e.id);
  for (const ack of acks) assert.ok(ids.includes(ack), `acknowledged ${ack} kept`);
  assert.ok(!logs.lines.some((l) => l.includes('checking')), 'no check: the page cache outlived the process');
});

test('an end without close() on another boot: the file is checked, and an intact one kept', async (t) => {
  const path = tempLog(t);
  const acks = await killedWriter(path, 'm');
  const logs = new LogCapture();
  const log = new SqliteEventLog({ path, bootId: 'after a crash', logger: createLogger('info', logs) });
  t.after(() => log.close());
  assert.deepEqual(log.opening, { kind: 'checked' });
  const ids = (await readAll(log, 'm')).map((e) => e.id);
  // The writer may have committed a batch more than the test read an ack for.
  assert.ok(ids.length >= acks.length * 5, `${ids.length} entries for ${acks.length} batches`);
  for (const ack of acks) assert.ok(ids.includes(ack), `acknowledged ${ack} kept`);
  assert.ok(logs.records().some((r) => r.level === 40 && String(r.msg).includes('checking it') && r.eventLog === path));
});

test('a damaged file after another boot is set aside (kept) and a new log started', async (t) => {
  const path = tempLog(t);
  // Enough entries that the file has many b-tree pages, closed so that they are in the file…
  const first = new SqliteEventLog({ path });
  for (let b = 0; b < 40; b++) {
    await first.append({ modelId: `m${b % 4}`, token: 1 }, Array.from({ length: 50 }, () => ({ kind: 'event' as const, data: randomBytes(200), binary: true })), LONG);
  }
  await first.close();
  // …then a run that ends without close(), and pages torn as an OS crash may leave them.
  await killedWriter(path, 'k', 5);
  const size = statSync(path).size;
  const tornAt = Math.floor(size / 2 / 4096) * 4096;
  const fd = openSync(path, 'r+');
  writeSync(fd, randomBytes(4 * 4096), 0, 4 * 4096, tornAt);
  closeSync(fd);

  const logs = new LogCapture();
  const log = new SqliteEventLog({ path, bootId: 'after a crash', logger: createLogger('info', logs) });
  t.after(() => log.close());
  assert.equal(log.opening.kind, 'set-aside');
  const { damagedPath, problem } = log.opening as { damagedPath: string; problem: string };
  assert.ok(damagedPath.startsWith(`${path}.damaged-`), damagedPath);
  assert.ok(problem.length > 0);
  // Kept for inspection (SQLite folded the WAL into it on closing, as every close does).
  assert.ok(statSync(damagedPath).size >= size, 'the damaged file is kept whole');
  const warned = logs.records().find((r) => r.level === 40 && String(r.msg).includes('set aside'));
  assert.ok(warned && warned.damagedPath === damagedPath && warned.eventLog === path, JSON.stringify(logs.lines));
  // The new log is empty and takes appends.
  assert.equal(await log.lastId('m0'), null);
  assert.equal(await log.lastId('k'), null);
  const [entry] = await log.append({ modelId: 'm0', token: 1 }, [event('after')], LONG);
  assert.deepEqual((await readAll(log, 'm0')).map((e) => e.id), [entry!.id]);
});

test('a file that is not SQLite is refused with an error naming it, and left alone', (t) => {
  const path = tempLog(t);
  writeFileSync(path, 'these are not the events you are looking for\n'.repeat(200));
  assert.throws(() => new SqliteEventLog({ path, bootId: 'after a crash' }), (err: Error) => {
    assert.ok(err.message.includes(path) && err.message.includes('--event-log-file'), err.message);
    return true;
  });
  assert.equal(readFileSync(path, 'utf8').slice(0, 11), 'these are n');
});
