/**
 * The home automation examples - Zigbee2MQTT, a Tasmota switch, Home Assistant discovery - deployed
 * as imported against a private Mosquitto (in place of 127.0.0.1:1883), with foreign MQTT.js
 * clients playing the devices and Home Assistant.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startMosquitto } from '../support/mosquitto';
import { collect, eventually, getNode, unloadFlow, useRuntime, waitForSubscribed } from '../support/node-red';
import { click, ForeignClient, loadExample, nodeNamed } from './example-flows';

const broker = useRuntime(() => startMosquitto());

test('zigbee2mqtt-motion-light.json: motion sends {"state":"ON"} to the light, no motion "OFF", a battery report nothing', async (t) => {
    const port = broker().port;
    const flow = await loadExample('zigbee2mqtt-motion-light.json', port);
    const sensorState = collect(nodeNamed(flow, 'sensor state', 'debug').id);
    await waitForSubscribed(nodeNamed(flow, 'my Mosquitto', 'broker-config').id, 'zigbee2mqtt/hallway_motion');

    const zigbee2mqtt = await ForeignClient.connect(port);
    t.after(() => zigbee2mqtt.end());
    await zigbee2mqtt.subscribe('zigbee2mqtt/hallway_light/set');
    const commands = () => zigbee2mqtt.on('zigbee2mqtt/hallway_light/set').map((h) => JSON.parse(h.text));

    await zigbee2mqtt.publish('zigbee2mqtt/hallway_motion', '{"occupancy":true,"illuminance":12,"battery":97,"linkquality":120}');
    await eventually(() => commands().length === 1, 'the command after motion');
    assert.deepEqual(commands(), [{ state: 'ON' }]);
    assert.equal(sensorState[0].payload.occupancy, true, 'the sensor state arrives as an object');

    await zigbee2mqtt.publish('zigbee2mqtt/hallway_motion', '{"battery":96,"linkquality":118}');
    await zigbee2mqtt.publish('zigbee2mqtt/hallway_motion', '{"occupancy":false,"illuminance":12,"battery":96}');
    await eventually(() => commands().length === 2, 'the command after the motion ended');
    assert.deepEqual(commands(), [{ state: 'ON' }, { state: 'OFF' }], 'the battery report in between sent no command');
    assert.equal(sensorState.length, 3);
});

test('tasmota-switch.json: the retained state is read at deploy, a command switches the device, the new state comes back', async (t) => {
    const port = broker().port;
    // A Tasmota device with PowerRetain 1: it answers each command with its state, retained.
    const lamp = await ForeignClient.connect(port);
    t.after(() => lamp.end());
    let power = 'OFF';
    await lamp.publish('stat/desk_lamp/POWER', power, { retain: true });
    await lamp.subscribe('cmnd/desk_lamp/POWER', 1);
    lamp.client.on('message', (topic, payload) => {
        if (topic !== 'cmnd/desk_lamp/POWER') return;
        const command = payload.toString();
        power = command === 'TOGGLE' ? (power === 'ON' ? 'OFF' : 'ON') : command;
        void lamp.publish('stat/desk_lamp/POWER', power, { retain: true });
    });

    let flow = await loadExample('tasmota-switch.json', port);
    let lampIs = collect(nodeNamed(flow, 'lamp is', 'debug').id);
    await eventually(() => lampIs.length === 1, 'the retained state at deploy');
    assert.deepEqual([lampIs[0].payload, lampIs[0].retain], ['OFF', true]);

    click(nodeNamed(flow, 'on', 'inject').id);
    await eventually(() => lampIs.length === 2, 'the state after "on"');
    assert.deepEqual([lampIs[1].payload, lampIs[1].retain], ['ON', false]);
    assert.deepEqual(lamp.on('cmnd/desk_lamp/POWER').map((h) => [h.text, h.retain]), [['ON', false]], 'the command is not retained');

    click(nodeNamed(flow, 'toggle', 'inject').id);
    await eventually(() => lampIs.length === 3, 'the state after "toggle"');
    assert.equal(lampIs[2].payload, 'OFF');
    click(nodeNamed(flow, 'on', 'inject').id);
    await eventually(() => lampIs.length === 4, 'the state after "on" again');

    await unloadFlow();
    flow = await loadExample('tasmota-switch.json', port);
    lampIs = collect(nodeNamed(flow, 'lamp is', 'debug').id);
    await eventually(() => lampIs.length === 1, 'the retained state after a restart');
    assert.deepEqual([lampIs[0].payload, lampIs[0].retain], ['ON', true]);
    assert.equal(lamp.on('cmnd/desk_lamp/POWER').length, 3, 'the restart switched nothing');
});

test('home-assistant-discovery.json: a retained discovery config with the fields Home Assistant needs, the state on its state topic, again on "online"', async (t) => {
    const port = broker().port;
    const configTopic = 'homeassistant/sensor/nodered_greenhouse_temperature/config';
    const homeAssistant = await ForeignClient.connect(port);
    t.after(() => homeAssistant.end());
    await homeAssistant.subscribe('homeassistant/sensor/+/config', 1);

    const flow = await loadExample('home-assistant-discovery.json', port);
    const discovery = nodeNamed(flow, 'discovery config', 'change');
    assert.equal(nodeNamed(flow, 'announce at start', 'inject').once, true, 'the config goes out when the flow starts');
    assert.equal(nodeNamed(flow, 'greenhouse reading every 60 s', 'inject').repeat, '60');
    const announced = collect(discovery.id);
    click(nodeNamed(flow, 'announce at start', 'inject').id);
    await eventually(() => homeAssistant.on(configTopic).length > 0, 'the discovery config');

    // Home Assistant started later: the broker hands it the retained config.
    const later = await ForeignClient.connect(port);
    t.after(() => later.end());
    await later.subscribe('homeassistant/#', 1);
    await eventually(() => later.on(configTopic).length === 1, 'the retained config');
    const retained = later.on(configTopic)[0];
    assert.equal(retained.retain, true, 'the config is retained');
    const config = JSON.parse(retained.text);
    assert.equal(typeof config.name, 'string');
    assert.equal(config.unique_id, 'nodered_greenhouse_temperature');
    assert.equal(config.device_class, 'temperature');
    assert.equal(config.unit_of_measurement, '°C');
    assert.equal(config.state_class, 'measurement');
    assert.equal(typeof config.state_topic, 'string');
    assert.ok(Array.isArray(config.device?.identifiers) && config.device.identifiers.length > 0, 'the device has identifiers');
    assert.equal(typeof config.device.name, 'string');

    await later.subscribe(config.state_topic, 1);
    click(nodeNamed(flow, 'greenhouse reading every 60 s', 'inject').id);
    await eventually(() => later.on(config.state_topic).length > 0, 'the reading on the state topic');
    const reading = later.on(config.state_topic).at(-1)!;
    assert.match(reading.text, /^\d+(\.\d)?$/, 'a plain number, as Home Assistant reads it without a value template');
    const stateLater = await ForeignClient.connect(port);
    t.after(() => stateLater.end());
    await stateLater.subscribe(config.state_topic, 1);
    await eventually(() => stateLater.on(config.state_topic).length === 1, 'the retained reading');
    assert.equal(stateLater.on(config.state_topic)[0].retain, true, 'the reading is retained');

    await waitForSubscribed(nodeNamed(flow, 'my Mosquitto', 'broker-config').id, 'homeassistant/status');
    // The payloads as they arrive: the change node after the switch replaces the payload of the same msg.
    const statuses: unknown[] = [];
    getNode(nodeNamed(flow, 'online?', 'switch').id).on('input', (msg: { payload: unknown }) => statuses.push(msg.payload));
    const fromStatus = () => announced.filter((m) => m.topic === 'homeassistant/status');
    const configsBefore = homeAssistant.on(configTopic).length;
    await homeAssistant.publish('homeassistant/status', 'offline');
    await homeAssistant.publish('homeassistant/status', 'online');
    await eventually(() => statuses.length === 2 && homeAssistant.on(configTopic).length > configsBefore, 'the config announced again on "online"');
    assert.deepEqual(statuses, ['offline', 'online']);
    assert.equal(fromStatus().length, 1, '"offline" announced nothing');
});
