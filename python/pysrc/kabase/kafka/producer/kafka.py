"""kafka-python's ``KafkaProducer`` over the engine's producer."""

from __future__ import annotations

import json
import threading
import weakref
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from ... import _address, _native
from .. import errors as Errors
from .future import FutureRecordMetadata

__all__ = ["KafkaProducer"]

# kafka-python config name -> the engine's (Kafka's) name.
_ENGINE_KEYS = {
    "acks": "acks",
    "batch_size": "batch.size",
    "linger_ms": "linger.ms",
    "compression_type": "compression.type",
    "max_request_size": "max.request.size",
    "enable_idempotence": "enable.idempotence",
    "transactional_id": "transactional.id",
    "transaction_timeout_ms": "transaction.timeout.ms",
    "buffer_memory": "buffer.memory",
    "max_block_ms": "max.block.ms",
    "client_id": "client.id",
    "partitioner_ignore_keys": "partitioner.ignore.keys",
}

# Accepted for compatibility: network, security and retry settings of a remote client, which
# have no meaning for an embedded engine.
_CLIENT_ONLY = {
    "bootstrap_servers", "key_serializer", "value_serializer", "retries", "retry_backoff_ms",
    "max_in_flight_requests_per_connection", "request_timeout_ms", "delivery_timeout_ms",
    "receive_buffer_bytes", "send_buffer_bytes", "socket_options",
    "reconnect_backoff_ms", "reconnect_backoff_max_ms", "connections_max_idle_ms",
    "metadata_max_age_ms", "security_protocol", "ssl_context", "ssl_check_hostname", "ssl_cafile",
    "ssl_certfile", "ssl_keyfile", "ssl_crlfile", "ssl_password", "ssl_ciphers", "api_version",
    "api_version_auto_timeout_ms", "metric_reporters", "metrics_enabled", "metrics_num_samples",
    "metrics_sample_window_ms", "selector", "sasl_mechanism", "sasl_plain_username",
    "sasl_plain_password", "sasl_kerberos_name", "sasl_kerberos_service_name",
    "sasl_kerberos_domain_name", "sasl_oauth_token_provider", "socks5_proxy", "kafka_client",
    "partitioner", "allow_auto_create_topics", "bootstrap_topics_filter", "engine",
    "wakeup_timeout_ms", "sock_chunk_bytes", "sock_chunk_buffer_count",
}


