/**
 * The store as a clustered gateway uses it: every mutation that appends to the change feed,
 * once it has committed, is announced to the other nodes, so they read the feed at once
 * rather than at their next poll. Reads pass through untouched; a view for an actor
 * (`as`) announces its changes too.
 */
import type { Actor, Store } from '../store/types.js';

/** The {@link Store} methods that append to the change feed. */
const MUTATIONS: ReadonlySet<string> = new Set<keyof Store>([
  'createOrganization',
  'renameOrganization',
  'deleteOrganization',
  'setSubscription',
  'createApiKey',
  'revokeApiKey',
  'rotateApiKey',
  'createModel',
  'updateModel',
  'setModelStatus',
  'removeModel',
  'markCredentialsRejected',
  'refreshCredentials',
]);

export function announcingChanges(store: Store, announce: () => void): Store {
  // Each method is wrapped (or bound) once, not on every call: reads are on the admission path.
  const methods = new Map<PropertyKey, unknown>();
  return new Proxy(store, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      let wrapped = methods.get(property);
      if (wrapped === undefined) {
        const method = value as (...args: unknown[]) => unknown;
        wrapped =
          property === 'as'
            ? (actor: Actor) => announcingChanges(target.as(actor), announce)
            : typeof property === 'string' && MUTATIONS.has(property)
            ? async (...args: unknown[]) => {
                const result = await method.apply(target, args);
                announce();
                return result;
              }
            : method.bind(target);
        methods.set(property, wrapped);
      }
      return wrapped;
    },
  });
}
