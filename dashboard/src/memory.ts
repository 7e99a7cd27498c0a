/**
 * What the dashboard holds in memory only and forgets on reload: the API keys created or
 * rotated in this tab (so the playground can use one without pasting it). Never written to
 * localStorage, sessionStorage, a cookie or a URL.
 */
import { useEffect, useState } from 'preact/hooks';

export interface HeldKey {
  id: string;
  orgId: string;
  name: string | null;
  prefix: string;
  key: string;
}

const held: HeldKey[] = [];
const listeners = new Set<() => void>();

export function holdKey(key: HeldKey): void {
  held.unshift(key);
  listeners.forEach((l) => l());
}

/** The keys created in this tab, newest first; re-renders when one is added. */
export function useHeldKeys(): readonly HeldKey[] {
  const [, setVersion] = useState(0);
  useEffect(() => {
    const update = (): void => setVersion((v) => v + 1);
    listeners.add(update);
    return () => void listeners.delete(update);
  }, []);
  return held;
}
