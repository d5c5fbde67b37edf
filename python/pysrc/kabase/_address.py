"""The address rule shared by every facade.

``None``, ``localhost[:port]`` and ``127.0.0.1[:port]`` (also ``[::1]``) mean this process's default
engine, so ``HBase('localhost:2181')`` and ``KafkaProducer('localhost:9092')`` share one engine.
Names of remote clusters (``kafka://``, ``hbase://`` or any other host) are for the remote
backends, which do not exist yet: they raise :class:`kabase.errors.Unsupported`.
"""

from __future__ import annotations

from typing import Any, Iterable, Optional, Union

from . import errors

_LOOPBACK = {"localhost", "127.0.0.1", "::1", "[::1]", "ip6-localhost"}


def _is_loopback(addr: str) -> bool:
    a = addr.strip()
    if a == "":
        return True
    if "://" in a:
        return False
    host = a
    if a.startswith("["):  # [::1]:9092
        end = a.find("]")
        host = a[: end + 1] if end >= 0 else a
    elif a.count(":") == 1:
        host, _, port = a.partition(":")
        if port and not port.isdigit():
            return False
    elif a.count(":") > 1:
        host = a  # bare IPv6
    return host.lower() in _LOOPBACK or host.startswith("127.")


def check_local(address: Union[None, str, Iterable[str]], what: str = "address") -> None:
    """Raise ``Unsupported`` unless every address names this machine's default engine."""
    if address is None:
        return
    if isinstance(address, (bytes, bytearray)):
        address = bytes(address).decode("utf-8", "replace")
    if isinstance(address, str):
        addrs = [p for p in address.split(",")] if "," in address else [address]
    else:
        try:
            addrs = list(address)
        except TypeError:
            raise TypeError(f"{what} must be a str, a list of str or None, not {type(address).__name__}") from None
    for a in addrs:
        if not isinstance(a, str):
            raise TypeError(f"{what} entries must be str, not {type(a).__name__}")
        if not _is_loopback(a):
            raise errors.Unsupported(
                f"{what} {a!r} names a remote cluster; remote backends are not available yet "
                "(use None, 'localhost[:port]' or '127.0.0.1[:port]' for the embedded engine, "
                "or pass engine=)"
            )


def resolve(address: Any = None, engine: Optional[Any] = None, what: str = "address"):
    """The engine a facade binds to: ``engine`` if given, else the default one for a local address."""
    if engine is not None:
        from ._native import Engine

        if not isinstance(engine, Engine):
            raise TypeError(f"engine must be a kabase.Engine, not {type(engine).__name__}")
        return engine
    check_local(address, what)
    from . import default_engine

    return default_engine()
