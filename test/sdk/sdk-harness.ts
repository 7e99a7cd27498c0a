/**
 * What the SDK suites (Node and browser) need beyond test/helpers.ts: restarting the gateway on
 * the same port, counting the connection attempts the gateway saw, arranging each of the
 * contract's refusals through the store and config, and a guard against unhandled rejections.
 */
import { randomUUID } from 'node:crypto';
import { Gateway } from '../../src/gateway/server.js';
import { createLogger } from '../../src/log.js';
import { LogCapture, startStack, TestClient, waitFor, type Stack, type StackOptions } from '../helpers.js';

/** Fast reconnection for tests: the policy is the same, the waits short. */
export const FAST_RECONNECT = { baseDelayMs: 50, maxDelayMs: 400, stableAfterMs: 200 };

/** Plans the refusal scenarios use: one attempt per key, and one relay per organization. */
const PLANS = {
  'one-attempt': { keyConnectBurst: 1, keyConnectPerSecond: 0.05 },
  'one-relay': { maxRelaysPerOrg: 1 },
};

/** A stack whose gateway can be restarted on its port, with the plans above configured. */
export interface SdkStack extends Stack {
  /** The running gateway (a new one after `restartGateway`). */
  current: Gateway;
  /** Every log line of every gateway this stack ran. */
  allLogs: LogCapture;
  /** Closes the gateway (relays get 1012) and starts a new one on the same port and store. */
  restartGateway(): Promise<void>;
  /** Closes the gateway: its port refuses connections until {@link startGateway}. */
  stopGateway(): Promise<void>;
  /** Starts a new gateway on the stopped one's port and store. */
  startGateway(): Promise<void>;
  /** How many relays the gateway(s) finished with this outcome (one per connection attempt). */
  attempts(outcome: string): number;
  /** How many relays the gateway(s) confirmed. */
  opened(): number;
}

export async function startSdkStack(options: StackOptions = {}): Promise<SdkStack> {
  const stack = await startStack({
    ...options,
    config: { plans: PLANS, closeTimeoutMs: 2000, ...options.config },
  });
  const port = stack.gateway.address().port;
  const sdk = stack as SdkStack;
  sdk.current = stack.gateway;
  sdk.allLogs = stack.logs;
  sdk.attempts = (outcome) =>
    sdk.allLogs.records().filter((r) => r.msg === 'relay closed' && r.outcome === outcome).length;
  sdk.opened = () => sdk.allLogs.records().filter((r) => r.msg === 'relay opened').length;
  sdk.stopGateway = () => sdk.current.close();
  sdk.startGateway = async () => {
    const config = { ...stack.config, port };
    const gateway = new Gateway({ config, store: stack.store, logger: createLogger('info', sdk.allLogs) });
    await gateway.listen();
    sdk.current = gateway;
  };
  sdk.restartGateway = async () => {
    await sdk.stopGateway();
    await sdk.startGateway();
  };
  const closeStack = stack.close.bind(stack);
  sdk.close = async () => {
    // The stack closes the first gateway itself (closing twice is harmless); a later one here.
    if (sdk.current !== stack.gateway) await sdk.current.close();
    await closeStack();
  };
  return sdk;
}

/** One refusal the contract lists, and how to arrange it on a stack. */
export interface RefusalCase {
  code: string;
  closeCode: number;
  /** The key and model to connect with; `keepOpen` holds a relay that must stay open meanwhile. */
  arrange(stack: SdkStack): Promise<{ apiKey: string; modelId: string; keepOpen?: TestClient }>;
}

/** A user id the simulator rejects tokens of (set by the WS_CONNECT_ERROR case). */
export const REJECTED_USER_ID = 9001;

/** A new organization on `plan` (none: no subscription), with a key and a model on the simulator's model user. */
export async function orgWithPlan(stack: Stack, plan: string | undefined): Promise<{ orgId: string; apiKey: string; modelId: string }> {
  const org = await stack.store.createOrganization({ name: `SDK ${plan ?? 'no plan'} ${randomUUID().slice(0, 8)}` });
  if (plan) await stack.store.setSubscription(org.id, { status: 'active', plan });
  const key = await stack.store.createApiKey(org.id, { name: 'sdk test' });
  const model = await stack.store.createModel(org.id, { name: 'SDK model', wsUrl: stack.sim.wsUrl(), wsToken: stack.wsToken });
  return { orgId: org.id, apiKey: key.key, modelId: model.id };
}

