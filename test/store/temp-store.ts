/** Temporary SQLite stores for tests: each in its own folder, closed and deleted after the test. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { openSqliteStore, type OpenStoreOptions } from '../../src/store/sqlite.js';
import type { Store } from '../../src/store/types.js';

export interface TempDatabase {
  /** The database file; its `data/` folder does not exist until a store opens it. */
  path: string;
  dir: string;
  /**
   * Opens another store on the same file (like the CLI beside the server). Keys come from
   * `options`, by default the key file beside the database (the runner's OFGW_MASTER_KEY*
   * variables are ignored).
   */
  open(options?: OpenStoreOptions): Promise<Store>;
}

export function tempDatabase(t: TestContext): TempDatabase {
  const dir = mkdtempSync(join(tmpdir(), 'ofgw-store-'));
  const path = join(dir, 'data', 'ofgw.db');
  const opened: Store[] = [];
  t.after(async () => {
    for (const store of opened) await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    path,
    dir,
    async open(options = { env: {} }) {
      const store = await openSqliteStore(path, options);
      opened.push(store);
      return store;
    },
  };
}

/** A fresh store on a new file. */
export async function tempStore(t: TestContext): Promise<Store> {
  return tempDatabase(t).open();
}
