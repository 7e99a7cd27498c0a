/**
 * The sandbox's records: on an empty store, outside production mode, a clearly labelled
 * organization with an active subscription, a model wired to the sandbox simulator and an API
 * key, so a newcomer can watch events flow with one command.
 *
 * Every start finishes what an earlier one left undone instead of trusting "the store is not
 * empty" to mean "seeded": a missing subscription, a model never created, a model pointing at
 * another port or holding a token the simulator no longer accepts, and a sandbox without any
 * key. The key is created last, right before the banner shows it (only its digest is stored),
 * so a start that stopped earlier leaves no key nobody has seen; the next one makes it and
 * prints the banner. What the operator did on purpose is left alone: a cancelled
 * subscription, a removed or disconnected model, revoked keys.
 */
import { dashboardAccess } from '../dashboard/access.js';
import { signToken, verifyToken } from '../sandbox/tokens.js';
import type { Store } from '../store/types.js';

export const SANDBOX_ORG_NAME = 'Sandbox (simulated OnlyFans, not a real account)';
export const SANDBOX_MODEL_NAME = 'Sandbox model (simulated)';
/** The simulated creator account behind the sandbox model. */
export const SANDBOX_USER_ID = 100001;
/** The simulator only ever listens on loopback: its control API has no authentication. */
export const SANDBOX_HOST = '127.0.0.1';
/** The shard OnlyFans clients use in their socket URL. */
const SANDBOX_SHARD = 24;
const SANDBOX_TOKEN_TTL_SECONDS = 365 * 24 * 3600;

/**
 * The simulator signs tokens with a secret; the seeded token must survive restarts and be
 * accepted by every node's simulator, so the secret is derived from the sandbox organization
 * id stored with it. This guards nothing real: it only makes the simulator check tokens as
 * OnlyFans would.
 */
export function sandboxSecret(orgId: string): string {
  return `ofgw-sandbox:${orgId}`;
}

/** The sandbox model's upstream URL: the simulator on this machine's loopback. */
export function sandboxWsUrl(port: number): string {
  return `ws://${SANDBOX_HOST}:${port}/ws3/${SANDBOX_SHARD}`;
}

export async function findSandboxOrg(store: Store): Promise<string | undefined> {
  return (await store.listOrganizations()).find((o) => o.sandbox)?.id;
}

export function createSandboxOrg(store: Store): Promise<string> {
  return store.createOrganization({ name: SANDBOX_ORG_NAME, sandbox: true }).then((org) => org.id);
}

/** What {@link completeSandbox} found or made. */
export interface SandboxRecords {
  orgId: string;
  /** Undefined when the operator removed the sandbox model. */
  modelId: string | undefined;
  /** What was made or mended, for the log. */
  repaired: string[];
}

/**
 * Gives the sandbox organization what a seed gives it, short of the key: an active
 * subscription if it never had one, and a model on `wsUrl` with a token the simulator accepts,
 * unless the organization's model was removed.
 */
export async function completeSandbox(store: Store, orgId: string, wsUrl: string): Promise<SandboxRecords> {
  const repaired: string[] = [];
  const secret = sandboxSecret(orgId);
  const token = (): string => signToken(secret, String(SANDBOX_USER_ID), Math.floor(Date.now() / 1000), SANDBOX_TOKEN_TTL_SECONDS);
  if (!(await store.getSubscription(orgId))) {
    await store.setSubscription(orgId, { status: 'active', plan: 'sandbox' });
    repaired.push('subscription');
  }
  const model = (await store.listModels(orgId)).find((m) => m.name === SANDBOX_MODEL_NAME);
  if (!model) {
    // The audit trail outlives a model: an empty one means no model was ever made here.
    if ((await store.listModelEventsAll({ orgId, limit: 1 })).length > 0) return { orgId, modelId: undefined, repaired };
    const created = await store.createModel(orgId, { name: SANDBOX_MODEL_NAME, wsUrl, wsToken: token() });
    repaired.push('model');
    return { orgId, modelId: created.id, repaired };
  }
  const stored = await store.getModelCredentials(model.id);
  const nowSeconds = Math.floor(Date.now() / 1000);
  const accepted = stored?.wsToken ? verifyToken(secret, stored.wsToken, nowSeconds).status === 'valid' : false;
  if (stored?.wsUrl !== wsUrl || !accepted || model.credentialsRejectedAt !== null) {
    // New credentials also clear a rejection the simulator recorded against an older token.
    await store.updateModel(model.id, { wsUrl, wsToken: token() });
    repaired.push('model credentials');
  }
  return { orgId, modelId: model.id, repaired };
}

/** A fresh key when the sandbox has none at all: the start that made the others showed them. */
export async function issueSandboxKey(store: Store, orgId: string): Promise<string | undefined> {
  if ((await store.listApiKeys(orgId)).length > 0) return undefined;
  return (await store.createApiKey(orgId, { name: 'sandbox key' })).key;
}

/** What the banner shows: the key only on the start that made it. */
export interface BannerInput {
  orgId: string;
  modelId: string;
  /** Set on the start that created the key. */
  apiKey: string | undefined;
  /** http://HOST:PORT of the gateway. */
  baseUrl: string;
  adminToken: string;
  /** The `--db` to repeat in a CLI command; undefined when the default is in use. */
  dbFlag: string | undefined;
}

/** The first-start banner with the key, or the one-line reminder printed on later starts. */
export function sandboxBanner(b: BannerInput): string {
  const wsUrl = b.baseUrl.replace(/^http/, 'ws');
  const dashboard = `${dashboardAccess(b.adminToken, b.baseUrl)}${b.adminToken === '' ? '' : '  (sign in with OFGW_ADMIN_TOKEN)'}`;
  const keyCommand = `npx ofgw key create --org ${b.orgId}${b.dbFlag === undefined ? '' : ` --db ${b.dbFlag}`}`;
  if (b.apiKey === undefined) {
    return [
      '',
      `  ofgw sandbox (simulated OnlyFans): model ${b.modelId}. Its key was shown once, when it was made; another: ${keyCommand}`,
      `    watch events  npx ofgw connect ${b.modelId} --api-key <key> --url ${wsUrl}`,
      `    dashboard     ${dashboard}`,
      '',
      '',
    ].join('\n');
  }
  return [
    '',
    '  ofgw sandbox seeded (a simulated OnlyFans account; nothing here touches a real one)',
    `    organization  ${b.orgId}`,
    `    model         ${b.modelId}`,
    `    API key       ${b.apiKey}`,
    `    The key is shown only now: it is stored as a hash. Create more with \`${keyCommand}\`.`,
    `    dashboard     ${dashboard}`,
    '',
    '  Watch events in another terminal:',
    `    npx ofgw connect ${b.modelId} --api-key ${b.apiKey} --url ${wsUrl}`,
    '',
    '',
  ].join('\n');
}