def _config_value(k: str, v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if k == "acks" and v == -1:
        return "all"
    if k == "compression_type" and v is None:
        return "none"
    if isinstance(v, (int, str)):
        return str(v)
    raise Errors.KafkaConfigurationError(f"config {k} must be a str, int or bool, not {type(v).__name__}")


def encode_payload(v: Any, what: str) -> Optional[bytes]:
    """No serializer: ``bytes`` as is, ``str`` as UTF-8, ``dict``/``list`` as compact JSON."""
    if v is None or isinstance(v, bytes):
        return v
    if isinstance(v, str):
        return v.encode("utf-8")
    if isinstance(v, (bytearray, memoryview)):
        return bytes(v)
    if isinstance(v, (dict, list)):
        try:
            return json.dumps(v, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        except (TypeError, ValueError) as e:
            raise TypeError(f"{what} is not JSON-serializable: {e}") from None
    raise TypeError(
        f"{what} must be bytes, str, dict or list (or set a {what}_serializer), not {type(v).__name__}"
    )


class KafkaProducer(object):
    """kafka-python's producer over the engine.

    ``bootstrap_servers`` (the first positional argument) follows kabase's address rule;
    ``engine=`` binds to an explicit engine. Topics are created on first use with the engine's
    ``num_partitions``. Futures complete as the engine acknowledges the records (``acks``).
    """

    DEFAULT_CONFIG: Dict[str, Any] = {
        "bootstrap_servers": "localhost",
        "client_id": None,
        "key_serializer": None,
        "value_serializer": None,
        "acks": 1,
        "linger_ms": 0,
        "max_request_size": 1048576,
    }

    def __init__(self, bootstrap_servers: Any = None, **configs: Any) -> None:
        engine = configs.pop("engine", None)
        if "bootstrap_servers" in configs:
            if bootstrap_servers is not None:
                raise TypeError("bootstrap_servers given twice")
            bootstrap_servers = configs.pop("bootstrap_servers")
        self._engine = _address.resolve(bootstrap_servers, engine, "bootstrap_servers")
        unknown = [k for k in configs if k not in _ENGINE_KEYS and k not in _CLIENT_ONLY]
        if unknown:
            raise Errors.KafkaConfigurationError("Unrecognized configs: %s" % (sorted(unknown),))
        self.config: Dict[str, Any] = dict(self.DEFAULT_CONFIG)
        self.config.update(configs)
        self.config["bootstrap_servers"] = bootstrap_servers
        self._key_serializer: Optional[Callable[[Any], Any]] = configs.get("key_serializer")
        self._value_serializer: Optional[Callable[[Any], Any]] = configs.get("value_serializer")
        for name, f in (("key_serializer", self._key_serializer), ("value_serializer", self._value_serializer)):
            if f is not None and not callable(f):
                raise Errors.KafkaConfigurationError(f"{name} must be callable")
        engine_cfg: List[Tuple[str, str]] = []
        for k, v in configs.items():
            if k in _ENGINE_KEYS and v is not None:
                engine_cfg.append((_ENGINE_KEYS[k], _config_value(k, v)))
        if "acks" not in configs:
            # kafka-python's default is 1; idempotence (implied by transactional_id) needs all.
            idem = configs.get("enable_idempotence") or configs.get("transactional_id") is not None
            engine_cfg.append(("acks", "all" if idem else "1"))
        if "linger_ms" not in configs:
            engine_cfg.append(("linger.ms", "0"))  # kafka-python's default
        try:
            self._native = _native.Producer(self._engine, engine_cfg)
        except Exception as e:
            raise Errors.translate(e) from e
        self._closed = False
        self._send = self._native.send
        self._plain = self._key_serializer is None and self._value_serializer is None
        self._pending: "weakref.WeakSet[FutureRecordMetadata]" = weakref.WeakSet()
        self._pending_lock = threading.Lock()
        self._transactional = configs.get("transactional_id") is not None

    # -- sending
    def _serialize(self, key: Any, value: Any) -> Tuple[Optional[bytes], Optional[bytes]]:
        if self._key_serializer is not None and key is not None:
            key = self._key_serializer(key)
        if self._value_serializer is not None and value is not None:
            value = self._value_serializer(value)
        return encode_payload(key, "key"), encode_payload(value, "value")

    def send(
        self,
        topic: str,
        value: Any = None,
        key: Any = None,
        headers: Optional[Sequence[Tuple[str, bytes]]] = None,
        partition: Optional[int] = None,
        timestamp_ms: Optional[int] = None,
    ) -> FutureRecordMetadata:
        """Send a record; returns a future of its :class:`RecordMetadata`."""
        if (type(value) is bytes and key is None and headers is None and partition is None and timestamp_ms is None
                and self._plain and not self._closed and type(topic) is str):
            # The common case in one native call: nothing to convert or check here.
            try:
                return FutureRecordMetadata(self._send(topic, value), self)
            except Exception as e:
                raise Errors.translate(e) from e
        if self._closed:
            raise Errors.KafkaClosedError("KafkaProducer already closed!")
        if not isinstance(topic, str):
            raise TypeError(f"topic must be str, not {type(topic).__name__}")
        if value is None and key is None:
            raise Errors.IllegalArgumentError("Need at least one: key or value")
        if self._plain and type(value) is bytes and (key is None or type(key) is bytes):
            k, v = key, value  # fast path: nothing to convert
        else:
            k, v = self._serialize(key, value)
        if headers is not None:
            headers = [(h, encode_payload(b, "header value")) for h, b in headers]
        try:
            fut = self._native.send(topic, v, k, headers, partition, timestamp_ms)
        except Exception as e:
            raise Errors.translate(e) from e
        return FutureRecordMetadata(fut, self)

    def send_batch(self, topic: str, values: Sequence[Any], keys: Optional[Sequence[Any]] = None, partition: Optional[int] = None) -> List[FutureRecordMetadata]:
        """kabase's batch path: send many records to one topic in one call into the engine."""
        if self._closed:
            raise Errors.KafkaClosedError("KafkaProducer already closed!")
        if keys is not None and len(keys) != len(values):
            raise ValueError("keys and values must have the same length")
        if self._plain and type(values) is list and all(type(v) is bytes for v in values) and (
                keys is None or (type(keys) is list and all(k is None or type(k) is bytes for k in keys))):
            vals, ks = values, keys  # fast path: handed over as they are
        else:
            vals, ks = [], []
            for i, value in enumerate(values):
                k, v = self._serialize(None if keys is None else keys[i], value)
                if k is None and v is None:
                    raise Errors.IllegalArgumentError("Need at least one: key or value")
                vals.append(v)
                ks.append(k)
            if keys is None:
                ks = None
        try:
            futs = self._native.send_many(topic, vals, ks, partition)
        except Exception as e:
            raise Errors.translate(e) from e
        return [FutureRecordMetadata(f, self) for f in futs]

    def _track(self, fut: FutureRecordMetadata) -> None:
        with self._pending_lock:
            self._pending.add(fut)

    def _run_pending(self, timeout: Optional[float]) -> None:
        with self._pending_lock:
            pending = list(self._pending)
            self._pending = weakref.WeakSet()
        for f in pending:
            f._resolve(timeout)

    def flush(self, timeout: Optional[float] = None) -> None:
        """Wait until every record sent so far is acknowledged (and run their callbacks)."""
        if self._closed:
            return
        try:
            self._native.flush(timeout)
        except Exception as e:
            raise Errors.translate(e) from e
        self._run_pending(timeout)

    def close(self, timeout: Optional[float] = None, null_logger: bool = False) -> None:
        """Flush and close the producer (the engine stays open)."""
        if self._closed:
            return
        try:
            self._native.close(timeout)
        except Exception as e:
            raise Errors.translate(e) from e
        finally:
            self._closed = True
        self._run_pending(timeout)

    def __del__(self) -> None:
        pass

    def __enter__(self) -> "KafkaProducer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def partitions_for(self, topic: str) -> set:
        """The partition ids of ``topic`` (created on first use, as send would)."""
        try:
            return set(range(self._native.partitions_for(topic)))
        except Exception as e:
            raise Errors.translate(e) from e

    def bootstrap_connected(self) -> bool:
        return not self._closed

    def metrics(self, raw: bool = False) -> Dict[str, Dict[str, Any]]:
        """Producer metrics (``{'producer-metrics': {...}}``)."""
        m = dict(self._native.metrics())
        return {"producer-metrics": m}

    # -- transactions
    def _txn(self, name: str, *args: Any) -> None:
        if not self._transactional:
            raise Errors.IllegalStateError("Transactional method invoked on a non-transactional producer.")
        try:
            getattr(self._native, name)(*args)
        except Exception as e:
            raise Errors.translate(e) from e

    def init_transactions(self) -> None:
        self._txn("init_transactions")

    def begin_transaction(self) -> None:
        self._txn("begin_transaction")

    def send_offsets_to_transaction(self, offsets: Dict[Any, Any], consumer_group_id: Any) -> None:
        """Commit ``{TopicPartition: OffsetAndMetadata}`` with the transaction."""
        group = getattr(consumer_group_id, "group_id", consumer_group_id)
        if not isinstance(group, str):
            raise TypeError("consumer_group_id must be a group id str")
        offs = [(tp.topic, tp.partition, getattr(om, "offset", om), getattr(om, "metadata", "") or "")
                for tp, om in offsets.items()]
        self._txn("send_offsets_to_transaction", offs, group)

    def commit_transaction(self) -> None:
        self._txn("commit_transaction")
        self._run_pending(None)

    def abort_transaction(self) -> None:
        self._txn("abort_transaction")
        self._run_pending(None)
