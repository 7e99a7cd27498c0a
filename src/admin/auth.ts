/** The operator token check for the management API. */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

const digest = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

/**
 * A check for `Authorization: Bearer <token>`. Both sides are hashed first so the
 * comparison takes the same time whatever the length or content of the guess.
 */
export function bearerCheck(token: string): (req: IncomingMessage) => boolean {
  const expected = digest(token);
  return (req) => {
    const given = bearerOf(req);
    return given !== undefined && timingSafeEqual(digest(given), expected);
  };
}

/** The credential of an `Authorization: Bearer …` header, if there is one. */
export function bearerOf(req: IncomingMessage): string | undefined {
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(req.headers.authorization ?? '');
  return match?.[1];
}
