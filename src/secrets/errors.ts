/**
 * Errors of the secrets-at-rest layer. Messages name the key id, the file, the environment
 * variable or the model field at fault, never key bytes or a secret value.
 */

/**
 * - `INVALID_KEY`: key material (environment or key file) is malformed.
 * - `KEY_FILE`: the key file cannot be read, parsed, written or is too widely readable.
 * - `KEY_FILE_MISSING`: the database holds encrypted values but its key file is gone.
 * - `UNKNOWN_KEY`: a stored value names a key id the keyring does not hold.
 * - `MALFORMED`: a stored value is not in the `ofgw1:` format.
 * - `DECRYPT_FAILED`: authentication failed (tampered, or moved to another row or field).
 * - `NOT_APPLICABLE`: the operation does not apply to this key source (e.g. prune in env mode).
 * - `KEYRING_MISMATCH`: the keys cannot decrypt what the store holds (`ofgw serve` refuses to start).
 */
export type SecretsErrorCode =
  | 'INVALID_KEY'
  | 'KEY_FILE'
  | 'KEY_FILE_MISSING'
  | 'UNKNOWN_KEY'
  | 'MALFORMED'
  | 'DECRYPT_FAILED'
  | 'NOT_APPLICABLE'
  | 'KEYRING_MISMATCH';

export class SecretsError extends Error {
  readonly code: SecretsErrorCode;

  constructor(code: SecretsErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SecretsError';
    this.code = code;
  }
}
