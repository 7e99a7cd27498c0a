/**
 * Kysely's SQLite dialect, with write transactions opened by `begin immediate`.
 *
 * The CLI and the server write the same file from two processes. A plain (deferred) `begin`
 * takes the write lock only at the first write; if the other process committed since this
 * transaction's first read, SQLite fails with SQLITE_BUSY at once and the busy timeout does
 * not help. `begin immediate` takes the write lock up front, where the busy timeout waits.
 */
import { CompiledQuery, SqliteDialect, SqliteDriver, type DatabaseConnection, type Driver, type SqliteDialectConfig } from 'kysely';

class ImmediateTransactionSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

export class ImmediateTransactionSqliteDialect extends SqliteDialect {
  readonly #config: SqliteDialectConfig;

  constructor(config: SqliteDialectConfig) {
    super(config);
    this.#config = config;
  }

  override createDriver(): Driver {
    return new ImmediateTransactionSqliteDriver(this.#config);
  }
}
