/**
 * `ofgw serve`: opens the store, seeds the sandbox on a first non-production start, starts
 * the gateway and drains it on SIGTERM/SIGINT within shutdownTimeoutMs.
 */
import { nativeMasking } from '../../wire/frames.js';
import { ConfigError, withoutPassword, type GatewayConfig } from '../../config.js';
import { createAdminRoutes } from '../../admin/index.js';
import { createCustomerRoutes } from '../../api/index.js';
import { Gateway } from '../../gateway/server.js';
import { createHealthRoutes } from '../../observability/health.js';
import { createMetrics, type GatewayMetrics } from '../../observability/metrics.js';
import { createLogger, type Logger } from '../../log.js';
import { startSimulator, type OnlyFansSimulator } from '../../sandbox/index.js';
import { openStore } from '../../store/index.js';
import type { Store } from '../../store/types.js';
import { packageVersion } from '../version.js';
import { configFromArgs } from '../settings-flags.js';
import { findSandboxOrg, sandboxBanner, sandboxSecret, seedSandbox } from '../first-run.js';

export async function serveCommand(argv: string[]): Promise<number> {
  const { config } = configFromArgs(argv, 'serve');
  const logger = createLogger(config.logLevel);
  // The store loads the keyring itself so it can refuse to replace a lost key file.
  const store = await openStore(config.db, { masterKeyFile: config.masterKeyFile, masterKey: config.masterKey, env: process.env });
  let simulator: OnlyFansSimulator | undefined;
  let gateway: Gateway | undefined;
  let metrics: GatewayMetrics | undefined;
  try {
    const sandbox = config.production ? undefined : await prepareSandbox(store, config, logger);
    simulator = sandbox?.simulator;
    gateway = new Gateway({
      config,
      store,
      logger,
      routes: (gw) => {
        metrics = createMetrics(gw);
        return [
          createHealthRoutes(gw),
          metrics.route,
          createAdminRoutes(gw, { adminToken: config.adminToken, logger, version: packageVersion() }),
          createCustomerRoutes(gw),
        ];
      },
    });
    const address = await gateway.listen();
    logger.info(
      { host: address.address, port: address.port, db: withoutPassword(config.db), production: config.production, nativeMasking },
      'gateway listening',
    );
    if (sandbox?.banner) process.stderr.write(sandbox.banner(`ws://${hostForUrl(address.address)}:${address.port}`));
  } catch (err) {
    await gateway?.close();
    metrics?.close();
    await simulator?.close();
    await store.close();
    throw err;
  }
  const code = await waitForSignal(gateway, store, simulator, config, logger);
  metrics?.close();
  return code;
}

interface PreparedSandbox {
  simulator: OnlyFansSimulator;
  banner?: (gatewayUrl: string) => string;
}

/** Seeds on an empty store; restarts the simulator for a sandbox seeded earlier. */
async function prepareSandbox(store: Store, config: GatewayConfig, logger: Logger): Promise<PreparedSandbox | undefined> {
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

/** ws masks and unmasks every frame; bufferutil's native code does it several times faster. */
function hostForUrl(address: string): string {
  if (address === '0.0.0.0' || address === '::') return '127.0.0.1';
  return address.includes(':') ? `[${address}]` : address;
}

/** Resolves with the exit code once a signal has drained everything (or the deadline hit). */
function waitForSignal(gateway: Gateway, store: Store, simulator: OnlyFansSimulator | undefined, config: GatewayConfig, logger: Logger): Promise<number> {
  return new Promise((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) {
        logger.warn({ signal }, 'second signal: exiting now');
        resolve(1);
        return;
      }
      stopping = true;
      logger.info({ signal }, 'shutting down');
      // Bounded whatever happens: the drain deadline plus a margin for the store to close.
      const deadline = setTimeout(() => {
        logger.error('shutdown deadline passed: exiting');
        resolve(1);
      }, config.shutdownTimeoutMs + 2000);
      deadline.unref();
      void (async () => {
        await gateway.close();
        await simulator?.close();
        await store.close();
        logger.info('stopped');
        clearTimeout(deadline);
        resolve(0);
      })();
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}
