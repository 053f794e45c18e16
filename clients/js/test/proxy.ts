// A TCP proxy in front of the server that can stop passing the server's bytes to the client and cut
// every connection: a connection lost after the server stored a send but before its `sent` arrived.
import { createServer, connect, type Server, type Socket } from "node:net";

export class CuttableProxy {
  private readonly sockets = new Set<Socket>();
  private downstreamOpen = true;
  private server!: Server;
  port = 0;

  static async start(targetPort: number): Promise<CuttableProxy> {
    const proxy = new CuttableProxy();
    proxy.server = createServer((client) => {
      const upstream = connect(targetPort, "127.0.0.1");
      proxy.sockets.add(client).add(upstream);
      client.on("data", (chunk) => upstream.write(chunk));
      upstream.on("data", (chunk) => {
        if (proxy.downstreamOpen) client.write(chunk);
      });
      const end = () => {
        client.destroy();
        upstream.destroy();
        proxy.sockets.delete(client);
        proxy.sockets.delete(upstream);
      };
      client.on("close", end).on("error", end);
      upstream.on("close", end).on("error", end);
    });
    await new Promise<void>((r) => proxy.server.listen(0, "127.0.0.1", () => r()));
    proxy.port = (proxy.server.address() as { port: number }).port;
    return proxy;
  }

  /** From now on, bytes from the server are dropped (the client hears nothing more). */
  silenceServer(): void {
    this.downstreamOpen = false;
  }

  /** Resets every proxied connection; new ones pass both ways again. */
  cutAll(): void {
    this.downstreamOpen = true;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }

  async close(): Promise<void> {
    this.cutAll();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
