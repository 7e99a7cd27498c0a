/**
 * The session bus's messages on the wire: JSON, at most {@link MAX_BUS_MESSAGE_BYTES}, and
 * checked on arrival (another node may run another version; a malformed message is dropped,
 * never thrown into a handler). Both buses encode, so a handler sees the same copy whether the
 * command came from this node or another.
 */
import type { SessionCommand, SessionReply } from './types.js';

/** The largest command or reply the bus carries (an allow-listed act or an onlines list). */
export const MAX_BUS_MESSAGE_BYTES = 64 * 1024;

/** A command was larger than {@link MAX_BUS_MESSAGE_BYTES}; it was not sent. */
export class BusMessageTooLargeError extends Error {
  constructor(bytes: number) {
    super(`session command of ${bytes} bytes is over the limit of ${MAX_BUS_MESSAGE_BYTES}`);
    this.name = 'BusMessageTooLargeError';
  }
}

/** @throws {BusMessageTooLargeError} */
export function encodeCommand(command: SessionCommand): string {
  const text = JSON.stringify(command.reply ? { text: command.text, reply: { node: command.reply.node, requestId: command.reply.requestId } } : { text: command.text });
  const bytes = Buffer.byteLength(text);
  if (bytes > MAX_BUS_MESSAGE_BYTES) throw new BusMessageTooLargeError(bytes);
  return text;
}

/**
 * A reply too large for the bus becomes a REQUEST_FAILED answer, so the asker learns at once
 * instead of waiting for its timeout.
 */
export function encodeReply(reply: SessionReply): string {
  const plain: SessionReply = { requestId: reply.requestId };
  if (reply.text !== undefined) plain.text = reply.text;
  if (reply.error) plain.error = { code: reply.error.code, message: reply.error.message };
  const text = JSON.stringify(plain);
  if (Buffer.byteLength(text) <= MAX_BUS_MESSAGE_BYTES) return text;
  return JSON.stringify({ requestId: reply.requestId, error: { code: 'REQUEST_FAILED', message: `the upstream's reply is over the limit of ${MAX_BUS_MESSAGE_BYTES} bytes` } });
}

function parse(message: string | Buffer): Record<string, unknown> | undefined {
  if (Buffer.byteLength(message) > MAX_BUS_MESSAGE_BYTES) return undefined;
  try {
    const value: unknown = JSON.parse(message.toString());
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The command, or undefined when the message is not a well-formed one. */
export function decodeCommand(message: string | Buffer): SessionCommand | undefined {
  const value = parse(message);
  if (!value || typeof value.text !== 'string') return undefined;
  if (value.reply === undefined) return { text: value.text };
  const reply = value.reply as Record<string, unknown> | null;
  if (typeof reply !== 'object' || reply === null || typeof reply.node !== 'string' || typeof reply.requestId !== 'string') return undefined;
  return { text: value.text, reply: { node: reply.node, requestId: reply.requestId } };
}

/** The reply, or undefined when the message is not a well-formed one. */
export function decodeReply(message: string | Buffer): SessionReply | undefined {
  const value = parse(message);
  if (!value || typeof value.requestId !== 'string') return undefined;
  const reply: SessionReply = { requestId: value.requestId };
  if (typeof value.text === 'string') reply.text = value.text;
  const error = value.error as Record<string, unknown> | undefined;
  if (error !== undefined) {
    if (typeof error !== 'object' || error === null || error.code !== 'REQUEST_FAILED' || typeof error.message !== 'string') return undefined;
    reply.error = { code: 'REQUEST_FAILED', message: error.message };
  }
  if (reply.text === undefined && !reply.error) return undefined;
  return reply;
}
