/**
 * The store's one error type. Callers (CLI, management API) branch on `code`; the message
 * is for humans, names the field or record at fault and never holds a secret value.
 */
import type { InputIssue } from '../input-issues.js';

/**
 * - `NOT_FOUND`: the record does not exist (a malformed id counts as not found).
 * - `INVALID_INPUT`: a field broke a validation rule; the message names the field.
 * - `CONFLICT`: the change clashes with existing data (reserved for uniqueness rules).
 */
export type StoreErrorCode = 'NOT_FOUND' | 'INVALID_INPUT' | 'CONFLICT';

export class StoreError extends Error {
  readonly code: StoreErrorCode;
  /**
   * `INVALID_INPUT`: each bad field, as the store names it (`expiresAt`), with the rule it
   * broke, so the CLI can name the flag instead (`--expires-at`) and the API the field sent.
   */
  readonly issues: readonly InputIssue[];

  constructor(code: StoreErrorCode, message: string, issues: readonly InputIssue[] = []) {
    super(message);
    this.name = 'StoreError';
    this.code = code;
    this.issues = issues;
  }
}
