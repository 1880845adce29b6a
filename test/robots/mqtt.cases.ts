// The shared MQTT connection against real brokers: it connects, carries messages, survives a
// broker restart (reconnects and resubscribes), does not replay QoS 0 commands queued while
// offline, and a vanished client's last will is delivered.
import t from 'tap';
import type { MqttClient } from 'mqtt';
import { closeMqtt, connectMqtt, mqttOptions } from '../../robots/mqtt.ts';
import { BROKERS, freePort } from '../helpers/brokers.ts';

function nextMessage(client: MqttClient, topic: string, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no message on ${topic} within ${timeoutMs} ms`)), timeoutMs);
    const on = (tp: string, payload: Buffer) => {
      if (tp !== topic) return;
      clearTimeout(timer);
      client.off('message', on);
      resolve(payload.toString());
    };
    client.on('message', on);
  });
}

t.test('options suit commands: MQTT 3.1.1, short keepalive, no offline queue for QoS 0, resubscribe', async (t) => {
  const o = mqttOptions({ url: 'mqtt://x', clientId: 'c', will: { topic: 'w', payload: 'gone', qos: 1, retain: true } });
  t.match(o, { protocolVersion: 4, keepalive: 10, queueQoSZero: false, resubscribe: true, clean: true, reconnectPeriod: 500 });
  t.match(o.will, { topic: 'w', qos: 1, retain: true });
  t.equal(o.will!.payload.toString(), 'gone');
});

t.test('no broker: connectMqtt rejects with a clear message and leaves nothing running', async (t) => {
  const port = await freePort();
  await t.rejects(connectMqtt({ url: `mqtt://127.0.0.1:${port}`, clientId: 'nobody' }, 800), { message: new RegExp(`no connection to MQTT broker mqtt://127.0.0.1:${port}`) });
});

for (const [name, start] of BROKERS) {
  t.test(`${name}: publish/subscribe, a restart survived with the subscription, the last will delivered`, async (t) => {
    const broker = await start(t);
    const a = await connectMqtt({ url: broker.url, clientId: `a-${name}` });
    const b = await connectMqtt({ url: broker.url, clientId: `b-${name}`, will: { topic: 'test/will', payload: 'CONNECTIONBROKEN', qos: 1, retain: false } });
    t.teardown(() => Promise.all([closeMqtt(a, true), closeMqtt(b, true)]).then(() => undefined));
    await a.subscribeAsync(['test/cmd', 'test/will'], { qos: 1 });

    const got = nextMessage(a, 'test/cmd');
    await b.publishAsync('test/cmd', 'hello', { qos: 1 });
    t.equal(await got, 'hello');

    await broker.restart();
    await Promise.all([new Promise((r) => a.once('connect', r)), new Promise((r) => b.once('connect', r))]);
    const again = nextMessage(a, 'test/cmd');
    await b.publishAsync('test/cmd', 'after restart', { qos: 1 });
    t.equal(await again, 'after restart', 'the subscription came back by itself');

    // A QoS 0 command published while the link is down is dropped, not delivered late.
    await broker.stop();
    await new Promise<void>((r) => b.once('close', () => r()));
    b.publish('test/cmd', 'stale', { qos: 0 });
    await broker.restart();
    await Promise.all([new Promise((r) => a.once('connect', r)), new Promise((r) => b.once('connect', r))]);
    const fresh = nextMessage(a, 'test/cmd');
    await b.publishAsync('test/cmd', 'fresh', { qos: 1 });
    t.equal(await fresh, 'fresh', 'the stale QoS 0 message was never sent');

    // b vanishes without DISCONNECT: the broker sends its will.
    const will = nextMessage(a, 'test/will');
    (b as unknown as { stream: { destroy(): void } }).stream.destroy();
    b.end(true);
    t.equal(await will, 'CONNECTIONBROKEN');
  });
}
