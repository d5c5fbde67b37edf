// kabase for Node.js: the hand-written, idiomatic surface over the native module.
//
// - open(): an Engine with the table API (createTable, table(name).put/get/delete/scan).
// - Kafka: a kafkajs-shaped client (producer, consumer with groups, admin) on the embedded engine;
//   kafkajs code runs after changing its import to 'kabase'.
//
// Every method returns a Promise; the work runs on libuv's thread pool, not on the JS thread.
// Every error from the engine is a KabaseError with a stable `code` (e.g. 'TABLE_NOT_FOUND') and
// `errno` (e.g. 203): see errors.js.
'use strict'
const path = require('node:path')
const native = require('./native')
const { KabaseError, codes, call, invalid } = require('./errors')

const version = native.version()

// ---------------------------------------------------------------------------------------------
// Conversions

function toBuffer(v, what) {
  if (Buffer.isBuffer(v)) return v
  if (typeof v === 'string') return Buffer.from(v, 'utf8')
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength)
  throw invalid(`${what} must be a string or a Buffer, not ${v === null ? 'null' : typeof v}`)
}

function toOptionalBuffer(v, what) {
  return v === null || v === undefined ? undefined : toBuffer(v, what)
}

function columnsOf(data) {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw invalid('row data must be an object of { "family:qualifier": value }')
  }
  const cols = Object.entries(data).map(([column, value]) => ({ column, value: toBuffer(value, `value of ${column}`) }))
  if (cols.length === 0) throw invalid('row data must hold at least one column')
  return cols
}

function rowData(row) {
  const out = {}
  for (const c of row.cells) out[`${c.family}:${c.qualifier}`] = c.value
  return out
}

// ---------------------------------------------------------------------------------------------
// Engine and tables

/** Open an engine: in `path`, in memory (`inMemory: true`), or in $KABASE_DATA_DIR / ./kabase-data. */
async function open(options = {}) {
  const { path: dir, inMemory = false } = options
  if (dir !== undefined && typeof dir !== 'string') throw invalid('path must be a string')
  const target = inMemory ? null : dir || process.env.KABASE_DATA_DIR || path.resolve('kabase-data')
  return new Engine(await call(native.openEngine(target)))
}

class Engine {
  constructor(inner) {
    this._inner = inner
  }
  /** The data directory. */
  get path() {
    return this._inner.path
  }
  async close() {
    return call(this._inner.close())
  }
  /** Create a table: createTable('users', ['cf']) or createTable('users', { families: ['cf'] }). */
  async createTable(name, families) {
    const list = Array.isArray(families) ? families : families && families.families
    if (!Array.isArray(list)) throw invalid('createTable needs a list of column families')
    return call(this._inner.createTable(String(name), list.map(String)))
  }
  async deleteTable(name) {
    return call(this._inner.deleteTable(String(name)))
  }
  async listTables() {
    return call(this._inner.listTables())
  }
  /** A handle to an existing table. */
  async table(name) {
    return new Table(await call(this._inner.table(String(name))))
  }
  async createTopic(name, partitions = 1) {
    return call(this._inner.createTopic(String(name), partitions))
  }
  async deleteTopic(name) {
    return call(this._inner.deleteTopic(String(name)))
  }
  async listTopics() {
    return call(this._inner.listTopics())
  }
}

class Table {
  constructor(inner) {
    this._inner = inner
  }
  get name() {
    return this._inner.name
  }
  /** put('row1', { 'cf:name': 'Alice' }): write columns of one row atomically. */
  async put(row, data) {
    return call(() => this._inner.put(toBuffer(row, 'row'), columnsOf(data)))
  }
  /** The newest value of every column (or of `columns`), as { 'family:qualifier': Buffer }, or null. */
  async get(row, { columns } = {}) {
    const r = await call(() => this._inner.get(toBuffer(row, 'row'), columns))
    return r ? rowData(r) : null
  }
  /** The newest cells of a row with their timestamps, or null. */
  async getCells(row, { columns } = {}) {
    const r = await call(() => this._inner.get(toBuffer(row, 'row'), columns))
    return r ? r.cells : null
  }
  /** Delete a row, or only `columns` of it. */
  async delete(row, { columns } = {}) {
    return call(() => this._inner.delete(toBuffer(row, 'row'), columns))
  }
  /** Rows from `start` (inclusive) to `stop` (exclusive), or with `prefix`, at most `limit`. */
  async scan({ start, stop, prefix, limit, reversed } = {}) {
    const rows = await call(() =>
      this._inner.scan({
        start: toOptionalBuffer(start, 'start'),
        stop: toOptionalBuffer(stop, 'stop'),
        prefix: toOptionalBuffer(prefix, 'prefix'),
        limit,
        reversed,
      }),
    )
    return rows.map((r) => ({ row: r.row, data: rowData(r) }))
  }
}

