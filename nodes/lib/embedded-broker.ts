/**
 * An aedes MQTT broker inside Node-RED, for a home install that has no broker of its own. It speaks
 * MQTT 3.1.1 (aedes refuses MQTT 5 connections) and listens on a host and port of the user's choice,
 * so devices on the network can use it too. It holds every client to the package's topic rules
 * (embedded-topic-rules.ts), where plain aedes is laxer.
 */
import * as net from 'net';
import { Readable } from 'stream';
import { StringParser, authorizePublish, authorizeSubscribe, preConnect, refuseMalformedStrings, retainedMatching } from './embedded-topic-rules';

/** The part of aedes 1.x this module uses (aedes ships as an ES module; see load below). */
interface AedesBroker {
    /** Returns aedes' Client, whose packet parser is `_parser`. */
    handle: (socket: net.Socket) => { _parser?: StringParser };
    close(callback?: () => void): void;
    connectedClients: number;
    persistence: { createRetainedStreamCombi(filters: string[]): Readable };
}
interface AedesModule {
    Aedes: { createBroker(options?: Record<string, unknown>): Promise<AedesBroker> };
}

// A real import() from CommonJS: TypeScript keeps import() as is under module "node16".
const loadAedes = (): Promise<AedesModule> => import('aedes') as unknown as Promise<AedesModule>;

export class EmbeddedBroker {
    private broker: AedesBroker | null = null;
    private server: net.Server | null = null;
    private readonly sockets = new Set<net.Socket>();
    private starting: Promise<void> | null = null;

    constructor(readonly host: string, readonly port: number) {}

    get listening(): boolean {
        return this.server?.listening ?? false;
    }

    get clientCount(): number {
        return this.broker?.connectedClients ?? 0;
    }

    /** Starts listening; resolves at once when it already listens. Rejects with the listen error. */
    start(): Promise<void> {
        if (this.listening) return Promise.resolve();
        if (!this.starting) {
            this.starting = this.listen().finally(() => {
                this.starting = null;
            });
        }
        return this.starting;
    }

    private async listen(): Promise<void> {
        if (!this.broker) {
            const { Aedes } = await loadAedes();
            this.broker = await Aedes.createBroker({ authorizeSubscribe, authorizePublish, preConnect });
            matchRetainedByTopicRules(this.broker);
        }
        const broker = this.broker;
        const server = net.createServer((socket) => {
            this.sockets.add(socket);
            socket.once('close', () => this.sockets.delete(socket));
            const parser = broker.handle(socket)._parser;
            if (parser) refuseMalformedStrings(parser);
        });
        await new Promise<void>((resolve, reject) => {
            server.once('error', reject);
            server.listen(this.port, this.host, () => {
                server.off('error', reject);
                resolve();
            });
        });
        server.on('error', () => undefined);
        this.server = server;
    }

    /** Stops listening, drops every client and closes the broker. */
    async stop(): Promise<void> {
        await this.starting?.catch(() => undefined);
        const server = this.server;
        const broker = this.broker;
        this.server = null;
        this.broker = null;
        for (const socket of this.sockets) socket.destroy();
        this.sockets.clear();
        if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
        if (broker) await new Promise<void>((resolve) => broker.close(() => resolve()));
    }
}

/**
 * aedes looks up the retained messages for a new subscription with a matcher of its own, which
 * misses empty levels ("a/+" and "a/") and the '$' rule ("#" and "$x"). Its persistence answers
 * that look-up alone (createRetainedStreamCombi serves nothing else), so it is replaced by one that
 * takes every retained message ("#" matches them all there) and keeps those topicMatches accepts.
 * Both walk all retained messages for each SUBSCRIBE.
 */
function matchRetainedByTopicRules(broker: AedesBroker): void {
    const persistence = broker.persistence;
    const lookUp = persistence.createRetainedStreamCombi.bind(persistence);
    persistence.createRetainedStreamCombi = (filters) => Readable.from(retainedMatching(lookUp(['#']), filters));
}
