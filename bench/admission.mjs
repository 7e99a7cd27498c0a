// Cost of the store reads on the connect path: times admitConnection (findApiKey,
// getSubscription, getModel, getModelCredentials) against a fresh SQLite store, one call at a
// time, and prints µs per admission (CPU from process.cpuUsage, and wall). Not part of `npm test`.
//
//   npm run build && node bench/admission.mjs
//   DIST=.build/store node bench/admission.mjs      # another build folder (relative to the cwd)
//
// Environment: DIST (build folder holding src/, default dist/ beside bench/), N (admissions per
// round, default 20000), ROUNDS (default 5; the median round is reported), WARMUP (default 2000).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const DIST = process.env.DIST ? resolve(process.env.DIST) : resolve(HERE, '..', 'dist');
const N = Number(process.env.N ?? 20000);
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const WARMUP = Number(process.env.WARMUP ?? 2000);

const load = (path) => import(pathToFileURL(join(DIST, path)).href);
const { openSqliteStore } = await load('src/store/sqlite.js');
const { admitConnection } = await load('src/gateway/admission.js');

/** An unsigned JWT-shaped token: admission only reads its `exp`. */
function fakeToken(expSeconds) {
  const part = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'HS256', typ: 'JWT' })}.${part({ sub: '100001', exp: expSeconds })}.c2lnbmF0dXJl`;
}

const dir = mkdtempSync(join(tmpdir(), 'ofgw-bench-admission-'));
const store = await openSqliteStore(join(dir, 'data', 'ofgw.db'), { env: {} });
try {
  const org = await store.createOrganization({ name: 'Bench Agency' });
  await store.setSubscription(org.id, { status: 'active', plan: 'pro' });
  const { key: apiKey } = await store.createApiKey(org.id, { name: 'bench' });
  const model = await store.createModel(org.id, {
    name: 'Bench model',
    wsUrl: 'wss://127.0.0.1:9/ws',
    wsToken: fakeToken(Math.floor(Date.now() / 1000) + 365 * 24 * 3600),
    userAgent: 'Mozilla/5.0 (bench)',
    cookie: 'sess=0123456789abcdef; auth_id=100001',
  });
  const request = { apiKey, modelId: model.id, clientIp: '127.0.0.1' };

  // Sanity check: a failed admission would time the error path instead.
  const first = await admitConnection(store, request);
  if (first.modelId !== model.id || !first.target.wsToken) throw new Error('admission did not return the seeded model');

  const round = async (count) => {
    const cpu = process.cpuUsage();
    const start = process.hrtime.bigint();
    for (let i = 0; i < count; i++) await admitConnection(store, request);
    const wallNs = Number(process.hrtime.bigint() - start);
    const used = process.cpuUsage(cpu);
    return { cpuUs: (used.user + used.system) / count, wallUs: wallNs / 1000 / count };
  };

  await round(WARMUP);
  const results = [];
  for (let r = 0; r < ROUNDS; r++) {
    const result = await round(N);
    results.push(result);
    console.log(`round ${r + 1}/${ROUNDS}: ${result.cpuUs.toFixed(2)} µs CPU, ${result.wallUs.toFixed(2)} µs wall per admission`);
  }
  const median = (values) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)];
  console.log(
    `admission (${DIST}, N=${N}, median of ${ROUNDS}): ` +
      `${median(results.map((r) => r.cpuUs)).toFixed(2)} µs CPU, ${median(results.map((r) => r.wallUs)).toFixed(2)} µs wall`,
  );
} finally {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}
