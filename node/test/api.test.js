'use strict'
const test = require('node:test')
const assert = require('node:assert')
const fs = require('node:fs')
const path = require('node:path')
const kabase = require('..')
const { open, Kafka, KabaseError, codes } = kabase

test('version is the workspace version and package.json version', () => {
  const cargo = fs.readFileSync(path.join(__dirname, '..', '..', 'Cargo.toml'), 'utf8')
  const ws = /\[workspace\.package\][^[]*?version\s*=\s*"([^"]+)"/.exec(cargo)[1]
  assert.strictEqual(kabase.version, ws)
  assert.strictEqual(require('../package.json').version, ws)
})

test('error codes are the core codes', () => {
  assert.strictEqual(codes.TABLE_NOT_FOUND, 203)
  assert.strictEqual(codes.INVALID_ARGUMENT, 103)
  assert.strictEqual(codes.CLOSED, 104)
})

test('table API: put, get, scan, delete, errors carry a stable code', async () => {
  const db = await open({ inMemory: true })
  await db.createTable('users', ['cf', 'meta'])
  const t = await db.table('users')
  for (let i = 0; i < 12; i++) await t.put(`u${String(i).padStart(2, '0')}`, { 'cf:name': `n${i}`, 'meta:x': Buffer.from([i]) })
  const row = await t.get('u03')
  assert.strictEqual(row['cf:name'].toString(), 'n3')
  assert.deepStrictEqual([...row['meta:x']], [3])
  assert.deepStrictEqual(Object.keys(await t.get('u03', { columns: ['meta'] })), ['meta:x'])
  assert.strictEqual(await t.get('absent'), null)
  assert.strictEqual((await t.scan({ start: 'u05', stop: 'u08' })).length, 3)
  assert.strictEqual((await t.scan({ prefix: 'u1' })).length, 2)
  assert.strictEqual((await t.scan({ limit: 4 })).length, 4)
  const many = await t.getMany(['u07', 'absent', Buffer.from('u01')])
  assert.strictEqual(many.length, 3)
  assert.strictEqual(many[0]['cf:name'].toString(), 'n7')
  assert.strictEqual(many[1], null)
  assert.strictEqual(many[2]['cf:name'].toString(), 'n1')
  assert.deepStrictEqual(await t.getMany([]), [])
  const found = await t.rows(['u09', 'absent', 'u02'])
  assert.deepStrictEqual(found.map((r) => r.row.toString()), ['u09', 'u02'])
  assert.strictEqual(found[1].data['cf:name'].toString(), 'n2')
  await assert.rejects(t.getMany('u01'), { code: 'INVALID_ARGUMENT' })
  await assert.rejects(t.getMany(['u01', 7]), { code: 'INVALID_ARGUMENT' })
  await assert.rejects(t.rows(['u01', '']), { code: 'INVALID_ARGUMENT' })
  await t.delete('u03', { columns: ['cf:name'] })
  assert.deepStrictEqual(Object.keys(await t.get('u03')), ['meta:x'])
  await t.delete('u03')
  assert.strictEqual(await t.get('u03'), null)
  const cells = await t.getCells('u04')
  assert.ok(cells[0].timestamp > 0)

  await assert.rejects(db.table('nope'), (e) => e instanceof KabaseError && e.code === 'TABLE_NOT_FOUND' && e.errno === 203)
  await assert.rejects(db.createTable('users', ['cf']), { code: 'TABLE_EXISTS' })
  await assert.rejects(t.put('r', { 'zz:q': 'v' }), { code: 'NO_SUCH_COLUMN_FAMILY' })
  await assert.rejects(t.put('r', { nocolon: 'v' }), { code: 'INVALID_ARGUMENT' })
  await assert.rejects(t.put('r', {}), { code: 'INVALID_ARGUMENT' })
  await assert.rejects(t.put(42, { 'cf:a': 'v' }), { code: 'INVALID_ARGUMENT' })
  assert.ok((await db.listTables()).some((n) => n.endsWith('users')))
  await db.deleteTable('users')
  await db.close()
  await assert.rejects(t.get('u01'), { code: 'CLOSED' })
})

