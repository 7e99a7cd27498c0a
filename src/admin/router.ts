/**
 * The management API's route table and dispatcher. One table of {method, path, schemas,
 * summary, handler} drives both the routing and the OpenAPI document, so the two cannot
 * drift apart.
 */
import type { IncomingMessage } from 'node:http';
import type { z } from 'zod';
import type { Gateway } from '../gateway/server.js';
import type { Logger } from '../log.js';
import type { Actor, Store } from '../store/types.js';
import { ApiError, readJsonBody, validate, type ApiErrorCode } from './http.js';

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** What a handler answers: a status and a JSON body (none for 204). */
export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string> | undefined;
}

/** What a handler is given, with body and query already validated. */
export interface RouteContext<B, Q> {
  gateway: Gateway;
  /** The gateway's store as the caller: every change made through it is in the audit trail. */
  store: Store;
  /** Who is calling (CLI remote, dashboard session, API client). */
  actor: Actor;
  logger: Logger;
  params: Record<string, string>;
  body: B;
  query: Q;
}

/** A route as written in a resource file (typed by its schemas). */
export interface RouteSpec<B extends z.ZodType | undefined, Q extends z.ZodType | undefined> {
  method: Method;
  /** Relative to `/admin/v1`, with `{name}` parameters: `/models/{id}`. */
  path: string;
  summary: string;
  /** A `.strict()` object schema; an empty body counts as `{}`. */
  body?: B;
  query?: Q;
  success: Success;
  /** Error codes this route answers besides the ones every route may (401, 500…). */
  errors: ApiErrorCode[];
  handler(ctx: RouteContext<Parsed<B>, Parsed<Q>>): Promise<Reply>;
}

/** The success status, what it means, and the body's shape (none for 204). */
export interface Success {
  status: number;
  description: string;
  schema?: z.ZodType;
}

type Parsed<S> = S extends z.ZodType ? z.output<S> : undefined;

/** A route in the table: its metadata plus a runner that validates input, then calls the handler. */
export interface Route {
  method: Method;
  path: string;
  summary: string;
  body: z.ZodType | undefined;
  query: z.ZodType | undefined;
  success: Success;
  errors: ApiErrorCode[];
  params: string[];
  pattern: RegExp;
  run(req: IncomingMessage, raw: RawContext): Promise<Reply>;
}

export interface RawContext {
  gateway: Gateway;
  store: Store;
  actor: Actor;
  logger: Logger;
  params: Record<string, string>;
  search: URLSearchParams;
}

/** Turns a typed spec into a table entry (compiles its path, binds its validation). */
export function defineRoute<B extends z.ZodType | undefined = undefined, Q extends z.ZodType | undefined = undefined>(
  spec: RouteSpec<B, Q>,
): Route {
  const params = [...spec.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1] as string);
  const pattern = new RegExp(`^${spec.path.replace(/\{\w+\}/g, '([^/]+)')}$`);
  return {
    method: spec.method,
    path: spec.path,
    summary: spec.summary,
    body: spec.body,
    query: spec.query,
    success: spec.success,
    errors: spec.errors,
    params,
    pattern,
    async run(req, raw) {
      const body = spec.body === undefined ? undefined : validate(spec.body, (await readJsonBody(req)) ?? {}, 'body');
      const query = spec.query === undefined ? undefined : validate(spec.query, Object.fromEntries(raw.search), 'query');
      return spec.handler({ ...raw, body: body as Parsed<B>, query: query as Parsed<Q> });
    },
  };
}

/** The route for `method` and `path`, the methods the path allows, or nothing. */
export function matchRoute(
  table: readonly Route[],
  method: string,
  path: string,
): { route: Route; params: Record<string, string> } | { allowed: Method[] } | undefined {
  const allowed: Method[] = [];
  for (const route of table) {
    const m = route.pattern.exec(path);
    if (!m) continue;
    if (route.method !== method) {
      allowed.push(route.method);
      continue;
    }
    const params: Record<string, string> = {};
    route.params.forEach((name, i) => (params[name] = decodeSegment(m[i + 1] ?? '')));
    return { route, params };
  }
  return allowed.length > 0 ? { allowed } : undefined;
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new ApiError('NOT_FOUND', 'No such record: the id in the path is malformed');
  }
}
