'use strict'
// The kafkajs features beyond the basics: pause/resume, RegExp subscriptions, transactions with
// read_committed by default, eachBatch's resolveOffset/heartbeat/isRunning/commitOffsetsIfNecessary.
const test = require('node:test')
const assert = require('node:assert')
const { Kafka, KabaseError } = require('..')

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

async function until(cond, what, ms = 10000) {
  const deadline = Date.now() + ms
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(10)
  }
}

async function setup(topics) {
  const kafka = new Kafka({ brokers: ['localhost:9092'], inMemory: true })
  const admin = kafka.admin()
  await admin.connect()
  await admin.createTopics({ topics })
  const producer = kafka.producer()
  await producer.connect()
  return { kafka, producer, engine: await kafka._getEngine() }
}

test('pause and resume: a paused partition is not delivered until resumed; paused() lists it', async () => {
  const { kafka, producer, engine } = await setup([{ topic: 'p', numPartitions: 2 }])
  await producer.send({ topic: 'p', messages: [0, 1, 0, 1].map((partition, i) => ({ partition, value: `v${i}` })) })
  const consumer = kafka.consumer({ groupId: 'pg' })
  await consumer.connect()
  await consumer.subscribe({ topics: ['p'], fromBeginning: true })
  consumer.pause([{ topic: 'p', partitions: [1] }])
  assert.deepStrictEqual(consumer.paused(), [{ topic: 'p', partitions: [1] }])
  const seen = []
  await consumer.run({ eachMessage: async ({ partition, message }) => seen.push([partition, message.value.toString()]) })
  await until(() => seen.length === 2, 'partition 0')
  await sleep(300)
  assert.deepStrictEqual(seen.map((s) => s[0]), [0, 0], 'the paused partition was delivered')
  consumer.resume([{ topic: 'p', partitions: [1] }])
  assert.deepStrictEqual(consumer.paused(), [])
  await until(() => seen.length === 4, 'partition 1 after resume')
  assert.deepStrictEqual(seen.filter((s) => s[0] === 1).map((s) => s[1]), ['v1', 'v3'])

  // Pausing the whole topic from inside eachMessage: the rest of the batch is fetched again on resume.
  let resumeFn = null
  const later = []
  await consumer.stop()
  await producer.send({ topic: 'p', messages: [{ partition: 0, value: 'a' }, { partition: 0, value: 'b' }] })
  await consumer.run({
    eachMessage: async ({ message, pause }) => {
      later.push(message.value.toString())
      if (message.value.toString() === 'a' && !resumeFn) resumeFn = pause()
    },
  })
  await until(() => resumeFn !== null, 'the pause inside eachMessage')
  await sleep(300)
  assert.deepStrictEqual(later, ['a'])
  assert.deepStrictEqual(consumer.paused(), [{ topic: 'p', partitions: [0] }])
  resumeFn()
  await until(() => later.length === 2, 'b after resume')
  assert.deepStrictEqual(later, ['a', 'b'])

  // A topic paused as a whole, then one partition resumed: the other stays paused.
  await consumer.stop()
  consumer.pause([{ topic: 'p' }])
  const whole = []
  await consumer.run({ eachMessage: async ({ partition }) => whole.push(partition) })
  await until(() => consumer.paused().length === 1 && consumer.paused()[0].partitions.length === 2, 'both partitions paused')
  consumer.resume([{ topic: 'p', partitions: [0] }])
  assert.deepStrictEqual(consumer.paused(), [{ topic: 'p', partitions: [1] }])
  await producer.send({ topic: 'p', messages: [{ partition: 0, value: 'c' }, { partition: 1, value: 'd' }] })
  await until(() => whole.length === 1, 'partition 0 after resuming it')
  await sleep(300)
  assert.deepStrictEqual(whole, [0])
  consumer.resume([{ topic: 'p' }])
  await until(() => whole.length === 2, 'partition 1 after resuming the topic')
  assert.throws(() => consumer.pause('p'), { code: 'INVALID_ARGUMENT' })
  await consumer.disconnect()
  await producer.disconnect()
  await engine.close()
})

