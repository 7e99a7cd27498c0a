// `npm run bench`: the same load through a direct connection (the floor), nginx, HAProxy and
// the gateway, one run, one upstream. Prints a table and writes bench/results/latest.json.
// See docs/performance.md for the method. Not part of `npm test`.
//
// Environment: BENCH_IDLE (idle relays for the memory figure, default 2000),
// BENCH_SECONDS (length of each throughput window, default 4), BENCH_CONNECT_RATE (default 500),
// BENCH_TARGETS (comma list, default direct,nginx,haproxy,node-pipe,node-bare,gateway), BENCH_OUT (JSON path),
// BENCH_ROUNDS (default 1: the targets run in turn this many times, A B A B…; the table shows
// each figure's median over the rounds and each ratio's median of the per-round ratios),
// BENCH_GATEWAY_NODE_ARGS (extra node flags for the gateway, e.g. --cpu-prof --cpu-prof-dir=DIR),
// BENCH_UPSTREAM (ws, the default, or wss: the upstream listens with TLS on a throwaway CA made
// with openssl in the run's temp dir; every relay verifies it — nginx and HAProxy with the CA
// file, 'gateway' trusting it through NODE_EXTRA_CA_CERTS as system roots are trusted, the
// extra target 'gateway-cafile' through upstreamCaFile; clients still reach relays over ws://),
// BENCH_BURST / BENCH_BURST_WAVES (scenario connect-burst: waves of relays opened at once,
// default 10 waves of 100).
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { cpuMs, freePort, rssKb, sleep, startProcess as startChild, started, stopProcess, waitForPort, which } from './proc.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..');
const IDLE = Number(process.env.BENCH_IDLE ?? 2000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const CONNECT_RATE = Number(process.env.BENCH_CONNECT_RATE ?? 500);
const SIZE = 256;
const RR_CONNS = 64;
const EVENT_CONNS = 16;
const TARGETS = (process.env.BENCH_TARGETS ?? 'direct,nginx,haproxy,node-pipe,node-bare,gateway').split(',');
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 1));
/** Scenarios to run (all by default); a subset is handy with BENCH_GATEWAY_NODE_ARGS=--cpu-prof. */
const UPSTREAM = process.env.BENCH_UPSTREAM ?? 'ws';
if (UPSTREAM !== 'ws' && UPSTREAM !== 'wss') throw new Error(`BENCH_UPSTREAM must be ws or wss, not ${UPSTREAM}`);
const TLS = UPSTREAM === 'wss';
const BURST = Number(process.env.BENCH_BURST ?? 100);
const BURST_WAVES = Number(process.env.BENCH_BURST_WAVES ?? 10);
/** The upstream's certificate names: an IP SAN for the gateway (it dials 127.0.0.1), a DNS name for nginx and HAProxy (they check names with X509_check_host). */
const UPSTREAM_NAME = 'localhost';
const SCENARIOS = new Set((process.env.BENCH_SCENARIOS ?? 'idle,rr,events,connect,connect-max,generator').split(','));
const OUT = process.env.BENCH_OUT ?? join(HERE, 'results', 'latest.json');

const log = (msg) => process.stderr.write(`[bench] ${msg}\n`);

/** stdout, else stderr (nginx -v prints there), trimmed; null when the command fails to run. */
function tryExec(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error) return null;
  return (r.stdout || r.stderr || '').trim() || null;
}

// ── /proc ───────────────────────────────────────────────────────────────────

/** The pid and its descendants (nginx workers). */
function processTree(root) {
  const children = new Map();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(d));
    } catch {}
  }
  const out = [];
  const walk = (p) => {
    out.push(p);
    for (const c of children.get(p) ?? []) walk(c);
  };
  walk(root);
  return out;
}

const treeCpuMs = (pid) => (pid ? processTree(pid).reduce((a, p) => a + (cpuMs(p) ?? 0), 0) : 0);
const treeRssKb = (pid) => (pid ? processTree(pid).reduce((a, p) => a + (rssKb(p) ?? 0), 0) : 0);

// ── processes ───────────────────────────────────────────────────────────────

const startProcess = (name, cmd, args, options = {}) => startChild(name, cmd, args, options, log);

for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130));

/**
 * A throwaway CA and a server certificate signed by it for 127.0.0.1 (IP SAN) and localhost,
 * EC P-256, valid two days, in `dir`: { ca, cert, key } file paths.
 */
