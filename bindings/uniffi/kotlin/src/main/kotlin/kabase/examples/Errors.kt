// Errors through kabase's UniFFI Kotlin bindings: every failure is a KabaseException.Failed with
// the core's stable code number and name. Prints one line per case, `<case>: <CODE_NAME> <code>`;
// bindings/uniffi/tests/kotlin.rs compares them with the codes the core defines.
//
// Run: java -Djna.library.path=<dir of libkabase_uniffi.so> -cp ... kabase.examples.ErrorsKt
package kabase.examples

import kabase.Engine
import kabase.KabaseException
import kabase.OutgoingRecord
import kabase.errorCodes
import kabase.parseColumnValue
import kabase.version

/** Run `call`; the line for the error it throws (or `no error`). */
private fun code(case: String, call: () -> Unit): String =
    try {
        call()
        "$case: no error"
    } catch (e: KabaseException.Failed) {
        // The exception's message carries the same code, for logs.
        check(e.message!!.contains(e.codeName)) { "message without the code: ${e.message}" }
        "$case: ${e.codeName} ${e.code}"
    }

fun main() {
    val lines = mutableListOf<String>()
    lines.add("version: ${version()}")
    val codes = errorCodes()
    lines.add("error codes: ${codes.size}, first ${codes.first().codeName} ${codes.first().code}")
    Engine.openInMemory().use { engine ->
        lines.add(code("create table \"bad name!\"") { engine.createTable("bad name!", listOf("cf")) })
        lines.add(code("table \"missing\"") { engine.table("missing") })
        engine.createTable("t", listOf("cf"))
        lines.add(code("create table \"t\" again") { engine.createTable("t", listOf("cf")) })
        lines.add(code("column \"nocolon\"") { parseColumnValue("nocolon", ByteArray(0)) })
        lines.add(code("put to family \"nope\"") {
            engine.table("t").use { it.put("r".toByteArray(), listOf(parseColumnValue("nope:q", "v".toByteArray()))) }
        })
        lines.add(code("topic with -1 partitions") { engine.createTopic("x", -1) })
        lines.add(code("producer acks=sometimes") { engine.producer(mapOf("acks" to "sometimes")) })
        engine.producer(emptyMap()).use { p ->
            lines.add(code("send to \"bad topic!\"") { p.send("bad topic!", OutgoingRecord(value = "v".toByteArray())) })
        }
        engine.shutdown()
        lines.add(code("list tables after shutdown") { engine.listTables() })
    }
    lines.forEach(::println)
}
