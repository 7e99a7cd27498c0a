/**
 * JSON over `node:http` for the management and customer APIs: bounded body reading, the
 * `{error, code}` error shape and the error type handlers throw.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';
import { describeIssues, parseWithIssues, type InputIssue } from '../input-issues.js';

/** Bodies are small records; anything bigger is a mistake or an attack. */
export const MAX_BODY_BYTES = 64 * 1024;

/** The stable codes of the management API's error answers, with their HTTP status. */
export const API_ERRORS = {
  ADMIN_DISABLED: 404,
  UNAUTHORIZED: 401,
  CSRF: 403,
  NOT_FOUND: 404,
  INVALID_INPUT: 400,
  METHOD_NOT_ALLOWED: 405,
  CONFLICT: 409,
  BODY_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  INTERNAL: 500,
  CLUSTER_UNAVAILABLE: 503,
} as const;

export type ApiErrorCode = keyof typeof API_ERRORS;

/**
 * A failure answered as `{error, code}` with the code's status, plus `issues` for
 * INVALID_INPUT (each field as sent and the rule it broke). The message never holds a secret.
 */
export class ApiError extends Error {
  readonly code: ApiErrorCode;
  readonly issues: readonly InputIssue[];

  constructor(code: ApiErrorCode, message: string, issues: readonly InputIssue[] = []) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.issues = issues;
  }

  get status(): number {
    return API_ERRORS[this.code];
  }
}

/** Writes `body` as JSON (or nothing for 204) with the given status. */
export function sendJson(res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}): void {
  if (body === undefined) {
    res.writeHead(status, headers);
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(text)),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

/** Writes the `{error, code}` answer; `status` defaults to the code's own. */
export function sendError(res: ServerResponse, code: string, message: string, status: number, headers: Record<string, string> = {}): void {
  sendJson(res, status, { error: message, code }, headers);
}

/** Writes `error` as `{error, code}`, with its `issues` when it has any. */
export function sendApiError(res: ServerResponse, error: ApiError, headers: Record<string, string> = {}): void {
  sendJson(res, error.status, { error: error.message, code: error.code, ...(error.issues.length > 0 ? { issues: error.issues } : {}) }, headers);
}

/**
 * Reads the request body as JSON; an empty body is `undefined`. Enforces the size bound
 * (declared or actual) and the JSON content type.
 * @throws {ApiError} BODY_TOO_LARGE, UNSUPPORTED_MEDIA_TYPE or INVALID_INPUT (malformed JSON).
 */
export async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const tooLarge = (): ApiError => new ApiError('BODY_TOO_LARGE', `The request body is larger than ${MAX_BODY_BYTES} bytes`);
  if (Number(req.headers['content-length'] ?? 0) > MAX_BODY_BYTES) throw tooLarge();
  const body = await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) return void chunks.push(chunk);
      // Stop buffering but leave the socket alone, so the 413 can still be written.
      req.off('data', onData);
      req.pause();
      reject(tooLarge());
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', reject);
  });
  if (body.length === 0) return undefined;
  const type = (req.headers['content-type'] ?? '').split(';', 1)[0]?.trim().toLowerCase();
  if (type !== 'application/json') {
    throw new ApiError('UNSUPPORTED_MEDIA_TYPE', `The request body must be JSON: send Content-Type: application/json (got "${type ?? ''}")`);
  }
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    throw new ApiError('INVALID_INPUT', 'The request body is not valid JSON');
  }
}

const SENT_AS = { body: 'body field', query: 'query parameter' } as const;

/**
 * Validates `value` against `schema`, or throws INVALID_INPUT naming every bad field as it
 * was sent and its rule (`query parameter limit must be a whole number`), never the value,
 * which may be a secret.
 */
export function validate<S extends z.ZodType>(schema: S, value: unknown, where: 'body' | 'query'): z.output<S> {
  const parsed = parseWithIssues(schema, value);
  if (parsed.ok) return parsed.data;
  const message = describeIssues(parsed.issues, (field) => (field === '' ? `the ${where}` : `${SENT_AS[where]} ${field}`));
  throw new ApiError('INVALID_INPUT', message, parsed.issues);
}
