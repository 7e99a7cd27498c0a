/**
 * How a broken input rule is put into words, the same for the store, the management API and
 * the configuration. Each problem is a field (its path) and the rule it broke, kept apart so
 * that every caller names the field the way its user typed it: the CLI as its flag
 * (`--expires-at`), the management API as the body field or query parameter sent, the
 * configuration as the flag, environment variable or file key it came from. The words never
 * quote the value: it may be a token, a cookie or a key.
 */
import { z } from 'zod';

/** One broken rule. */
export interface InputIssue {
  /** The field's path, dotted (`plans.pro.maxRelays`); `''` for the input as a whole. */
  readonly field: string;
  /** What the field must be, as a predicate: `must be a whole number`, `is required`. */
  readonly rule: string;
}

/** Type names as a user reads them. */
const TYPE_NAMES: Record<string, string> = { int: 'whole number', record: 'object' };

function article(noun: string): string {
  return /^[aeiou]/.test(noun) ? 'an' : 'a';
}

/**
 * Words for the rules a schema leaves to zod's defaults (types, bounds, formats, choices):
 * zod's own (`Invalid input: expected number, received NaN`) name neither the field nor the
 * rule plainly. A schema's own message wins over these.
 */
export const ruleWords: z.core.$ZodErrorMap = (issue) => {
  switch (issue.code) {
    case 'invalid_type': {
      if (issue.input === undefined) return 'is required';
      const noun = TYPE_NAMES[issue.expected] ?? issue.expected;
      return `must be ${article(noun)} ${noun}`;
    }
    case 'too_small':
      if (issue.origin === 'string') return Number(issue.minimum) <= 1 ? 'must not be empty' : `must be at least ${issue.minimum} characters`;
      if (issue.origin === 'array' || issue.origin === 'set') return `must have at least ${issue.minimum} items`;
      return issue.inclusive ? `must be at least ${issue.minimum}` : `must be more than ${issue.minimum}`;
    case 'too_big':
      if (issue.origin === 'string') return `must be at most ${issue.maximum} characters`;
      if (issue.origin === 'array' || issue.origin === 'set') return `must have at most ${issue.maximum} items`;
      return issue.inclusive ? `must be at most ${issue.maximum}` : `must be less than ${issue.maximum}`;
    case 'invalid_value':
      return issue.values.length === 1 ? `must be ${String(issue.values[0])}` : `must be one of ${issue.values.map(String).join(', ')}`;
    case 'invalid_format':
      if (issue.format === 'url') return 'must be a URL';
      if (issue.format === 'uuid' || issue.format === 'guid') return 'must be a UUID';
      if (issue.format === 'datetime' || issue.format === 'date') return 'must be an ISO 8601 date';
      return issue.format === 'regex' ? 'is not in the expected form' : `must be a valid ${issue.format}`;
    case 'not_multiple_of':
      return `must be a multiple of ${String(issue.divisor)}`;
    case 'unrecognized_keys':
      return 'is not a known field';
    case 'invalid_key':
      return 'has a key that is not allowed';
    default:
      return 'is invalid';
  }
};

/**
 * The issues of a failed parse, each field and rule once; an unknown key is an issue of its own
 * field (zod reports them on the object that holds them).
 */
export function inputIssues(error: z.ZodError): InputIssue[] {
  const issues = error.issues.flatMap((issue): InputIssue[] =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({ field: [...issue.path, key].map(String).join('.'), rule: 'is not a known field' }))
      : [{ field: issue.path.map(String).join('.'), rule: issue.message }],
  );
  const seen = new Set<string>();
  return issues.filter(({ field, rule }) => !seen.has(`${field}\u0000${rule}`) && seen.add(`${field}\u0000${rule}`));
}

/** Parses `value` with {@link ruleWords}: the data, or the issues. */
export function parseWithIssues<S extends z.ZodType>(schema: S, value: unknown): { ok: true; data: z.output<S> } | { ok: false; issues: InputIssue[] } {
  const result = schema.safeParse(value, { error: ruleWords });
  return result.success ? { ok: true, data: result.data } : { ok: false, issues: inputIssues(result.error) };
}

/** `field rule; field rule`, the fields named by `name` (by default as they are). */
export function describeIssues(issues: readonly InputIssue[], name: (field: string) => string = (field) => field || 'input'): string {
  return issues.map(({ field, rule }) => `${name(field)} ${rule}`).join('; ');
}
