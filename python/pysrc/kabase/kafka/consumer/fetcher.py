"""``kafka.consumer.fetcher``: the record type."""

from ..structs import ConsumerRecord

__all__ = ["ConsumerRecord"]
