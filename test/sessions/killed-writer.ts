/**
 * Runs event-log-writer.js as a child process, collecting its acknowledgements, so a test can
 * kill it with SIGKILL mid-append and look at what the log kept.
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../helpers.js';

const WRITER = join(dirname(fileURLToPath(import.meta.url)), 'event-log-writer.js');

export interface Writer {
  /** Ids acknowledged so far, in order. */
  readonly acks: string[];
  /** Waits until the writer opened its log. */
  ready(): Promise<void>;
  /** Waits for at least `n` acknowledgements. */
  acked(n: number): Promise<void>;
  /** SIGKILLs the writer; resolves once it is gone (rejects if it had ended another way). */
  kill(): Promise<void>;
}

/** Starts `event-log-writer.js <args>`. */
export function startWriter(args: readonly string[]): Writer {
  const child = spawn(process.execPath, [WRITER, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
  const acks: string[] = [];
  let isReady = false;
  let stderr = '';
  let buffered = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    for (const line of lines) {
      if (line === 'ready') isReady = true;
      else if (line.startsWith('ack ')) acks.push(line.slice(4));
    }
  });
  const ended = (): boolean => child.exitCode !== null || child.signalCode !== null;
  return {
    acks,
    async ready() {
      await waitFor(() => isReady || ended(), 10_000, 'the writer to open the log');
      if (!isReady) throw new Error(`the writer did not start: ${stderr}`);
    },
    async acked(n: number) {
      await waitFor(() => acks.length >= n || ended(), 20_000, 'acknowledged appends');
      if (acks.length < n) throw new Error(`the writer stopped after ${acks.length} appends: ${stderr}`);
    },
    async kill() {
      child.kill('SIGKILL');
      const signal = await exited;
      if (signal !== 'SIGKILL') throw new Error(`the writer ended by itself (${String(signal)}): ${stderr}`);
    },
  };
}
