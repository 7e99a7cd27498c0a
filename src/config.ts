/**
 * Gateway configuration: one table of settings, each with its default, its reason, its
 * environment variable and its `serve` flag. Values come from flags, then the environment,
 * then the default; the result is validated once at start-up and an unknown or invalid
 * setting stops the process with a message that names it.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { parseWithIssues } from './input-issues.js';
import { locateJsonSyntaxError } from './json-syntax.js';

const KiB = 1024;
const MiB = 1024 * KiB;

const port = z.coerce.number().int().min(0).max(65535);
const positiveNumber = z.coerce.number().positive().finite();
const positiveInt = z.coerce.number().int().min(1);
const bool = z.union([z.boolean(), z.enum(['1', 'true', 'yes', 'on', '0', 'false', 'no', 'off', ''])], { error: 'must be true or false (or 1/0, yes/no, on/off)' }).transform(
  (v) => v === true || v === '1' || v === 'true' || v === 'yes' || v === 'on',
);

/** The limits a plan may override; the rest are per IP or per model, not per customer. */
export const PLAN_LIMITS = [
  'maxRelaysPerOrg',
  'keyConnectBurst',
  'keyConnectPerSecond',
  'messagesPerSecond',
  'messageBurst',
  'maxSessionClientsPerModel',
  'eventLogMaxEvents',
  'eventLogMaxAgeMs',
] as const;
export type PlanLimits = Partial<Record<(typeof PLAN_LIMITS)[number], number>> & { sessionAllowedActs?: string[] };

/** `5s,5m,2h,…` (or milliseconds) → milliseconds; from the file as an array of either. */
const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const durationList = z.preprocess(
  (v) => (typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter((s) => s !== '') : v),
  z
    .array(
      z.union([z.number(), z.string()]).transform((d, ctx) => {
        const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(String(d));
        if (!m) {
          ctx.addIssue({ code: 'custom', message: `must be durations such as 5s,5m,2h (got ${JSON.stringify(String(d))})` });
          return z.NEVER;
        }
        return Math.round(Number(m[1]) * (DURATION_UNITS[m[2] ?? 'ms'] as number));
      }),
    )
    .min(1, 'must list at least one delay')
    .max(20, 'may list at most 20 delays'),
);

/** An OnlyFans act name, as in `{"act": "get_onlines"}`. */
const actName = z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, 'must be an act name such as get_onlines');
/** From the file as an array, from the environment (or a flag) as comma-separated text. */
const actList = z.preprocess(
  (v) => (typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter((s) => s !== '') : v),
  z.array(actName).refine((acts) => !acts.includes('connect'), 'may not include connect: the session sends it itself'),
);

const planSchema = z
  .object({
    maxRelaysPerOrg: z.number().int().min(1).optional(),
    keyConnectBurst: z.number().int().min(1).optional(),
    keyConnectPerSecond: z.number().positive().finite().optional(),
    messagesPerSecond: z.number().positive().finite().optional(),
    messageBurst: z.number().int().min(1).optional(),
    maxSessionClientsPerModel: z.number().int().min(1).optional(),
    eventLogMaxEvents: z.number().int().min(1).max(10_000_000).optional(),
    eventLogMaxAgeMs: z.number().int().min(1000).optional(),
    sessionAllowedActs: actList.optional(),
  })
  .strict();

/** From the file as an object, from the environment (or a flag) as JSON text. */
const plansSchema = z.preprocess((v, ctx) => {
  if (typeof v !== 'string') return v;
  try {
    return JSON.parse(v) as unknown;
  } catch {
    ctx.addIssue({ code: 'custom', message: 'must be a JSON object of plans, e.g. {"pro":{"maxRelaysPerOrg":200}}' });
    return z.NEVER;
  }
}, z.record(z.string().min(1), planSchema));

interface Setting {
  schema: z.ZodType;
  default: unknown;
  env: string;
  /** Why the default is what it is. */
  doc: string;
  /** A secret: environment only (no flag, which `ps` would show), never printed. */
  secret?: boolean;
  /** A URL that may carry a password (postgres://user:pw@…): shown with the password masked. */
  urlWithPassword?: boolean;
  /** Further environment variables, read when `env` is unset (e.g. DATABASE_URL). */
  envAliases?: readonly string[];
}

