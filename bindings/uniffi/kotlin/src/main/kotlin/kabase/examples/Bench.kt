// A small bench of kabase's UniFFI Kotlin bindings, the same workloads as
// bindings/uniffi/examples/facade_bench.rs runs on the Rust facade (bindings/uniffi/bench.sh runs
// both and prints them side by side; docs/benchmarks.md).
//
// Single puts and gets show the cost of one crossing per call; the `many` workloads move 1000
// rows per crossing.
//
// Run: java -Djna.library.path=<dir of libkabase_uniffi.so> -cp ... kabase.examples.BenchKt [RECORDS] [OPS]
// Prints one line per workload: `<workload>\t<count>\t<seconds>`, after an unprinted warm-up
// round at a tenth of the counts (the JIT compiles the hot paths there).
package kabase.examples

import kabase.ColumnValue
import kabase.Engine
import kabase.OutgoingRecord
import kabase.RowMutation

private const val SEND_BATCH = 1000

private fun timed(report: Boolean, name: String, count: Int, body: () -> Unit) {
    val start = System.nanoTime()
    body()
    val secs = (System.nanoTime() - start) / 1e9
    if (report) println("$name\t$count\t${String.format(java.util.Locale.ROOT, "%.6f", secs)}")
}

fun main(args: Array<String>) {
    val records = args.getOrNull(0)?.toInt() ?: 100_000
    val ops = args.getOrNull(1)?.toInt() ?: 10_000
    round(maxOf(records / 10, 1), maxOf(ops / 10, 1), false)
    round(records, ops, true)
}

/** One round of every workload on a fresh in-memory engine. */
private fun round(records: Int, ops: Int, report: Boolean) {
    val value = ByteArray(100) { (it % 251).toByte() }
    Engine.openInMemory().use { engine ->
        engine.createTopic("bench", 1)
        engine.producer(emptyMap()).use { producer ->
            val batch = List(SEND_BATCH) { OutgoingRecord(value = value) }
            timed(report, "produce_100B_batch1000", records) {
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
            timed(report, "consume_100B_poll10000", records) {
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
            timed(report, "put_100B_single", ops) {
                for (k in keys) table.put(k, listOf(ColumnValue(family, qualifier, value)))
            }
            timed(report, "get_single", ops) {
                for (k in keys) checkNotNull(table.get(k)) { "row missing" }
            }
            val mutations = keys.map { RowMutation(it, listOf(ColumnValue(family, qualifier, value))) }
            timed(report, "put_100B_many1000", ops) {
                for (chunk in mutations.chunked(SEND_BATCH)) table.putMany(chunk)
            }
            timed(report, "get_many1000", ops) {
                for (chunk in keys.chunked(SEND_BATCH)) check(table.getMany(chunk).all { it != null }) { "row missing" }
            }
        }
        engine.shutdown()
    }
}
