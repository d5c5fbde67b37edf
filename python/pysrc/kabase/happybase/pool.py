"""happybase ``ConnectionPool``: a thread-safe pool of connections."""

from __future__ import annotations

import contextlib
import queue
import threading
from typing import Any, Iterator, Optional

from ._errors import NoConnectionsAvailable
from .connection import Connection

__all__ = ["ConnectionPool", "NoConnectionsAvailable"]


class ConnectionPool(object):
    """A pool of ``size`` connections built with ``Connection(**kwargs)``. A thread asking again
    inside its own ``with pool.connection()`` block gets the same connection back."""

    def __init__(self, size: int, **kwargs: Any) -> None:
        if isinstance(size, bool) or not isinstance(size, int):
            raise TypeError("Pool 'size' arg must be an integer")
        if not size > 0:
            raise ValueError("Pool 'size' arg must be greater than zero")
        kwargs["autoconnect"] = False
        self._lock = threading.Lock()
        self._queue: "queue.LifoQueue[Connection]" = queue.LifoQueue(maxsize=size)
        self._thread_connections = threading.local()
        for i in range(size):
            conn = Connection(**kwargs)
            self._queue.put(conn)
        # Like happybase: open one connection now so configuration errors show early.
        with self.connection():
            pass

    def _acquire_connection(self, timeout: Optional[float] = None) -> Connection:
        try:
            return self._queue.get(True, timeout)
        except queue.Empty:
            raise NoConnectionsAvailable("No connection available from pool within specified timeout") from None

    def _return_connection(self, connection: Connection) -> None:
        self._queue.put(connection)

    @contextlib.contextmanager
    def connection(self, timeout: Optional[float] = None) -> Iterator[Connection]:
        """Borrow a connection for the ``with`` block."""
        connection = getattr(self._thread_connections, "current", None)
        return_after_use = False
        if connection is None:
            return_after_use = True
            connection = self._acquire_connection(timeout)
            self._thread_connections.current = connection
        try:
            connection.open()
            yield connection
        finally:
            if return_after_use:
                del self._thread_connections.current
                self._return_connection(connection)
