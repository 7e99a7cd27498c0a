/**
 * Liveness and readiness for orchestrators and load balancers:
 *
 * - `GET /healthz` → 200 `{"status":"ok"}` whenever the process answers HTTP. It checks
 *   nothing else on purpose: a liveness failure restarts the process, and a restart does not
 *   fix an unreachable database.
 * - `GET /readyz` → 200 `{"status":"ready"}` when the store answers a cheap query within
 *   {@link READY_TIMEOUT_MS}, the gateway is not draining and, in a cluster, reaches Redis;
 *   otherwise 503 `{"status":"not ready","reason":"draining"}`, `…"store unreachable: …"}` or
 *   `…"cluster coordination unavailable (Redis)"}`,
 *   so traffic moves elsewhere while relays here keep running.
 *
 * HEAD answers the same status without a body; other methods get 405.
 */
import type { HttpRoute } from '../http-route.js';
import type { ObservedGateway } from './observed.js';
import { sendText } from './respond.js';

/** How long the store may take to answer the readiness query. */
export const READY_TIMEOUT_MS = 1000;

const JSON_TYPE = 'application/json; charset=utf-8';

type Readiness = { ready: true } | { ready: false; reason: string };

/** One route answering both `/healthz` and `/readyz`; every other path is left alone. */
export function createHealthRoutes(gateway: ObservedGateway): HttpRoute {
  // Probes from several load balancers share one store query instead of piling them up
  // behind a slow database.
  let inFlight: Promise<Readiness> | undefined;
  const readiness = (): Promise<Readiness> => {
    inFlight ??= checkStore(gateway).finally(() => (inFlight = undefined));
    return inFlight;
  };

  return (req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (path !== '/healthz' && path !== '/readyz') return false;
    const method = req.method;
    if (method !== 'GET' && method !== 'HEAD') {
      sendText(res, 405, JSON_TYPE, JSON.stringify({ status: 'method not allowed' }), method, { allow: 'GET, HEAD' });
      return true;
    }
    if (path === '/healthz') {
      sendText(res, 200, JSON_TYPE, JSON.stringify({ status: 'ok' }), method);
      return true;
    }
    const answer = (r: Readiness): void => {
      if (r.ready) sendText(res, 200, JSON_TYPE, JSON.stringify({ status: 'ready' }), method);
      else sendText(res, 503, JSON_TYPE, JSON.stringify({ status: 'not ready', reason: r.reason }), method);
    };
    // Draining and a lost Redis are known at once; draining also wins over a store answer
    // that arrives mid-drain.
    if (gateway.isDraining) answer(DRAINING);
    else if (!gateway.coordinationAvailable) answer(UNCOORDINATED);
    else void readiness().then((r) => answer(gateway.isDraining ? DRAINING : r));
    return true;
  };
}

const DRAINING: Readiness = { ready: false, reason: 'draining' };
/** New relays are refused with 1011 until Redis is back, so send them to another node. */
const UNCOORDINATED: Readiness = { ready: false, reason: 'cluster coordination unavailable (Redis)' };

/** `store.latestChangeSeq()` raced against the timeout; never rejects. */
async function checkStore(gateway: ObservedGateway): Promise<Readiness> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Readiness>((resolve) => {
    timer = setTimeout(resolve, READY_TIMEOUT_MS, { ready: false, reason: `store unreachable: no answer within ${READY_TIMEOUT_MS} ms` });
  });
  const query = gateway.store.latestChangeSeq().then(
    (): Readiness => ({ ready: true }),
    (err: unknown): Readiness => ({ ready: false, reason: `store unreachable: ${err instanceof Error ? err.message : String(err)}` }),
  );
  try {
    return await Promise.race([query, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
