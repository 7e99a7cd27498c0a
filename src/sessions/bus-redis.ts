/**
 * The session bus across a cluster, on Redis pub/sub: a model's holder subscribes to the
 * model's command channel, every node to its own reply channel. Pub/sub keeps nothing: a
 * command published while no holder listens is lost, which `send` reports as false (PUBLISH
 * answers how many subscribers it reached), and the gateway answers the client at once.
 */
import { Redis } from 'ioredis';
import { addHandler, deliver, type Handler } from './bus-handlers.js';
import { decodeCommand, decodeReply, encodeCommand, encodeReply } from './bus-messages.js';
import { redisWhere } from '../cluster/redis-where.js';
import { sessionKeys, type SessionBus, type SessionCommand, type SessionReply } from './types.js';

/** A single Redis command gives up after this. */
const COMMAND_TIMEOUT_MS = 1000;

export interface RedisBusOptions {
  url: string;
  /** The `redisPrefix` setting. */
  prefix: string;
  nodeId: string;
  /** Told when a handler throws or a subscription fails; the bus goes on. */
  onError?: (err: unknown) => void;
}

export class RedisBus implements SessionBus {
  readonly nodeId: string;
  private readonly keys: ReturnType<typeof sessionKeys>;
  /** Channel → the handlers of the model it carries commands for. */
  private readonly servers = new Map<string, Set<Handler<SessionCommand>>>();
  private readonly replies = new Map<string, Set<Handler<SessionReply>>>();
  private readonly replyChannel: string;
  private readonly onError: (err: unknown) => void;
  private closed = false;

  private constructor(
    opts: RedisBusOptions,
    private readonly cmd: Redis,
    private readonly sub: Redis,
  ) {
    this.nodeId = opts.nodeId;
    this.keys = sessionKeys(opts.prefix);
    this.replyChannel = this.keys.replies(opts.nodeId);
    this.onError = opts.onError ?? (() => undefined);
    sub.on('messageBuffer', (channel: Buffer, message: Buffer) => this.onMessage(channel.toString(), message));
  }

  /**
   * Connects (one connection for commands, one for subscriptions) and listens for this node's
   * replies.
   * @throws {Error} naming the address when Redis cannot be reached.
   * @example const bus = await RedisBus.start({ url, prefix: 'ofgw:', nodeId })
   */
  static async start(opts: RedisBusOptions): Promise<RedisBus> {
    const common = {
      lazyConnect: true,
      connectTimeout: COMMAND_TIMEOUT_MS,
      maxRetriesPerRequest: 0,
      retryStrategy: (attempt: number) => Math.min(100 * attempt, 2000),
    } as const;
    // Commands fail at once while Redis is away (the client is told); the subscriber queues its
    // (re)subscriptions and ioredis subscribes again after a reconnect.
    const cmd = new Redis(opts.url, { ...common, enableOfflineQueue: false, commandTimeout: COMMAND_TIMEOUT_MS, connectionName: `ofgw:${opts.nodeId}:bus` });
    const sub = new Redis(opts.url, { ...common, connectionName: `ofgw:${opts.nodeId}:bus-sub` });
    cmd.on('error', () => undefined);
    sub.on('error', () => undefined);
    const bus = new RedisBus(opts, cmd, sub);
    try {
      await Promise.all([cmd.connect(), sub.connect()]);
      await sub.subscribe(bus.replyChannel);
    } catch (err) {
      cmd.disconnect();
      sub.disconnect();
      throw new Error(`cannot reach Redis at ${redisWhere(opts.url)} for the session bus: ${(err as Error).message}`, { cause: err });
    }
    return bus;
  }

  serve(modelId: string, handler: (command: SessionCommand) => void): () => void {
    const channel = this.keys.commands(modelId);
    return addHandler(
      this.servers,
      channel,
      handler,
      () => this.sub.subscribe(channel).catch((err: unknown) => this.onError(err)),
      () => {
        if (!this.closed) this.sub.unsubscribe(channel).catch((err: unknown) => this.onError(err));
      },
    );
  }

  /** @throws when Redis is away (the command's fate is unknown to the caller: not sent). */
  async send(modelId: string, command: SessionCommand): Promise<boolean> {
    const text = encodeCommand(command);
    if (this.closed) return false;
    return (await this.cmd.publish(this.keys.commands(modelId), text)) > 0;
  }

  async reply(node: string, reply: SessionReply): Promise<void> {
    if (this.closed) return;
    await this.cmd.publish(this.keys.replies(node), encodeReply(reply));
  }

  onReply(handler: (reply: SessionReply) => void): () => void {
    return addHandler(this.replies, this.replyChannel, handler);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.servers.clear();
    this.replies.clear();
    await Promise.allSettled([this.cmd.quit(), this.sub.quit()]);
    this.cmd.disconnect();
    this.sub.disconnect();
  }

  private onMessage(channel: string, message: Buffer): void {
    if (this.closed) return;
    if (channel === this.replyChannel) {
      const reply = decodeReply(message);
      if (reply) deliver(this.replies.get(channel), reply, this.onError);
      return;
    }
    const command = decodeCommand(message);
    if (command) deliver(this.servers.get(channel), command, this.onError);
  }
}
