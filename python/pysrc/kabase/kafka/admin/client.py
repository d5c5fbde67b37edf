"""kafka-python's ``KafkaAdminClient`` over the engine's topic and group admin calls."""

from __future__ import annotations

from collections import namedtuple
from typing import Any, Dict, Iterable, List, Optional

from ... import _address
from .. import errors as Errors
from ..structs import OffsetAndMetadata, TopicPartition
from .config_resource import ConfigResource, ConfigResourceType
from .new_partitions import NewPartitions
from .new_topic import NewTopic

__all__ = ["KafkaAdminClient"]

GroupInformation = namedtuple(
    "GroupInformation",
    ["error_code", "group", "state", "protocol_type", "protocol", "members", "authorized_operations"],
)
MemberInformation = namedtuple(
    "MemberInformation", ["member_id", "client_id", "client_host", "member_metadata", "member_assignment"]
)
ConfigEntry = namedtuple("ConfigEntry", ["name", "value", "read_only", "is_default", "is_sensitive"])
DescribeConfigsResult = namedtuple(
    "DescribeConfigsResult", ["error_code", "error_message", "resource_type", "resource_name", "config_entries"]
)
TopicResult = namedtuple("TopicResult", ["topic", "error_code", "error_message"])


class _Response(object):
    """A response object with the fields kafka-python's responses have for these calls."""

    def __init__(self, **fields: Any) -> None:
        self.__dict__.update(fields)

    def __repr__(self) -> str:
        return "%s(%s)" % (self.__class__.__name__, ", ".join("%s=%r" % kv for kv in self.__dict__.items()))


class CreateTopicsResponse(_Response):
    pass


class DeleteTopicsResponse(_Response):
    pass


class CreatePartitionsResponse(_Response):
    pass


class AlterConfigsResponse(_Response):
    pass


