// The seed flow (docs/scenario.md) through kabase's UniFFI Kotlin bindings: create a table, put
// rows, get them, send them to a topic, consume the topic as a group, delete the rows. Prints the
// shared transcript (docs/scenario/seed.txt).
//
// Run: java -Djna.library.path=<dir of libkabase_uniffi.so> -cp ... kabase.examples.SeedKt [DATA_DIR]
// (no DATA_DIR: an in-memory engine).
package kabase.examples

import kabase.ColumnValue
import kabase.Engine
import kabase.KabaseException
import kabase.OutgoingRecord
import kabase.Row
import kabase.ScanOptions
import kabase.TopicPartition
import kotlin.system.exitProcess

private fun bytes(s: String) = s.toByteArray(Charsets.UTF_8)

private fun text(b: ByteArray?) = if (b == null) "" else String(b, Charsets.UTF_8)

/** The cells of a row as `family:qualifier=value ...`. */
private fun cells(row: Row) =
    row.cells.joinToString(" ") { "${text(it.family)}:${text(it.qualifier)}=${text(it.value)}" }

fun seed(engine: Engine, out: StringBuilder) {
    engine.createTable("test", listOf("cf"))
    out.append("table test created (families: cf)\n")
    val table = engine.table("test")
    for ((row, name, age) in listOf(Triple("1", "Alice", "30"), Triple("2", "Bob", "28"))) {
        table.put(bytes(row), listOf(ColumnValue(bytes("cf"), bytes("name"), bytes(name)), ColumnValue(bytes("cf"), bytes("age"), bytes(age))))
        out.append("put $row: cf:name=$name cf:age=$age\n")
    }
    val got = mutableListOf<Pair<String, String>>()
    for (row in listOf("1", "2")) {
        val r = table.get(bytes(row)) ?: error("row $row is missing")
        out.append("get $row: ${cells(r)}\n")
        got.add(row to cells(r))
    }
    engine.createTopic("test_topic", 1)
    out.append("topic test_topic created (partitions: 1)\n")
    val producer = engine.producer(emptyMap())
    for ((row, value) in got) {
        val m = producer.send("test_topic", OutgoingRecord(key = bytes(row), value = bytes(value)))
        out.append("sent $row -> ${m.topic}/${m.partition}@${m.offset}\n")
    }
    val consumer = engine.consumer("seed-group", emptyMap())
    consumer.subscribe(listOf("test_topic"), true)
    val records = mutableListOf<kabase.ConsumerRecord>()
    val deadline = System.nanoTime() + 10_000_000_000L
    while (records.size < 2 && System.nanoTime() < deadline) {
        records.addAll(consumer.poll(100, 200))
    }
    for (r in records) {
        out.append("consumed ${r.topic}/${r.partition}@${r.offset} key=${text(r.key)} value=${text(r.value)}\n")
    }
    consumer.commit()
    val committed = consumer.committed(listOf(TopicPartition("test_topic", 0)))
    out.append("committed test_topic/0 -> ${committed[0] ?: -1}\n")
    for (row in listOf("1", "2")) {
        table.delete(bytes(row))
        out.append("deleted $row\n")
    }
    for (row in listOf("1", "2")) {
        check(table.get(bytes(row)) == null) { "row $row survived its delete" }
        out.append("get $row: (none)\n")
    }
    out.append("scan: ${table.scan(ScanOptions()).size} rows\n")
    consumer.shutdown()
    producer.shutdown()
    engine.shutdown()
    out.append("closed\n")
    // Free the native handles now rather than when the cleaner gets to them.
    consumer.close()
    producer.close()
    table.close()
}

fun main(args: Array<String>) {
    val out = StringBuilder()
    try {
        val engine = if (args.isNotEmpty()) Engine.open(args[0]) else Engine.openInMemory()
        engine.use { seed(it, out) }
    } catch (e: KabaseException.Failed) {
        print(out)
        System.err.println("seed failed: ${e.codeName} (${e.code}): ${e.detail}")
        exitProcess(1)
    }
    print(out)
}
