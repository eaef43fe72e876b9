// An MQTT broker (aedes) for the tcp-addon: it listens on $PORT and tells clients to use $TCP_URL.
//
// One replica keeps its messages in memory. Several replicas of the same app share
// subscriptions, retained and offline messages through Redis when REDIS_URL is set
// (mqemitter-redis carries the live messages, aedes-persistence-redis stores the rest),
// so a subscriber and a publisher that the balancer sent to different replicas still meet.

import { createServer } from 'node:net'
import { Aedes } from 'aedes'
import { protocolDecoder } from 'aedes-protocol-decoder'

const port = Number(process.env.PORT ?? 1883)
const host = process.env.HOST ?? '127.0.0.1'
const redisUrl = process.env.REDIS_URL
const tcpUrl = process.env.TCP_URL ?? `tcp://${host}:${port}`
// How long to wait for Redis at start before giving up with a clear error.
const REDIS_START_TIMEOUT_MS = 10_000
// A slow client may hold delivery for everyone at most this long (aedes' own default is 60 s).
const DRAIN_TIMEOUT_MS = 10_000

function log (message) {
  console.log(`mqtt: ${message}`)
}

function fail (message) {
  console.error(`mqtt: ${message}`)
  process.exit(1)
}

/** ioredis options from a redis:// or rediss:// URL (user, password, db and TLS included). */
function redisOptions (url) {
  let parsed
  try {
    parsed = new URL(url)
  } catch {
    fail(`REDIS_URL is not a URL: expected redis://[user:password@]host:port[/db], got "${url}"`)
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    fail(`REDIS_URL must start with redis:// or rediss://, got "${parsed.protocol}//"`)
  }
  return {
    host: parsed.hostname,
    port: Number(parsed.port || 6379),
    username: parsed.username ? decodeURIComponent(parsed.username) : undefined,
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    db: Number(parsed.pathname.slice(1) || 0),
    tls: parsed.protocol === 'rediss:' ? {} : undefined
  }
}

// "The first packet sent from the Server to the Client MUST be a CONNACK Packet" (MQTT 3.1.1,
// [MQTT-3.2.0-1]). aedes 1.2.0 resumes a persistent session (clean=false) by subscribing the
// client again (lib/handlers/connect.js, restoreSubs) before it stores the will and writes the
// CONNACK; with Redis those steps wait on the network, and a message published meanwhile is
// written to the client first. mosquitto's clients then fail with "protocol error" and stop.
// So each client's deliveries wait until its CONNACK is out. One held back when the connection
// closes first is not lost: a QoS 1 message for a persistent session is stored for it
// (aedes' enqueueOffline) until the client acknowledges it, and sent on its next connect.
function holdDeliveriesUntilConnack (client) {
  const held = []
  let open = false
  const hold = (deliver) => (packet, done) => {
    if (open) deliver(packet, done)
    else held.push({ deliver, packet, done })
  }
  client.deliver0 = hold(client.deliver0)
  client.deliverQoS = hold(client.deliverQoS)
  client.releaseDeliveries = (send) => {
    open = true
    for (const { deliver, packet, done } of held.splice(0)) {
      if (send) deliver(packet, done)
      else done()
    }
  }
}

// aedes-persistence-redis 12.0.0 stores a QoS 1 message once, with the number of sessions that
// still owe it, and deletes it when that number reaches 0. Its outgoingClearMessageId takes one
// off on every PUBACK, even for a message this session had already acknowledged. A resumed
// session gets some messages twice (from its queue and live, each under its own message id)
// and acknowledges both: the count falls twice, the message is deleted while another session
// still owes it, and that session never gets it. So each session clears a message once.
function clearEachMessageOnce (persistence) {
  const update = persistence.outgoingUpdate.bind(persistence)
  const clear = persistence.outgoingClearMessageId.bind(persistence)
  persistence.outgoingUpdate = async (client, packet) => {
    await update(client, packet)
    if (packet.brokerId !== undefined) {
      client.sentPackets ??= new Map()
      client.sentPackets.set(packet.messageId, `${packet.brokerId}:${packet.brokerCounter}`)
    }
  }
  persistence.outgoingClearMessageId = async (client, packet) => {
    const key = client.sentPackets?.get(packet.messageId)
    if (key !== undefined) {
      client.sentPackets.delete(packet.messageId)
      client.clearedPackets ??= new Set()
      if (client.clearedPackets.has(key)) return undefined // acknowledged twice: already taken off
      client.clearedPackets.add(key)
    }
    return clear(client, packet)
  }
  return persistence
}

