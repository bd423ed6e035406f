// A TCP proxy between the browser and livedash whose connections the test
// can cut at will: a network path that breaks mid-stream.
import { createServer, connect, Server, Socket } from 'node:net';

export class CuttableProxy {
  private readonly sockets = new Set<Socket>();
  cuts = 0;

  private constructor(private readonly server: Server, readonly port: number) {}

  static async start(targetPort: number): Promise<CuttableProxy> {
    const sockets = new Set<Socket>();
    const server = createServer((client) => {
      const upstream = connect(targetPort, '127.0.0.1');
      for (const socket of [client, upstream]) {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
        socket.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', () => ok()));
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const proxy = new CuttableProxy(server, port);
    (proxy as unknown as { sockets: Set<Socket> }).sockets = sockets;
    return proxy;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Breaks every open connection at once. */
  cut(): void {
    this.cuts += 1;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((ok) => this.server.close(() => ok()));
  }
}
