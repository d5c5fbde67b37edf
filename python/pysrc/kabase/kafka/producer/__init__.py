"""``kafka.producer``."""

from .future import FutureRecordMetadata
from .kafka import KafkaProducer

__all__ = ["KafkaProducer", "FutureRecordMetadata"]
