/**
 * The session bus on a single node: commands go straight to the model's server, replies to
 * this node's listeners. Delivery is asynchronous (a later tick), as it is through Redis, so
 * code that works here does not rely on a handler running inside `send`.
 */
import { decodeCommand, decodeReply, encodeCommand, encodeReply } from './bus-messages.js';
import { addHandler, deliver, type Handler } from './bus-handlers.js';
import type { SessionBus, SessionCommand, SessionReply } from './types.js';


export class MemoryBus implements SessionBus {
  private readonly servers = new Map<string, Set<Handler<SessionCommand>>>();
  private readonly replies = new Map<string, Set<Handler<SessionReply>>>();
  private closed = false;

  /**
   * @param onError told when a handler throws (the message still reaches the other handlers).
   * @example const bus = new MemoryBus('node-1')
   */
  constructor(
    readonly nodeId: string,
    private readonly onError: (err: unknown) => void = () => undefined,
  ) {}

  serve(modelId: string, handler: (command: SessionCommand) => void): () => void {
    return addHandler(this.servers, modelId, handler);
  }

  async send(modelId: string, command: SessionCommand): Promise<boolean> {
    const text = encodeCommand(command);
    if (this.closed || !this.servers.has(modelId)) return false;
    setImmediate(() => {
      const copy = decodeCommand(text);
      if (copy && !this.closed) deliver(this.servers.get(modelId), copy, this.onError);
    });
    return true;
  }

  async reply(node: string, reply: SessionReply): Promise<void> {
    const text = encodeReply(reply);
    // One node: a reply addressed to any other has nobody to reach.
    if (this.closed || node !== this.nodeId) return;
    setImmediate(() => {
      const copy = decodeReply(text);
      if (copy && !this.closed) deliver(this.replies.get(this.nodeId), copy, this.onError);
    });
  }

  onReply(handler: (reply: SessionReply) => void): () => void {
    return addHandler(this.replies, this.nodeId, handler);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.servers.clear();
    this.replies.clear();
  }
}