/** Every setting, in the order `ofgw config` and the docs list them. */
export const SETTINGS = {
  host: { schema: z.string().min(1), default: '127.0.0.1', env: 'OFGW_HOST', doc: 'Address to listen on. Loopback by default so a first start exposes nothing; use 0.0.0.0 to serve the network.' },
  port: { schema: port, default: 8080, env: 'OFGW_PORT', doc: 'TCP port of the gateway (0 picks a free one).' },
  db: { schema: z.string().min(1), default: './data/ofgw.db', env: 'OFGW_DB', envAliases: ['DATABASE_URL'], urlWithPassword: true, doc: 'The store: a SQLite file (created with its folder on first start), or a postgres:// URL for several nodes. DATABASE_URL is read when OFGW_DB is unset.' },
  dbPoolSize: { schema: z.coerce.number().int().min(1).max(1000), default: 10, env: 'OFGW_DB_POOL_SIZE', doc: 'PostgreSQL only: connections each process keeps at most; size max_connections for this per process (each worker is one) plus one per CLI command.' },
  production: { schema: bool, default: false, env: 'OFGW_PRODUCTION', doc: 'Production mode: never seeds the sandbox organization.' },
  sandboxPort: { schema: port, default: 8081, env: 'OFGW_SANDBOX_PORT', doc: 'Port of the in-process OnlyFans simulator that serves the seeded sandbox model (not in production).' },
  maxMessageBytes: { schema: positiveInt, default: 1 * MiB, env: 'OFGW_MAX_MESSAGE_BYTES', doc: 'Largest client message; a bigger one closes the relay with 1009. Clients send small OnlyFans actions.' },
  upstreamMaxMessageBytes: { schema: positiveInt, default: 4 * MiB, env: 'OFGW_UPSTREAM_MAX_MESSAGE_BYTES', doc: 'Largest upstream message; OnlyFans chat frames with media run to tens of KiB, so this leaves room while bounding memory.' },
  maxFragments: { schema: positiveInt, default: 1024, env: 'OFGW_MAX_FRAGMENTS', doc: 'Most fragments in one message on either leg (1008 past it); a fragmented message is held until its last fragment, then relayed with its fragmentation unchanged.' },
  maxBufferedChunks: { schema: positiveInt, default: 16384, env: 'OFGW_MAX_BUFFERED_CHUNKS', doc: 'Most TCP reads buffered for one incomplete frame (1008 past it), against the tiny-chunk memory DoS (ws 8.21 fixed the same in ws).' },
  pendingMessages: { schema: positiveInt, default: 100, env: 'OFGW_PENDING_MESSAGES', doc: 'Client messages held before the confirmation; at the bound the client is paused (TCP backpressure).' },
  pendingBytes: { schema: positiveInt, default: 256 * KiB, env: 'OFGW_PENDING_BYTES', doc: 'Bytes held before the confirmation; at the bound the client is paused. Four times this closes with RATE_LIMITED.' },
  highWaterBytes: { schema: positiveInt, default: 256 * KiB, env: 'OFGW_HIGH_WATER_BYTES', doc: 'Buffered bytes towards one peer above which the other peer is paused.' },
  lowWaterBytes: { schema: positiveInt, default: 64 * KiB, env: 'OFGW_LOW_WATER_BYTES', doc: 'Buffered bytes below which a paused peer is resumed.' },
  hardCapBytes: { schema: positiveInt, default: 8 * MiB, env: 'OFGW_HARD_CAP_BYTES', doc: 'Bytes queued towards either peer that end the relay, whatever the frames (events, pongs, the gateway\'s own): SLOW_CONSUMER for a client, 1014 for an upstream that stopped reading. Must exceed the high-water mark plus the largest message.' },
  slowConsumerTimeoutMs: { schema: positiveInt, default: 30_000, env: 'OFGW_SLOW_CONSUMER_TIMEOUT_MS', doc: 'How long the upstream may stay paused for a client that does not read before SLOW_CONSUMER; events older than this are stale.' },
  heartbeatIntervalMs: { schema: positiveInt, default: 25_000, env: 'OFGW_HEARTBEAT_INTERVAL_MS', doc: 'Ping period on each leg; a peer silent for two periods is dead. Below the 60 s idle timeout of nginx and most load balancers.' },
  handshakeTimeoutMs: { schema: positiveInt, default: 10_000, env: 'OFGW_HANDSHAKE_TIMEOUT_MS', doc: 'Time a client has to send a complete upgrade request.' },
  upstreamConnectTimeoutMs: { schema: positiveInt, default: 10_000, env: 'OFGW_UPSTREAM_CONNECT_TIMEOUT_MS', doc: 'Time to open the upstream socket (TCP, TLS, upgrade).' },
  upstreamAuthTimeoutMs: { schema: positiveInt, default: 10_000, env: 'OFGW_UPSTREAM_AUTH_TIMEOUT_MS', doc: 'Time for OnlyFans to answer the connect act; public clients wait 10 s.' },
  closeTimeoutMs: { schema: positiveInt, default: 5_000, env: 'OFGW_CLOSE_TIMEOUT_MS', doc: 'Time a peer has to answer a close frame before its socket is destroyed (ws default 30 s lets half-closed relays linger).' },
  shutdownTimeoutMs: { schema: positiveInt, default: 10_000, env: 'OFGW_SHUTDOWN_TIMEOUT_MS', doc: 'Time graceful shutdown waits for relays to close before destroying them and exiting.' },
  changePollIntervalMs: { schema: positiveInt, default: 250, env: 'OFGW_CHANGE_POLL_INTERVAL_MS', doc: 'How often the store change feed is read; revocations reach live relays within this plus one close.' },
  masterKeyFile: { schema: z.string(), default: '', env: 'OFGW_MASTER_KEY_FILE', doc: 'Key file for secrets at rest (AES-256-GCM keyring, mode 0600). Empty: ofgw.keys beside the SQLite file, generated on first start (a PostgreSQL store needs this or OFGW_MASTER_KEY: every node must share the key). Ignored when OFGW_MASTER_KEY is set.' },
  masterKey: { schema: z.string(), default: '', env: 'OFGW_MASTER_KEY', secret: true, doc: 'Base64 32-byte master key from the environment instead of a key file (older keys for decryption in OFGW_MASTER_KEY_PREVIOUS, comma-separated).' },
  upstreamCaFile: { schema: z.string(), default: '', env: 'OFGW_UPSTREAM_CA_FILE', doc: 'PEM file of extra certificate authorities trusted for wss:// upstreams and https:// proxies (private sandboxes), added to the system roots; verification stays on.' },
  credentialRefreshUrl: { schema: z.string(), default: '', env: 'OFGW_CREDENTIAL_REFRESH_URL', doc: 'HTTP(S) endpoint of your own login service, called (HMAC-signed) for a fresh wsUrl and token when a token is expired or rejected. Empty: no refresh.' },
  credentialRefreshSecret: { schema: z.string(), default: '', env: 'OFGW_CREDENTIAL_REFRESH_SECRET', secret: true, doc: 'HMAC-SHA-256 key signing refresh requests; required with credentialRefreshUrl.' },
  credentialRefreshTimeoutMs: { schema: positiveInt, default: 10_000, env: 'OFGW_CREDENTIAL_REFRESH_TIMEOUT_MS', doc: 'Time a refresh call may take before the connection fails with NO_WS_CREDENTIALS.' },
  maxRelaysPerOrg: { schema: positiveInt, default: 100, env: 'OFGW_MAX_RELAYS_PER_ORG', doc: 'Concurrent relays per organization (per plan); one more answers CONNECTION_LIMIT.' },
  maxUpstreamSocketsPerModel: { schema: positiveInt, default: 4, env: 'OFGW_MAX_UPSTREAM_SOCKETS_PER_MODEL', doc: 'Concurrent OnlyFans sockets per model, to protect the model\'s account (the web app opens one per tab); one more answers CONNECTION_LIMIT.' },
  keyConnectBurst: { schema: positiveInt, default: 30, env: 'OFGW_KEY_CONNECT_BURST', doc: 'Connection attempts one API key may make at once (token bucket size, per plan).' },
  keyConnectPerSecond: { schema: positiveNumber, default: 5, env: 'OFGW_KEY_CONNECT_PER_SECOND', doc: 'Sustained connection attempts per second per API key (per plan); beyond, RATE_LIMITED with retryAfterMs.' },
  ipConnectBurst: { schema: positiveInt, default: 60, env: 'OFGW_IP_CONNECT_BURST', doc: 'Connection attempts one client IP may make at once.' },
  ipConnectPerSecond: { schema: positiveNumber, default: 20, env: 'OFGW_IP_CONNECT_PER_SECOND', doc: 'Sustained connection attempts per second per client IP; beyond, RATE_LIMITED.' },
  ipAuthFailureBurst: { schema: positiveInt, default: 10, env: 'OFGW_IP_AUTH_FAILURE_BURST', doc: 'Failed authentications (no key, bad key) one IP may make before its attempts answer RATE_LIMITED (against key guessing).' },
  ipAuthFailurePerMinute: { schema: positiveNumber, default: 10, env: 'OFGW_IP_AUTH_FAILURE_PER_MINUTE', doc: 'Failed authentications per minute an IP earns back.' },
  messagesPerSecond: { schema: positiveNumber, default: 50, env: 'OFGW_MESSAGES_PER_SECOND', doc: 'Sustained client→upstream messages per second per relay (per plan); OnlyFans actions are rare, so a flood ends with RATE_LIMITED.' },
  messageBurst: { schema: positiveInt, default: 200, env: 'OFGW_MESSAGE_BURST', doc: 'Client→upstream messages a relay may send at once (per plan).' },
  maxSessionClientsPerModel: { schema: positiveInt, default: 50, env: 'OFGW_MAX_SESSION_CLIENTS_PER_MODEL', doc: 'Clients attached at once to one session-mode model, across the cluster (per plan); they share its one OnlyFans socket and count against maxRelaysPerOrg, not maxUpstreamSocketsPerModel. One more answers CONNECTION_LIMIT.' },
  eventLogMaxEvents: { schema: z.coerce.number().int().min(1).max(10_000_000), default: 10_000, env: 'OFGW_EVENT_LOG_MAX_EVENTS', doc: 'Entries kept per session-mode model (per plan); older ones are trimmed and a client resuming from them gets a gap.' },
  eventLogMaxAgeMs: { schema: z.coerce.number().int().min(1000), default: 24 * 60 * 60 * 1000, env: 'OFGW_EVENT_LOG_MAX_AGE_MS', doc: 'Age past which logged entries are trimmed (per plan): a day, so a client away overnight can resume.' },
  eventLogFile: { schema: z.string(), default: '', env: 'OFGW_EVENT_LOG_FILE', doc: 'Without redis: the SQLite file of the event log. Empty: events.db beside the SQLite store (./data/events.db), or ./data/events.db with a PostgreSQL store. With redis the log is kept in Redis Streams and this is ignored.' },
  eventLogFsync: { schema: bool, default: false, env: 'OFGW_EVENT_LOG_FSYNC', doc: 'Without redis: fsync the SQLite event log at each checkpoint, so that a power loss or OS crash takes at most its last commits; costs the event loop a pause of a few ms per checkpoint (the delivery p99). Off: the log is left to the OS, which keeps it through a killed gateway; after an OS crash the next start checks the file and sets a damaged one aside (resuming clients get a gap). Closing fsyncs it either way.' },
  sessionAllowedActs: { schema: actList, default: ['get_onlines', 'typing'], env: 'OFGW_SESSION_ALLOWED_ACTS', doc: 'Acts session-mode clients may send up the shared OnlyFans socket (comma-separated; per plan); any other frame answers ACTION_NOT_ALLOWED and is not sent. connect is never allowed.' },
  sessionReconnectMinMs: { schema: positiveInt, default: 1000, env: 'OFGW_SESSION_RECONNECT_MIN_MS', doc: 'First backoff of a session reconnecting its upstream (full jitter, doubling).' },
  sessionReconnectMaxMs: { schema: positiveInt, default: 60_000, env: 'OFGW_SESSION_RECONNECT_MAX_MS', doc: 'Backoff cap of a session reconnecting its upstream.' },
  sessionStableAfterMs: { schema: positiveInt, default: 60_000, env: 'OFGW_SESSION_STABLE_AFTER_MS', doc: 'An upstream socket open this long resets the backoff.' },
  sessionStaleAfterMs: { schema: z.coerce.number().int().min(0), default: 300_000, env: 'OFGW_SESSION_STALE_AFTER_MS', doc: 'Content watchdog: a session upstream that delivers no message for this long is reopened (0: off). OnlyFans sockets go quiet without closing after a network change.' },
  sessionRequestTimeoutMs: { schema: positiveInt, default: 10_000, env: 'OFGW_SESSION_REQUEST_TIMEOUT_MS', doc: 'How long a client\'s get_onlines waits for its reply on a shared socket before it fails with REQUEST_FAILED (that request only).' },
  webhookRetrySchedule: { schema: durationList, default: [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000], env: 'OFGW_WEBHOOK_RETRY_SCHEDULE', doc: 'Delays between a webhook delivery\'s attempts (comma-separated, e.g. 5s,5m,30m,2h,5h,10h,10h: about a day); after the last one the delivery is failed.' },
  webhookTimeoutMs: { schema: positiveInt, default: 10_000, env: 'OFGW_WEBHOOK_TIMEOUT_MS', doc: 'Time a webhook receiver has to answer with a 2xx before the attempt counts as failed.' },
  webhookSecretOverlapMs: { schema: z.coerce.number().int().min(0), default: 24 * 60 * 60 * 1000, env: 'OFGW_WEBHOOK_SECRET_OVERLAP_MS', doc: 'After a webhook secret is rotated, the old secret keeps signing beside the new one for this long, so receivers can switch without losing a delivery.' },
  webhookAllowPrivateTargets: { schema: bool, default: false, env: 'OFGW_WEBHOOK_ALLOW_PRIVATE_TARGETS', doc: 'Allow webhook URLs on plain http and on private, loopback or link-local addresses (receivers on the operator\'s own network, tests). Off: https only and public addresses, checked after DNS resolution (SSRF).' },
  sseHeartbeatMs: { schema: positiveInt, default: 15_000, env: 'OFGW_SSE_HEARTBEAT_MS', doc: 'Period of the comment line that keeps a server-sent events stream and the proxies in front of it open.' },
  maxModelsPerSocket: { schema: positiveInt, default: 100, env: 'OFGW_MAX_MODELS_PER_SOCKET', doc: 'Models one /api/ws socket may ask for (models=…); each admitted model counts as a connection against the plan\'s limits.' },
  overviewSampleMs: { schema: z.coerce.number().int().min(50).max(600_000), default: 10_000, env: 'OFGW_OVERVIEW_SAMPLE_MS', doc: 'Interval of the in-memory samples behind the dashboard\'s overview (GET /admin/v1/overview); the last 360 are kept, an hour at the default. Shorter shows more detail over less time.' },
  trustForwardedFor: { schema: bool, default: false, env: 'OFGW_TRUST_FORWARDED_FOR', doc: 'Take the client IP for per-IP limits from the last X-Forwarded-For entry. Enable only behind a proxy that sets it (nginx, HAProxy), or clients choose their own IP.' },
  plans: { schema: plansSchema, default: {}, env: 'OFGW_PLANS', doc: 'Plans by name (the subscription\'s plan), each overriding maxRelaysPerOrg, keyConnectBurst, keyConnectPerSecond, messagesPerSecond, messageBurst, maxSessionClientsPerModel, eventLogMaxEvents, eventLogMaxAgeMs or sessionAllowedActs; JSON, best kept in the config file.' },
  adminToken: { schema: z.string(), default: '', env: 'OFGW_ADMIN_TOKEN', secret: true, doc: 'Operator token for the management API under /admin/v1 (Authorization: Bearer); at least 32 characters. Empty: the management API is disabled.' },
  redis: { schema: z.string(), default: '', env: 'OFGW_REDIS', urlWithPassword: true, doc: 'redis:// or rediss:// URL that nodes coordinate through: revocations, cluster-wide limits, the cluster view. Empty: a single node, coordinated through the store alone.' },
  redisPrefix: { schema: z.string().min(1).max(64), default: 'ofgw:', env: 'OFGW_REDIS_PREFIX', doc: 'Prefix of every Redis key and channel, so several gateways (or tests) can share one Redis.' },
  nodeTtlMs: { schema: z.coerce.number().int().min(1000).max(300_000), default: 10_000, env: 'OFGW_NODE_TTL_MS', doc: 'A node that has not renewed its registration for this long is dead: its share of the cluster-wide limits is released. Renewed every fifth of it.' },
  workers: { schema: z.coerce.number().int().min(1).max(256), default: 1, env: 'OFGW_WORKERS', doc: 'Gateway processes sharing the port (node:cluster), each with its own file-descriptor budget; above 1 needs redis. SIGHUP restarts them one by one.' },
  logLevel: { schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']), default: 'info', env: 'OFGW_LOG_LEVEL', doc: 'pino log level.' },
} as const satisfies Record<string, Setting>;

export type SettingName = keyof typeof SETTINGS;

/**
 * The `serve` / `config` flag of a setting: its name in kebab case.
 * @example flagOf('redisPrefix') // '--redis-prefix'
 */
export function flagOf(name: string): string {
  return `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** The validated configuration: one field per setting, typed by its schema. */
export type GatewayConfig = { -readonly [K in SettingName]: z.output<(typeof SETTINGS)[K]['schema']> };

/** A setting that failed validation; the message names it and where it came from. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Where a setting's value came from, so a message names it the way the user gave it. */
type Source = { from: 'default' } | { from: 'flag' } | { from: 'env'; variable: string } | { from: 'file'; path: string };

/**
 * A setting (or a part of it, `path`) named as the user gave it: `--port`, `OFGW_PORT`,
 * `port in the config file ./ofgw.json`; a default by what would change it (the flag, or the
 * variable of a secret).
 */
function givenAs(name: SettingName, source: Source, path = ''): string {
  const at = path === '' ? '' : ` at ${path}`;
  switch (source.from) {
    case 'flag':
      return `${flagOf(name)}${at}`;
    case 'env':
      return `${source.variable}${at}`;
    case 'file':
      return `${path === '' ? name : `${name}.${path}`} in the config file ${source.path}`;
    default: {
      const setting: Setting = SETTINGS[name];
      return `${setting.secret ? setting.env : flagOf(name)}${at}`;
    }
  }
}

/** ` (got "abc")` for a value that is safe to show: not a secret, a URL without its password. */
function shownValue(setting: Setting, raw: unknown): string {
  if (setting.secret || (typeof raw !== 'string' && typeof raw !== 'number' && typeof raw !== 'boolean')) return '';
  return ` (got ${JSON.stringify(setting.urlWithPassword && typeof raw === 'string' ? withoutPassword(raw) : raw)})`;
}

/**
 * Builds the effective configuration. Flags (`overrides`, by setting name) win over the
 * environment, which wins over the config file (`configFile`, else `OFGW_CONFIG`), which wins
 * over defaults.
 * @throws {ConfigError} naming each invalid setting as it was given (`--port must be a
 *   number (got "abc")`, `OFGW_PORT …`, `port in the config file ./ofgw.json …`), or the
 *   first unknown one.
 * @example loadConfig({ port: 9000 }, process.env, './ofgw.json')
 */
export function loadConfig(overrides: Record<string, unknown> = {}, env: NodeJS.ProcessEnv = {}, configFile?: string): GatewayConfig {
  for (const name of Object.keys(overrides)) {
    if (!(name in SETTINGS)) throw new ConfigError(`unknown setting "${name}"`);
  }
  const filePath = configFile ?? env.OFGW_CONFIG;
  const file = filePath ? readConfigFile(filePath) : {};
  const out: Record<string, unknown> = {};
  const sources = {} as Record<SettingName, Source>;
  const problems: string[] = [];
  for (const [name, setting] of Object.entries(SETTINGS) as [SettingName, Setting][]) {
    let raw: unknown = setting.default;
    let source: Source = { from: 'default' };
    if (file[name] !== undefined && filePath) {
      raw = file[name];
      source = { from: 'file', path: filePath };
    }
    const fromEnv = [setting.env, ...(setting.envAliases ?? [])].find((variable) => env[variable] !== undefined);
    if (fromEnv !== undefined) {
      raw = env[fromEnv];
      source = { from: 'env', variable: fromEnv };
    }
    if (overrides[name] !== undefined) {
      raw = overrides[name];
      source = { from: 'flag' };
    }
    sources[name] = source;
    const parsed = parseWithIssues(setting.schema, raw);
    if (parsed.ok) out[name] = parsed.data;
    else for (const { field, rule } of parsed.issues) problems.push(`${givenAs(name, source, field)} ${rule}${field === '' ? shownValue(setting, raw) : ''}`);
  }
  if (problems.length > 0) throw new ConfigError(problems.join('; '));
  const config = out as GatewayConfig;
  checkRelations(config, (name) => givenAs(name, sources[name]));
  return config;
}

/** A JSON object whose keys are setting names; anything else stops the start. */
function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    // An editor's byte order mark is not part of the JSON.
    text = readFileSync(path, 'utf8').replace(/^\uFEFF/, '');
  } catch (err) {
    throw new ConfigError(`cannot read the config file ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    // JSON.parse's own message quotes the file around the mistake, and the file may hold secrets.
    const at = locateJsonSyntaxError(text);
    throw new ConfigError(`the config file ${path} is not valid JSON${at ? `: line ${at.line}, column ${at.column}: ${at.problem}` : ''}`);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new ConfigError(`the config file ${path} must hold a JSON object`);
  for (const name of Object.keys(data)) {
    if (!(name in SETTINGS)) throw new ConfigError(`unknown setting "${name}" in the config file ${path}`);
  }
  return data as Record<string, unknown>;
}

/** The configuration with every secret setting replaced by `***` (or '' when unset). */
export function maskedConfig(config: GatewayConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, setting] of Object.entries(SETTINGS) as [SettingName, Setting][]) {
    const value = config[name];
    out[name] = setting.secret && value ? '***' : setting.urlWithPassword && typeof value === 'string' ? withoutPassword(value) : value;
  }
  return out;
}

