/** docs/errors.md is generated from the one error catalog; this keeps them in step. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { renderConfigDoc, withConfigTable } from '../src/docs/config-doc.js';
import { renderErrorsDoc } from '../src/docs/errors-doc.js';
import { ERROR_CATALOG } from '../src/errors.js';

const root = new URL('../../', import.meta.url);

describe('docs', () => {
  it('docs/errors.md matches the error catalog (run `npm run docs`)', () => {
    assert.equal(readFileSync(new URL('docs/errors.md', root), 'utf8'), renderErrorsDoc());
  });

  it('the README names every error code', () => {
    const readme = readFileSync(new URL('README.md', root), 'utf8');
    for (const code of Object.keys(ERROR_CATALOG)) assert.ok(readme.includes(code), `README mentions ${code}`);
  });

  it('the README settings table matches the settings schema (run `ofgw docs config`)', () => {
    const readme = readFileSync(new URL('README.md', root), 'utf8');
    assert.equal(readme, withConfigTable(readme), 'run `npm run docs`');
  });

  it('the settings table shows defaults as one would write them (plans showed [object Object])', () => {
    const table = renderConfigDoc();
    assert.ok(!table.includes('[object Object]'), 'no [object Object]');
    assert.match(table, /^\| `plans` \| `--plans` \| `OFGW_PLANS` \| `\{\}` \|/m);
    assert.match(table, /^\| `redis` \| `--redis` \| `OFGW_REDIS` \| `""` \|/m, 'an empty default is "", not an empty code span');
  });

  it('the catalog follows 4000 + HTTP status', () => {
    for (const [code, spec] of Object.entries(ERROR_CATALOG)) assert.equal(spec.closeCode, 4000 + spec.httpStatus, code);
  });
});
