// Load generator: one scenario per process, driven by bench/run.mjs.
//   node bench/loadgen.mjs '<json spec>'
// spec: { scenario: 'rr'|'events'|'idle'|'connect'|'connect-max'|'connect-burst', url, headers?, handshake: 'gateway'|'plain',
//         token?, conns?, seconds?, size?, rate?, warmupMs?, burst?, waves?, ca? }
// `ca`: a PEM file trusted for a wss:// url (the direct target of the TLS run).
// Protocol on stdout, one JSON object per line:
//   {"mark":"start"} when the measured window begins (the runner samples /proc then),
//   {"mark":"end"}   when it ends,
//   {"result":{…}}  last: the figures, including this process's own CPU over the window.
// For 'idle' it prints {"mark":"ready"} once every relay is confirmed and waits for a line on
// stdin before closing them.
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';

const spec = JSON.parse(process.argv[2]);
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const now = () => Number(process.hrtime.bigint()) / 1e6; // ms, sub-µs resolution
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const wsOptions = { perMessageDeflate: false, headers: spec.headers ?? {}, handshakeTimeout: 15000, ...(spec.ca ? { ca: readFileSync(spec.ca) } : {}) };
const CONNECT_ACT = JSON.stringify({ act: 'connect', token: spec.token ?? 'bench' });

/**
 * Opens one socket and resolves with it once confirmed: for the gateway the confirmation is
 * its own `{"connected":true,…}` frame; through a plain proxy (or direct) the client sends
 * the connect act itself and waits for the upstream's reply — the same upstream work either way.
 */
function open() {
  return new Promise((resolve, reject) => {
    const t0 = now();
    const ws = new WebSocket(spec.url, wsOptions);
    ws.on('error', (err) => reject(err));
    if (spec.handshake === 'plain') ws.once('open', () => ws.send(CONNECT_ACT));
    ws.once('message', (data) => {
      const text = data.toString();
      if (!text.includes('"connected"')) return reject(new Error(`not confirmed: ${text.slice(0, 200)}`));
      resolve({ ws, ms: now() - t0 });
    });
    ws.once('close', (code) => reject(new Error(`closed ${code} before confirmation`)));
  });
}

