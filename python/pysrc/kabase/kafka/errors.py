"""kafka-python's exception names (``kafka.errors``), rooted in :class:`kabase.errors.KabaseError`.

Each class that corresponds to a core error code also derives from that code's kabase class, so
``except kafka.errors.MessageSizeTooLargeError`` and ``except kabase.errors.RecordTooLarge`` both
catch an oversize record. ``for_code`` maps a core error to the class kafka-python would raise.
"""

from __future__ import annotations

import inspect
import sys
from typing import Dict, Optional, Type

from .. import errors as _k


class KafkaError(RuntimeError, _k.KabaseError):
    retriable = False
    # whether metadata should be refreshed on error
    invalid_metadata = False

    def __str__(self) -> str:
        if not self.args:
            return self.__class__.__name__
        return "{0}: {1}".format(self.__class__.__name__, super(KafkaError, self).__str__())


class IllegalStateError(KafkaError, _k.InvalidArgument):
    pass


class IllegalArgumentError(KafkaError, _k.InvalidArgument):
    pass


class NoBrokersAvailable(KafkaError):
    retriable = True
    invalid_metadata = True


class NodeNotReadyError(KafkaError):
    retriable = True


class KafkaProtocolError(KafkaError):
    retriable = True


class CorrelationIdError(KafkaProtocolError):
    retriable = True


class Cancelled(KafkaError):
    retriable = True


class TooManyInFlightRequests(KafkaError):
    retriable = True


class StaleMetadata(KafkaError):
    retriable = True
    invalid_metadata = True


class MetadataEmptyBrokerList(KafkaError):
    retriable = True


class UnrecognizedBrokerVersion(KafkaError):
    pass


class IncompatibleBrokerVersion(KafkaError, _k.Unsupported):
    pass


class CommitFailedError(KafkaError, _k.CommitFailed):
    def __init__(self, *args, **kwargs):
        super(CommitFailedError, self).__init__(
            *(args or ("Commit cannot be completed since the group has already rebalanced "
                       "and assigned the partitions to another member.",)),
            **kwargs
        )


class AuthenticationMethodNotSupported(KafkaError):
    pass


class AuthenticationFailedError(KafkaError):
    retriable = False


class KafkaUnavailableError(KafkaError):
    pass


class KafkaTimeoutError(KafkaError, _k.Timeout):
    pass


class KafkaConnectionError(KafkaError):
    retriable = True
    invalid_metadata = True


ConnectionError = KafkaConnectionError  # noqa: A001 - kafka-python's alias


class ProtocolError(KafkaError):
    pass


class UnsupportedCodecError(KafkaError, _k.InvalidConfig):
    pass


class KafkaConfigurationError(KafkaError, _k.InvalidConfig):
    pass


class QuotaViolationError(KafkaError):
    pass


class AsyncProducerQueueFull(KafkaError):
    def __init__(self, failed_msgs, *args):
        super(AsyncProducerQueueFull, self).__init__(*args)
        self.failed_msgs = failed_msgs


class BrokerResponseError(KafkaError):
    errno: Optional[int] = None
    message: Optional[str] = None
    description: Optional[str] = None

    def __str__(self) -> str:
        return "[Error {0}] {1}".format(self.errno, super(BrokerResponseError, self).__str__())


def _broker(name, errno, message, description, *bases, retriable=False, invalid_metadata=False):
    cls = type(name, (BrokerResponseError,) + bases, {
        "errno": errno, "message": message, "description": description,
        "retriable": retriable, "invalid_metadata": invalid_metadata, "__module__": __name__,
    })
    globals()[name] = cls
    return cls


