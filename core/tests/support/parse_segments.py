# Parse a kabase .log segment with kafka-python's record parser (independent of kabase).
# Prints: batches=N records=N control=N codecs={...} and fails on any CRC or format error.
import sys
from kafka.record.memory_records import MemoryRecords

def parse(path):
    data = open(path, "rb").read()
    mr = MemoryRecords(data)
    batches = records = control = 0
    codecs = set()
    expected_offset = 0
    while True:
        b = mr.next_batch()
        if b is None:
            break
        assert b.magic == 2, b.magic
        assert b.validate_crc(), "CRC mismatch at offset %d" % b.base_offset
        assert b.base_offset == expected_offset, (b.base_offset, expected_offset)
        codecs.add(b.compression_type)
        batches += 1
        n = 0
        for r in b:
            if b.is_control_batch:
                control += 1
            else:
                records += 1
                assert r.value is None or r.value.startswith(b"value-") or r.value == b"in-txn", r.value
            n += 1
        assert n == b.records_count if hasattr(b, "records_count") else True
        expected_offset = b.next_offset
    assert mr.valid_bytes() == len(data) if hasattr(mr, "valid_bytes") else True
    print(path, "batches=%d records=%d control=%d codecs={%s}" % (batches, records, control, ",".join(str(c) for c in sorted(codecs))))


for path in sys.argv[1:]:
    parse(path)
