// `npm run bench:sessions`: session mode under load (issue 16 points 2 and 3). Not part of
// `npm test`. Prints a table per scenario and writes bench/results/sessions.json (BENCH_OUT).
//
// ── Method ──────────────────────────────────────────────────────────────────────────────────
// Processes, all on 127.0.0.1, each its own OS process (started fresh per scenario/target):
// - upstream (bench/stream-upstream.mjs): `ws` server with the OnlyFans connect-act handshake;
//   on POST /_start?rate=R every authenticated socket streams R events/s of ~256 B
//   (`{"bench_event":{"seq","sent","path"},"pad"}`, seq per upstream path, `sent` = the
//   machine's wall clock in float ms), one 5 ms timer, a random phase per socket. GET /_stats and
//   POST /_stop give the exact number sent per path.
// - relay under test: HAProxy 2.6 (`mode http`, `nbthread 1`, `timeout tunnel 1h`, maxconn
//   9500, the same style as bench/run.mjs) or `ofgw serve --production` (one process, limits
//   raised by flags, `--expose-gc` + bench/gc-hook.mjs so SIGUSR2 forces a GC). Session models
//   each have their own upstream path (`/g/<i>`), so the gateway holds one upstream socket per
//   model, which the upstream counts; HAProxy clients each use their own path (`/h/<i>`), so
//   HAProxy holds one upstream socket per client.
// - load generator(s) (bench/stream-clients.mjs): open every client first, then the stream
//   starts, so each client must see seq 1 … sent[path] exactly once, in order. Through HAProxy
//   the client sends the connect act itself (a plain proxy); through the gateway it waits for
//   the gateway's confirmation. Above LOADGEN_SPLIT clients (default 8,000) the clients are
//   split over two processes (descriptors: ulimit -n is 20,000 per process).
// What is measured:
// - relay CPU per delivered event: utime+stime of the relay from /proc/<pid>/stat, sampled when
//   the orchestrator opens and closes the window (WINDOW_SECONDS, default 10, after
//   WARMUP_SECONDS, default 5, of streaming), divided by the events the clients received in
//   that window. For the gateway this includes logging every event (SQLite or Redis) and
//   the fan-out from the log to the clients; for HAProxy it is one tunnel per event.
//   Also the relay's main thread from /proc/<pid>/schedstat: its share of the window on a CPU
//   and waiting on a run queue (runnable, but the cores were taken: a contended machine).
// - RSS per client: VmRSS of the relay. Baseline = the relay just started (gateway: with its
//   store open, no model yet, after a forced GC); held = at the end of the window, under the
//   full load. Per client = (held − baseline) / clients; for the gateway this includes the
//   session upstream sockets and everything else the load made it allocate, so it is the
//   whole cost spread over the clients. Also after a forced GC (SIGUSR2), still under load.
//   Kernel socket buffers are not in RSS (for either relay).
// - delivered vs expected: after the window the stream is stopped (POST /_stop gives the
//   final sent count per path) and the clients are drained (until their counts stop moving);
//   expected = Σ_path sent[path] × clients on that path; each client's seqs are checked for
//   gaps, duplicates and reordering, and that it starts at seq 1 and ends at sent[path].
// - the event log holds the events: LOG_CHECK_MODELS models (default 0: all) get one more client in
//   envelope format with `since=0-0` (older than anything: a gap frame, then every logged
//   event), whose seqs must be exactly the last min(sent, kept) of that path, contiguous.
// - latency: receipt time − `sent` in the client (upstream send → client receive: an upper
//   bound of upstream read → client write), histogram buckets of 10 µs to 2 s and 1 ms to 300 s, window and whole run.
//   And the gateway's own figure for its part, upstream read → client write: its
//   `ofgw_session_delivery_lag_seconds` metric, scraped from each node just before and just after
//   the window (the scrape starts a new period), p50/p99/max per node.
// - eventlog-*: a soak of SOAK_SECONDS (default 600) at 1,000 models × 5 ev/s; every
//   SAMPLE_SECONDS (default 10) the relay's RSS, the SQLite event log's files (events.db,
//   -wal, -shm) or Redis's used_memory; first/last/max and a least-squares slope per minute
//   over the second half of the soak (after the log has filled up to its bound, when
//   trimming is what keeps it flat: --event-log-max-events EVENTLOG_MAX_EVENTS, default 1000).
// Scenarios (SESSIONS_SCENARIOS):
// - fanout: direct (clients on the upstream itself: the floor), HAProxy (2,000 tunnels, each its
//   own upstream socket at 10 ev/s) and the gateway (200 session models × 10 clients, each model's
//   upstream socket at 10 ev/s): the same 20,000 events/s reach the clients in all three.
//   Targets (issue 16.2): gateway RSS per client ≤ 0.75× HAProxy's per tunnel, relay CPU per
//   delivered event ≤ 1.0× HAProxy's; every event logged and delivered.
// - fanout-15k: the gateway alone, 1,500 models × 10 clients at 10 ev/s each, two generators.
// - eventlog-sqlite: one node, embedded store, 1,000 models × 5 ev/s, one client each.
// - eventlog-cluster: two nodes on a fresh PostgreSQL schema (dropped afterwards) + Redis (a
//   fresh --redis-prefix, its keys deleted afterwards); model i's client on node i mod 2; the
//   holder of each model is read from its lease, so clients on the holder and on the other node
//   are in separate generators and their latencies reported apart.
//   Targets (issue 16.3): every event logged and delivered, p99 ≤ 10 ms, memory and disk flat.
// Why the generator is not the bottleneck: each generator reports its own CPU over the window
// (process.cpuUsage / wall time, a share of one core; it reads seq and sent by position and does
// not JSON-parse events) and the table prints it (about a quarter of a core at 20,000 events/s);
// the `direct` column runs the same generator and upstream with no relay, so its latency is the
// floor the generator and the upstream's 5 ms tick put under every relay; and delivered is
// compared with what the upstream sent, exactly, after the drain, so a generator that fell
// behind would show as latency and drain time growing, never as a figure read off a short
// count. Above 8,000 clients the clients are split over two generator processes. On 2 shared
// cores every process takes CPU from the others: latency is the least trustworthy figure there,
// CPU per event the most (as in docs/performance.md).
//
// Environment: SESSIONS_SCENARIOS (default fanout,fanout-15k,eventlog-sqlite,eventlog-cluster),
// FANOUT_MODELS (200), FANOUT_CLIENTS_PER_MODEL (10), FANOUT_RATE (10), BIG_MODELS (1500),
// EVENTLOG_MODELS (1000), EVENTLOG_RATE (5), EVENTLOG_CLIENTS_PER_MODEL (1), EVENTLOG_MAX_EVENTS
// (1000), SOAK_SECONDS (600), SAMPLE_SECONDS (10), WARMUP_SECONDS (5), WINDOW_SECONDS (10),
// LOG_CHECK_MODELS (0 = every model), LOADGEN_SPLIT (8000), DRAIN_SECONDS (120: longest wait for the clients to
// catch up after the stream stops), EVENT_SIZE (256), FANOUT_TARGETS (direct,haproxy,gateway;
// direct = the clients on the upstream itself, the floor of latency and the generator's check),
// HAPROXY_NO_DELAY (set: `option http-no-delay` in HAProxy's defaults), SESSIONS_TLS (set: the
// upstream speaks wss:// with a self-signed certificate made by openssl, trusted by the gateway
// through --upstream-ca-file and by HAProxy through `ssl verify required ca-file`; clients still
// reach the relays in clear),
// BENCH_GATEWAY_NODE_ARGS (extra node flags for the gateway, e.g. --cpu-prof --cpu-prof-dir=DIR),
// PG_URL (postgres://postgres@127.0.0.1:5432/test), REDIS_URL (redis://127.0.0.1:6379), BENCH_OUT.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { cpuMs, freePort, rssKb, sleep, startProcess as startChild, started, stopProcess as stopChild, waitForPort as waitForPortEvery, which } from './proc.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..');
const env = (name, dflt) => (process.env[name] === undefined || process.env[name] === '' ? dflt : Number(process.env[name]));
const SCENARIOS = (process.env.SESSIONS_SCENARIOS ?? 'fanout,fanout-15k,eventlog-sqlite,eventlog-cluster').split(',').filter(Boolean);
const FANOUT_MODELS = env('FANOUT_MODELS', 200);
const FANOUT_CPM = env('FANOUT_CLIENTS_PER_MODEL', 10);
const FANOUT_RATE = env('FANOUT_RATE', 10);
const BIG_MODELS = env('BIG_MODELS', 1500);
const EVENTLOG_MODELS = env('EVENTLOG_MODELS', 1000);
const EVENTLOG_RATE = env('EVENTLOG_RATE', 5);
const EVENTLOG_CPM = env('EVENTLOG_CLIENTS_PER_MODEL', 1);
const EVENTLOG_MAX_EVENTS = env('EVENTLOG_MAX_EVENTS', 1000);
const SOAK_SECONDS = env('SOAK_SECONDS', 600);
const SAMPLE_SECONDS = env('SAMPLE_SECONDS', 10);
const WARMUP_SECONDS = env('WARMUP_SECONDS', 5);
const WINDOW_SECONDS = env('WINDOW_SECONDS', 10);
const LOG_CHECK_MODELS = env('LOG_CHECK_MODELS', 0); // 0: every model
const LOADGEN_SPLIT = env('LOADGEN_SPLIT', 8000);
const DRAIN_SECONDS = env('DRAIN_SECONDS', 120);
const EVENT_SIZE = env('EVENT_SIZE', 256);
const TLS = Boolean(process.env.SESSIONS_TLS);
const FANOUT_TARGETS = (process.env.FANOUT_TARGETS ?? 'direct,haproxy,gateway').split(',');
const PG_URL = process.env.PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const OUT = process.env.BENCH_OUT ?? join(HERE, 'results', 'sessions.json');
const BIG = '1000000';

