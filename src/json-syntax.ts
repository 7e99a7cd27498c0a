/**
 * Where JSON text stops being JSON, as a line and column, for the messages about a config
 * file a person edited. `JSON.parse` gives a position only for some errors and quotes the text
 * around it (which may hold a secret), so this scanner walks the grammar itself and says what
 * it expected, never what it found.
 */

export interface JsonSyntaxError {
  /** 1-based. */
  line: number;
  /** 1-based, in characters. */
  column: number;
  /** What was expected there, e.g. `expected "," or "}" after a property value`. */
  problem: string;
}

class Stop extends Error {
  constructor(
    readonly offset: number,
    readonly problem: string,
  ) {
    super(problem);
  }
}

/** Nesting past this is reported rather than followed (a config file is a few levels deep). */
const MAX_DEPTH = 512;
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/**
 * The first syntax error in `text`, or `undefined` when it is valid JSON.
 * @example locateJsonSyntaxError('{"port": 80,\n}') // { line: 2, column: 1, problem: 'expected a property name in double quotes' }
 */
export function locateJsonSyntaxError(text: string): JsonSyntaxError | undefined {
  let at = 0;
  // Typed so that TypeScript knows code after a stop() does not run.
  const stop: (problem: string) => never = (problem) => {
    throw new Stop(at, at >= text.length ? `unexpected end of the file: ${problem}` : problem);
  };
  const skipSpace = (): void => {
    while (at < text.length && ' \t\n\r'.includes(text[at] as string)) at++;
  };
  const expect = (char: string, problem: string): void => {
    skipSpace();
    if (text[at] !== char) stop(problem);
    at++;
  };
  const string = (): void => {
    at++;
    for (;;) {
      const char = text[at];
      if (char === undefined) stop('a string is not closed with "');
      if (char === '"') return void at++;
      if (char < ' ') stop('a line break or control character inside a string (write \\n, \\t…)');
      if (char === '\\') {
        at++;
        if (text[at] === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(at + 1, at + 5))) at += 5;
        else if ('"\\/bfnrt'.includes(text[at] ?? 'x')) at++;
        else stop('an invalid escape after \\ in a string');
      } else at++;
    }
  };
  const value = (depth: number): void => {
    skipSpace();
    if (depth > MAX_DEPTH) stop(`more than ${MAX_DEPTH} levels of nesting`);
    const char = text[at];
    if (char === '{') return members(depth, '}', () => {
      skipSpace();
      if (text[at] !== '"') stop('expected a property name in double quotes');
      string();
      expect(':', 'expected ":" after the property name');
      value(depth + 1);
    });
    if (char === '[') return members(depth, ']', () => value(depth + 1));
    if (char === '"') return string();
    NUMBER.lastIndex = at;
    if (NUMBER.test(text)) return void (at = NUMBER.lastIndex);
    const word = ['true', 'false', 'null'].find((w) => text.startsWith(w, at));
    if (word) return void (at += word.length);
    stop('expected a value (an object, array, string, number, true, false or null)');
  };
  const members = (depth: number, close: '}' | ']', member: () => void): void => {
    at++;
    skipSpace();
    if (text[at] === close) return void at++;
    for (;;) {
      member();
      skipSpace();
      if (text[at] === close) return void at++;
      if (text[at] !== ',') stop(`expected "," or "${close}" after ${close === '}' ? 'a property value' : 'an element'}`);
      const comma = at++;
      skipSpace();
      if (text[at] === close) {
        // Pointed at the comma, where the mistake is, not at the closing bracket.
        at = comma;
        stop(`a "," before "${close}" (JSON allows no trailing comma)`);
      }
    }
  };
  try {
    value(0);
    skipSpace();
    if (at < text.length) stop('unexpected text after the JSON value');
    return undefined;
  } catch (error) {
    if (!(error instanceof Stop)) throw error;
    const before = text.slice(0, error.offset);
    const line = before.split('\n').length;
    return { line, column: error.offset - before.lastIndexOf('\n'), problem: error.problem };
  }
}
