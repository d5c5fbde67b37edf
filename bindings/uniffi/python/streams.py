"""Change streams through kabase's UniFFI Python bindings (the generated module
``kabase_uniffi``, with ``libkabase_uniffi.so`` beside it): a table streamed into a topic (put a
row, consume its change record), pause/resume, snapshot, a topic sunk into a table, remove.
Prints a transcript that bindings/uniffi/tests/generate.rs compares line by line.

Run: PYTHONPATH=<dir of kabase_uniffi.py> python3 bindings/uniffi/python/streams.py
"""

import json
import sys
import time

import kabase_uniffi as k


def poll(consumer, want):
    records = []
    deadline = time.monotonic() + 10
    while len(records) < want and time.monotonic() < deadline:
        records.extend(consumer.poll(100, 200))
    return records


def change(r):
    c = json.loads(r.value)
    cells = " ".join(f"{x['family']}:{x['qualifier']}={x['value']}" for x in c["cells"])
    return f"change {r.topic}/{r.partition}@{r.offset} key={r.key.decode()} table={c['table']} seq={c['seq']} op={c['op']} {cells}"


def main(out):
    engine = k.Engine.open_in_memory()
    engine.create_table("orders", ["cf"])
    table = engine.table("orders")
    stream = engine.stream_table_to_topic("orders", "orders-cdc", k.StreamOptions(partitions=1))
    out.append(f"stream {stream.name()} created")
    table.put(b"o1", [k.ColumnValue(family=b"cf", qualifier=b"amount", value=b"12.50")])
    d = stream.wait_caught_up(10_000)
    out.append(f"describe: kind={d.kind} state={d.state} table={d.table} topics={','.join(d.topics)} lag={d.lag}")
    consumer = engine.consumer(None, {"isolation.level": "read_committed"})
    consumer.subscribe(["orders-cdc"], True)
    for r in poll(consumer, 1):
        out.append(change(r))

    stream.pause()
    out.append(f"paused: state={stream.describe().state}")
    table.put(b"o2", [k.ColumnValue(family=b"cf", qualifier=b"amount", value=b"3")])
    out.append(f"while paused: lag={stream.describe().lag}")
    stream.resume()
    stream.wait_caught_up(10_000)
    for r in poll(consumer, 1):
        out.append(change(r))
    snap = stream.snapshot()
    rows = ",".join(r.row.decode() for r in snap.rows)
    offsets = ",".join(f"{o.topic}/{o.partition}@{o.offset}" for o in snap.offsets)
    out.append(f"snapshot: rows={rows} offsets={offsets}")

    engine.create_table("users", ["cf"])
    sink = engine.sink_topic_to_table("users-in", "users", k.SinkOptions(default_family="cf"))
    producer = engine.producer({})
    producer.send("users-in", k.OutgoingRecord(key=b"u1", value=b'{"name": "Ann"}'))
    d = sink.wait_caught_up(10_000)
    offsets = ",".join(f"{o.topic}/{o.partition}@{o.offset}" for o in d.offsets)
    out.append(f"sink {d.name}: kind={d.kind} offsets={offsets}")
    row = engine.table("users").get(b"u1")
    out.append("sunk u1: " + " ".join(f"{c.family.decode()}:{c.qualifier.decode()}={c.value.decode()}" for c in row.cells))
    out.append("streams: " + ",".join(sorted(s.name for s in engine.list_streams())))

    stream.remove()
    try:
        stream.describe()
        out.append("after remove: no error")
    except k.KabaseError.Failed as e:
        out.append(f"after remove: {e.code_name}")
    try:
        engine.stream_table_to_topic("orders", None, k.StreamOptions(shape="square"))
        out.append("bad shape: no error")
    except k.KabaseError.Failed as e:
        out.append(f"bad shape: {e.code_name}")
    consumer.shutdown()
    producer.shutdown()
    engine.shutdown()
    out.append("closed")


if __name__ == "__main__":
    lines = []
    main(lines)
    sys.stdout.write("".join(line + "\n" for line in lines))
