"""kafka-python's plain record types (``kafka.structs``)."""

from __future__ import annotations

import collections.abc as _abc
from collections import namedtuple

from .. import _native

TopicPartition = namedtuple("TopicPartition", ["topic", "partition"])
TopicPartition.__doc__ = "A topic and partition tuple."

BrokerMetadata = namedtuple("BrokerMetadata", ["nodeId", "host", "port", "rack"])

PartitionMetadata = namedtuple("PartitionMetadata", ["topic", "partition", "leader", "replicas", "isr", "error"])

OffsetAndMetadata = namedtuple("OffsetAndMetadata", ["offset", "metadata", "leader_epoch"], defaults=("", -1))
OffsetAndMetadata.__doc__ = "The Kafka offset commit API: offset, metadata string, leader epoch."

OffsetAndTimestamp = namedtuple("OffsetAndTimestamp", ["offset", "timestamp", "leader_epoch"], defaults=(-1,))
OffsetAndTimestamp.__doc__ = "Result of offsets_for_times: the first offset at or after a timestamp."

# kafka-python's consumed record: 2.0.2's field order, plus leader_epoch (2.1+) at the end so
# positional unpacking of the first twelve fields still works. The consumer builds it natively
# (kabase._native.ConsumerRecord): it behaves as the namedtuple does (fields, _fields, indexing
# and slicing, len, iteration, ==/hash as the equal tuple, repr, _asdict, _replace, _make,
# pickling, copy) but is not a tuple subclass: isinstance(r, tuple) is false, and code that
# needs a real tuple ("%s" % r, json.dumps(r)) takes tuple(r). It is a registered
# collections.abc.Sequence. A build without topics falls back to the namedtuple.
_FIELDS = ["topic", "partition", "offset", "timestamp", "timestamp_type", "key", "value", "headers",
           "checksum", "serialized_key_size", "serialized_value_size", "serialized_header_size", "leader_epoch"]
if hasattr(_native, "ConsumerRecord"):
    ConsumerRecord = _native.ConsumerRecord
    _abc.Sequence.register(ConsumerRecord)
else:  # pragma: no cover - builds without topics have no consumer
    ConsumerRecord = namedtuple("ConsumerRecord", _FIELDS, defaults=(-1,))

RecordMetadata = namedtuple(
    "RecordMetadata",
    ["topic", "partition", "topic_partition", "offset", "timestamp", "checksum",
     "serialized_key_size", "serialized_value_size", "serialized_header_size"],
)

__all__ = ["TopicPartition", "BrokerMetadata", "PartitionMetadata", "OffsetAndMetadata",
           "OffsetAndTimestamp", "ConsumerRecord", "RecordMetadata"]
