import type { IncomingMessage, ServerResponse } from 'node:http';

/** Answers a plain HTTP request it recognises (returns true), or leaves it to the next one. */
export type HttpRoute = (req: IncomingMessage, res: ServerResponse) => boolean;
