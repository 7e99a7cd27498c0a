/**
 * The few places where SQLite and PostgreSQL DDL differ, behind the dialect's name, so
 * migrations stay one file for both.
 */
import type { ColumnBuilderCallback, ColumnDataType } from 'kysely';

export type DialectName = 'sqlite' | 'postgres';

/**
 * A never-reused, increasing integer primary key: `integer primary key autoincrement` on
 * SQLite (plain `integer primary key` may reuse the highest rowid after a delete), and a
 * `bigint generated always as identity` on PostgreSQL.
 * @example table.addColumn('seq', ...serialPrimaryKey(dialect))
 */
export function serialPrimaryKey(dialect: DialectName): [ColumnDataType, ColumnBuilderCallback] {
  switch (dialect) {
    case 'sqlite':
      return ['integer', (col) => col.primaryKey().autoIncrement()];
    case 'postgres':
      return ['bigint', (col) => col.primaryKey().generatedAlwaysAsIdentity()];
  }
}