/**
 * `value` with the password of a URL's user info replaced by `***`; anything that is not a URL
 * with a password (a file path) is returned as it is. For logs and `ofgw config`.
 * @example withoutPassword('postgres://app:s3cret@db/ofgw') // 'postgres://app:***@db/ofgw'
 */
export function withoutPassword(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return value;
  }
  if (url.password === '') return value;
  url.password = '***';
  return url.toString();
}

/** A plan's limits over the defaults; an unknown or missing plan gets the defaults. */
export function planLimits(config: GatewayConfig, plan: string | null): Required<PlanLimits> {
  const own = (plan && config.plans[plan]) || {};
  return {
    maxRelaysPerOrg: own.maxRelaysPerOrg ?? config.maxRelaysPerOrg,
    keyConnectBurst: own.keyConnectBurst ?? config.keyConnectBurst,
    keyConnectPerSecond: own.keyConnectPerSecond ?? config.keyConnectPerSecond,
    messagesPerSecond: own.messagesPerSecond ?? config.messagesPerSecond,
    messageBurst: own.messageBurst ?? config.messageBurst,
    maxSessionClientsPerModel: own.maxSessionClientsPerModel ?? config.maxSessionClientsPerModel,
    eventLogMaxEvents: own.eventLogMaxEvents ?? config.eventLogMaxEvents,
    eventLogMaxAgeMs: own.eventLogMaxAgeMs ?? config.eventLogMaxAgeMs,
    sessionAllowedActs: own.sessionAllowedActs ?? config.sessionAllowedActs,
  };
}

