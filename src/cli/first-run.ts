/**
 * First run: on an empty store, outside production mode, seed a clearly labelled sandbox
 * (organization, active subscription, API key, model) wired to an in-process OnlyFans
 * simulator, so a newcomer can watch events flow with one command. The key is returned for
 * the banner and exists nowhere else; production mode never seeds.
 */
import type { OnlyFansSimulator } from '../sandbox/index.js';
import type { Store } from '../store/types.js';

export const SANDBOX_ORG_NAME = 'Sandbox (simulated OnlyFans, not a real account)';
/** The simulated creator account behind the sandbox model. */
export const SANDBOX_USER_ID = 100001;
const SANDBOX_TOKEN_TTL_SECONDS = 365 * 24 * 3600;

export interface SandboxSeed {
  orgId: string;
  modelId: string;
  apiKey: string;
}

/**
 * The simulator signs tokens with a secret; the seeded token must survive restarts, so the
 * secret is derived from the sandbox organization id stored with it. This guards nothing
 * real: it only makes the simulator check tokens as OnlyFans would.
 */
export function sandboxSecret(orgId: string): string {
  return `ofgw-sandbox:${orgId}`;
}

export async function findSandboxOrg(store: Store): Promise<string | undefined> {
  return (await store.listOrganizations()).find((o) => o.sandbox)?.id;
}

/** Seeds the sandbox; `startSimulator` is called with the secret once the org id exists. */
export async function seedSandbox(
  store: Store,
  startSimulator: (secret: string) => Promise<OnlyFansSimulator>,
): Promise<{ seed: SandboxSeed; simulator: OnlyFansSimulator }> {
  const org = await store.createOrganization({ name: SANDBOX_ORG_NAME, sandbox: true });
  const simulator = await startSimulator(sandboxSecret(org.id));
  await store.setSubscription(org.id, { status: 'active', plan: 'sandbox' });
  const key = await store.createApiKey(org.id, { name: 'sandbox key' });
  const model = await store.createModel(org.id, {
    name: 'Sandbox model (simulated)',
    wsUrl: simulator.wsUrl(24),
    wsToken: simulator.issueToken({ userId: SANDBOX_USER_ID, ttlSeconds: SANDBOX_TOKEN_TTL_SECONDS }),
  });
  return { seed: { orgId: org.id, modelId: model.id, apiKey: key.key }, simulator };
}

export function sandboxBanner(seed: SandboxSeed, gatewayUrl: string): string {
  return [
    '',
    '  ofgw sandbox seeded (a simulated OnlyFans account; nothing here touches a real one)',
    `    organization  ${seed.orgId}`,
    `    model         ${seed.modelId}`,
    `    API key       ${seed.apiKey}`,
    '    The key is shown only now: it is stored as a hash. Create more with `ofgw key create`.',
    '',
    '  Watch events in another terminal:',
    `    npx ofgw connect ${seed.modelId} --api-key ${seed.apiKey} --url ${gatewayUrl}`,
    '',
    '',
  ].join('\n');
}
