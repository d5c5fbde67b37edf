"""kafka-python's plain record types (``kafka.structs``)."""

from __future__ import annotations

from collections import namedtuple

TopicPartition = namedtuple("TopicPartition", ["topic", "partition"])
TopicPartition.__doc__ = "A topic and partition tuple."

BrokerMetadata = namedtuple("BrokerMetadata", ["nodeId", "host", "port", "rack"])

PartitionMetadata = namedtuple("PartitionMetadata", ["topic", "partition", "leader", "replicas", "isr", "error"])

OffsetAndMetadata = namedtuple("OffsetAndMetadata", ["offset", "metadata", "leader_epoch"], defaults=("", -1))
OffsetAndMetadata.__doc__ = "The Kafka offset commit API: offset, metadata string, leader epoch."

OffsetAndTimestamp = namedtuple("OffsetAndTimestamp", ["offset", "timestamp", "leader_epoch"], defaults=(-1,))
OffsetAndTimestamp.__doc__ = "Result of offsets_for_times: the first offset at or after a timestamp."

# 2.0.2's field order, plus leader_epoch (2.1+) at the end so positional unpacking of the first
# eleven fields still works.
ConsumerRecord = namedtuple(
    "ConsumerRecord",
    ["topic", "partition", "offset", "timestamp", "timestamp_type", "key", "value", "headers",
     "checksum", "serialized_key_size", "serialized_value_size", "serialized_header_size", "leader_epoch"],
    defaults=(-1,),
)

RecordMetadata = namedtuple(
    "RecordMetadata",
    ["topic", "partition", "topic_partition", "offset", "timestamp", "checksum",
     "serialized_key_size", "serialized_value_size", "serialized_header_size"],
)

__all__ = ["TopicPartition", "BrokerMetadata", "PartitionMetadata", "OffsetAndMetadata",
           "OffsetAndTimestamp", "ConsumerRecord", "RecordMetadata"]
