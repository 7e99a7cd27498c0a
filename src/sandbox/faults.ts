/**
 * The simulator's active faults, each either global or scoped to one user. Lookups are on the
 * connect path and, for `stop-content-after-exp`, on every push, so an empty store answers
 * without building keys.
 */
import type { SimulatorFault } from './simulator.js';

/** A fault kind, e.g. `'no-pong'`. */
export type FaultKind = SimulatorFault['kind'];

/** A fault as stored: global when `userId` is absent. */
export interface ScopedFault {
  fault: SimulatorFault;
  userId?: string;
}

const KINDS: ReadonlySet<string> = new Set<FaultKind>([
  'reject-token',
  'silence',
  'refuse',
  'reset',
  'no-pong',
  'slow-reads',
  'stop-content-after-exp',
]);

/**
 * Validates a fault from an untyped caller (the HTTP control API, plain JS) and returns a
 * copy holding only the known fields. Throws RangeError naming the problem.
 */
export function parseFault(value: unknown, userId: string | undefined): SimulatorFault {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new RangeError('fault must be an object with a "kind"');
  }
  const { kind, errorCode, status } = value as Record<string, unknown>;
  if (typeof kind !== 'string' || !KINDS.has(kind)) {
    throw new RangeError(`fault.kind must be one of ${[...KINDS].join(', ')}`);
  }
  switch (kind as FaultKind) {
    case 'reject-token':
      if (errorCode === undefined) return { kind: 'reject-token' };
      if (typeof errorCode !== 'number' || !Number.isSafeInteger(errorCode) || errorCode < 0) {
        throw new RangeError('fault.errorCode must be a non-negative integer');
      }
      return { kind: 'reject-token', errorCode };
    case 'refuse':
      // The token arrives only after the upgrade, so a refusal cannot know whose it is.
      if (userId !== undefined) {
        throw new RangeError('a "refuse" fault cannot be scoped to a user: the upgrade precedes the token');
      }
      if (status === undefined) return { kind: 'refuse' };
      if (typeof status !== 'number' || !Number.isInteger(status) || status < 200 || status > 599) {
        throw new RangeError('fault.status must be an HTTP status from 200 to 599');
      }
      return { kind: 'refuse', status };
    default:
      return { kind } as SimulatorFault;
  }
}

/** Active faults keyed by kind and scope; setting the same kind and scope again replaces it. */
export class FaultStore {
  private readonly faults = new Map<string, ScopedFault>();

  set(fault: SimulatorFault, userId: string | undefined): void {
    this.faults.set(keyOf(fault.kind, userId), userId === undefined ? { fault } : { fault, userId });
  }

  clear(): void {
    this.faults.clear();
  }

  /** The fault of that kind that applies to the user: a user-scoped one wins over a global one. */
  find<K extends FaultKind>(kind: K, userId: string | undefined): Extract<SimulatorFault, { kind: K }> | undefined {
    if (this.faults.size === 0) return undefined;
    const entry =
      (userId === undefined ? undefined : this.faults.get(keyOf(kind, userId))) ??
      this.faults.get(keyOf(kind, undefined));
    return entry?.fault as Extract<SimulatorFault, { kind: K }> | undefined;
  }

  has(kind: FaultKind, userId: string | undefined): boolean {
    return this.find(kind, userId) !== undefined;
  }

  list(): ScopedFault[] {
    return [...this.faults.values()];
  }
}

function keyOf(kind: FaultKind, userId: string | undefined): string {
  // A user key never contains a space (see userKey), so this cannot collide.
  return userId === undefined ? kind : `${kind} ${userId}`;
}