async function openMany(n, concurrency = 64) {
  const sockets = [];
  let next = 0;
  const worker = async () => {
    while (next < n) {
      next++;
      const { ws } = await open();
      ws.removeAllListeners('close');
      sockets.push(ws);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  return sockets;
}

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

function latencySummary(samples) {
  const s = Float64Array.from(samples).sort();
  return { count: s.length, p50: percentile(s, 50), p90: percentile(s, 90), p99: percentile(s, 99), max: s.length ? s[s.length - 1] : null };
}

/** Window markers plus own CPU: process.cpuUsage over the window / wall time = share of one core. */
function window() {
  let c0, t0;
  return {
    start() {
      out({ mark: 'start' });
      c0 = process.cpuUsage();
      t0 = now();
    },
    end() {
      const wallMs = now() - t0;
      const c = process.cpuUsage(c0);
      out({ mark: 'end' });
      return { wallMs, loadgenCpuMs: (c.user + c.system) / 1000, loadgenCpuShare: (c.user + c.system) / 1000 / wallMs };
    },
  };
}

/** Warms up, then counts for `seconds` with `setMeasuring(true)`; returns the window's figures. */
async function measureWindow(warmupMs, seconds, setMeasuring) {
  await sleep(warmupMs);
  const w = window();
  setMeasuring(true);
  w.start();
  await sleep(seconds * 1000);
  setMeasuring(false);
  return w.end();
}

function payload(size) {
  const head = '{"act":"echo","pad":"';
  const tail = '"}';
  return head + 'y'.repeat(Math.max(0, size - head.length - tail.length)) + tail;
}

async function rr() {
  const { conns = 64, seconds = 4, size = 256, warmupMs = 500 } = spec;
  const sockets = await openMany(conns);
  const msg = payload(size);
  const samples = [];
  let measuring = false;
  let count = 0;
  let stop = false;
  for (const ws of sockets) {
    let sentAt = 0;
    ws.on('message', () => {
      const t = now();
      if (measuring) {
        samples.push(t - sentAt);
        count++;
      }
      if (stop) return;
      sentAt = now();
      ws.send(msg);
    });
    sentAt = now();
    ws.send(msg);
  }
  const win = await measureWindow(warmupMs, seconds, (on) => (measuring = on));
  stop = true;
  for (const ws of sockets) ws.terminate();
  // One round trip = two relayed messages (one each way).
  return { conns, size, roundTrips: count, roundTripsPerSec: (count / win.wallMs) * 1000, relayedMessages: 2 * count, latencyMs: latencySummary(samples), ...win };
}

async function events() {
  const { conns = 16, seconds = 4, size = 256, warmupMs = 300 } = spec;
  const sockets = await openMany(conns);
  const floodMs = warmupMs + seconds * 1000 + 200;
  let measuring = false;
  let count = 0;
  let ended = 0;
  const done = new Promise((resolve) => {
    for (const ws of sockets) {
      ws.on('message', (data) => {
        if (data.length < 40 && data.toString() === '{"event":"flood_end"}') {
          if (++ended === sockets.length) resolve();
          return;
        }
        if (measuring) count++;
      });
      ws.send(JSON.stringify({ act: 'flood', ms: floodMs, size }));
    }
  });
  const win = await measureWindow(warmupMs, seconds, (on) => (measuring = on));
  await Promise.race([done, sleep(5000)]);
  for (const ws of sockets) ws.terminate();
  return { conns, size, messages: count, messagesPerSec: (count / win.wallMs) * 1000, relayedMessages: count, ...win };
}

/**
 * Opens `conns` relays in two waves (`firstWave`, then the rest), printing a ready mark after
 * each and waiting for a line on stdin before going on: the runner reads the relay's RSS at
 * both marks, so the second wave gives the memory each further relay costs.
 */
async function idle() {
  const { conns = 2000, firstWave = Math.round(conns / 4) } = spec;
  const t0 = now();
  const sockets = await openMany(firstWave, 100);
  const nextLine = () => new Promise((resolve) => process.stdin.once('data', resolve));
  out({ mark: 'ready', wave: 1, conns: sockets.length });
  await nextLine();
  sockets.push(...(await openMany(conns - firstWave, 100)));
  const openMs = now() - t0;
  out({ mark: 'ready', wave: 2, conns: sockets.length });
  await nextLine();
  for (const ws of sockets) ws.terminate();
  return { conns: sockets.length, firstWave, openMs };
}

/** Open-loop: new relays at a fixed rate, each closed once confirmed; time open→confirmation. */
async function connect() {
  const { rate = 500, seconds = 3 } = spec;
  const total = Math.round(rate * seconds);
  const samples = [];
  let failures = 0;
  let firstError;
  const pending = [];
  const w = window();
  w.start();
  const start = now();
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - now();
    if (wait > 1) await sleep(wait);
    pending.push(
      open().then(
        ({ ws, ms }) => {
          samples.push(ms);
          ws.close(1000);
        },
        (err) => {
          failures++;
          firstError ??= err.message;
        },
      ),
    );
  }
  await Promise.all(pending);
  const win = w.end();
  await sleep(300); // let the closes finish before the process exits
  return { rate, attempted: total, confirmed: samples.length, failures, firstError, achievedPerSec: (samples.length / win.wallMs) * 1000, confirmMs: latencySummary(samples), ...win };
}

/** Closed-loop: as many new relays per second as `concurrency` parallel openers get. */
async function connectMax() {
  const { concurrency = 32, seconds = 2 } = spec;
  let count = 0;
  let failures = 0;
  let firstError;
  const w = window();
  w.start();
  const end = now() + seconds * 1000;
  const worker = async () => {
    while (now() < end) {
      try {
        const { ws } = await open();
        ws.close(1000);
        count++;
      } catch (err) {
        failures++;
        firstError ??= err.message;
        await sleep(10);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const win = w.end();
  await sleep(300);
  return { concurrency, confirmed: count, failures, firstError, perSec: (count / win.wallMs) * 1000, ...win };
}

/**
 * `waves` waves of `burst` relays opened at the same instant (the "100 opening at once" figure),
 * each wave's relays closed once all of them are confirmed (or failed) and a short pause before
 * the next; times open→confirmation of every relay.
 */
async function connectBurst() {
  const { burst = 100, waves = 10, pauseMs = 300 } = spec;
  const samples = [];
  const waveMs = [];
  let failures = 0;
  let firstError;
  const w = window();
  w.start();
  for (let wave = 0; wave < waves; wave++) {
    const t0 = now();
    const sockets = [];
    await Promise.all(
      Array.from({ length: burst }, () =>
        open().then(
          ({ ws, ms }) => {
            samples.push(ms);
            sockets.push(ws);
          },
          (err) => {
            failures++;
            firstError ??= err.message;
          },
        ),
      ),
    );
    waveMs.push(now() - t0);
    for (const ws of sockets) {
      ws.removeAllListeners('close');
      ws.close(1000);
    }
    if (wave < waves - 1) await sleep(pauseMs);
  }
  const win = w.end();
  await sleep(300);
  return { burst, waves, attempted: burst * waves, confirmed: samples.length, failures, firstError, confirmMs: latencySummary(samples), waveMs: latencySummary(waveMs), ...win };
}

const scenarios = { rr, events, idle, connect, 'connect-max': connectMax, 'connect-burst': connectBurst };
try {
  const result = await scenarios[spec.scenario]();
  out({ result });
  process.exit(0);
} catch (err) {
  out({ error: err instanceof Error ? err.message : String(err) });
  process.exit(1);
}