const log = (msg) => process.stderr.write(`[sessions ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

// ── processes and /proc ─────────────────────────────────────────────────────

const waitForPort = (port, timeoutMs = 20000) => waitForPortEvery(port, timeoutMs, 100);

/** The main thread's time on a CPU and waiting on a run queue, in ms (/proc/<pid>/schedstat). */
function schedMs(pid) {
  try {
    const [run, wait] = readFileSync(`/proc/${pid}/schedstat`, 'utf8').trim().split(' ').map(Number);
    return { run: run / 1e6, wait: wait / 1e6 };
  } catch {
    return null;
  }
}

function fdCount(pid) {
  try {
    return spawnSync('sh', ['-c', `ls /proc/${pid}/fd | wc -l`], { encoding: 'utf8' }).stdout.trim() * 1;
  } catch {
    return null;
  }
}

async function until(fn, timeoutMs, what, everyMs = 250) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await fn();
    if (last) return last;
    await sleep(everyMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

const startProcess = (name, cmd, args, options = {}) => startChild(name, cmd, args, options, log);
/** Relays and upstreams get 8 s to stop (a gateway closes its sessions and log first). */
const stopProcess = (child) => stopChild(child, 8000);

/** Cleanups still owed (a PostgreSQL schema, Redis keys): run, within 10 s, on SIGINT/SIGTERM too. */
const cleanups = new Set();
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, async () => {
    for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await Promise.race([Promise.allSettled([...cleanups].map((f) => f())), sleep(10000)]);
    process.exit(130);
  });
}

// ── upstream ────────────────────────────────────────────────────────────────

/** With SESSIONS_TLS: a self-signed certificate for 127.0.0.1 (made once per run with openssl). */
let tlsFiles = null;
function tlsCert(dir) {
  if (tlsFiles) return tlsFiles;
  const cert = join(dir, 'upstream.pem');
  const key = join(dir, 'upstream.key');
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl failed: ${r.stderr}`);
  tlsFiles = { cert, key };
  return tlsFiles;
}

async function startUpstream(dir) {
  const port = await freePort();
  const controlPort = TLS ? await freePort() : port;
  const tls = TLS ? tlsCert(dir) : null;
  const child = startProcess('upstream', process.execPath, [join(HERE, 'stream-upstream.mjs'), String(port), ...(tls ? ['--tls', tls.cert, tls.key, '--control-port', String(controlPort)] : [])]);
  await waitForPort(port);
  await waitForPort(controlPort);
  const ctl = async (method, path) => {
    const res = await fetch(`http://127.0.0.1:${controlPort}${path}`, { method, signal: AbortSignal.timeout(10000) });
    return res.json();
  };
  return { pid: child.pid, port, child, ctl, scheme: tls ? 'wss' : 'ws', caFile: tls?.cert ?? null };
}

// ── relays ──────────────────────────────────────────────────────────────────

