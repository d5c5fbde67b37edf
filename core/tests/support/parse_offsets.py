# Parse kabase's __consumer_offsets segments with kafka-python's record parser and decode each
# record by Kafka's schemas (independent of kabase): OffsetCommitKey v0/v1 =
# version int16 | group STRING | topic STRING | partition int32; OffsetCommitValue v3 =
# version int16 | offset int64 | leader_epoch int32 | metadata STRING | commit_timestamp int64;
# GroupMetadataKey v2 = version int16 | group STRING. Prints one line per record:
#   COMMIT <group> <topic> <partition> <offset> <leader_epoch> <metadata> <txn:0|1>
#   OFFSET-TOMBSTONE <group> <topic> <partition>
#   GROUP-TOMBSTONE <group>
#   GROUP-METADATA <group> <generation> <protocol|-> <members> <assigned topic:partitions,...|->
#     (GroupMetadataValue v3: protocol_type STRING | generation int32 | protocol NULLABLE_STRING
#     | leader NULLABLE_STRING | current_state_timestamp int64 | members [member_id STRING |
#     group_instance_id NULLABLE_STRING | client_id STRING | client_host STRING |
#     rebalance_timeout int32 | session_timeout int32 | subscription BYTES | assignment BYTES];
#     assignment = ConsumerProtocolAssignment v0: version int16 | [topic STRING | [int32]] |
#     user_data BYTES)
#   MARKER <commit|abort> <producer_id>
import struct
import sys
from kafka.record.memory_records import MemoryRecords


def string(b, pos):
    (n,) = struct.unpack_from(">h", b, pos)
    pos += 2
    return b[pos:pos + n].decode("utf-8"), pos + n


def nullable(b, pos):
    (n,) = struct.unpack_from(">h", b, pos)
    if n < 0:
        return None, pos + 2
    return string(b, pos)


def byts(b, pos):
    (n,) = struct.unpack_from(">i", b, pos)
    pos += 4
    if n < 0:
        return None, pos
    return b[pos:pos + n], pos + n


def assignment(b):
    (version, ntopics) = struct.unpack_from(">hi", b, 0)
    assert version == 0, version
    pos = 6
    out = []
    for _ in range(ntopics):
        topic, pos = string(b, pos)
        (n,) = struct.unpack_from(">i", b, pos)
        pos += 4
        parts = struct.unpack_from(">%di" % n, b, pos)
        pos += 4 * n
        out.append("%s:%s" % (topic, ",".join(str(p) for p in parts)))
    _, pos = byts(b, pos)
    assert pos == len(b), "trailing assignment bytes"
    return out


def group_metadata(group, v):
    (version,) = struct.unpack_from(">h", v, 0)
    assert version == 3, version
    ptype, pos = string(v, 2)
    assert ptype == "consumer", ptype
    (gen,) = struct.unpack_from(">i", v, pos)
    protocol, pos = nullable(v, pos + 4)
    leader, pos = nullable(v, pos)
    (ts, n) = struct.unpack_from(">qi", v, pos)
    pos += 12
    assigned = []
    ids = []
    for _ in range(n):
        mid, pos = string(v, pos)
        _, pos = nullable(v, pos)
        _, pos = string(v, pos)
        _, pos = string(v, pos)
        pos += 8
        _, pos = byts(v, pos)
        a, pos = byts(v, pos)
        assigned += assignment(a)
        ids.append(mid)
    assert pos == len(v), "trailing value bytes"
    assert leader is None or leader in ids
    print("GROUP-METADATA", group, gen, protocol or "-", n, ",".join(assigned) or "-")


def parse(path):
    data = open(path, "rb").read()
    mr = MemoryRecords(data)
    expected = None
    while True:
        batch = mr.next_batch()
        if batch is None:
            break
        assert batch.magic == 2, batch.magic
        assert batch.validate_crc(), "CRC mismatch at offset %d" % batch.base_offset
        if expected is not None:
            assert batch.base_offset == expected, (batch.base_offset, expected)
        expected = batch.next_offset
        for r in batch:
            if batch.is_control_batch:
                (_, kind) = struct.unpack_from(">hh", r.key, 0)
                print("MARKER", "commit" if kind == 1 else "abort", batch.producer_id)
                continue
            (kv,) = struct.unpack_from(">h", r.key, 0)
            group, pos = string(r.key, 2)
            if kv in (0, 1):
                topic, pos = string(r.key, pos)
                (part,) = struct.unpack_from(">i", r.key, pos)
                assert pos + 4 == len(r.key), "trailing key bytes"
                if r.value is None:
                    print("OFFSET-TOMBSTONE", group, topic, part)
                    continue
                (vv, off, epoch) = struct.unpack_from(">hqi", r.value, 0)
                assert vv == 3, vv
                meta, pos = string(r.value, 14)
                (ts,) = struct.unpack_from(">q", r.value, pos)
                assert pos + 8 == len(r.value), "trailing value bytes"
                assert ts > 0
                print("COMMIT", group, topic, part, off, epoch, meta or "-", int(batch.is_transactional))
            elif kv == 2:
                assert pos == len(r.key)
                if r.value is None:
                    print("GROUP-TOMBSTONE", group)
                else:
                    group_metadata(group, r.value)
            else:
                raise AssertionError("unknown key version %d" % kv)


for path in sys.argv[1:]:
    parse(path)
