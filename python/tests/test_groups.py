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


def test_listener_runs_with_the_consumer_in_hand(eng):
    """Callbacks run inside poll with the consumer usable: a manual-commit consumer commits its
    revoked partitions' positions in on_partitions_revoked (so the next owner resumes exactly
    there), and a seek in on_partitions_assigned decides where fetching starts."""
    p = KafkaProducer(engine=eng)
    KafkaAdminClient(engine=eng).create_topics([NewTopic("hand", num_partitions=2, replication_factor=1)])
    for i in range(10):
        p.send("hand", b"%d" % i, partition=i % 2)
    p.flush()

    class CommitOnRevoke(ConsumerRebalanceListener):
        def __init__(self):
            self.consumer = None
            self.positions = {}

        def on_partitions_revoked(self, revoked):
            for tp in revoked:
                self.positions[tp] = self.consumer.position(tp)
            self.consumer.commit()

        def on_partitions_assigned(self, assigned):
            for tp in assigned:
                if tp.partition == 1:
                    self.consumer.seek(tp, 3)  # skip the first three records of partition 1

    lst = CommitOnRevoke()
    a = KafkaConsumer(engine=eng, group_id="hand", auto_offset_reset="earliest", enable_auto_commit=False,
                      partition_assignment_strategy=["range"])
    lst.consumer = a
    a.subscribe(["hand"], listener=lst)
    got = []
    deadline = time.time() + 10
    while len(got) < 7 and time.time() < deadline:
        for recs in a.poll(timeout_ms=50).values():
            got.extend((r.partition, r.offset) for r in recs)
    assert sorted(got) == [(0, 0), (0, 1), (0, 2), (0, 3), (0, 4), (1, 3), (1, 4)]
    # A second member joins: the first revokes both partitions and commits them in the callback.
    b = KafkaConsumer(engine=eng, group_id="hand", auto_offset_reset="earliest", enable_auto_commit=False,
                      partition_assignment_strategy=["range"])
    b.subscribe(["hand"])
    settle([a, b], [1, 1])
    assert lst.positions == {TopicPartition("hand", 0): 5, TopicPartition("hand", 1): 5}
    admin = KafkaAdminClient(engine=eng)
    offs = admin.list_consumer_group_offsets("hand")
    assert {tp.partition: o.offset for tp, o in offs.items()} == {0: 5, 1: 5}
    a.close()
    b.close()


def test_listener_may_not_poll_its_own_consumer(eng):
    class Bad(ConsumerRebalanceListener):
        def on_partitions_revoked(self, revoked):
            pass

        def on_partitions_assigned(self, assigned):
            bad.poll(timeout_ms=0)

    bad = KafkaConsumer(engine=eng, group_id="bad", auto_offset_reset="earliest")
    bad.subscribe(["nopoll"], listener=Bad())
    KafkaProducer(engine=eng).send("nopoll", b"x").get(5)
    with pytest.raises(kerrors.IllegalArgumentError, match="inside a rebalance listener"):
        deadline = time.time() + 10
        while time.time() < deadline:
            bad.poll(timeout_ms=50)
    bad.close()


def test_listener_error_raises_from_poll_and_loses_nothing(eng):
    p = KafkaProducer(engine=eng)
    for i in range(5):
        p.send("boom", b"%d" % i)
    p.flush()

    class Boom(ConsumerRebalanceListener):
        calls = 0

        def on_partitions_revoked(self, revoked):
            pass

        def on_partitions_assigned(self, assigned):
            Boom.calls += 1
            if Boom.calls == 1:
                raise RuntimeError("listener failed")

    c = KafkaConsumer(engine=eng, group_id="boom", auto_offset_reset="earliest", enable_auto_commit=False)
    c.subscribe(["boom"], listener=Boom())
    raised = False
    got = []
    deadline = time.time() + 10
    while len(got) < 5 and time.time() < deadline:
        try:
            for recs in c.poll(timeout_ms=50).values():
                got.extend(r.value for r in recs)
        except RuntimeError as e:
            assert "listener failed" in str(e)
            raised = True
    assert raised
    assert got == [b"0", b"1", b"2", b"3", b"4"]
    c.close()


def test_patterns_match_whole_topic_names(eng):
    p = KafkaProducer(engine=eng)
    for t in ("ord", "orders", "xord"):
        p.send(t, t.encode())
    p.flush()
    for group_id in ("pat", None):
        c = KafkaConsumer(engine=eng, group_id=group_id, auto_offset_reset="earliest", consumer_timeout_ms=1500)
        c.subscribe(pattern="ord")
        got = sorted(r.value for r in c)
        assert got == [b"ord"], group_id
        assert c.subscription() == {"ord"}
        c.close()
        c = KafkaConsumer(engine=eng, group_id=group_id and group_id + "2", auto_offset_reset="earliest",
                          consumer_timeout_ms=1500)
        c.subscribe(pattern="ord.*")
        assert sorted(r.value for r in c) == [b"ord", b"orders"], group_id
        c.close()
