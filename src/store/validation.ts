/**
 * Input rules, in the store so the CLI and the management API enforce the same ones. A
 * failure becomes a {@link StoreError} `INVALID_INPUT` whose message names each bad field
 * and the rule it broke, never the value: the value may be a token, a cookie or a key.
 */
import { z } from 'zod';
import { describeIssues, parseWithIssues } from '../input-issues.js';
import { StoreError } from './errors.js';
import { ACTOR_KINDS, AUDIT_ACTIONS, AUDIT_TARGET_KINDS, DELIVERY_MODES, MAX_GRACE_SECONDS, MODEL_EVENT_KINDS, MODEL_STATUSES, SUBSCRIPTION_STATUSES } from './types.js';

const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;
const PROXY_PROTOCOLS = ['http:', 'https:', 'socks5:', 'socks5h:'];

/** Upper bound for URL fields, so a stray paste cannot bloat a row. */
const MAX_URL_LENGTH = 2048;
/** The largest change-feed page a caller may ask for. */
export const MAX_CHANGES_PAGE = 10_000;
/** Longest stored event reason; longer ones are cut (see {@link eventReason}). */
export const MAX_REASON_LENGTH = 500;
/** The largest page of model events a caller may ask for. */
export const MAX_EVENTS_PAGE = 1000;

function parseUrl(value: string): URL | undefined {
  try {
    return new URL(value);
  } catch {
    return undefined;
  }
}

function boundedText(max: number) {
  const length = `must be 1–${max} characters`;
  return z.string().trim().min(1, length).max(max, length);
}

const name = boundedText(200).refine((s) => !CONTROL_CHARS.test(s), 'must not contain control characters');

/** A URL field whose parsed form must pass `accept`; the value itself is never echoed. */
function urlText(accept: (url: URL) => boolean, rule: string) {
  return z
    .string()
    .trim()
    .max(MAX_URL_LENGTH, `must be at most ${MAX_URL_LENGTH} characters`)
    .refine((s) => {
      const url = parseUrl(s);
      return url !== undefined && accept(url);
    }, rule);
}

/** A non-empty secret sent as (part of) a header, rejected when it holds `forbidden`. */
function headerSecret(max: number, forbidden: RegExp, rule: string) {
  return z
    .string()
    .trim()
    .min(1, 'must not be empty')
    .max(max, `must be at most ${max} characters`)
    .refine((s) => !forbidden.test(s), rule);
}

const wsUrl = urlText((url) => url.protocol === 'ws:' || url.protocol === 'wss:', 'must be a ws:// or wss:// URL');

const wsToken = headerSecret(8192, /[\s\u0000-\u001f\u007f]/, 'must not contain whitespace or control characters');

const userAgent = boundedText(1024).regex(/^[\u0020-\u007e]*$/, 'must contain only printable ASCII characters');

// Tabs are legal in header values; line breaks would let a cookie inject headers.
const cookie = headerSecret(
  8192,
  /[\u0000-\u0008\u000a-\u001f\u007f]/,
  'must not contain line breaks or control characters',
);

const proxyUrl = urlText(
  (url) => PROXY_PROTOCOLS.includes(url.protocol) && url.hostname !== '',
  'must be an http://, https://, socks5:// or socks5h:// URL with a host',
);

const ISO_DATE = 'must be an ISO 8601 date: YYYY-MM-DD, or a time with its offset such as YYYY-MM-DDTHH:MM:SSZ';
/** Stored normalised to UTC milliseconds so timestamps compare correctly as text. */
export const isoDate = z
  .union([z.iso.datetime({ offset: true }), z.iso.date()], { error: ISO_DATE })
  .transform((s) => new Date(s))
  .refine((d) => !Number.isNaN(d.getTime()), ISO_DATE)
  .transform((d) => d.toISOString());

const oneOf = (values: readonly string[]) => `must be one of ${values.join(', ')}`;

export const organizationInput = z.object({ name, sandbox: z.boolean().default(false) });

export const renameInput = z.object({ name });

export const subscriptionInput = z.object({
  status: z.enum(SUBSCRIPTION_STATUSES, { error: oneOf(SUBSCRIPTION_STATUSES) }),
  plan: boundedText(100).nullish(),
});

/** A key's expiry must lie ahead: a key created already expired could never be used. */
const futureDate = isoDate.refine((iso) => Date.parse(iso) > Date.now(), 'must be in the future');

export const apiKeyInput = z.object({ name: name.nullish(), expiresAt: futureDate.nullish() });

const graceRule = `must be a whole number of seconds from 0 to ${MAX_GRACE_SECONDS} (30 days)`;
export const rotationInput = z.object({ graceSeconds: z.number(graceRule).int(graceRule).min(0, graceRule).max(MAX_GRACE_SECONDS, graceRule).default(0) });

/**
 * Who made a change. The detail is informational text (a user name a client claims, an IP):
 * control characters become spaces and it is cut to 200 characters, like an event reason.
 */