// ---------------------------------------------------------------------------------------------
// kafkajs-shaped client

const LOOPBACK = new Set(['localhost', '127.0.0.1', '::1', '[::1]', 'ip6-localhost'])

/** The address rule shared with the Python package: loopback addresses mean the embedded engine. */
function checkLocal(brokers) {
  const list = brokers === undefined || brokers === null ? [] : Array.isArray(brokers) ? brokers : [brokers]
  for (const b of list) {
    if (typeof b !== 'string') throw invalid('brokers must be strings')
    const a = b.trim()
    if (a === '') continue
    let host = a
    if (a.includes('://')) host = null
    else if (a.startsWith('[')) host = a.slice(0, a.indexOf(']') + 1)
    else if (a.split(':').length === 2) host = a.split(':')[0]
    if (host === null || !(LOOPBACK.has(host.toLowerCase()) || host.startsWith('127.'))) {
      throw new KabaseError(
        `broker ${JSON.stringify(b)} names a remote cluster; remote backends are not available yet (use localhost[:port] for the embedded engine)`,
        'UNSUPPORTED',
        codes.UNSUPPORTED,
      )
    }
  }
}

class Kafka {
  /** new Kafka({ brokers, clientId, engine?, dataDir?, inMemory? }) */
  constructor(config = {}) {
    checkLocal(config.brokers)
    this._config = config
    this._engine = config.engine || null
    this._opening = null
  }
  async _getEngine() {
    if (this._engine) return this._engine
    if (!this._opening) this._opening = open({ path: this._config.dataDir, inMemory: this._config.inMemory })
    this._engine = await this._opening
    return this._engine
  }
  producer(config = {}) {
    return new Producer(this, config)
  }
  consumer(config = {}) {
    return new Consumer(this, config)
  }
  admin() {
    return new Admin(this)
  }
}

function producerConfigs(config) {
  const out = []
  if (config.idempotent) out.push(['enable.idempotence', 'true'])
  if (config.transactionalId) out.push(['transactional.id', String(config.transactionalId)])
  return out
}

function headersOf(headers) {
  if (!headers) return undefined
  return Object.entries(headers).map(([key, value]) => ({ key, value: toBuffer(value, `header ${key}`) }))
}

class Producer {
  constructor(kafka, config) {
    this._kafka = kafka
    this._config = config
    this._inner = null
  }
  async connect() {
    if (this._inner) return
    const engine = await this._kafka._getEngine()
    this._inner = await call(engine._inner.producer(producerConfigs(this._config)))
  }
  _need() {
    if (!this._inner) throw new KabaseError('the producer is not connected (call connect())', 'CLOSED', codes.CLOSED)
    return this._inner
  }
  /** send({ topic, messages: [{ key, value, partition, headers, timestamp }] }) -> RecordMetadata[] */
  async send({ topic, messages } = {}) {
    if (typeof topic !== 'string') throw invalid('send needs a topic')
    if (!Array.isArray(messages)) throw invalid('send needs an array of messages')
    const inner = this._need()
    const msgs = messages.map((m, i) => ({
      partition: m.partition === undefined || m.partition === null ? undefined : m.partition,
      key: toOptionalBuffer(m.key, `messages[${i}].key`),
      value: toOptionalBuffer(m.value, `messages[${i}].value`),
      timestamp: m.timestamp === undefined ? undefined : Number(m.timestamp),
      headers: headersOf(m.headers),
    }))
    const metas = await call(inner.send(topic, msgs))
    // kafkajs answers one entry per partition, with the first offset written there.
    const byPartition = new Map()
    for (const m of metas) {
      if (!byPartition.has(m.partition)) {
        byPartition.set(m.partition, {
          topicName: m.topic,
          partition: m.partition,
          errorCode: 0,
          baseOffset: String(m.offset),
          logAppendTime: '-1',
          logStartOffset: '0',
        })
      }
    }
    return [...byPartition.values()]
  }
  /** sendBatch({ topicMessages: [{ topic, messages }] }) */
  async sendBatch({ topicMessages = [] } = {}) {
    const out = []
    for (const tm of topicMessages) out.push(...(await this.send(tm)))
    return out
  }
  async flush() {
    return call(this._need().flush())
  }
  async disconnect() {
    if (!this._inner) return
    const inner = this._inner
    this._inner = null
    await call(inner.close())
  }
}