async function startHaproxy(dir, upstreamPort, caFile) {
  const bin = which('haproxy');
  if (!bin) return null;
  const port = await freePort();
  const conf = join(dir, 'haproxy.cfg');
  writeFileSync(
    conf,
    `global
  maxconn 9500
  nbthread 1
defaults
  mode http
  maxconn 9500${process.env.HAPROXY_NO_DELAY ? '\n  option http-no-delay' : ''}
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  timeout tunnel 1h
frontend fe
  bind 127.0.0.1:${port}
  default_backend be
backend be
  server of 127.0.0.1:${upstreamPort} maxconn 9500${caFile ? ` ssl verify required ca-file ${caFile}` : ''}
`,
  );
  const child = startProcess('haproxy', bin, ['-f', conf, '-db']);
  await waitForPort(port);
  return { name: 'haproxy', pid: child.pid, port, child, version: (spawnSync(bin, ['-v'], { encoding: 'utf8' }).stdout ?? '').split('\n')[0] };
}

/** Organization with an active subscription and one API key, in a store at `location`. */
async function seedOrg(location, masterKey) {
  const { openStore } = await import(join(ROOT, 'dist/src/store/index.js'));
  const store = await openStore(location, masterKey ? { masterKey } : {});
  try {
    const org = await store.createOrganization({ name: 'Bench sessions' });
    await store.setSubscription(org.id, { status: 'active', plan: 'bench' });
    const key = await store.createApiKey(org.id, { name: 'bench' });
    return { orgId: org.id, apiKey: key.key };
  } finally {
    await store.close();
  }
}

/** `count` session-mode models, model i on the upstream path `/g/<i>`. */
async function createModels(location, masterKey, orgId, upstream, count) {
  const { openStore } = await import(join(ROOT, 'dist/src/store/index.js'));
  const store = await openStore(location, masterKey ? { masterKey } : {});
  const models = [];
  try {
    for (let i = 0; i < count; i++) {
      const path = `/g/${i}`;
      const m = await store.createModel(orgId, { name: `bench ${i}`, wsUrl: `${upstream.scheme}://127.0.0.1:${upstream.port}${path}`, wsToken: 'bench-token', userAgent: 'ofgw-bench/1.0', delivery: 'session' });
      models.push({ id: m.id, path });
    }
  } finally {
    await store.close();
  }
  return models;
}

async function startGateway({ name = 'gateway', db, masterKey, eventLogFile, redis, prefix, maxEvents, caFile }) {
  const port = await freePort();
  const args = [
    ...(process.env.BENCH_GATEWAY_NODE_ARGS ?? '').split(' ').filter(Boolean), // e.g. --cpu-prof --cpu-prof-dir=DIR
    '--expose-gc',
    '--import',
    new URL(`file://${join(HERE, 'gc-hook.mjs')}`).href,
    join(ROOT, 'dist/src/cli/main.js'),
    'serve',
    '--production',
    '--db', db,
    '--port', String(port),
    '--ip-connect-burst', BIG,
    '--ip-connect-per-second', BIG,
    '--ip-auth-failure-burst', BIG,
    '--key-connect-burst', BIG,
    '--key-connect-per-second', BIG,
    '--messages-per-second', '100000000',
    '--message-burst', '100000000',
    '--max-relays-per-org', BIG,
    '--max-upstream-sockets-per-model', BIG,
    '--max-session-clients-per-model', '100000',
    ...(maxEvents ? ['--event-log-max-events', String(maxEvents)] : []),
    ...(eventLogFile ? ['--event-log-file', eventLogFile] : []),
    ...(caFile ? ['--upstream-ca-file', caFile] : []),
    ...(redis ? ['--redis', redis, '--redis-prefix', prefix] : []),
  ];
  const child = startProcess(name, process.execPath, args, { env: { ...process.env, OFGW_LOG_LEVEL: 'warn', ...(masterKey ? { OFGW_MASTER_KEY: masterKey } : {}) } });
  await waitForPort(port, 30000);
  return { name, pid: child.pid, port, child, gc: () => child.kill('SIGUSR2') };
}

async function gcAndRss(relay) {
  if (relay.gc) {
    relay.gc();
    await sleep(1000);
  }
  return rssKb(relay.pid);
}

// ── load generators ─────────────────────────────────────────────────────────

/** Starts one stream-clients process; resolves once its clients are open. */
async function startLoadgen(dir, clients, tag) {
  const specPath = join(dir, `clients-${tag}.json`);
  writeFileSync(specPath, JSON.stringify({ clients, token: 'bench-token', concurrency: 64 }));
  const child = spawn(process.execPath, [join(HERE, 'stream-clients.mjs'), specPath], { stdio: ['pipe', 'pipe', 'pipe'] });
  started.push(child);
  let errText = '';
  child.stderr.on('data', (d) => (errText = (errText + d).slice(-5000)));
  const waiters = [];
  const lines = createInterface({ input: child.stdout });
  lines.on('line', (line) => {
    let msg;
    try {
      msg = JSON.parse(line);
    } catch {
      return;
    }
    const w = waiters.findIndex((x) => x.match(msg));
    if (w >= 0) waiters.splice(w, 1)[0].resolve(msg);
  });
  const exited = new Promise((r) => child.once('exit', r));
  const next = (match, timeoutMs, what) =>
    new Promise((resolvePromise, reject) => {
      const timer = setTimeout(() => reject(new Error(`loadgen ${tag}: no ${what} within ${timeoutMs} ms ${errText.slice(-500)}`)), timeoutMs);
      const entry = { match, resolve: (m) => (clearTimeout(timer), resolvePromise(m)) };
      waiters.push(entry);
      exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`loadgen ${tag} exited: ${errText.slice(-1000)}`));
      });
    });
  const ready = await next((m) => m.mark === 'ready', 300000, 'ready mark');
  const cmd = (c, match, what, timeoutMs = 30000) => {
    const p = next(match, timeoutMs, what);
    child.stdin.write(`${c}\n`);
    return p;
  };
  return {
    ready,
    pid: child.pid,
    start: () => cmd('start', (m) => m.mark === 'start', 'start mark'),
    end: () => cmd('end', (m) => m.mark === 'end', 'end mark'),
    report: () => cmd('report', (m) => m.report, 'report', 60000).then((m) => m.report),
    close: async () => {
      child.stdin.write('close\n');
      await Promise.race([exited, sleep(5000)]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

/** One generator, or two: above LOADGEN_SPLIT clients, or one per `group` when the clients have groups. */
async function startLoadgens(dir, clients, tag) {
  const groups = [...new Set(clients.map((c) => c.group).filter(Boolean))];
  let parts;
  if (groups.length > 1) parts = groups.map((g) => clients.filter((c) => c.group === g));
  else {
    const n = clients.length > LOADGEN_SPLIT ? 2 : 1;
    parts = Array.from({ length: n }, (_, k) => clients.filter((_, i) => i % n === k));
  }
  const gens = await Promise.all(parts.map((p, k) => startLoadgen(dir, p, `${tag}-${groups.length > 1 ? groups[k] : k}`)));
  gens.forEach((g, k) => (g.group = groups.length > 1 ? groups[k] : null));
  return gens;
}

/** Opens the window on every generator, samples the relay's CPU around it. */
/**
 * Each gateway's own figure (`ofgw_session_delivery_lag_seconds`, ms) since its previous scrape:
 * `upstream_read` = upstream read → write to the last live client (embedded log),
 * `log_append` = append time in the id (Redis's clock, whole ms) → write (cluster log).
 */
async function scrapeLag(ports) {
  return Promise.all(
    ports.map(async (port) => {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(10000) })).text();
      const out = {};
      for (const m of text.matchAll(/^ofgw_session_delivery_lag_seconds\{timed_from="(\w+)",stat="(\w+)"\} (\S+)$/gm)) (out[m[1]] ??= {})[m[2]] = Number(m[3]) * 1000;
      return out;
    }),
  );
}

