/**
 * The SDK's reconnection policy (contract §6) as a pure function: full-jitter backoff, its
 * reset, the "do not retry" codes, retryAfterMs; and its code table kept in step with the
 * gateway's one error catalog.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  Backoff,
  decideReconnect,
  GATEWAY_ERRORS,
  isRetryable,
  OfgwError,
  resolveReconnectOptions,
  type OfgwErrorCode,
} from '../../packages/client/src/node.js';
import { ERROR_CATALOG } from '../../src/errors.js';

/** A random source that returns the given values in turn. */
function sequence(...values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length] as number;
}

describe('SDK reconnection policy', () => {
  it('full jitter: the n-th delay is random in [0, min(cap, base·2ⁿ)], capped at 30 s by default', () => {
    const top = resolveReconnectOptions({ random: () => 0.999999999 });
    const backoff = new Backoff(top);
    const caps = Array.from({ length: 8 }, () => backoff.next());
    assert.deepEqual(caps, [1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
    const bottom = new Backoff(resolveReconnectOptions({ random: () => 0 }));
    assert.deepEqual([bottom.next(), bottom.next()], [0, 0]);
    const half = new Backoff(resolveReconnectOptions({ baseDelayMs: 100, maxDelayMs: 250, random: () => 0.5 }));
    assert.deepEqual([half.next(), half.next(), half.next()], [50, 100, 125]);
  });

  it('reset starts again from the first delay', () => {
    const backoff = new Backoff(resolveReconnectOptions({ random: () => 0.999999999 }));
    backoff.next();
    backoff.next();
    assert.equal(backoff.attempt, 2);
    backoff.reset();
    assert.equal(backoff.attempt, 0);
    assert.equal(backoff.next(), 1000);
  });

  it('"do not retry" codes stop; retryable ones back off', () => {
    const options = resolveReconnectOptions({ random: () => 0.5 });
    const terminal: OfgwErrorCode[] = ['NO_API_KEY', 'INVALID_API_KEY', 'NO_SUBSCRIPTION', 'MODEL_NOT_FOUND', 'MODEL_NOT_CONNECTED', 'NO_WS_CREDENTIALS', 'ABORTED'];
    for (const code of terminal) {
      const backoff = new Backoff(options);
      assert.deepEqual(decideReconnect(new OfgwError(code, 'x', { closeCode: 4401 }), backoff, options), { retry: false }, code);
      assert.equal(backoff.attempt, 0, `${code} does not count as an attempt`);
    }
    const retryable: Array<[OfgwErrorCode, number]> = [
      ['WS_CONNECT_ERROR', 4502], ['CONNECTION_LIMIT', 4429], ['SLOW_CONSUMER', 4408], ['CONNECT_TIMEOUT', 0],
      ['CLOSED', 1012], ['CLOSED', 1014], ['CLOSED', 1011], ['CLOSED', 1006], ['CLOSED', 1000], ['CLOSED', 1009],
    ];
    for (const [code, closeCode] of retryable) {
      const decision = decideReconnect(new OfgwError(code, 'x', { closeCode }), new Backoff(options), options);
      assert.deepEqual(decision, { retry: true, delayMs: 500 }, `${code} ${closeCode}`);
    }
  });

  it('retryModelUnavailable makes MODEL_NOT_CONNECTED and NO_WS_CREDENTIALS retryable', () => {
    const on = resolveReconnectOptions({ retryModelUnavailable: true });
    assert.equal(isRetryable(new OfgwError('MODEL_NOT_CONNECTED', 'x'), on), true);
    assert.equal(isRetryable(new OfgwError('NO_WS_CREDENTIALS', 'x'), on), true);
    assert.equal(isRetryable(new OfgwError('INVALID_API_KEY', 'x'), on), false);
  });

  it('RATE_LIMITED waits at least retryAfterMs, longer when the backoff says so', () => {
    const options = resolveReconnectOptions({ random: sequence(0, 0.999999999, 0.999999999) });
    const backoff = new Backoff(options);
    const limited = new OfgwError('RATE_LIMITED', 'x', { closeCode: 4429, retryAfterMs: 1500 });
    assert.deepEqual(decideReconnect(limited, backoff, options), { retry: true, delayMs: 1500 });
    backoff.next(); // a third failure: the cap is now 4000 and the random draw its top
    assert.deepEqual(decideReconnect(limited, backoff, options), { retry: true, delayMs: 4000 });
  });

  it('maxRetries gives up after that many retries in a row', () => {
    const options = resolveReconnectOptions({ maxRetries: 2, random: () => 0 });
    const backoff = new Backoff(options);
    const error = new OfgwError('WS_CONNECT_ERROR', 'x', { closeCode: 4502 });
    assert.equal(decideReconnect(error, backoff, options).retry, true);
    assert.equal(decideReconnect(error, backoff, options).retry, true);
    assert.equal(decideReconnect(error, backoff, options).retry, false);
  });

  it('rejects invalid settings with a message naming the setting', () => {
    assert.throws(() => resolveReconnectOptions({ baseDelayMs: -1 }), /reconnect\.baseDelayMs/);
    assert.throws(() => resolveReconnectOptions({ baseDelayMs: 2000, maxDelayMs: 1000 }), /reconnect\.maxDelayMs/);
    assert.throws(() => resolveReconnectOptions({ maxRetries: -1 }), /reconnect\.maxRetries/);
  });

  it("the SDK's code table matches the gateway's error catalog (codes, close codes, retry, closes)", () => {
    const gateway = Object.fromEntries(
      Object.entries(ERROR_CATALOG).map(([code, spec]) => {
        const closes = (spec as { closes?: boolean }).closes;
        return [code, { closeCode: spec.closeCode, retry: spec.retry, ...(closes === undefined ? {} : { closes }) }];
      }),
    );
    assert.deepEqual({ ...GATEWAY_ERRORS }, gateway);
  });
});
