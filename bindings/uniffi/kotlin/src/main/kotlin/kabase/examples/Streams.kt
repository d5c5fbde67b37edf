// Change streams through kabase's UniFFI Kotlin bindings: a table streamed into a topic (put a
// row, consume its change record), pause/resume, snapshot, a topic sunk into a table, remove.
// Prints the same transcript as bindings/uniffi/python/streams.py; bindings/uniffi/tests/kotlin.rs
// compares it line by line.
//
// Run: java -Djna.library.path=<dir of libkabase_uniffi.so> -cp ... kabase.examples.StreamsKt
package kabase.examples

import kabase.ColumnValue
import kabase.Consumer
import kabase.ConsumerRecord
import kabase.Engine
import kabase.KabaseException
import kabase.OutgoingRecord
import kabase.SinkOptions
import kabase.StreamOptions

/** Poll until `want` records arrived or 10 s passed. */
private fun poll(consumer: Consumer, want: Int): List<ConsumerRecord> {
    val records = mutableListOf<ConsumerRecord>()
    val deadline = System.nanoTime() + 10_000_000_000L
    while (records.size < want && System.nanoTime() < deadline) {
        records.addAll(consumer.poll(100, 200))
    }
    return records
}

/** One string field of a flat JSON object (the change record's fields hold no escapes here). */
private fun field(json: String, name: String): String =
    Regex("\"$name\"\\s*:\\s*(\"([^\"]*)\"|(-?[0-9]+))").find(json)?.let { m ->
        m.groupValues[2].ifEmpty { m.groupValues[3] }
    } ?: error("no field $name in $json")

private fun change(r: ConsumerRecord): String {
    val json = String(r.value!!)
    val start = json.indexOf("\"cells\"")
    val end = json.indexOf(']', start)
    check(start >= 0 && end > start) { "no cells in $json" }
    val cells = Regex("\\{[^{}]*\\}").findAll(json.substring(start, end + 1)).joinToString(" ") {
        "${field(it.value, "family")}:${field(it.value, "qualifier")}=${field(it.value, "value")}"
    }
    val head = json.removeRange(start, end + 1)
    return "change ${r.topic}/${r.partition}@${r.offset} key=${String(r.key!!)} table=${field(head, "table")} " +
        "seq=${field(head, "seq")} op=${field(head, "op")} $cells"
}

private fun cv(family: String, qualifier: String, value: String) =
    ColumnValue(family.toByteArray(), qualifier.toByteArray(), value.toByteArray())

fun main() {
    val out = mutableListOf<String>()
    val engine = Engine.openInMemory()
    engine.createTable("orders", listOf("cf"))
    val table = engine.table("orders")
    val stream = engine.streamTableToTopic("orders", "orders-cdc", StreamOptions(partitions = 1))
    out.add("stream ${stream.name()} created")
    table.put("o1".toByteArray(), listOf(cv("cf", "amount", "12.50")))
    var d = stream.waitCaughtUp(10_000)
    out.add("describe: kind=${d.kind} state=${d.state} table=${d.table} topics=${d.topics.joinToString(",")} lag=${d.lag}")
    val consumer = engine.consumer(null, mapOf("isolation.level" to "read_committed"))
    consumer.subscribe(listOf("orders-cdc"), true)
    poll(consumer, 1).forEach { out.add(change(it)) }

    stream.pause()
    out.add("paused: state=${stream.describe().state}")
    table.put("o2".toByteArray(), listOf(cv("cf", "amount", "3")))
    out.add("while paused: lag=${stream.describe().lag}")
    stream.resume()
    stream.waitCaughtUp(10_000)
    poll(consumer, 1).forEach { out.add(change(it)) }
    val snap = stream.snapshot()
    val rows = snap.rows.joinToString(",") { String(it.row) }
    val offsets = snap.offsets.joinToString(",") { "${it.topic}/${it.partition}@${it.offset}" }
    out.add("snapshot: rows=$rows offsets=$offsets")

    engine.createTable("users", listOf("cf"))
    val sink = engine.sinkTopicToTable("users-in", "users", SinkOptions(defaultFamily = "cf"))
    val producer = engine.producer(mapOf())
    producer.send("users-in", OutgoingRecord(key = "u1".toByteArray(), value = "{\"name\": \"Ann\"}".toByteArray()))
    d = sink.waitCaughtUp(10_000)
    out.add("sink ${d.name}: kind=${d.kind} offsets=${d.offsets.joinToString(",") { "${it.topic}/${it.partition}@${it.offset}" }}")
    val row = engine.table("users").get("u1".toByteArray())!!
    out.add("sunk u1: " + row.cells.joinToString(" ") { "${String(it.family)}:${String(it.qualifier)}=${String(it.value)}" })
    out.add("streams: " + engine.listStreams().map { it.name }.sorted().joinToString(","))

    stream.remove()
    try {
        stream.describe()
        out.add("after remove: no error")
    } catch (e: KabaseException.Failed) {
        out.add("after remove: ${e.codeName}")
    }
    try {
        engine.streamTableToTopic("orders", null, StreamOptions(shape = "square"))
        out.add("bad shape: no error")
    } catch (e: KabaseException.Failed) {
        out.add("bad shape: ${e.codeName}")
    }
    consumer.shutdown()
    producer.shutdown()
    engine.shutdown()
    out.add("closed")
    print(out.joinToString("") { it + "\n" })
}
