/**
 * The child of the SIGKILL test (event-log.test.ts): appends batches to an event log until
 * it is killed, printing `ack <last id>` once each append has resolved (what the gateway would
 * count on as logged). Run with node:
 *
 *   node dist/test/sessions/event-log-writer.js sqlite <path> <model> <token>
 *   node dist/test/sessions/event-log-writer.js redis <url> <prefix> <model> <token>
 *
 * Each entry's data is `<batch>:<index>`, so the parent can check the bytes too. It stops
 * by itself after MAX_BATCHES, in case the parent never kills it.
 */
import { RedisEventLog } from '../../src/sessions/event-log-redis.js';
import { SqliteEventLog } from '../../src/sessions/event-log-sqlite.js';
import type { EventLog, Fence } from '../../src/sessions/types.js';

const MAX_BATCHES = 100_000;
const BATCH = 5;

async function main(): Promise<void> {
  const [kind, ...args] = process.argv.slice(2);
  // `npm test` runs every file under dist/test, this one too, with no arguments: not a test.
  if (kind === undefined && process.env.NODE_TEST_CONTEXT !== undefined) return;
  let log: EventLog;
  let fence: Fence;
  if (kind === 'sqlite') {
    const [path, modelId, token] = args as [string, string, string];
    log = new SqliteEventLog({ path });
    fence = { modelId, token: Number(token) };
  } else if (kind === 'redis') {
    const [url, prefix, modelId, token] = args as [string, string, string, string];
    log = await RedisEventLog.open({ url, prefix });
    fence = { modelId, token: Number(token) };
  } else {
    throw new Error(`usage: event-log-writer.js sqlite|redis …, got ${kind ?? 'nothing'}`);
  }
  process.stdout.write('ready\n');
  for (let batch = 0; batch < MAX_BATCHES; batch++) {
    const entries = Array.from({ length: BATCH }, (_, i) => ({ kind: 'event' as const, data: Buffer.from(`${batch}:${i}`), binary: false }));
    const appended = await log.append(fence, entries, { maxEvents: 1_000_000, maxAgeMs: 3_600_000 });
    process.stdout.write(`ack ${appended[appended.length - 1]!.id}\n`);
  }
  await log.close();
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
