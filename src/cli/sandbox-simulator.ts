/**
 * The sandbox simulator of one gateway node, on `sandboxPort` of the machine's loopback.
 *
 * Every non-production node runs one, all with the secret derived from the sandbox
 * organization, so the seeded token works against any of them and the stored model URL
 * (`ws://127.0.0.1:<sandboxPort>/…`) reaches one on whichever machine the relay runs. On one
 * machine only one node can hold the port: a node that finds it held by another node's
 * simulator (it answers the control API with tokens signed by the same secret) serves relays
 * through that one and keeps trying to bind the port, so the sandbox outlives the node that
 * held it. A port held by anything else stops the start, naming the port's setting.
 */
import type { Logger } from '../log.js';
import { startSimulator, type OnlyFansSimulator } from '../sandbox/index.js';
import { verifyToken } from '../sandbox/tokens.js';
import { SANDBOX_HOST, SANDBOX_USER_ID } from './first-run.js';
import { portUnavailableError, SANDBOX_PORT } from './listen-errors.js';

/** Retry delays while another node holds the port: a takeover within about a second. */
export const TAKEOVER_BASE_MS = 200;
export const TAKEOVER_MAX_MS = 1000;
/** How long the node holding the port may take to answer "are you a sandbox simulator?". */
const PROBE_TIMEOUT_MS = 1000;

/** A running node simulator, or a node waiting to take the port over. */
export interface SandboxSimulator {
  /** `serving`: this node's simulator holds the port; `standby`: another node's does. */
  readonly state: 'serving' | 'standby';
  readonly port: number;
  /** Stops serving, or stops waiting for the port. */
  close(): Promise<void>;
}

/**
 * Binds the sandbox simulator on `port` (0 picks one), or joins as standby when another
 * node's simulator of the same sandbox holds it.
 * @throws {Error} naming the sandbox port's setting when something else holds the port.
 */
export async function startSandboxSimulator(port: number, secret: string, logger: Logger): Promise<SandboxSimulator> {
  const bind = (): Promise<OnlyFansSimulator> =>
    startSimulator({ host: SANDBOX_HOST, port, secret, initialCounters: true, generator: { intervalMs: 3000 } });
  try {
    return serving(await bind());
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EADDRINUSE' || !(await heldBySameSandbox(port, secret))) throw portUnavailableError(err, SANDBOX_PORT, SANDBOX_HOST, port);
  }
  logger.info({ simulatorPort: port }, 'sandbox simulator port held by another ofgw node on this machine: relaying through it, taking over if it stops');
  return standby(port, bind, logger);
}

function serving(simulator: OnlyFansSimulator): SandboxSimulator {
  return { state: 'serving', port: simulator.port, close: () => simulator.close() };
}

/** Tries the port again and again (bounded delay) until it binds or the node stops. */
function standby(port: number, bind: () => Promise<OnlyFansSimulator>, logger: Logger): SandboxSimulator {
  let simulator: OnlyFansSimulator | undefined;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let attempt: Promise<void> = Promise.resolve();
  const schedule = (delayMs: number): void => {
    timer = setTimeout(() => {
      attempt = bind().then(
        async (bound) => {
          if (closed) return bound.close();
          simulator = bound;
          handle.state = 'serving';
          logger.info({ simulatorPort: port }, 'sandbox simulator taken over');
        },
        (err: NodeJS.ErrnoException) => {
          if (closed) return;
          if (err.code !== 'EADDRINUSE') logger.warn({ simulatorPort: port, error: err.message }, 'sandbox simulator could not bind its port; trying again');
          schedule(Math.min(delayMs * 2, TAKEOVER_MAX_MS));
        },
      );
    }, delayMs);
  };
  const handle: { state: SandboxSimulator['state']; port: number; close(): Promise<void> } = {
    state: 'standby',
    port,
    async close() {
      closed = true;
      clearTimeout(timer);
      await attempt;
      await simulator?.close();
    },
  };
  schedule(TAKEOVER_BASE_MS);
  return handle;
}

/**
 * Whether the program on the port is a simulator of this sandbox: one whose control API
 * issues tokens that verify with our secret. Anything else (another program, a simulator of
 * another store, `ofgw sandbox`) is not.
 */
async function heldBySameSandbox(port: number, secret: string): Promise<boolean> {
  try {
    const res = await fetch(`http://${SANDBOX_HOST}:${port}/_sim/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userId: SANDBOX_USER_ID, ttlSeconds: 60 }),
      signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
    });
    const body = (await res.json()) as { token?: unknown };
    return typeof body.token === 'string' && verifyToken(secret, body.token, Math.floor(Date.now() / 1000)).status === 'valid';
  } catch {
    return false;
  }
}
