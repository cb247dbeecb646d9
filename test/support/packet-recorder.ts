import * as net from 'net';
import * as mqttPacket from 'mqtt-packet';

/** One MQTT packet seen on the wire; `toBroker` says which way it went. */
export interface SeenPacket {
    /** Date.now() when the proxy read it. */
    at: number;
    /** Which TCP connection through the proxy (1, 2, ... in the order they were opened). */
    connection: number;
    toBroker: boolean;
    cmd: string;
    messageId?: number;
    dup?: boolean;
    /** The payload of a PUBLISH as text. */
    payload?: string;
    sessionPresent?: boolean;
    /** MQTT 5 reason code of an acknowledgement. */
    reasonCode?: number;
}

/**
 * A pass-through TCP proxy on 127.0.0.1 in front of a broker that parses and records every packet
 * in both directions, so a test can say, for each message, what the client sent and the broker
 * answered, on which connection and when.
 */
export class PacketRecorder {
    port = 0;
    readonly packets: SeenPacket[] = [];
    private server: net.Server | null = null;
    private connections = 0;
    private readonly sockets = new Set<net.Socket>();

    constructor(
        private readonly targetPort: number,
        private readonly protocolVersion: 4 | 5,
    ) {}

    async start(): Promise<this> {
        const server = net.createServer((client) => {
            const connection = ++this.connections;
            const upstream = net.connect(this.targetPort, '127.0.0.1');
            this.sockets.add(client).add(upstream);
            const toBroker = this.recorder(connection, true);
            const fromBroker = this.recorder(connection, false);
            client.on('data', (chunk) => {
                toBroker.parse(chunk);
                upstream.write(chunk);
            });
            upstream.on('data', (chunk) => {
                fromBroker.parse(chunk);
                client.write(chunk);
            });
            const end = () => {
                client.destroy();
                upstream.destroy();
                this.sockets.delete(client);
                this.sockets.delete(upstream);
            };
            client.on('close', end).on('error', end);
            upstream.on('close', end).on('error', end);
        });
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
        this.port = (server.address() as net.AddressInfo).port;
        this.server = server;
        return this;
    }

    private recorder(connection: number, toBroker: boolean): mqttPacket.Parser {
        const parser = mqttPacket.parser({ protocolVersion: this.protocolVersion });
        parser.on('packet', (packet: mqttPacket.Packet) => {
            const p = packet as { cmd: string; messageId?: number; dup?: boolean; payload?: Buffer | string; sessionPresent?: boolean; reasonCode?: number };
            this.packets.push({
                at: Date.now(),
                connection,
                toBroker,
                cmd: p.cmd,
                messageId: p.messageId,
                dup: p.dup,
                payload: p.cmd === 'publish' && p.payload !== undefined ? String(p.payload) : undefined,
                sessionPresent: p.sessionPresent,
                reasonCode: p.reasonCode,
            });
        });
        // A packet cut by a killed broker: the rest of that connection is not recorded.
        parser.on('error', () => undefined);
        return parser;
    }

    async stop(): Promise<void> {
        for (const socket of this.sockets) socket.destroy();
        this.sockets.clear();
        const server = this.server;
        this.server = null;
        if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    }
}
