/**
 * Ends a connection when its API key expires (contract §3: a key that expires while connected
 * closes its relays). One timer per connection, re-armed when the end moves (a rotation's
 * grace period) and past setTimeout's 24.8-day cap.
 */

const MAX_TIMER_MS = 2 ** 31 - 1;

export class KeyExpiry {
  private timer: NodeJS.Timeout | undefined;

  /** `expired` is called once the armed end has passed. */
  constructor(private readonly expired: () => void) {}

  /** Arms the timer for `expiresAt` (null: the key never expires), replacing any earlier one. */
  arm(expiresAt: string | null): void {
    this.clear();
    if (!expiresAt) return;
    const delay = new Date(expiresAt).getTime() - Date.now();
    this.timer = setTimeout(() => this.check(expiresAt), Math.max(0, Math.min(delay, MAX_TIMER_MS)));
  }

  clear(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private check(expiresAt: string): void {
    this.timer = undefined;
    // A long expiry wakes the timer at the cap first: re-armed for the rest.
    if (new Date(expiresAt).getTime() <= Date.now()) this.expired();
    else this.arm(expiresAt);
  }
}
