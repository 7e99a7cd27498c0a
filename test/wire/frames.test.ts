import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isUtf8 } from 'node:buffer';
import { acceptKey, encodeFrame, flatUuid, handshakeKey, Opcode, textIsValid, unmaskRange } from '../../src/wire/frames.js';
import { mulberry32 } from '../../src/sandbox/rng.js';

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

  it('textIsValid agrees with isUtf8 of the unmasked payload, and leaves the frame as it came', () => {
    const rnd = mulberry32(16);
    const pieces = [[0x61], [0x7f], [0xc3, 0xa9], [0xe2, 0x82, 0xac], [0xf0, 0x9f, 0x98, 0x80], [0xff], [0x80], [0xc3], [0xed, 0xa0, 0x80]];
    let valid = 0;
    let invalid = 0;
    for (let n = 0; n < 4000; n++) {
      // Mostly ASCII, sometimes one other piece (valid or not) at a random place; sizes across
      // the ASCII scan's limit and every tail length.
      const size = n % 3 === 0 ? Math.floor(rnd() * 3000) : Math.floor(rnd() * 40);
      const bytes: number[] = Array.from({ length: size }, () => 0x20 + Math.floor(rnd() * 0x5f));
      if (n % 2 === 1) bytes.splice(Math.floor(rnd() * (size + 1)), 0, ...(pieces[Math.floor(rnd() * pieces.length)] as number[]));
      const payload = Buffer.from(bytes);
      const expected = isUtf8(payload);
      if (expected) valid++;
      else invalid++;
      const offset = Math.floor(rnd() * 5);
      const key = Buffer.from([Math.floor(rnd() * 256), Math.floor(rnd() * 256), Math.floor(rnd() * 256), Math.floor(rnd() * 256)]);
      const frame = Buffer.alloc(offset + 4 + payload.length + 3, 0xee);
      key.copy(frame, offset);
      payload.copy(frame, offset + 4);
      const at = offset + 4;
      const end = at + payload.length;
      assert.equal(textIsValid(frame, at, end, false), expected, `unmasked, ${payload.length} bytes`);
      unmaskRange(frame, at, end, key, 0);
      const masked = Buffer.from(frame);
      assert.equal(textIsValid(frame, at, end, true), expected, `masked, ${payload.length} bytes, key ${key.toString('hex')}`);
      assert.deepEqual(frame, masked, 'the masked frame changed');
    }
    assert.ok(valid > 1000 && invalid > 300, `${valid} valid, ${invalid} invalid`);
  });
});
