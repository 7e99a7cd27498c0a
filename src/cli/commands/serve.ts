/**
 * `ofgw serve`: opens the store, listens, runs the sandbox outside production mode (seeding an
 * empty store, completing an unfinished sandbox), and drains on SIGTERM/SIGINT within
 * shutdownTimeoutMs. With `--workers N` (N > 1) this process becomes the primary of N gateway
 * processes instead (../workers.ts).
 */
import type { GatewayConfig } from '../../config.js';
import type { Gateway } from '../../gateway/server.js';
import type { GatewayMetrics } from '../../observability/metrics.js';
import { createLogger, type Logger } from '../../log.js';
import type { Store } from '../../store/types.js';
import { configFromArgs } from '../settings-flags.js';
import {
  baseUrlOf,
  buildGateway,
  descriptorBudget,
  listenGateway,
  listeningFields,
  openServeStore,
  prepareSandbox,
  warnOnSmallBudget,
  type PreparedSandbox,
} from '../gateway-process.js';
import type { SandboxSimulator } from '../sandbox-simulator.js';
import { servePrimary } from '../workers.js';

export async function serveCommand(argv: string[]): Promise<number> {
  const { config } = configFromArgs(argv, 'serve');
  const logger = createLogger(config.logLevel);
  // Many cores: a primary that forks `workers` gateway processes on the same port.
  if (config.workers > 1) return servePrimary(config, logger);
  // The store loads the keyring itself so it can refuse to replace a lost key file.
  const store = await openServeStore(config, logger);
  let sandbox: PreparedSandbox | undefined;
  let gateway: Gateway | undefined;
  let metrics: GatewayMetrics | undefined;
  try {
    const built = buildGateway(config, store, logger);
    gateway = built.gateway;
    metrics = built.metrics();
    const address = await listenGateway(gateway, config);
    sandbox = config.production ? undefined : await prepareSandbox(store, config, logger);
    const budget = descriptorBudget();
    warnOnSmallBudget(logger, budget);
    logger.info({ ...listeningFields(config, address), ...budget }, 'gateway listening');
    if (sandbox?.banner) process.stderr.write(sandbox.banner(baseUrlOf(address)));
  } catch (err) {
    await gateway?.close();
    metrics?.close();
    await sandbox?.simulator.close();
    await store.close();
    throw err;
  }
  const code = await waitForSignal(gateway, store, sandbox?.simulator, config, logger);
  metrics?.close();
  return code;
}

/** Resolves with the exit code once a signal has drained everything (or the deadline hit). */
function waitForSignal(gateway: Gateway, store: Store, simulator: SandboxSimulator | undefined, config: GatewayConfig, logger: Logger): Promise<number> {
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
