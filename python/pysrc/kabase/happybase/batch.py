"""happybase ``Batch``: buffered puts and deletes sent in one call."""

from __future__ import annotations

from numbers import Integral
from typing import Any, Dict, Iterable, List, Optional

from .. import _native
from .._conv import to_bytes

__all__ = ["Batch"]


class Batch(object):
    """Batch mutation class. Use :py:meth:`Table.batch` to create one.

    Mutations are buffered per row and sent on :py:meth:`send` (also when the ``with`` block
    ends, or every ``batch_size`` mutations). With ``transaction=True`` nothing is sent when the
    ``with`` block raises.
    """

    def __init__(
        self,
        table: Any,
        timestamp: Optional[int] = None,
        batch_size: Optional[int] = None,
        transaction: bool = False,
        wal: bool = True,
    ) -> None:
        if not isinstance(transaction, bool):
            raise TypeError("'transaction' must be a bool")
        if batch_size is not None:
            if transaction:
                raise TypeError("'transaction' cannot be used when 'batch_size' is specified")
            if isinstance(batch_size, bool) or not isinstance(batch_size, Integral) or not batch_size > 0:
                raise ValueError("'batch_size' must be > 0")
        if timestamp is not None and (isinstance(timestamp, bool) or not isinstance(timestamp, Integral)):
            raise TypeError("'timestamp' must be an integer or None")
        self._table = table
        self._batch_size = batch_size
        self._timestamp = timestamp
        self._transaction = transaction
        self._wal = bool(wal)
        self._families: Optional[List[bytes]] = None
        # Puts and deletes are converted and merged per row natively as they come; `send`
        # hands the whole buffer to the engine in one call.
        self._buffer = _native.MutationBuffer(timestamp)

    def send(self) -> None:
        """Send the batch to the engine."""
        if not self._buffer:
            return
        self._buffer.send(self._table._native())

    def put(self, row: Any, data: Dict[Any, Any], wal: Optional[bool] = None) -> None:
        """Store data in the table (see :py:meth:`Table.put`)."""
        n = self._buffer.put(row, data, self._wal if wal is None else bool(wal))
        if self._batch_size and n >= self._batch_size:
            self.send()

    def delete(self, row: Any, columns: Optional[Iterable[Any]] = None, wal: Optional[bool] = None) -> None:
        """Delete data from the table (see :py:meth:`Table.delete`)."""
        if columns is None:
            # As happybase: a whole-row delete is one family delete per family.
            to_bytes(row, "row key", numbers=False)
            if self._families is None:
                self._families = self._table._column_family_names()
            cols: Iterable[Any] = self._families
        else:
            if isinstance(columns, (str, bytes)):
                raise TypeError("'columns' must be a list or tuple of column names")
            cols = columns
        n = self._buffer.delete(row, cols, self._wal if wal is None else bool(wal))
        if self._batch_size and n >= self._batch_size:
            self.send()

    def __enter__(self) -> "Batch":
        return self

    def __exit__(self, exc_type: Any, exc_value: Any, traceback: Any) -> None:
        if self._transaction and exc_type is not None:
            self._buffer.clear()
            return
        self.send()
