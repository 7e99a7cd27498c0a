import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clientCloseCodeFor, fitCloseReason, isSendableCloseCode, upstreamCloseCodeFor } from '../../src/wire/close-codes.js';

describe('close-code rules', () => {
  it('knows which codes may be sent', () => {
    for (const c of [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4000, 4999]) assert.ok(isSendableCloseCode(c), String(c));
    for (const c of [0, 999, 1000.5, 1004, 1005, 1006, 1015, 1016, 2999, 5000]) assert.ok(!isSendableCloseCode(c), String(c));
  });

  it('maps unsendable codes: upstream → client 1014, client → upstream 1005 → 1000', () => {
    assert.equal(clientCloseCodeFor(4000), 4000);
    for (const c of [1005, 1006, 1015]) assert.equal(clientCloseCodeFor(c), 1014);
    assert.equal(upstreamCloseCodeFor(1005), 1000);
    assert.equal(upstreamCloseCodeFor(1006), 1014);
    assert.equal(upstreamCloseCodeFor(4321), 4321);
  });

  it('cuts reasons to 123 bytes on a character boundary', () => {
    assert.equal(fitCloseReason('short'), 'short');
    const cut = fitCloseReason('é'.repeat(100)) as Buffer;
    assert.equal(cut.length, 122);
    assert.equal(cut.toString('utf8'), 'é'.repeat(61));
  });
});
