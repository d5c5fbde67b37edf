"""kabase: HBase-style tables and Kafka-style topics in one embedded engine.

>>> import kabase
>>> with kabase.open(memory=True) as eng:
...     eng.closed
False
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Optional, Union

from . import _native, errors
from ._native import Engine

__version__: str = _native.__version__

__all__ = ["Engine", "open", "default_engine", "install_as_modules", "errors", "__version__"]

if hasattr(_native, "Stream"):
    from ._native import Stream  # noqa: F401 - a change stream (Table.stream_to, Engine.stream_from)

    __all__.append("Stream")

_default_lock = threading.Lock()
_default: Optional[Engine] = None


def open(
    path: Union[None, str, "os.PathLike[str]"] = None,
    memory: bool = False,
    num_partitions: int = 1,
) -> Engine:
    """Open an engine: in ``path``, in memory (``memory=True``), or in the default data directory
    (``$KABASE_DATA_DIR``, else ``./kabase-data``). A directory this process already has open gives
    a handle to the same engine; one held by another process raises ``errors.EngineLocked``."""
    if path is not None and not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be str or os.PathLike, not {type(path).__name__}")
    return Engine(path, memory=memory, num_partitions=num_partitions)


def default_engine() -> Engine:
    """The process-wide default engine (the default data directory), opened on first use and
    opened again if it was closed."""
    global _default
    with _default_lock:
        if _default is None or _default.closed:
            _default = Engine(None)
        return _default


def _close_default_at_exit() -> None:
    eng = _default
    if eng is not None and not eng.closed:
        try:
            eng.close()
        except Exception:  # noqa: BLE001 - nothing useful to do at interpreter exit
            pass


import atexit as _atexit  # noqa: E402

_atexit.register(_close_default_at_exit)

_ALIASES = {"kafka": "kabase.kafka", "hbase": "kabase.hbase", "happybase": "kabase.happybase"}


def install_as_modules() -> None:
    """Make ``import kafka``, ``import happybase`` and ``import hbase`` (and their submodules,
    e.g. ``kafka.admin``, ``kafka.errors``) load kabase's drop-ins."""
    import importlib
    import pkgutil

    for alias, target in _ALIASES.items():
        mod = importlib.import_module(target)
        sys.modules[alias] = mod
        path = getattr(mod, "__path__", None)
        if path is None:
            continue
        for info in pkgutil.walk_packages(path, prefix=target + "."):
            sub = importlib.import_module(info.name)
            sys.modules[alias + info.name[len(target):]] = sub
