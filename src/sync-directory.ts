/**
 * Fsyncs a directory, so that a file created in it, or renamed into it, is still there after an
 * OS crash. Some platforms cannot fsync a directory, which is fine: best effort.
 */
import { closeSync, fsyncSync, openSync } from 'node:fs';

export function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Best effort.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
