#!/usr/bin/env node
/**
 * The `ofgw` executable: checks the open-file limit, then runs the command line (./main.ts).
 * The check comes first and imports only node built-ins, because main's module graph opens a
 * few hundred files at once while it loads: below the minimum the process would die with
 * EMFILE before it could say why. Exit code 2, like any other unusable configuration.
 */
import { fdLimit, fdLimitRefusal } from './fd-limit.js';
import { printError } from './output.js';

const argv = process.argv.slice(2);
const refusal = fdLimitRefusal(fdLimit(), argv[0] === 'serve');
if (refusal === undefined) {
  await import('./main.js');
} else {
  printError(refusal, 'FD_LIMIT', argv.includes('--json'));
  process.exitCode = 2;
}
