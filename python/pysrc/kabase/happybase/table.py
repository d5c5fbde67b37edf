"""happybase ``Table``."""

from __future__ import annotations

from collections import OrderedDict
from numbers import Integral
from struct import Struct
from typing import Any, Dict, Generator, Iterable, List, Optional, Tuple

from .._conv import to_bytes, to_str
from .batch import Batch

__all__ = ["Table"]

pack_i64 = Struct(">q").pack

_MAX_VERSIONS = 2**31 - 1
# Rows a scan takes from the native scanner per call, whatever its `batch_size` (happybase's
# rows per Thrift round trip; at most that many here). Small chunks let the previous chunk's
# rows be freed before the next are made, so CPython reuses their memory and free lists and
# its collector has few young objects to walk: a 5,000-row chunk cost 4,621 instructions a
# row, a 64-row one 4,149 (docs/benchmarks.md, Python binding, Session 7).
_NATIVE_ROWS = 64


def _check_ts(timestamp: Any) -> None:
    if timestamp is not None and (isinstance(timestamp, bool) or not isinstance(timestamp, Integral)):
        raise TypeError("'timestamp' must be an integer")


def _columns(columns: Any) -> Optional[List[bytes]]:
    if columns is None:
        return None
    if not isinstance(columns, (tuple, list)):
        raise TypeError("'columns' must be a tuple or list")
    return [to_bytes(c, "column", numbers=False) for c in columns]


def make_row(cells: Iterable[Tuple[bytes, bytes, int]], include_timestamp: bool, ordered: bool = False) -> Dict[bytes, Any]:
    out: Dict[bytes, Any] = OrderedDict() if ordered else {}
    for col, value, ts in cells:
        if col not in out:  # newest version first
            out[col] = (value, ts) if include_timestamp else value
    return out


