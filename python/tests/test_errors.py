import pytest

import kabase
from kabase import _native, errors
from kabase.kafka import errors as kerrors
import kabase.happybase as happybase


def test_every_core_code_has_a_class():
    assert len(errors.ERROR_CODES) >= 40
    for code, name in errors.ERROR_CODES.items():
        cls = getattr(errors, name)
        assert cls is getattr(_native, name)
        assert issubclass(cls, errors.KabaseError)
        assert cls.code == code
        assert cls.__module__ == "kabase.errors"
        assert errors.by_code(code) is cls
        e = cls("boom")
        assert e.code == code and str(e) == "boom"
    assert errors.by_code(99999) is errors.KabaseError


def test_builtin_bases():
    assert issubclass(errors.InvalidArgument, ValueError)
    assert issubclass(errors.InvalidName, ValueError)
    assert issubclass(errors.InvalidConfig, ValueError)
    assert issubclass(errors.Timeout, TimeoutError)
    assert issubclass(errors.Io, OSError)
    assert errors.TableNotFound.code_name == "TABLE_NOT_FOUND"


def test_kafka_error_names_derive_from_kabase():
    for name in ("KafkaError", "KafkaTimeoutError", "MessageSizeTooLargeError", "TopicAlreadyExistsError",
                 "UnknownTopicOrPartitionError", "CommitFailedError", "IllegalStateError", "NoBrokersAvailable",
                 "KafkaConfigurationError", "InvalidTopicError", "ProducerFencedError", "InvalidTxnStateError",
                 "RebalanceInProgressError", "UnknownMemberIdError", "IllegalGenerationError", "NoOffsetForPartitionError",
                 "OffsetOutOfRangeError", "CorruptRecordException", "FencedInstanceIdError"):
        cls = getattr(kerrors, name)
        assert issubclass(cls, errors.KabaseError), name
        assert issubclass(cls, kerrors.KafkaError), name
    assert issubclass(kerrors.MessageSizeTooLargeError, errors.RecordTooLarge)
    assert kerrors.MessageSizeTooLargeError.errno == 10
    assert kerrors.for_errno(36) is kerrors.TopicAlreadyExistsError


def test_translate_keeps_cause():
    src = errors.RecordTooLarge("record of 2000000 bytes exceeds max.request.size 1048576")
    t = kerrors.translate(src)
    assert isinstance(t, kerrors.MessageSizeTooLargeError)
    assert isinstance(t, errors.RecordTooLarge)
    assert t.__cause__ is src


def test_happybase_error_names():
    assert issubclass(happybase.NoConnectionsAvailable, errors.KabaseError)
    assert issubclass(happybase.AlreadyExists, errors.TableExists)
    assert issubclass(happybase.IllegalArgument, errors.InvalidArgument)
