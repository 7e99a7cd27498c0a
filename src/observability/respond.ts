/** Small HTTP answers shared by the metrics and health routes. */
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';

/**
 * Writes a complete response; for HEAD, the same status and headers without the body.
 * Never cached: probes and scrapers must see the current state.
 */
export function sendText(
  res: ServerResponse,
  status: number,
  contentType: string,
  body: string,
  method: string | undefined,
  headers: OutgoingHttpHeaders = {},
): void {
  res.writeHead(status, {
    'content-type': contentType,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(method === 'HEAD' ? undefined : body);
}
