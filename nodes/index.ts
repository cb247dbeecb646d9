/**
 * The package's main entry: the pure MQTT logic, usable without Node-RED (Node-RED itself loads the
 * node files named in package.json's "node-red" section).
 */
export { checkTopicFilter, checkTopicName, filterCovers, parseSharedSubscription, topicMatches, validateTopicFilter, validateTopicName } from './lib/topic';
export type { TopicProblem, TopicProblemCode } from './lib/topic';
export { TopicTree } from './lib/topic-tree';
export { bufferToPayload, normalizeDatatype, payloadToBuffer, PayloadError } from './lib/payload';
export type { InputDatatype, PayloadResult } from './lib/payload';
export { resolveBrokerSettings, BrokerSettingsError } from './lib/broker-settings';
export { aliyunCredentials } from './lib/aliyun-iot';
export type { AliyunCredentials, AliyunSignInput } from './lib/aliyun-iot';
export type { BrokerConfigProps, BrokerSettings } from './lib/broker-settings';
export { planBrokerSubscriptions } from './lib/subscription-plan';
export type { QoS } from './lib/subscription-plan';
export { Connection } from './lib/connection';
export type { ConnectionOptions, InboundMessage, LinkStatus, Subscriber } from './lib/connection';
export { Outbox, DeliveryError } from './lib/delivery/outbox';
export type { OutboxOptions } from './lib/delivery/outbox';
export { MemoryDeliveryStore } from './lib/delivery/memory-store';
export { FileDeliveryStore } from './lib/delivery/file-store';
export type { DeliveryStore, OutgoingMessage, PacketStore, QueuedMessage, StoredSubscription } from './lib/delivery/types';
export { EmbeddedBroker } from './lib/embedded-broker';
export { describeConnectionError, describeListenError } from './lib/errors';
export type { Reason, ReasonCode } from './lib/errors';
