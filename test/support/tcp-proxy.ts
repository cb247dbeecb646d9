import * as net from 'net';

/**
 * A TCP proxy on 127.0.0.1 between the package and a broker, to cut the network without touching the
 * broker: `cut()` drops every connection and refuses new ones, `blackhole()` keeps them open but lets
 * nothing through (as a dead link does until keep-alive notices), `restore()` lets traffic flow again.
 */
export class TcpProxy {
    port = 0;
    private server: net.Server | null = null;
    private readonly pairs = new Set<[net.Socket, net.Socket]>();
    private mode: 'open' | 'cut' | 'blackhole' = 'open';

    constructor(private readonly targetPort: number) {}

    async start(): Promise<this> {
        const server = net.createServer((client) => {
            if (this.mode !== 'open') {
                client.destroy();
                return;
            }
            const upstream = net.connect(this.targetPort, '127.0.0.1');
            const pair: [net.Socket, net.Socket] = [client, upstream];
            this.pairs.add(pair);
            const forward = (from: net.Socket, to: net.Socket) =>
                from.on('data', (chunk) => {
                    if (this.mode === 'open') to.write(chunk);
                });
            forward(client, upstream);
            forward(upstream, client);
            const end = () => {
                client.destroy();
                upstream.destroy();
                this.pairs.delete(pair);
            };
            client.on('close', end).on('error', end);
            upstream.on('close', end).on('error', end);
        });
        await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
        this.port = (server.address() as net.AddressInfo).port;
        this.server = server;
        return this;
    }

    get connections(): number {
        return this.pairs.size;
    }

    cut(): void {
        this.mode = 'cut';
        for (const [a, b] of this.pairs) {
            a.destroy();
            b.destroy();
        }
        this.pairs.clear();
    }

    blackhole(): void {
        this.mode = 'blackhole';
    }

    restore(): void {
        if (this.mode === 'blackhole') this.cut();
        this.mode = 'open';
    }

    async stop(): Promise<void> {
        this.cut();
        const server = this.server;
        this.server = null;
        if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    }
}
