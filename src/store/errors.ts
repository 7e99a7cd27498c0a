/**
 * The store's one error type. Callers (CLI, management API) branch on `code`; the message
 * is for humans, names the field or record at fault and never holds a secret value.
 */

/**
 * - `NOT_FOUND`: the record does not exist (a malformed id counts as not found).
 * - `INVALID_INPUT`: a field broke a validation rule; the message names the field.
 * - `CONFLICT`: the change clashes with existing data (reserved for uniqueness rules).
 */
export type StoreErrorCode = 'NOT_FOUND' | 'INVALID_INPUT' | 'CONFLICT';

export class StoreError extends Error {
  readonly code: StoreErrorCode;

  constructor(code: StoreErrorCode, message: string) {
    super(message);
    this.name = 'StoreError';
    this.code = code;
  }
}
