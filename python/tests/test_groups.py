import time

import pytest

from kabase.kafka import (ConsumerRebalanceListener, KafkaAdminClient, KafkaConsumer, KafkaProducer, OffsetAndMetadata,
                          TopicPartition)
from kabase.kafka import errors as kerrors
from kabase.kafka.admin import NewTopic

from conftest import needs_groups

pytestmark = needs_groups


class Recorder(ConsumerRebalanceListener):
    def __init__(self):
        self.events = []

    def on_partitions_revoked(self, revoked):
        self.events.append(("revoked", sorted(revoked)))

    def on_partitions_assigned(self, assigned):
        self.events.append(("assigned", sorted(assigned)))


def settle(consumers, want_sizes, timeout=20.0):
    """Poll every member in turn until the assignments have the wanted sizes and cover all."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        for c in consumers:
            c.poll(timeout_ms=20)
        sizes = sorted(len(c.assignment()) for c in consumers)
        if sizes == sorted(want_sizes):
            return [sorted(c.assignment()) for c in consumers]
    raise AssertionError("group did not settle: %r" % ([sorted(c.assignment()) for c in consumers],))


def test_three_consumers_rebalance_as_members_join_and_leave(eng):
    admin = KafkaAdminClient(engine=eng)
    admin.create_topics([NewTopic("g6", num_partitions=6, replication_factor=1)])
    p = KafkaProducer(engine=eng)

    def member(name, listener=None):
        c = KafkaConsumer(engine=eng, group_id="grp", group_instance_id=name, auto_offset_reset="earliest",
                          partition_assignment_strategy=["range"], session_timeout_ms=10000,
                          heartbeat_interval_ms=500)
        c.subscribe(["g6"], listener=listener)
        return c

    rec_a = Recorder()
    a = member("a", rec_a)
    (only,) = settle([a], [6])
    assert only == [TopicPartition("g6", p) for p in range(6)]
    assert ("assigned", only) in rec_a.events

    b = member("b")
    got = settle([a, b], [3, 3])
    # Range assignor, members sorted by group_instance_id: a gets 0-2, b gets 3-5
    assert got == [[TopicPartition("g6", p) for p in range(3)], [TopicPartition("g6", p) for p in range(3, 6)]]
    assert any(e[0] == "revoked" for e in rec_a.events)

    c = member("c")
    got = settle([a, b, c], [2, 2, 2])
    assert got == [[TopicPartition("g6", p) for p in q] for q in ((0, 1), (2, 3), (4, 5))]
    desc = admin.describe_consumer_groups(["grp"])[0]
    assert len(desc.members) == 3 and "grp" in [g for g, _ in admin.list_consumer_groups()]

    b.close()  # leaving hands its partitions to the others
    got = settle([a, c], [3, 3])
    assert got == [[TopicPartition("g6", p) for p in range(3)], [TopicPartition("g6", p) for p in range(3, 6)]]

    # Produce now (settling polls consume), then consume across the remaining two members.
    for i in range(60):
        p.send("g6", b"%d" % i, partition=i % 6)
    p.flush()
    seen = []
    deadline = time.time() + 10
    while len(seen) < 60 and time.time() < deadline:
        for m in (a, c):
            for recs in m.poll(timeout_ms=20).values():
                seen.extend(r.value for r in recs)
    assert sorted(seen, key=int) == [b"%d" % i for i in range(60)]
    a.commit()
    c.commit()
    offs = admin.list_consumer_group_offsets("grp")
    assert sum(o.offset for o in offs.values()) == 60
    assert a.committed(TopicPartition("g6", 0)) == 10
    a.close()
    c.close()


def test_commit_and_resume_from_committed(eng):
    p = KafkaProducer(engine=eng)
    for i in range(10):
        p.send("resume", b"%d" % i)
    p.flush()
    c = KafkaConsumer("resume", engine=eng, group_id="r1", auto_offset_reset="earliest", enable_auto_commit=False)
    got = []
    deadline = time.time() + 10
    while len(got) < 4 and time.time() < deadline:
        for recs in c.poll(timeout_ms=50, max_records=4).values():
            got.extend(recs)
    assert [r.value for r in got[:4]] == [b"0", b"1", b"2", b"3"]
    c.commit({TopicPartition("resume", 0): OffsetAndMetadata(4, "meta")})
    assert c.committed(TopicPartition("resume", 0)) == 4
    c.close()
    c2 = KafkaConsumer("resume", engine=eng, group_id="r1", auto_offset_reset="earliest", consumer_timeout_ms=1000)
    first = next(iter(c2))
    assert first.value == b"4"  # starts at the group's committed offset
    c2.close()


def test_assignors_by_name(eng):
    for strat in (["roundrobin"], ["sticky"], ["cooperative-sticky"],
                  ["org.apache.kafka.clients.consumer.RangeAssignor"]):
        c = KafkaConsumer(engine=eng, group_id="s-" + strat[0][-6:], partition_assignment_strategy=strat)
        c.close()
    with pytest.raises(kerrors.KafkaConfigurationError):
        KafkaConsumer(engine=eng, group_id="x", partition_assignment_strategy=["bogus"])
