/**
 * The pieces of `ofgw serve` shared by the single-process gateway and the primary and workers
 * of `ofgw serve --workers N`: the store, the gateway with its HTTP routes, listening, the
 * sandbox and what the `gateway listening` line says.
 *
 * The start binds before it seeds: the gateway's port first (a taken port stops the start
 * with nothing written), then the sandbox simulator's, then the sandbox records are made or
 * completed, and the key, when one is made, is printed right away.
 */
import diagnostics from 'node:diagnostics_channel';
import type { AddressInfo } from 'node:net';
import { withoutPassword, type GatewayConfig } from '../config.js';
import { createAdminRoutes } from '../admin/index.js';
import { createCustomerRoutes } from '../api/index.js';
import { dashboardAccess } from '../dashboard/access.js';
import { createDashboardRoutes } from '../dashboard/index.js';
import { createRootIndex } from '../gateway/root-index.js';
import { Gateway } from '../gateway/server.js';
import { createHealthRoutes } from '../observability/health.js';
import { createMetrics, type GatewayMetrics, type MetricsOptions } from '../observability/metrics.js';
import type { Logger } from '../log.js';
import { openStore, storeConnectionError, type StoreConnectionErrorMessage } from '../store/index.js';
import type { Store } from '../store/types.js';
import { nativeMasking } from '../wire/frames.js';
import { storeLocation } from './commands/record-fields.js';
import { FD_RECOMMENDED, fdLimit, openDescriptors, raiseAdvice, relayCapacity, type FdLimit } from './fd-limit.js';
import { completeSandbox, createSandboxOrg, findSandboxOrg, issueSandboxKey, sandboxBanner, sandboxSecret, sandboxWsUrl, SANDBOX_HOST } from './first-run.js';
import { assertPortFree, GATEWAY_PORT, portUnavailableError, SANDBOX_PORT } from './listen-errors.js';
import { startSandboxSimulator, type SandboxSimulator } from './sandbox-simulator.js';
import { packageVersion } from './version.js';

/**
 * Opens the store `ofgw serve` runs on (the primary's and every worker's), with the
 * configured keyring and pool size; a PostgreSQL connection that fails while idle is logged
 * (the pool replaces it), never thrown.
 * @throws {SecretsError} `KEYRING_MISMATCH` when the keys cannot decrypt the stored secrets: a
 *   gateway that would close every relay with 1011 does not start.
 */
export async function openServeStore(config: GatewayConfig, logger: Logger): Promise<Store> {
  const store = await openStore(config.db, {
    masterKeyFile: config.masterKeyFile,
    masterKey: config.masterKey,
    env: process.env,
    poolSize: config.dbPoolSize,
    verifyKeys: true,
  });
  if (!storeConnectionError.hasSubscribers) {
    diagnostics.subscribe(storeConnectionError.name, (message) => {
      const { where, message: error } = message as StoreConnectionErrorMessage;
      logger.warn({ where, error }, 'store connection failed (the pool replaces it)');
    });
  }
  return store;
}

export interface BuiltGateway {
  gateway: Gateway;
  /** Set once the gateway's routes are built (in the Gateway constructor). */
  metrics(): GatewayMetrics | undefined;
}

/** A gateway with index, health, metrics, management, dashboard and customer routes, not listening yet. */
export function buildGateway(config: GatewayConfig, store: Store, logger: Logger, metricsOptions: MetricsOptions = {}): BuiltGateway {
  let metrics: GatewayMetrics | undefined;
  const version = packageVersion();
  const gateway = new Gateway({
    config,
    store,
    logger,
    version,
    routes: (gw) => {
      metrics = createMetrics(gw, metricsOptions);
      return [
        createRootIndex({ adminToken: config.adminToken }),
        createHealthRoutes(gw),
        metrics.route,
        createAdminRoutes(gw, { adminToken: config.adminToken, logger, version }),
        createDashboardRoutes({ adminToken: config.adminToken, logger, trustForwardedFor: config.trustForwardedFor }),
        createCustomerRoutes(gw, { version }),
      ];
    },
  });
  return { gateway, metrics: () => metrics };
}

/**
 * Listens; a port that cannot be had fails with a message naming `--port` / OFGW_PORT.
 * @throws {Error} from {@link portUnavailableError}, or the gateway's own start failure.
 */
export function listenGateway(gateway: Gateway, config: GatewayConfig): Promise<AddressInfo> {
  return gateway.listen().catch((err: unknown) => {
    throw portUnavailableError(err, GATEWAY_PORT, config.host, config.port);
  });
}

