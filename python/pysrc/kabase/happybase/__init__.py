"""kabase's drop-in for happybase 1.3: ``import kabase.happybase as happybase``.

Same classes, methods and arguments as happybase against HBase's Thrift1 gateway, served by the
embedded engine: bytes keys and values, ``timestamp=`` on reads as an exclusive upper bound,
families created with ``max_versions=3`` by default, filter strings in ``scan(filter=...)``,
8-byte big-endian counters, ``batch(transaction=True)``, ``table_prefix``.
"""

from ._errors import AlreadyExists, IllegalArgument, IOError, NoConnectionsAvailable
from .batch import Batch
from .connection import DEFAULT_HOST, DEFAULT_PORT, Connection
from .pool import ConnectionPool
from .table import Table

__version__ = "1.3.0"

__all__ = [
    "Connection",
    "ConnectionPool",
    "NoConnectionsAvailable",
    "Table",
    "Batch",
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "AlreadyExists",
    "IllegalArgument",
    "IOError",
]
