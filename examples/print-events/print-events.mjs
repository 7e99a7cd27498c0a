#!/usr/bin/env node
// Prints a model's OnlyFans events as they arrive: one JSON line per event on stdout, the
// connection's story (connected, reconnecting, closed) on stderr. Reconnects on its own;
// stops on Ctrl-C, after --count events, or on an error that retrying cannot fix.
//
//   OFGW_GATEWAY_URL=ws://127.0.0.1:8080 OFGW_API_KEY=ofgw_sk_… node print-events.mjs MODEL_ID [--count N]
//
// The key comes from the environment, not the command line, so it stays out of `ps` and
// shell history.
import { connect, OfgwError } from '@ofgw/client';

function usage(problem) {
  console.error(`print-events: ${problem}`);
  console.error('usage: OFGW_GATEWAY_URL=ws://HOST:PORT OFGW_API_KEY=KEY node print-events.mjs MODEL_ID [--count N]');
  process.exit(2);
}

const args = process.argv.slice(2);
const modelId = args.find((a, i) => !a.startsWith('--') && args[i - 1] !== '--count');
const countAt = args.indexOf('--count');
const count = countAt === -1 ? Infinity : Number(args[countAt + 1]);
// OFGW_GATEWAY_URL, as `ofgw connect` reads it. OFGW_URL names the management API for the
// ofgw CLI: never read here, but named if it is all there is, rather than reaching the default.
const baseUrl = process.env.OFGW_GATEWAY_URL || 'ws://127.0.0.1:8080';
const apiKey = process.env.OFGW_API_KEY;
if (!process.env.OFGW_GATEWAY_URL && process.env.OFGW_URL) usage('set OFGW_GATEWAY_URL to the gateway (OFGW_URL is the ofgw CLI\'s management API URL, not read here)');
if (!/^(wss?|https?):\/\/[^/?#]+/i.test(baseUrl)) usage(`OFGW_GATEWAY_URL must be the gateway's ws:// or wss:// URL (got "${baseUrl}")`);
if (!modelId) usage('the model id is missing');
if (!apiKey) usage('set OFGW_API_KEY to your API key');
if (!(count > 0)) usage('--count needs a positive number');

const controller = new AbortController();
process.once('SIGINT', () => controller.abort());
process.once('SIGTERM', () => controller.abort());

let printed = 0;
// Given to connect(), so they are attached before the first attempt: with retryInitial the
// waits while the gateway is unreachable happen before connect() resolves, and an event may
// arrive together with the confirmation.
const on = {
  message: ({ frame, raw, binary }) => {
    // An OnlyFans frame is a JSON object whose keys are its events; anything else is printed raw.
    const line = frame ? { keys: Object.keys(frame), frame } : { raw: binary ? Buffer.from(raw).toString('base64') : raw, binary };
    console.log(JSON.stringify({ at: new Date().toISOString(), ...line }));
    if (++printed >= count) controller.abort();
  },
  reconnecting: ({ attempt, delayMs, error }) => console.error(`reconnecting in ${delayMs} ms (attempt ${attempt}) after ${describe(error)}`),
  open: ({ reconnected }) => reconnected && console.error('reconnected'),
};

let client;
try {
  // retryInitial: keep trying while the gateway restarts or OnlyFans is unreachable; a wrong
  // key or model still fails at once.
  client = await connect({ baseUrl, modelId, apiKey, signal: controller.signal, retryInitial: true, on });
} catch (error) {
  if (error instanceof OfgwError && error.code === 'ABORTED') process.exit(0);
  console.error(`print-events: could not connect: ${describe(error)}`);
  process.exit(1);
}
console.error(`connected to model ${modelId}`);

const final = await client.closed;
if (final.code === 'ABORTED') process.exit(0);
console.error(`print-events: stopped: ${describe(final)}`);
process.exit(1);

function describe(error) {
  if (!(error instanceof OfgwError)) return String(error?.message ?? error);
  const close = error.closeCode === undefined ? '' : ` (close ${error.closeCode})`;
  return `${error.code}${close}: ${error.message}`;
}
