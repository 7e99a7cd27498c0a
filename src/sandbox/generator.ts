/**
 * Periodic fake traffic: every tick, one {@link randomEvent} per connected user. Multi-frame
 * events (the subscription burst) are spread out the way OF spreads them, about a second apart.
 */
import { randomEvent, type OfFrame } from './events.js';
import type { Rng } from './rng.js';

/** Where generated frames go. */
export interface GeneratorTarget {
  /** Users with at least one authenticated socket. */
  users(): Iterable<string>;
  push(userId: string, frame: OfFrame): void;
}

// Spacing between the frames of one multi-frame event (UNK-L: timestamps differ by ~1 s).
const BURST_SPACING_MS = 1000;

// Creator ids are numeric upstream; a non-numeric sandbox user gets this stand-in in frames.
const FALLBACK_CREATOR_ID = 15585607;

/** The creator id frames for this simulated user carry. */
export function creatorIdOf(userId: string): number {
  const numeric = Number(userId);
  return Number.isSafeInteger(numeric) ? numeric : FALLBACK_CREATOR_ID;
}

/** Starts ticking; the returned function stops the interval and any burst frames still pending. */
export function startGenerator(target: GeneratorTarget, intervalMs: number, rng: Rng): () => void {
  const pending = new Set<NodeJS.Timeout>();
  const tick = (): void => {
    const now = Date.now();
    for (const userId of target.users()) {
      const { frames } = randomEvent(rng, { creatorId: creatorIdOf(userId), now });
      frames.forEach((frame, index) => {
        if (index === 0) {
          target.push(userId, frame);
          return;
        }
        const timer = setTimeout(() => {
          pending.delete(timer);
          target.push(userId, frame);
        }, index * BURST_SPACING_MS);
        pending.add(timer);
      });
    }
  };
  const interval = setInterval(tick, intervalMs);
  return () => {
    clearInterval(interval);
    for (const timer of pending) clearTimeout(timer);
    pending.clear();
  };
}
