"""happybase-side exception names.

happybase raises the Thrift gateway's exceptions (``IOError``, ``IllegalArgument``,
``AlreadyExists`` from ``Hbase.thrift``) and its own ``NoConnectionsAvailable``; here they derive
from :class:`kabase.errors.KabaseError` and from the matching kabase class, so code that catches
either name works.
"""

from .. import errors


class NoConnectionsAvailable(errors.Timeout):
    """No connection became available in the pool within the timeout (happybase's name)."""


class AlreadyExists(errors.TableExists):
    """Thrift ``AlreadyExists``: the table already exists."""


class IllegalArgument(errors.InvalidArgument):
    """Thrift ``IllegalArgument``."""


class IOError(errors.KabaseError):  # noqa: A001 - the Thrift IDL's name
    """Thrift ``IOError``: the server-side operation failed (kabase's class is the cause)."""
