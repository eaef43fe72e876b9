// A sample MQTT client for the broker behind the tcp-addon, with the settings that let it
// ride out a restart: tcp-addon containers restart with zero downtime, but the
// connections to an old container are dropped, so a client must reconnect on its own.
//
//   node client.js                      subscribe to tcp-addon/demo and publish the time every 2 s
//   node client.js sub [TOPIC]          print what arrives on TOPIC (default tcp-addon/demo)
//   node client.js pub [TOPIC] MESSAGE  publish MESSAGE once (QoS 1) and exit
//
// It connects to $TCP_URL (tcp://host:port), as printed by `npm run local`.

import mqtt from 'mqtt'
import { hostname } from 'node:os'

const url = process.env.TCP_URL ?? 'tcp://127.0.0.1:1883'
const [mode = 'demo', ...rest] = process.argv.slice(2)
if (!['demo', 'sub', 'pub'].includes(mode) || (mode === 'pub' && rest.length === 0)) {
  console.error('usage: node client.js [demo | sub [TOPIC] | pub [TOPIC] MESSAGE]')
  process.exit(2)
}
const topic = (mode === 'pub' ? (rest.length > 1 ? rest[0] : undefined) : rest[0]) ?? 'tcp-addon/demo'

/** Settings that make a client survive container restarts. */
const clientOptions = {
  // An id that stays the same across reconnects: with `clean: false` the broker keeps this client's subscriptions and
  // queues its QoS 1 messages while it is away, so a restart loses nothing it subscribed
  // to. (With REDIS_URL the session lives in Redis, so any replica can resume it.)
  clientId: process.env.MQTT_CLIENT_ID ?? `demo-${mode}-${hostname()}-${process.pid}`,
  clean: false,
  // Try again soon after a drop; the jitter spreads many clients' retries so that a
  // restart does not turn into a thundering herd on the new container.
  reconnectPeriod: 500 + Math.floor(Math.random() * 1000),
  // Give up on one attempt quickly and try again rather than wait on a dead address.
  connectTimeout: 5_000,
  // A ping every 30 s keeps the connection inside load balancers' idle timeouts
  // (350 s on an AWS NLB) and detects a half-open connection within about a minute.
  keepalive: 30,
  // Subscribe again after reconnecting in case the broker lost the session.
  resubscribe: true
}

// A one-shot publisher needs no lasting session.
const client = mqtt.connect(url, mode === 'pub' ? { ...clientOptions, clean: true } : clientOptions)
let droppedAt

client.on('connect', (connack) => {
  const gap = droppedAt === undefined ? '' : ` after ${Date.now() - droppedAt} ms`
  droppedAt = undefined
  console.log(`connected to ${url}${gap} (session ${connack.sessionPresent ? 'resumed' : 'new'})`)
})
client.on('close', () => {
  if (droppedAt === undefined && !client.disconnecting) {
    droppedAt = Date.now()
    console.log('connection dropped; reconnecting')
  }
})
client.on('error', (err) => console.error(`error: ${err.message}`))
client.on('message', (t, payload) => console.log(`${t}: ${payload.toString()}`))

if (mode === 'pub') {
  await client.publishAsync(topic, rest[rest.length - 1], { qos: 1 })
  await client.endAsync()
} else {
  await client.subscribeAsync(topic, { qos: 1 })
  console.log(`subscribed to ${topic}`)
  if (mode === 'demo') {
    setInterval(() => client.publish(topic, `hello at ${new Date().toISOString()}`, { qos: 1 }), 2_000)
  }
  process.on('SIGINT', () => client.end(() => process.exit(0)))
}
