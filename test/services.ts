/**
 * The machine's PostgreSQL and Redis for tests. Tests that need one run whenever it is
 * reachable; on a machine without it they skip, except under CI=true, where a missing service
 * fails the run (a skipped suite must not pass as green).
 *
 *   test('…', { skip: await serviceSkip('postgres') }, async () => { … })
 */
import net from 'node:net';

export const POSTGRES_URL = process.env.OFGW_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env.OFGW_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export type Service = 'postgres' | 'redis';

const URLS: Record<Service, string> = { postgres: POSTGRES_URL, redis: REDIS_URL };
const DEFAULT_PORTS: Record<Service, number> = { postgres: 5432, redis: 6379 };
const probes = new Map<Service, Promise<boolean>>();

/** True when a TCP connection to the service opens within `timeoutMs`. */
function reachable(service: Service, timeoutMs = 1000): Promise<boolean> {
  const url = new URL(URLS[service]);
  const port = Number(url.port || DEFAULT_PORTS[service]);
  return new Promise((resolve) => {
    const socket = net.connect({ host: url.hostname, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * `false` when the service is reachable (run the test); a skip reason when it is not;
 * throws under CI=true when it is not.
 */
export async function serviceSkip(service: Service): Promise<string | false> {
  let probe = probes.get(service);
  if (!probe) probes.set(service, (probe = reachable(service)));
  if (await probe) return false;
  const where = new URL(URLS[service]).host;
  if (process.env.CI === 'true') throw new Error(`${service} is not reachable at ${where}, and CI=true requires it`);
  return `${service} is not reachable at ${where}`;
}
