"""asyncio wrappers: awaitable producer sends, an async-iterable consumer and awaitable table
calls. Every blocking engine call runs in a thread executor (the engine releases the GIL there),
so the event loop never blocks::

    import asyncio, kabase.aio as aio

    async def main():
        async with aio.AIOKafkaProducer() as p:
            md = await p.send_and_wait("t", b"v")
        async with aio.AIOKafkaConsumer("t", auto_offset_reset="earliest") as c:
            async for rec in c:
                print(rec.value)
                break

    asyncio.run(main())
"""

from __future__ import annotations

import asyncio
import functools
from concurrent.futures import Executor
from typing import Any, AsyncIterator, Callable, Dict, List, Optional, TypeVar

from .happybase import Connection as _Connection
from .kafka import KafkaConsumer as _KafkaConsumer
from .kafka import KafkaProducer as _KafkaProducer
from .kafka.structs import ConsumerRecord, RecordMetadata, TopicPartition

__all__ = ["AIOKafkaProducer", "AIOKafkaConsumer", "AIOTable", "AIOConnection", "run_blocking"]

T = TypeVar("T")


async def run_blocking(fn: Callable[..., T], *args: Any, executor: Optional[Executor] = None, **kwargs: Any) -> T:
    """Run a blocking kabase call in ``executor`` (default: the loop's)."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(executor, functools.partial(fn, *args, **kwargs))


class AIOKafkaProducer(object):
    """An asyncio producer: ``await send(...)`` gives a future to await for the metadata;
    ``await send_and_wait(...)`` gives the metadata."""

    def __init__(self, *args: Any, executor: Optional[Executor] = None, **configs: Any) -> None:
        self._args, self._configs, self._executor = args, configs, executor
        self._p: Optional[_KafkaProducer] = None

    async def start(self) -> None:
        self._p = await run_blocking(_KafkaProducer, *self._args, executor=self._executor, **self._configs)

    def _producer(self) -> _KafkaProducer:
        if self._p is None:
            raise RuntimeError("call await producer.start() first (or use 'async with')")
        return self._p

    async def send(self, topic: str, value: Any = None, key: Any = None, partition: Optional[int] = None,
                   timestamp_ms: Optional[int] = None, headers: Any = None) -> "asyncio.Future[RecordMetadata]":
        p = self._producer()
        fut = p.send(topic, value=value, key=key, partition=partition, timestamp_ms=timestamp_ms, headers=headers)
        loop = asyncio.get_running_loop()
        return loop.run_in_executor(self._executor, fut.get)

    async def send_and_wait(self, topic: str, value: Any = None, key: Any = None, partition: Optional[int] = None,
                            timestamp_ms: Optional[int] = None, headers: Any = None) -> RecordMetadata:
        return await (await self.send(topic, value, key, partition, timestamp_ms, headers))

    async def send_batch(self, topic: str, values: List[Any], keys: Optional[List[Any]] = None) -> List[RecordMetadata]:
        p = self._producer()
        futs = p.send_batch(topic, values, keys)
        return await run_blocking(lambda: [f.get() for f in futs], executor=self._executor)

    async def flush(self) -> None:
        await run_blocking(self._producer().flush, executor=self._executor)

    async def stop(self) -> None:
        if self._p is not None:
            await run_blocking(self._p.close, executor=self._executor)

    # transactions
    async def begin_transaction(self) -> None:
        await run_blocking(self._producer().begin_transaction, executor=self._executor)

    async def commit_transaction(self) -> None:
        await run_blocking(self._producer().commit_transaction, executor=self._executor)

    async def abort_transaction(self) -> None:
        await run_blocking(self._producer().abort_transaction, executor=self._executor)

    async def init_transactions(self) -> None:
        await run_blocking(self._producer().init_transactions, executor=self._executor)

    async def __aenter__(self) -> "AIOKafkaProducer":
        await self.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()


class AIOKafkaConsumer(object):
    """An asyncio consumer: ``async for record in consumer`` and ``await getmany()``."""

    def __init__(self, *topics: str, executor: Optional[Executor] = None, poll_timeout_ms: int = 200, **configs: Any) -> None:
        self._topics, self._configs, self._executor = topics, configs, executor
        self._poll_timeout_ms = poll_timeout_ms
        self._c: Optional[_KafkaConsumer] = None
        self._buf: List[ConsumerRecord] = []

    async def start(self) -> None:
        self._c = await run_blocking(_KafkaConsumer, *self._topics, executor=self._executor, **self._configs)

    def _consumer(self) -> _KafkaConsumer:
        if self._c is None:
            raise RuntimeError("call await consumer.start() first (or use 'async with')")
        return self._c

    async def getmany(self, timeout_ms: int = 0, max_records: Optional[int] = None) -> Dict[TopicPartition, List[ConsumerRecord]]:
        return await run_blocking(self._consumer().poll, timeout_ms, max_records, executor=self._executor)

    async def getone(self) -> ConsumerRecord:
        while not self._buf:
            batch = await self.getmany(timeout_ms=self._poll_timeout_ms)
            for recs in batch.values():
                self._buf.extend(recs)
        return self._buf.pop(0)

    def __aiter__(self) -> AsyncIterator[ConsumerRecord]:
        return self

    async def __anext__(self) -> ConsumerRecord:
        return await self.getone()

    async def commit(self, offsets: Any = None) -> None:
        await run_blocking(self._consumer().commit, offsets, executor=self._executor)

    async def seek_to_beginning(self, *partitions: Any) -> None:
        await run_blocking(self._consumer().seek_to_beginning, *partitions, executor=self._executor)

    def assignment(self) -> Any:
        return self._consumer().assignment()

    async def stop(self) -> None:
        if self._c is not None:
            await run_blocking(self._c.close, executor=self._executor)

    async def __aenter__(self) -> "AIOKafkaConsumer":
        await self.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()


class AIOTable(object):
    """Awaitable happybase-style table calls (``row``, ``rows``, ``cells``, ``scan`` as a list,
    ``put``, ``delete``, ``counter_*``)."""

    def __init__(self, table: Any, executor: Optional[Executor] = None) -> None:
        self._t = table
        self._executor = executor

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._t, name)
        if name in ("row", "rows", "cells", "put", "delete", "counter_get", "counter_set", "counter_inc",
                    "counter_dec", "families", "regions"):
            async def call(*args: Any, **kwargs: Any) -> Any:
                return await run_blocking(attr, *args, executor=self._executor, **kwargs)
            return call
        return attr

    async def scan(self, **kwargs: Any) -> List[Any]:
        return await run_blocking(lambda: list(self._t.scan(**kwargs)), executor=self._executor)


class AIOConnection(object):
    """An asyncio happybase connection: ``await conn.create_table(...)``, ``conn.table(name)``
    gives an :class:`AIOTable`."""

    def __init__(self, *args: Any, executor: Optional[Executor] = None, **kwargs: Any) -> None:
        self._c = _Connection(*args, **kwargs)
        self._executor = executor

    def table(self, name: Any) -> AIOTable:
        return AIOTable(self._c.table(name), self._executor)

    async def create_table(self, name: Any, families: Any) -> None:
        await run_blocking(self._c.create_table, name, families, executor=self._executor)

    async def tables(self) -> List[bytes]:
        return await run_blocking(self._c.tables, executor=self._executor)

    async def delete_table(self, name: Any, disable: bool = False) -> None:
        await run_blocking(self._c.delete_table, name, disable, executor=self._executor)

    def close(self) -> None:
        self._c.close()
