/** Shared assertions for secrets-at-rest tests. */
import assert from 'node:assert/strict';
import { SecretsError } from '../../src/secrets/errors.js';

/** An `assert.throws`/`rejects` validator: a SecretsError with `code` (and a matching message). */
export function isSecretsError(code: string, message?: RegExp) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof SecretsError, String(error));
    assert.equal(error.code, code);
    if (message) assert.match(error.message, message);
    return true;
  };
}
