/**
 * OnlyFans WS tokens are JWTs with an `exp` claim (onlyfans-ws-protocol.md §2.1). The
 * gateway cannot verify their signature (OnlyFans holds the key) but can read `exp`, so a
 * token known to be expired is refused without contacting OnlyFans.
 */

/** The token's expiry, or `null` when it is not a JWT or carries no numeric `exp`. */
export function tokenExpiry(token: string): Date | null {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts[1]) return null;
  try {
    const payload: unknown = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    if (typeof payload !== 'object' || payload === null) return null;
    const exp = (payload as { exp?: unknown }).exp;
    return typeof exp === 'number' && Number.isFinite(exp) ? new Date(exp * 1000) : null;
  } catch {
    return null;
  }
}
