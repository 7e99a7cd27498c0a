/**
 * Reads on the connect path, built and compiled once per store instead of on every call.
 *
 * Building a Kysely query and compiling it to SQL is a few microseconds of object churn each
 * time, for text that never changes: only the bound value does. A {@link CompiledRead} keeps
 * the compiled query (SQL and operation tree, in the store's own dialect, so a PostgreSQL
 * store gets `$1`) and swaps in the value per call.
 */
import { createQueryId, type Compilable, type CompiledQuery } from 'kysely';

/** Stands for the value while compiling; it must come out as the query's only parameter. */
const PLACEHOLDER = '\u0000ofgw:compiled-read:value\u0000';

export class CompiledRead<R> {
  readonly #compiled: CompiledQuery<R>;

  /**
   * `build` makes the query with its one value given as `value`.
   * @throws {Error} when the compiled query does not have exactly that one parameter.
   */
  constructor(build: (value: string) => Compilable<R>) {
    const compiled = build(PLACEHOLDER).compile();
    if (compiled.parameters.length !== 1 || compiled.parameters[0] !== PLACEHOLDER) {
      throw new Error(`a compiled read must bind exactly one value, got ${compiled.parameters.length}: ${compiled.sql}`);
    }
    this.#compiled = compiled;
  }

  /** The query for `value`, ready for `Kysely.executeQuery`. */
  with(value: string): CompiledQuery<R> {
    return { query: this.#compiled.query, sql: this.#compiled.sql, parameters: [value], queryId: createQueryId() };
  }
}
