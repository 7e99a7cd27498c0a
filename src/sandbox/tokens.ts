/**
 * Stand-ins for OnlyFans `wsAuthToken`s (onlyfans-ws-protocol.md §2.1): JWT-shaped, so a
 * gateway that peeks at `exp` works as it would upstream. Real tokens are said to be RS256;
 * the simulator signs with HS256 under a per-instance secret because only it has to verify.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** Outcome of checking a token presented in a `connect` act. */
export type TokenCheck =
  | { status: 'valid'; userId: string; exp: number }
  | { status: 'expired'; userId: string; exp: number }
  | { status: 'invalid' };

const INVALID: TokenCheck = { status: 'invalid' };
const BASE64URL = /^[A-Za-z0-9_-]+$/;
// Key order typ, alg gives the `eyJ0eXAi…` prefix that real tokens show.
const HEADER = Buffer.from(JSON.stringify({ typ: 'JWT', alg: 'HS256' })).toString('base64url');
const MAX_USER_ID_LENGTH = 64;

/** A random signing secret, used when the caller does not fix one. */
export function randomSecret(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * The canonical string form of a user id (numbers and digit strings name the same user).
 * Throws RangeError for anything that cannot be an id, so API misuse fails loudly.
 */
export function userKey(userId: unknown): string {
  if (typeof userId === 'number' && Number.isSafeInteger(userId) && userId >= 0) {
    return String(userId);
  }
  if (
    typeof userId === 'string' &&
    userId.length > 0 &&
    userId.length <= MAX_USER_ID_LENGTH &&
    !/[\s/?#]/.test(userId)
  ) {
    return userId;
  }
  throw new RangeError(
    `userId must be a non-negative integer or a string of 1–${MAX_USER_ID_LENGTH} characters without spaces, "/", "?" or "#"`,
  );
}

/** Signs `{sub, iat, exp}` (seconds) into `header.payload.signature`. */
export function signToken(secret: string, userId: string, nowSeconds: number, ttlSeconds: number): string {
  const payload = Buffer.from(
    JSON.stringify({ sub: userId, iat: nowSeconds, exp: nowSeconds + ttlSeconds }),
  ).toString('base64url');
  return `${HEADER}.${payload}.${sign(secret, `${HEADER}.${payload}`)}`;
}

/**
 * Checks shape, HS256 signature and `exp`. A correctly signed but expired token is reported
 * as `expired` rather than `invalid` so the `stop-content-after-exp` fault can admit it.
 */
export function verifyToken(secret: string, token: string, nowSeconds: number): TokenCheck {
  const parts = token.split('.');
  if (parts.length !== 3) return INVALID;
  const [header, payload, signature] = parts as [string, string, string];
  if (!BASE64URL.test(header) || !BASE64URL.test(payload) || !BASE64URL.test(signature)) {
    return INVALID;
  }
  const expected = Buffer.from(sign(secret, `${header}.${payload}`));
  const given = Buffer.from(signature);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return INVALID;

  const head = decodeJsonObject(header);
  const claims = decodeJsonObject(payload);
  if (head?.alg !== 'HS256' || claims === undefined) return INVALID;
  const { sub, exp } = claims;
  if (typeof exp !== 'number' || !Number.isFinite(exp)) return INVALID;
  let userId: string;
  try {
    userId = userKey(sub);
  } catch {
    return INVALID;
  }
  return exp > nowSeconds ? { status: 'valid', userId, exp } : { status: 'expired', userId, exp };
}

function sign(secret: string, input: string): string {
  return createHmac('sha256', secret).update(input).digest('base64url');
}

function decodeJsonObject(part: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
