// A small bench of kabase's UniFFI Kotlin bindings, the same workloads as
// bindings/uniffi/examples/facade_bench.rs runs on the Rust facade (bindings/uniffi/bench.sh runs
// both and prints them side by side; docs/benchmarks.md).
//
// Run: java -Djna.library.path=<dir of libkabase_uniffi.so> -cp ... kabase.examples.BenchKt [RECORDS] [OPS]
// Prints one line per workload: `<workload>\t<count>\t<seconds>`.
package kabase.examples

import kabase.ColumnValue
import kabase.Engine
import kabase.OutgoingRecord

private const val SEND_BATCH = 1000

private fun timed(name: String, count: Int, body: () -> Unit) {
    val start = System.nanoTime()
    body()
    val secs = (System.nanoTime() - start) / 1e9
    println("$name\t$count\t${"%.6f".format(secs)}")
}

fun main(args: Array<String>) {
    val records = args.getOrNull(0)?.toInt() ?: 100_000
    val ops = args.getOrNull(1)?.toInt() ?: 10_000
    val value = ByteArray(100) { (it % 251).toByte() }
    Engine.openInMemory().use { engine ->
        engine.createTopic("bench", 1)
        engine.producer(emptyMap()).use { producer ->
            val batch = List(SEND_BATCH) { OutgoingRecord(value = value) }
            timed("produce_100B_batch1000", records) {
                var sent = 0
                while (sent < records) {
                    val n = minOf(SEND_BATCH, records - sent)
                    producer.sendBatch("bench", if (n == SEND_BATCH) batch else batch.subList(0, n))
                    sent += n
                }
            }
            producer.shutdown()
        }
        engine.consumer(null, mapOf("max.poll.records" to "10000")).use { consumer ->
            consumer.subscribe(listOf("bench"), true)
            timed("consume_100B_poll10000", records) {
                var got = 0
                while (got < records) {
                    val batch = consumer.poll(10_000, 1_000)
                    check(batch.isNotEmpty()) { "no record within 1 s after $got" }
                    got += batch.size
                }
            }
            consumer.shutdown()
        }
        engine.createTable("bench", listOf("cf"))
        engine.table("bench").use { table ->
            val keys = List(ops) { "row%08d".format(it).toByteArray() }
            val family = "cf".toByteArray()
            val qualifier = "q".toByteArray()
            timed("put_100B_single", ops) {
                for (k in keys) table.put(k, listOf(ColumnValue(family, qualifier, value)))
            }
            timed("get_single", ops) {
                for (k in keys) checkNotNull(table.get(k)) { "row missing" }
            }
        }
        engine.shutdown()
    }
}
