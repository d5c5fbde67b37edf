"""happybase ``Connection``, bound to the embedded engine by kabase's address rule."""

from __future__ import annotations

import threading
from typing import Any, Dict, List, Optional

from .. import _address, errors
from .._conv import to_bytes, to_str
from ._errors import AlreadyExists
from .table import Table

__all__ = ["Connection", "DEFAULT_HOST", "DEFAULT_PORT", "COMPAT_MODES", "THRIFT_TRANSPORTS", "THRIFT_PROTOCOLS"]

COMPAT_MODES = ("0.90", "0.92", "0.94", "0.96", "0.98")
THRIFT_TRANSPORTS = ("buffered", "framed")
THRIFT_PROTOCOLS = ("binary", "compact")

DEFAULT_HOST = "localhost"
DEFAULT_PORT = 9090
DEFAULT_TRANSPORT = "buffered"
DEFAULT_COMPAT = "0.98"
DEFAULT_PROTOCOL = "binary"

# Family options as happybase names them -> the native family descriptor's keys.
_FAMILY_KEYS = {
    "max_versions": "max_versions",
    "compression": "compression",
    "in_memory": "in_memory",
    "bloom_filter_type": "bloom_filter",
    "time_to_live": "ttl",
}
# Accepted for compatibility; Thrift passes them on but they change nothing in kabase.
_FAMILY_IGNORED = ("bloom_filter_vector_size", "bloom_filter_nb_hashes", "block_cache_enabled")


class Connection(object):
    """Connection to the engine's tables, with happybase's arguments.

    ``host``/``port`` follow kabase's address rule: ``None`` or a loopback host means the default
    engine; any other host raises :class:`kabase.errors.Unsupported`. ``engine=`` binds to an
    explicit engine. ``transport``, ``protocol`` and ``timeout`` are validated as happybase does
    and otherwise have no effect.
    """

    def __init__(
        self,
        host: Optional[str] = DEFAULT_HOST,
        port: Optional[int] = DEFAULT_PORT,
        timeout: Optional[int] = None,
        autoconnect: bool = True,
        table_prefix: Any = None,
        table_prefix_separator: Any = b"_",
        compat: str = DEFAULT_COMPAT,
        transport: str = DEFAULT_TRANSPORT,
        protocol: str = DEFAULT_PROTOCOL,
        engine: Any = None,
    ) -> None:
        if transport not in THRIFT_TRANSPORTS:
            raise ValueError("'transport' must be one of %s" % ", ".join(THRIFT_TRANSPORTS))
        if compat not in COMPAT_MODES:
            raise ValueError("'compat' must be one of %s" % ", ".join(COMPAT_MODES))
        if protocol not in THRIFT_PROTOCOLS:
            raise ValueError("'protocol' must be one of %s" % ", ".join(THRIFT_PROTOCOLS))
        if table_prefix is not None:
            if not isinstance(table_prefix, (str, bytes)):
                raise TypeError("'table_prefix' must be a string")
            table_prefix = to_bytes(table_prefix, "table_prefix", numbers=False)
        if not isinstance(table_prefix_separator, (str, bytes)):
            raise TypeError("'table_prefix_separator' must be a string")
        if port is not None and (isinstance(port, bool) or not isinstance(port, int)):
            raise TypeError("'port' must be an integer")
        self.host = host or DEFAULT_HOST
        self.port = port or DEFAULT_PORT
        self.timeout = timeout
        self.table_prefix = table_prefix
        self.table_prefix_separator = to_bytes(table_prefix_separator, "table_prefix_separator", numbers=False)
        self.compat = compat
        self.transport_mode = transport
        self.protocol_mode = protocol
        address = None if host is None else (host if port is None else f"{host}:{port}")
        # Resolve now so a remote host fails at construction, as a connection refusal would.
        self._engine = _address.resolve(address, engine, "happybase host")
        self._open = False
        self._lock = threading.Lock()
        if autoconnect:
            self.open()

    # -- connection state
    def open(self) -> None:
        """Open the connection (a no-op if it is open)."""
        self._open = True

    def close(self) -> None:
        """Close the connection. The engine stays open for other handles."""
        self._open = False

    def __del__(self) -> None:
        self._open = False

    def __enter__(self) -> "Connection":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _engine_checked(self) -> Any:
        if not self._open:
            raise errors.Closed("happybase connection is not open (call open())")
        return self._engine

    def _table_name(self, name: Any) -> bytes:
        name_b = to_bytes(name, "table name", numbers=False)
        if self.table_prefix is None:
            return name_b
        return self.table_prefix + self.table_prefix_separator + name_b

    # -- tables
    def table(self, name: Any, use_prefix: bool = True) -> Table:
        """A :py:class:`Table` (no server round trip)."""
        if use_prefix:
            name = self._table_name(name)
        return Table(to_bytes(name, "table name", numbers=False), self)

    def tables(self) -> List[bytes]:
        """Table names (with this connection's prefix, which is stripped)."""
        names = [n.encode("utf-8") for n in self._engine_checked().list_tables()]
        if self.table_prefix is not None:
            prefix = self._table_name(b"")
            names = [n[len(prefix):] for n in names if n.startswith(prefix)]
        return names

    def create_table(self, name: Any, families: Dict[Any, Dict[str, Any]]) -> None:
        """Create a table; ``families`` maps names to option dicts (happybase's option names).
        Families default to ``max_versions=3`` as Thrift's ``ColumnDescriptor`` does."""
        name_b = self._table_name(name)
        if not isinstance(families, dict):
            raise TypeError("'families' arg must be a dictionary")
        if not families:
            raise ValueError("Cannot create table %r (no column families specified)" % name_b)
        descs = []
        for fam_name, options in families.items():
            if options is None:
                options = {}
            if not isinstance(options, dict):
                raise TypeError("family options for %r must be a dict" % (fam_name,))
            fb = to_bytes(fam_name, "family name", numbers=False).rstrip(b":")
            desc: Dict[str, Any] = {"name": fb, "max_versions": 3}
            for k, v in options.items():
                if k in _FAMILY_IGNORED:
                    continue
                key = _FAMILY_KEYS.get(k)
                if key is None:
                    raise TypeError("unknown column family option %r" % (k,))
                if key in ("max_versions", "ttl"):
                    if isinstance(v, bool) or not isinstance(v, int):
                        raise TypeError("%r must be an integer" % (k,))
                    if key == "ttl" and v >= 2**31 - 1:
                        continue  # Thrift's "forever"
                elif key == "in_memory":
                    v = bool(v)
                else:
                    v = to_str(v, k)
                desc[key] = v
            descs.append(desc)
        try:
            self._engine_checked().create_table(to_str(name_b), descs)
        except errors.TableExists as e:
            raise AlreadyExists(str(e)) from e

    def delete_table(self, name: Any, disable: bool = False) -> None:
        """Delete a table; it must be disabled first unless ``disable=True``."""
        n = to_str(self._table_name(name))
        eng = self._engine_checked()
        if disable and eng.is_table_enabled(n):
            eng.disable_table(n)
        eng.delete_table(n)

    def enable_table(self, name: Any) -> None:
        self._engine_checked().enable_table(to_str(self._table_name(name)))

    def disable_table(self, name: Any) -> None:
        self._engine_checked().disable_table(to_str(self._table_name(name)))

    def is_table_enabled(self, name: Any) -> bool:
        return bool(self._engine_checked().is_table_enabled(to_str(self._table_name(name))))

    def compact_table(self, name: Any, major: bool = False) -> None:
        self._engine_checked().compact_table(to_str(self._table_name(name)), bool(major))