async function measureWindow(gens, pids, seconds, during, lagPorts) {
  if (lagPorts) await scrapeLag(lagPorts); // starts the gateways' lag period
  const cpu0 = pids.map(cpuMs);
  const sched0 = pids.map(schedMs);
  const t0 = performance.now();
  await Promise.all(gens.map((g) => g.start()));
  await during?.();
  const rest = seconds * 1000 - (performance.now() - t0);
  if (rest > 0) await sleep(rest);
  const cpu1 = pids.map(cpuMs);
  const sched1 = pids.map(schedMs);
  const t1 = performance.now();
  const gatewayLagMs = lagPorts ? await scrapeLag(lagPorts) : undefined;
  const ends = await Promise.all(gens.map((g) => g.end()));
  const windows = ends.map((e) => e.window);
  const events = windows.reduce((a, w) => a + w.events, 0);
  const relayCpuMs = cpu1.reduce((a, c, i) => a + (c - cpu0[i]), 0);
  return {
    wallMs: t1 - t0,
    events,
    eventsPerSec: (events / (t1 - t0)) * 1000,
    relayCpuMs,
    relayCpuShare: relayCpuMs / (t1 - t0),
    relayCpuPerProcessMs: cpu1.map((c, i) => c - cpu0[i]),
    relayCpuUsPerEvent: events ? (relayCpuMs * 1000) / events : null,
    // Main thread: share of the window on a CPU, and waiting for one (runnable but not running:
    // the machine's other processes took the cores). Busy + waiting near 1: the relay's event
    // loop was the limit; waiting high: the machine was.
    relayMainThread: pids.map((_, i) => (sched0[i] && sched1[i] ? { onCpuShare: (sched1[i].run - sched0[i].run) / (t1 - t0), runQueueWaitShare: (sched1[i].wait - sched0[i].wait) / (t1 - t0) } : null)),
    loadgenCpuShare: windows.map((w) => w.loadgenCpuShare),
    latencyMs: mergeLatency(windows.map((w) => w.latencyMs)),
    gatewayLagMs,
    perLoadgen: windows,
  };
}

/** Across generators: the worst percentile (each generator's histogram is its own). */
function mergeLatency(list) {
  const pick = (k, f) => {
    const v = list.map((l) => l[k]).filter((x) => x != null);
    return v.length ? v.reduce((a, b) => f(a, b)) : null;
  };
  return { count: list.reduce((a, l) => a + l.count, 0), p50: pick('p50', Math.max), p99: pick('p99', Math.max), p999: pick('p999', Math.max), max: pick('max', Math.max), note: list.length > 1 ? 'worst of the generators' : undefined };
}

/** Stops the stream, drains, and accounts for every event per client. */
async function stopAndAccount(upstream, gens) {
  const stopped = await upstream.ctl('POST', '/_stop');
  const sent = stopped.sent;
  let reports;
  let lastTotal = -1;
  let stableSince = Date.now();
  const t0 = Date.now();
  const deadline = t0 + DRAIN_SECONDS * 1000;
  // Drain: until every generator has all it should, or its count stops moving for 1.5 s, or DRAIN_SECONDS.
  while (Date.now() < deadline) {
    await sleep(500);
    reports = await Promise.all(gens.map((g) => g.report()));
    const total = reports.reduce((a, r) => a + r.received, 0);
    const expected = expectedOf(reports, sent);
    if (total >= expected) break;
    if (total !== lastTotal) {
      lastTotal = total;
      stableSince = Date.now();
    } else if (Date.now() - stableSince > 1500) break;
  }
  const expected = expectedOf(reports, sent);
  const sum = (k) => reports.reduce((a, r) => a + r[k], 0);
  let clientsShort = 0;
  let pathsWithShortClients = 0;
  for (const r of reports) {
    for (const [path, p] of Object.entries(r.perPath)) {
      if (p.minLast < (sent[path] ?? 0) || p.maxFirst > 1) pathsWithShortClients++;
    }
  }
  for (const r of reports) clientsShort += r.clientsNotStartingAtSeq1;
  return {
    upstreamSentTotal: stopped.total,
    upstreamSockets: stopped.authed,
    expected,
    delivered: sum('received'),
    missing: expected - sum('received') + sum('duplicates'),
    gaps: sum('gaps'),
    duplicates: sum('duplicates'),
    wrongPath: sum('wrongPath'),
    clientsNotStartingAtSeq1: clientsShort,
    pathsShort: pathsWithShortClients,
    unexpectedCloses: sum('unexpectedCloses'),
    closeCodes: Object.assign({}, ...reports.map((r) => r.closeCodes)),
    socketErrors: sum('socketErrors'),
    latencyWholeRunMs: mergeLatency(reports.map((r) => r.latencyMs)),
    drainMs: Date.now() - t0,
    sent,
  };
}

function expectedOf(reports, sent) {
  let e = 0;
  for (const r of reports) for (const [path, p] of Object.entries(r.perPath)) e += (sent[path] ?? 0) * p.clients;
  return e;
}

// ── event log check ─────────────────────────────────────────────────────────