function makeCertificates(dir) {
  const openssl = (...args) => {
    const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    if (r.error || r.status !== 0) throw new Error(`openssl ${args[0]} failed: ${r.error?.message ?? r.stderr}`);
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl('req', '-x509', ...ec, '-keyout', 'bench-ca.key', '-out', 'bench-ca.pem', '-days', '2', '-subj', '/CN=ofgw bench CA');
  writeFileSync(join(dir, 'upstream.ext'), `subjectAltName=IP:127.0.0.1,DNS:${UPSTREAM_NAME}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n`);
  openssl('req', ...ec, '-keyout', 'upstream.key', '-out', 'upstream.csr', '-subj', '/CN=ofgw bench upstream');
  openssl('x509', '-req', '-in', 'upstream.csr', '-CA', 'bench-ca.pem', '-CAkey', 'bench-ca.key', '-CAcreateserial', '-out', 'upstream.pem', '-days', '2', '-extfile', 'upstream.ext');
  return { ca: join(dir, 'bench-ca.pem'), cert: join(dir, 'upstream.pem'), key: join(dir, 'upstream.key') };
}

async function startUpstream(certs) {
  const port = await freePort();
  const child = startProcess('upstream', process.execPath, [join(HERE, 'upstream.mjs'), String(port), ...(certs ? ['--tls', certs.cert, certs.key] : [])]);
  await waitForPort(port);
  return { pid: child.pid, port, child, scheme: certs ? 'wss' : 'ws', certs };
}

function nginxConfig(dir, port, upstreamPort, certs) {
  // wss: TLS to the upstream, verified against the bench CA; proxy_ssl_session_reuse is on by default.
  const tls = certs
    ? `
      proxy_ssl_verify on;
      proxy_ssl_trusted_certificate ${certs.ca};
      proxy_ssl_name ${UPSTREAM_NAME};
      proxy_ssl_server_name on;`
    : '';
  return `worker_processes 1;
daemon off;
master_process on;
user root;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log warn;
worker_rlimit_nofile 20000;
events { worker_connections 19000; multi_accept on; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream of { server 127.0.0.1:${upstreamPort}; }
  server {
    listen 127.0.0.1:${port} backlog=4096;
    location / {
      proxy_pass ${certs ? 'https' : 'http'}://of;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection "upgrade";
      proxy_set_header Host $host;
      proxy_buffering off;
      proxy_read_timeout 3600s;
      proxy_send_timeout 3600s;
      tcp_nodelay on;${tls}
    }
  }
}
`;
}

function haproxyConfig(port, upstreamPort, certs) {
  // wss: TLS to the upstream, verified against the bench CA and the name; session reuse is on by default.
  const tls = certs ? ` ssl verify required ca-file ${certs.ca} sni str(${UPSTREAM_NAME}) verifyhost ${UPSTREAM_NAME}` : '';
  return `global
  maxconn 9500
  nbthread 1
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  timeout tunnel 1h
frontend fe
  bind 127.0.0.1:${port}
  default_backend be
backend be
  server of 127.0.0.1:${upstreamPort}${tls}
`;
}

async function startNginx(dir, upstreamPort, certs) {
  const bin = which('nginx');
  if (!bin) return null;
  const port = await freePort();
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, nginxConfig(dir, port, upstreamPort, certs));
  const child = startProcess('nginx', bin, ['-p', dir, '-c', conf, '-e', join(dir, 'nginx-error.log')]);
  await waitForPort(port);
  await sleep(200); // workers up
  return { pid: child.pid, port, child, url: `ws://127.0.0.1:${port}/ws3/24`, handshake: 'plain', version: tryExec(bin, ['-v']) };
}

async function startHaproxy(dir, upstreamPort, certs) {
  const bin = which('haproxy');
  if (!bin) return null;
  const port = await freePort();
  const conf = join(dir, 'haproxy.cfg');
  writeFileSync(conf, haproxyConfig(port, upstreamPort, certs));
  const child = startProcess('haproxy', bin, ['-f', conf, '-db']);
  await waitForPort(port);
  return { pid: child.pid, port, child, url: `ws://127.0.0.1:${port}/ws3/24`, handshake: 'plain', version: (tryExec(bin, ['-v']) ?? '').split('\n')[0] };
}

