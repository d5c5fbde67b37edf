"""``kafka.consumer.subscription_state``: the rebalance listener interface."""

from __future__ import annotations

import abc


class ConsumerRebalanceListener(object):
    """Callbacks run inside ``poll()`` when the group's assignment changes: first
    ``on_partitions_revoked`` with the partitions taken away (commit their offsets here), then
    ``on_partitions_assigned`` with the new ones."""

    __metaclass__ = abc.ABCMeta

    def on_partitions_revoked(self, revoked):  # pragma: no cover - interface
        pass

    def on_partitions_assigned(self, assigned):  # pragma: no cover - interface
        pass

    def on_partitions_lost(self, lost):
        """Partitions lost without a chance to commit (kafka-python 2.1+). By default the same
        as a revocation, as in the Java client."""
        return self.on_partitions_revoked(lost)


__all__ = ["ConsumerRebalanceListener"]
