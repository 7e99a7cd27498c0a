/** The OpenAPI 3.1 document of the management API, generated from the route table. */
import { z } from 'zod';
import { CSRF_HEADER, SESSION_COOKIE } from './auth.js';
import { API_ERRORS, type ApiErrorCode } from './http.js';
import type { Route } from './router.js';

/** Where the management API lives; every path in the document is relative to it. */
export const ADMIN_PREFIX = '/admin/v1';

/** Errors any authenticated route may answer. */
const COMMON_ERRORS: ApiErrorCode[] = ['UNAUTHORIZED', 'METHOD_NOT_ALLOWED', 'INTERNAL'];
/** Errors any changing route may answer: a dashboard session without its CSRF token. */
const CHANGE_ERRORS: ApiErrorCode[] = ['CSRF'];
/** Errors any route with a body may answer. */
const BODY_ERRORS: ApiErrorCode[] = ['INVALID_INPUT', 'BODY_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE'];

const ERROR_REF = { $ref: '#/components/schemas/Error' };

/** Builds the document; `version` is the package version. */
export function openApiDocument(table: readonly Route[], version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  const shared: Record<string, unknown> = {};
  for (const route of table) {
    const operations = (paths[route.path] ??= {});
    operations[route.method.toLowerCase()] = operation(route, shared);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'ofgw management API',
      version,
      description: 'Operate an ofgw gateway: organizations, subscriptions, API keys, models and live relays.',
    },
    servers: [{ url: ADMIN_PREFIX }],
    security: [{ bearerAuth: [] }, { dashboardSession: [] }],
    paths,
    components: {
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', description: 'The adminToken setting (OFGW_ADMIN_TOKEN)' },
        dashboardSession: {
          type: 'apiKey',
          in: 'cookie',
          name: SESSION_COOKIE,
          description: `The dashboard's signed session (POST /dashboard/api/session); every request but GET must also send its CSRF token in ${CSRF_HEADER}`,
        },
      },
      schemas: {
        ...shared,
        Error: {
          type: 'object',
          required: ['error', 'code'],
          properties: {
            error: { type: 'string', description: 'What was wrong, for humans' },
            code: { type: 'string', enum: Object.keys(API_ERRORS), description: 'Stable code to branch on' },
            issues: {
              type: 'array',
              description: 'INVALID_INPUT only: each bad field (a body field or query parameter, as sent) and the rule it broke',
              items: {
                type: 'object',
                required: ['field', 'rule'],
                properties: { field: { type: 'string', description: 'Dotted path; empty for the whole body' }, rule: { type: 'string', description: 'e.g. "must be in the future"' } },
              },
            },
          },
        },
      },
    },
  };
}

function operation(route: Route, shared: Record<string, unknown>): Record<string, unknown> {
  const errors = new Set<ApiErrorCode>([
    ...route.errors,
    ...COMMON_ERRORS,
    ...(route.method === 'GET' ? [] : CHANGE_ERRORS),
    ...(route.body ? BODY_ERRORS : []),
    ...(route.query ? ['INVALID_INPUT' as const] : []),
  ]);
  const responses: Record<string, unknown> = {
    [route.success.status]: route.success.schema
      ? { description: route.success.description, content: { 'application/json': { schema: jsonSchema(route.success.schema, shared, 'output') } } }
      : { description: route.success.description },
  };
  for (const code of errors) {
    const status = String(API_ERRORS[code]);
    const existing = responses[status] as { description: string } | undefined;
    responses[status] = {
      description: existing ? `${existing.description} or ${code}` : code,
      content: { 'application/json': { schema: ERROR_REF } },
    };
  }
  return {
    summary: route.summary,
    operationId: `${route.method.toLowerCase()}${route.path.replace(/\{(\w+)\}/g, 'By_$1').replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) => (c ?? '').toUpperCase())}`,
    parameters: [
      ...route.params.map((name) => ({ name, in: 'path', required: true, schema: { type: 'string' } })),
      ...queryParameters(route.query, shared),
    ],
    ...(route.body ? { requestBody: { required: false, content: { 'application/json': { schema: jsonSchema(route.body, shared, 'input') } } } } : {}),
    responses,
  };
}

function queryParameters(schema: z.ZodType | undefined, shared: Record<string, unknown>): Record<string, unknown>[] {
  if (!schema) return [];
  const json = jsonSchema(schema, shared, 'input') as { properties?: Record<string, unknown>; required?: string[] };
  return Object.entries(json.properties ?? {}).map(([name, property]) => ({
    name,
    in: 'query',
    required: json.required?.includes(name) ?? false,
    schema: property,
  }));
}

/**
 * A schema as JSON Schema. Named schemas (zod `.meta({id})`) become shared components;
 * `io: 'input'` describes what callers send, before coercion.
 */
function jsonSchema(schema: z.ZodType, shared: Record<string, unknown>, io: 'input' | 'output'): Record<string, unknown> {
  const generated = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<string, unknown>;
  const { $schema: _dialect, $defs, ...rest } = JSON.parse(JSON.stringify(generated).replaceAll('"#/$defs/', '"#/components/schemas/')) as Record<string, unknown>;
  Object.assign(shared, $defs);
  return rest;
}