/** `certs` (wss upstream): the upstream leg is a tls.connect per client (bench/node-pipe.mjs with a CA file). */
async function startNodePipe(upstreamPort, mode, certs = null) {
  const port = await freePort();
  const script = [join(HERE, 'node-pipe.mjs'), String(port), String(upstreamPort), mode, ...(certs ? [certs.ca] : [])];
  const child = startProcess(`node-${mode}`, process.execPath, script);
  await waitForPort(port);
  return { pid: child.pid, port, child, url: `ws://127.0.0.1:${port}/ws3/24`, handshake: 'plain', version: `Node ${process.version} net.Socket ${mode}${certs ? ' → tls.TLSSocket' : ''}` };
}

/** A fresh store with one active organization, key and model pointing at the upstream. */
async function seedGatewayStore(dir, upstreamPort, scheme) {
  const { openStore } = await import(join(ROOT, 'dist/src/store/index.js'));
  const dbPath = join(dir, 'ofgw.db');
  const store = await openStore(dbPath);
  const org = await store.createOrganization({ name: 'Bench' });
  await store.setSubscription(org.id, { status: 'active', plan: 'bench' });
  const key = await store.createApiKey(org.id, { name: 'bench' });
  const model = await store.createModel(org.id, { name: 'Bench model', wsUrl: `${scheme}://127.0.0.1:${upstreamPort}/ws3/24`, wsToken: 'bench-token', userAgent: 'ofgw-bench/1.0' });
  await store.close();
  return { dbPath, apiKey: key.key, modelId: model.id };
}

/**
 * `trust` (wss upstream only): 'system' trusts the bench CA as system roots are trusted
 * (NODE_EXTRA_CA_CERTS), 'cafile' through upstreamCaFile (and no NODE_EXTRA_CA_CERTS).
 */
async function startGateway(dir, upstream, trust = 'system') {
  const upstreamPort = upstream.port;
  const seed = await seedGatewayStore(dir, upstreamPort, upstream.scheme);
  const env = { ...process.env, OFGW_LOG_LEVEL: 'warn' };
  delete env.NODE_EXTRA_CA_CERTS;
  delete env.OFGW_UPSTREAM_CA_FILE;
  const trustArgs = [];
  if (upstream.certs && trust === 'cafile') trustArgs.push('--upstream-ca-file', upstream.certs.ca);
  else if (upstream.certs) env.NODE_EXTRA_CA_CERTS = upstream.certs.ca;
  const port = await freePort();
  const big = '1000000';
  const args = [
    ...(process.env.BENCH_GATEWAY_NODE_ARGS ?? '').split(' ').filter(Boolean), // e.g. --cpu-prof --cpu-prof-dir=/tmp/prof
    '--expose-gc',
    '--import',
    pathToFileUrl(join(HERE, 'gc-hook.mjs')),
    join(ROOT, 'dist/src/cli/main.js'),
    'serve',
    '--production',
    '--db', seed.dbPath,
    '--port', String(port),
    '--ip-connect-burst', big,
    '--ip-connect-per-second', big,
    '--ip-auth-failure-burst', big,
    '--key-connect-burst', big,
    '--key-connect-per-second', big,
    '--messages-per-second', '100000000',
    '--message-burst', '100000000',
    '--max-relays-per-org', big,
    '--max-upstream-sockets-per-model', big,
    ...trustArgs,
  ];
  const child = startProcess(trust === 'cafile' ? 'gateway-cafile' : 'gateway', process.execPath, args, { env });
  await waitForPort(port, 20000);
  return {
    pid: child.pid,
    port,
    child,
    url: `ws://127.0.0.1:${port}/api/models/${seed.modelId}/ws`,
    headers: { 'X-API-Key': seed.apiKey },
    handshake: 'gateway',
    gc: () => child.kill('SIGUSR2'),
    version: `ofgw ${JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version} on node ${process.version}${upstream.certs ? (trust === 'cafile' ? ', upstreamCaFile' : ', NODE_EXTRA_CA_CERTS') : ''}`,
  };
}

function pathToFileUrl(p) {
  return new URL(`file://${p}`).href;
}

// ── scenarios ───────────────────────────────────────────────────────────────

/**
 * Runs one load-generator process; samples the relay's (and the upstream's) CPU at the
 * generator's window marks. `onReady` is called for the idle scenario while relays are held.
 */