test('subscribe with a RegExp matches anywhere in the name and follows new topics', async () => {
  const { kafka, producer, engine } = await setup([
    { topic: 'orders-eu', numPartitions: 1 },
    { topic: 'users', numPartitions: 1 },
  ])
  await producer.send({ topic: 'orders-eu', messages: [{ value: 'eu' }] })
  await producer.send({ topic: 'users', messages: [{ value: 'u' }] })
  const consumer = kafka.consumer({ groupId: 'rg' })
  await consumer.connect()
  await consumer.subscribe({ topics: [/ders-/], fromBeginning: true })
  const seen = []
  await consumer.run({ eachMessage: async ({ topic, message }) => seen.push(`${topic}:${message.value}`) })
  await until(() => seen.length === 1, 'orders-eu')
  await engine.createTopic('orders-us', 1)
  await producer.send({ topic: 'orders-us', messages: [{ value: 'us' }] })
  await until(() => seen.length === 2, 'orders-us, created after subscribe')
  assert.deepStrictEqual(seen, ['orders-eu:eu', 'orders-us:us'])
  await consumer.disconnect()

  const noGroup = kafka.consumer({})
  await noGroup.connect()
  await assert.rejects(noGroup.subscribe({ topic: /x/ }), { code: 'INVALID_ARGUMENT' })
  const bad = kafka.consumer({ groupId: 'bad' })
  await bad.connect()
  await assert.rejects(bad.subscribe({ topic: /(?<=a)b/ }), { code: 'INVALID_ARGUMENT' })
  await assert.rejects(bad.subscribe({ topics: [42] }), { code: 'INVALID_ARGUMENT' })
  await producer.disconnect()
  await engine.close()
})

test('transactions: commit is visible, abort is not (read_committed by default), offsets commit with the transaction', async () => {
  const { kafka, producer, engine } = await setup([
    { topic: 'in', numPartitions: 1 },
    { topic: 'out', numPartitions: 1 },
  ])
  const txp = kafka.producer({ transactionalId: 'tx-node', idempotent: true })
  await txp.connect()
  const aborted = await txp.transaction()
  await aborted.send({ topic: 'out', messages: [{ value: 'never' }] })
  await aborted.abort()
  assert.strictEqual(aborted.isActive(), false)
  await assert.rejects(aborted.commit(), { code: 'INVALID_TXN_STATE' })

  const tx = await txp.transaction()
  await assert.rejects(txp.transaction(), { code: 'INVALID_TXN_STATE' })
  await tx.send({ topic: 'out', messages: [{ value: 'kept' }] })
  await tx.sendOffsets({ consumerGroupId: 'txg', topics: [{ topic: 'in', partitions: [{ partition: 0, offset: '3' }] }] })
  await tx.commit()

  const consumer = kafka.consumer({ groupId: 'txg' })
  await consumer.connect()
  assert.deepStrictEqual(await consumer.committed([{ topic: 'in', partition: 0 }]), [{ topic: 'in', partition: 0, offset: '3' }])
  await consumer.subscribe({ topic: 'out', fromBeginning: true })
  const seen = []
  await consumer.run({ eachMessage: async ({ message }) => seen.push(message.value.toString()) })
  await until(() => seen.length >= 1, 'the committed record')
  await sleep(300)
  assert.deepStrictEqual(seen, ['kept'])
  await consumer.disconnect()

  // readUncommitted: true sees the aborted record too.
  const dirty = kafka.consumer({ groupId: 'dirty', readUncommitted: true })
  await dirty.connect()
  await dirty.subscribe({ topic: 'out', fromBeginning: true })
  const all = []
  await dirty.run({ eachMessage: async ({ message }) => all.push(message.value.toString()) })
  await until(() => all.length === 2, 'both records read uncommitted')
  assert.deepStrictEqual(all, ['never', 'kept'])
  await dirty.disconnect()

  await assert.rejects(producer.transaction(), (e) => e instanceof KabaseError && e.code === 'INVALID_TXN_STATE')
  await txp.disconnect()
  await producer.disconnect()
  await engine.close()
})