class KafkaAdminClient(object):
    """Topic, config and consumer-group administration of the engine, with kafka-python's
    method names and arguments. Errors raise kafka-python's classes (as kafka-python 2.1+ does
    with ``raise_errors=True``)."""

    def __init__(self, bootstrap_servers: Any = None, **configs: Any) -> None:
        engine = configs.pop("engine", None)
        if "bootstrap_servers" in configs:
            bootstrap_servers = configs.pop("bootstrap_servers")
        self._engine = _address.resolve(bootstrap_servers, engine, "bootstrap_servers")
        self.config = dict(configs)
        self._closed = False

    def _eng(self) -> Any:
        if self._closed:
            raise Errors.KafkaClosedError("KafkaAdminClient is closed")
        return self._engine

    def _call(self, name: str, *args: Any) -> Any:
        try:
            return getattr(self._eng(), name)(*args)
        except Errors.KafkaError:
            raise
        except Exception as e:
            raise Errors.translate(e) from e

    def close(self) -> None:
        self._closed = True

    # -- topics
    def create_topics(self, new_topics: Iterable[NewTopic], timeout_ms: Optional[int] = None, validate_only: bool = False, raise_errors: bool = True) -> CreateTopicsResponse:
        results = []
        for t in new_topics:
            if not isinstance(t, NewTopic):
                raise TypeError("new_topics must be NewTopic objects")
            n = t.num_partitions
            if n is None or n == -1:
                n = self._eng().num_partitions
            if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                raise Errors.InvalidPartitionsError(f"num_partitions of {t.name!r} must be at least 1")
            if t.replication_factor not in (-1, 1, None):
                raise Errors.InvalidReplicationFactorError(
                    f"replication factor {t.replication_factor} of {t.name!r}: an embedded engine keeps one replica"
                )
            cfg = [(str(k), str(v)) for k, v in (t.topic_configs or {}).items()]
            try:
                if validate_only:
                    self._call("validate_topic", t.name, n, cfg)
                else:
                    self._call("create_topic", t.name, n, cfg)
                results.append(TopicResult(t.name, 0, None))
            except Errors.BrokerResponseError as e:
                if raise_errors:
                    raise
                results.append(TopicResult(t.name, e.errno, str(e)))
        return CreateTopicsResponse(topic_errors=results)

    def delete_topics(self, topics: Iterable[str], timeout_ms: Optional[int] = None, raise_errors: bool = True) -> DeleteTopicsResponse:
        results = []
        for name in topics:
            try:
                self._call("delete_topic", name)
                results.append((name, 0))
            except Errors.BrokerResponseError as e:
                if raise_errors:
                    raise
                results.append((name, e.errno))
        return DeleteTopicsResponse(topic_error_codes=results)

    def create_partitions(self, topic_partitions: Dict[str, NewPartitions], timeout_ms: Optional[int] = None, validate_only: bool = False, raise_errors: bool = True) -> CreatePartitionsResponse:
        results = []
        for name, np in topic_partitions.items():
            total = getattr(np, "total_count", np)
            try:
                if not validate_only:
                    self._call("create_partitions", name, int(total))
                results.append((name, 0, None))
            except Errors.BrokerResponseError as e:
                if raise_errors:
                    raise
                results.append((name, e.errno, str(e)))
        return CreatePartitionsResponse(topic_errors=results)

    def list_topics(self) -> List[str]:
        return list(self._call("list_topics"))

    def describe_topics(self, topics: Optional[Iterable[str]] = None) -> List[Dict[str, Any]]:
        names = self.list_topics() if topics is None else list(topics)
        out = []
        for name in names:
            d = self._call("describe_topic", name)
            out.append({
                "error_code": 0,
                "topic": d["name"],
                "is_internal": bool(d.get("internal", False)),
                "partitions": [
                    {"error_code": 0, "partition": p["partition"], "leader": 0, "leader_epoch": 0,
                     "replicas": [0], "isr": [0], "offline_replicas": []}
                    for p in d["partitions"]
                ],
            })
        return out

    def describe_cluster(self) -> Dict[str, Any]:
        return {"brokers": [{"node_id": 0, "host": "localhost", "port": 0, "rack": None}],
                "cluster_id": None, "controller_id": 0}

    # -- configs
    def describe_configs(self, config_resources: Iterable[ConfigResource], include_synonyms: bool = False) -> List[DescribeConfigsResult]:
        out = []
        for r in config_resources:
            if r.resource_type != ConfigResourceType.TOPIC:
                raise Errors.UnsupportedVersionError("only TOPIC config resources exist in an embedded engine")
            entries = [ConfigEntry(n, v, False, d, False) for n, v, d in self._call("describe_topic_configs", r.name)]
            if r.configs:
                wanted = set(r.configs) if not isinstance(r.configs, dict) else set(r.configs.keys())
                entries = [e for e in entries if e.name in wanted]
            out.append(DescribeConfigsResult(0, None, int(r.resource_type), r.name, entries))
        return out

    def alter_configs(self, config_resources: Iterable[ConfigResource]) -> AlterConfigsResponse:
        results = []
        for r in config_resources:
            if r.resource_type != ConfigResourceType.TOPIC:
                raise Errors.UnsupportedVersionError("only TOPIC config resources exist in an embedded engine")
            changes = [(str(k), None if v is None else str(v)) for k, v in (r.configs or {}).items()]
            self._call("alter_topic_configs", r.name, changes)
            results.append((0, None, int(r.resource_type), r.name))
        return AlterConfigsResponse(resources=results)

    # -- records
    def delete_records(self, records_to_delete: Dict[Any, int], timeout_ms: Optional[int] = None, partition_leader_id: Optional[int] = None) -> Dict[TopicPartition, Dict[str, Any]]:
        out = {}
        for tp, off in records_to_delete.items():
            low = self._call("delete_records", tp.topic, tp.partition, int(off))
            out[TopicPartition(tp.topic, tp.partition)] = {"low_watermark": low, "error_code": 0, "error_message": None}
        return out

    # -- consumer groups
    def list_consumer_groups(self, broker_ids: Any = None) -> List[tuple]:
        return [(g, "consumer") for g in self._call("list_groups")]

    def describe_consumer_groups(self, group_ids: Iterable[str], group_coordinator_id: Any = None, include_authorized_operations: bool = False) -> List[GroupInformation]:
        out = []
        for gid in group_ids:
            d = self._call("describe_group", gid)
            members = [
                MemberInformation(m["member_id"], m.get("client_id", ""), m.get("client_host", "localhost"), None,
                                  {"assignment": [TopicPartition(t, p) for t, p in m.get("assignment", [])]})
                for m in d.get("members", [])
            ]
            out.append(GroupInformation(0, gid, d.get("state", ""), "consumer", d.get("protocol", ""), members, None))
        return out

    def list_consumer_group_offsets(self, group_id: str, group_coordinator_id: Any = None, partitions: Optional[Iterable[Any]] = None) -> Dict[TopicPartition, OffsetAndMetadata]:
        offs = self._call("group_offsets", group_id)
        out = {TopicPartition(t, p): OffsetAndMetadata(o, m, -1) for t, p, o, m in offs}
        if partitions is not None:
            wanted = set(TopicPartition(tp[0], tp[1]) for tp in partitions)
            out = {tp: v for tp, v in out.items() if tp in wanted}
        return out

    def delete_consumer_groups(self, group_ids: Iterable[str], group_coordinator_id: Any = None) -> List[tuple]:
        out = []
        for gid in group_ids:
            try:
                self._call("delete_group", gid)
                out.append((gid, Errors.for_errno(0) if False else None))
            except Errors.BrokerResponseError as e:
                out.append((gid, e))
        return out
