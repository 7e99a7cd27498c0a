/**
 * Proof with real processes, one node (issue 14 point 8a): a session-mode model on one
 * `ofgw serve` (SQLite store and its embedded event log) fed by a simulator in its own process
 * streaming numbered events. Five envelope clients are killed and reconnect with `since` at
 * random moments, the upstream is cut twice, and the gateway is SIGKILLed once and restarted on
 * the same files. Afterwards every client got every logged event after its first confirmation
 * exactly once and in order, and the log's stream numbers increase, every hole told by a status.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SqliteEventLog } from '../../src/sessions/event-log-sqlite.js';
import { ADMIN_TOKEN, request, type Answer } from '../admin/admin-helpers.js';
import { startServe, type Served } from '../cli/cli-helpers.js';
import { freePort, TestClient } from '../helpers.js';
import {
  assertHolesAreTold,
  assertSawEverything,
  loggedEvents,
  pollUntil,
  readWholeLog,
  Recorder,
  seededRandom,
  startSandboxProcess,
  streamAccount,
  type SandboxProcess,
} from './proof-helpers.js';

const USER_ID = '424242';
const CLIENTS = 5;
const PER_SECOND = 50;
/** How long the chaos lasts; the whole test stays well under a minute. */
const CHAOS_MS = 14_000;
const MASTER_KEY = randomBytes(32).toString('base64');
const SEED = Number(process.env.OFGW_PROOF_SEED ?? Math.floor(Math.random() * 2 ** 31));

