/**
 * `ofgw serve`: opens the store, seeds the sandbox on a first non-production start, starts
 * the gateway and drains it on SIGTERM/SIGINT within shutdownTimeoutMs. With `--workers N`
 * (N > 1) this process becomes the primary of N gateway processes instead (../workers.ts).
 */
import { nativeMasking } from '../../wire/frames.js';
import { withoutPassword, type GatewayConfig } from '../../config.js';
import type { Gateway } from '../../gateway/server.js';
import type { GatewayMetrics } from '../../observability/metrics.js';
import { createLogger, type Logger } from '../../log.js';
import type { OnlyFansSimulator } from '../../sandbox/index.js';
import type { Store } from '../../store/types.js';
import { configFromArgs } from '../settings-flags.js';
import { buildGateway, fdLimit, hostForUrl, openServeStore, prepareSandbox } from '../gateway-process.js';
import { servePrimary } from '../workers.js';

export async function serveCommand(argv: string[]): Promise<number> {
  const { config } = configFromArgs(argv, 'serve');
  const logger = createLogger(config.logLevel);
  // Many cores: a primary that forks `workers` gateway processes on the same port.
  if (config.workers > 1) return servePrimary(config, logger);
  // The store loads the keyring itself so it can refuse to replace a lost key file.
  const store = await openServeStore(config, logger);
  let simulator: OnlyFansSimulator | undefined;
  let gateway: Gateway | undefined;
  let metrics: GatewayMetrics | undefined;
  try {
    const sandbox = config.production ? undefined : await prepareSandbox(store, config, logger);
    simulator = sandbox?.simulator;
    const built = buildGateway(config, store, logger);
    gateway = built.gateway;
    metrics = built.metrics();
    const address = await gateway.listen();
    logger.info(
      {
        host: address.address,
        port: address.port,
        db: withoutPassword(config.db),
        production: config.production,
        nativeMasking,
        fdLimit: fdLimit() ?? 'unknown',
      },
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
