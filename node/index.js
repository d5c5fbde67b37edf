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
    return new Table(await call(this._inner.table(String(name))), this)
  }
  /** Stream every committed mutation of `table` into `topic` (null: `default.<table>`), exactly once. */
  async streamTableToTopic(table, topic, options = {}) {
    const t = topic === undefined || topic === null ? null : String(topic)
    return new ChangeStream(await call(() => this._inner.streamTableToTopic(String(table), t, ...streamOptions(options))))
  }
  /** Consume `topic` into `table` exactly once (JSON `family:qualifier` fields to cells). */
  async sinkTopicToTable(topic, table, options = {}) {
    return new ChangeStream(await call(() => this._inner.sinkTopicToTable(String(topic), String(table), sinkOptions(options))))
  }
  /** A handle on an existing stream. */
  async changeStream(name) {
    return new ChangeStream(await call(this._inner.changeStream(String(name))))
  }
  /** Every stream's description. */
  async listStreams() {
    return (await call(this._inner.listStreams())).map(describeOut)
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
  constructor(inner, engine) {
    this._inner = inner
    this._engine = engine
  }
  /** streamTo('orders-cdc', { partitioning, shape, format, ... }): this table's changes into a topic. */
  async streamTo(topic, options = {}) {
    return this._engine.streamTableToTopic(this.name, topic, options)
  }
  /** sinkFrom('orders-in', { defaultFamily, rowKeyField }): a topic's records into this table. */
  async sinkFrom(topic, options = {}) {
    return this._engine.sinkTopicToTable(topic, this.name, options)
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
  /** Many rows in one call: per key, in key order, { 'family:qualifier': Buffer } or null. */
  async getMany(rows) {
    return (await this._getMany(rows, 'getMany')).map((r) => (r ? rowData(r) : null))
  }
  /** Many rows in one call, as happybase's Table.rows: [{ row, data }] of the rows that exist. */
  async rows(rows) {
    return (await this._getMany(rows, 'rows')).filter((r) => r).map((r) => ({ row: r.row, data: rowData(r) }))
  }
  async _getMany(rows, what) {
    if (!Array.isArray(rows)) throw invalid(`${what} needs an array of row keys`)
    const keys = rows.map((r, i) => toBuffer(r, `row ${i}`))
    return call(() => this._inner.getMany(keys))
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
// Option mapping: one table per native options object, one function applying it.

/**
 * Map a host options object through `spec` ({ hostName: [nativeName, convert] }): absent and
 * null options are left out, unknown ones are refused (so a typo cannot pass unnoticed).
 */
function mapOptions(options, spec, what) {
  if (options === null || options === undefined) return {}
  if (typeof options !== 'object' || Array.isArray(options)) throw invalid(`${what} options must be an object`)
  const out = {}
  for (const [k, v] of Object.entries(options)) {
    const rule = spec[k]
    if (!rule) throw invalid(`unknown ${what} option ${JSON.stringify(k)}`)
    if (v === undefined || v === null) continue
    out[rule[0]] = rule[1](v, k)
  }
  return out
}

const asString = (v) => String(v)
const asCount = (v, k) => {
  const n = Number(v)
  if (!Number.isInteger(n) || n < 0) throw invalid(`${k} must be a non-negative integer`)
  return n
}
const asCountString = (v, k) => String(asCount(v, k))
const asStringList = (v, k) => {
  if (!Array.isArray(v)) throw invalid(`${k} must be an array of strings`)
  return v.map(String)
}
const PARTITIONING = { rowKey: 'row_key', row_key: 'row_key', family: 'family' }
const asPartitioning = (v) => (typeof v === 'number' ? `fixed:${v}` : PARTITIONING[v] || String(v))
const ROUTE = { action: ['action', asString], table: ['table', asString], family: ['family', asString], qualifier: ['qualifier', asString], topics: ['topics', asStringList] }
const asRoutes = (v, k) => {
  if (!Array.isArray(v)) throw invalid(`${k} must be an array of route rules`)
  return v.map((r) => ({ action: 'route', ...mapOptions(r, ROUTE, 'route rule') }))
}

const STREAM_OPTIONS = {
  name: ['name', asString],
  partitioning: ['partitioning', asPartitioning],
  shape: ['shape', asString],
  format: ['format', asString],
  bytes: ['bytes', asString],
  compression: ['compression', asString],
  partitions: ['partitions', asCountString],
  maxLag: ['max_lag', asCountString],
}
const SINK_OPTIONS = { name: ['name', asString], defaultFamily: ['default_family', asString], rowKeyField: ['row_key_field', asString] }

/** Stream options as [name, value] pairs plus the route rules. */
function streamOptions(options = {}) {
  const { routes, ...rest } = options || {}
  return [Object.entries(mapOptions(rest, STREAM_OPTIONS, 'stream')), routes === undefined || routes === null ? undefined : asRoutes(routes, 'routes')]
}
function sinkOptions(options) {
  return Object.entries(mapOptions(options, SINK_OPTIONS, 'sink'))
}

/** Host options to Kafka config pairs: spec is { hostName: [kafkaName, convert] }. */
function configPairs(options, spec, what) {
  return Object.entries(mapOptions(pickKnown(options, spec), spec, what))
}
/** The options `spec` knows (kafkajs configs carry many keys kabase has no use for). */
function pickKnown(options, spec) {
  return Object.fromEntries(Object.entries(options || {}).filter(([k]) => k in spec))
}

/** A stream's JSON description from the facade, with offsets as strings (as kafkajs writes them). */
function describeOut(json) {
  const d = JSON.parse(json)
  return { ...d, offsets: d.offsets.map((o) => ({ partition: o.partition, offset: String(o.offset) })) }
}

/** A durable change stream (table to topic, or topic to table), by name. */
class ChangeStream {
  constructor(inner) {
    this._inner = inner
  }
  get name() {
    return this._inner.name
  }
  /** { name, kind, table, topics, state, error, position, lag, offsets } */
  async describe() {
    return describeOut(await call(this._inner.describe()))
  }
  async pause() {
    return call(this._inner.pause())
  }
  async resume() {
    return call(this._inner.resume())
  }
  /** Remove the stream (its topics and table stay). */
  async remove() {
    return call(this._inner.remove())
  }
  /** Wait until everything captured has moved; rejects with TIMEOUT after `timeout` ms. */
  async waitCaughtUp({ timeout = 10000 } = {}) {
    return describeOut(await call(() => this._inner.waitCaughtUp(asCount(timeout, 'timeout'))))
  }
  /** Snapshot, then stream: { seq, rows: [{ row, data }], offsets: [{ topic, partition, offset }] }. */
  async snapshot() {
    const s = await call(this._inner.snapshot())
    return {
      seq: s.seq,
      rows: s.rows.map((r) => ({ row: r.row, data: rowData(r) })),
      offsets: s.offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: String(o.offset) })),
    }
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

const PRODUCER_CONFIGS = {
  idempotent: ['enable.idempotence', (v) => String(Boolean(v))],
  transactionalId: ['transactional.id', asString],
  transactionTimeout: ['transaction.timeout.ms', asCountString],
}

function producerConfigs(config) {
  return configPairs(config, PRODUCER_CONFIGS, 'producer')
}

function headersOf(headers) {
  if (!headers) return undefined
  // A null (or undefined) header value is Kafka's null header value, not an empty one.
  return Object.entries(headers).map(([key, value]) => ({ key, value: value === null || value === undefined ? undefined : toBuffer(value, `header ${key}`) }))
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
    const inner = await call(() => engine._inner.producer(producerConfigs(this._config)))
    if (this._config.transactionalId) await call(inner.initTransactions())
    this._inner = inner
  }
  /** Start a transaction (needs `transactionalId`): { send, sendBatch, sendOffsets, commit, abort, isActive }. */
  async transaction() {
    const inner = this._need()
    if (!this._config.transactionalId) {
      throw new KabaseError('transaction() needs a producer made with a transactionalId', 'INVALID_TXN_STATE', codes.INVALID_TXN_STATE)
    }
    if (this._txn && this._txn.isActive()) {
      throw new KabaseError('a transaction is already open on this producer', 'INVALID_TXN_STATE', codes.INVALID_TXN_STATE)
    }
    await call(inner.beginTransaction())
    this._txn = new Transaction(this, inner)
    return this._txn
  }
  _need() {
    if (!this._inner) throw new KabaseError('the producer is not connected (call connect())', 'CLOSED', codes.CLOSED)
    return this._inner
  }
  /** send({ topic, messages: [{ key, value, partition, headers, timestamp }] }) -> RecordMetadata[] */
  async send(record = {}) {
    return this._send(this._need(), record)
  }
  async _send(inner, { topic, messages } = {}) {
    if (typeof topic !== 'string') throw invalid('send needs a topic')
    if (!Array.isArray(messages)) throw invalid('send needs an array of messages')
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
    if (this._txn && this._txn.isActive()) await this._txn.abort()
    if (!this._inner) return
    const inner = this._inner
    this._inner = null
    await call(inner.close())
  }
}

/** A transaction of a producer (kafkajs' `producer.transaction()`). */
class Transaction {
  constructor(producer, inner) {
    this._producer = producer
    this._inner = inner
    this._active = true
  }
  _need() {
    if (!this._active) throw new KabaseError('the transaction is over (committed or aborted)', 'INVALID_TXN_STATE', codes.INVALID_TXN_STATE)
    return this._inner
  }
  isActive() {
    return this._active
  }
  async send(record) {
    return this._producer._send(this._need(), record)
  }
  async sendBatch({ topicMessages = [] } = {}) {
    const out = []
    for (const tm of topicMessages) out.push(...(await this.send(tm)))
    return out
  }
  /** sendOffsets({ consumerGroupId, topics: [{ topic, partitions: [{ partition, offset }] }] }): committed with the transaction. */
  async sendOffsets({ consumerGroupId, topics = [] } = {}) {
    if (typeof consumerGroupId !== 'string') throw invalid('sendOffsets needs a consumerGroupId')
    const list = topics.flatMap((t) => (t.partitions || []).map((p) => ({ topic: String(t.topic), partition: p.partition, offset: Number(p.offset) })))
    return call(() => this._need().sendOffsets(list, consumerGroupId))
  }
  async commit() {
    const inner = this._need()
    await call(inner.commitTransaction())
    this._active = false
  }
  async abort() {
    const inner = this._need()
    this._active = false
    await call(inner.abortTransaction())
  }
}

const CONSUMER_CONFIGS = {
  maxBytesPerPartition: ['max.partition.fetch.bytes', asCountString],
  maxBytes: ['fetch.max.bytes', asCountString],
  // kafkajs reads committed data unless readUncommitted is true.
  readUncommitted: ['isolation.level', (v) => (v ? 'read_uncommitted' : 'read_committed')],
  sessionTimeout: ['session.timeout.ms', asCountString],
  heartbeatInterval: ['heartbeat.interval.ms', asCountString],
  rebalanceTimeout: ['max.poll.interval.ms', asCountString],
}

function consumerConfigs(config) {
  return configPairs({ ...config, readUncommitted: Boolean(config.readUncommitted) }, CONSUMER_CONFIGS, 'consumer')
}

function escapeRegExp(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/** One pattern for the core (whole-name match) from topic names and kafkajs RegExps (which match anywhere in the name). */
function subscriptionPattern(names, regexps) {
  const alts = names.map(escapeRegExp)
  for (const re of regexps) {
    const body = `.*(?:${re.source}).*`
    alts.push(re.flags.includes('i') ? `(?i:${body})` : body)
  }
  return alts.map((a) => `(?:${a})`).join('|')
}

class Consumer {
  constructor(kafka, config) {
    if (config.groupId !== undefined && typeof config.groupId !== 'string') throw invalid('groupId must be a string')
    this._kafka = kafka
    this._config = config
    this._inner = null
    this._running = null
    this._stopped = false
    this._topics = []
    this._patterns = []
    // topic -> null (the whole topic) or a Set of partitions; applied before every poll.
    this._paused = new Map()
    this._pausedNow = []
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
    this._inner = await call(() => engine._inner.consumer(this._config.groupId ?? null, consumerConfigs(this._config)))
  }
  _need() {
    if (!this._inner) throw new KabaseError('the consumer is not connected (call connect())', 'CLOSED', codes.CLOSED)
    return this._inner
  }
  /** subscribe({ topics: ['a', /b-.*\/], fromBeginning }) or subscribe({ topic: 'a' | /re/, fromBeginning }); adds to earlier subscriptions. */
  async subscribe({ topic, topics, fromBeginning = false } = {}) {
    const list = topics || (topic !== undefined ? [topic] : [])
    if (list.length === 0) throw invalid('subscribe needs a topic or topics')
    for (const t of list) if (typeof t !== 'string' && !(t instanceof RegExp)) throw invalid('topics must be strings or regular expressions')
    const inner = this._need()
    const names = [...new Set([...this._topics, ...list.filter((t) => typeof t === 'string')])]
    const patterns = [...this._patterns, ...list.filter((t) => t instanceof RegExp)]
    if (patterns.length > 0 && this._config.groupId === undefined) throw invalid('subscribing with a regular expression needs a groupId')
    if (patterns.length > 0) await call(inner.subscribePattern(subscriptionPattern(names, patterns), Boolean(fromBeginning)))
    else await call(inner.subscribe(names, Boolean(fromBeginning)))
    this._topics = names
    this._patterns = patterns
  }
  /** pause([{ topic, partitions? }]): stop fetching them (the whole topic without partitions) until resume. */
  pause(topicPartitions) {
    for (const { topic, partitions } of this._topicPartitions(topicPartitions, 'pause')) {
      if (!partitions) this._paused.set(topic, null)
      else if (this._paused.get(topic) !== null) this._paused.set(topic, new Set([...(this._paused.get(topic) || []), ...partitions]))
    }
  }
  /** resume([{ topic, partitions? }]) */
  resume(topicPartitions) {
    for (const { topic, partitions } of this._topicPartitions(topicPartitions, 'resume')) {
      const cur = this._paused.get(topic)
      if (cur === undefined) continue
      if (!partitions) this._paused.delete(topic)
      else if (cur === null) {
        // The topic was paused as a whole: keep its other partitions (as of the last poll) paused.
        const rest = this._pausedNow.filter((p) => p.topic === topic && !partitions.includes(p.partition)).map((p) => p.partition)
        if (rest.length === 0) this._paused.delete(topic)
        else this._paused.set(topic, new Set(rest))
      } else {
        for (const p of partitions) cur.delete(p)
        if (cur.size === 0) this._paused.delete(topic)
      }
    }
  }
  /** The paused partitions: [{ topic, partitions }] (a paused topic's partitions as of the last poll). */
  paused() {
    const out = []
    for (const [topic, parts] of this._paused) {
      const partitions = parts === null ? this._pausedNow.filter((p) => p.topic === topic).map((p) => p.partition) : [...parts]
      out.push({ topic, partitions: partitions.sort((a, b) => a - b) })
    }
    return out
  }
  _topicPartitions(list, what) {
    if (!Array.isArray(list)) throw invalid(`${what} needs an array of { topic, partitions? }`)
    return list.map((tp) => {
      if (!tp || typeof tp.topic !== 'string') throw invalid(`${what} needs a topic in every entry`)
      if (tp.partitions !== undefined && !Array.isArray(tp.partitions)) throw invalid(`${what}: partitions must be an array`)
      return { topic: tp.topic, partitions: tp.partitions }
    })
  }
  _isPaused(topic, partition) {
    const p = this._paused.get(topic)
    return p === null || (p !== undefined && p.has(partition))
  }
  async _applyPaused(inner) {
    const list = []
    for (const [topic, parts] of this._paused) {
      if (parts === null) list.push({ topic })
      else for (const partition of parts) list.push({ topic, partition })
    }
    if (list.length === 0 && this._pausedNow.length === 0) return
    await call(inner.setPaused(list))
    this._pausedNow = (await call(inner.paused())).map((p) => ({ topic: p.topic, partition: p.partition }))
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
  async _loop(inner, opts) {
    while (!this._stopped) {
      await this._applyPaused(inner)
      const records = await call(inner.poll(this._config.maxPollRecords || 500, 100))
      if (records.length === 0) continue
      const groups = new Map()
      for (const r of records) {
        const k = `${r.topic}\u0000${r.partition}`
        if (!groups.has(k)) groups.set(k, { key: k, topic: r.topic, partition: r.partition, messages: [] })
        groups.get(k).messages.push(toMessage(r))
      }
      // Per partition: the next offset whose processing is done (kafkajs' resolved offset).
      const resolved = new Map()
      for (const g of groups.values()) {
        // Anything not processed is fetched again from here (after a stop, a pause or an unresolved batch).
        let next = Number(g.messages[0].offset)
        if (!this._stopped && !this._isPaused(g.topic, g.partition)) {
          next = opts.eachBatch ? await this._batch(inner, g, resolved, opts) : await this._messages(g, resolved, opts)
        }
        if (next <= Number(g.messages[g.messages.length - 1].offset)) await call(inner.seek(g.topic, g.partition, next))
      }
      await this._commitResolved(inner, resolved, opts.autoCommit)
    }
  }
  async _messages(g, resolved, { eachMessage }) {
    const { topic, partition } = g
    for (const message of g.messages) {
      if (this._stopped || this._isPaused(topic, partition)) return Number(message.offset)
      await eachMessage({ topic, partition, message, heartbeat: () => this._heartbeat(), pause: () => this._pauseOne(topic, partition) })
      resolved.set(g.key, { topic, partition, offset: Number(message.offset) + 1 })
    }
    return Number(g.messages[g.messages.length - 1].offset) + 1
  }
  async _batch(inner, g, resolved, { eachBatch, autoCommit, eachBatchAutoResolve }) {
    const { topic, partition, messages } = g
    const first = Number(messages[0].offset)
    const batch = {
      topic,
      partition,
      messages,
      highWatermark: String(Number(messages[messages.length - 1].offset) + 1),
      isEmpty: () => messages.length === 0,
      firstOffset: () => messages[0].offset,
      lastOffset: () => messages[messages.length - 1].offset,
      offsetLag: () => '0',
      offsetLagLow: () => '0',
    }
    await eachBatch({
      batch,
      resolveOffset: (offset) => resolved.set(g.key, { topic, partition, offset: Number(offset) + 1 }),
      heartbeat: () => this._heartbeat(),
      commitOffsetsIfNecessary: async (offsets) => {
        if (offsets) return this.commitOffsets(offsetsOf(offsets))
        return this._commitResolved(inner, resolved, autoCommit)
      },
      uncommittedOffsets: () => uncommitted(resolved),
      isRunning: () => !this._stopped,
      isStale: () => this._stopped,
      pause: () => this._pauseOne(topic, partition),
    })
    if (eachBatchAutoResolve && !this._isPaused(topic, partition)) resolved.set(g.key, { topic, partition, offset: Number(batch.lastOffset()) + 1 })
    const r = resolved.get(g.key)
    return r ? r.offset : first
  }
  async _commitResolved(inner, resolved, autoCommit) {
    const list = pendingOf(resolved)
    if (!autoCommit || this._config.groupId === undefined || list.length === 0) return
    await call(inner.commit(list))
    for (const r of list) r.committed = true
  }
  _pauseOne(topic, partition) {
    this.pause([{ topic, partitions: [partition] }])
    return () => this.resume([{ topic, partitions: [partition] }])
  }
  async _heartbeat() {
    return call(this._need().heartbeat())
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

function offsetsOf(offsets) {
  return (offsets.topics || []).flatMap((t) => t.partitions.map((p) => ({ topic: t.topic, partition: p.partition, offset: p.offset })))
}

/** Resolved offsets not committed yet, as { topic, partition, offset } entries. */
function pendingOf(resolved) {
  return [...resolved.values()].filter((r) => !r.committed)
}

function uncommitted(resolved) {
  const topics = new Map()
  for (const r of pendingOf(resolved)) {
    if (!topics.has(r.topic)) topics.set(r.topic, [])
    topics.get(r.topic).push({ partition: r.partition, offset: String(r.offset) })
  }
  return { topics: [...topics].map(([topic, partitions]) => ({ topic, partitions })) }
}

function toMessage(r) {
  const headers = {}
  for (const h of r.headers) headers[h.key] = h.value ?? null
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

module.exports = { open, Engine, Table, ChangeStream, Kafka, Producer, Transaction, Consumer, Admin, KabaseError, codes, version }
