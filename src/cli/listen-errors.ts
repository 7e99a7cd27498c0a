/**
 * Why `ofgw serve` could not listen, in the words the operator uses: the flag and variable of
 * the port that failed (the gateway's `--port` or the sandbox's `--sandbox-port`), never a
 * bare `listen EADDRINUSE` nor the other port's setting.
 */
import { createServer } from 'node:net';
import { SETTINGS } from '../config.js';

/** One port the start listens on, and how the operator sets it. */
export interface PortSetting {
  /** What listens there, for the message. */
  what: string;
  setting: 'port' | 'sandboxPort';
  flag: string;
  env: string;
  /** Said when the port is taken: the way out besides another port. */
  alternative?: string;
}

export const GATEWAY_PORT: PortSetting = { what: 'the gateway', setting: 'port', flag: '--port', env: SETTINGS.port.env };

export const SANDBOX_PORT: PortSetting = {
  what: 'the sandbox simulator',
  setting: 'sandboxPort',
  flag: '--sandbox-port',
  env: SETTINGS.sandboxPort.env,
  alternative: 'start with --production to run without the sandbox',
};

/**
 * An error whose message says which port could not be used and how to change it; any other
 * error is returned as it is.
 * @example portUnavailableError(err, GATEWAY_PORT, '127.0.0.1', 8080).message
 *   // 'cannot listen on 127.0.0.1:8080 for the gateway: the port is already in use (8080 is the default of --port). …'
 */
export function portUnavailableError(err: unknown, port: PortSetting, host: string, value: number): Error {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const where = `cannot listen on ${host}:${value} for ${port.what}`;
  const origin = value === SETTINGS[port.setting].default ? ` (${value} is the default of ${port.flag})` : '';
  const change = `choose another port with ${port.flag} or ${port.env} (0 picks a free one)`;
  switch (code) {
    case 'EADDRINUSE':
      return new Error(`${where}: the port is already in use${origin}. ${oneOf(['stop what holds it', change, ...(port.alternative ? [port.alternative] : [])])}`);
    case 'EACCES':
      return new Error(`${where}: permission denied (ports below 1024 need privileges)${origin}. ${oneOf([change])}`);
    case 'EADDRNOTAVAIL':
      return new Error(`${where}: ${host} is not an address of this machine; check --host or ${SETTINGS.host.env}`);
    default:
      return err instanceof Error ? err : new Error(String(err));
  }
}

/** `['a', 'b', 'c']` → 'A, b or c.' */
function oneOf(ways: string[]): string {
  const text = ways.length > 1 ? `${ways.slice(0, -1).join(', ')} or ${ways[ways.length - 1] as string}` : (ways[0] ?? '');
  return `${text.charAt(0).toUpperCase()}${text.slice(1)}.`;
}

/**
 * Checks that `host:value` can be listened on right now, for a start that must know before it
 * writes anything; port 0 always can.
 * @throws {Error} from {@link portUnavailableError}.
 */
export async function assertPortFree(port: PortSetting, host: string, value: number): Promise<void> {
  if (value === 0) return;
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(portUnavailableError(err, port, host, value)));
    server.listen({ host, port: value, exclusive: true }, () => server.close(() => resolve()));
  });
}
