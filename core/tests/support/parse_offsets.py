# Parse kabase's __consumer_offsets segments with kafka-python's record parser and decode each
# record by Kafka's schemas (independent of kabase): OffsetCommitKey v0/v1 =
# version int16 | group STRING | topic STRING | partition int32; OffsetCommitValue v3 =
# version int16 | offset int64 | leader_epoch int32 | metadata STRING | commit_timestamp int64;
# GroupMetadataKey v2 = version int16 | group STRING. Prints one line per record:
#   COMMIT <group> <topic> <partition> <offset> <leader_epoch> <metadata> <txn:0|1>
#   OFFSET-TOMBSTONE <group> <topic> <partition>
#   GROUP-TOMBSTONE <group>
#   MARKER <commit|abort> <producer_id>
import struct
import sys
from kafka.record.memory_records import MemoryRecords


def string(b, pos):
    (n,) = struct.unpack_from(">h", b, pos)
    pos += 2
    return b[pos:pos + n].decode("utf-8"), pos + n


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
                print("GROUP-TOMBSTONE" if r.value is None else "GROUP-METADATA", group)
            else:
                raise AssertionError("unknown key version %d" % kv)


for path in sys.argv[1:]:
    parse(path)
