/**
 * The one catalog of customer-facing errors (contract §2–§3). Each entry carries the stable
 * `code` clients branch on, the WebSocket close code sent after the error frame, the HTTP
 * status used where the same error answers a plain HTTP request, a default human message and
 * the client's expected reaction. `docs/errors.md` is generated from this table and a test
 * keeps the two in step.
 */

export interface ErrorSpec {
  /** WebSocket close code (contract §3: `4000 + HTTP status`). */
  readonly closeCode: number;
  readonly httpStatus: number;
  /** Default `error` text; callers may give a more precise one. Never holds a secret. */
  readonly message: string;
  /** When this error is returned. */
  readonly meaning: string;
  /** What a client should do (contract §3). */
  readonly clientAction: string;
  /** Whether a client may retry automatically (with backoff) after this error. */
  readonly retry: boolean;
  /** A caveat for the docs, e.g. a code the contract reserves that this version never sends. */
  readonly note?: string;
  /**
   * False for errors about one frame of an open connection (sessions-contract.md §3): the error
   * frame is sent and the socket stays open; `closeCode` applies where the error ends a
   * connection anyway (e.g. before the confirmation).
   */
  readonly closes?: boolean;
}

export const ERROR_CATALOG = {
  NO_API_KEY: {
    closeCode: 4401,
    httpStatus: 401,
    message: 'No API key: pass it in the X-API-Key header or the api_key query parameter',
    meaning: 'no key given',
    clientAction: 'fix; do not retry',
    retry: false,
  },
  INVALID_API_KEY: {
    closeCode: 4401,
    httpStatus: 401,
    message: 'The API key is unknown, revoked or expired',
    meaning: 'key unknown, revoked (also while connected) or expired',
    clientAction: 'fix; do not retry',
    retry: false,
  },
  NO_SUBSCRIPTION: {
    closeCode: 4402,
    httpStatus: 402,
    message: 'The organization has no active subscription',
    meaning: 'organization has no active subscription (also if it ends while connected)',
    clientAction: 'fix; do not retry',
    retry: false,
  },
  MODEL_NOT_FOUND: {
    closeCode: 4404,
    httpStatus: 404,
    message: 'No such model for this organization',
    meaning: 'no such model for this organization (malformed, unknown or another organization\'s id)',
    clientAction: 'fix; do not retry',
    retry: false,
  },
  MODEL_NOT_CONNECTED: {
    closeCode: 4409,
    httpStatus: 409,
    message: 'Model is not connected',
    meaning: 'model session inactive (also if disconnected while connected); for server-sent events also a model in relay mode (SSE needs session mode\'s event log)',
    clientAction: 'reconnect the model, then retry',
    retry: false,
  },
  NO_WS_CREDENTIALS: {
    closeCode: 4412,
    httpStatus: 412,
    message: 'The model has no usable WebSocket credentials',
    meaning: 'model has no WS URL or token, or its token is known to be expired',
    clientAction: 'refresh the model, then retry',
    retry: false,
  },
  WS_CONNECT_ERROR: {
    closeCode: 4502,
    httpStatus: 502,
    message: 'Could not open the OnlyFans socket',
    meaning: 'the gateway could not open or authenticate the upstream socket',
    clientAction: 'retry with exponential backoff',
    retry: true,
  },
  RATE_LIMITED: {
    closeCode: 4429,
    httpStatus: 429,
    message: 'Too many connection attempts or messages',
    meaning: 'too many connection attempts (per IP, per key, failed authentications per IP) or messages (per relay, or held before the confirmation)',
    clientAction: 'retry after retryAfterMs',
    retry: true,
  },
  CONNECTION_LIMIT: {
    closeCode: 4429,
    httpStatus: 429,
    message: 'The plan\'s concurrent connection limit is reached',
    meaning: 'the plan\'s concurrent relays per organization, or the concurrent OnlyFans sockets per model, are in use',
    clientAction: 'retry later',
    retry: true,
  },
  SLOW_CONSUMER: {
    closeCode: 4408,
    httpStatus: 408,
    message: 'The client read too slowly and its buffer passed the limit',
    meaning: 'the client read too slowly and its buffer passed the hard cap',
    clientAction: 'reconnect with backoff',
    retry: true,
  },
  BAD_REQUEST: {
    closeCode: 4400,
    httpStatus: 400,
    message: 'The request\'s query parameters are not valid',
    meaning: 'a malformed query parameter (format, since; on /api/ws models, events), or a relay-mode model asked for on a multi-model socket (that model only, in an error frame)',
    clientAction: 'fix; do not retry',
    retry: false,
  },
  ACTION_NOT_ALLOWED: {
    closeCode: 4403,
    httpStatus: 403,
    message: 'This frame may not be sent up a shared OnlyFans socket',
    meaning: 'a session-mode client sent a frame that is not JSON with an allow-listed act (sessionAllowedActs); it was not sent, the socket stays open',
    clientAction: 'fix the frame; the connection stays open',
    retry: false,
    closes: false,
  },
  REQUEST_FAILED: {
    closeCode: 4504,
    httpStatus: 504,
    message: 'The request got no reply from OnlyFans in time',
    meaning: 'a session-mode client\'s get_onlines got no reply within sessionRequestTimeoutMs, or the upstream was down; that request fails, the socket stays open',
    clientAction: 'retry the request later; the connection stays open',
    retry: true,
    closes: false,
  },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_CATALOG;

/** HTTP-only answers (contract §1); they never close a WebSocket. */
export const HTTP_ERRORS = {
  UPGRADE_REQUIRED: { httpStatus: 426, message: 'This endpoint only speaks WebSocket: send Upgrade: websocket' },
  NOT_FOUND: { httpStatus: 404, message: 'No such endpoint' },
  SHUTTING_DOWN: { httpStatus: 503, message: 'The gateway is shutting down' },
  METHOD_NOT_ALLOWED: { httpStatus: 405, message: 'This endpoint answers GET only (server-sent events)' },
  BAD_HANDSHAKE: { httpStatus: 400, message: 'Not a valid WebSocket handshake (Sec-WebSocket-Key or -Version missing or wrong; 405 for a method other than GET)' },
} as const;

export type HttpErrorCode = keyof typeof HTTP_ERRORS;

/**
 * Close codes without an error frame (contract §3). The reason text sent with them is
 * informative only.
 */
export const PLAIN_CLOSE_CODES = {
  SERVICE_RESTART: { code: 1012, meaning: 'the gateway is restarting or draining', clientAction: 'reconnect with jitter' },
  BAD_GATEWAY: {
    code: 1014,
    meaning: 'the upstream socket failed after the relay was open (abnormal close, dead heartbeat)',
    clientAction: 'retry with backoff',
  },
  MESSAGE_TOO_BIG: { code: 1009, meaning: 'a message over the size limit', clientAction: 'fix the sender' },
  INTERNAL_ERROR: { code: 1011, meaning: 'unexpected gateway error', clientAction: 'retry with backoff' },
} as const;

/**
 * A customer-facing failure: carries its catalog code so the relay can send the error
 * frame and the matching close code.
 */
export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly closeCode: number;
  /** Extra fields for the error frame (e.g. `retryAfterMs`). */
  readonly extra: Readonly<Record<string, unknown>> | undefined;

  constructor(code: ErrorCode, message?: string, extra?: Record<string, unknown>) {
    const spec = ERROR_CATALOG[code];
    super(message ?? spec.message);
    this.name = 'GatewayError';
    this.code = code;
    this.closeCode = spec.closeCode;
    this.extra = extra;
  }

  /** The contract's error frame: `{"error": ..., "code": ...}` plus any extra fields. */
  toFrame(): string {
    return JSON.stringify({ error: this.message, code: this.code, ...this.extra });
  }
}