/** One envelope client per model with since=0-0: every logged event, then compares with `sent`. */
async function checkLog(port, apiKey, models, sent, kept) {
  const sample = LOG_CHECK_MODELS > 0 ? models.slice(0, Math.min(LOG_CHECK_MODELS, models.length)) : models;
  const results = [];
  const one = (m) =>
    new Promise((resolvePromise) => {
      const want = Math.min(sent[m.path] ?? 0, kept);
      const seqs = [];
      let gapFrames = 0;
      let error = null;
      const ws = new WebSocket(`ws://127.0.0.1:${port}/api/models/${m.id}/ws?format=envelope&since=0-0`, { headers: { 'X-API-Key': apiKey }, perMessageDeflate: false });
      let idle;
      const finish = () => {
        clearTimeout(idle);
        clearTimeout(hard);
        ws.terminate();
        const last = sent[m.path] ?? 0;
        let contiguous = true;
        for (let i = 1; i < seqs.length; i++) if (seqs[i] !== seqs[i - 1] + 1) contiguous = false;
        resolvePromise({ model: m.id, path: m.path, sent: last, logged: seqs.length, first: seqs[0] ?? null, last: seqs[seqs.length - 1] ?? null, contiguous, endsAtSent: seqs[seqs.length - 1] === last, gapFrames, error, withinBound: seqs.length <= kept, ok: error === null && contiguous && seqs[seqs.length - 1] === last && seqs.length >= Math.min(want, kept - 5) && seqs.length <= kept });
      };
      const hard = setTimeout(finish, 20000);
      const arm = () => {
        clearTimeout(idle);
        idle = setTimeout(finish, 1500);
      };
      ws.on('error', (err) => (error = err.message));
      ws.on('close', () => finish());
      ws.on('message', (data) => {
        arm();
        const msg = JSON.parse(data.toString());
        if (msg.type === 'gap') gapFrames++;
        if (msg.type === 'event' && msg.data?.bench_event) {
          seqs.push(msg.data.bench_event.seq);
          if (seqs.length >= want && seqs[seqs.length - 1] === (sent[m.path] ?? 0)) finish();
        }
      });
      arm();
    });
  for (let i = 0; i < sample.length; i += 20) results.push(...(await Promise.all(sample.slice(i, i + 20).map(one))));
  const bad = results.filter((r) => !r.ok);
  return { modelsChecked: results.length, ok: results.length - bad.length, keptBound: kept, eventsRead: results.reduce((a, r) => a + r.logged, 0), notOk: bad.slice(0, 20), firstTwo: results.slice(0, 2) };
}

// ── scenarios ───────────────────────────────────────────────────────────────

function perClient(rel, baselineKb, clients) {
  return rel == null || baselineKb == null ? null : ((rel - baselineKb) * 1024) / clients;
}

/** HAProxy: `clients` tunnels, each its own upstream socket and path, streaming at `rate`. */
async function runHaproxy(dir, clients, rate, direct = false) {
  const upstream = await startUpstream(dir);
  const relay = direct ? { name: 'direct', pid: null, port: upstream.port, child: null, version: 'client → upstream, no relay' } : await startHaproxy(dir, upstream.port, upstream.caFile);
  if (!relay) {
    await stopProcess(upstream.child);
    return { skipped: 'haproxy not installed' };
  }
  const name = relay.name;
  let gens = [];
  try {
    await sleep(500);
    const baselineKb = direct ? null : rssKb(relay.pid);
    const list = Array.from({ length: clients }, (_, i) => ({ url: `${direct ? upstream.scheme : 'ws'}://127.0.0.1:${relay.port}/h/${i}`, handshake: 'plain', path: `/h/${i}`, ...(direct && upstream.caFile ? { caFile: upstream.caFile } : {}) }));
    log(`${name}: opening ${clients} ${direct ? 'clients' : 'tunnels'}`);
    gens = await startLoadgens(dir, list, name);
    const opened = gens.reduce((a, g) => a + g.ready.opened, 0);
    const failed = gens.reduce((a, g) => a + g.ready.failed, 0);
    await upstream.ctl('POST', `/_start?rate=${rate}&size=${EVENT_SIZE}`);
    log(`${name}: ${opened} open (${failed} failed), streaming ${rate}/s each; warm-up ${WARMUP_SECONDS} s, window ${WINDOW_SECONDS} s`);
    await sleep(WARMUP_SECONDS * 1000);
    const upCpu0 = cpuMs(upstream.pid);
    const window = await measureWindow(gens, direct ? [] : [relay.pid], WINDOW_SECONDS);
    window.upstreamCpuShare = (cpuMs(upstream.pid) - upCpu0) / window.wallMs;
    if (direct) {
      window.relayCpuMs = window.relayCpuShare = window.relayCpuUsPerEvent = null;
    }
    const heldKb = direct ? null : rssKb(relay.pid);
    const account = await stopAndAccount(upstream, gens);
    delete account.sent;
    return { relay: name, version: relay.version, clients, opened, failed, firstError: gens.map((g) => g.ready.firstError).find(Boolean) ?? null, upstreamSockets: account.upstreamSockets, rate, baselineRssKb: baselineKb, heldRssKb: heldKb, rssBytesPerClient: perClient(heldKb, baselineKb, opened), window, account };
  } finally {
    for (const g of gens) await g.close();
    if (relay.child) await stopProcess(relay.child);
    await stopProcess(upstream.child);
  }
}

/**
 * Gateway on one node (SQLite store and event log) or several (PostgreSQL + Redis):
 * `models` session models × `perModel` clients each, `rate` events/s per model. With
 * `soakSeconds` the window is the soak, sampled every SAMPLE_SECONDS.
 */
