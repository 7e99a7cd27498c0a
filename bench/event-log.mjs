// The measurement behind the cluster event log's store (Redis Streams, src/sessions/event-log-redis.ts)
// against the obvious alternative, a PostgreSQL table. Run after `npm run build`:
//
//   node bench/event-log.mjs
//
// For each store: N events of 1 KiB appended to one model, one append in flight at a time (a
// session appends its upstream's frames in order), in batches of 1 and of 20; then read back in
// pages of 1000. Prints appends/s, events/s, p50/p99 append latency and read throughput, and
// writes bench/results/event-log.json. The embedded SqliteEventLog runs too, as a reference.
//
// The PostgreSQL side is deliberately minimal and so favoured: one statement per append that
// bumps a per-model sequence row and inserts the batch, and SELECT … WHERE id > $1 ORDER BY id
// LIMIT; no fence check and no trimming, which the Redis script does inside the same append. It
// runs with synchronous_commit on and off. Each result records what an acknowledged append
// survives (Redis without AOF: nothing beyond the Redis process), so compare like with like.
//
// Environment: BENCH_EVENTS (default 20000), BENCH_REDIS_URL, BENCH_POSTGRES_URL, BENCH_OUT.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import pg from 'pg';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..');
const EVENTS = Number(process.env.BENCH_EVENTS ?? 20_000);
const EVENT_BYTES = 1024;
const BATCHES = [1, 20];
const PAGE = 1000;
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const POSTGRES_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const OUT = process.env.BENCH_OUT ?? join(HERE, 'results', 'event-log.json');

const { RedisEventLog } = await import(join(ROOT, 'dist/src/sessions/event-log-redis.js'));
const { SqliteEventLog } = await import(join(ROOT, 'dist/src/sessions/event-log-sqlite.js'));
const { sessionKeys } = await import(join(ROOT, 'dist/src/sessions/types.js'));

const payload = randomBytes(EVENT_BYTES);
const entry = { kind: 'event', data: payload, binary: true };

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Appends EVENTS in batches of `batch` through `append(n)`, then reads them back through `readPage(after)`. */
async function measure(append, readPage, batch) {
  const latencies = [];
  const appends = Math.ceil(EVENTS / batch);
  const started = performance.now();
  for (let i = 0; i < appends; i++) {
    const t = performance.now();
    await append(Math.min(batch, EVENTS - i * batch));
    latencies.push(performance.now() - t);
  }
  const appendMs = performance.now() - started;
  latencies.sort((a, b) => a - b);
  const readStarted = performance.now();
  let read = 0;
  let after = null;
  for (let pages = 0; pages < EVENTS; pages++) {
    const page = await readPage(after);
    read += page.count;
    if (page.count === 0 || read >= EVENTS) break;
    after = page.last;
  }
  const readMs = performance.now() - readStarted;
  if (read !== EVENTS) throw new Error(`read back ${read} of ${EVENTS} events`);
  return {
    batch,
    appendsPerSecond: Math.round(appends / (appendMs / 1000)),
    eventsPerSecond: Math.round(EVENTS / (appendMs / 1000)),
    appendP50Ms: Number(percentile(latencies, 50).toFixed(3)),
    appendP99Ms: Number(percentile(latencies, 99).toFixed(3)),
    readEventsPerSecond: Math.round(EVENTS / (readMs / 1000)),
    readMiBPerSecond: Number(((EVENTS * EVENT_BYTES) / 2 ** 20 / (readMs / 1000)).toFixed(1)),
  };
}

/** An EventLog implementation, one fresh model per batch size. */
async function eventLogRuns(log, grant) {
  const runs = [];
  for (const batch of BATCHES) {
    const modelId = `bench-${randomUUID()}`;
    const fence = { modelId, token: await grant(modelId) };
    const retention = { maxEvents: EVENTS, maxAgeMs: 3_600_000 };
    const entries = (n) => Array.from({ length: n }, () => entry);
    runs.push(await measure(
      (n) => log.append(fence, entries(n), retention),
      async (after) => {
        const page = await log.read(modelId, after, PAGE);
        return { count: page.entries.length, last: page.entries.at(-1)?.id };
      },
      batch,
    ));
    await log.remove(modelId);
  }
  return runs;
}

async function redisRuns() {
  const prefix = `ofgw-bench-${randomUUID()}:`;
  const admin = new Redis(REDIS_URL);
  const log = await RedisEventLog.open({ url: REDIS_URL, prefix, commandTimeoutMs: 10_000 });
  try {
    const keys = sessionKeys(prefix);
    const info = await admin.info('server');
    const version = /redis_version:(\S+)/.exec(info)?.[1];
    // What an acknowledged append survives depends on these: without AOF it lives in memory only.
    const appendonly = (await admin.config('GET', 'appendonly'))[1];
    const appendfsync = (await admin.config('GET', 'appendfsync'))[1];
    const save = (await admin.config('GET', 'save'))[1];
    const durability = `appendonly ${appendonly}${appendonly === 'yes' ? `, appendfsync ${appendfsync}` : ''}, save "${save}"`;
    return { name: 'redis-streams', version: `Redis ${version}`, durability, runs: await eventLogRuns(log, (m) => admin.incr(keys.fence(m))) };
  } finally {
    await log.close();
    const found = await admin.keys(`${prefix}*`);
    if (found.length > 0) await admin.del(...found);
    admin.disconnect();
  }
}

