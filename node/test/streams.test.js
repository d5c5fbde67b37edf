'use strict'
// Change streams through the Node package: table.streamTo, table.sinkFrom, the ChangeStream
// handle (describe, pause, resume, remove, waitCaughtUp, snapshot), option checks.
const test = require('node:test')
const assert = require('node:assert')
const { open, Kafka, ChangeStream } = require('..')

test('table.streamTo: changes reach the topic exactly once; snapshot hands over; pause, resume, remove', async () => {
  const db = await open({ inMemory: true })
  await db.createTable('orders', ['cf'])
  const orders = await db.table('orders')
  await orders.put('o0', { 'cf:amount': '1' })
  const stream = await orders.streamTo('orders-cdc', { partitions: 1, shape: 'row', format: 'json' })
  assert.ok(stream instanceof ChangeStream)
  assert.strictEqual(stream.name, 'orders-to-orders-cdc')
  await orders.put('o1', { 'cf:amount': '12.50' })
  let d = await stream.waitCaughtUp({ timeout: 10000 })
  assert.deepStrictEqual([d.kind, d.state, d.lag, d.topics], ['table_to_topic', 'running', 0, ['orders-cdc']])

  const snap = await stream.snapshot()
  assert.deepStrictEqual(snap.rows.map((r) => r.row.toString()), ['o0', 'o1'])
  assert.deepStrictEqual(snap.offsets, [{ topic: 'orders-cdc', partition: 0, offset: '1' }])

  const kafka = new Kafka({ engine: db })
  const consumer = kafka.consumer({ groupId: 'cdc' })
  await consumer.connect()
  await consumer.subscribe({ topic: 'orders-cdc', fromBeginning: true })
  const changes = []
  await consumer.run({ eachMessage: async ({ message }) => changes.push(JSON.parse(message.value.toString())) })

  await stream.pause()
  assert.strictEqual((await stream.describe()).state, 'paused')
  await orders.put('o2', { 'cf:amount': '3' })
  assert.strictEqual((await stream.describe()).lag, 1)
  await assert.rejects(stream.snapshot(), { code: 'INVALID_ARGUMENT' })
  await stream.resume()
  await stream.waitCaughtUp()
  const deadline = Date.now() + 10000
  while (changes.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
  await consumer.disconnect()
  assert.deepStrictEqual(changes.map((c) => c.row), ['o1', 'o2'])
  assert.deepStrictEqual(changes[0].cells.map((c) => [c.family, c.qualifier, c.value]), [['cf', 'amount', '12.50']])

  assert.deepStrictEqual((await db.listStreams()).map((s) => s.name), ['orders-to-orders-cdc'])
  assert.strictEqual((await db.changeStream('orders-to-orders-cdc')).name, stream.name)
  await stream.remove()
  await assert.rejects(stream.describe(), { code: 'STREAM_NOT_FOUND' })
  await assert.rejects(db.changeStream('orders-to-orders-cdc'), { code: 'STREAM_NOT_FOUND' })
  await db.close()
})

test('table.sinkFrom: a topic becomes rows; describe shows offsets', async () => {
  const db = await open({ inMemory: true })
  await db.createTable('users', ['cf'])
  const users = await db.table('users')
  const sink = await users.sinkFrom('users-in', { defaultFamily: 'cf', name: 'users-sink' })
  const kafka = new Kafka({ engine: db })
  const producer = kafka.producer()
  await producer.connect()
  await producer.send({
    topic: 'users-in',
    messages: [
      { key: 'u1', value: JSON.stringify({ name: 'Ann', 'cf:age': '30' }) },
      { key: 'u2', value: JSON.stringify({ name: 'Bob' }) },
      { key: 'u2', value: null },
    ],
  })
  const d = await sink.waitCaughtUp({ timeout: 10000 })
  assert.strictEqual(d.kind, 'topic_to_table')
  assert.strictEqual(d.name, 'users-sink')
  assert.ok(d.offsets.some((o) => o.offset === '3'), JSON.stringify(d.offsets))
  const u1 = await users.get('u1')
  assert.deepStrictEqual([u1['cf:name'].toString(), u1['cf:age'].toString()], ['Ann', '30'])
  assert.strictEqual(await users.get('u2'), null)
  await producer.disconnect()
  await db.close()
})

test('stream options are checked', async () => {
  const db = await open({ inMemory: true })
  await db.createTable('t', ['cf', 'meta'])
  const t = await db.table('t')
  await assert.rejects(t.streamTo(null, { shape: 'square' }), { code: 'INVALID_CONFIG' })
  await assert.rejects(t.streamTo(null, { partitioning: 'rows' }), { code: 'INVALID_CONFIG' })
  await assert.rejects(t.streamTo(null, { shapes: 'row' }), { code: 'INVALID_ARGUMENT' })
  await assert.rejects(t.streamTo(null, { partitions: -1 }), { code: 'INVALID_ARGUMENT' })
  await assert.rejects(t.streamTo(null, { name: 'bad name' }), { code: 'INVALID_NAME' })
  await assert.rejects(t.streamTo(null, { routes: [{ action: 'bounce', table: 't' }] }), { code: 'INVALID_CONFIG' })
  await assert.rejects(db.streamTableToTopic('absent', null), { code: 'TABLE_NOT_FOUND' })
  await assert.rejects(t.sinkFrom('x', { defaultFamily: 'nope' }), { code: 'NO_SUCH_COLUMN_FAMILY' })
  // Family partitioning, a route rule (to the stream's topic) and a drop rule: the default
  // topic gets one partition per family, the secret column goes nowhere.
  const routes = [{ table: 't' }, { action: 'drop', table: 't', qualifier: 'secret*' }]
  const s = await t.streamTo(undefined, { partitioning: 'family', routes })
  const d = await s.describe()
  assert.deepStrictEqual([d.name, d.topics], ['t-to-default.t', ['default.t']])
  await t.put('r', { 'cf:a': '1', 'meta:b': '2', 'cf:secret_pin': '0000' })
  await s.waitCaughtUp()
  const kafka = new Kafka({ engine: db })
  const c = kafka.consumer({ groupId: 'fam' })
  await c.connect()
  await c.subscribe({ topic: 'default.t', fromBeginning: true })
  const got = []
  await c.run({ eachMessage: async ({ partition, message }) => got.push([partition, JSON.parse(message.value.toString())]) })
  const deadline = Date.now() + 10000
  while (got.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
  await c.disconnect()
  got.sort((a, b) => a[0] - b[0])
  assert.deepStrictEqual(got.map(([p, ch]) => [p, ch.cells.map((x) => `${x.family}:${x.qualifier}`)]), [[0, ['cf:a']], [1, ['meta:b']]])
  await db.close()
})
