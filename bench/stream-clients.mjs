// Load generator for bench/sessions.mjs: opens N WebSocket clients and checks the numbered
// event stream of bench/stream-upstream.mjs on each.
//   node bench/stream-clients.mjs SPEC.json
// SPEC: { clients: [{ url, headers?, handshake: 'gateway'|'plain', path, caFile? }], token?, concurrency? }
//   `path` is the upstream path whose events the client must see (the `path` of each
//   bench_event). 'plain': through a plain proxy the client sends the connect act itself and
//   waits for the upstream's reply (like loadgen.mjs); 'gateway': it waits for the gateway's
//   own `{"connected":true,…}`.
// Protocol: one JSON object per line on stdout; commands, one per line, on stdin:
//   (after opening)  → {"mark":"ready","opened","failed","firstError","openMs"}
//   start            → {"mark":"start"}   the measured window begins (counters reset)
//   end              → {"mark":"end","window":{…}}   window figures: events, latency, own CPU
//   report           → {"report":{…}}     totals since opening: per-client seq accounting, per path
//   close            → closes every client, exits 0
// Per client it keeps the last seq seen: a seq above last+1 counts the skipped ones as a gap, a
// seq at or below last counts as a duplicate / out of order. Latency = performance.timeOrigin +
// performance.now() at receipt − the event's `sent`, in a fixed histogram (10 µs buckets up
// to 2 s, 1 ms buckets up to 300 s, beyond: an overflow count and the max). The message is not JSON-parsed: seq and sent
// are read by position, which keeps this process cheap.
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import WebSocket from 'ws';

const spec = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const wallNow = () => performance.timeOrigin + performance.now();
const CONNECT_ACT = JSON.stringify({ act: 'connect', token: spec.token ?? 'bench-token' });

/** 10 µs buckets up to 2 s, then 1 ms buckets up to 300 s, then an overflow count (and the max). */
class Histogram {
  constructor() {
    this.fine = new Uint32Array(200_000);
    this.coarse = new Uint32Array(298_000);
    this.count = 0;
    this.over = 0;
    this.max = 0;
    this.sum = 0;
  }
  add(ms) {
    if (ms < 0) ms = 0; // clocks of one machine; a tiny negative is rounding
    this.count++;
    this.sum += ms;
    if (ms > this.max) this.max = ms;
    if (ms < 2000) this.fine[Math.floor(ms * 100)]++;
    else if (ms < 300_000) this.coarse[Math.floor(ms - 2000)]++;
    else this.over++;
  }
  percentile(p) {
    if (this.count === 0) return null;
    const want = Math.ceil((p / 100) * this.count);
    let seen = 0;
    for (let i = 0; i < this.fine.length; i++) {
      seen += this.fine[i];
      if (seen >= want) return (i + 1) / 100; // the bucket's upper edge
    }
    for (let i = 0; i < this.coarse.length; i++) {
      seen += this.coarse[i];
      if (seen >= want) return 2000 + i + 1;
    }
    return this.max;
  }
  summary() {
    return { count: this.count, mean: this.count ? this.sum / this.count : null, p50: this.percentile(50), p90: this.percentile(90), p99: this.percentile(99), p999: this.percentile(99.9), max: this.count ? this.max : null, over300s: this.over };
  }
}

const clients = [];
let windowEvents = 0;
let windowHist = new Histogram();
const allHist = new Histogram();
let measuring = false;
let unexpectedCloses = 0;
const closeCodes = {};
let errors = 0;
let closing = false;

/** Reads the integer after `"seq":` and the float after `"sent":` without parsing the frame. */
function seqAndSent(text) {
  const a = text.indexOf('"seq":');
  if (a < 0) return null;
  const b = text.indexOf(',', a + 6);
  const c = text.indexOf('"sent":', b);
  const d = text.indexOf(',', c + 7);
  return [Number(text.slice(a + 6, b)), Number(text.slice(c + 7, d))];
}

const cas = new Map();
const caOf = (file) => cas.get(file) ?? cas.set(file, readFileSync(file)).get(file);

