/**
 * Requests over one envelope-format connection (sessions-contract.md §3): each goes up as
 * `{"type":"send","requestId","data"}` and its `reply` names the same `requestId`, so any
 * number may be in flight and a late reply can never be taken for another's. A reply with
 * `error`/`code` fails its own request only; the connection stays open.
 */
import { isGatewayErrorCode, OfgwError } from './errors.js';

interface PendingRequest {
  resolve(data: unknown): void;
  reject(error: OfgwError): void;
  timer: ReturnType<typeof setTimeout>;
}

export class EnvelopeRequests {
  private readonly pending = new Map<string, PendingRequest>();

  /**
   * @param send writes one frame on the connection; it throws if the connection is not open.
   * @param nextId a request id not used before on this client.
   */
  constructor(
    private readonly send: (frame: string) => void,
    private readonly nextId: () => string,
  ) {}

  /** Sends `data` (an OnlyFans act) and resolves with its reply's `data`. */
  request(data: object, timeoutMs: number): Promise<unknown> {
    return new Promise<unknown>((resolve, reject) => {
      const requestId = this.nextId();
      try {
        this.send(sendFrame(requestId, data));
      } catch (error) {
        return reject(error);
      }
      const timer = setTimeout(() => {
        // A reply that comes later names an id no longer pending, and is dropped.
        this.pending.delete(requestId);
        reject(new OfgwError('TIMEOUT', `no reply to request ${requestId} within ${timeoutMs} ms`, { requestId }));
      }, timeoutMs);
      this.pending.set(requestId, { resolve, reject, timer });
    });
  }

  /**
   * A `reply` frame arrived. Settles its request and returns undefined; an error reply that no
   * pending request owns (a `send()`'s, or one without a requestId) is returned, for the client
   * to emit as an `error` event. A data reply nobody waits for (timed out) is dropped.
   */
  onReply(frame: Record<string, unknown>): OfgwError | undefined {
    const requestId = typeof frame.requestId === 'string' ? frame.requestId : undefined;
    const request = requestId === undefined ? undefined : this.pending.get(requestId);
    if (request && requestId !== undefined) {
      this.pending.delete(requestId);
      clearTimeout(request.timer);
    }
    const error = replyError(frame, requestId);
    if (!request) return error;
    if (error) request.reject(error);
    else request.resolve(frame.data);
    return undefined;
  }

  /** The connection ended: every pending request fails with `error`. */
  failAll(error: OfgwError): void {
    const requests = [...this.pending.values()];
    this.pending.clear();
    for (const request of requests) {
      clearTimeout(request.timer);
      request.reject(error);
    }
  }
}

/** The frame a client sends to have `data` go upstream. */
export function sendFrame(requestId: string, data: object): string {
  return JSON.stringify({ type: 'send', requestId, data });
}

/** The error a `reply` carries, or undefined for a reply with data. */
function replyError(frame: Record<string, unknown>, requestId: string | undefined): OfgwError | undefined {
  if (frame.error === undefined && frame.code === undefined) return undefined;
  // An unknown code from a newer gateway still fails the request, as a failed request.
  const code = isGatewayErrorCode(frame.code) ? frame.code : 'REQUEST_FAILED';
  const message = typeof frame.error === 'string' ? frame.error : `request failed (${String(frame.code)})`;
  return new OfgwError(code, message, { frame, ...(requestId === undefined ? {} : { requestId }) });
}
