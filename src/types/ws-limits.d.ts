// ws 8.21 added these limits (against the tiny-fragment memory DoS); @types/ws 8.18 predates them.
import 'ws';

declare module 'ws' {
  namespace WebSocket {
    interface ServerOptions {
      maxFragments?: number;
      maxBufferedChunks?: number;
      closeTimeout?: number;
    }
    interface ClientOptions {
      maxFragments?: number;
      maxBufferedChunks?: number;
      closeTimeout?: number;
    }
  }
}