function runLoad(spec, relayPid, upstreamPid, onReady) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [join(HERE, 'loadgen.mjs'), JSON.stringify(spec)], { stdio: ['pipe', 'pipe', 'pipe'] });
    started.push(child);
    let errText = '';
    child.stderr.on('data', (d) => (errText += d));
    const marks = {};
    let result;
    let error;
    createInterface({ input: child.stdout }).on('line', async (line) => {
      let msg;
      try {
        msg = JSON.parse(line);
      } catch {
        return;
      }
      if (msg.mark === 'start' || msg.mark === 'end') {
        marks[msg.mark] = { relayCpuMs: treeCpuMs(relayPid), upstreamCpuMs: treeCpuMs(upstreamPid), at: performance.now() };
      } else if (msg.mark === 'ready') {
        try {
          await onReady?.(msg);
        } finally {
          child.stdin.write('close\n');
        }
      } else if (msg.result) result = msg.result;
      else if (msg.error) error = msg.error;
    });
    child.on('exit', (code) => {
      if (error || code !== 0 || !result) return reject(new Error(`loadgen ${spec.scenario} failed: ${error ?? errText.slice(-1000) ?? code}`));
      if (marks.start && marks.end && relayPid) {
        result.relayCpuMs = marks.end.relayCpuMs - marks.start.relayCpuMs;
        result.relayCpuShare = result.relayCpuMs / (marks.end.at - marks.start.at);
      }
      if (marks.start && marks.end && upstreamPid) result.upstreamCpuMs = marks.end.upstreamCpuMs - marks.start.upstreamCpuMs;
      resolvePromise(result);
    });
  });
}

function baseSpec(target) {
  return { url: target.url, headers: target.headers, handshake: target.handshake, token: 'bench-token', ...(target.ca ? { ca: target.ca } : {}) };
}

/**
 * RSS per idle relay, two ways: the average over all N relays ((held − before) / N, which
 * includes what the process grows by once under any load, such as V8's young generation), and
 * the marginal cost of the last three quarters ((held − held after the first quarter) / their
 * number), which is what each further relay costs.
 */
async function measureIdle(target) {
  if (target.gc) {
    target.gc();
    await sleep(500);
  }
  const baseKb = treeRssKb(target.pid);
  const heldKb = [];
  let heldAfterGcKb = null;
  const res = await runLoad({ ...baseSpec(target), scenario: 'idle', conns: IDLE }, target.pid, null, async (mark) => {
    await sleep(2000);
    heldKb[mark.wave - 1] = treeRssKb(target.pid);
    if (mark.wave === 2 && target.gc) {
      target.gc();
      await sleep(1000);
      heldAfterGcKb = treeRssKb(target.pid);
    }
  });
  const n = res.conns;
  const [firstKb = 0, allKb = 0] = heldKb;
  return {
    conns: n,
    firstWave: res.firstWave,
    openMs: res.openMs,
    baselineRssKb: baseKb,
    firstWaveRssKb: firstKb,
    heldRssKb: allKb,
    bytesPerConn: ((allKb - baseKb) * 1024) / n,
    bytesPerConnAfterGc: heldAfterGcKb === null ? null : ((heldAfterGcKb - baseKb) * 1024) / n,
    marginalBytesPerConn: ((allKb - firstKb) * 1024) / (n - res.firstWave),
  };
}

