/**
 * `get_onlines` requests over one relay. OnlyFans answers `{"online":[…]}` with no request id,
 * so only one request is ever outstanding: the next `online` frame belongs to it. The others
 * wait in a queue. A request that times out still owns the next reply — later requests are not
 * sent until that reply arrives (and is dropped) or the relay closes — so a late reply is never
 * given to the wrong request.
 */
import { OfgwError } from './errors.js';

type OnlineIds = Array<number | string>;

interface OnlinesRequest {
  readonly ids: ReadonlyArray<number | string>;
  resolve(online: OnlineIds): void;
  reject(error: OfgwError): void;
  timer: ReturnType<typeof setTimeout> | undefined;
  /** Set once the request is in the queue no more (answered, timed out or failed). */
  settled: boolean;
}

export class OnlinesQueue {
  private readonly waiting: OnlinesRequest[] = [];
  /** The request whose get_onlines was sent and whose reply has not come; may have timed out. */
  private inFlight: OnlinesRequest | undefined;

  /** @param send writes one get_onlines act on the relay; it throws if the relay is not open. */
  constructor(private readonly send: (act: { act: 'get_onlines'; ids: Array<number | string> }) => void) {}

  /** Queues a request; resolves with the `online` list of its own reply. */
  request(ids: ReadonlyArray<number | string>, timeoutMs: number): Promise<OnlineIds> {
    return new Promise<OnlineIds>((resolve, reject) => {
      const request: OnlinesRequest = { ids: [...ids], resolve, reject, timer: undefined, settled: false };
      request.timer = setTimeout(() => {
        this.settle(request, new OfgwError('TIMEOUT', `no {"online":[…]} reply within ${timeoutMs} ms`));
        const at = this.waiting.indexOf(request);
        if (at !== -1) this.waiting.splice(at, 1);
        // An in-flight request keeps its place: its reply may still come, and must not be
        // taken for the next request's.
      }, timeoutMs);
      this.waiting.push(request);
      this.pump();
    });
  }

  /**
   * An `online` frame arrived. Returns true when it answered a request of this queue (false
   * for an unsolicited one, or the late reply of a request that had timed out — both are
   * still delivered to `message` listeners by the client).
   */
  onReply(online: OnlineIds): boolean {
    const request = this.inFlight;
    if (!request) return false;
    this.inFlight = undefined;
    const answered = !request.settled;
    if (answered) {
      request.settled = true;
      clearTimeout(request.timer);
      request.resolve(online);
    }
    this.pump();
    return answered;
  }

  /** The relay closed: every request fails with `error` (nothing can answer them now). */
  failAll(error: OfgwError): void {
    const requests = [...(this.inFlight ? [this.inFlight] : []), ...this.waiting];
    this.inFlight = undefined;
    this.waiting.length = 0;
    for (const request of requests) this.settle(request, error);
  }

  private pump(): void {
    if (this.inFlight) return;
    const next = this.waiting.shift();
    if (!next) return;
    try {
      this.send({ act: 'get_onlines', ids: [...next.ids] });
      this.inFlight = next;
    } catch (error) {
      this.settle(next, error instanceof OfgwError ? error : new OfgwError('NOT_CONNECTED', String(error)));
      this.pump();
    }
  }

  private settle(request: OnlinesRequest, error: OfgwError): void {
    if (request.settled) return;
    request.settled = true;
    clearTimeout(request.timer);
    request.reject(error);
  }
}
