/**
 * A server-sent events client for tests over node:http: parses `text/event-stream` as the
 * HTML standard's EventSource does (fields, multi-line data, comments, the last event id) and
 * queues what arrives, so tests await the next event instead of sleeping. Imported by the SSE
 * suites; run on its own it does nothing.
 */
import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { waitFor } from '../helpers.js';

export interface SseEvent {
  /** The `event` field, `message` when absent (as EventSource names it). */
  event: string;
  data: string;
  /** The `id` field of this event's own block, if it had one. */
  id: string | undefined;
  /** The stream's last event id once this event was parsed (what a browser would resend). */
  lastEventId: string;
  json(): Record<string, unknown>;
}

export class SseTestClient {
  readonly events: SseEvent[] = [];
  readonly comments: string[] = [];
  /** Set for a response that is not a stream (a refusal): its JSON body. */
  body: Record<string, unknown> | undefined;
  ended = false;
  private read = 0;
  private waiters: (() => void)[] = [];
  private buffer = '';
  private fields: { event: string; data: string[]; id: string | undefined } = { event: '', data: [], id: undefined };
  private lastId = '';

  private constructor(
    readonly res: IncomingMessage,
    private readonly req: http.ClientRequest,
  ) {}

  get status(): number {
    return this.res.statusCode ?? 0;
  }

  get headers(): IncomingHttpHeaders {
    return this.res.headers;
  }

  /** Opens `url` and resolves once the response's headers arrived (any status). */
  static open(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<SseTestClient> {
    return new Promise((resolve, reject) => {
      const req = http.request(url, { method, headers: { accept: 'text/event-stream', ...headers } }, (res) => {
        const client = new SseTestClient(res, req);
        res.setEncoding('utf8');
        const json = !String(res.headers['content-type'] ?? '').startsWith('text/event-stream');
        let raw = '';
        res.on('data', (chunk: string) => {
          if (json) raw += chunk;
          else client.parse(chunk);
          client.wake();
        });
        res.on('close', () => {
          if (json && raw !== '') client.body = JSON.parse(raw) as Record<string, unknown>;
          client.ended = true;
          client.wake();
        });
        resolve(client);
      });
      req.on('error', reject);
      req.end();
    });
  }

  /** The next unread event; rejects after `timeoutMs` or when the stream ends first. */
  async next(timeoutMs = 5000): Promise<SseEvent> {
    await waitFor(() => this.events.length > this.read || this.ended, timeoutMs, 'an SSE event', (fn) => this.waiters.push(fn));
    const event = this.events[this.read];
    if (!event) throw new Error('the stream ended before the next event');
    this.read++;
    return event;
  }

  /** The next event that is not a status (the session logs its own `connected` first). */
  async nextEvent(timeoutMs = 5000): Promise<SseEvent> {
    for (;;) {
      const e = await this.next(timeoutMs);
      if (e.event !== 'status') return e;
    }
  }

  /** Resolves once the response is over. */
  async closed(timeoutMs = 5000): Promise<void> {
    await waitFor(() => this.ended, timeoutMs, 'the stream to end', (fn) => this.waiters.push(fn));
  }

  close(): void {
    this.req.destroy();
  }

  private parse(chunk: string): void {
    this.buffer += chunk;
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.buffer);
      // A lone \r at the end may be the first half of \r\n: wait for more.
      if (!m || (m[0] === '\r' && m.index === this.buffer.length - 1)) return;
      const line = this.buffer.slice(0, m.index);
      this.buffer = this.buffer.slice(m.index + m[0].length);
      this.line(line);
    }
  }

  private line(line: string): void {
    if (line === '') return this.dispatch();
    if (line.startsWith(':')) {
      this.comments.push(line.slice(1).trim());
      return;
    }
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.fields.event = value;
    else if (field === 'data') this.fields.data.push(value);
    else if (field === 'id' && !value.includes('\0')) {
      this.fields.id = value;
      this.lastId = value;
    }
  }

  private dispatch(): void {
    const { event, data, id } = this.fields;
    this.fields = { event: '', data: [], id: undefined };
    if (data.length === 0) return;
    const text = data.join('\n');
    this.events.push({ event: event || 'message', data: text, id, lastEventId: this.lastId, json: () => JSON.parse(text) as Record<string, unknown> });
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}