function preConnect (client, packet, callback) {
  holdDeliveriesUntilConnack(client)
  client.conn.once('close', () => client.releaseDeliveries(false))
  callback(null, true)
}

async function createBroker () {
  const options = { drainTimeout: DRAIN_TIMEOUT_MS, preConnect }
  if (!redisUrl) {
    log('REDIS_URL is not set: messages stay inside this replica (fine for one container; set REDIS_URL to share them across several)')
    return Aedes.createBroker(options)
  }
  const { default: mqemitterRedis } = await import('mqemitter-redis')
  const { default: persistenceRedis } = await import('aedes-persistence-redis')
  const redis = redisOptions(redisUrl)
  const where = `${redis.host}:${redis.port}`
  const timer = setTimeout(() => fail(`cannot reach Redis at ${where} (REDIS_URL) within ${REDIS_START_TIMEOUT_MS / 1000} s`), REDIS_START_TIMEOUT_MS)
  let started = false
  let lastError = ''
  const mq = mqemitterRedis(redis)
  // Redis down at start is a configuration error; later, ioredis reconnects on its own.
  mq.state.on('error', (err) => {
    if (!started) fail(`cannot reach Redis at ${where} (REDIS_URL): ${err.message}`)
    if (err.message !== lastError) log(`Redis at ${where}: ${err.message} (reconnecting)`)
    lastError = err.message
  })
  const broker = await Aedes.createBroker({ ...options, mq, persistence: clearEachMessageOnce(persistenceRedis(redis)) })
  started = true
  clearTimeout(timer)
  log(`sharing messages with the other replicas through Redis at ${where}`)
  return broker
}

const broker = await createBroker()

// With `clientIp: proxy-v2-to-app`, the tcp-addon agent sends a PROXY protocol v2 header (the
// client's address, as the NLB saw it) before the client's first byte. aedes-protocol-decoder
// reads it from the first chunk; what follows the header goes back to the stream for aedes.
// Only the agent reaches this port (it listens on 127.0.0.1 next to the agent), so the header
// can be trusted. Without a header, the socket's own address is used.
const server = createServer((socket) => {
  socket.on('error', () => socket.destroy())
  socket.once('data', (chunk) => {
    socket.pause()
    const details = protocolDecoder(socket, chunk)
    const rest = details.isProxy ? details.data : chunk
    if (rest && rest.length > 0) socket.unshift(rest)
    broker.handle(socket, { connDetails: details })
  })
})
broker.on('connackSent', (connack, client) => client.releaseDeliveries?.(!connack.returnCode))
broker.on('client', (client) => {
  const d = client.connDetails
  const via = d && d.isProxy ? ' (PROXY v2)' : ''
  log(`client ${client.id} connected from ${d ? `${d.ipAddress}:${d.port}` : 'unknown'}${via}`)
})

server.on('error', (err) => fail(`cannot listen on ${host}:${port}: ${err.message}`))
server.listen(port, host, () => {
  log(`broker listening on ${host}:${port}; clients connect to TCP_URL=${tcpUrl}`)
})

let stopping = false
function stop (signal) {
  if (stopping) return
  stopping = true
  log(`${signal}: closing the listener and ${broker.connectedClients} client connection(s)`)
  // Exit even if a client or Redis does not answer: a stop must never hang.
  setTimeout(() => process.exit(0), 5_000).unref()
  server.close()
  broker.close(() => {
    Promise.resolve(broker.persistence.destroy?.())
      .catch(() => {})
      .finally(() => process.exit(0))
  })
}
process.on('SIGTERM', () => stop('SIGTERM'))
process.on('SIGINT', () => stop('SIGINT'))
