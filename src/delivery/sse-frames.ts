/**
 * The server-sent events format of sessions-contract.md §5, as text ready to write: one
 * function per kind of event, the same content as the envelope frames (src/delivery/envelope.ts),
 * framed for `text/event-stream`. The codec knows no sockets; the SSE stream uses it.
 *
 *   event: ready            data: {"modelId","lastEventId","resumed"}   (id: where the stream starts)
 *   id: <eventId>           event: <OnlyFans key>   data: <the frame's JSON text>
 *   id: <eventId>           event: base64           data: <the bytes, base64>  (binary or non-JSON frames)
 *   id: <eventId>           event: status           data: {"type":"status","modelId","upstream","reason"?}
 *   event: gap              data: {"type":"gap","modelId","after","before"}
 *   event: end              data: {"error","code"}   (the stream ends with a catalog error)
 *   : heartbeat
 */
import type { GatewayError } from '../errors.js';
import type { LogEntry } from '../sessions/types.js';
import { firstKeyOf, gapFrame, readStatus, statusFrame } from './envelope.js';

/**
 * How OnlyFans events are named: by their key (the contract's default), or all as `message`
 * (`?event_names=message`), so that an `EventSource`'s `onmessage` hears every key, also ones
 * nobody knows yet — an EventSource only dispatches the names it has listeners for.
 */
export type SseEventNames = 'onlyfans' | 'message';

/**
 * Names the gateway's own events use: an OnlyFans key spelled like one of them (or one that
 * cannot be an event name) is sent as `message`, so it is never taken for the gateway's.
 */
export const SSE_OWN_EVENTS: readonly string[] = ['ready', 'status', 'gap', 'end', 'base64', 'message', 'error', 'open'];

/** An OnlyFans key usable as an event name: printable ASCII without spaces, bounded. */
const EVENT_NAME = /^[\x21-\x7e]{1,128}$/;

export const SSE_HEARTBEAT = ': heartbeat\n\n';

/**
 * The first event. `start` is where the stream starts in the log (the resume point, or the
 * newest id when starting at the live tail): sent as the event's id, so a browser reconnecting
 * before any OnlyFans event arrived still resumes from there.
 */
export function sseReady(modelId: string, lastEventId: string | null, resumed: boolean, start: string | null): string {
  const id = start === null ? '' : `id: ${start}\n`;
  return `${id}event: ready\ndata: ${JSON.stringify({ modelId, lastEventId, resumed })}\n\n`;
}

/** A logged entry: an OnlyFans event, or a status (both carry their log id). */
export function sseEntry(modelId: string, entry: LogEntry, names: SseEventNames): string {
  if (entry.kind === 'status') {
    const status = readStatus(entry.data);
    return `id: ${entry.id}\nevent: status\ndata: ${statusFrame(modelId, status.upstream, status.reason)}\n\n`;
  }
  if (!entry.binary) {
    const text = entry.data.toString('utf8');
    const key = firstKeyOf(text);
    if (key !== undefined) return `id: ${entry.id}\nevent: ${names === 'message' ? 'message' : eventName(key)}\n${dataLines(text)}\n`;
  }
  return `id: ${entry.id}\nevent: base64\ndata: ${entry.data.toString('base64')}\n\n`;
}

export function sseGap(modelId: string, after: string | null, before: string): string {
  return `event: gap\ndata: ${gapFrame(modelId, after, before)}\n\n`;
}

/** The stream ends with a catalog error (revoked key, subscription ended, model gone…). */
export function sseEnd(error: GatewayError): string {
  return `event: end\ndata: ${error.toFrame()}\n\n`;
}

function eventName(key: string): string {
  return EVENT_NAME.test(key) && !SSE_OWN_EVENTS.includes(key) ? key : 'message';
}

/**
 * A `data:` line per line of the text: a frame pretty-printed by OnlyFans holds line breaks,
 * which would otherwise end the field. A client joins the lines with `\n`, so the JSON it
 * parses is the same (a `\r\n` inside the frame comes back as `\n`, which JSON reads alike).
 */
function dataLines(text: string): string {
  if (!/[\r\n]/.test(text)) return `data: ${text}\n`;
  let out = '';
  for (const line of text.split(/\r\n|\r|\n/)) out += `data: ${line}\n`;
  return out;
}
