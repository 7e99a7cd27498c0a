import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { acceptKey, encodeFrame, flatUuid, handshakeKey, Opcode, unmaskRange } from '../../src/wire/frames.js';

describe('wire frames', () => {
  it('flatUuid gives distinct version-4 UUIDs', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 5000; i++) {
      const id = flatUuid();
      assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      seen.add(id);
    }
    assert.equal(seen.size, 5000);
  });

  it('handshake keys are 16 random bytes in base64, and acceptKey follows RFC 6455 §1.3', () => {
    const keys = new Set(Array.from({ length: 3000 }, () => handshakeKey()));
    assert.equal(keys.size, 3000, 'keys repeat (the random pool is reused)');
    for (const k of keys) assert.equal(Buffer.from(k, 'base64').length, 16);
    assert.equal(acceptKey('dGhlIHNhbXBsZSBub25jZQ=='), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  });

  for (const size of [0, 5, 125, 126, 300, 65535, 65536, 70000]) {
    it(`encodes a ${size}-byte frame, masked and unmasked`, () => {
      const payload = Buffer.alloc(size, 0x61);
      for (let i = 0; i < size; i++) payload[i] = i & 0xff;
      for (const masked of [false, true]) {
        const frame = encodeFrame(Opcode.Binary, payload, masked);
        assert.equal(frame[0], 0x82);
        assert.equal(((frame[1] as number) & 0x80) !== 0, masked);
        const len7 = (frame[1] as number) & 0x7f;
        let at = 2;
        let length = len7;
        if (len7 === 126) {
          length = frame.readUInt16BE(2);
          at = 4;
        } else if (len7 === 127) {
          length = frame.readUInt32BE(2) * 2 ** 32 + frame.readUInt32BE(6);
          at = 10;
        }
        assert.equal(length, size);
        if (masked) {
          unmaskRange(frame, at + 4, frame.length, frame, at);
          at += 4;
        }
        assert.deepEqual(frame.subarray(at), payload);
      }
    });
  }
});