export const actorInput = z.object({
  kind: z.enum(ACTOR_KINDS, { error: oneOf(ACTOR_KINDS) }),
  detail: z
    .string()
    .transform((s) => s.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim().slice(0, 200))
    .transform((s) => (s === '' ? null : s))
    .nullable(),
});

/** `key` stands for every `key.*` action. */
const AUDIT_ACTION_FILTERS: readonly string[] = [...AUDIT_ACTIONS, ...AUDIT_TARGET_KINDS];
const auditPage = `must be a whole number from 1 to ${MAX_EVENTS_PAGE}`;
export const auditQuery = z.object({
  orgId: z.string().optional(),
  action: z.enum(AUDIT_ACTION_FILTERS as [string, ...string[]], { error: `must be one of ${AUDIT_TARGET_KINDS.join(', ')} or an action such as key.rotated` }).optional(),
  actorKind: z.enum(ACTOR_KINDS, { error: oneOf(ACTOR_KINDS) }).optional(),
  targetId: z.string().optional(),
  since: isoDate.optional(),
  until: isoDate.optional(),
  before: z.number().int('must be a whole number from 1').min(1, 'must be a whole number from 1').optional(),
  limit: z.number().int(auditPage).min(1, auditPage).max(MAX_EVENTS_PAGE, auditPage).default(50),
});

export const modelInput = z.object({
  name: name.nullish(),
  wsUrl,
  wsToken,
  userAgent: userAgent.nullish(),
  cookie: cookie.nullish(),
  proxyUrl: proxyUrl.nullish(),
  delivery: z.enum(DELIVERY_MODES, { error: oneOf(DELIVERY_MODES) }).optional(),
});

/** Like {@link modelInput}, but every field may be left out; URL and token cannot be cleared. */
export const modelPatchInput = modelInput.partial();

/**
 * Fresh credentials from the refresh endpoint: URL and token required, like a new model;
 * user agent and cookie replaced only when given (`null` clears them).
 */
export const refreshInput = z.object({ wsUrl, wsToken, userAgent: userAgent.nullish(), cookie: cookie.nullish() });

/**
 * An event reason: human text, usually an upstream error message. Control characters become
 * spaces (a reason lands in logs and terminals) and an over-long one is cut to
 * {@link MAX_REASON_LENGTH} characters rather than refused: failing to record that OnlyFans
 * rejected a token because its message was long would be worse than a shortened message.
 * Blank means no reason.
 */
export const eventReason = z
  .string()
  .transform((s) => s.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim())
  .transform((s) => (s.length > MAX_REASON_LENGTH ? `${s.slice(0, MAX_REASON_LENGTH - 1).trimEnd()}…` : s))
  .transform((s) => (s === '' ? null : s));

export const reasonInput = z.object({ reason: eventReason });

export const modelEventInput = z.object({
  kind: z.enum(MODEL_EVENT_KINDS, { error: oneOf(MODEL_EVENT_KINDS) }),
  reason: eventReason,
});

const eventsPage = `must be a whole number from 1 to ${MAX_EVENTS_PAGE}`;
export const eventsQuery = z.object({ limit: z.number().int(eventsPage).min(1, eventsPage).max(MAX_EVENTS_PAGE, eventsPage) });

export const modelStatusInput = z.object({ status: z.enum(MODEL_STATUSES, { error: oneOf(MODEL_STATUSES) }) });

export const touchInput = z.object({ at: z.date({ error: 'must be a valid Date' }) });

const pageSize = `must be a whole number from 1 to ${MAX_CHANGES_PAGE}`;
export const changesQuery = z.object({
  after: z.number().int('must be a whole number').min(0, 'must be 0 or more'),
  limit: z.number().int(pageSize).min(1, pageSize).max(MAX_CHANGES_PAGE, pageSize),
});

/**
 * Parses `input` or throws `INVALID_INPUT` listing each failing field, e.g.
 * `wsUrl must be a ws:// or wss:// URL; name must be 1–200 characters`, with the same
 * fields and rules in its `issues`.
 */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const parsed = parseWithIssues(schema, input);
  if (parsed.ok) return parsed.data;
  throw new StoreError('INVALID_INPUT', describeIssues(parsed.issues), parsed.issues);
}

const uuid = z.uuid();

/** The id in canonical (lower-case) form, or `undefined` when it is not a UUID. */
export function parseId(id: unknown): string | undefined {
  const result = uuid.safeParse(id);
  return result.success ? result.data.toLowerCase() : undefined;
}

/**
 * Like {@link parseId}, but a malformed id is `NOT_FOUND`. The malformed value is not
 * echoed: a user who pastes an API key where an id belongs must not see it in a log.
 */
export function requireId(what: string, id: unknown): string {
  const parsed = parseId(id);
  if (parsed === undefined) throw new StoreError('NOT_FOUND', `${what} not found: the id must be a UUID`);
  return parsed;
}

/** `NOT_FOUND` for a well-formed id (a UUID is not a secret, so it is named). */
export function notFound(what: string, id: string): StoreError {
  return new StoreError('NOT_FOUND', `${what} ${id} not found`);
}
