/** Secrets at rest: the keyring, its key sources and its errors. */
export { SecretsError, type SecretsErrorCode } from './errors.js';
export { isSealed, sealedKeyId } from './format.js';
export { generateKey, newKeyId, type KeySet } from './key-file.js';
export { Keyring, type KeyBackend, type KeySource } from './keyring.js';
export { defaultKeyFile, envKeyId, keyFileFor, loadKeyring, type LoadKeyringOptions } from './load.js';