test('kafkajs surface: send, eachBatch, commitOffsets, seek, admin', async () => {
  const kafka = new Kafka({ brokers: ['localhost:9092'], inMemory: true })
  const admin = kafka.admin()
  await admin.connect()
  assert.strictEqual(await admin.createTopics({ topics: [{ topic: 'events', numPartitions: 2 }] }), true)
  assert.strictEqual(await admin.createTopics({ topics: [{ topic: 'events', numPartitions: 2 }] }), false)
  assert.deepStrictEqual(await admin.listTopics(), ['events'])

  const producer = kafka.producer()
  await assert.rejects(producer.send({ topic: 'events', messages: [] }), { code: 'CLOSED' })
  await producer.connect()
  const messages = Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, value: `v${i}`, partition: i % 2, headers: { h: 'x', nul: null, empty: '' } }))
  const meta = await producer.send({ topic: 'events', messages })
  assert.deepStrictEqual(meta.map((m) => [m.partition, m.baseOffset]).sort(), [[0, '0'], [1, '0']])
  await assert.rejects(producer.send({ topic: 'events', messages: [{ value: 'v', partition: 9 }] }), { code: 'UNKNOWN_PARTITION' })

  const consumer = kafka.consumer({ groupId: 'g' })
  await consumer.connect()
  await consumer.subscribe({ topics: ['events'], fromBeginning: true })
  const seen = []
  await new Promise((resolve) => {
    consumer.run({
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) seen.push([batch.topic, batch.partition, m.offset, m.value.toString(), m.headers.h.toString(), m.headers.nul, m.headers.empty.length])
        if (seen.length === 10) resolve()
      },
    })
  })
  await consumer.stop()
  assert.strictEqual(seen.length, 10)
  // A null header value arrives as null, an empty one as an empty Buffer.
  assert.ok(seen.every((s) => s[4] === 'x' && s[5] === null && s[6] === 0), JSON.stringify(seen[0]))
  assert.deepStrictEqual(seen.filter((s) => s[1] === 1).map((s) => s[2]), ['0', '1', '2', '3', '4'])
  const committed = await consumer.committed([{ topic: 'events', partition: 0 }, { topic: 'events', partition: 1 }])
  assert.deepStrictEqual(committed.map((c) => c.offset), ['5', '5'])
  await consumer.commitOffsets([{ topic: 'events', partition: 0, offset: '2' }])
  assert.strictEqual((await consumer.committed([{ topic: 'events', partition: 0 }]))[0].offset, '2')

  // seek, then read again with eachMessage (autoCommit off).
  await consumer.seek({ topic: 'events', partition: 1, offset: '3' })
  const again = []
  await new Promise((resolve) => {
    consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        again.push([partition, message.offset])
        if (again.length === 2) resolve()
      },
    })
  })
  await consumer.disconnect()
  assert.deepStrictEqual(again, [[1, '3'], [1, '4']])
  await assert.rejects(consumer.seek({ topic: 'events', partition: 0, offset: '0' }), { code: 'CLOSED' })
  await producer.disconnect()
  await admin.deleteTopics({ topics: ['events'] })
  assert.deepStrictEqual(await admin.listTopics(), [])
})

test('bad input', async () => {
  assert.throws(() => new Kafka({ brokers: ['kafka.example.com:9092'] }), { code: 'UNSUPPORTED' })
  const kafka = new Kafka({ brokers: 'localhost', inMemory: true })
  const c = kafka.consumer({})
  await c.connect()
  await assert.rejects(c.subscribe({ topics: ['missing'] }), { code: 'TOPIC_NOT_FOUND' })
  await assert.rejects(c.subscribe({ topics: [/re/] }), { code: 'INVALID_ARGUMENT' })
  await assert.rejects(c.run({}), { code: 'INVALID_ARGUMENT' })
  await assert.rejects(c.commitOffsets([{ topic: 't', partition: 0, offset: '1' }]), { code: 'INVALID_ARGUMENT' })
  await c.disconnect()
  await assert.rejects(open({ path: 42 }), { code: 'INVALID_ARGUMENT' })
})

test('work runs off the JS thread: the event loop keeps turning during a poll', async () => {
  const kafka = new Kafka({ inMemory: true })
  const admin = kafka.admin()
  await admin.connect()
  await admin.createTopics({ topics: [{ topic: 'quiet' }] })
  const c = kafka.consumer({})
  await c.connect()
  await c.subscribe({ topics: ['quiet'] })
  let ticks = 0
  const timer = setInterval(() => ticks++, 10)
  await c._inner.poll(10, 300) // blocks 300 ms on the thread pool, not here
  clearInterval(timer)
  assert.ok(ticks >= 10, `event loop ticked ${ticks} times during a 300 ms poll`)
  await c.disconnect()
})
