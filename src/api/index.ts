/**
 * The customer API (issue 4 item 7): `GET /api/models` and `GET /api/models/{model_id}`,
 * authenticated with an API key like the WebSocket, answering with the contract's error
 * codes and statuses. Only ids, names and statuses: never a credential. Also the AsyncAPI
 * document of the customer interfaces at `GET /api/asyncapi.json`, without a key: it describes
 * the interfaces only, and a developer reads it before having a key.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { bearerOf } from '../admin/auth.js';
import { ASYNCAPI_PATH, asyncApiDocument } from './asyncapi.js';
import { sendError, sendJson } from '../admin/http.js';
import { keyIsUsable } from '../gateway/admission.js';
import type { Gateway, HttpRoute } from '../gateway/server.js';
import { ERROR_CATALOG, GatewayError } from '../errors.js';
import type { ModelRecord, Store } from '../store/types.js';

/** `/api/models` or `/api/models/{id}`; `/api/models/{id}/ws` is the relay's and stays unclaimed. */
const MODELS_PATH = /^\/api\/models(?:\/([^/]+))?\/?$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** What a customer sees of a model. */
export interface CustomerModel {
  id: string;
  name: string | null;
  status: ModelRecord['status'];
}

const view = ({ id, name, status }: ModelRecord): CustomerModel => ({ id, name, status });

/** A Host header fit to name the gateway's servers in the document: a name or address and port. */
const HOST = /^[A-Za-z0-9.-]{1,253}(?::\d{1,5})?$|^\[[0-9A-Fa-f:.]{2,45}\](?::\d{1,5})?$/;

export interface CustomerRouteOptions {
  /** Shown as `info.version` in the AsyncAPI document. */
  version?: string;
}

/** The customer API as one gateway route. */
export function createCustomerRoutes(gateway: Gateway, options: CustomerRouteOptions = {}): HttpRoute {
  return (req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0] ?? '/';
    if (path === ASYNCAPI_PATH) {
      if (!allowGet(req.method, path, res)) return true;
      const host = req.headers.host;
      sendJson(res, 200, asyncApiDocument({ version: options.version, host: host !== undefined && HOST.test(host) ? host : undefined }));
      return true;
    }
    const match = MODELS_PATH.exec(path);
    if (!match) return false;
    if (!allowGet(req.method, path, res)) return true;
    void answer(gateway.store, req, match[1]).then(
      (body) => sendJson(res, 200, body),
      (err: unknown) => {
        if (err instanceof GatewayError) sendError(res, err.code, err.message, ERROR_CATALOG[err.code].httpStatus);
        else sendError(res, 'INTERNAL', 'Internal error', 500);
      },
    );
    return true;
  };
}

/** False, having answered 405, for a method other than GET or HEAD. */
function allowGet(method: string | undefined, path: string, res: ServerResponse): boolean {
  if (method === 'GET' || method === 'HEAD') return true;
  sendError(res, 'METHOD_NOT_ALLOWED', `${method ?? ''} is not allowed on ${path} (allowed: GET)`, 405, { allow: 'GET' });
  return false;
}

/** Checks 1–4 of the contract, then the listing or the one model. */
async function answer(store: Store, req: IncomingMessage, segment: string | undefined): Promise<CustomerModel | CustomerModel[]> {
  const apiKey = apiKeyOf(req);
  if (!apiKey) throw new GatewayError('NO_API_KEY', 'No API key: pass it in the X-API-Key header or as Authorization: Bearer');
  const key = await store.findApiKey(apiKey);
  if (!keyIsUsable(key, new Date())) throw new GatewayError('INVALID_API_KEY');
  const subscription = await store.getSubscription(key.orgId);
  if (subscription?.status !== 'active') throw new GatewayError('NO_SUBSCRIPTION');
  if (segment === undefined) return (await store.listModels(key.orgId)).map(view);
  const id = safeDecode(segment).toLowerCase();
  const model = UUID.test(id) ? await store.getModel(id) : undefined;
  // Another organization's model is as unknown as a missing one.
  if (!model || model.orgId !== key.orgId) throw new GatewayError('MODEL_NOT_FOUND');
  return view(model);
}

/** The key from `X-API-Key`, else from `Authorization: Bearer` (no query parameter: URLs get logged). */
function apiKeyOf(req: IncomingMessage): string | undefined {
  const header = req.headers['x-api-key'];
  if (typeof header === 'string' && header.trim() !== '') return header.trim();
  return bearerOf(req);
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment; // fails the UUID check: MODEL_NOT_FOUND
  }
}