export interface PreparedSandbox {
  simulator: SandboxSimulator;
  /**
   * The banner for stderr: with the key on the start that made it, a one-line reminder
   * otherwise; undefined when the operator removed the sandbox model.
   */
  banner: ((baseUrl: string) => string) | undefined;
}

/**
 * Outside production mode: runs this node's sandbox simulator and makes or completes the
 * sandbox records (./first-run.ts) — seeding an empty store, or finishing what an earlier
 * start left undone. Undefined for a store that has organizations but no sandbox.
 * @throws {Error} naming the sandbox port's setting when it is held by something else; then
 *   nothing was written to an empty store.
 */
export async function prepareSandbox(store: Store, config: GatewayConfig, logger: Logger): Promise<PreparedSandbox | undefined> {
  let orgId = await findSandboxOrg(store);
  const seeding = orgId === undefined;
  if (seeding) {
    if (!(await store.isEmpty())) return undefined;
    // No organization before the port is known to be usable: a taken port leaves nothing behind.
    await assertPortFree(SANDBOX_PORT, SANDBOX_HOST, config.sandboxPort);
    orgId = await createSandboxOrg(store);
  }
  const id = orgId as string;
  const simulator = await startSandboxSimulator(config.sandboxPort, sandboxSecret(id), logger);
  try {
    const records = await completeSandbox(store, id, sandboxWsUrl(simulator.port));
    const apiKey = records.modelId === undefined ? undefined : await issueSandboxKey(store, id);
    const fields = { orgId: id, modelId: records.modelId, simulatorPort: simulator.port, simulator: simulator.state, completed: records.repaired };
    logger.info(fields, seeding ? 'sandbox seeded' : 'sandbox ready');
    const { modelId } = records;
    const banner =
      modelId === undefined
        ? undefined
        : (baseUrl: string) => sandboxBanner({ orgId: id, modelId, apiKey, baseUrl, adminToken: config.adminToken, dbFlag: dbFlag(config.db) });
    return { simulator, banner };
  } catch (err) {
    await simulator.close();
    throw err;
  }
}

/** The `--db` a CLI command needs to reach this store, or undefined when it finds it unaided. */
function dbFlag(db: string): string | undefined {
  if (storeLocation(undefined).location === db) return undefined;
  // A password is not printed: the operator repeats what they gave the gateway.
  if (withoutPassword(db) !== db) return '"<the --db of this gateway>"';
  return /^[\w./:@-]+$/.test(db) ? db : `'${db.replace(/'/g, `'\\''`)}'`;
}

/** The host to put in a URL for clients: loopback for a wildcard address, brackets for IPv6. */
export function hostForUrl(address: string): string {
  if (address === '0.0.0.0' || address === '::') return '127.0.0.1';
  return address.includes(':') ? `[${address}]` : address;
}

/** `http://HOST:PORT` of a listening gateway, for clients. */
export function baseUrlOf(address: AddressInfo): string {
  return `http://${hostForUrl(address.address)}:${address.port}`;
}

/** The fields of the `gateway listening` line that the single process and the primary share. */
export function listeningFields(config: GatewayConfig, address: AddressInfo): Record<string, unknown> {
  return {
    host: address.address,
    port: address.port,
    db: withoutPassword(config.db),
    production: config.production,
    nativeMasking,
    dashboard: dashboardAccess(config.adminToken, baseUrlOf(address)),
  };
}

/** This process's descriptor budget, for the start-up log. */
export interface DescriptorBudget {
  fdLimit: FdLimit | 'unknown';
  /** About how many relays fit under the soft limit with what is open now (two descriptors each). */
  relayCapacity: number | 'unlimited' | 'unknown';
}

export function descriptorBudget(): DescriptorBudget {
  const limit = fdLimit();
  const open = openDescriptors();
  if (limit === undefined || open === undefined) return { fdLimit: limit ?? 'unknown', relayCapacity: 'unknown' };
  return { fdLimit: limit, relayCapacity: relayCapacity(limit.soft, open) ?? 'unlimited' };
}

/** Below {@link FD_RECOMMENDED}, a warning that says what the limit allows and how to raise it. */
export function warnOnSmallBudget(logger: Logger, budget: DescriptorBudget): void {
  const limit = budget.fdLimit;
  if (limit === 'unknown' || limit.soft === 'unlimited' || limit.soft >= FD_RECOMMENDED) return;
  logger.warn(
    { fdLimit: limit, relayCapacity: budget.relayCapacity, raise: raiseAdvice(limit) },
    `the open-file limit ${limit.soft} (ulimit -n) allows only about ${String(budget.relayCapacity)} relays in this process`,
  );
}