# Kafka's protocol error numbers and names, as kafka-python defines them (source: Apache Kafka's
# `Errors.java` codes, mirrored by kafka-python's kafka/errors.py).
_broker("UnknownError", -1, "UNKNOWN", "The server experienced an unexpected error.", _k.Internal)
_broker("OffsetOutOfRangeError", 1, "OFFSET_OUT_OF_RANGE", "The requested offset is outside the range of offsets maintained by the server.", _k.OffsetOutOfRange)
_broker("CorruptRecordException", 2, "CORRUPT_MESSAGE", "The record failed its CRC check or is otherwise corrupt.", _k.CorruptRecord)
_broker("UnknownTopicOrPartitionError", 3, "UNKNOWN_TOPIC_OR_PARTITION", "This request is for a topic or partition that does not exist.", _k.UnknownPartition, retriable=True, invalid_metadata=True)
_broker("InvalidFetchRequestError", 4, "INVALID_FETCH_SIZE", "The message has a negative size.")
_broker("LeaderNotAvailableError", 5, "LEADER_NOT_AVAILABLE", "There is no leader for this topic-partition.", retriable=True, invalid_metadata=True)
_broker("NotLeaderForPartitionError", 6, "NOT_LEADER_FOR_PARTITION", "This broker is not the leader for that topic-partition.", retriable=True, invalid_metadata=True)
_broker("RequestTimedOutError", 7, "REQUEST_TIMED_OUT", "The request timed out.", _k.Timeout, retriable=True)
_broker("BrokerNotAvailableError", 8, "BROKER_NOT_AVAILABLE", "The broker is not available.")
_broker("ReplicaNotAvailableError", 9, "REPLICA_NOT_AVAILABLE", "The replica is not available.")
_broker("MessageSizeTooLargeError", 10, "MESSAGE_SIZE_TOO_LARGE", "The request included a message larger than the max message size the server will accept.", _k.RecordTooLarge)
_broker("StaleControllerEpochError", 11, "STALE_CONTROLLER_EPOCH", "Internal error code for broker-to-broker communication.")
_broker("OffsetMetadataTooLargeError", 12, "OFFSET_METADATA_TOO_LARGE", "The metadata field of the offset request was too large.", _k.InvalidArgument)
_broker("StaleLeaderEpochCodeError", 13, "STALE_LEADER_EPOCH_CODE", "Stale leader epoch.")
_broker("NetworkExceptionError", 13, "NETWORK_EXCEPTION", "The server disconnected before a response was received.", retriable=True)
_broker("CoordinatorLoadInProgressError", 14, "COORDINATOR_LOAD_IN_PROGRESS", "The coordinator is loading and hence can't process requests.", retriable=True)
_broker("CoordinatorNotAvailableError", 15, "COORDINATOR_NOT_AVAILABLE", "The coordinator is not available.", retriable=True)
_broker("NotCoordinatorError", 16, "NOT_COORDINATOR", "This is not the correct coordinator.", retriable=True)
_broker("InvalidTopicError", 17, "INVALID_TOPIC", "The request attempted to perform an operation on an invalid topic.", _k.InvalidName)
_broker("RecordListTooLargeError", 18, "RECORD_LIST_TOO_LARGE", "The request included message batch larger than the configured segment size on the server.", _k.RecordTooLarge)
_broker("NotEnoughReplicasError", 19, "NOT_ENOUGH_REPLICAS", "Messages are rejected since there are fewer in-sync replicas than required.", retriable=True)
_broker("NotEnoughReplicasAfterAppendError", 20, "NOT_ENOUGH_REPLICAS_AFTER_APPEND", "Messages are written to the log, but to fewer in-sync replicas than required.", retriable=True)
_broker("InvalidRequiredAcksError", 21, "INVALID_REQUIRED_ACKS", "Produce request specified an invalid value for required acks.", _k.InvalidConfig)
_broker("IllegalGenerationError", 22, "ILLEGAL_GENERATION", "Specified group generation id is not valid.", _k.IllegalGeneration)
_broker("InconsistentGroupProtocolError", 23, "INCONSISTENT_GROUP_PROTOCOL", "The group member's supported protocols are incompatible with those of existing members.", _k.InconsistentGroupProtocol)
_broker("InvalidGroupIdError", 24, "INVALID_GROUP_ID", "The configured groupId is invalid.", _k.InvalidName)
_broker("UnknownMemberIdError", 25, "UNKNOWN_MEMBER_ID", "The coordinator is not aware of this member.", _k.UnknownMemberId)
_broker("InvalidSessionTimeoutError", 26, "INVALID_SESSION_TIMEOUT", "The session timeout is not within the range allowed by the broker.", _k.InvalidConfig)
_broker("RebalanceInProgressError", 27, "REBALANCE_IN_PROGRESS", "The group is rebalancing, so a rejoin is needed.", _k.RebalanceInProgress)
_broker("InvalidCommitOffsetSizeError", 28, "INVALID_COMMIT_OFFSET_SIZE", "The committing offset data size is not valid.")
_broker("TopicAuthorizationFailedError", 29, "TOPIC_AUTHORIZATION_FAILED", "Returned by the broker when the client is not authorized to access the requested topic.")
_broker("GroupAuthorizationFailedError", 30, "GROUP_AUTHORIZATION_FAILED", "Returned by the broker when the client is not authorized to access a particular groupId.")
_broker("ClusterAuthorizationFailedError", 31, "CLUSTER_AUTHORIZATION_FAILED", "Returned by the broker when the client is not authorized to use an inter-broker or administrative API.")
_broker("InvalidTimestampError", 32, "INVALID_TIMESTAMP", "The timestamp of the message is out of acceptable range.", _k.InvalidTimestamp)
_broker("UnsupportedSaslMechanismError", 33, "UNSUPPORTED_SASL_MECHANISM", "The broker does not support the requested SASL mechanism.")
_broker("IllegalSaslStateError", 34, "ILLEGAL_SASL_STATE", "Request is not valid given the current SASL state.")
_broker("UnsupportedVersionError", 35, "UNSUPPORTED_VERSION", "The version of API is not supported.", _k.Unsupported)
_broker("TopicAlreadyExistsError", 36, "TOPIC_ALREADY_EXISTS", "Topic with this name already exists.", _k.TopicExists)
_broker("InvalidPartitionsError", 37, "INVALID_PARTITIONS", "Number of partitions is invalid.", _k.InvalidArgument)
_broker("InvalidReplicationFactorError", 38, "INVALID_REPLICATION_FACTOR", "Replication-factor is invalid.", _k.InvalidArgument)
_broker("InvalidReplicationAssignmentError", 39, "INVALID_REPLICATION_ASSIGNMENT", "Replication assignment is invalid.", _k.InvalidArgument)
_broker("InvalidConfigurationError", 40, "INVALID_CONFIG", "Configuration is invalid.", _k.InvalidConfig)
_broker("NotControllerError", 41, "NOT_CONTROLLER", "This is not the correct controller for this cluster.", retriable=True)
_broker("InvalidRequestError", 42, "INVALID_REQUEST", "This most likely occurs because of a request being malformed by the client library.", _k.InvalidArgument)
_broker("UnsupportedForMessageFormatError", 43, "UNSUPPORTED_FOR_MESSAGE_FORMAT", "The message format version on the broker does not support this request.", _k.Unsupported)
_broker("PolicyViolationError", 44, "POLICY_VIOLATION", "Request parameters do not satisfy the configured policy.")
_broker("OutOfOrderSequenceNumberError", 45, "OUT_OF_ORDER_SEQUENCE_NUMBER", "The broker received an out of order sequence number.", _k.OutOfOrderSequence)
_broker("DuplicateSequenceNumberError", 46, "DUPLICATE_SEQUENCE_NUMBER", "The broker received a duplicate sequence number.", _k.DuplicateSequence)
_broker("InvalidProducerEpochError", 47, "INVALID_PRODUCER_EPOCH", "Producer attempted an operation with an old epoch.", _k.InvalidProducerEpoch)
_broker("InvalidTxnStateError", 48, "INVALID_TXN_STATE", "The producer attempted a transactional operation in an invalid state.", _k.InvalidTxnState)
_broker("InvalidProducerIdMappingError", 49, "INVALID_PRODUCER_ID_MAPPING", "The producer attempted to use a producer id which is not currently assigned to its transactional id.", _k.UnknownProducerId)
_broker("InvalidTransactionTimeoutError", 50, "INVALID_TRANSACTION_TIMEOUT", "The transaction timeout is larger than the maximum value allowed by the broker.", _k.InvalidConfig)
_broker("ConcurrentTransactionsError", 51, "CONCURRENT_TRANSACTIONS", "The producer attempted to update a transaction while another concurrent operation on the same transaction was ongoing.", retriable=True)
_broker("TransactionCoordinatorFencedError", 52, "TRANSACTION_COORDINATOR_FENCED", "Indicates that the transaction coordinator sending a WriteTxnMarker is no longer the current coordinator for a given producer.")
_broker("TransactionalIdAuthorizationFailedError", 53, "TRANSACTIONAL_ID_AUTHORIZATION_FAILED", "Transactional Id authorization failed.")
_broker("SecurityDisabledError", 54, "SECURITY_DISABLED", "Security features are disabled.")
_broker("OperationNotAttemptedError", 55, "OPERATION_NOT_ATTEMPTED", "The broker did not attempt to execute this operation.")
_broker("KafkaStorageError", 56, "KAFKA_STORAGE_ERROR", "Disk error when trying to access log file on the disk.", _k.Io, retriable=True, invalid_metadata=True)
_broker("NonEmptyGroupError", 68, "NON_EMPTY_GROUP", "The group is not empty.", _k.GroupNotEmpty)
_broker("GroupIdNotFoundError", 69, "GROUP_ID_NOT_FOUND", "The group id does not exist.", _k.GroupNotFound)
_broker("UnknownProducerIdError", 59, "UNKNOWN_PRODUCER_ID", "The broker could not locate the producer metadata associated with the producerId in question.", _k.UnknownProducerId)
_broker("FencedInstanceIdError", 82, "FENCED_INSTANCE_ID", "The broker rejected this static consumer since another consumer with the same group.instance.id has registered with a different member.id.", _k.FencedInstanceId)
_broker("ProducerFencedError", 90, "PRODUCER_FENCED", "There is a newer producer with the same transactionalId which fences the current one.", _k.ProducerFenced)
_broker("TransactionAbortedError", 48, "TRANSACTION_ABORTED", "The transaction was aborted.", _k.TransactionAborted)

