"""Type conversions shared by the facades (str/bytes/int/float <-> bytes)."""

from __future__ import annotations

from typing import Any, Union

Bytesish = Union[str, bytes, bytearray, memoryview, int, float]


def to_bytes(v: Any, what: str = "value", numbers: bool = True) -> bytes:
    """``str`` -> UTF-8, ``bytes``-likes as is, ``int``/``float`` as their ``str()`` (when allowed)."""
    if isinstance(v, bytes):
        return v
    if isinstance(v, str):
        return v.encode("utf-8")
    if isinstance(v, (bytearray, memoryview)):
        return bytes(v)
    if numbers and isinstance(v, (int, float)) and not isinstance(v, bool):
        return str(v).encode("utf-8")
    kinds = "str, bytes, int or float" if numbers else "str or bytes"
    raise TypeError(f"{what} must be {kinds}, not {type(v).__name__}")


def to_text(b: bytes) -> Union[str, bytes]:
    """``str`` when ``b`` is valid UTF-8, else the bytes themselves."""
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return b


def to_str(v: Any, what: str = "name") -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, (bytes, bytearray)):
        try:
            return bytes(v).decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError(f"{what} must be valid UTF-8") from None
    raise TypeError(f"{what} must be str or bytes, not {type(v).__name__}")
