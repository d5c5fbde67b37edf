import asyncio

import kabase.aio as aio
from kabase.kafka import KafkaProducer

from conftest import needs_tables, needs_topics


@needs_topics
def test_async_producer_and_consumer(eng):
    async def main():
        async with aio.AIOKafkaProducer(engine=eng) as p:
            fut = await p.send("aio", b"a")
            md = await fut
            md2 = await p.send_and_wait("aio", b"b")
            mds = await p.send_batch("aio", [b"c", b"d"])
        assert (md.offset, md2.offset, [m.offset for m in mds]) == (0, 1, [2, 3])
        got = []
        async with aio.AIOKafkaConsumer("aio", engine=eng, auto_offset_reset="earliest", poll_timeout_ms=50) as c:
            async for rec in c:
                got.append(rec.value)
                if len(got) == 4:
                    break
        return got

    assert asyncio.run(main()) == [b"a", b"b", b"c", b"d"]


@needs_topics
def test_async_poll_does_not_block_loop(eng):
    async def main():
        ticks = 0
        stop = False

        async def ticker():
            nonlocal ticks
            while not stop:
                ticks += 1
                await asyncio.sleep(0.005)

        t = asyncio.ensure_future(ticker())
        async with aio.AIOKafkaConsumer("aio-idle", engine=eng) as c:
            await c.getmany(timeout_ms=300)
        stop = True
        await t
        return ticks

    KafkaProducer(engine=eng).send("aio-idle", b"x").get(5)
    assert asyncio.run(main()) > 10


@needs_tables
def test_async_table_calls(eng):
    async def main():
        conn = aio.AIOConnection(engine=eng)
        await conn.create_table("at", {"cf": {}})
        t = conn.table("at")
        await t.put(b"r1", {b"cf:a": b"1"})
        await t.put(b"r2", {b"cf:a": b"2"})
        row = await t.row(b"r1")
        rows = await t.scan(row_prefix=b"r")
        n = await t.counter_inc(b"c", b"cf:n", 5)
        return row, [k for k, _ in rows], n, await conn.tables()

    row, keys, n, tables = asyncio.run(main())
    assert row == {b"cf:a": b"1"} and keys == [b"r1", b"r2"] and n == 5 and b"at" in tables