function consumerConfigs(config) {
  const out = []
  if (config.maxBytesPerPartition) out.push(['max.partition.fetch.bytes', String(config.maxBytesPerPartition)])
  if (config.readUncommitted === false) out.push(['isolation.level', 'read_committed'])
  return out
}

class Consumer {
  constructor(kafka, config) {
    if (config.groupId !== undefined && typeof config.groupId !== 'string') throw invalid('groupId must be a string')
    this._kafka = kafka
    this._config = config
    this._inner = null
    this._running = null
    this._stopped = false
    this._listeners = new Map()
    this.events = { CRASH: 'consumer.crash', STOP: 'consumer.stop' }
  }
  on(event, listener) {
    if (!this._listeners.has(event)) this._listeners.set(event, [])
    this._listeners.get(event).push(listener)
    return () => this._listeners.set(event, this._listeners.get(event).filter((l) => l !== listener))
  }
  _emit(event, payload) {
    for (const l of this._listeners.get(event) || []) l({ type: event, timestamp: Date.now(), payload })
  }
  async connect() {
    if (this._inner) return
    const engine = await this._kafka._getEngine()
    this._inner = await call(engine._inner.consumer(this._config.groupId ?? null, consumerConfigs(this._config)))
  }
  _need() {
    if (!this._inner) throw new KabaseError('the consumer is not connected (call connect())', 'CLOSED', codes.CLOSED)
    return this._inner
  }
  /** subscribe({ topics: ['a'], fromBeginning }) or subscribe({ topic: 'a', fromBeginning }) */
  async subscribe({ topic, topics, fromBeginning = false } = {}) {
    const list = topics || (topic !== undefined ? [topic] : [])
    if (list.some((t) => typeof t !== 'string')) throw invalid('topics must be strings (regular expressions are not supported)')
    this._topics = [...new Set([...(this._topics || []), ...list])]
    return call(this._need().subscribe(this._topics, Boolean(fromBeginning)))
  }
  /** run({ eachMessage } | { eachBatch }): resolves once consuming started, as in kafkajs. */
  async run({ eachMessage, eachBatch, autoCommit = true, eachBatchAutoResolve = true, partitionsConsumedConcurrently } = {}) {
    void partitionsConsumedConcurrently
    if (!eachMessage && !eachBatch) throw invalid('run needs eachMessage or eachBatch')
    const inner = this._need()
    if (this._running) throw invalid('the consumer is already running')
    this._stopped = false
    this._running = this._loop(inner, { eachMessage, eachBatch, autoCommit, eachBatchAutoResolve }).catch((error) => {
      this._crash = error
      this._emit(this.events.CRASH, { error, groupId: this._config.groupId })
    })
  }
  async _loop(inner, { eachMessage, eachBatch, autoCommit, eachBatchAutoResolve }) {
    while (!this._stopped) {
      const records = await call(inner.poll(this._config.maxPollRecords || 500, 100))
      if (records.length === 0) continue
      const groups = new Map()
      for (const r of records) {
        const k = `${r.topic}\u0000${r.partition}`
        if (!groups.has(k)) groups.set(k, { topic: r.topic, partition: r.partition, messages: [] })
        groups.get(k).messages.push(toMessage(r))
      }
      const resolved = new Map()
      for (const g of groups.values()) {
        if (this._stopped) break
        if (eachBatch) {
          const batch = {
            topic: g.topic,
            partition: g.partition,
            messages: g.messages,
            highWatermark: String(Number(g.messages[g.messages.length - 1].offset) + 1),
            isEmpty: () => g.messages.length === 0,
            firstOffset: () => g.messages[0].offset,
            lastOffset: () => g.messages[g.messages.length - 1].offset,
          }
          const key = `${g.topic}\u0000${g.partition}`
          await eachBatch({
            batch,
            resolveOffset: (offset) => resolved.set(key, { topic: g.topic, partition: g.partition, offset: Number(offset) + 1 }),
            heartbeat: async () => {},
            commitOffsetsIfNecessary: async () => {},
            uncommittedOffsets: () => ({ topics: [] }),
            isRunning: () => !this._stopped,
            isStale: () => false,
            pause: () => () => {},
          })
          if (eachBatchAutoResolve) resolved.set(key, { topic: g.topic, partition: g.partition, offset: Number(batch.lastOffset()) + 1 })
        } else {
          for (const message of g.messages) {
            if (this._stopped) break
            await eachMessage({ topic: g.topic, partition: g.partition, message, heartbeat: async () => {}, pause: () => () => {} })
            resolved.set(`${g.topic}\u0000${g.partition}`, { topic: g.topic, partition: g.partition, offset: Number(message.offset) + 1 })
          }
        }
      }
      if (autoCommit && this._config.groupId !== undefined && resolved.size > 0) {
        await call(inner.commit([...resolved.values()]))
      }
    }
  }
  /** commitOffsets([{ topic, partition, offset }]): offset is the next offset to read (a string). */
  async commitOffsets(offsets) {
    if (!Array.isArray(offsets)) throw invalid('commitOffsets needs an array')
    return call(this._need().commit(offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: Number(o.offset) }))))
  }
  /** The group's committed offsets: [{ topic, partition, offset }] with offset '-1' where none. */
  async committed(partitions) {
    const got = await call(this._need().committed(partitions.map((p) => ({ topic: p.topic, partition: p.partition, offset: -1 }))))
    return got.map((p) => ({ topic: p.topic, partition: p.partition, offset: String(p.offset) }))
  }
  /** seek({ topic, partition, offset }) */
  async seek({ topic, partition, offset }) {
    return call(this._need().seek(topic, partition, Number(offset)))
  }
  /** Stop the run loop (the consumer stays connected). */
  async stop() {
    this._stopped = true
    if (this._running) await this._running
    this._running = null
    this._emit(this.events.STOP, {})
  }
  async disconnect() {
    await this.stop()
    if (!this._inner) return
    const inner = this._inner
    this._inner = null
    await call(inner.close())
  }
}