async function runTarget(name, target, upstream, directConfirm) {
  const t = { name, version: target.version ?? null };
  const relayPid = target.pid ?? null;
  const step = async (label, fn) => {
    log(`${name}: ${label}`);
    try {
      return await fn();
    } catch (err) {
      log(`${name}: ${label} failed: ${err.message}`);
      return { error: err.message };
    }
  };
  if (relayPid && SCENARIOS.has('idle')) t.idle = await step(`idle memory, ${IDLE} relays`, () => measureIdle(target));
  await sleep(500);
  if (SCENARIOS.has('rr')) t.rr = await step(`request/response, ${RR_CONNS} conns × ${SIZE} B, window 1`, () =>
    runLoad({ ...baseSpec(target), scenario: 'rr', conns: RR_CONNS, seconds: SECONDS, size: SIZE }, relayPid, upstream.pid),
  );
  if (t.rr?.relayCpuMs !== undefined && relayPid) t.rr.relayCpuUsPerMessage = (t.rr.relayCpuMs * 1000) / t.rr.relayedMessages;
  if (SCENARIOS.has('events')) t.events = await step(`upstream→client events, ${EVENT_CONNS} conns × ${SIZE} B`, () =>
    runLoad({ ...baseSpec(target), scenario: 'events', conns: EVENT_CONNS, seconds: SECONDS, size: SIZE }, relayPid, upstream.pid),
  );
  if (t.events?.relayCpuMs !== undefined && relayPid) t.events.relayCpuUsPerMessage = (t.events.relayCpuMs * 1000) / t.events.relayedMessages;
  if (SCENARIOS.has('connect')) t.connect = await step(`new relays at ${CONNECT_RATE}/s`, () =>
    runLoad({ ...baseSpec(target), scenario: 'connect', rate: CONNECT_RATE, seconds: 3 }, relayPid, upstream.pid),
  );
  if (t.connect?.confirmMs && directConfirm) {
    t.connect.overheadMs = { p50: t.connect.confirmMs.p50 - directConfirm.p50, p99: t.connect.confirmMs.p99 - directConfirm.p99 };
  }
  if (t.connect?.relayCpuMs !== undefined && relayPid && t.connect.confirmed) t.connect.relayCpuUsPerConnect = (t.connect.relayCpuMs * 1000) / t.connect.confirmed;
  if (SCENARIOS.has('connect-burst')) t.connectBurst = await step(`${BURST_WAVES} waves of ${BURST} new relays at once`, () =>
    runLoad({ ...baseSpec(target), scenario: 'connect-burst', burst: BURST, waves: BURST_WAVES }, relayPid, upstream.pid),
  );
  if (t.connectBurst?.relayCpuMs !== undefined && relayPid && t.connectBurst.confirmed) t.connectBurst.relayCpuUsPerConnect = (t.connectBurst.relayCpuMs * 1000) / t.connectBurst.confirmed;
  if (SCENARIOS.has('connect-max')) t.connectMax = await step('new relays, closed loop (32 in parallel)', () =>
    runLoad({ ...baseSpec(target), scenario: 'connect-max', concurrency: 32, seconds: 2 }, relayPid, upstream.pid),
  );
  return t;
}

/** Two generator processes at once, each with half the connections: do totals rise? */
async function generatorCheck(name, target, upstream) {
  log(`${name}: generator check (2 processes × ${RR_CONNS / 2} conns)`);
  try {
    const spec = { ...baseSpec(target), scenario: 'rr', conns: RR_CONNS / 2, seconds: SECONDS, size: SIZE };
    const [a, b] = await Promise.all([runLoad(spec, target.pid ?? null, upstream.pid), runLoad(spec, target.pid ?? null, upstream.pid)]);
    return { roundTripsPerSec: a.roundTripsPerSec + b.roundTripsPerSec, loadgenCpuShare: [a.loadgenCpuShare, b.loadgenCpuShare], p99Ms: Math.max(a.latencyMs.p99, b.latencyMs.p99) };
  } catch (err) {
    return { error: err.message };
  }
}

// ── report ──────────────────────────────────────────────────────────────────

