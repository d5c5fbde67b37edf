'use strict'
// The Node side of scripts/bench-bindings.sh: the workload of bindings/sdk/examples/bench_bindings.rs
// through the kafkajs-shaped API and the table API. Usage: node bench/bench.js <records> <rows>;
// prints "<metric> <count> <seconds>" lines.
const { open, Kafka } = require('..')

const BATCH = 1000
const records = Number(process.argv[2] || 1000000)
const rows = Number(process.argv[3] || 100000)
const secs = (t) => (Number(process.hrtime.bigint() - t) / 1e9).toFixed(6)

async function main() {
  const db = await open({ inMemory: true })
  await db.createTopic('bench', 1)
  const kafka = new Kafka({ engine: db })
  const producer = kafka.producer()
  await producer.connect()
  const value = Buffer.alloc(100, 'x')

  let t = process.hrtime.bigint()
  for (let sent = 0; sent < records; ) {
    const n = Math.min(BATCH, records - sent)
    await producer.send({ topic: 'bench', messages: Array.from({ length: n }, () => ({ value })) })
    sent += n
  }
  console.log(`produce ${records} ${secs(t)}`)

  const consumer = kafka.consumer({ readUncommitted: true, maxPollRecords: BATCH })
  await consumer.connect()
  await consumer.subscribe({ topic: 'bench', fromBeginning: true })
  t = process.hrtime.bigint()
  let got = 0
  let bytes = 0
  await new Promise((resolve, reject) => {
    consumer.on(consumer.events.CRASH, (e) => reject(e.payload.error))
    consumer.run({
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) bytes += m.value.length
        got += batch.messages.length
        if (got >= records) resolve()
      },
    })
  })
  console.log(`consume ${records} ${secs(t)}`)
  await consumer.disconnect()
  if (bytes !== records * 100) throw new Error(`consumed ${bytes} bytes`)

  await db.createTable('bench', ['cf'])
  const table = await db.table('bench')
  const key = (i) => `r${String(i).padStart(8, '0')}`
  t = process.hrtime.bigint()
  for (let i = 0; i < rows; i++) await table.put(key(i), { 'cf:v': value })
  console.log(`put ${rows} ${secs(t)}`)
  t = process.hrtime.bigint()
  for (let i = 0; i < rows; i++) {
    const r = await table.get(key(i))
    if (!r) throw new Error(`row ${i} missing`)
  }
  console.log(`get ${rows} ${secs(t)}`)
  await producer.disconnect()
  await db.close()
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
