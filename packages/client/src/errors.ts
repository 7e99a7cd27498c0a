/**
 * The errors a client can meet: the gateway's contract codes (each sent as an error frame
 * before a close) and the few this SDK adds for what happens on its own side. A gateway error
 * frame and the close that follows it become one {@link OfgwError}.
 */

/**
 * The gateway's codes (contract §3), with their close codes and whether the SDK retries on its
 * own. `retry: false` codes need a person to fix something first; see the package README for
 * why MODEL_NOT_CONNECTED and NO_WS_CREDENTIALS are not retried by default. `closes: false`
 * codes (sessions-contract.md §3) refuse one frame or request and leave the connection open.
 */
export const GATEWAY_ERRORS = {
  NO_API_KEY: { closeCode: 4401, retry: false },
  INVALID_API_KEY: { closeCode: 4401, retry: false },
  NO_SUBSCRIPTION: { closeCode: 4402, retry: false },
  MODEL_NOT_FOUND: { closeCode: 4404, retry: false },
  MODEL_NOT_CONNECTED: { closeCode: 4409, retry: false },
  NO_WS_CREDENTIALS: { closeCode: 4412, retry: false },
  WS_CONNECT_ERROR: { closeCode: 4502, retry: true },
  RATE_LIMITED: { closeCode: 4429, retry: true },
  CONNECTION_LIMIT: { closeCode: 4429, retry: true },
  SLOW_CONSUMER: { closeCode: 4408, retry: true },
  BAD_REQUEST: { closeCode: 4400, retry: false },
  // These two answer one frame of an open connection, which stays open (`closes: false`).
  ACTION_NOT_ALLOWED: { closeCode: 4403, retry: false, closes: false },
  REQUEST_FAILED: { closeCode: 4504, retry: true, closes: false },
} as const satisfies Record<string, { closeCode: number; retry: boolean; closes?: false }>;

/** A code the gateway sends in its error frame (contract §3). */
export type GatewayErrorCode = keyof typeof GATEWAY_ERRORS;

/**
 * Codes of this SDK's own:
 * - `CLOSED`: the relay closed without an error frame; `closeCode` says why (1012 restart,
 *   1014 upstream failed, 1006 connection lost or refused, 1000 closed by the server…);
 * - `CONNECT_TIMEOUT`: no confirmation within `connectTimeoutMs`;
 * - `ABORTED`: `close()` was called or the `signal` aborted;
 * - `NOT_CONNECTED`: `send()` or `getOnlines()` while no relay is open;
 * - `TIMEOUT`: `getOnlines()` got no reply within its timeout.
 */
export type ClientErrorCode = 'CLOSED' | 'CONNECT_TIMEOUT' | 'ABORTED' | 'NOT_CONNECTED' | 'TIMEOUT';

export type OfgwErrorCode = GatewayErrorCode | ClientErrorCode;

/** What the SDK knows about a failure, besides its message. */
export interface OfgwErrorDetails {
  /** The WebSocket close code, when a close was received. */
  closeCode?: number;
  /** The close reason (the code string for gateway errors). */
  closeReason?: string;
  /** RATE_LIMITED: how long the gateway asked to wait, in milliseconds. */
  retryAfterMs?: number;
  /** The gateway's error frame as received (it may hold more fields, e.g. `stage`). */
  frame?: Record<string, unknown>;
  /** Envelope format: the request this error answers (what `send()` returned). */
  requestId?: string;
}

/**
 * The one error type the SDK rejects with and emits. Branch on `code`; `message` is human
 * text and may change.
 *
 * @example
 * try { await connect(options) } catch (e) {
 *   if (e instanceof OfgwError && e.code === 'INVALID_API_KEY') askForANewKey()
 * }
 */
export class OfgwError extends Error {
  readonly code: OfgwErrorCode;
  readonly closeCode: number | undefined;
  readonly closeReason: string | undefined;
  readonly retryAfterMs: number | undefined;
  readonly frame: Record<string, unknown> | undefined;
  readonly requestId: string | undefined;

  constructor(code: OfgwErrorCode, message: string, details: OfgwErrorDetails = {}) {
    super(message);
    this.name = 'OfgwError';
    this.code = code;
    this.closeCode = details.closeCode;
    this.closeReason = details.closeReason;
    this.retryAfterMs = details.retryAfterMs;
    this.frame = details.frame;
    this.requestId = details.requestId;
  }

  /** True for the gateway's codes, false for the SDK's own. */
  get fromGateway(): boolean {
    return isGatewayErrorCode(this.code);
  }
}

/** Whether `code` is one of the gateway's contract codes. */
export function isGatewayErrorCode(code: unknown): code is GatewayErrorCode {
  return typeof code === 'string' && Object.prototype.hasOwnProperty.call(GATEWAY_ERRORS, code);
}

/**
 * Whether the gateway keeps the connection open after this error (ACTION_NOT_ALLOWED,
 * REQUEST_FAILED: one frame or request was refused); false for the codes whose close follows.
 */
export function keepsConnection(code: GatewayErrorCode): boolean {
  const spec: { closeCode: number; closes?: false } = GATEWAY_ERRORS[code];
  return spec.closes === false;
}

/** The error of a frame that does not close the connection, with the frame kept. */
export function errorFromFrame(frame: Record<string, unknown> & { error: string; code: GatewayErrorCode }): OfgwError {
  return new OfgwError(frame.code, frame.error, { frame });
}

/**
 * The gateway's error frame, recognised by a string `error` and a known string `code`.
 * OnlyFans' own `{"error": 1}` frames (a number, no code) are relayed events, not this.
 */
export function asGatewayErrorFrame(value: unknown): (Record<string, unknown> & { error: string; code: GatewayErrorCode }) | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const frame = value as Record<string, unknown>;
  if (typeof frame.error !== 'string' || !isGatewayErrorCode(frame.code)) return undefined;
  return frame as Record<string, unknown> & { error: string; code: GatewayErrorCode };
}

/** Combines the error frame (if one came) and the close into one error. */
export function errorFromClose(
  frame: (Record<string, unknown> & { error: string; code: GatewayErrorCode }) | undefined,
  closeCode: number,
  closeReason: string,
): OfgwError {
  if (frame) {
    const retryAfterMs = typeof frame.retryAfterMs === 'number' && frame.retryAfterMs >= 0 ? frame.retryAfterMs : undefined;
    return new OfgwError(frame.code, frame.error, { closeCode, closeReason, frame, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) });
  }
  // A gateway code as the reason without its frame (the frame was lost, or a proxy ate it).
  if (closeCode >= 4000 && isGatewayErrorCode(closeReason) && GATEWAY_ERRORS[closeReason].closeCode === closeCode) {
    return new OfgwError(closeReason, `relay closed with ${closeCode} ${closeReason}`, { closeCode, closeReason });
  }
  const why = closeReason === '' ? describeClose(closeCode) : `${describeClose(closeCode)}: ${closeReason}`;
  return new OfgwError('CLOSED', `relay closed with ${closeCode} (${why})`, { closeCode, closeReason });
}

function describeClose(code: number): string {
  switch (code) {
    case 1000:
      return 'closed normally by the server';
    case 1001:
      return 'going away';
    case 1006:
      return 'connection lost or refused';
    case 1009:
      return 'a message over the size limit';
    case 1011:
      return 'unexpected gateway error';
    case 1012:
      return 'the gateway is restarting';
    case 1014:
      return 'the OnlyFans socket failed';
    default:
      return 'no error frame';
  }
}
