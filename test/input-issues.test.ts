/**
 * The one wording of broken input rules (issue 13 item 10): zod's defaults said "Invalid input:
 * expected number, received NaN", naming neither the field nor the rule; the field now stays
 * apart from the words, for each caller to name as its user typed it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { describeIssues, parseWithIssues } from '../src/input-issues.js';

function issuesOf(schema: z.ZodType, value: unknown) {
  const parsed = parseWithIssues(schema, value);
  assert.equal(parsed.ok, false, 'the value is refused');
  return parsed.ok ? [] : parsed.issues;
}

describe('input issues', () => {
  it('words zod leaves to its defaults as rules (it said "expected number, received NaN")', () => {
    const schema = z
      .object({
        limit: z.coerce.number().int().min(1).max(1000),
        whole: z.number().int(),
        name: z.string().min(1),
        short: z.string().max(3),
        kind: z.enum(['a', 'b']),
        id: z.uuid(),
        positive: z.number().positive(),
        needed: z.string(),
      })
      .strict();
    const issues = issuesOf(schema, { limit: 'abc', whole: 1.5, name: '', short: 'abcd', kind: 'c', id: 'x', positive: 0, extra: 1 });
    assert.deepEqual(issues, [
      { field: 'limit', rule: 'must be a number' },
      { field: 'whole', rule: 'must be a whole number' },
      { field: 'name', rule: 'must not be empty' },
      { field: 'short', rule: 'must be at most 3 characters' },
      { field: 'kind', rule: 'must be one of a, b' },
      { field: 'id', rule: 'must be a UUID' },
      { field: 'positive', rule: 'must be more than 0' },
      { field: 'needed', rule: 'is required' },
      { field: 'extra', rule: 'is not a known field' },
    ]);
    assert.deepEqual(issuesOf(schema.shape.limit, '0'), [{ field: '', rule: 'must be at least 1' }]);
    assert.deepEqual(issuesOf(schema.shape.limit, '5000'), [{ field: '', rule: 'must be at most 1000' }]);
  });

  it("a schema's own message wins; nested fields are dotted paths; the value is never quoted", () => {
    const schema = z.object({ plans: z.record(z.string(), z.object({ burst: z.number().min(1, 'must be 1 or more') }).strict()) });
    const issues = issuesOf(schema, { plans: { pro: { burst: 0, secret: 'SECRET-VALUE' } } });
    assert.deepEqual(issues, [
      { field: 'plans.pro.burst', rule: 'must be 1 or more' },
      { field: 'plans.pro.secret', rule: 'is not a known field' },
    ]);
    assert.ok(!JSON.stringify(issues).includes('SECRET-VALUE'));
  });

  it('describeIssues names each field as the caller says', () => {
    const issues = [{ field: 'expiresAt', rule: 'must be in the future' }, { field: '', rule: 'must be an object' }];
    assert.equal(describeIssues(issues), 'expiresAt must be in the future; input must be an object');
    assert.equal(describeIssues(issues, (f) => (f === 'expiresAt' ? '--expires-at' : 'the body')), '--expires-at must be in the future; the body must be an object');
  });
});