/** Rules between settings, each named by `said` as the user gave it. */
function checkRelations(c: GatewayConfig, said: (name: SettingName) => string): void {
  if (c.adminToken && c.adminToken.length < 32) {
    throw new ConfigError(`${said('adminToken')} must be at least 32 characters (e.g. openssl rand -hex 32)`);
  }
  if (c.credentialRefreshUrl) {
    let url: URL | undefined;
    try {
      url = new URL(c.credentialRefreshUrl);
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
      throw new ConfigError(`${said('credentialRefreshUrl')} must be an http:// or https:// URL`);
    }
    if (!c.credentialRefreshSecret) {
      throw new ConfigError(`${said('credentialRefreshSecret')} is required when ${said('credentialRefreshUrl')} is set`);
    }
  }
  if (c.redis && !/^rediss?:\/\/[^/]/i.test(c.redis)) {
    throw new ConfigError(`${said('redis')} must be a redis:// or rediss:// URL, e.g. redis://127.0.0.1:6379`);
  }
  if (c.workers > 1 && !c.redis) {
    throw new ConfigError(`${said('workers')} ${c.workers} needs Redis: the workers share limits and relays through it; set ${said('redis')} (redis://…) or use 1 worker`);
  }
  if (c.lowWaterBytes >= c.highWaterBytes) {
    throw new ConfigError(`${said('lowWaterBytes')} must be below ${said('highWaterBytes')} (${c.lowWaterBytes} >= ${c.highWaterBytes})`);
  }
  const biggest = Math.max(c.maxMessageBytes, c.upstreamMaxMessageBytes);
  if (c.hardCapBytes <= c.highWaterBytes + biggest) {
    throw new ConfigError(
      `${said('hardCapBytes')} must exceed ${said('highWaterBytes')} + the largest message size (${c.highWaterBytes} + ${biggest}), ` +
        'or a single large message would end a healthy relay',
    );
  }
}
