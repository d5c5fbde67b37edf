"""The seed flow (docs/scenario.md) through kabase's UniFFI Python bindings (the generated
module ``kabase_uniffi``, with ``libkabase_uniffi.so`` beside it). Prints the shared transcript
(docs/scenario/seed.txt).

Run: PYTHONPATH=<dir of kabase_uniffi.py> python3 bindings/uniffi/python/seed.py [DATA_DIR]
(no DATA_DIR: an in-memory engine). With ``--errors`` it prints the error checks instead.
"""

import sys
import time

import kabase_uniffi as k


def cells(row):
    return " ".join(f"{c.family.decode()}:{c.qualifier.decode()}={c.value.decode()}" for c in row.cells)


def seed(engine, out):
    engine.create_table("test", ["cf"])
    out.append("table test created (families: cf)")
    table = engine.table("test")
    for row, name, age in [("1", "Alice", "30"), ("2", "Bob", "28")]:
        table.put(row.encode(), [k.ColumnValue(family=b"cf", qualifier=b"name", value=name.encode()),
                                 k.ColumnValue(family=b"cf", qualifier=b"age", value=age.encode())])
        out.append(f"put {row}: cf:name={name} cf:age={age}")
    got = []
    for row in ["1", "2"]:
        r = table.get(row.encode())
        out.append(f"get {row}: {cells(r)}")
        got.append((row, cells(r)))
    engine.create_topic("test_topic", 1)
    out.append("topic test_topic created (partitions: 1)")
    producer = engine.producer({})
    for row, value in got:
        m = producer.send("test_topic", k.OutgoingRecord(key=row.encode(), value=value.encode()))
        out.append(f"sent {row} -> {m.topic}/{m.partition}@{m.offset}")
    consumer = engine.consumer("seed-group", {})
    consumer.subscribe(["test_topic"], True)
    records = []
    deadline = time.monotonic() + 10
    while len(records) < 2 and time.monotonic() < deadline:
        records.extend(consumer.poll(100, 200))
    for r in records:
        out.append(f"consumed {r.topic}/{r.partition}@{r.offset} key={(r.key or b'').decode()} value={(r.value or b'').decode()}")
    consumer.commit()
    committed = consumer.committed([k.TopicPartition(topic="test_topic", partition=0)])
    out.append(f"committed test_topic/0 -> {committed[0] if committed[0] is not None else -1}")
    for row in ["1", "2"]:
        table.delete(row.encode())
        out.append(f"deleted {row}")
    for row in ["1", "2"]:
        assert table.get(row.encode()) is None, f"row {row} survived its delete"
        out.append(f"get {row}: (none)")
    out.append(f"scan: {len(table.scan(k.ScanOptions()))} rows")
    consumer.shutdown()
    producer.shutdown()
    engine.shutdown()
    out.append("closed")


def errors(out):
    def code(case, call):
        try:
            call()
            out.append(f"{case}: no error")
        except k.KabaseError.Failed as e:
            out.append(f"{case}: {e.code_name} {e.code}")

    engine = k.Engine.open_in_memory()
    code('create table "bad name!"', lambda: engine.create_table("bad name!", ["cf"]))
    code('table "missing"', lambda: engine.table("missing"))
    engine.shutdown()
    code("list tables after shutdown", engine.list_tables)


def main(argv):
    out = []
    if "--errors" in argv:
        errors(out)
    else:
        engine = k.Engine.open(argv[1]) if len(argv) > 1 else k.Engine.open_in_memory()
        seed(engine, out)
    sys.stdout.write("".join(line + "\n" for line in out))


if __name__ == "__main__":
    main(sys.argv)