describe('session mode on one ofgw serve process survives client, upstream and gateway kills', { timeout: 60_000 }, () => {
  let dir: string;
  let sim: SandboxProcess;
  let served: Served | undefined;
  let port: number;
  let db: string;
  let logFile: string;

  const serve = async (): Promise<Served> =>
    startServe(
      [
        '--production', '--port', String(port), '--db', db, '--event-log-file', logFile,
        '--session-reconnect-min-ms', '50', '--session-reconnect-max-ms', '200', '--node-ttl-ms', '2000',
        '--ip-connect-burst', '1000', '--key-connect-burst', '1000',
      ],
      { OFGW_MASTER_KEY: MASTER_KEY, OFGW_ADMIN_TOKEN: ADMIN_TOKEN, OFGW_LOG_LEVEL: 'info' },
    );
  const admin = (method: string, path: string, body?: unknown): Promise<Answer> =>
    request(`http://127.0.0.1:${port}/admin/v1${path}`, method, body, { authorization: `Bearer ${ADMIN_TOKEN}` });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ofgw-proof-'));
    db = join(dir, 'ofgw.db');
    logFile = join(dir, 'events.db');
    port = await freePort();
    sim = await startSandboxProcess(USER_ID);
    served = await serve();
  });

  after(async () => {
    await served?.stop('SIGKILL');
    await sim?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('every client gets every logged event once, in order', async () => {
    const random = seededRandom(SEED);
    const orgId = (await admin('POST', '/organizations', { name: 'Proof Agency' })).json<{ id: string }>().id;
    await admin('PUT', `/organizations/${orgId}/subscription`, { status: 'active' });
    const apiKey = (await admin('POST', `/organizations/${orgId}/keys`, { name: 'proof' })).json<{ key: string }>().key;
    const created = await admin('POST', `/organizations/${orgId}/models`, { wsUrl: sim.wsUrl, wsToken: sim.token, delivery: 'session' });
    assert.equal(created.status, 201, created.text);
    const modelId = created.json<{ id: string }>().id;
    await pollUntil(async () => (await sim.connections()) === 1, 10_000, 'the session socket');
    await sim.control('POST', `users/${USER_ID}/stream`, { perSecond: PER_SECOND });
    await pollUntil(async () => (await sim.stream()).delivered.length > 0, 5000, 'the first streamed event');

    const recorders = Array.from(
      { length: CLIENTS },
      (_, i) =>
        new Recorder(`client ${i + 1}`, {
          url: () => `ws://127.0.0.1:${port}/api/models/${modelId}/ws`,
          apiKey,
          reconnectDelayMs: () => 20 + Math.floor(random() * 300),
          maxAttempts: 400,
        }),
    );
    await Promise.all(recorders.map((r) => r.begin()));

    // The chaos: clients killed every 300–1000 ms, the upstream cut at 3 s (TCP reset) and at
    // 6 s (close frame 1011), the gateway SIGKILLed at 9 s and started again on its files.
    const started = Date.now();
    const cuts: string[] = [];
    let kills = 0;
    let restartedAt = 0;
    let next = started + 300 + random() * 700;
    for (let step = 0; step < 1000 && Date.now() - started < CHAOS_MS; step++) {
      const now = Date.now() - started;
      if (cuts.length === 0 && now >= 3000) {
        cuts.push(`reset: ${JSON.stringify(await sim.control('POST', `users/${USER_ID}/drop`))}`);
      } else if (cuts.length === 1 && now >= 6000) {
        cuts.push(`close 1011: ${JSON.stringify(await sim.control('POST', `users/${USER_ID}/drop`, { code: 1011, reason: 'proof cut' }))}`);
      } else if (restartedAt === 0 && now >= 9000) {
        const doomed = served as Served;
        doomed.child.kill('SIGKILL');
        await doomed.exited;
        served = await serve();
        restartedAt = Date.now() - started;
      }
      if (Date.now() >= next) {
        (recorders[Math.floor(random() * CLIENTS)] as Recorder).kill();
        kills++;
        next = Date.now() + 300 + random() * 700;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(cuts.length, 2, 'both upstream cuts happened');
    assert.ok(restartedAt > 0, 'the gateway was killed and restarted');

    // The end: the stream stops, one marker event follows it, and everyone gets the marker.
    await sim.control('DELETE', `users/${USER_ID}/stream`);
    await pollUntil(async () => (await sim.connections()) === 1, 10_000, 'the session socket after the chaos');
    await pollUntil(
      async () => ((await sim.control('POST', `users/${USER_ID}/push`, { proof_end: { seed: SEED } })) as { delivered: number }).delivered === 1,
      5000,
      'the end marker to reach the session socket',
    );
    for (const r of recorders) await r.until(() => r.seen.some((e) => e.event === 'proof_end') || r.problems.length > 0, 15_000, `${r.name} to catch up`);

    // A last client from before everything: a gap, then the whole log.
    const last = new TestClient(`ws://127.0.0.1:${port}/api/models/${modelId}/ws?format=envelope&since=0-0`, { headers: { 'X-API-Key': apiKey } });
    assert.equal((await last.confirmed()).resumed, false);
    const gap = (await last.next()).json();
    assert.equal(gap.type, 'gap');
    const replayed: string[] = [];
    for (let i = 0; i < 100_000; i++) {
      const f = (await last.next()).json();
      if (f.type !== 'event') continue;
      replayed.push(String(f.id));
      if (f.event === 'proof_end') break;
    }
    last.socket.close();
    await last.closed;
    for (const r of recorders) await r.stop();
    assert.equal(await (served as Served).stop('SIGTERM'), 0);
    served = undefined;

    const log = new SqliteEventLog({ path: logFile });
    let entries;
    try {
      entries = await readWholeLog(log, modelId);
    } finally {
      await log.close();
    }
    const events = loggedEvents(entries);
    assert.equal(events[events.length - 1]?.event, 'proof_end', 'the marker is the last event logged');
    assert.deepEqual(replayed, events.map((e) => e.id), 'the last client replays exactly the logged events');
    for (const r of recorders) assertSawEverything(r, events);
    const account = streamAccount(events, await sim.stream());
    const holes = assertHolesAreTold(entries);
    // In flight when a socket died: frames the simulator wrote that the gateway never read.
    assert.ok(account.lostInFlight <= PER_SECOND, `at most a second of events in flight lost, got ${account.lostInFlight}`);
    const statuses = entries.filter((e) => e.kind === 'status').map((e) => JSON.parse(e.data.toString()) as { upstream: string });

    console.log(
      JSON.stringify({
        seed: SEED,
        clients: recorders.map((r) => ({ name: r.name, events: r.seen.length, confirmations: r.confirmations, statusFrames: r.statuses })),
        clientKills: kills,
        upstreamCuts: cuts,
        gatewayRestartedAtMs: restartedAt,
        logEntries: entries.length,
        logEvents: events.length,
        logStatuses: statuses.map((s) => s.upstream).join(','),
        stream: account,
        holesInLog: holes,
      }),
    );
    assert.ok(recorders.every((r) => r.confirmations >= 2), 'every client reconnected at least once (the gateway restart)');
    assert.ok(account.logged > PER_SECOND * 5, `a real stream was logged (${account.logged} events)`);
  });
});