class Table(object):
    """HBase table abstraction class. Use :py:meth:`Connection.table` to get one."""

    def __init__(self, name: bytes, connection: Any) -> None:
        self.name = name
        self.connection = connection

    def __repr__(self) -> str:
        return "<%s.%s name=%r>" % (__name__, self.__class__.__name__, self.name)

    def _native(self) -> Any:
        return self.connection._engine_checked().table(to_str(self.name, "table name"))

    def stream_to(self, topic: Optional[str] = None, **options: Any) -> Any:
        """kabase extension: stream every committed change of this table into ``topic``
        exactly once (see :meth:`kabase.Table.stream_to` for the options); returns the
        :class:`kabase.Stream`."""
        return self._native().stream_to(topic, **options)

    def families(self) -> Dict[bytes, Dict[str, Any]]:
        """Mapping from column family name to its settings (happybase's keys)."""
        out: Dict[bytes, Dict[str, Any]] = {}
        for f in self.connection._engine_checked().describe_table(to_str(self.name)):
            ttl = f.get("ttl")
            out[f["name"]] = {
                "name": f["name"] + b":",
                "max_versions": f["max_versions"],
                "compression": f["compression"],
                "in_memory": f["in_memory"],
                "bloom_filter_type": f["bloom_filter"],
                "bloom_filter_vector_size": 0,
                "bloom_filter_nb_hashes": 0,
                "block_cache_enabled": True,
                "time_to_live": _MAX_VERSIONS if ttl is None else ttl,
            }
        return out

    def _column_family_names(self) -> List[bytes]:
        return [f["name"] for f in self.connection._engine_checked().describe_table(to_str(self.name))]

    def regions(self) -> List[Dict[str, Any]]:
        """The regions of this table."""
        out = []
        for r in self.connection._engine_checked().table_regions(to_str(self.name)):
            out.append(
                {
                    "start_key": r["start_key"],
                    "end_key": r["end_key"],
                    "id": r["id"],
                    "name": r["name"] if isinstance(r["name"], bytes) else str(r["name"]).encode(),
                    "version": 1,
                    "server_name": b"localhost",
                    "port": 0,
                }
            )
        return out

    # -- reads
    def row(self, row: Any, columns: Any = None, timestamp: Optional[int] = None, include_timestamp: bool = False) -> Dict[bytes, Any]:
        """One row as ``{b'cf:q': value}`` (``{}`` if it does not exist). ``timestamp`` is an
        exclusive upper bound on the versions read, as with HBase's Thrift gateway."""
        cols = _columns(columns)
        _check_ts(timestamp)
        res = self._native().get([to_bytes(row, "row key", numbers=False)], cols, 1, timestamp, None, None, True,
                                 bool(include_timestamp))
        return res[0][1] if res else {}

    def rows(self, rows: Any, columns: Any = None, timestamp: Optional[int] = None, include_timestamp: bool = False) -> Any:
        """Several rows as ``[(row_key, row_dict)]``; rows that do not exist are left out."""
        cols = _columns(columns)
        if isinstance(rows, (str, bytes)):
            raise TypeError("'rows' must be a list or tuple of row keys")
        if not rows:
            return {}
        _check_ts(timestamp)
        keys = [to_bytes(r, "row key", numbers=False) for r in rows]
        res = self._native().get(keys, cols, 1, timestamp, None, None, True, bool(include_timestamp))
        return [rd for rd in res if rd[1]]

    def cells(self, row: Any, column: Any, versions: Optional[int] = None, timestamp: Optional[int] = None, include_timestamp: bool = False) -> List[Any]:
        """Up to ``versions`` versions of one cell, newest first."""
        if versions is None:
            versions = _MAX_VERSIONS
        elif isinstance(versions, bool) or not isinstance(versions, int):
            raise TypeError("'versions' parameter must be a number or None")
        elif versions < 1:
            raise ValueError("'versions' parameter must be at least 1 (or None)")
        _check_ts(timestamp)
        col = to_bytes(column, "column", numbers=False)
        res = self._native().get([to_bytes(row, "row key", numbers=False)], [col], versions, timestamp, None, None)
        cells = res[0][1] if res else []
        if include_timestamp:
            return [(v, ts) for _c, v, ts in cells]
        return [v for _c, v, _ts in cells]

    def scan(
        self,
        row_start: Any = None,
        row_stop: Any = None,
        row_prefix: Any = None,
        columns: Any = None,
        filter: Optional[Any] = None,
        timestamp: Optional[int] = None,
        include_timestamp: bool = False,
        batch_size: int = 1000,
        scan_batching: Optional[int] = None,
        limit: Optional[int] = None,
        sorted_columns: bool = False,
        reverse: bool = False,
    ) -> Generator[Tuple[bytes, Dict[bytes, Any]], None, None]:
        """Rows in key order as ``(row_key, row_dict)``; ``filter`` is an HBase filter string."""
        if isinstance(batch_size, bool) or not isinstance(batch_size, Integral):
            raise TypeError("'batch_size' must be an integer")
        if batch_size < 1:
            raise ValueError("'batch_size' must be >= 1")
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, Integral)):
            raise TypeError("'limit' must be an integer or None")
        if limit is not None and limit < 1:
            raise ValueError("'limit' must be >= 1")
        if scan_batching is not None and (isinstance(scan_batching, bool) or not isinstance(scan_batching, Integral) or scan_batching < 1):
            raise ValueError("'scan_batching' must be >= 1")
        if sorted_columns and self.connection.compat < "0.96":
            raise TypeError("'sorted_columns' requires HBase 0.96+ compatibility")
        if row_prefix is not None and (row_start is not None or row_stop is not None):
            raise TypeError("'row_prefix' cannot be combined with 'row_start' or 'row_stop'")
        if filter is not None and self.connection.compat == "0.90":
            raise NotImplementedError("'filter' is not supported in HBase 0.90")
        _check_ts(timestamp)
        cols = _columns(columns)
        flt = None if filter is None else to_bytes(filter, "filter", numbers=False)
        scanner = self._native().scan(
            None if row_start is None else to_bytes(row_start, "row_start", numbers=False),
            None if row_stop is None else to_bytes(row_stop, "row_stop", numbers=False),
            None if row_prefix is None else to_bytes(row_prefix, "row_prefix", numbers=False),
            cols,
            flt,
            timestamp,
            1,
            bool(reverse),
            limit,
            int(scan_batching or 0),
            int(batch_size),
        )
        return self._scan_rows(scanner, int(batch_size), include_timestamp, bool(sorted_columns))

    @staticmethod
    def _scan_rows(scanner: Any, batch_size: int, include_timestamp: bool, ordered: bool) -> Generator[Tuple[bytes, Dict[bytes, Any]], None, None]:
        n = min(batch_size, _NATIVE_ROWS)
        next_batch = scanner.next_batch
        try:
            if ordered:
                while True:
                    chunk = next_batch(n)
                    if not chunk:
                        return
                    for r, cells in chunk:
                        yield r, make_row(cells, include_timestamp, ordered)
            else:
                # Row dicts are built natively, a batch at a time.
                while True:
                    chunk = next_batch(n, True, include_timestamp)
                    if not chunk:
                        return
                    yield from chunk
        finally:
            scanner.close()

    # -- writes
    def put(self, row: Any, data: Dict[Any, Any], timestamp: Optional[int] = None, wal: bool = True) -> None:
        """Store ``{b'cf:q': value}`` in ``row``."""
        with self.batch(timestamp=timestamp, wal=wal) as batch:
            batch.put(row, data)

    def delete(self, row: Any, columns: Any = None, timestamp: Optional[int] = None, wal: bool = True) -> None:
        """Delete the whole row, or only ``columns`` (``cf:q`` or whole families ``cf``)."""
        if columns is None:
            _check_ts(timestamp)
            self._native().mutate([(to_bytes(row, "row key", numbers=False), [], [], True, timestamp, bool(wal))])
            return
        with self.batch(timestamp=timestamp, wal=wal) as batch:
            batch.delete(row, columns)

    def batch(self, timestamp: Optional[int] = None, batch_size: Optional[int] = None, transaction: bool = False, wal: bool = True) -> Batch:
        """A :py:class:`Batch` for this table."""
        return Batch(self, timestamp=timestamp, batch_size=batch_size, transaction=transaction, wal=wal)

    # -- counters (8-byte big-endian signed longs)
    def counter_get(self, row: Any, column: Any) -> int:
        """The counter's value (0 if unset); an increment by zero, as happybase does."""
        return self.counter_inc(row, column, value=0)

    def counter_set(self, row: Any, column: Any, value: int = 0) -> None:
        """Set a counter to ``value`` (stored as an 8-byte big-endian long)."""
        if isinstance(value, bool) or not isinstance(value, Integral):
            raise TypeError("counter value must be an integer")
        self.put(row, {column: pack_i64(value)})

    def counter_inc(self, row: Any, column: Any, value: int = 1) -> int:
        """Atomically add ``value``; returns the new value."""
        if isinstance(value, bool) or not isinstance(value, Integral):
            raise TypeError("counter value must be an integer")
        return self._native().increment(
            to_bytes(row, "row key", numbers=False), to_bytes(column, "column", numbers=False), int(value)
        )

    def counter_dec(self, row: Any, column: Any, value: int = 1) -> int:
        """Atomically subtract ``value``; returns the new value."""
        if isinstance(value, bool) or not isinstance(value, Integral):
            raise TypeError("counter value must be an integer")
        return self.counter_inc(row, column, -value)