/** Every error code of the contract (§3) that a connection attempt can meet. */
export const REFUSALS: RefusalCase[] = [
  { code: 'NO_API_KEY', closeCode: 4401, arrange: async (s) => ({ apiKey: '', modelId: s.modelId }) },
  { code: 'INVALID_API_KEY', closeCode: 4401, arrange: async (s) => ({ apiKey: 'ofgw_sk_not-a-real-key', modelId: s.modelId }) },
  {
    code: 'NO_SUBSCRIPTION',
    closeCode: 4402,
    arrange: async (s) => {
      const { apiKey, modelId } = await orgWithPlan(s, undefined);
      return { apiKey, modelId };
    },
  },
  { code: 'MODEL_NOT_FOUND', closeCode: 4404, arrange: async (s) => ({ apiKey: s.apiKey, modelId: randomUUID() }) },
  {
    code: 'MODEL_NOT_CONNECTED',
    closeCode: 4409,
    arrange: async (s) => {
      const model = await s.store.createModel(s.orgId, { wsUrl: s.sim.wsUrl(), wsToken: s.wsToken });
      await s.store.setModelStatus(model.id, 'disconnected');
      return { apiKey: s.apiKey, modelId: model.id };
    },
  },
  {
    code: 'NO_WS_CREDENTIALS',
    closeCode: 4412,
    arrange: async (s) => {
      const expired = s.sim.issueToken({ userId: 7, ttlSeconds: -60 });
      const model = await s.store.createModel(s.orgId, { wsUrl: s.sim.wsUrl(), wsToken: expired });
      return { apiKey: s.apiKey, modelId: model.id };
    },
  },
  {
    code: 'WS_CONNECT_ERROR',
    closeCode: 4502,
    arrange: async (s) => {
      s.sim.setFault({ kind: 'reject-token', errorCode: 3 }, { userId: REJECTED_USER_ID });
      const token = s.sim.issueToken({ userId: REJECTED_USER_ID });
      const model = await s.store.createModel(s.orgId, { wsUrl: s.sim.wsUrl(), wsToken: token });
      return { apiKey: s.apiKey, modelId: model.id };
    },
  },
  {
    code: 'RATE_LIMITED',
    closeCode: 4429,
    arrange: async (s) => {
      // Plan "one-attempt": the first attempt takes the key's only token.
      const org = await orgWithPlan(s, 'one-attempt');
      const first = new TestClient(s.relayUrl(org.modelId), { headers: { 'X-API-Key': org.apiKey } });
      await first.confirmed();
      first.socket.close();
      await first.closed;
      return { apiKey: org.apiKey, modelId: org.modelId };
    },
  },
  {
    code: 'CONNECTION_LIMIT',
    closeCode: 4429,
    arrange: async (s) => {
      // Plan "one-relay": one open relay uses the organization's only slot.
      const org = await orgWithPlan(s, 'one-relay');
      const keepOpen = new TestClient(s.relayUrl(org.modelId), { headers: { 'X-API-Key': org.apiKey } });
      await keepOpen.confirmed();
      return { apiKey: org.apiKey, modelId: org.modelId, keepOpen };
    },
  },
];

/**
 * Records unhandled promise rejections in this process from now on; `check()` throws if any
 * happened. Node's default would crash the run, which hides which test caused it.
 */
export function watchUnhandledRejections(): { check(): void; stop(): void } {
  const seen: unknown[] = [];
  const listener = (reason: unknown): void => void seen.push(reason);
  process.on('unhandledRejection', listener);
  return {
    check() {
      if (seen.length > 0) throw new Error(`unhandled rejections: ${seen.map((r) => (r instanceof Error ? r.stack : String(r))).join('\n')}`);
    },
    stop() {
      process.off('unhandledRejection', listener);
    },
  };
}

/** Resolves after `ms`: only for proving that something does NOT happen within a window. */
export function quietPeriod(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export { waitFor };

/** An HTTP server on 127.0.0.1 that records each upgrade request (URL and headers) and drops it. */
export async function startUpgradeRecorder(): Promise<{ url: string; requests: { url: string; headers: Record<string, unknown> }[]; close(): Promise<void> }> {
  const { createServer } = await import('node:http');
  const requests: { url: string; headers: Record<string, unknown> }[] = [];
  const server = createServer((_req, res) => res.writeHead(404).end());
  server.on('upgrade', (req, socket) => {
    requests.push({ url: req.url ?? '', headers: { ...req.headers } });
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as import('node:net').AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