async function sqliteRuns() {
  const dir = mkdtempSync(join(os.tmpdir(), 'ofgw-bench-eventlog-'));
  const log = new SqliteEventLog({ path: join(dir, 'log.db') });
  try {
    return { name: 'sqlite (embedded, reference)', version: 'better-sqlite3', durability: 'WAL, synchronous=NORMAL (survives a process kill, not a power loss)', runs: await eventLogRuns(log, async () => 1) };
  } finally {
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * `synchronousCommit` 'on' (the default) waits for the WAL flush of every commit; 'off' acknowledges
 * before it (a crash may lose the last few hundred ms, never corrupt), which is closer to what
 * Redis with appendfsync everysec promises.
 */
async function postgresRuns(synchronousCommit) {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  await client.query(`set synchronous_commit = ${synchronousCommit === 'on' ? 'on' : 'off'}`);
  const suffix = randomUUID().replaceAll('-', '').slice(0, 12);
  const log = `bench_event_log_${suffix}`;
  const seq = `bench_event_seq_${suffix}`;
  try {
    const version = (await client.query('show server_version')).rows[0].server_version;
    await client.query(`create table ${seq} (model_id text primary key, last bigint not null)`);
    await client.query(`create table ${log} (model_id text not null, id bigint not null, kind text not null, is_binary boolean not null, data bytea not null, primary key (model_id, id))`);
    // One statement: bump the model's sequence (its row lock orders concurrent appenders) and insert the batch.
    const append = {
      name: `append-${suffix}`,
      text: `with s as (
               insert into ${seq} (model_id, last) values ($1, $2) on conflict (model_id) do update set last = ${seq}.last + $2 returning last)
             insert into ${log} (model_id, id, kind, is_binary, data)
             select $1, s.last - $2 + u.ord, 'event', true, u.data from s, unnest($3::bytea[]) with ordinality as u(data, ord)
             returning id`,
    };
    const read = { name: `read-${suffix}`, text: `select id, kind, is_binary, data from ${log} where model_id = $1 and id > $2 order by id limit $3` };
    const runs = [];
    for (const batch of BATCHES) {
      const modelId = `bench-${randomUUID()}`;
      runs.push(await measure(
        (n) => client.query({ ...append, values: [modelId, n, Array.from({ length: n }, () => payload)] }),
        async (after) => {
          const { rows } = await client.query({ ...read, values: [modelId, after ?? 0, PAGE] });
          return { count: rows.length, last: rows.at(-1)?.id };
        },
        batch,
      ));
    }
    const fsync = (await client.query('show fsync')).rows[0].fsync;
    return { name: `postgresql (synchronous_commit ${synchronousCommit})`, version: `PostgreSQL ${version}`, durability: `fsync ${fsync}, synchronous_commit ${synchronousCommit}`, runs };
  } finally {
    await client.query(`drop table if exists ${log}`).catch(() => {});
    await client.query(`drop table if exists ${seq}`).catch(() => {});
    await client.end();
  }
}

const results = [];
for (const run of [redisRuns, () => postgresRuns('on'), () => postgresRuns('off'), sqliteRuns]) {
  const result = await run();
  results.push(result);
  console.log(`${result.name}: ${result.version}; ${result.durability}`);
  for (const r of result.runs) {
    console.log(
      `${result.name.padEnd(36)} batch ${String(r.batch).padStart(2)}: ${String(r.appendsPerSecond).padStart(6)} appends/s ` +
        `(${String(r.eventsPerSecond).padStart(6)} events/s), p50 ${r.appendP50Ms} ms, p99 ${r.appendP99Ms} ms; ` +
        `read ${r.readEventsPerSecond} events/s (${r.readMiBPerSecond} MiB/s)`,
    );
  }
}

mkdirSync(dirname(OUT), { recursive: true });
writeFileSync(OUT, `${JSON.stringify({
  at: new Date().toISOString(),
  machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model.trim(), memoryGiB: Number((os.totalmem() / 2 ** 30).toFixed(1)), node: process.version },
  settings: { events: EVENTS, eventBytes: EVENT_BYTES, batches: BATCHES, readPage: PAGE, inFlight: 1, sameHost: true },
  results,
}, null, 2)}\n`);
console.log(`wrote ${OUT}`);
