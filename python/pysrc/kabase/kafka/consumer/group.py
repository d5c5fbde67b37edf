"""kafka-python's ``KafkaConsumer`` over the engine's consumer and consumer groups."""

from __future__ import annotations

import re
import time
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Set, Tuple

from ... import _address, _native
from .. import errors as Errors
from ..structs import ConsumerRecord, OffsetAndMetadata, OffsetAndTimestamp, TopicPartition
from .subscription_state import ConsumerRebalanceListener

__all__ = ["KafkaConsumer"]

# kafka-python config name -> the engine's (Kafka's) name, for the fetch side.
_FETCH_KEYS = {
    "auto_offset_reset": "auto.offset.reset",
    "isolation_level": "isolation.level",
    "max_poll_records": "max.poll.records",
    "max_partition_fetch_bytes": "max.partition.fetch.bytes",
    "fetch_max_bytes": "fetch.max.bytes",
    "client_id": "client.id",
}
# ... and for the group side.
_GROUP_KEYS = {
    "group_instance_id": "group.instance.id",
    "session_timeout_ms": "session.timeout.ms",
    "heartbeat_interval_ms": "heartbeat.interval.ms",
    "max_poll_interval_ms": "max.poll.interval.ms",
    "partition_assignment_strategy": "partition.assignment.strategy",
    "client_id": "client.id",
}
_PY_ONLY = {
    "bootstrap_servers", "group_id", "key_deserializer", "value_deserializer",
    "enable_auto_commit", "auto_commit_interval_ms", "consumer_timeout_ms", "default_offset_commit_callback",
    "fetch_min_bytes", "fetch_max_wait_ms", "request_timeout_ms", "retry_backoff_ms",
    "reconnect_backoff_ms", "reconnect_backoff_max_ms", "max_in_flight_requests_per_connection",
    "receive_buffer_bytes", "send_buffer_bytes", "socket_options", "sock_chunk_bytes",
    "sock_chunk_buffer_count", "check_crcs", "allow_auto_create_topics", "metadata_max_age_ms",
    "security_protocol", "ssl_context", "ssl_check_hostname", "ssl_cafile", "ssl_certfile",
    "ssl_keyfile", "ssl_crlfile", "ssl_password", "ssl_ciphers", "api_version",
    "api_version_auto_timeout_ms", "connections_max_idle_ms", "metric_reporters", "metrics_enabled",
    "metrics_num_samples", "metrics_sample_window_ms", "metric_group_prefix", "selector",
    "exclude_internal_topics", "sasl_mechanism", "sasl_plain_username", "sasl_plain_password",
    "sasl_kerberos_name", "sasl_kerberos_service_name", "sasl_kerberos_domain_name",
    "sasl_oauth_token_provider", "socks5_proxy", "kafka_client", "legacy_iterator", "engine",
    # The rebalance timeout is the group's max_poll_interval_ms, as in Kafka's default.
    "rebalance_timeout_ms",
}

# kafka-python's assignor classes and the Java class names, to the engine's names.
_ASSIGNORS = {
    "range": "range", "roundrobin": "roundrobin", "sticky": "sticky",
    "cooperative-sticky": "cooperative-sticky", "cooperative_sticky": "cooperative-sticky",
    "org.apache.kafka.clients.consumer.RangeAssignor": "range",
    "org.apache.kafka.clients.consumer.RoundRobinAssignor": "roundrobin",
    "org.apache.kafka.clients.consumer.StickyAssignor": "sticky",
    "org.apache.kafka.clients.consumer.CooperativeStickyAssignor": "cooperative-sticky",
    "RangePartitionAssignor": "range", "RoundRobinPartitionAssignor": "roundrobin",
    "StickyPartitionAssignor": "sticky",
}


