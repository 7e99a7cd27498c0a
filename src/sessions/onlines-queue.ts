/**
 * The `get_onlines` requests of a shared OnlyFans socket (contract §3). OnlyFans' replies
 * (`{"online":[…]}`, onlyfans-ws-protocol.md §5) carry no correlation id, so at most one request
 * is on the socket at a time and the first `online` frame after it is its reply; the others
 * wait oldest first, in a bounded queue.
 *
 * Every wait is bounded by the request timeout: the head of the queue waits that long for a
 * socket, and once sent that long for its reply. After a timeout the next request is held back
 * until the late reply arrives (it is dropped) or one more timeout passes, so a slow reply is
 * not taken for the next request's.
 */
import { parseJsonObject } from '../upstream/replies.js';

/** Requests waiting or in flight past which `request` fails at once (a client flood stays bounded). */
export const MAX_WAITING_REQUESTS = 64;

export interface OnlinesQueueOptions {
  /** Writes the request up the socket; false when no socket is open. */
  send(text: string): boolean;
  /** True while a socket is open to send on. */
  isOpen(): boolean;
  timeoutMs: number;
  maxWaiting?: number;
}

interface Request {
  text: string;
  resolve(reply: string): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout | undefined;
}

const ONLINE = Buffer.from('"online"');

export class OnlinesQueue {
  private readonly waiting: Request[] = [];
  private inFlight: Request | null = null;
  /** Set after a timeout: the late reply may still come and must not answer the next request. */
  private quarantine: NodeJS.Timeout | undefined;
  private closedReason: string | undefined;
  private readonly maxWaiting: number;

  constructor(private readonly options: OnlinesQueueOptions) {
    this.maxWaiting = options.maxWaiting ?? MAX_WAITING_REQUESTS;
  }

  /** Requests waiting, plus the one in flight (for metrics and tests). */
  get size(): number {
    return this.waiting.length + (this.inFlight ? 1 : 0);
  }

  /** Sends `text` when its turn comes; resolves with the reply frame's text. */
  request(text: string): Promise<string> {
    if (this.closedReason !== undefined) return Promise.reject(new Error(`get_onlines failed: ${this.closedReason}`));
    if (this.size >= this.maxWaiting) {
      return Promise.reject(new Error(`get_onlines failed: ${this.maxWaiting} requests are already waiting for this model's socket`));
    }
    return new Promise((resolve, reject) => {
      this.waiting.push({ text, resolve, reject, timer: undefined });
      this.pump();
    });
  }

  /**
   * An upstream data message: true when it was the reply to the request in flight (or the late
   * reply of one that timed out) and is consumed; false when it is an event.
   */
  offer(payload: Buffer): boolean {
    if (this.inFlight === null && this.quarantine === undefined) return false;
    if (!payload.includes(ONLINE)) return false;
    const frame = parseJsonObject(payload);
    if (frame === undefined || !('online' in frame)) return false;
    const request = this.inFlight;
    if (request === null) {
      this.endQuarantine();
      return true;
    }
    this.inFlight = null;
    clearTimeout(request.timer);
    request.resolve(payload.toString('utf8'));
    this.pump();
    return true;
  }

  /** A socket opened: the head of the queue may go. */
  socketOpened(): void {
    this.pump();
  }

  /** The socket closed: the request on it fails; no late reply can come on the next socket. */
  socketLost(): void {
    clearTimeout(this.quarantine);
    this.quarantine = undefined;
    const request = this.inFlight;
    if (request !== null) {
      this.inFlight = null;
      clearTimeout(request.timer);
      request.reject(new Error('get_onlines failed: the OnlyFans socket closed before the reply came'));
    }
    this.pump();
  }

  /** Fails every request, now and later, and clears every timer. */
  close(reason: string): void {
    if (this.closedReason !== undefined) return;
    this.closedReason = reason;
    clearTimeout(this.quarantine);
    this.quarantine = undefined;
    const all = this.inFlight ? [this.inFlight, ...this.waiting] : [...this.waiting];
    this.inFlight = null;
    this.waiting.length = 0;
    for (const request of all) {
      clearTimeout(request.timer);
      request.reject(new Error(`get_onlines failed: ${reason}`));
    }
  }

  private pump(): void {
    if (this.inFlight !== null || this.quarantine !== undefined || this.closedReason !== undefined) return;
    const head = this.waiting[0];
    if (head === undefined) return;
    if (!this.options.isOpen()) {
      head.timer ??= setTimeout(() => this.failHead(head), this.options.timeoutMs);
      return;
    }
    clearTimeout(head.timer);
    this.waiting.shift();
    if (!this.options.send(head.text)) {
      head.reject(new Error('get_onlines failed: the OnlyFans socket is not connected'));
      this.pump();
      return;
    }
    this.inFlight = head;
    head.timer = setTimeout(() => this.timedOut(head), this.options.timeoutMs);
  }

  /** The head waited a whole timeout for a socket. */
  private failHead(head: Request): void {
    if (this.waiting[0] !== head) return;
    this.waiting.shift();
    head.reject(new Error(`get_onlines failed: the OnlyFans socket was not connected within ${this.options.timeoutMs} ms`));
    this.pump();
  }

  private timedOut(request: Request): void {
    if (this.inFlight !== request) return;
    this.inFlight = null;
    request.reject(new Error(`get_onlines failed: OnlyFans did not reply within ${this.options.timeoutMs} ms`));
    this.quarantine = setTimeout(() => this.endQuarantine(), this.options.timeoutMs);
  }

  private endQuarantine(): void {
    clearTimeout(this.quarantine);
    this.quarantine = undefined;
    this.pump();
  }
}
