/** What a customer request says about itself: its key and its model, as the client wrote them. */
import type { IncomingMessage } from 'node:http';

/** The key from `X-API-Key`, else from the `api_key` query parameter (the header wins). */
export function apiKeyOf(req: IncomingMessage, query: string): string | undefined {
  const header = req.headers['x-api-key'];
  if (typeof header === 'string' && header.trim() !== '') return header.trim();
  if (query === '') return undefined;
  const fromQuery = new URLSearchParams(query).get('api_key');
  return fromQuery === null || fromQuery === '' ? undefined : fromQuery;
}

/** A path segment decoded; malformed escapes stay as they are and fail the UUID check (MODEL_NOT_FOUND). */
export function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
