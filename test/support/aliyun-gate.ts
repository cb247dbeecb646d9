import { EventEmitter } from 'node:events';
import * as crypto from 'node:crypto';
import * as net from 'node:net';
import * as mqttPacket from 'mqtt-packet';

/** What a client sent in its CONNECT. */
export interface SeenConnect {
    clientId: string;
    username: string;
    password: string;
    accepted: boolean;
}

const HASHES: { [method: string]: string } = { hmacsha256: 'sha256', hmacsha1: 'sha1', hmacmd5: 'md5' };

/**
 * Plays Alibaba Cloud IoT Platform's door in front of a local Mosquitto, on 127.0.0.1: it reads each
 * client's CONNECT and lets it through to the broker only when the user name and password are the
 * ones the platform's documentation asks of this device for that client id (computed here on its own,
 * not with the package's signer); else it answers "bad user name or password" and closes. It records
 * every CONNECT and emits 'suback' for each SUBACK the broker sends back.
 */
export class AliyunGate extends EventEmitter {
    port = 0;
    readonly connects: SeenConnect[] = [];
    private server: net.Server | null = null;
    private readonly sockets = new Set<net.Socket>();

    constructor(
        private readonly brokerPort: number,
        private readonly device: { productKey: string; deviceName: string; deviceSecret: string },
    ) {
        super();
    }

    /** Whether the client id, user name and password are the signed ones of this device. */
    private admits(clientId: string, username: string, password: string): boolean {
        const match = /^([^|]+)\|securemode=[23],signmethod=(hmacsha256|hmacsha1|hmacmd5)(?:,timestamp=(\d+))?\|$/.exec(clientId);
        if (!match) return false;
        const { productKey, deviceName, deviceSecret } = this.device;
        const content = `clientId${match[1]}deviceName${deviceName}productKey${productKey}` + (match[3] ? `timestamp${match[3]}` : '');
        const expected = crypto.createHmac(HASHES[match[2]], deviceSecret).update(content).digest('hex');
        return username === `${deviceName}&${productKey}` && password.toLowerCase() === expected;
    }

    async start(): Promise<this> {
        const server = net.createServer((client) => {
            this.sockets.add(client);
            const pending: Buffer[] = [];
            let upstream: net.Socket | null = null;
            const fromClient = mqttPacket.parser({ protocolVersion: 4 });
            fromClient.once('packet', (packet) => {
                if (packet.cmd !== 'connect') return client.destroy();
                const seen = { clientId: packet.clientId, username: packet.username ?? '', password: packet.password ? String(packet.password) : '' };
                const accepted = this.admits(seen.clientId, seen.username, seen.password);
                this.connects.push({ ...seen, accepted });
                if (!accepted) {
                    client.end(mqttPacket.generate({ cmd: 'connack', returnCode: 4, sessionPresent: false }));
                    return;
                }
                upstream = net.connect(this.brokerPort, '127.0.0.1');
                this.sockets.add(upstream);
                const fromBroker = mqttPacket.parser({ protocolVersion: 4 });
                fromBroker.on('packet', (answer) => {
                    if (answer.cmd === 'suback') this.emit('suback');
                });
                for (const chunk of pending.splice(0)) upstream.write(chunk);
                upstream.on('data', (chunk) => {
                    fromBroker.parse(chunk);
                    client.write(chunk);
                });
                const end = () => {
                    client.destroy();
                    upstream?.destroy();
                };
                upstream.on('close', end).on('error', end);
            });
            client.on('data', (chunk) => {
                if (upstream) upstream.write(chunk);
                else {
                    pending.push(chunk);
                    fromClient.parse(chunk);
                }
            });
            client.on('close', () => upstream?.destroy()).on('error', () => upstream?.destroy());
        });
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
        this.port = (server.address() as net.AddressInfo).port;
        this.server = server;
        return this;
    }

    async dispose(): Promise<void> {
        for (const socket of this.sockets) socket.destroy();
        await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    }
}
