/**
 * Who runs the CLI, for the audit trail: the OS user and host (`alice@laptop`). Local commands
 * record it as the `cli` actor; in remote mode it goes to the management API in a header.
 */
import { hostname, userInfo } from 'node:os';
import type { Actor } from '../store/types.js';

/** `user@host`; the user from the environment when the OS has no entry for the uid (containers). */
export function operatorName(): string {
  let user: string | undefined;
  try {
    user = userInfo().username;
  } catch {
    user = process.env.USER ?? process.env.LOGNAME;
  }
  return `${user || 'unknown'}@${hostname()}`;
}

/** The actor of commands run on a local store. */
export function localActor(): Actor {
  return { kind: 'cli', detail: operatorName() };
}
