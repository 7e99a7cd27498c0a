/**
 * Where a config file stops being JSON (issue 13 item 10: JSON.parse gave a position for some
 * mistakes, none for others, and quoted the text around it).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { locateJsonSyntaxError } from '../src/json-syntax.js';

describe('JSON syntax errors', () => {
  const cases: [string, string, number, number, RegExp][] = [
    ['a trailing comma, at the comma', '{\n  "port": 80,\n}', 2, 13, /no trailing comma/],
    ['an unquoted property name', '{port: 80}', 1, 2, /property name in double quotes/],
    ['a missing colon', '{"port" 80}', 1, 9, /expected ":"/],
    ['a bare word as a value (no position from JSON.parse)', '{"a": tru}', 1, 7, /expected a value/],
    ['a missing comma', '{"a": 1\n "b": 2}', 2, 2, /expected "," or "}"/],
    ['a line break in a string', '{"a": "x\ny"}', 1, 9, /line break .* inside a string/],
    ['an unclosed object', '{"a": [1, 2]', 1, 13, /^unexpected end of the file: expected "," or "}"/],
    ['text after the value', '{}\n}', 2, 1, /unexpected text after/],
    ['an empty file', '', 1, 1, /^unexpected end of the file: expected a value/],
  ];
  for (const [what, text, line, column, problem] of cases) {
    it(`${what}: line ${line}, column ${column}`, () => {
      assert.throws(() => JSON.parse(text), 'sanity: JSON.parse refuses it too');
      const found = locateJsonSyntaxError(text);
      assert.equal(found?.line, line, JSON.stringify(found));
      assert.equal(found?.column, column, JSON.stringify(found));
      assert.match(found?.problem ?? '', problem);
    });
  }

  it('finds nothing in valid JSON', () => {
    for (const text of ['{}', ' {"a": [1, -2.5e3, true, false, null, {"b": "\\u00e9\\n"}]} ', '[]', '"x"', '0']) {
      assert.doesNotThrow(() => JSON.parse(text));
      assert.equal(locateJsonSyntaxError(text), undefined, text);
    }
  });

  it('stops at deep nesting instead of overflowing the stack', () => {
    assert.match(locateJsonSyntaxError('['.repeat(100_000))?.problem ?? '', /levels of nesting/);
  });
});
