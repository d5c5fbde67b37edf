"""happybase ``Batch``: buffered puts and deletes sent in one call."""

from __future__ import annotations

from collections import OrderedDict
from numbers import Integral
from typing import Any, Dict, Iterable, List, Optional, Tuple

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
        self._reset_mutations()

    def _reset_mutations(self) -> None:
        # row -> [puts {col: value}, deletes [col], wal]
        self._mutations: "OrderedDict[bytes, List[Any]]" = OrderedDict()
        self._mutation_count = 0

    def send(self) -> None:
        """Send the batch to the engine."""
        if not self._mutations:
            return
        ops = [
            (row, list(puts.items()), dels, False, self._timestamp, wal)
            for row, (puts, dels, wal) in self._mutations.items()
        ]
        self._reset_mutations()
        self._table._native().mutate(ops)

    def _entry(self, row: bytes, wal: Optional[bool]) -> List[Any]:
        e = self._mutations.get(row)
        w = self._wal if wal is None else bool(wal)
        if e is None:
            e = [OrderedDict(), [], w]
            self._mutations[row] = e
        elif not w:
            e[2] = False
        return e

    def put(self, row: Any, data: Dict[Any, Any], wal: Optional[bool] = None) -> None:
        """Store data in the table (see :py:meth:`Table.put`)."""
        row_b = to_bytes(row, "row key", numbers=False)
        if not hasattr(data, "items"):
            raise TypeError(f"'data' must be a dict, not {type(data).__name__}")
        cells: List[Tuple[bytes, bytes]] = [
            (to_bytes(c, "column", numbers=False), to_bytes(v, "value", numbers=False)) for c, v in data.items()
        ]
        puts = self._entry(row_b, wal)[0]
        for c, v in cells:
            puts[c] = v
        self._mutation_count += len(cells)
        self._check_send()

    def delete(self, row: Any, columns: Optional[Iterable[Any]] = None, wal: Optional[bool] = None) -> None:
        """Delete data from the table (see :py:meth:`Table.delete`)."""
        row_b = to_bytes(row, "row key", numbers=False)
        if columns is None:
            # As happybase: a whole-row delete is one family delete per family.
            if self._families is None:
                self._families = self._table._column_family_names()
            cols = list(self._families)
        else:
            if isinstance(columns, (str, bytes)):
                raise TypeError("'columns' must be a list or tuple of column names")
            cols = [to_bytes(c, "column", numbers=False) for c in columns]
        self._entry(row_b, wal)[1].extend(cols)
        self._mutation_count += len(cols)
        self._check_send()

    def _check_send(self) -> None:
        if self._batch_size and self._mutation_count >= self._batch_size:
            self.send()

    def __enter__(self) -> "Batch":
        return self

    def __exit__(self, exc_type: Any, exc_value: Any, traceback: Any) -> None:
        if self._transaction and exc_type is not None:
            self._reset_mutations()
            return
        self.send()
