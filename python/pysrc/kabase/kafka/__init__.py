"""kabase's drop-in for kafka-python (2.x): ``import kabase.kafka as kafka``, or run code
written for kafka-python unchanged after :func:`kabase.install_as_modules`.

Producers, consumers (with real consumer groups) and the admin client work against the embedded
engine; ``bootstrap_servers`` follows kabase's address rule.
"""

from . import errors
from .admin import KafkaAdminClient
from .consumer import KafkaConsumer
from .consumer.subscription_state import ConsumerRebalanceListener
from .producer import KafkaProducer
from .structs import ConsumerRecord, OffsetAndMetadata, OffsetAndTimestamp, RecordMetadata, TopicPartition

__version__ = "2.0.2"
__author__ = "kabase"

__all__ = [
    "KafkaAdminClient", "KafkaConsumer", "KafkaProducer", "ConsumerRebalanceListener",
    "TopicPartition", "OffsetAndMetadata", "OffsetAndTimestamp", "ConsumerRecord", "RecordMetadata",
    "errors",
]