const fmt = (v, digits = 0) => (v === null || v === undefined || Number.isNaN(v) ? '—' : Number(v).toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }));
const ratio = (a, b) => (a == null || b == null || !(a > 0) || !(b > 0) ? null : a / b);
/** Median of the finite values (null when there are none). */
function median(values) {
  const v = values.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

/** One row per figure: the median over rounds of each target's value, and of the per-round ratios. */
function rows(rounds) {
  const get = {
    'round trips/s (64 conns, 256 B)': (t) => t.rr?.roundTripsPerSec,
    'relayed msgs/s (both ways)': (t) => (t.rr?.roundTripsPerSec ?? NaN) * 2,
    'round trip p50 ms': (t) => t.rr?.latencyMs?.p50,
    'round trip p99 ms': (t) => t.rr?.latencyMs?.p99,
    'relay CPU µs / msg (req/resp)': (t) => t.rr?.relayCpuUsPerMessage,
    'events/s upstream→client (16 conns)': (t) => t.events?.messagesPerSec,
    'relay CPU µs / event': (t) => t.events?.relayCpuUsPerMessage,
    [`RSS bytes / idle relay (N=${IDLE})`]: (t) => t.idle?.bytesPerConn,
    'RSS bytes / idle relay after GC': (t) => t.idle?.bytesPerConnAfterGc,
    [`RSS bytes / further idle relay (${IDLE / 4} → ${IDLE})`]: (t) => t.idle?.marginalBytesPerConn,
    [`confirm p50 ms @${CONNECT_RATE}/s`]: (t) => t.connect?.confirmMs?.p50,
    [`confirm p99 ms @${CONNECT_RATE}/s`]: (t) => t.connect?.confirmMs?.p99,
    'confirm overhead p99 ms (− direct)': (t) => t.connect?.overheadMs?.p99,
    'relay CPU µs / new relay': (t) => t.connect?.relayCpuUsPerConnect,
    ...(SCENARIOS.has('connect-burst')
      ? {
          [`confirm p50 ms, ${BURST} at once`]: (t) => t.connectBurst?.confirmMs?.p50,
          [`confirm p99 ms, ${BURST} at once`]: (t) => t.connectBurst?.confirmMs?.p99,
          [`relay CPU µs / new relay (${BURST} at once)`]: (t) => t.connectBurst?.relayCpuUsPerConnect,
        }
      : {}),
    'new relays/s, closed loop ×32': (t) => t.connectMax?.perSec,
    'relay CPU share (req/resp)': (t) => t.rr?.relayCpuShare,
    'relay CPU share (events)': (t) => t.events?.relayCpuShare,
    'loadgen CPU share (req/resp)': (t) => t.rr?.loadgenCpuShare,
    'loadgen CPU share (events)': (t) => t.events?.loadgenCpuShare,
  };
  const names = [...new Set(rounds.flatMap((r) => Object.keys(r)))];
  return Object.entries(get).map(([label, fn]) => {
    const per = rounds.map((r) => Object.fromEntries(Object.entries(r).map(([n, t]) => [n, fn(t)])));
    const values = Object.fromEntries(names.map((n) => [n, median(per.map((v) => v[n]))]));
    const vs = (other, gw = 'gateway') => median(per.map((v) => ratio(v[gw], v[other])));
    const cafile = names.includes('gateway-cafile') ? { cafileVsNginx: vs('nginx', 'gateway-cafile'), cafileVsHaproxy: vs('haproxy', 'gateway-cafile') } : {};
    return { label, values, vsNginx: vs('nginx'), vsHaproxy: vs('haproxy'), vsBare: vs('node-bare'), ...cafile, perRound: per };
  });
}

function printTable(table, names) {
  // With the gateway-cafile target, two more ratio columns: that variant against nginx and HAProxy.
  const cafile = names.includes('gateway-cafile');
  const header = ['metric', ...names, 'gw/nginx', 'gw/haproxy', 'gw/node-bare', ...(cafile ? ['cafile/nginx', 'cafile/haproxy'] : [])];
  const x = (v) => (v == null ? '—' : `${fmt(v, 2)}×`);
  const lines = table.map((r) => {
    const small = / ms\b|share|µs/.test(r.label);
    return [r.label, ...names.map((n) => fmt(r.values[n], small ? 2 : 0)), x(r.vsNginx), x(r.vsHaproxy), x(r.vsBare), ...(cafile ? [x(r.cafileVsNginx), x(r.cafileVsHaproxy)] : [])];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const line = (cells) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`;
  const out = [line(header), `|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 1) + '-' : '-'.repeat(w + 1) + ':')).join('|')}|`, ...lines.map(line)];
  process.stdout.write(out.join('\n') + '\n');
}

// ── main ────────────────────────────────────────────────────────────────────

async function main() {
  try {
    readFileSync(join(ROOT, 'dist/src/cli/main.js'));
  } catch {
    throw new Error('dist/ is missing: run `npm run build` first');
  }
  const dir = mkdtempSync(join(os.tmpdir(), 'ofgw-bench-'));
  for (const d of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, d));
  const machine = {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? null,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: os.release(),
    node: process.version,
    nginx: which('nginx') ? tryExec(which('nginx'), ['-v']) : null,
    haproxy: which('haproxy') ? (tryExec(which('haproxy'), ['-v']) ?? '').split('\n')[0] : null,
    fdLimit: tryExec('sh', ['-c', 'ulimit -n']),
  };
  log(`machine: ${machine.cpus} vCPU ${machine.cpuModel}, node ${machine.node}, ${machine.nginx ?? 'no nginx'}, ${machine.haproxy ?? 'no haproxy'}`);
  const missing = [];
  if (!machine.nginx || !machine.haproxy) {
    log('nginx and/or HAProxy not installed; their columns are skipped. To compare against them:');
    log('  sudo apt-get install -y nginx-light haproxy');
  }
  const certs = TLS ? makeCertificates(dir) : null;
  if (TLS) log(`upstream: wss:// with a throwaway CA (${certs.ca})`);
  const upstream = await startUpstream(certs);
  const rounds = [];
  let directConfirm = null;
  const generator = {};
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const results = {};
      rounds.push(results);
      if (ROUNDS > 1) log(`round ${round + 1} of ${ROUNDS}`);
      for (const name of TARGETS) {
        let target;
        try {
        if (name === 'direct') target = { url: `${upstream.scheme}://127.0.0.1:${upstream.port}/ws3/24`, handshake: 'plain', version: 'client → upstream, no relay', ...(certs ? { ca: certs.ca } : {}) };
        else if (name === 'nginx') target = await startNginx(dir, upstream.port, certs);
        else if (name === 'haproxy') target = await startHaproxy(dir, upstream.port, certs);
        else if (name === 'gateway') target = await startGateway(dir, upstream);
        else if (name === 'gateway-cafile' && TLS) target = await startGateway(dir, upstream, 'cafile');
        else if (TLS && (name === 'node-pipe' || name === 'node-bare')) target = await startNodePipe(upstream.port, name.slice(5), certs);
        else if (name === 'node-pipe') target = await startNodePipe(upstream.port, 'pipe');
        else if (name === 'node-bare') target = await startNodePipe(upstream.port, 'bare');
        else throw new Error(`unknown target ${name}`);
        } catch (err) {
          log(`${name}: could not start: ${err.message}`);
          missing.push(`${name} (failed to start: ${err.message})`);
          continue;
        }
        if (!target) {
          missing.push(`${name} (not installed)`);
          continue;
        }
        try {
          results[name] = await runTarget(name, target, upstream, directConfirm);
          // Over wss:// the direct path's TLS client runs in the one generator process, which then
          // cannot keep the rate: no overhead against it (relays' clients speak plain ws://).
          if (name === 'direct' && !TLS) directConfirm = results.direct.connect?.confirmMs ?? null;
          if ((name === 'direct' || name === 'gateway') && SCENARIOS.has('generator') && round === 0) generator[name] = await generatorCheck(name, target, upstream);
        } finally {
          await stopProcess(target.child);
        }
      }
    }
  } finally {
    await stopProcess(upstream.child);
    rmSync(dir, { recursive: true, force: true });
  }
  const table = rows(rounds);
  const results = rounds[0];
  const names = TARGETS.filter((n) => rounds.some((r) => r[n]));
  printTable(table, names);
  process.stdout.write('\nGenerator check (request/response, 2 generator processes × 32 conns vs 1 × 64):\n');
  for (const [n, g] of Object.entries(generator)) {
    process.stdout.write(`  ${n}: 1 generator ${fmt(results[n]?.rr?.roundTripsPerSec)} round trips/s (its CPU ${fmt(results[n]?.rr?.loadgenCpuShare, 2)} of a core); 2 generators ${fmt(g.roundTripsPerSec)} round trips/s\n`);
  }
  if (missing.length) process.stdout.write(`\nSkipped: ${[...new Set(missing)].join(', ')}\n`);
  const report = {
    at: new Date().toISOString(),
    machine,
    settings: { ...(TLS ? { upstream: 'wss', burst: BURST, burstWaves: BURST_WAVES } : {}), idleRelays: IDLE, seconds: SECONDS, messageBytes: SIZE, rrConnections: RR_CONNS, eventConnections: EVENT_CONNS, connectRate: CONNECT_RATE, rounds: ROUNDS, scenarios: [...SCENARIOS] },
    results,
    rounds: ROUNDS > 1 ? rounds : undefined,
    generatorCheck: generator,
    table: table.map((r) => ({ metric: r.label, ...r.values, gatewayVsNginx: r.vsNginx, gatewayVsHaproxy: r.vsHaproxy, gatewayVsNodeBare: r.vsBare, ...('cafileVsNginx' in r ? { gatewayCafileVsNginx: r.cafileVsNginx, gatewayCafileVsHaproxy: r.cafileVsHaproxy } : {}), ...(ROUNDS > 1 ? { perRound: r.perRound } : {}) })),
    skipped: [...new Set(missing)],
  };
  mkdirSync(dirname(OUT), { recursive: true });
  writeFileSync(OUT, JSON.stringify(report, null, 2) + '\n');
  process.stdout.write(`\nWrote ${OUT}\n`);
}

main().then(
  () => process.exit(0),
  (err) => {
    log(err.stack ?? String(err));
    process.exit(1);
  },
);