async function runGateway(dir, { tag, models: modelCount, perModel, rate, nodes: nodeCount = 1, maxEvents, soakSeconds = 0 }) {
  const upstream = await startUpstream(dir);
  const cluster = nodeCount > 1;
  const masterKey = cluster ? randomBytes(32).toString('base64') : null;
  const prefix = `ofgw-bench:${randomBytes(4).toString('hex')}:`;
  let schema = null;
  let db;
  const eventLogFile = join(dir, `${tag}-events.db`);
  const relays = [];
  let gens = [];
  let redis = null;
  let cleaned = false;
  async function cleanup() {
    if (cleaned) return;
    cleaned = true;
    if (redis) {
      await deleteKeys(redis, prefix).catch((e) => log(`redis cleanup: ${e.message}`));
      redis.disconnect();
    }
    if (schema) {
      const pg = (await import('pg')).default;
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      await c.query(`drop schema if exists ${schema} cascade`);
      await c.end();
    }
  }
  try {
    if (cluster) {
      cleanups.add(cleanup);
      const pg = (await import('pg')).default;
      schema = `ofgw_bench_${randomBytes(4).toString('hex')}`;
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      await c.query(`create schema ${schema}`);
      await c.end();
      db = `${PG_URL}${PG_URL.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
      const { Redis } = await import('ioredis');
      redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 2, lazyConnect: false });
    } else {
      db = join(dir, `${tag}-ofgw.db`);
    }
    const seed = await seedOrg(db, masterKey);
    for (let n = 0; n < nodeCount; n++) relays.push(await startGateway({ name: `${tag}-node${n + 1}`, db, masterKey, eventLogFile: cluster ? null : eventLogFile, redis: cluster ? REDIS_URL : null, prefix, maxEvents, caFile: upstream.caFile }));
    await sleep(1000);
    const baselineKb = [];
    for (const r of relays) baselineKb.push(await gcAndRss(r));
    const redisBaseline = redis ? await redisUsedMemory(redis) : null;
    log(`${tag}: ${nodeCount} node(s) up (RSS ${baselineKb.join(', ')} kB after GC); creating ${modelCount} session models`);
    const models = await createModels(db, masterKey, seed.orgId, upstream, modelCount);
    await until(async () => (await upstream.ctl('GET', '/_stats')).authed >= modelCount, 120000, `${modelCount} session upstream sockets`, 500);
    await sleep(1000);
    const withSessionsKb = [];
    for (const r of relays) withSessionsKb.push(await gcAndRss(r));
    // In a cluster: which node holds each model's session (the pid in its lease), so that the
    // clients on the other node (their events come through the Redis log) are counted and
    // measured apart, in a generator of their own.
    let holderPid = null;
    if (redis) {
      const { sessionKeys } = await import(join(ROOT, 'dist/src/sessions/types.js'));
      const keys = sessionKeys(prefix);
      holderPid = new Map();
      for (let i = 0; i < models.length; i += 200) {
        const batch = models.slice(i, i + 200);
        const values = await redis.mget(...batch.map((m) => keys.lease(m.id)));
        batch.forEach((m, j) => holderPid.set(m.id, Number(/-(\d+)-[0-9a-f]+ \d+$/.exec(values[j] ?? '')?.[1] ?? NaN)));
      }
    }
    const clients = [];
    models.forEach((m, i) => {
      for (let k = 0; k < perModel; k++) {
        const node = relays[(i + k) % nodeCount];
        const group = holderPid ? (holderPid.get(m.id) === node.pid ? 'local' : 'remote') : undefined;
        clients.push({ url: `ws://127.0.0.1:${node.port}/api/models/${m.id}/ws`, headers: { 'X-API-Key': seed.apiKey }, handshake: 'gateway', path: m.path, group });
      }
    });
    const sessionsPerNode = holderPid ? relays.map((r) => [...holderPid.values()].filter((p) => p === r.pid).length) : null;
    const clientsOnOtherNode = holderPid ? clients.filter((c) => c.group === 'remote').length : null;
    log(`${tag}: ${modelCount} sessions up (RSS ${withSessionsKb.join(', ')} kB); opening ${clients.length} clients`);
    gens = await startLoadgens(dir, clients, tag);
    const opened = gens.reduce((a, g) => a + g.ready.opened, 0);
    const failed = gens.reduce((a, g) => a + g.ready.failed, 0);
    const openMs = Math.max(...gens.map((g) => g.ready.openMs));
    const fds = relays.map((r) => fdCount(r.pid));
    await upstream.ctl('POST', `/_start?rate=${rate}&size=${EVENT_SIZE}`);
    log(`${tag}: ${opened} clients open in ${Math.round(openMs)} ms (${failed} failed${failed ? `: ${gens.map((g) => g.ready.firstError).find(Boolean)}` : ''}), gateway fds ${fds.join(', ')}; streaming ${rate}/s per model`);
    await sleep(WARMUP_SECONDS * 1000);
    const samples = [];
    const sample = async (t0) => {
      const s = { atS: (performance.now() - t0) / 1000, rssKb: relays.map((r) => rssKb(r.pid)) };
      if (!cluster) s.eventLogBytes = fileBytes(eventLogFile);
      if (redis) s.redisUsedMemory = await redisUsedMemory(redis);
      samples.push(s);
      return s;
    };
    const upCpu0 = cpuMs(upstream.pid);
    const seconds = soakSeconds || WINDOW_SECONDS;
    const window = await measureWindow(gens, relays.map((r) => r.pid), seconds, soakSeconds
      ? async () => {
          const t0 = performance.now();
          const n = Math.max(1, Math.floor(soakSeconds / SAMPLE_SECONDS));
          await sample(t0);
          for (let i = 1; i <= n; i++) {
            const due = t0 + Math.min(soakSeconds * 1000 - 200, i * SAMPLE_SECONDS * 1000);
            const wait = due - performance.now();
            if (wait > 0) await sleep(wait);
            const s = await sample(t0);
            if (i % 6 === 0 || i === n) log(`${tag}: soak ${Math.round(s.atS)} s: RSS ${s.rssKb.join(', ')} kB${s.eventLogBytes != null ? `, event log ${s.eventLogBytes} B` : ''}${s.redisUsedMemory != null ? `, redis ${s.redisUsedMemory} B` : ''}`);
          }
        }
      : null, relays.map((r) => r.port));
    window.upstreamCpuShare = (cpuMs(upstream.pid) - upCpu0) / window.wallMs;
    const heldKb = relays.map((r) => rssKb(r.pid));
    const heldAfterGcKb = [];
    for (const r of relays) heldAfterGcKb.push(await gcAndRss(r));
    const heldFds = relays.map((r) => fdCount(r.pid));
    const account = await stopAndAccount(upstream, gens);
    const kept = maxEvents ?? 10000;
    const logCheck = await checkLog(relays[0].port, seed.apiKey, models, account.sent, kept);
    const sum = (a) => a.reduce((x, y) => x + (y ?? 0), 0);
    const result = {
      relay: 'gateway',
      nodes: nodeCount,
      store: cluster ? 'postgresql + redis' : 'sqlite',
      models: modelCount,
      clientsPerModel: perModel,
      clients: clients.length,
      opened,
      failed,
      firstError: gens.map((g) => g.ready.firstError).find(Boolean) ?? null,
      openMs,
      loadgens: gens.length,
      rate,
      eventLogMaxEvents: kept,
      baselineRssKb: baselineKb,
      withSessionsRssKb: withSessionsKb,
      heldRssKb: heldKb,
      heldAfterGcRssKb: heldAfterGcKb,
      fds: heldFds,
      rssBytesPerClient: perClient(sum(heldKb), sum(baselineKb), opened),
      rssBytesPerClientAfterGc: perClient(sum(heldAfterGcKb), sum(baselineKb), opened),
      rssBytesPerClientBeyondSessions: perClient(sum(heldKb), sum(withSessionsKb), opened),
      sessionsPerNode,
      clientsOnOtherNode,
      window,
      latencyByLoadgen: gens.map((g, k) => ({ group: g.group, clients: g.ready.opened, window: window.perLoadgen[k].latencyMs })),
      account,
      logCheck,
    };
    if (soakSeconds) result.soak = summarizeSoak(samples, cluster);
    if (redis) result.redisBaselineUsedMemory = redisBaseline;
    delete result.account.sent;
    return result;
  } finally {
    for (const g of gens) await g.close();
    for (const r of relays) await stopProcess(r.child);
    await stopProcess(upstream.child);
    await cleanup();
    cleanups.delete(cleanup);
  }
}

