/**
 * Gateway configuration: one table of settings, each with its default, its reason, its
 * environment variable and its `serve` flag. Values come from flags, then the environment,
 * then the default; the result is validated once at start-up and an unknown or invalid
 * setting stops the process with a message that names it.
 */
import { z } from 'zod';

const KiB = 1024;
const MiB = 1024 * KiB;

const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().min(1);
const bool = z.union([z.boolean(), z.enum(['1', 'true', 'yes', 'on', '0', 'false', 'no', 'off', ''])]).transform(
  (v) => v === true || v === '1' || v === 'true' || v === 'yes' || v === 'on',
);

interface Setting {
  schema: z.ZodType;
  default: unknown;
  env: string;
  /** Why the default is what it is. */
  doc: string;
  /** A secret: environment only (no flag, which `ps` would show), never printed. */
  secret?: boolean;
}

/** Every setting, in the order `ofgw config` and the docs list them. */
export const SETTINGS = {
  host: { schema: z.string().min(1), default: '127.0.0.1', env: 'OFGW_HOST', doc: 'Address to listen on. Loopback by default so a first start exposes nothing; use 0.0.0.0 to serve the network.' },
  port: { schema: port, default: 8080, env: 'OFGW_PORT', doc: 'TCP port of the gateway (0 picks a free one).' },
  db: { schema: z.string().min(1), default: './data/ofgw.db', env: 'OFGW_DB', doc: 'SQLite file of the embedded store, created with its folder on first start.' },
  production: { schema: bool, default: false, env: 'OFGW_PRODUCTION', doc: 'Production mode: never seeds the sandbox organization.' },
  sandboxPort: { schema: port, default: 8081, env: 'OFGW_SANDBOX_PORT', doc: 'Port of the in-process OnlyFans simulator that serves the seeded sandbox model (not in production).' },
  maxMessageBytes: { schema: positiveInt, default: 1 * MiB, env: 'OFGW_MAX_MESSAGE_BYTES', doc: 'Largest client message; a bigger one closes the relay with 1009. Clients send small OnlyFans actions.' },
  upstreamMaxMessageBytes: { schema: positiveInt, default: 4 * MiB, env: 'OFGW_UPSTREAM_MAX_MESSAGE_BYTES', doc: 'Largest upstream message; OnlyFans chat frames with media run to tens of KiB, so this leaves room while bounding memory.' },
  maxFragments: { schema: positiveInt, default: 1024, env: 'OFGW_MAX_FRAGMENTS', doc: 'Most fragments in one message on either leg (ws default 16,384 is loose; see ws#2331).' },
  maxBufferedChunks: { schema: positiveInt, default: 16384, env: 'OFGW_MAX_BUFFERED_CHUNKS', doc: 'Most TCP chunks buffered for one message, against the tiny-chunk memory DoS fixed in ws 8.21.' },
  pendingMessages: { schema: positiveInt, default: 100, env: 'OFGW_PENDING_MESSAGES', doc: 'Client messages held before the confirmation; at the bound the client is paused (TCP backpressure).' },
  pendingBytes: { schema: positiveInt, default: 256 * KiB, env: 'OFGW_PENDING_BYTES', doc: 'Bytes held before the confirmation; at the bound the client is paused. Four times this closes with RATE_LIMITED.' },
  highWaterBytes: { schema: positiveInt, default: 256 * KiB, env: 'OFGW_HIGH_WATER_BYTES', doc: 'Buffered bytes towards one peer above which the other peer is paused.' },
  lowWaterBytes: { schema: positiveInt, default: 64 * KiB, env: 'OFGW_LOW_WATER_BYTES', doc: 'Buffered bytes below which a paused peer is resumed.' },
  hardCapBytes: { schema: positiveInt, default: 8 * MiB, env: 'OFGW_HARD_CAP_BYTES', doc: 'Buffered bytes towards a client that end the relay with SLOW_CONSUMER; must exceed the high-water mark plus the largest message.' },
  slowConsumerTimeoutMs: { schema: positiveInt, default: 30_000, env: 'OFGW_SLOW_CONSUMER_TIMEOUT_MS', doc: 'How long the upstream may stay paused for a client that does not read before SLOW_CONSUMER; events older than this are stale.' },
  heartbeatIntervalMs: { schema: positiveInt, default: 25_000, env: 'OFGW_HEARTBEAT_INTERVAL_MS', doc: 'Ping period on each leg; a peer silent for two periods is dead. Below the 60 s idle timeout of nginx and most load balancers.' },
  handshakeTimeoutMs: { schema: positiveInt, default: 10_000, env: 'OFGW_HANDSHAKE_TIMEOUT_MS', doc: 'Time a client has to send a complete upgrade request.' },
  upstreamConnectTimeoutMs: { schema: positiveInt, default: 10_000, env: 'OFGW_UPSTREAM_CONNECT_TIMEOUT_MS', doc: 'Time to open the upstream socket (TCP, TLS, upgrade).' },
  upstreamAuthTimeoutMs: { schema: positiveInt, default: 10_000, env: 'OFGW_UPSTREAM_AUTH_TIMEOUT_MS', doc: 'Time for OnlyFans to answer the connect act; public clients wait 10 s.' },
  closeTimeoutMs: { schema: positiveInt, default: 5_000, env: 'OFGW_CLOSE_TIMEOUT_MS', doc: 'Time a peer has to answer a close frame before its socket is destroyed (ws default 30 s lets half-closed relays linger).' },
  shutdownTimeoutMs: { schema: positiveInt, default: 10_000, env: 'OFGW_SHUTDOWN_TIMEOUT_MS', doc: 'Time graceful shutdown waits for relays to close before destroying them and exiting.' },
  changePollIntervalMs: { schema: positiveInt, default: 250, env: 'OFGW_CHANGE_POLL_INTERVAL_MS', doc: 'How often the store change feed is read; revocations reach live relays within this plus one close.' },
  masterKeyFile: { schema: z.string(), default: '', env: 'OFGW_MASTER_KEY_FILE', doc: 'Key file for secrets at rest (AES-256-GCM keyring, mode 0600). Empty: ofgw.keys beside the SQLite file, generated on first start. Ignored when OFGW_MASTER_KEY is set.' },
  masterKey: { schema: z.string(), default: '', env: 'OFGW_MASTER_KEY', secret: true, doc: 'Base64 32-byte master key from the environment instead of a key file (older keys for decryption in OFGW_MASTER_KEY_PREVIOUS, comma-separated).' },
  upstreamCaFile: { schema: z.string(), default: '', env: 'OFGW_UPSTREAM_CA_FILE', doc: 'PEM file of extra certificate authorities trusted for wss:// upstreams and https:// proxies (private sandboxes), added to the system roots; verification stays on.' },
  credentialRefreshUrl: { schema: z.string(), default: '', env: 'OFGW_CREDENTIAL_REFRESH_URL', doc: 'HTTP(S) endpoint of your own login service, called (HMAC-signed) for a fresh wsUrl and token when a token is expired or rejected. Empty: no refresh.' },
  credentialRefreshSecret: { schema: z.string(), default: '', env: 'OFGW_CREDENTIAL_REFRESH_SECRET', secret: true, doc: 'HMAC-SHA-256 key signing refresh requests; required with credentialRefreshUrl.' },
  credentialRefreshTimeoutMs: { schema: positiveInt, default: 10_000, env: 'OFGW_CREDENTIAL_REFRESH_TIMEOUT_MS', doc: 'Time a refresh call may take before the connection fails with NO_WS_CREDENTIALS.' },
  adminToken: { schema: z.string(), default: '', env: 'OFGW_ADMIN_TOKEN', secret: true, doc: 'Operator token for the management API under /admin/v1 (Authorization: Bearer); at least 32 characters. Empty: the management API is disabled.' },
  logLevel: { schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']), default: 'info', env: 'OFGW_LOG_LEVEL', doc: 'pino log level.' },
} as const satisfies Record<string, Setting>;

export type SettingName = keyof typeof SETTINGS;

export interface GatewayConfig {
  host: string;
  port: number;
  db: string;
  production: boolean;
  sandboxPort: number;
  maxMessageBytes: number;
  upstreamMaxMessageBytes: number;
  maxFragments: number;
  maxBufferedChunks: number;
  pendingMessages: number;
  pendingBytes: number;
  highWaterBytes: number;
  lowWaterBytes: number;
  hardCapBytes: number;
  slowConsumerTimeoutMs: number;
  heartbeatIntervalMs: number;
  handshakeTimeoutMs: number;
  upstreamConnectTimeoutMs: number;
  upstreamAuthTimeoutMs: number;
  closeTimeoutMs: number;
  shutdownTimeoutMs: number;
  changePollIntervalMs: number;
  masterKeyFile: string;
  masterKey: string;
  upstreamCaFile: string;
  credentialRefreshUrl: string;
  credentialRefreshSecret: string;
  credentialRefreshTimeoutMs: number;
  adminToken: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
}

/** A setting that failed validation; the message names it and where it came from. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/**
 * Builds the effective configuration. `overrides` (flags, or a test's options) win over
 * `env`, which wins over defaults.
 * @throws {ConfigError} naming the first unknown or invalid setting.
 * @example loadConfig({ port: 9000 }, process.env)
 */
export function loadConfig(overrides: Record<string, unknown> = {}, env: NodeJS.ProcessEnv = {}): GatewayConfig {
  for (const name of Object.keys(overrides)) {
    if (!(name in SETTINGS)) throw new ConfigError(`unknown setting "${name}"`);
  }
  const out: Record<string, unknown> = {};
  for (const [name, setting] of Object.entries(SETTINGS) as [SettingName, Setting][]) {
    let raw: unknown = setting.default;
    let source = 'default';
    if (env[setting.env] !== undefined) {
      raw = env[setting.env];
      source = `environment variable ${setting.env}`;
    }
    if (overrides[name] !== undefined) {
      raw = overrides[name];
      source = `option ${name}`;
    }
    const parsed = setting.schema.safeParse(raw);
    if (!parsed.success) {
      const why = parsed.error.issues[0]?.message ?? 'invalid value';
      throw new ConfigError(`invalid ${name} (from ${source}): ${why}`);
    }
    out[name] = parsed.data;
  }
  const config = out as unknown as GatewayConfig;
  checkRelations(config);
  return config;
}

function checkRelations(c: GatewayConfig): void {
  if (c.adminToken && c.adminToken.length < 32) {
    throw new ConfigError('invalid adminToken: must be at least 32 characters (e.g. openssl rand -hex 32)');
  }
  if (c.credentialRefreshUrl) {
    let url: URL | undefined;
    try {
      url = new URL(c.credentialRefreshUrl);
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
      throw new ConfigError('invalid credentialRefreshUrl: must be an http:// or https:// URL');
    }
    if (!c.credentialRefreshSecret) {
      throw new ConfigError('invalid credentialRefreshSecret: required when credentialRefreshUrl is set (OFGW_CREDENTIAL_REFRESH_SECRET)');
    }
  }
  if (c.lowWaterBytes >= c.highWaterBytes) {
    throw new ConfigError(`invalid lowWaterBytes: must be below highWaterBytes (${c.lowWaterBytes} >= ${c.highWaterBytes})`);
  }
  const biggest = Math.max(c.maxMessageBytes, c.upstreamMaxMessageBytes);
  if (c.hardCapBytes <= c.highWaterBytes + biggest) {
    throw new ConfigError(
      `invalid hardCapBytes: must exceed highWaterBytes + the largest message size (${c.highWaterBytes} + ${biggest}), ` +
        'or a single large message would end a healthy relay',
    );
  }
}
