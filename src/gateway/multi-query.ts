/**
 * The query of a multi-model socket (sessions-contract.md §4):
 * `models=<id>,<id>…` (required), `events=<key>,…` (optional filter) and
 * `since=<modelId>:<eventId>,…` (optional, per model); `format` may only be `envelope`, the one
 * format such a socket speaks. A malformed value answers BAD_REQUEST naming the parameter as
 * the client wrote it; the rest of the query (api_key…) is ignored, as on single-model sockets.
 */
import { GatewayError } from '../errors.js';

export interface MultiQuery {
  /** The models asked for, lowercased, duplicates dropped, in the order given. */
  models: string[];
  /** The OnlyFans event keys to keep, or undefined for every event. */
  events: ReadonlySet<string> | undefined;
  /** The last event id the client has, per model (lowercased id). */
  since: ReadonlyMap<string, string>;
}

/** Longest model id accepted as typed (UUIDs are 36 characters; longer is not a model). */
const MAX_MODEL_ID = 64;
/** Longest event id in `since` (ids are `<ms>-<seq>`, far shorter). */
const MAX_EVENT_ID = 64;
/** Event keys in `events=`, and the longest one (OnlyFans keys are short identifiers). */
const MAX_EVENT_KEYS = 100;
const MAX_EVENT_KEY = 128;

/** @throws {GatewayError} BAD_REQUEST naming `models`, `events`, `since` or `format`. */
export function readMultiQuery(query: string, maxModels: number): MultiQuery {
  const params = new URLSearchParams(query);
  const format = params.get('format');
  if (format !== null && format !== 'envelope') {
    throw badRequest(`format must be envelope on /api/ws (a multi-model socket speaks only the envelope format), not ${JSON.stringify(format.slice(0, 32))}`);
  }
  const models = readModels(params.get('models'), maxModels);
  return { models, events: readEvents(params.get('events')), since: readSince(params.get('since'), models) };
}

function readModels(value: string | null, maxModels: number): string[] {
  if (value === null || value.trim() === '') throw badRequest('models is required: models=<model id>,<model id>…');
  const models: string[] = [];
  for (const part of value.split(',')) {
    const id = part.trim().toLowerCase();
    if (id === '' || id.length > MAX_MODEL_ID) throw badRequest(`models must be model ids separated by commas (each at most ${MAX_MODEL_ID} characters)`);
    if (models.includes(id)) continue;
    models.push(id);
    if (models.length > maxModels) throw badRequest(`models names more than ${maxModels} models, the most one socket may serve (maxModelsPerSocket)`);
  }
  return models;
}

function readEvents(value: string | null): ReadonlySet<string> | undefined {
  if (value === null) return undefined;
  const keys = value.split(',').map((k) => k.trim());
  if (keys.some((k) => k === '' || k.length > MAX_EVENT_KEY)) throw badRequest(`events must be OnlyFans event keys separated by commas (each at most ${MAX_EVENT_KEY} characters)`);
  if (keys.length > MAX_EVENT_KEYS) throw badRequest(`events names more than ${MAX_EVENT_KEYS} event keys`);
  return new Set(keys);
}

function readSince(value: string | null, models: readonly string[]): ReadonlyMap<string, string> {
  const since = new Map<string, string>();
  if (value === null) return since;
  for (const part of value.split(',')) {
    const colon = part.indexOf(':');
    const modelId = part.slice(0, colon).trim().toLowerCase();
    const eventId = part.slice(colon + 1).trim();
    if (colon <= 0 || eventId === '' || eventId.length > MAX_EVENT_ID) {
      throw badRequest(`since must be <model id>:<event id> pairs separated by commas (event ids at most ${MAX_EVENT_ID} characters)`);
    }
    if (!models.includes(modelId)) throw badRequest(`since names a model that models does not: ${JSON.stringify(modelId.slice(0, MAX_MODEL_ID))}`);
    if (since.has(modelId)) throw badRequest(`since names the model ${JSON.stringify(modelId)} twice`);
    since.set(modelId, eventId);
  }
  return since;
}

function badRequest(message: string): GatewayError {
  return new GatewayError('BAD_REQUEST', message);
}
