"""kabase's exception hierarchy.

Every class is created by the native module from the core's error codes (one class per code) and
re-exported here, so ``except kabase.errors.TableNotFound`` catches exactly what the engine raised.
All derive from :class:`KabaseError`; each has ``code`` (the stable number) and ``code_name``
(e.g. ``"TABLE_NOT_FOUND"``). ``InvalidArgument``, ``InvalidName`` and ``InvalidConfig`` are also
``ValueError``; ``Timeout`` is also ``TimeoutError``; ``Io`` is also ``OSError``.
"""

from . import _native

KabaseError = _native.KabaseError

#: code number -> class name, for every code the core defines.
ERROR_CODES = dict(_native.ERROR_CODES)

Internal = _native.Internal
Io = _native.Io
Corrupt = _native.Corrupt
InvalidArgument = _native.InvalidArgument
Closed = _native.Closed
EngineLocked = _native.EngineLocked
Unsupported = _native.Unsupported
Timeout = _native.Timeout
InvalidName = _native.InvalidName
IncompatibleFormat = _native.IncompatibleFormat
InvalidConfig = _native.InvalidConfig
NamespaceNotFound = _native.NamespaceNotFound
NamespaceExists = _native.NamespaceExists
NamespaceNotEmpty = _native.NamespaceNotEmpty
TableNotFound = _native.TableNotFound
TableExists = _native.TableExists
TableDisabled = _native.TableDisabled
TableNotDisabled = _native.TableNotDisabled
NoSuchColumnFamily = _native.NoSuchColumnFamily
FilterSyntax = _native.FilterSyntax
NotALong = _native.NotALong
RowRejected = _native.RowRejected
TopicNotFound = _native.TopicNotFound
TopicExists = _native.TopicExists
UnknownPartition = _native.UnknownPartition
RecordTooLarge = _native.RecordTooLarge
OffsetOutOfRange = _native.OffsetOutOfRange
CorruptRecord = _native.CorruptRecord
OutOfOrderSequence = _native.OutOfOrderSequence
DuplicateSequence = _native.DuplicateSequence
ProducerFenced = _native.ProducerFenced
InvalidProducerEpoch = _native.InvalidProducerEpoch
InvalidTxnState = _native.InvalidTxnState
UnknownProducerId = _native.UnknownProducerId
TransactionAborted = _native.TransactionAborted
InvalidTimestamp = _native.InvalidTimestamp
GroupNotFound = _native.GroupNotFound
RebalanceInProgress = _native.RebalanceInProgress
IllegalGeneration = _native.IllegalGeneration
UnknownMemberId = _native.UnknownMemberId
FencedInstanceId = _native.FencedInstanceId
CommitFailed = _native.CommitFailed
NoOffsetForPartition = _native.NoOffsetForPartition
GroupNotEmpty = _native.GroupNotEmpty
InconsistentGroupProtocol = _native.InconsistentGroupProtocol
StreamNotFound = _native.StreamNotFound
StreamExists = _native.StreamExists


def by_code(code: int) -> type:
    """The exception class of a core error code (``KabaseError`` for an unknown one)."""
    name = ERROR_CODES.get(code)
    return globals().get(name, KabaseError) if name else KabaseError


# Codes the core may add later still get their class here, even before this file names them.
for _code, _name in ERROR_CODES.items():
    if _name not in globals():
        globals()[_name] = getattr(_native, _name)
del _code, _name

__all__ = ["KabaseError", "ERROR_CODES", "by_code"] + sorted(ERROR_CODES.values())
