/**
 * What a client may send up a model's shared session (sessions-contract.md §3), for the session
 * links of single- and multi-model sockets alike: only JSON acts on the plan's allow-list
 * (`connect` never), get_onlines answered to the asker, a bound on one client's waiting requests.
 */
import type { ClientAct } from '../delivery/envelope.js';
import type { SessionAccess } from './session-link.js';

/** The answer to one client frame: the upstream's reply text, or why it was not sent. */
export type ActAnswer = { text: string } | { code: 'ACTION_NOT_ALLOWED' | 'REQUEST_FAILED'; error: string };

/** Requests one client may have waiting at once: beyond, REQUEST_FAILED at once. */
const MAX_CLIENT_REQUESTS = 8;

export class SessionActs {
  private requests = 0;

  /** `answer` writes to the client (and drops the answer once it has gone). */
  constructor(
    private readonly access: Pick<SessionAccess, 'allowedActs' | 'request' | 'send'>,
    private readonly answer: (requestId: string | undefined, answer: ActAnswer) => void,
  ) {}

  /** Sends the client's act up the model's session, or answers why not; the socket stays open either way. */
  forward(modelId: string, plan: string | null, act: ClientAct): void {
    if (!act.ok) return this.refuse(act.requestId, 'ACTION_NOT_ALLOWED', `${act.error}; only JSON acts on the allow-list go up a shared socket`);
    const allowed = this.access.allowedActs(plan);
    if (act.act === 'connect' || !allowed.includes(act.act)) {
      return this.refuse(act.requestId, 'ACTION_NOT_ALLOWED', `The act ${JSON.stringify(act.act.slice(0, 64))} may not be sent up a shared socket (allowed: ${allowed.join(', ')})`);
    }
    if (act.act === 'get_onlines') {
      if (this.requests >= MAX_CLIENT_REQUESTS) return this.refuse(act.requestId, 'REQUEST_FAILED', `More than ${MAX_CLIENT_REQUESTS} requests waiting for replies`);
      this.requests++;
      this.access.request(modelId, act.text).then(
        (text) => {
          this.requests--;
          this.answer(act.requestId, { text });
        },
        (err: unknown) => {
          this.requests--;
          this.refuse(act.requestId, 'REQUEST_FAILED', (err as Error).message);
        },
      );
      return;
    }
    // Fire and forget for the client, unless it could not go up: then the client is told.
    this.access.send(modelId, act.text).catch((err: unknown) => this.refuse(act.requestId, 'REQUEST_FAILED', (err as Error).message));
  }

  refuse(requestId: string | undefined, code: 'ACTION_NOT_ALLOWED' | 'REQUEST_FAILED', error: string): void {
    this.answer(requestId, { code, error });
  }
}
