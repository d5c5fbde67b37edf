// The seed flow (docs/scenario.md) through the Node package; prints the shared transcript
// (docs/scenario/seed.txt). Usage: node examples/seed.js [DATA_DIR]   (no DATA_DIR: in memory)
'use strict'
const { open, Kafka } = require('..')

async function seed(dataDir, print = console.log) {
  const engine = await open(dataDir ? { path: dataDir } : { inMemory: true })
  await engine.createTable('test', ['cf'])
  print('table test created (families: cf)')
  const table = await engine.table('test')
  for (const [row, name, age] of [['1', 'Alice', '30'], ['2', 'Bob', '28']]) {
    await table.put(row, { 'cf:name': name, 'cf:age': age })
    print(`put ${row}: cf:name=${name} cf:age=${age}`)
  }
  const render = (data) => Object.entries(data).map(([c, v]) => `${c}=${v.toString()}`).join(' ')
  const got = []
  for (const row of ['1', '2']) {
    const data = await table.get(row)
    print(`get ${row}: ${render(data)}`)
    got.push([row, render(data)])
  }

  const kafka = new Kafka({ brokers: ['localhost:9092'], clientId: 'seed', engine })
  const admin = kafka.admin()
  await admin.connect()
  await admin.createTopics({ topics: [{ topic: 'test_topic', numPartitions: 1 }] })
  print('topic test_topic created (partitions: 1)')
  const producer = kafka.producer()
  await producer.connect()
  for (const [row, value] of got) {
    const [meta] = await producer.send({ topic: 'test_topic', messages: [{ key: row, value }] })
    print(`sent ${row} -> ${meta.topicName}/${meta.partition}@${meta.baseOffset}`)
  }

  const consumer = kafka.consumer({ groupId: 'seed-group' })
  await consumer.connect()
  await consumer.subscribe({ topics: ['test_topic'], fromBeginning: true })
  let seen = 0
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no records within 10 s')), 10000)
    consumer.on(consumer.events.CRASH, (e) => reject(e.payload.error))
    consumer.run({
      eachMessage: async ({ topic, partition, message }) => {
        print(`consumed ${topic}/${partition}@${message.offset} key=${message.key} value=${message.value}`)
        if (++seen === 2) {
          clearTimeout(timer)
          resolve()
        }
      },
    })
  })
  await consumer.stop()
  const [committed] = await consumer.committed([{ topic: 'test_topic', partition: 0 }])
  print(`committed test_topic/0 -> ${committed.offset}`)

  for (const row of ['1', '2']) {
    await table.delete(row)
    print(`deleted ${row}`)
  }
  for (const row of ['1', '2']) {
    if ((await table.get(row)) === null) print(`get ${row}: (none)`)
  }
  print(`scan: ${(await table.scan()).length} rows`)
  await consumer.disconnect()
  await producer.disconnect()
  await admin.disconnect()
  await engine.close()
  print('closed')
}

module.exports = { seed }

if (require.main === module) {
  seed(process.argv[2]).catch((err) => {
    console.error(err)
    process.exitCode = 1
  })
}