function fileBytes(base) {
  let total = 0;
  for (const f of [base, `${base}-wal`, `${base}-shm`]) {
    try {
      total += statSync(f).size;
    } catch {}
  }
  return total;
}

async function redisUsedMemory(redis) {
  const info = await redis.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? NaN);
}

async function deleteKeys(redis, prefix) {
  let cursor = '0';
  for (let i = 0; i < 100000; i++) {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    if (keys.length) await redis.del(...keys);
    cursor = next;
    if (cursor === '0') break;
  }
}

/** first/last/max per series, and a least-squares slope per minute over the second half. */
function summarizeSoak(samples, cluster) {
  const series = { rssKbTotal: samples.map((s) => s.rssKb.reduce((a, b) => a + (b ?? 0), 0)) };
  if (!cluster) series.eventLogBytes = samples.map((s) => s.eventLogBytes);
  else series.redisUsedMemory = samples.map((s) => s.redisUsedMemory);
  const at = samples.map((s) => s.atS);
  const out = { samples: samples.length, everySeconds: SAMPLE_SECONDS, raw: samples };
  for (const [k, v] of Object.entries(series)) {
    const half = Math.floor(v.length / 2);
    out[k] = { first: v[0], last: v[v.length - 1], max: Math.max(...v), slopePerMinuteSecondHalf: slope(at.slice(half), v.slice(half)), slopePerMinuteAll: slope(at, v) };
  }
  return out;
}

function slope(xs, ys) {
  const n = xs.length;
  if (n < 2) return null;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return den ? (num / den) * 60 : null;
}

// ── report ──────────────────────────────────────────────────────────────────

const fmt = (v, d = 0) => (v == null || Number.isNaN(v) ? '—' : Number(v).toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }));

function table(title, columns, rows) {
  const header = ['metric', ...columns];
  const lines = rows.map(([label, ...cells]) => [label, ...cells.map((c) => (typeof c === 'string' ? c : fmt(c, Number.isInteger(c) || Math.abs(c ?? 0) >= 100 ? 0 : 2)))]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => String(l[i]).length)));
  const line = (cells) => `| ${cells.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join(' | ')} |`;
  process.stdout.write(`\n${title}\n${[line(header), `|${widths.map((w, i) => '-'.repeat(w + 1) + (i === 0 ? '-' : ':')).join('|')}|`, ...lines.map(line)].join('\n')}\n`);
}

const ratio = (a, b) => (a == null || b == null || !(b > 0) ? '—' : `${fmt(a / b, 2)}×`);

function rowsFor(r) {
  return {
    clients: r.opened,
    'failed to open': r.failed,
    'upstream sockets': r.account?.upstreamSockets,
    'RSS bytes / client (held − baseline)': r.rssBytesPerClient,
    'RSS bytes / client after GC': r.rssBytesPerClientAfterGc,
    'RSS bytes / client (held − with sessions)': r.rssBytesPerClientBeyondSessions,
    'relay CPU µs / delivered event': r.window?.relayCpuUsPerEvent,
    'relay CPU share (window)': r.window?.relayCpuShare,
    'relay main thread on CPU / waiting for one': r.window?.relayMainThread?.length ? r.window.relayMainThread.map((m) => (m ? `${fmt(m.onCpuShare, 2)} / ${fmt(m.runQueueWaitShare, 2)}` : '—')).join(' + ') : '—',
    'delivered events/s (window)': r.window?.eventsPerSec,
    'latency p50 ms (window)': r.window?.latencyMs?.p50,
    'latency p99 ms (window)': r.window?.latencyMs?.p99,
    'latency max ms (window)': r.window?.latencyMs?.max,
    ...(r.window?.gatewayLagMs
      ? {
          "gateway's own lag p50 / p99 / max ms, upstream read → client write": r.window.gatewayLagMs.map((l) => (l.upstream_read?.max ? `${fmt(l.upstream_read.p50, 2)} / ${fmt(l.upstream_read.p99, 2)} / ${fmt(l.upstream_read.max, 1)}` : '—')).join(' + '),
          "gateway's own lag p50 / p99 / max ms, log append → client write": r.window.gatewayLagMs.map((l) => (l.log_append?.max ? `${fmt(l.log_append.p50, 2)} / ${fmt(l.log_append.p99, 2)} / ${fmt(l.log_append.max, 1)}` : '—')).join(' + '),
        }
      : {}),
    'expected events (whole run)': r.account?.expected,
    'delivered events (whole run)': r.account?.delivered,
    'missing': r.account?.missing,
    'gaps': r.account?.gaps,
    'duplicates / out of order': r.account?.duplicates,
    'unexpected closes': r.account?.unexpectedCloses,
    'drain after stop ms': r.account?.drainMs,
    'log check: models ok / checked': r.logCheck ? `${r.logCheck.ok} / ${r.logCheck.modelsChecked}` : '—',
    ...(r.latencyByLoadgen?.some((l) => l.group)
      ? Object.fromEntries(r.latencyByLoadgen.map((l) => [`latency p50 / p99 ms, ${l.group === 'remote' ? 'clients on the other node' : 'clients on the holder'} (${l.clients})`, `${fmt(l.window.p50, 2)} / ${fmt(l.window.p99, 2)}`]))
      : {}),
    ...(r.sessionsPerNode ? { 'sessions held per node': r.sessionsPerNode.join(' + ') } : {}),
    'loadgen CPU share': r.window ? r.window.loadgenCpuShare.map((x) => fmt(x, 2)).join(' + ') : '—',
    'upstream CPU share': r.window?.upstreamCpuShare,
  };
}