function open(c) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(c.url, { perMessageDeflate: false, headers: c.headers ?? {}, handshakeTimeout: 20000, ...(c.caFile ? { ca: caOf(c.caFile) } : {}) });
    let confirmed = false;
    ws.on('error', (err) => {
      errors++;
      if (!confirmed) reject(err);
    });
    if (c.handshake === 'plain') ws.once('open', () => ws.send(CONNECT_ACT));
    const state = { ws, path: c.path, pathNeedle: `"path":${JSON.stringify(c.path)}`, first: 0, last: 0, received: 0, gaps: 0, dups: 0, wrongPath: 0, other: 0 };
    ws.on('message', (data) => {
      const text = data.toString();
      if (!confirmed) {
        if (!text.includes('"connected"')) return reject(new Error(`not confirmed: ${text.slice(0, 200)}`));
        confirmed = true;
        return resolve(state);
      }
      const t = wallNow();
      const parsed = seqAndSent(text);
      if (!parsed) {
        state.other++;
        return;
      }
      const [seq, sent] = parsed;
      if (!text.includes(state.pathNeedle)) state.wrongPath++;
      state.received++;
      if (state.first === 0) state.first = seq;
      if (seq > state.last + 1 && state.last !== 0) state.gaps += seq - state.last - 1;
      if (seq <= state.last) state.dups++;
      else state.last = seq;
      const ms = t - sent;
      allHist.add(ms);
      if (measuring) {
        windowEvents++;
        windowHist.add(ms);
      }
    });
    ws.on('close', (code) => {
      if (!confirmed) return reject(new Error(`closed ${code} before confirmation`));
      if (!closing) {
        unexpectedCloses++;
        closeCodes[code] = (closeCodes[code] ?? 0) + 1;
      }
    });
  });
}

async function openAll() {
  const list = spec.clients;
  const concurrency = spec.concurrency ?? 64;
  let next = 0;
  let failed = 0;
  let firstError;
  const t0 = performance.now();
  const worker = async () => {
    while (next < list.length) {
      const c = list[next++];
      try {
        clients.push(await open(c));
      } catch (err) {
        failed++;
        firstError ??= err instanceof Error ? err.message : String(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, list.length) }, worker));
  return { opened: clients.length, failed, firstError: firstError ?? null, openMs: performance.now() - t0 };
}

function report() {
  const perPath = {};
  let received = 0;
  let gaps = 0;
  let dups = 0;
  let wrongPath = 0;
  let other = 0;
  let lateStart = 0;
  for (const s of clients) {
    received += s.received;
    gaps += s.gaps;
    dups += s.dups;
    wrongPath += s.wrongPath;
    other += s.other;
    if (s.first > 1) lateStart++;
    const p = (perPath[s.path] ??= { clients: 0, received: 0, minLast: Infinity, maxLast: 0, minFirst: Infinity, maxFirst: 0 });
    p.clients++;
    p.received += s.received;
    p.minLast = Math.min(p.minLast, s.last);
    p.maxLast = Math.max(p.maxLast, s.last);
    p.minFirst = Math.min(p.minFirst, s.first);
    p.maxFirst = Math.max(p.maxFirst, s.first);
  }
  return { clients: clients.length, received, gaps, duplicates: dups, wrongPath, otherFrames: other, clientsNotStartingAtSeq1: lateStart, unexpectedCloses, closeCodes, socketErrors: errors, latencyMs: allHist.summary(), perPath };
}

const ready = await openAll();
out({ mark: 'ready', ...ready });
let c0;
let t0;
const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const cmd = line.trim();
  if (cmd === 'start') {
    windowEvents = 0;
    windowHist = new Histogram();
    measuring = true;
    c0 = process.cpuUsage();
    t0 = performance.now();
    out({ mark: 'start' });
  } else if (cmd === 'end') {
    measuring = false;
    const wallMs = performance.now() - t0;
    const c = process.cpuUsage(c0);
    out({ mark: 'end', window: { wallMs, events: windowEvents, eventsPerSec: (windowEvents / wallMs) * 1000, latencyMs: windowHist.summary(), loadgenCpuMs: (c.user + c.system) / 1000, loadgenCpuShare: (c.user + c.system) / 1000 / wallMs } });
  } else if (cmd === 'report') {
    out({ report: report() });
  } else if (cmd === 'close') {
    closing = true;
    for (const s of clients) s.ws.terminate();
    setTimeout(() => process.exit(0), 200);
  }
});
rl.on('close', () => process.exit(0));