def _assignor_name(a: Any) -> str:
    if isinstance(a, str):
        name = a
    else:
        name = getattr(a, "name", None) or getattr(a, "__name__", None) or type(a).__name__
    key = _ASSIGNORS.get(name) or _ASSIGNORS.get(str(name).lower())
    if key is None:
        raise Errors.KafkaConfigurationError(
            f"unknown partition_assignment_strategy {name!r}; use range, roundrobin, sticky, "
            "cooperative-sticky or their Java class names"
        )
    return key


def _cfg(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _tp(x: Any) -> Tuple[str, int]:
    try:
        topic, partition = x[0], x[1]
    except (TypeError, IndexError, KeyError):
        raise TypeError(f"expected a TopicPartition, not {type(x).__name__}") from None
    if not isinstance(topic, str) or isinstance(partition, bool) or not isinstance(partition, int):
        raise TypeError("TopicPartition needs a str topic and an int partition")
    return topic, partition


class _ListenerAdapter(object):
    """Passes the core consumer's rebalance callbacks (tuples) to a kafka-python listener. They
    run inside ``poll()``, ``unsubscribe()`` and ``close()``, with the consumer usable from the
    callback (``position``, ``seek``, ``commit``, ``committed``...), as in kafka-python."""

    def __init__(self, listener: Optional[ConsumerRebalanceListener]) -> None:
        self._listener = listener

    def on_partitions_revoked(self, tps: List[Tuple[str, int]]) -> None:
        if self._listener is not None:
            self._listener.on_partitions_revoked(set(TopicPartition(t, p) for t, p in tps))

    def on_partitions_assigned(self, tps: List[Tuple[str, int]]) -> None:
        if self._listener is not None:
            self._listener.on_partitions_assigned(set(TopicPartition(t, p) for t, p in tps))

    def on_partitions_lost(self, tps: List[Tuple[str, int]]) -> None:
        if self._listener is not None:
            lost = getattr(self._listener, "on_partitions_lost", None)
            s = set(TopicPartition(t, p) for t, p in tps)
            if lost is not None:
                lost(s)
            else:
                self._listener.on_partitions_revoked(s)


class KafkaConsumer(object):
    """kafka-python's consumer over the engine.

    ``KafkaConsumer(*topics, bootstrap_servers=None, group_id=None, ...)``. With ``group_id``,
    consumers of one group in one engine form a real group and rebalance as members join and
    leave; without it, subscribed topics are consumed whole. Iterate it, or ``poll()``.
    """

    DEFAULT_CONFIG: Dict[str, Any] = {
        "bootstrap_servers": "localhost",
        "client_id": "kafka-python-kabase",
        "group_id": None,
        "key_deserializer": None,
        "value_deserializer": None,
        "auto_offset_reset": "latest",
        "enable_auto_commit": True,
        "auto_commit_interval_ms": 5000,
        "max_poll_records": 500,
        "consumer_timeout_ms": float("inf"),
        "isolation_level": "read_uncommitted",
        "partition_assignment_strategy": ("range", "roundrobin"),
    }

    def __init__(self, *topics: str, **configs: Any) -> None:
        engine = configs.pop("engine", None)
        unknown = [k for k in configs if k not in _FETCH_KEYS and k not in _GROUP_KEYS and k not in _PY_ONLY]
        if unknown:
            raise Errors.KafkaConfigurationError("Unrecognized configs: %s" % (sorted(unknown),))
        self._engine = _address.resolve(configs.get("bootstrap_servers"), engine, "bootstrap_servers")
        self.config: Dict[str, Any] = dict(self.DEFAULT_CONFIG)
        self.config.update(configs)
        c = self.config
        for name in ("key_deserializer", "value_deserializer"):
            if c[name] is not None and not callable(c[name]):
                raise Errors.KafkaConfigurationError(f"{name} must be callable")
        group_id = c["group_id"]
        if group_id is not None and not isinstance(group_id, str):
            raise TypeError("group_id must be a str or None")
        if c["isolation_level"] not in ("read_uncommitted", "read_committed"):
            raise Errors.KafkaConfigurationError("isolation_level must be read_uncommitted or read_committed")
        ct = c["consumer_timeout_ms"]
        if ct is not None and not isinstance(ct, (int, float)):
            raise TypeError("consumer_timeout_ms must be a number")
        fetch = [(_FETCH_KEYS[k], _cfg(v)) for k, v in configs.items() if k in _FETCH_KEYS and v is not None]
        if "auto_offset_reset" not in configs:
            fetch.append(("auto.offset.reset", "latest"))
        group: List[Tuple[str, str]] = []
        for k, v in configs.items():
            if k in _GROUP_KEYS and v is not None:
                if k == "partition_assignment_strategy":
                    seq = [v] if isinstance(v, str) else list(v)
                    group.append((_GROUP_KEYS[k], ",".join(_assignor_name(a) for a in seq)))
                elif k == "client_id":
                    continue
                else:
                    group.append((_GROUP_KEYS[k], _cfg(v)))
        if "partition_assignment_strategy" not in configs:
            group.append(("partition.assignment.strategy", "range,roundrobin"))
        # With auto-commit the core consumer commits positions every auto_commit_interval_ms,
        # inside each revocation and on close, as kafka-python's coordinator does.
        group.append(("enable.auto.commit", _cfg(bool(c["enable_auto_commit"]))))
        group.append(("auto.commit.interval.ms", _cfg(int(c["auto_commit_interval_ms"]))))
        try:
            self._native = _native.Consumer(self._engine, fetch, group_id, group)
        except Exception as e:
            raise Errors.translate(e) from e
        self._group_id = group_id
        self._auto_commit = bool(c["enable_auto_commit"]) and group_id is not None
        self._closed = False
        self._iter_buffer: List[ConsumerRecord] = []
        self._iter_pos = 0
        self._consumer_timeout = float("inf") if ct is None else float(ct) / 1000.0
        self._kd: Optional[Callable[[bytes], Any]] = c["key_deserializer"]
        self._vd: Optional[Callable[[bytes], Any]] = c["value_deserializer"]
        self._max_poll_records = int(c["max_poll_records"])
        if topics:
            self.subscribe(topics=list(topics))

    # -- helpers
    def _call(self, name: str, *args: Any) -> Any:
        if self._closed:
            raise Errors.KafkaClosedError("KafkaConsumer is closed")
        try:
            return getattr(self._native, name)(*args)
        except Errors.KafkaError:
            raise
        except Exception as e:
            raise Errors.translate(e) from e

    # -- subscription and assignment
    def subscribe(self, topics: Sequence[str] = (), pattern: Optional[str] = None, listener: Optional[ConsumerRebalanceListener] = None) -> None:
        """Subscribe to topics (or a regex ``pattern``); with a group, partitions are assigned
        by the group's assignor."""
        if isinstance(topics, str):
            topics = [topics]
        topics = list(topics or [])
        if not topics and pattern is None:
            raise Errors.IllegalStateError("You must choose topic(s) or pattern to subscribe")
        if topics and pattern is not None:
            raise Errors.IllegalStateError("You must choose only one way to subscribe: topics or pattern")
        if listener is not None and not isinstance(listener, ConsumerRebalanceListener):
            if not (hasattr(listener, "on_partitions_revoked") and hasattr(listener, "on_partitions_assigned")):
                raise TypeError("listener must be a ConsumerRebalanceListener")
        for t in topics:
            if not isinstance(t, str):
                raise TypeError(f"topics must be str, not {type(t).__name__}")
        adapter = None if listener is None else _ListenerAdapter(listener)
        if pattern is not None:
            if not isinstance(pattern, str):
                pattern = getattr(pattern, "pattern", pattern)
            try:
                re.compile(pattern)
            except re.error as e:
                raise Errors.IllegalArgumentError(f"bad topic pattern {pattern!r}: {e}") from None
            self._call("subscribe", None, pattern, adapter)
        else:
            self._call("subscribe", topics, None, adapter)

    def subscription(self) -> Optional[Set[str]]:
        s = self._call("subscription")
        return None if s is None else set(s)

    def unsubscribe(self) -> None:
        self._call("unsubscribe")
        self._iter_buffer, self._iter_pos = [], 0

    def assign(self, partitions: Iterable[Any]) -> None:
        """Manually assign partitions (no group rebalancing)."""
        if isinstance(partitions, (str, bytes)):
            raise TypeError("partitions must be a list of TopicPartition")
        self._call("assign", [_tp(p) for p in partitions])

    def assignment(self) -> Set[TopicPartition]:
        return set(TopicPartition(t, p) for t, p in self._call("assignment"))

    # -- fetching
    def poll(self, timeout_ms: int = 0, max_records: Optional[int] = None, update_offsets: bool = True) -> Dict[TopicPartition, List[ConsumerRecord]]:
        """Fetch records: ``{TopicPartition: [ConsumerRecord]}`` (empty after ``timeout_ms``)."""
        if isinstance(timeout_ms, bool) or not isinstance(timeout_ms, (int, float)) or timeout_ms < 0:
            raise ValueError("timeout_ms must be a non-negative number")
        if max_records is None:
            max_records = self._max_poll_records
        elif isinstance(max_records, bool) or not isinstance(max_records, int) or max_records < 1:
            raise ValueError("max_records must be a positive integer")
        # Records (keys and values through the deserializers) and the {TopicPartition: [...]}
        # dict are built natively in one pass.
        return self._call("poll", int(max_records), int(timeout_ms), ConsumerRecord, TopicPartition, self._kd, self._vd)

    def __iter__(self) -> "KafkaConsumer":
        return self

    def __next__(self) -> ConsumerRecord:
        if self._iter_pos < len(self._iter_buffer):
            r = self._iter_buffer[self._iter_pos]
            self._iter_pos += 1
            return r
        deadline = time.monotonic() + self._consumer_timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise StopIteration
            wait_ms = int(min(remaining * 1000.0, 1000.0)) if remaining != float("inf") else 1000
            recs = self._call("poll", self._max_poll_records, max(wait_ms, 0), ConsumerRecord, None, self._kd, self._vd)
            if recs:
                self._iter_buffer = recs
                self._iter_pos = 1
                return self._iter_buffer[0]

    next = __next__

    # -- positions and offsets
    def commit(self, offsets: Optional[Dict[Any, Any]] = None) -> None:
        """Commit ``{TopicPartition: OffsetAndMetadata}`` (default: the consumed positions)."""
        if self._group_id is None:
            raise Errors.IllegalStateError("Requires group_id")
        self._call("commit", self._offsets_arg(offsets))

    def commit_async(self, offsets: Optional[Dict[Any, Any]] = None, callback: Optional[Callable[..., Any]] = None) -> Any:
        """Commit as :meth:`commit` does (the engine commits at once) and call
        ``callback(offsets, response_or_exception)``. Returns a completed future."""
        from ..producer.future import Future

        fut = Future()
        try:
            self.commit(offsets)
            fut.success(True)
            if callback is not None:
                callback(offsets, True)
        except Errors.KafkaError as e:
            fut.failure(e)
            if callback is not None:
                callback(offsets, e)
        return fut

    @staticmethod
    def _offsets_arg(offsets: Optional[Dict[Any, Any]]) -> Optional[List[Tuple[str, int, int, str]]]:
        if offsets is None:
            return None
        if not isinstance(offsets, dict):
            raise TypeError("offsets must be a dict {TopicPartition: OffsetAndMetadata}")
        out = []
        for tp, om in offsets.items():
            t, p = _tp(tp)
            if isinstance(om, int) and not isinstance(om, bool):
                off, meta = om, ""
            else:
                off, meta = getattr(om, "offset", None), getattr(om, "metadata", "") or ""
            if isinstance(off, bool) or not isinstance(off, int):
                raise TypeError("offsets values must be OffsetAndMetadata")
            out.append((t, p, off, str(meta)))
        return out

    def committed(self, partition: Any, metadata: bool = False) -> Any:
        """The group's committed offset of ``partition`` (``None`` if none)."""
        if self._group_id is None:
            raise Errors.IllegalStateError("Requires group_id")
        t, p = _tp(partition)
        r = self._call("committed", t, p)
        if r is None:
            return None
        return OffsetAndMetadata(r[0], r[1], -1) if metadata else r[0]

    def seek(self, partition: Any, offset: int) -> None:
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise Errors.IllegalArgumentError("offset must be a non-negative integer")
        t, p = _tp(partition)
        self._call("seek", t, p, offset)
        self._iter_buffer, self._iter_pos = [], 0

    def seek_to_beginning(self, *partitions: Any) -> None:
        tps = [_tp(p) for p in partitions] if partitions else None
        self._call("seek_to_beginning", tps)
        self._iter_buffer, self._iter_pos = [], 0

    def seek_to_end(self, *partitions: Any) -> None:
        tps = [_tp(p) for p in partitions] if partitions else None
        self._call("seek_to_end", tps)
        self._iter_buffer, self._iter_pos = [], 0

    def position(self, partition: Any, timeout_ms: Optional[int] = None) -> int:
        t, p = _tp(partition)
        return self._call("position", t, p)

    def pause(self, *partitions: Any) -> None:
        self._call("pause", [_tp(p) for p in partitions])

    def resume(self, *partitions: Any) -> None:
        self._call("resume", [_tp(p) for p in partitions])

    def paused(self) -> Set[TopicPartition]:
        return set(TopicPartition(t, p) for t, p in self._call("paused"))

    def beginning_offsets(self, partitions: Iterable[Any], timeout_ms: Optional[int] = None) -> Dict[TopicPartition, int]:
        return {TopicPartition(t, p): o for t, p, o in self._call("beginning_offsets", [_tp(x) for x in partitions])}

    def end_offsets(self, partitions: Iterable[Any], timeout_ms: Optional[int] = None) -> Dict[TopicPartition, int]:
        return {TopicPartition(t, p): o for t, p, o in self._call("end_offsets", [_tp(x) for x in partitions])}

    def offsets_for_times(self, timestamps: Dict[Any, int], timeout_ms: Optional[int] = None) -> Dict[TopicPartition, Optional[OffsetAndTimestamp]]:
        """For each partition, the first offset whose timestamp is at least the given one."""
        if not isinstance(timestamps, dict):
            raise TypeError("timestamps must be a dict {TopicPartition: timestamp_ms}")
        q = []
        for tp, ts in timestamps.items():
            t, p = _tp(tp)
            if isinstance(ts, bool) or not isinstance(ts, int):
                raise ValueError("The target time for partition {} is {}. The target time cannot be negative.".format(tp, ts))
            if ts < 0:
                raise ValueError("The target time for partition {} is {}. The target time cannot be negative.".format(tp, ts))
            q.append((t, p, ts))
        out: Dict[TopicPartition, Optional[OffsetAndTimestamp]] = {}
        for t, p, r in self._call("offsets_for_times", q):
            out[TopicPartition(t, p)] = None if r is None else OffsetAndTimestamp(r[0], r[1], -1)
        return out

    # -- metadata
    def partitions_for_topic(self, topic: str) -> Optional[Set[int]]:
        n = self._call("partitions_for_topic", topic)
        return None if n is None else set(range(n))

    def topics(self) -> Set[str]:
        return set(self._call("topics"))

    def bootstrap_connected(self) -> bool:
        return not self._closed

    def metrics(self, raw: bool = False) -> Dict[str, Dict[str, Any]]:
        return {"consumer-metrics": dict(self._call("metrics"))}

    # -- lifecycle
    def close(self, autocommit: bool = True, timeout_ms: Optional[int] = None) -> None:
        """Leave the group (its partitions move to the other members) and close."""
        if self._closed:
            return
        try:
            self._native.close()
        except Exception as e:
            raise Errors.translate(e) from e
        finally:
            self._closed = True

    def __enter__(self) -> "KafkaConsumer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