function printFanout(res) {
  const ok = (x) => (x && !x.skipped && !x.error ? rowsFor(x) : {});
  const dr = ok(res.direct);
  const hr = ok(res.haproxy);
  const gr = ok(res.gateway);
  const labels = [...new Set([...Object.keys(gr), ...Object.keys(hr), ...Object.keys(dr)])];
  table(`fanout: ${FANOUT_MODELS * FANOUT_CPM} clients; direct and HAProxy: one upstream socket each; gateway: ${FANOUT_MODELS} session models × ${FANOUT_CPM}; ${FANOUT_RATE} ev/s per upstream socket`, ['direct', 'haproxy', 'gateway', 'gw/haproxy'], labels.map((l) => {
    const a = hr[l];
    const b = gr[l];
    const r = /RSS|CPU µs|latency/.test(l) && typeof a === 'number' && typeof b === 'number' ? ratio(b, a) : '';
    return [l, dr[l] ?? '—', a ?? '—', b ?? '—', r];
  }));
}

function printOne(title, r) {
  const rows = rowsFor(r);
  if (r.soak) {
    for (const [k, v] of Object.entries(r.soak)) {
      if (!v || typeof v !== 'object' || !('first' in v)) continue;
      rows[`${k}: first`] = v.first;
      rows[`${k}: last`] = v.last;
      rows[`${k}: max`] = v.max;
      rows[`${k}: slope / min (2nd half)`] = v.slopePerMinuteSecondHalf;
    }
  }
  table(title, ['gateway'], Object.entries(rows).map(([l, v]) => [l, v ?? '—']));
}

// ── main ────────────────────────────────────────────────────────────────────

async function main() {
  statSync(join(ROOT, 'dist/src/cli/main.js'));
  const dir = mkdtempSync(join(os.tmpdir(), 'ofgw-sessions-bench-'));
  const removeDir = async () => rmSync(dir, { recursive: true, force: true });
  cleanups.add(removeDir);
  const report = {
    at: new Date().toISOString(),
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? null, node: process.version, kernel: os.release(), fdLimit: spawnSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).stdout.trim() },
    settings: { TLS, SCENARIOS, FANOUT_MODELS, FANOUT_CPM, FANOUT_RATE, BIG_MODELS, EVENTLOG_MODELS, EVENTLOG_RATE, EVENTLOG_CPM, EVENTLOG_MAX_EVENTS, SOAK_SECONDS, SAMPLE_SECONDS, WARMUP_SECONDS, WINDOW_SECONDS, LOG_CHECK_MODELS, EVENT_SIZE },
    results: {},
  };
  const save = () => {
    mkdirSync(dirname(OUT), { recursive: true });
    writeFileSync(OUT, JSON.stringify(report, null, 2) + '\n');
  };
  const attempt = async (name, fn) => {
    try {
      return await fn();
    } catch (err) {
      log(`${name} failed: ${err.stack ?? err}`);
      return { error: String(err.message ?? err) };
    }
  };
  try {
    for (const s of SCENARIOS) {
      log(`scenario ${s}`);
      if (s === 'fanout') {
        const res = {};
        if (FANOUT_TARGETS.includes('direct')) res.direct = await attempt('fanout direct', () => runHaproxy(dir, FANOUT_MODELS * FANOUT_CPM, FANOUT_RATE, true));
        if (FANOUT_TARGETS.includes('haproxy')) res.haproxy = await attempt('fanout haproxy', () => runHaproxy(dir, FANOUT_MODELS * FANOUT_CPM, FANOUT_RATE));
        if (FANOUT_TARGETS.includes('gateway')) res.gateway = await attempt('fanout gateway', () => runGateway(dir, { tag: 'fanout', models: FANOUT_MODELS, perModel: FANOUT_CPM, rate: FANOUT_RATE }));
        if (res.haproxy?.rssBytesPerClient && res.gateway?.rssBytesPerClient) {
          res.ratios = {
            rssPerClient: res.gateway.rssBytesPerClient / res.haproxy.rssBytesPerClient,
            rssPerClientAfterGc: res.gateway.rssBytesPerClientAfterGc / res.haproxy.rssBytesPerClient,
            cpuPerEvent: res.gateway.window.relayCpuUsPerEvent / res.haproxy.window.relayCpuUsPerEvent,
            targets: { rssPerClient: 0.75, cpuPerEvent: 1.0 },
          };
        }
        report.results.fanout = res;
        printFanout(res);
      } else if (s === 'fanout-15k') {
        const r = await attempt('fanout-15k', () => runGateway(dir, { tag: 'fanout15k', models: BIG_MODELS, perModel: FANOUT_CPM, rate: FANOUT_RATE }));
        report.results['fanout-15k'] = r;
        if (!r.error) printOne(`fanout-15k: ${BIG_MODELS} session models × ${FANOUT_CPM} clients, ${FANOUT_RATE} ev/s each, one gateway process`, r);
      } else if (s === 'eventlog-sqlite') {
        const r = await attempt('eventlog-sqlite', () => runGateway(dir, { tag: 'eventlog-sqlite', models: EVENTLOG_MODELS, perModel: EVENTLOG_CPM, rate: EVENTLOG_RATE, maxEvents: EVENTLOG_MAX_EVENTS, soakSeconds: SOAK_SECONDS }));
        report.results['eventlog-sqlite'] = r;
        if (!r.error) printOne(`eventlog-sqlite: ${EVENTLOG_MODELS} models × ${EVENTLOG_RATE} ev/s, ${EVENTLOG_CPM} client each, one node (SQLite), soak ${SOAK_SECONDS} s, log bound ${EVENTLOG_MAX_EVENTS}`, r);
      } else if (s === 'eventlog-cluster') {
        const r = await attempt('eventlog-cluster', () => runGateway(dir, { tag: 'eventlog-cluster', models: EVENTLOG_MODELS, perModel: EVENTLOG_CPM, rate: EVENTLOG_RATE, nodes: 2, maxEvents: EVENTLOG_MAX_EVENTS, soakSeconds: SOAK_SECONDS }));
        report.results['eventlog-cluster'] = r;
        if (!r.error) printOne(`eventlog-cluster: ${EVENTLOG_MODELS} models × ${EVENTLOG_RATE} ev/s, clients split over 2 nodes (PostgreSQL + Redis), soak ${SOAK_SECONDS} s, log bound ${EVENTLOG_MAX_EVENTS}`, r);
      } else {
        log(`unknown scenario ${s}`);
      }
      save();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    save();
  }
  process.stdout.write(`\nWrote ${OUT}\n`);
}

main().then(
  () => process.exit(0),
  (err) => {
    log(err.stack ?? String(err));
    process.exit(1);
  },
);
