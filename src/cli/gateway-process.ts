/**
 * The pieces of `ofgw serve` shared by the single-process gateway and the workers of
 * `ofgw serve --workers N`: the gateway with its HTTP routes, the sandbox simulator, the
 * process's file-descriptor limit.
 */
import diagnostics from 'node:diagnostics_channel';
import { readFileSync } from 'node:fs';
import { ConfigError, type GatewayConfig } from '../config.js';
import { createAdminRoutes } from '../admin/index.js';
import { createCustomerRoutes } from '../api/index.js';
import { createDashboardRoutes } from '../dashboard/index.js';
import { Gateway } from '../gateway/server.js';
import { createHealthRoutes } from '../observability/health.js';
import { createMetrics, type GatewayMetrics, type MetricsOptions } from '../observability/metrics.js';
import type { Logger } from '../log.js';
import { startSimulator, type OnlyFansSimulator } from '../sandbox/index.js';
import { openStore, storeConnectionError, type StoreConnectionErrorMessage } from '../store/index.js';
import type { Store } from '../store/types.js';
import { packageVersion } from './version.js';
import { findSandboxOrg, sandboxBanner, sandboxSecret, seedSandbox } from './first-run.js';

/**
 * Opens the store `ofgw serve` runs on (the primary's and every worker's), with the
 * configured keyring and pool size; a PostgreSQL connection that fails while idle is logged
 * (the pool replaces it), never thrown.
 */
export async function openServeStore(config: GatewayConfig, logger: Logger): Promise<Store> {
  const store = await openStore(config.db, {
    masterKeyFile: config.masterKeyFile,
    masterKey: config.masterKey,
    env: process.env,
    poolSize: config.dbPoolSize,
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

/** A gateway with health, metrics, management, dashboard and customer routes, not listening yet. */
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
        createHealthRoutes(gw),
        metrics.route,
        createAdminRoutes(gw, { adminToken: config.adminToken, logger, version }),
        createDashboardRoutes({ adminToken: config.adminToken, logger, trustForwardedFor: config.trustForwardedFor }),
        createCustomerRoutes(gw),
      ];
    },
  });
  return { gateway, metrics: () => metrics };
}

export interface PreparedSandbox {
  simulator: OnlyFansSimulator;
  /** Only on the start that seeded it: the banner with the key, shown once. */
  banner?: (gatewayUrl: string) => string;
}

/** Seeds on an empty store; restarts the simulator for a sandbox seeded earlier. */
export async function prepareSandbox(store: Store, config: GatewayConfig, logger: Logger): Promise<PreparedSandbox | undefined> {
  const start = (secret: string): Promise<OnlyFansSimulator> =>
    startSimulator({ host: '127.0.0.1', port: config.sandboxPort, secret, initialCounters: true, generator: { intervalMs: 3000 } }).catch(
      (err: NodeJS.ErrnoException) => {
        throw new ConfigError(
          `invalid sandboxPort: the sandbox simulator could not listen on 127.0.0.1:${config.sandboxPort} (${err.code ?? err.message}); set OFGW_SANDBOX_PORT or --sandbox-port`,
        );
      },
    );
  if (await store.isEmpty()) {
    const { seed, simulator } = await seedSandbox(store, start);
    logger.info({ orgId: seed.orgId, modelId: seed.modelId, simulatorPort: simulator.port }, 'sandbox seeded');
    return { simulator, banner: (url) => sandboxBanner(seed, url) };
  }
  const orgId = await findSandboxOrg(store);
  if (!orgId) return undefined;
  const simulator = await start(sandboxSecret(orgId));
  logger.info({ orgId, simulatorPort: simulator.port }, 'sandbox simulator started');
  return { simulator };
}

/** The host to put in a URL for clients: loopback for a wildcard address, brackets for IPv6. */
export function hostForUrl(address: string): string {
  if (address === '0.0.0.0' || address === '::') return '127.0.0.1';
  return address.includes(':') ? `[${address}]` : address;
}

/** RLIMIT_NOFILE of this process (what `ulimit -n` shows), for the start-up log. */
export interface FdLimit {
  soft: number | 'unlimited';
  hard: number | 'unlimited';
}

/**
 * This process's open-file limit, read from /proc/self/limits (Linux); undefined where that
 * file does not exist. Every relay holds two sockets, so this bounds a process's relays at
 * about half of `soft`.
 */
export function fdLimit(limitsFile = '/proc/self/limits'): FdLimit | undefined {
  let text: string;
  try {
    text = readFileSync(limitsFile, 'utf8');
  } catch {
    return undefined;
  }
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(text);
  if (!m) return undefined;
  const value = (v: string): number | 'unlimited' => (v === 'unlimited' ? 'unlimited' : Number(v));
  return { soft: value(m[1] ?? ''), hard: value(m[2] ?? '') };
}