test('eachBatch: resolveOffset, commitOffsetsIfNecessary, heartbeat, isRunning, unresolved messages come again', async () => {
  const { kafka, producer, engine } = await setup([{ topic: 'b', numPartitions: 1 }])
  await producer.send({ topic: 'b', messages: Array.from({ length: 6 }, (_, i) => ({ value: `m${i}` })) })
  const consumer = kafka.consumer({ groupId: 'bg' })
  await consumer.connect()
  await consumer.subscribe({ topic: 'b', fromBeginning: true })
  const calls = []
  let committedMid = null
  await consumer.run({
    eachBatchAutoResolve: false,
    eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, commitOffsetsIfNecessary, uncommittedOffsets }) => {
      calls.push(batch.messages.map((m) => m.offset))
      assert.strictEqual(isRunning(), true)
      await heartbeat()
      if (calls.length === 1) {
        // Resolve only the first three: the other three are delivered again.
        for (const m of batch.messages.slice(0, 3)) resolveOffset(m.offset)
        assert.deepStrictEqual(uncommittedOffsets(), { topics: [{ topic: 'b', partitions: [{ partition: 0, offset: '3' }] }] })
        await commitOffsetsIfNecessary()
        committedMid = await consumer.committed([{ topic: 'b', partition: 0 }])
        assert.deepStrictEqual(uncommittedOffsets(), { topics: [] })
      } else {
        for (const m of batch.messages) resolveOffset(m.offset)
      }
    },
  })
  await until(() => calls.length >= 2, 'the second batch')
  await consumer.stop()
  assert.deepStrictEqual(calls[0], ['0', '1', '2', '3', '4', '5'])
  assert.deepStrictEqual(calls[1], ['3', '4', '5'])
  assert.deepStrictEqual(committedMid, [{ topic: 'b', partition: 0, offset: '3' }])
  assert.deepStrictEqual(await consumer.committed([{ topic: 'b', partition: 0 }]), [{ topic: 'b', partition: 0, offset: '6' }])

  // isRunning turns false once stop() is called, while the batch still runs.
  await producer.send({ topic: 'b', messages: [{ value: 'x' }] })
  let running = null
  let stopping = null
  await consumer.run({
    eachBatch: async ({ isRunning }) => {
      if (!stopping) stopping = consumer.stop()
      await sleep(10)
      running = isRunning()
    },
  })
  await until(() => running !== null, 'the batch during stop')
  await stopping
  assert.strictEqual(running, false)
  await consumer.disconnect()
  await producer.disconnect()
  await engine.close()
})

test('heartbeat rejects with REBALANCE_IN_PROGRESS when another member joins', async () => {
  const { kafka, producer, engine } = await setup([{ topic: 'h', numPartitions: 2 }])
  await producer.send({ topic: 'h', messages: [{ partition: 0, value: 'a' }] })
  const c1 = kafka.consumer({ groupId: 'hg', heartbeatInterval: 20 })
  await c1.connect()
  await c1.subscribe({ topic: 'h', fromBeginning: true })
  let outcome = null
  let joined = false
  await c1.run({
    eachBatch: async ({ heartbeat }) => {
      await heartbeat()
      // A second member joins while this batch runs.
      const c2 = kafka.consumer({ groupId: 'hg', heartbeatInterval: 20 })
      await c2.connect()
      await c2.subscribe({ topic: 'h', fromBeginning: true })
      await c2._inner.poll(1, 50)
      joined = true
      outcome = await heartbeat().then(() => 'ok', (e) => e.code)
      await c2.disconnect()
    },
  })
  await until(() => outcome !== null, 'the second heartbeat')
  assert.ok(joined)
  assert.strictEqual(outcome, 'REBALANCE_IN_PROGRESS')
  await c1.disconnect()
  await producer.disconnect()
  await engine.close()
})
