/** Handler sets of the session buses: several listeners per key, each removable on its own. */

export type Handler<T> = (message: T) => void;

/** Adds `handler` to the set under `key`; returns the function that removes it again. */
export function addHandler<T>(map: Map<string, Set<Handler<T>>>, key: string, handler: Handler<T>, onFirst?: () => void, onLast?: () => void): () => void {
  let set = map.get(key);
  if (!set) {
    map.set(key, (set = new Set()));
    onFirst?.();
  }
  // A wrapper per registration, so registering one function twice needs two removals.
  const entry: Handler<T> = (message) => handler(message);
  set.add(entry);
  return () => {
    const current = map.get(key);
    if (!current?.delete(entry) || current.size > 0) return;
    map.delete(key);
    onLast?.();
  };
}

/** Calls every handler, so one that throws does not keep the message from the others. */
export function deliver<T>(handlers: Iterable<Handler<T>> | undefined, message: T, onError: (err: unknown) => void): void {
  for (const handler of handlers ?? []) {
    try {
      handler(message);
    } catch (err) {
      onError(err);
    }
  }
}