InvalidMessageError = globals()["CorruptRecordException"]
GroupLoadInProgressError = globals()["CoordinatorLoadInProgressError"]
GroupCoordinatorNotAvailableError = globals()["CoordinatorNotAvailableError"]
NotCoordinatorForGroupError = globals()["NotCoordinatorError"]


class NoOffsetForPartitionError(KafkaError, _k.NoOffsetForPartition):
    """No committed offset and ``auto_offset_reset='none'``."""


class KafkaClosedError(KafkaError, _k.Closed):
    """The producer, consumer or engine was closed."""


class UnknownTopicError(KafkaError, _k.TopicNotFound):
    """The topic does not exist (and was not created on use)."""


# core error code -> the class kafka-python raises for it.
_BY_CODE: Dict[int, Type[KafkaError]] = {
    _k.RecordTooLarge.code: globals()["MessageSizeTooLargeError"],
    _k.OffsetOutOfRange.code: globals()["OffsetOutOfRangeError"],
    _k.CorruptRecord.code: globals()["CorruptRecordException"],
    _k.Corrupt.code: globals()["CorruptRecordException"],
    _k.TopicNotFound.code: globals()["UnknownTopicOrPartitionError"],
    _k.UnknownPartition.code: globals()["UnknownTopicOrPartitionError"],
    _k.TopicExists.code: globals()["TopicAlreadyExistsError"],
    _k.InvalidName.code: globals()["InvalidTopicError"],
    _k.InvalidConfig.code: KafkaConfigurationError,
    _k.InvalidArgument.code: IllegalArgumentError,
    _k.Timeout.code: KafkaTimeoutError,
    _k.Closed.code: KafkaClosedError,
    _k.Unsupported.code: globals()["UnsupportedVersionError"],
    _k.OutOfOrderSequence.code: globals()["OutOfOrderSequenceNumberError"],
    _k.DuplicateSequence.code: globals()["DuplicateSequenceNumberError"],
    _k.ProducerFenced.code: globals()["ProducerFencedError"],
    _k.InvalidProducerEpoch.code: globals()["InvalidProducerEpochError"],
    _k.InvalidTxnState.code: globals()["InvalidTxnStateError"],
    _k.UnknownProducerId.code: globals()["UnknownProducerIdError"],
    _k.TransactionAborted.code: globals()["TransactionAbortedError"],
    _k.InvalidTimestamp.code: globals()["InvalidTimestampError"],
    _k.GroupNotFound.code: globals()["GroupIdNotFoundError"],
    _k.RebalanceInProgress.code: globals()["RebalanceInProgressError"],
    _k.IllegalGeneration.code: globals()["IllegalGenerationError"],
    _k.UnknownMemberId.code: globals()["UnknownMemberIdError"],
    _k.FencedInstanceId.code: globals()["FencedInstanceIdError"],
    _k.CommitFailed.code: CommitFailedError,
    _k.NoOffsetForPartition.code: NoOffsetForPartitionError,
    _k.GroupNotEmpty.code: globals()["NonEmptyGroupError"],
    _k.InconsistentGroupProtocol.code: globals()["InconsistentGroupProtocolError"],
    _k.Io.code: globals()["KafkaStorageError"],
    _k.Internal.code: globals()["UnknownError"],
}


def for_code(code: Optional[int]) -> Type[KafkaError]:
    """The kafka-python class for a core error code."""
    return _BY_CODE.get(code, KafkaError) if code is not None else KafkaError


def translate(exc: BaseException) -> BaseException:
    """A kabase error as the kafka-python class (the original becomes ``__cause__``)."""
    if isinstance(exc, KafkaError) or not isinstance(exc, _k.KabaseError):
        return exc
    cls = for_code(getattr(exc, "code", None))
    new = cls(*exc.args)
    new.__cause__ = exc
    return new


kafka_errors = {
    cls.errno: cls
    for cls in list(globals().values())
    if inspect.isclass(cls) and issubclass(cls, BrokerResponseError) and cls.errno is not None
}


def for_errno(errno: int) -> Type[KafkaError]:
    return kafka_errors.get(errno, globals()["UnknownError"])


def check_error(response) -> None:
    """kafka-python's helper: raise the class of ``response.error_code`` when non-zero."""
    code = getattr(response, "error_code", 0)
    if code:
        raise for_errno(code)()


__all__ = [n for n, v in list(globals().items()) if inspect.isclass(v) and issubclass(v, BaseException)] + [
    "for_code", "translate", "for_errno", "check_error", "kafka_errors"]
del sys