function toMessage(r) {
  const headers = {}
  for (const h of r.headers) headers[h.key] = h.value
  return {
    key: r.key ?? null,
    value: r.value ?? null,
    offset: String(r.offset),
    timestamp: String(r.timestamp),
    headers,
    attributes: 0,
    size: (r.key ? r.key.length : 0) + (r.value ? r.value.length : 0),
  }
}

class Admin {
  constructor(kafka) {
    this._kafka = kafka
    this._engine = null
  }
  async connect() {
    this._engine = await this._kafka._getEngine()
  }
  _need() {
    if (!this._engine) throw new KabaseError('the admin client is not connected (call connect())', 'CLOSED', codes.CLOSED)
    return this._engine
  }
  /** createTopics({ topics: [{ topic, numPartitions }] }): true when all were created, false if one existed. */
  async createTopics({ topics = [] } = {}) {
    const engine = this._need()
    let created = true
    for (const t of topics) {
      try {
        await engine.createTopic(t.topic, t.numPartitions === undefined || t.numPartitions === -1 ? 1 : t.numPartitions)
      } catch (err) {
        if (err.code !== 'TOPIC_EXISTS') throw err
        created = false
      }
    }
    return created
  }
  async deleteTopics({ topics = [] } = {}) {
    const engine = this._need()
    for (const t of topics) await engine.deleteTopic(t)
  }
  async listTopics() {
    return this._need().listTopics()
  }
  async createTable(name, families) {
    return this._need().createTable(name, families)
  }
  async deleteTable(name) {
    return this._need().deleteTable(name)
  }
  async listTables() {
    return this._need().listTables()
  }
  async disconnect() {
    this._engine = null
  }
}

module.exports = { open, Engine, Table, Kafka, Producer, Consumer, Admin, KabaseError, codes, version }
