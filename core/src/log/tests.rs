//! Engine-level tests of the topic side: admin, produce/consume, recovery, idempotence,
//! transactions, retention, and a model-based test.

#![allow(clippy::cloned_ref_to_slice_refs, clippy::type_complexity, clippy::needless_range_loop)]

use std::sync::Arc;
use std::time::Duration;

use super::batch::{self, BatchSpec, RecordInput};
use super::*;
use crate::Engine;

fn engine(dir: &Path) -> Engine {
    Engine::open(dir).unwrap()
}

fn fast() -> ProducerConfig {
    ProducerConfig::default().set("linger.ms", "0").unwrap()
}

fn earliest() -> ConsumerConfig {
    ConsumerConfig::default().set("auto.offset.reset", "earliest").unwrap()
}

fn drain(c: &mut Consumer) -> Vec<ConsumerRecord> {
    let mut all = Vec::new();
    loop {
        let got = c.poll(Duration::from_millis(20)).unwrap();
        if got.is_empty() {
            return all;
        }
        all.extend(got);
    }
}

fn values(rs: &[ConsumerRecord]) -> Vec<String> {
    rs.iter().map(|r| String::from_utf8(r.value.clone().unwrap_or_default()).unwrap()).collect()
}

#[test]
fn topic_names_follow_kafka_rules() {
    for bad in ["", ".", "..", "a b", "a/b", "é", &"x".repeat(250)] {
        assert_eq!(validate_topic_name(bad).unwrap_err().code(), ErrorCode::InvalidName, "{bad:?}");
    }
    for ok in ["a", "a.b_c-D9", &"x".repeat(249)] {
        validate_topic_name(ok).unwrap();
    }
    let e = Engine::open_in_memory().unwrap();
    e.create_topic(NewTopic::new("a.b", 1)).unwrap();
    assert_eq!(e.create_topic(NewTopic::new("a_b", 1)).unwrap_err().code(), ErrorCode::InvalidArgument);
    assert_eq!(e.create_topic(NewTopic::new("bad name", 1)).unwrap_err().code(), ErrorCode::InvalidName);
    assert_eq!(e.create_topic(NewTopic::new("z", 0)).unwrap_err().code(), ErrorCode::InvalidArgument);
    assert_eq!(e.create_topic(NewTopic::new("z", 1).config("retention.ms", "x")).unwrap_err().code(), ErrorCode::InvalidConfig);
}

/// The leader-epoch checkpoint gets epoch 0's entry when the partition is created, as Kafka's
/// leader election assigns it, so no append rewrites (and fsyncs) it under the partition lock;
/// a checkpoint without an entry (a crash, or an older kabase that wrote it on the first
/// append) gets one when the partition opens, and one with an entry is left alone.
#[test]
fn the_leader_epoch_checkpoint_is_written_when_a_partition_opens_not_on_append() {
    use std::os::unix::fs::MetadataExt;
    let d = tempfile::tempdir().unwrap();
    let cp = d.path().join("log/t-0/leader-epoch-checkpoint");
    let read = || std::fs::read_to_string(&cp).unwrap();
    let inode = || std::fs::metadata(&cp).unwrap().ino();
    {
        let e = engine(d.path());
        e.create_topic(NewTopic::new("t", 1)).unwrap();
        assert_eq!(read(), "0\n1\n0 0\n");
        let before = inode();
        let p = e.producer(fast()).unwrap();
        for i in 0..3 {
            p.send(ProducerRecord::new("t", format!("v{i}")).partition(0)).unwrap().get().unwrap();
        }
        assert_eq!((read(), inode()), ("0\n1\n0 0\n".to_string(), before), "an append rewrote the checkpoint");
        p.close().unwrap();
        e.close().unwrap();
    }
    // An entry already there is kept as it is.
    let before = inode();
    engine(d.path()).close().unwrap();
    assert_eq!(inode(), before);
    // A non-empty log whose checkpoint lists no epoch gets its log start.
    {
        let e = engine(d.path());
        e.delete_records(&TopicPartition::new("t", 0), 2).unwrap();
        e.close().unwrap();
    }
    std::fs::write(&cp, "0\n0\n").unwrap();
    engine(d.path()).close().unwrap();
    assert_eq!(read(), "0\n1\n0 2\n");
    // An empty log's, as an older kabase left it at creation, gets offset 0.
    {
        let e = engine(d.path());
        e.create_topic(NewTopic::new("u", 1)).unwrap();
        e.close().unwrap();
    }
    let cu = d.path().join("log/u-0/leader-epoch-checkpoint");
    std::fs::write(&cu, "0\n0\n").unwrap();
    engine(d.path()).close().unwrap();
    assert_eq!(std::fs::read_to_string(&cu).unwrap(), "0\n1\n0 0\n");
}

#[test]
fn admin_create_describe_alter_delete_persist() {
    let d = tempfile::tempdir().unwrap();
    let e = engine(d.path());
    e.create_topic(NewTopic::new("t", 2).config("retention.hours", "5").config("segment.bytes", "1000")).unwrap();
    assert_eq!(e.list_topics().unwrap(), ["t"]);
    let desc = e.describe_topic("t").unwrap();
    assert_eq!(desc.partitions.len(), 2);
    assert_eq!(desc.topic_id.len(), 22);
    assert!(d.path().join("log/t-0/00000000000000000000.log").exists());
    assert!(d.path().join("log/t-1/leader-epoch-checkpoint").exists());
    let meta = std::fs::read_to_string(d.path().join("log/t-0/partition.metadata")).unwrap();
    assert_eq!(meta, format!("version: 0\ntopic_id: {}\n", desc.topic_id));
    let cfg = e.describe_configs("t").unwrap();
    let get = |c: &[ConfigEntry], k: &str| c.iter().find(|x| x.name == k).unwrap().clone();
    assert_eq!(get(&cfg, "retention.ms").value, "18000000");
    assert!(!get(&cfg, "segment.bytes").is_default);
    assert!(get(&cfg, "cleanup.policy").is_default);
    e.alter_configs("t", &[("cleanup.policy", Some("compact")), ("segment.bytes", None)]).unwrap();
    assert_eq!(e.alter_configs("t", &[("nope", Some("1"))]).unwrap_err().code(), ErrorCode::InvalidConfig);
    e.create_partitions("t", 4).unwrap();
    assert_eq!(e.create_partitions("t", 3).unwrap_err().code(), ErrorCode::InvalidArgument);
    e.create_topic(NewTopic::new("gone", 1)).unwrap();
    e.close().unwrap();
    drop(e);
    assert!(d.path().join("log/.kafka_cleanshutdown").exists());
    let e = engine(d.path());
    assert!(!d.path().join("log/.kafka_cleanshutdown").exists(), "marker removed once loaded");
    assert_eq!(e.partitions_for("t").unwrap(), 4);
    let cfg = e.describe_configs("t").unwrap();
    assert_eq!(get(&cfg, "cleanup.policy").value, "compact");
    assert!(get(&cfg, "segment.bytes").is_default);
    e.sync().unwrap();
    e.delete_topic("gone").unwrap();
    assert!(!d.path().join("log/gone-0").exists());
    assert_eq!(e.describe_topic("gone").unwrap_err().code(), ErrorCode::TopicNotFound);
    assert_eq!(e.delete_topic("gone").unwrap_err().code(), ErrorCode::TopicNotFound);
    e.close().unwrap();
}

#[test]
fn produce_consume_keys_headers_and_partitioner() {
    let e = Engine::open_in_memory().unwrap();
    e.create_topic(NewTopic::new("t", 5)).unwrap();
    let p = e.producer(fast()).unwrap();
    let mut futs = Vec::new();
    for i in 0..50 {
        let key = format!("key-{i}");
        futs.push((key.clone(), p.send(ProducerRecord::new("t", format!("v{i}")).key(key).header("h", vec![i as u8])).unwrap()));
    }
    for (key, f) in &futs {
        let m = f.get().unwrap();
        assert_eq!(m.partition, partitioner::partition_for_key(key.as_bytes(), 5), "murmur2 partitioning");
    }
    let m = p.send(ProducerRecord::new("t", "x").partition(3).timestamp(1234)).unwrap().get().unwrap();
    assert_eq!((m.partition, m.timestamp), (3, 1234));
    assert_eq!(p.send(ProducerRecord::new("t", "x").partition(9)).unwrap_err().code(), ErrorCode::UnknownPartition);
    let mut c = e.consumer(earliest()).unwrap();
    let tps: Vec<TopicPartition> = (0..5).map(|i| TopicPartition::new("t", i)).collect();
    c.assign(&tps).unwrap();
    let got = drain(&mut c);
    assert_eq!(got.len(), 51);
    for r in &got {
        if let Some(k) = &r.key {
            let i: usize = std::str::from_utf8(&k[4..]).unwrap().parse().unwrap();
            assert_eq!(r.value.as_deref(), Some(format!("v{i}").as_bytes()));
            assert_eq!(r.headers, vec![Header::new("h", vec![i as u8])]);
        }
    }
    // per-partition order
    for tp in &tps {
        let offs: Vec<i64> = got.iter().filter(|r| r.partition == tp.partition).map(|r| r.offset).collect();
        assert_eq!(offs, (0..offs.len() as i64).collect::<Vec<_>>());
    }
}

#[test]
fn keyless_records_are_sticky_until_batch_size() {
    let e = Engine::open_in_memory().unwrap();
    e.create_topic(NewTopic::new("s", 4)).unwrap();
    let p = e.producer(ProducerConfig::default().set("batch.size", "1000").unwrap()).unwrap();
    let parts: Vec<u32> = (0..40).map(|_| p.send(ProducerRecord::new("s", vec![0u8; 80])).unwrap().get().unwrap().partition).collect();
    // ~100 bytes per record, 1000-byte batches: runs of about ten records per partition.
    let mut runs = vec![1usize];
    for w in parts.windows(2) {
        if w[0] == w[1] {
            *runs.last_mut().unwrap() += 1;
        } else {
            runs.push(1);
        }
    }
    assert!(runs.len() >= 3 && runs.len() <= 6, "runs {runs:?}");
    assert!(runs[..runs.len() - 1].iter().all(|&r| (8..=11).contains(&r)), "runs {runs:?}");
}

#[test]
fn auto_create_uses_num_partitions_and_limits_apply() {
    let d = tempfile::tempdir().unwrap();
    let e = Engine::open_with(d.path(), crate::EngineOptions { num_partitions: 3, ..Default::default() }).unwrap();
    let p = e.producer(fast()).unwrap();
    p.send(ProducerRecord::new("auto", "x")).unwrap().get().unwrap();
    assert_eq!(e.partitions_for("auto").unwrap(), 3);
    let e2 = e.producer(fast().set("max.request.size", "100").unwrap()).unwrap();
    assert_eq!(e2.send(ProducerRecord::new("auto", vec![0u8; 200])).unwrap_err().code(), ErrorCode::RecordTooLarge);
    e.create_topic(NewTopic::new("small", 1).config("max.message.bytes", "300")).unwrap();
    let err = p.send(ProducerRecord::new("small", vec![0u8; 400])).unwrap_err();
    assert_eq!(err.code(), ErrorCode::RecordTooLarge);
    assert!(err.message().contains("max.message.bytes"));
    // a batch too large for the topic is refused by the log as well
    let part = e.topics().unwrap().partition(&TopicPartition::new("small", 0)).unwrap();
    let recs: Vec<RecordInput> = (0..5).map(|i| RecordInput { offset_delta: i, timestamp: 1, value: Some(vec![0; 100]), ..Default::default() }).collect();
    let b = batch::encode_batch(&BatchSpec::default(), &recs).unwrap();
    assert_eq!(part.append(b).unwrap_err().code(), ErrorCode::RecordTooLarge);
    e.close().unwrap();
}

#[test]
fn segments_roll_and_reads_cross_them() {
    let d = tempfile::tempdir().unwrap();
    let e = engine(d.path());
    e.create_topic(NewTopic::new("r", 1).config("segment.bytes", "2000").config("index.interval.bytes", "100")).unwrap();
    let p = e.producer(fast()).unwrap();
    for i in 0..100 {
        p.send(ProducerRecord::new("r", format!("{i:0>100}")).timestamp(10_000 + i)).unwrap().get().unwrap();
    }
    let desc = e.describe_topic("r").unwrap();
    let segs = &desc.partitions[0].segments;
    assert!(segs.len() > 5, "{segs:?}");
    assert!(segs.iter().all(|s| s.size_bytes <= 2000));
    for s in &segs[1..] {
        assert!(d.path().join(format!("log/r-0/{:020}.snapshot", s.base_offset)).exists(), "snapshot at each roll");
        assert!(d.path().join(format!("log/r-0/{:020}.index", s.base_offset)).exists());
    }
    let tp = TopicPartition::new("r", 0);
    let mut c = e.consumer(earliest()).unwrap();
    c.assign(&[tp.clone()]).unwrap();
    c.seek(&tp, 37).unwrap();
    let got = drain(&mut c);
    assert_eq!(got.first().unwrap().offset, 37);
    assert_eq!(got.len(), 63);
    let q = c.offsets_for_times(&[(tp.clone(), 10_050), (tp.clone(), 99_999)]).unwrap();
    assert_eq!(q[0].1, Some(OffsetAndTimestamp { offset: 50, timestamp: 10_050 }));
    assert_eq!(q[1].1, None);
    // delete_records moves the log start and drops whole segments below it
    let lso = e.delete_records(&tp, 55).unwrap();
    assert_eq!(lso, 55);
    let desc = e.describe_topic("r").unwrap();
    assert_eq!(desc.partitions[0].log_start_offset, 55);
    assert!(desc.partitions[0].segments[0].base_offset <= 55 && desc.partitions[0].segments[0].next_offset > 55);
    assert_eq!(c.beginning_offsets(&[tp.clone()]).unwrap()[0].1, 55);
    c.seek(&tp, 10).unwrap();
    assert_eq!(c.poll(Duration::from_millis(10)).unwrap_err().code(), ErrorCode::OffsetOutOfRange);
    assert_eq!(e.delete_records(&tp, 1000).unwrap_err().code(), ErrorCode::OffsetOutOfRange);
    e.close().unwrap();
    drop(e);
    let e = engine(d.path());
    assert_eq!(e.describe_topic("r").unwrap().partitions[0].log_start_offset, 55);
    e.close().unwrap();
}

/// A partition past `segment::PREALLOCATE_FROM` has disk space allocated ahead of its active
/// segment; a rolled segment and, on a clean close, the active one hold no space past their
/// end, and every record reads back after the reopen.
#[cfg(target_os = "linux")]
#[test]
fn roll_and_close_give_back_the_space_allocated_ahead() {
    let past_end = |p: &Path| segment::blocks_past_end(&std::fs::metadata(p).unwrap());
    let d = tempfile::tempdir().unwrap();
    let e = engine(d.path());
    e.create_topic(NewTopic::new("big", 1).config("segment.bytes", (3u64 << 20).to_string())).unwrap();
    let p = e.producer(ProducerConfig::default().set("linger.ms", "0").unwrap().set("acks", "1").unwrap()).unwrap();
    let value = vec![b'v'; 8000];
    let mut futures = Vec::new();
    for _ in 0..700 {
        futures.push(p.send(ProducerRecord::new("big", value.clone())).unwrap());
    }
    for f in futures {
        f.get().unwrap();
    }
    let segs = e.describe_topic("big").unwrap().partitions[0].segments.clone();
    assert_eq!(segs.len(), 2, "5.6 MB of records in 3 MiB segments: {segs:?}");
    let file = |base: i64| d.path().join(format!("log/big-0/{base:020}.log"));
    assert_eq!(past_end(&file(segs[0].base_offset)), 0, "the rolled segment gave its space back");
    assert!(past_end(&file(segs[1].base_offset)) > 0, "the active segment has space allocated ahead");
    p.close().unwrap();
    e.close().unwrap();
    drop(e);
    for s in &segs {
        assert_eq!(past_end(&file(s.base_offset)), 0, "segment {} after a clean close", s.base_offset);
    }
    let e = engine(d.path());
    let mut c = e.consumer(earliest()).unwrap();
    c.assign(&[TopicPartition::new("big", 0)]).unwrap();
    let got = drain(&mut c);
    assert_eq!(got.len(), 700);
    assert!(got.iter().enumerate().all(|(i, r)| r.offset == i as i64 && r.value.as_deref() == Some(&value[..])));
    e.close().unwrap();
}

/// `segment.index.bytes` (Kafka's topic config): the active segment's indexes are preallocated
/// to it and the log rolls when one is full; rolled segments' indexes are trimmed to their
/// entries; seeks and time lookups work across the rolls and after a reopen.
#[test]
fn segment_index_bytes_preallocates_and_rolls_when_an_index_is_full() {
    let d = tempfile::tempdir().unwrap();
    let e = engine(d.path());
    assert_eq!(e.create_topic(NewTopic::new("bad", 1).config("segment.index.bytes", "3")).unwrap_err().code(), ErrorCode::InvalidConfig);
    e.create_topic(NewTopic::new("x", 1).config("segment.index.bytes", "48").config("index.interval.bytes", "100")).unwrap();
    let p = e.producer(fast()).unwrap();
    for i in 0..60 {
        p.send(ProducerRecord::new("x", format!("{i:0>150}")).timestamp(20_000 + i)).unwrap().get().unwrap();
    }
    let segs = e.describe_topic("x").unwrap().partitions[0].segments.clone();
    // 48 bytes: 4 time-index entries, one kept for the roll's final entry -> 3 a segment
    assert!(segs.len() >= 10, "rolled on full indexes: {segs:?}");
    let dir = d.path().join("log/x-0");
    for s in &segs[..segs.len() - 1] {
        let ix = std::fs::metadata(dir.join(format!("{:020}.index", s.base_offset))).unwrap().len();
        let tix = std::fs::metadata(dir.join(format!("{:020}.timeindex", s.base_offset))).unwrap().len();
        assert!(ix == 3 * 8 && tix.is_multiple_of(12) && tix <= 48, "rolled segment {}: index {ix} bytes, time index {tix}", s.base_offset);
    }
    let active = segs.last().unwrap().base_offset;
    let ix = std::fs::metadata(dir.join(format!("{active:020}.index"))).unwrap().len();
    assert!(ix == 0 || ix == 48, "active index empty or preallocated: {ix}");
    let tp = TopicPartition::new("x", 0);
    let check = |e: &Engine| {
        let mut c = e.consumer(earliest()).unwrap();
        c.assign(&[tp.clone()]).unwrap();
        for o in [0, 7, 23, 41, 59] {
            c.seek(&tp, o).unwrap();
            assert_eq!(c.poll(Duration::from_millis(100)).unwrap()[0].offset, o);
        }
        let q = c.offsets_for_times(&[(tp.clone(), 20_033)]).unwrap();
        assert_eq!(q[0].1, Some(OffsetAndTimestamp { offset: 33, timestamp: 20_033 }));
    };
    check(&e);
    e.close().unwrap();
    drop(e);
    let ix = std::fs::metadata(dir.join(format!("{active:020}.index"))).unwrap().len();
    assert!(ix.is_multiple_of(8) && ix < 48, "trimmed on close: {ix}");
    let e = engine(d.path());
    check(&e);
    e.close().unwrap();
}

/// `poll_into` returns what `poll` returns, reuses the records (and their value buffers) it
/// is handed back, and shrinks to the records of the current poll.
#[test]
fn poll_into_matches_poll_and_reuses_the_records() {
    let e = Engine::open_in_memory().unwrap();
    e.create_topic(NewTopic::new("a", 2)).unwrap();
    e.create_topic(NewTopic::new("b", 1)).unwrap();
    let p = e.producer(fast()).unwrap();
    for i in 0..25u32 {
        let mut r = ProducerRecord::new(if i % 3 == 0 { "b" } else { "a" }, vec![i as u8; 50 + (i as usize % 4)]).partition(i % 2 * u32::from(i % 3 != 0));
        if i % 2 == 0 {
            r = r.key(format!("k{i}"));
        }
        if i % 5 == 0 {
            r = r.header("h", format!("x{i}"));
        }
        if i == 7 {
            r.value = None;
        }
        p.send(r).unwrap();
    }
    p.flush().unwrap();
    let tps = [TopicPartition::new("a", 0), TopicPartition::new("a", 1), TopicPartition::new("b", 0)];
    let cfg = || earliest().set("max.poll.records", "4").unwrap();
    let mut owned = e.consumer(cfg()).unwrap();
    owned.assign(&tps).unwrap();
    let mut reused = e.consumer(cfg()).unwrap();
    reused.assign(&tps).unwrap();
    let mut records = Vec::new();
    let mut total = 0;
    let mut reused_buffers = 0;
    loop {
        let want = owned.poll(Duration::from_millis(50)).unwrap();
        let before: Vec<*const u8> = records.iter().map(|r: &ConsumerRecord| r.value.as_ref().map_or(std::ptr::null(), |v| v.as_ptr())).collect();
        let n = reused.poll_into(Duration::from_millis(50), &mut records).unwrap();
        assert_eq!(n, records.len());
        assert_eq!(records, want);
        reused_buffers += records.iter().zip(&before).filter(|(r, &p)| !p.is_null() && r.value.as_ref().is_some_and(|v| v.as_ptr() == p)).count();
        total += n;
        if n == 0 {
            break;
        }
    }
    assert_eq!(total, 25);
    assert!(records.is_empty(), "an empty poll leaves no stale records");
    assert!(reused_buffers >= 10, "value buffers are refilled in place ({reused_buffers})");
}

#[test]
fn retention_by_time_and_size() {
    let e = Engine::open_in_memory().unwrap();
    e.create_topic(NewTopic::new("old", 1).config("segment.bytes", "1000").config("retention.ms", "60000")).unwrap();
    e.create_topic(NewTopic::new("big", 1).config("segment.bytes", "1000").config("retention.bytes", "3000")).unwrap();
    let p = e.producer(fast()).unwrap();
    let now = crate::util::now_ms();
    for i in 0..40 {
        // old records first, then fresh ones
        let ts = if i < 20 { now - 3_600_000 } else { now };
        p.send(ProducerRecord::new("old", vec![1u8; 100]).timestamp(ts)).unwrap().get().unwrap();
        p.send(ProducerRecord::new("big", vec![1u8; 100])).unwrap().get().unwrap();
    }
    let n = e.run_retention().unwrap();
    assert!(n > 0);
    let old = e.describe_topic("old").unwrap();
    let start = old.partitions[0].log_start_offset;
    assert!((15..=20).contains(&start), "old records gone, fresh kept: start {start}");
    let big = e.describe_topic("big").unwrap();
    let total: u64 = big.partitions[0].segments.iter().map(|s| s.size_bytes).sum();
    assert!(total <= 3000 + 1000, "total {total}");
    assert!(big.partitions[0].log_start_offset > 0);
    assert_eq!(big.partitions[0].log_end_offset, 40);
}

#[test]
fn recovery_truncates_torn_tail_and_keeps_flushed_data() {
    let d = tempfile::tempdir().unwrap();
    {
        let e = engine(d.path());
        e.create_topic(NewTopic::new("c", 1).config("segment.bytes", "3000")).unwrap();
        let p = e.producer(fast()).unwrap();
        for i in 0..60 {
            p.send(ProducerRecord::new("c", format!("{i:0>50}"))).unwrap().get().unwrap();
        }
        e.close().unwrap();
    }
    // Simulate a crash: no clean marker, an old recovery point and a torn, garbage-extended tail.
    std::fs::remove_file(d.path().join("log/.kafka_cleanshutdown")).unwrap();
    let dir = d.path().join("log/c-0");
    let mut logs: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "log")).collect();
    logs.sort();
    let last = logs.last().unwrap().clone();
    let bytes = std::fs::read(&last).unwrap();
    let mut torn = bytes[..bytes.len() - 7].to_vec();
    torn.extend_from_slice(&[0xAB; 40]);
    std::fs::write(&last, &torn).unwrap();
    std::fs::write(last.with_extension("index"), [1u8; 5]).unwrap(); // broken index: rebuilt
    let e = engine(d.path());
    let desc = e.describe_topic("c").unwrap();
    assert_eq!(desc.partitions[0].log_end_offset, 59, "the torn last batch is gone");
    let tp = TopicPartition::new("c", 0);
    let mut c = e.consumer(earliest()).unwrap();
    c.assign(&[tp.clone()]).unwrap();
    let got = drain(&mut c);
    assert_eq!(got.len(), 59);
    assert_eq!(values(&got)[58], format!("{:0>50}", 58));
    // appends continue at the recovered end
    let p = e.producer(fast()).unwrap();
    assert_eq!(p.send(ProducerRecord::new("c", "after")).unwrap().get().unwrap().offset, 59);
    e.close().unwrap();
}

#[test]
fn corrupt_byte_in_flushed_segment_is_reported() {
    let d = tempfile::tempdir().unwrap();
    {
        let e = engine(d.path());
        e.create_topic(NewTopic::new("x", 1).config("segment.bytes", "2000")).unwrap();
        let p = e.producer(fast()).unwrap();
        for i in 0..40 {
            p.send(ProducerRecord::new("x", format!("{i:0>60}"))).unwrap().get().unwrap();
        }
        e.close().unwrap();
    }
    let f = d.path().join("log/x-0/00000000000000000000.log");
    let mut b = std::fs::read(&f).unwrap();
    let mid = b.len() / 2;
    b[mid] ^= 0x10;
    std::fs::write(&f, &b).unwrap();
    let e = engine(d.path());
    let tp = TopicPartition::new("x", 0);
    let mut c = e.consumer(earliest()).unwrap();
    c.assign(&[tp.clone()]).unwrap();
    let mut err = None;
    for _ in 0..100 {
        match c.poll(Duration::from_millis(5)) {
            Ok(v) if v.is_empty() => break,
            Ok(_) => {}
            Err(x) => {
                err = Some(x);
                break;
            }
        }
    }
    assert_eq!(err.expect("corruption must surface").code(), ErrorCode::CorruptRecord);
    e.close().unwrap();
}

#[test]
fn idempotent_appends_dedupe_and_check_sequences() {
    let e = Engine::open_in_memory().unwrap();
    e.create_topic(NewTopic::new("i", 1)).unwrap();
    let part = e.topics().unwrap().partition(&TopicPartition::new("i", 0)).unwrap();
    let b = |seq: i32, n: i32, epoch: i16| {
        let recs: Vec<RecordInput> = (0..n).map(|i| RecordInput { offset_delta: i, timestamp: 1, value: Some(vec![i as u8]), ..Default::default() }).collect();
        batch::encode_batch(&BatchSpec { producer_id: 77, producer_epoch: epoch, base_sequence: seq, ..BatchSpec::default() }, &recs).unwrap()
    };
    let a = part.append(b(0, 3, 0)).unwrap();
    assert_eq!((a.first_offset, a.last_offset, a.duplicate), (0, 2, false));
    let dup = part.append(b(0, 3, 0)).unwrap();
    assert_eq!((dup.first_offset, dup.last_offset, dup.duplicate), (0, 2, true));
    assert_eq!(part.append(b(5, 1, 0)).unwrap_err().code(), ErrorCode::OutOfOrderSequence);
    part.append(b(3, 1, 0)).unwrap();
    part.append(b(0, 1, 1)).unwrap();
    assert_eq!(part.append(b(4, 1, 0)).unwrap_err().code(), ErrorCode::InvalidProducerEpoch);
    assert_eq!(part.log_end_offset(), 5);
    // clients may not write control batches
    let m = batch::encode_control_batch(0, 77, 1, batch::ControlType::Commit, 0, 1).unwrap();
    assert_eq!(part.append(m).unwrap_err().code(), ErrorCode::InvalidArgument);
}

#[test]
fn producer_state_survives_restart() {
    let d = tempfile::tempdir().unwrap();
    let b = |seq: i32| {
        let recs = vec![RecordInput { offset_delta: 0, timestamp: 1, value: Some(vec![1]), ..Default::default() }];
        batch::encode_batch(&BatchSpec { producer_id: 5, producer_epoch: 0, base_sequence: seq, ..BatchSpec::default() }, &recs).unwrap()
    };
    for clean in [true, false] {
        let e = engine(d.path());
        let name = format!("ps{clean}");
        e.create_topic(NewTopic::new(name.clone(), 1)).unwrap();
        let part = e.topics().unwrap().partition(&TopicPartition::new(name.clone(), 0)).unwrap();
        part.append(b(0)).unwrap();
        part.append(b(1)).unwrap();
        drop(part);
        e.close().unwrap();
        drop(e);
        if !clean {
            std::fs::remove_file(d.path().join("log/.kafka_cleanshutdown")).unwrap();
            for f in std::fs::read_dir(d.path().join(format!("log/{name}-0"))).unwrap().flatten() {
                if f.path().extension().is_some_and(|x| x == "snapshot") {
                    std::fs::remove_file(f.path()).unwrap();
                }
            }
        }
        let e = engine(d.path());
        let part = e.topics().unwrap().partition(&TopicPartition::new(name, 0)).unwrap();
        assert!(part.append(b(1)).unwrap().duplicate, "clean={clean}: window restored");
        assert_eq!(part.append(b(5)).unwrap_err().code(), ErrorCode::OutOfOrderSequence);
        drop(part);
        e.close().unwrap();
    }
}

#[test]
fn log_append_time_and_topic_compression() {
    let e = Engine::open_in_memory().unwrap();
    e.create_topic(NewTopic::new("lat", 1).config("message.timestamp.type", "LogAppendTime").config("compression.type", "zstd")).unwrap();
    let p = e.producer(fast().set("compression.type", "gzip").unwrap()).unwrap();
    let before = crate::util::now_ms();
    let m = p.send(ProducerRecord::new("lat", "v").timestamp(5)).unwrap().get().unwrap();
    assert!(m.timestamp >= before, "broker time reported");
    let tp = TopicPartition::new("lat", 0);
    let part = e.topics().unwrap().partition(&tp).unwrap();
    let data = part.read(0, 1 << 20, IsolationLevel::ReadUncommitted).unwrap();
    let h = batch::parse_header(&data.bytes).unwrap();
    assert_eq!(h.compression().unwrap(), Compression::Zstd, "recompressed to the topic's codec");
    assert_eq!(h.timestamp_type(), TimestampType::LogAppendTime);
    let mut c = e.consumer(earliest()).unwrap();
    c.assign(&[tp]).unwrap();
    let r = c.poll(Duration::from_millis(100)).unwrap();
    assert_eq!((r[0].timestamp, r[0].timestamp_type), (m.timestamp, TimestampType::LogAppendTime));
}

#[test]
fn every_codec_through_the_producer() {
    let e = Engine::open_in_memory().unwrap();
    for codec in ["none", "gzip", "snappy", "lz4", "zstd"] {
        let p = e.producer(fast().set("compression.type", codec).unwrap()).unwrap();
        for i in 0..20 {
            p.send(ProducerRecord::new(codec, format!("value {i} {}", "z".repeat(50)))).unwrap();
        }
        p.flush().unwrap();
        let mut c = e.consumer(earliest()).unwrap();
        c.assign(&[TopicPartition::new(codec, 0)]).unwrap();
        assert_eq!(drain(&mut c).len(), 20, "{codec}");
    }
}

#[test]
fn consumer_positions_pause_reset_and_long_poll() {
    let e = Engine::open_in_memory().unwrap();
    e.create_topic(NewTopic::new("p", 2)).unwrap();
    let tp0 = TopicPartition::new("p", 0);
    let tp1 = TopicPartition::new("p", 1);
    let p = e.producer(fast()).unwrap();
    for i in 0..10 {
        p.send(ProducerRecord::new("p", format!("a{i}")).partition(0)).unwrap();
        p.send(ProducerRecord::new("p", format!("b{i}")).partition(1)).unwrap();
    }
    p.flush().unwrap();
    // latest (default): starts at the end
    let mut c = e.consumer(ConsumerConfig::default().set("max.poll.records", "4").unwrap()).unwrap();
    c.assign(&[tp0.clone(), tp1.clone()]).unwrap();
    assert_eq!(c.position(&tp0).unwrap(), 10);
    assert!(c.poll(Duration::from_millis(10)).unwrap().is_empty());
    c.seek_to_beginning(&[tp0.clone()]).unwrap();
    let got = c.poll(Duration::from_millis(10)).unwrap();
    assert_eq!(values(&got), ["a0", "a1", "a2", "a3"], "max.poll.records");
    c.pause(&[tp0.clone()]).unwrap();
    assert_eq!(c.paused(), vec![tp0.clone()]);
    assert!(c.poll(Duration::from_millis(10)).unwrap().is_empty());
    c.resume(&[tp0.clone()]).unwrap();
    assert_eq!(c.poll(Duration::from_millis(10)).unwrap()[0].offset, 4);
    c.seek(&tp0, 9).unwrap();
    assert_eq!(values(&c.poll(Duration::from_millis(10)).unwrap()), ["a9"]);
    assert!(c.positions().contains(&(tp0.clone(), 10)));
    // re-assigning keeps the kept partition's position
    c.assign(&[tp0.clone()]).unwrap();
    assert_eq!(c.position(&tp0).unwrap(), 10);
    assert_eq!(c.seek(&tp1, 0).unwrap_err().code(), ErrorCode::InvalidArgument);
    // none: error without a committed offset; a committed-offset source is consulted first
    let mut n = e.consumer(ConsumerConfig::default().set("auto.offset.reset", "none").unwrap()).unwrap();
    n.assign(&[tp1.clone()]).unwrap();
    assert_eq!(n.position(&tp1).unwrap_err().code(), ErrorCode::NoOffsetForPartition);
    struct Fixed;
    impl CommittedOffsets for Fixed {
        fn committed(&self, _tp: &TopicPartition) -> crate::Result<Option<i64>> {
            Ok(Some(7))
        }
    }
    n.set_committed_offsets(Arc::new(Fixed));
    assert_eq!(values(&n.poll(Duration::from_millis(10)).unwrap()), ["b7", "b8", "b9"]);
    assert_eq!(n.end_offsets(&[tp1.clone()]).unwrap()[0].1, 10);
    // long poll wakes on append
    let e2 = e.clone();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        let p = e2.producer(fast()).unwrap();
        p.send(ProducerRecord::new("p", "late").partition(1)).unwrap().get().unwrap();
    });
    let start = std::time::Instant::now();
    let got = n.poll(Duration::from_secs(10)).unwrap();
    assert_eq!(values(&got), ["late"]);
    assert!(start.elapsed() < Duration::from_secs(5));
    t.join().unwrap();
}

#[test]
fn acks_all_from_many_threads() {
    let d = tempfile::tempdir().unwrap();
    let e = engine(d.path());
    e.create_topic(NewTopic::new("m", 2)).unwrap();
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let e = e.clone();
            std::thread::spawn(move || {
                let p = e.producer(ProducerConfig::default()).unwrap();
                let fs: Vec<_> = (0..200).map(|i| p.send(ProducerRecord::new("m", format!("{t}-{i}")).key(format!("{t}"))).unwrap()).collect();
                fs.iter().map(|f| f.get().unwrap().offset).collect::<Vec<_>>()
            })
        })
        .collect();
    let mut n = 0;
    for h in handles {
        let offs = h.join().unwrap();
        assert!(offs.windows(2).all(|w| w[0] < w[1]), "one producer's records stay in order");
        n += offs.len();
    }
    assert_eq!(n, 800);
    let desc = e.describe_topic("m").unwrap();
    assert_eq!(desc.partitions.iter().map(|p| p.log_end_offset).sum::<i64>(), 800);
    e.close().unwrap();
}

struct Recorder(parking_lot::Mutex<Vec<(String, Vec<TxnOffset>)>>);
impl TxnOffsetCommitter for Recorder {
    fn commit_txn_offsets(&self, group_id: &str, offsets: &[TxnOffset]) -> crate::Result<()> {
        self.0.lock().push((group_id.to_string(), offsets.to_vec()));
        Ok(())
    }
}

#[test]
fn transactions_commit_abort_read_committed_and_lso() {
    let d = tempfile::tempdir().unwrap();
    let e = engine(d.path());
    e.create_topic(NewTopic::new("tx", 1)).unwrap();
    let rec = Arc::new(Recorder(parking_lot::Mutex::new(Vec::new())));
    e.set_txn_offset_committer(rec.clone()).unwrap();
    let tp = TopicPartition::new("tx", 0);
    let p = e.producer(fast().set("transactional.id", "app-1").unwrap()).unwrap();
    assert_eq!(p.begin_transaction().unwrap_err().code(), ErrorCode::InvalidTxnState);
    p.init_transactions().unwrap();
    assert_eq!(p.send(ProducerRecord::new("tx", "outside")).unwrap_err().code(), ErrorCode::InvalidTxnState);
    // committed transaction
    p.begin_transaction().unwrap();
    p.send(ProducerRecord::new("tx", "c1")).unwrap();
    p.send(ProducerRecord::new("tx", "c2")).unwrap();
    p.send_offsets_to_transaction(&[(TopicPartition::new("in", 0), 42)], "g1").unwrap();
    p.commit_transaction().unwrap();
    assert_eq!(rec.0.lock().len(), 1);
    assert_eq!(rec.0.lock()[0].0, "g1");
    assert_eq!(rec.0.lock()[0].1[0].offset, 42);
    // aborted transaction
    p.begin_transaction().unwrap();
    p.send(ProducerRecord::new("tx", "a1")).unwrap();
    p.send_offsets_to_transaction(&[(TopicPartition::new("in", 0), 99)], "g1").unwrap();
    p.flush().unwrap();
    // open: LSO is the first offset of the open transaction
    let (_, leo, hw, lso) = e.topics().unwrap().partition(&tp).unwrap().offsets();
    assert_eq!((leo, hw, lso), (4, 4, 3));
    let mut rc = e.consumer(earliest().set("isolation.level", "read_committed").unwrap()).unwrap();
    rc.assign(&[tp.clone()]).unwrap();
    assert_eq!(values(&drain(&mut rc)), ["c1", "c2"], "stops at the LSO");
    assert_eq!(rc.end_offsets(&[tp.clone()]).unwrap()[0].1, 3);
    p.abort_transaction().unwrap();
    assert_eq!(rec.0.lock().len(), 1, "aborted offsets are not committed");
    // a second committed one after the abort
    p.begin_transaction().unwrap();
    p.send(ProducerRecord::new("tx", "c3")).unwrap();
    p.commit_transaction().unwrap();
    let mut ru = e.consumer(earliest()).unwrap();
    ru.assign(&[tp.clone()]).unwrap();
    assert_eq!(values(&drain(&mut ru)), ["c1", "c2", "a1", "c3"], "read_uncommitted sees aborted data, never markers");
    assert_eq!(values(&drain(&mut rc)), ["c3"]);
    let mut rc2 = e.consumer(earliest().set("isolation.level", "read_committed").unwrap()).unwrap();
    rc2.assign(&[tp.clone()]).unwrap();
    assert_eq!(values(&drain(&mut rc2)), ["c1", "c2", "c3"]);
    // the abort is in the .txnindex
    let txn = std::fs::read(d.path().join("log/tx-0/00000000000000000000.txnindex")).unwrap();
    assert_eq!(txn.len(), 34);
    let t = index::AbortedTxn::from_bytes(&txn).unwrap();
    assert_eq!((t.producer_id, t.first_offset, t.last_offset, t.last_stable_offset), (p.producer_id(), 3, 4, 5));
    e.close().unwrap();
}

#[test]
fn zombie_is_fenced_and_restart_aborts_open_transactions() {
    let d = tempfile::tempdir().unwrap();
    let e = engine(d.path());
    let cfg = fast().set("transactional.id", "app").unwrap();
    let old = e.producer(cfg.clone()).unwrap();
    old.init_transactions().unwrap();
    old.begin_transaction().unwrap();
    old.send(ProducerRecord::new("z", "zombie")).unwrap();
    old.flush().unwrap();
    let new = e.producer(cfg.clone()).unwrap();
    new.init_transactions().unwrap();
    assert!(new.producer_epoch() > old.producer_epoch());
    assert_eq!(new.producer_id(), old.producer_id());
    // the zombie's open transaction was aborted, and it is fenced
    assert_eq!(old.commit_transaction().unwrap_err().code(), ErrorCode::ProducerFenced);
    assert_eq!(old.send(ProducerRecord::new("z", "x")).unwrap_err().code(), ErrorCode::ProducerFenced);
    new.begin_transaction().unwrap();
    new.send(ProducerRecord::new("z", "open-at-crash")).unwrap();
    new.flush().unwrap();
    drop(old);
    drop(new);
    e.close().unwrap();
    drop(e);
    let e = engine(d.path());
    let tp = TopicPartition::new("z", 0);
    let (_, leo, _, lso) = e.topics().unwrap().partition(&tp).unwrap().offsets();
    assert_eq!(lso, leo, "the in-flight transaction was completed (aborted) on open");
    let mut rc = e.consumer(earliest().set("isolation.level", "read_committed").unwrap()).unwrap();
    rc.assign(&[tp.clone()]).unwrap();
    assert!(drain(&mut rc).is_empty());
    let p = e.producer(cfg).unwrap();
    p.init_transactions().unwrap();
    p.begin_transaction().unwrap();
    p.send(ProducerRecord::new("z", "ok")).unwrap();
    p.commit_transaction().unwrap();
    assert_eq!(values(&drain(&mut rc)), ["ok"]);
    drop(p);
    e.close().unwrap();
}

#[test]
fn txn_offsets_go_to_the_registered_committer() {
    // The engine registers the consumer-group offset store at open (see group::wiring); a
    // committer registered later replaces it.
    let e = Engine::open_in_memory().unwrap();
    let p = e.producer(fast().set("transactional.id", "w").unwrap()).unwrap();
    p.init_transactions().unwrap();
    p.begin_transaction().unwrap();
    p.send(ProducerRecord::new("w", "v")).unwrap();
    p.send_offsets_to_transaction(&[(TopicPartition::new("src", 1), 5)], "g").unwrap();
    p.commit_transaction().unwrap();
    assert_eq!(e.fetch_group_offsets("g", &[]).unwrap().len(), 1, "default committer is the group store");
    let rec = Arc::new(Recorder(parking_lot::Mutex::new(Vec::new())));
    e.set_txn_offset_committer(rec.clone()).unwrap();
    p.begin_transaction().unwrap();
    p.send(ProducerRecord::new("w", "v")).unwrap();
    p.send_offsets_to_transaction(&[(TopicPartition::new("src", 1), 6)], "g").unwrap();
    p.commit_transaction().unwrap();
    assert_eq!(rec.0.lock().len(), 1, "applied to the committer registered last");
}

#[test]
fn config_rules_of_the_producer() {
    assert_eq!(ProducerConfig::default().set("acks", "2").unwrap_err().code(), ErrorCode::InvalidConfig);
    assert_eq!(ProducerConfig::default().set("bogus", "1").unwrap_err().code(), ErrorCode::InvalidConfig);
    let e = Engine::open_in_memory().unwrap();
    let bad = ProducerConfig::default().set("acks", "1").unwrap().set("enable.idempotence", "true").unwrap();
    assert_eq!(e.producer(bad).unwrap_err().code(), ErrorCode::InvalidConfig);
    let p = e.producer(ProducerConfig::default().set("acks", "1").unwrap()).unwrap();
    assert_eq!(p.producer_id(), -1, "acks=1 turns implicit idempotence off");
    let p = e.producer(ProducerConfig::default()).unwrap();
    assert!(p.producer_id() >= 0, "idempotent by default");
    assert_eq!(ConsumerConfig::default().set("isolation.level", "x").unwrap_err().code(), ErrorCode::InvalidConfig);
}

/// Model-based test: random produce / consume / restart sequences checked against a Vec model.
mod model {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Produce { partition: u32, n: usize, keyed: bool },
        Consume { partition: u32, from: usize },
        Restart { clean: bool },
        Roll { partition: u32 },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0u32..2, 1usize..30, any::<bool>()).prop_map(|(partition, n, keyed)| Op::Produce { partition, n, keyed }),
            3 => (0u32..2, 0usize..100).prop_map(|(partition, from)| Op::Consume { partition, from }),
            1 => any::<bool>().prop_map(|clean| Op::Restart { clean }),
            1 => (0u32..2).prop_map(|partition| Op::Roll { partition }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]
        #[test]
        fn log_matches_model(ops in proptest::collection::vec(op(), 1..25)) {
            let d = tempfile::tempdir().unwrap();
            let mut e = engine(d.path());
            e.create_topic(NewTopic::new("m", 2).config("segment.bytes", "1500")).unwrap();
            let mut model: Vec<Vec<(Option<Vec<u8>>, Vec<u8>)>> = vec![Vec::new(), Vec::new()];
            let mut counter = 0u64;
            for op in ops {
                match op {
                    Op::Produce { partition, n, keyed } => {
                        let p = e.producer(fast()).unwrap();
                        for _ in 0..n {
                            counter += 1;
                            let key = keyed.then(|| format!("k{}", counter % 7).into_bytes());
                            let value = format!("value-{counter}").into_bytes();
                            let mut r = ProducerRecord::new("m", value.clone()).partition(partition);
                            r.key = key.clone();
                            p.send(r).unwrap();
                            model[partition as usize].push((key, value));
                        }
                        p.close().unwrap();
                    }
                    Op::Consume { partition, from } => {
                        let want = &model[partition as usize];
                        let from = from.min(want.len());
                        let tp = TopicPartition::new("m", partition);
                        let mut c = e.consumer(earliest()).unwrap();
                        c.assign(&[tp.clone()]).unwrap();
                        c.seek(&tp, from as i64).unwrap();
                        let got = drain(&mut c);
                        prop_assert_eq!(got.len(), want.len() - from);
                        for (i, r) in got.iter().enumerate() {
                            prop_assert_eq!(r.offset, (from + i) as i64);
                            prop_assert_eq!(&r.key, &want[from + i].0);
                            prop_assert_eq!(r.value.as_ref(), Some(&want[from + i].1));
                        }
                    }
                    Op::Restart { clean } => {
                        e.close().unwrap();
                        drop(e);
                        if !clean {
                            let _ = std::fs::remove_file(d.path().join("log/.kafka_cleanshutdown"));
                            let _ = std::fs::remove_file(d.path().join("log/recovery-point-offset-checkpoint"));
                        }
                        e = engine(d.path());
                    }
                    Op::Roll { partition } => e.roll_segment(&TopicPartition::new("m", partition)).unwrap(),
                }
                let desc = e.describe_topic("m").unwrap();
                for p in 0..2 {
                    prop_assert_eq!(desc.partitions[p].log_end_offset, model[p].len() as i64);
                }
            }
            e.close().unwrap();
        }
    }
}

#[test]
fn segment_ms_rolls_by_record_time_and_flush_messages_syncs() {
    let e = Engine::open_in_memory().unwrap();
    e.create_topic(NewTopic::new("t", 1).config("segment.ms", "60000").config("flush.messages", "1")).unwrap();
    let p = e.producer(fast()).unwrap();
    let now = crate::util::now_ms();
    for (i, ts) in [now - 300_000, now - 290_000, now - 200_000, now - 100_000, now].iter().enumerate() {
        p.send(ProducerRecord::new("t", format!("{i}")).timestamp(*ts)).unwrap().get().unwrap();
    }
    let segs = e.describe_topic("t").unwrap().partitions[0].segments.clone();
    assert_eq!(segs.iter().map(|s| s.base_offset).collect::<Vec<_>>(), [0, 2, 3, 4], "a new segment once a batch is 60 s past the segment's first");
    let part = e.topics().unwrap().partition(&TopicPartition::new("t", 0)).unwrap();
    assert_eq!(part.durable.load(std::sync::atomic::Ordering::Acquire), 5, "flush.messages=1 fsyncs every append");
}

/// The borrowing paths (`send_ref`, `poll_for_each`) give exactly what the owned ones give:
/// same records, headers and positions, across batch boundaries hit by `max.poll.records`,
/// seeks, and read_committed skipping an aborted transaction and its markers.
#[test]
fn borrowed_send_and_views_match_owned_paths() {
    let d = tempfile::tempdir().unwrap();
    let e = engine(d.path());
    e.create_topic(NewTopic::new("v", 1)).unwrap();
    let tp = TopicPartition::new("v", 0);
    let p = e.producer(ProducerConfig::default().set("batch.size", "300").unwrap().set("linger.ms", "50").unwrap()).unwrap();
    let hdrs = [Header::new("h", b"x".to_vec()), Header { key: "n".into(), value: None }];
    for i in 0..40u32 {
        let v = format!("v{i}").into_bytes();
        let k = format!("k{i}").into_bytes();
        if i % 2 == 0 {
            let mut r = ProducerRecordRef::new("v", &v).key(&k).partition(0).timestamp(1000 + i64::from(i));
            if i % 4 == 0 {
                r = r.headers(&hdrs);
            }
            p.send_ref(r).unwrap();
        } else if i % 7 == 0 {
            p.send(ProducerRecord::tombstone("v", k).partition(0).timestamp(1000 + i64::from(i))).unwrap();
        } else {
            p.send(ProducerRecord::new("v", v).key(k).partition(0).timestamp(1000 + i64::from(i)).header("o", "y")).unwrap();
        }
    }
    p.flush().unwrap();
    // an aborted and a committed transaction after the plain records
    let t = e.producer(fast().set("transactional.id", "views").unwrap()).unwrap();
    t.init_transactions().unwrap();
    t.begin_transaction().unwrap();
    t.send(ProducerRecord::new("v", "aborted")).unwrap();
    t.flush().unwrap();
    t.abort_transaction().unwrap();
    t.begin_transaction().unwrap();
    t.send(ProducerRecord::new("v", "committed")).unwrap();
    t.commit_transaction().unwrap();
    let log = std::fs::read(d.path().join("log/v-0/00000000000000000000.log")).unwrap();
    assert!(batch::batches(&log).count() > 5, "several batches");
    for isolation in ["read_uncommitted", "read_committed"] {
        let cfg = earliest().set("max.poll.records", "7").unwrap().set("isolation.level", isolation).unwrap();
        let mut owned = e.consumer(cfg.clone()).unwrap();
        let mut viewed = e.consumer(cfg).unwrap();
        owned.assign(&[tp.clone()]).unwrap();
        viewed.assign(&[tp.clone()]).unwrap();
        let mut all_owned = Vec::new();
        let mut all_viewed = Vec::new();
        for step in 0..40 {
            if step == 3 {
                owned.seek(&tp, 5).unwrap();
                viewed.seek(&tp, 5).unwrap();
            }
            let a = owned.poll(Duration::from_millis(0)).unwrap();
            let mut b = Vec::new();
            let n = viewed
                .poll_for_each(Duration::from_millis(0), |r| {
                    assert_eq!(r.header_count(), r.headers().count());
                    b.push(r.to_record());
                })
                .unwrap();
            assert_eq!(n, b.len());
            assert!(n <= 7);
            assert_eq!(a, b, "{isolation} step {step}");
            assert_eq!(owned.position(&tp).unwrap(), viewed.position(&tp).unwrap(), "{isolation} step {step}");
            all_owned.extend(a);
            all_viewed.extend(b);
        }
        assert_eq!(all_owned, all_viewed);
        let vals = values(&all_owned);
        let expect_tail: &[&str] = if isolation == "read_committed" { &["committed"] } else { &["aborted", "committed"] };
        assert_eq!(&vals[vals.len() - expect_tail.len()..], expect_tail, "{isolation}");
        let plain: Vec<&ConsumerRecord> = all_owned.iter().filter(|r| r.offset < 40).collect();
        assert_eq!(plain.len(), 21 + 35, "0..21 in three polls before the seek to 5, then 5..40");
        let r4 = plain.iter().find(|r| r.offset == 4).unwrap();
        assert_eq!(r4.headers, hdrs.to_vec());
        assert_eq!((r4.key.as_deref(), r4.timestamp), (Some(&b"k4"[..]), 1004));
        assert_eq!(plain.iter().find(|r| r.offset == 7).unwrap().value, None);
        assert_eq!(plain.iter().find(|r| r.offset == 9).unwrap().headers, vec![Header::new("o", b"y".to_vec())]);
    }
    e.close().unwrap();
}

/// A roll leaves the old segment's fsync to the background (Kafka's "flush-log" task after
/// `roll`): the append that rolls does not move the recovery point or `durable`; an acks=all
/// flush meanwhile still syncs the old segment's `.log`; `flush_rolled` then syncs it with its
/// indexes and moves the recovery point; and a crash before that recovers from the old one.
#[test]
fn roll_leaves_the_old_segment_flush_to_the_background() {
    use std::sync::atomic::Ordering;
    let d = tempfile::tempdir().unwrap();
    let overrides = [("segment.bytes".to_string(), "1000".to_string())].into_iter().collect();
    let cfg = Arc::new(config::TopicConfig::from_overrides(&overrides).unwrap());
    let open = |dir: PathBuf, clean: bool, rp: i64| PartitionLog::open(dir, "r", 0, "id", Arc::clone(&cfg), clean, rp, 0, Arc::new(DataSignal::default())).unwrap();
    let batch = || {
        let recs: Vec<RecordInput> = (0..5).map(|i| RecordInput { offset_delta: i, timestamp: 1, value: Some(vec![7; 100]), ..Default::default() }).collect();
        batch::encode_batch(&BatchSpec::default(), &recs).unwrap()
    };
    let bases = |p: &PartitionLog| p.segment_infos().iter().map(|s| s.base_offset).collect::<Vec<_>>();
    let p = open(d.path().join("r-0"), true, 0);
    for _ in 0..3 {
        p.append(batch()).unwrap();
    }
    assert_eq!(bases(&p), [0, 5, 10], "each ~600-byte batch past 1000 bytes rolls");
    assert_eq!(p.recovery_point(), 0, "the rolls did not flush on the append path");
    assert_eq!(p.durable.load(Ordering::Acquire), 0);
    let pending = p.unsynced_logs(&p.state.lock()).into_iter().map(|(b, _)| b).collect::<Vec<_>>();
    assert_eq!(pending, [0, 5, 10], "an acks=all flush covers the rolled segments still waiting");
    p.flush_to(15).unwrap();
    assert_eq!(p.durable.load(Ordering::Acquire), 15);
    assert_eq!(p.recovery_point(), 0, "a data flush does not sync indexes, so the recovery point stays");
    p.flush_rolled().unwrap();
    assert_eq!(p.recovery_point(), 10, "the background flush moves the recovery point to the last roll");
    let pending = p.unsynced_logs(&p.state.lock()).into_iter().map(|(b, _)| b).collect::<Vec<_>>();
    assert_eq!(pending, [10], "flushed rolled segments are not synced again");
    p.flush_rolled().unwrap();
    assert_eq!(p.recovery_point(), 10, "nothing waiting: no change");

    // Kill between a roll and its background flush: the checkpoint still has the old recovery
    // point, so reopening rescans segment 10 (unflushed data torn by the crash) and drops the rest.
    p.append(batch()).unwrap();
    p.append(batch()).unwrap();
    assert_eq!(bases(&p), [0, 5, 10, 15, 20]);
    let rp = p.recovery_point();
    assert_eq!(rp, 10);
    let crashed = tempfile::tempdir().unwrap();
    let dst = crashed.path().join("r-0");
    std::fs::create_dir(&dst).unwrap();
    for f in std::fs::read_dir(d.path().join("r-0")).unwrap().flatten() {
        std::fs::copy(f.path(), dst.join(f.file_name())).unwrap();
    }
    let seg10 = dst.join(partition::log_file_name(10));
    let mut bytes = std::fs::read(&seg10).unwrap();
    let keep = bytes.len() - 9;
    bytes.truncate(keep);
    std::fs::write(&seg10, &bytes).unwrap();
    let r = open(dst, false, rp);
    assert_eq!(r.log_end_offset(), 10, "the torn batch of the unflushed segment is gone");
    assert_eq!(bases(&r), [0, 5, 10], "segments after the torn one are dropped");
    assert_eq!(r.recovery_point(), 10);
    let got = r.read(0, 1 << 20, IsolationLevel::ReadUncommitted).unwrap();
    assert_eq!(batch::batches_unchecked(&got.bytes).count(), 2);
    p.close().unwrap();
}

/// Through the engine, the background thread performs the roll's flush soon after the roll.
#[test]
fn engine_background_thread_flushes_after_a_roll() {
    let d = tempfile::tempdir().unwrap();
    let e = engine(d.path());
    e.create_topic(NewTopic::new("b", 1).config("segment.bytes", "1000")).unwrap();
    let p = e.producer(fast()).unwrap();
    for i in 0..30 {
        p.send(ProducerRecord::new("b", format!("{i:0>100}"))).unwrap().get().unwrap();
    }
    let part = e.topics().unwrap().partition(&TopicPartition::new("b", 0)).unwrap();
    let last_base = part.segment_infos().last().unwrap().base_offset;
    assert!(last_base > 0, "the log rolled");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while part.recovery_point() < last_base {
        assert!(std::time::Instant::now() < deadline, "recovery point {} never reached {last_base}", part.recovery_point());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(part.recovery_point(), last_base);
    e.close().unwrap();
}

/// `PartitionLog::append_batches`, the producer's path: a run of one producer's batches under
/// one lock hold, written together; a batch refused in the middle fails alone and the later
/// ones are renumbered through `restamp` (so their sequences follow the log's producer state);
/// a roll inside the run; a failed write fails the run and takes it back (log end offset and
/// producer state), so the same batches are accepted again afterwards, not taken as duplicates.
#[test]
fn append_batches_renumbers_after_a_refusal_rolls_inside_a_run_and_takes_back_a_failed_write() {
    let d = tempfile::tempdir().unwrap();
    let overrides = [("segment.bytes", "3000"), ("max.message.bytes", "1500")].into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let cfg = Arc::new(config::TopicConfig::from_overrides(&overrides).unwrap());
    let p = PartitionLog::open(d.path().join("r-0"), "r", 0, "id", cfg, true, 0, 0, Arc::new(DataSignal::default())).unwrap();
    let batch = |n: i32, size: usize, seq: i32| {
        let recs: Vec<RecordInput> = (0..n).map(|i| RecordInput { offset_delta: i, timestamp: 1, value: Some(vec![b'a' + i as u8; size]), ..Default::default() }).collect();
        batch::encode_batch(&BatchSpec { producer_id: 9, producer_epoch: 0, base_sequence: seq, ..BatchSpec::default() }, &recs).unwrap()
    };
    // Sequences as a producer plans them (every batch accepted): the second batch, ~1.9 KB,
    // exceeds max.message.bytes 1500.
    let sizes = [(5, 100), (3, 600), (5, 100), (5, 100), (5, 100), (5, 100), (5, 100), (5, 100)];
    let mut planned = Vec::new();
    let mut batches = Vec::new();
    let mut seq = 0;
    for (n, size) in sizes {
        planned.push(seq);
        batches.push(batch(n, size, seq));
        seq += n;
    }
    let mut next = 0;
    let (results, accepted) = p.append_batches(batches, |b, accepted| {
        if planned[next] != accepted {
            batch::set_base_sequence(b, accepted);
        }
        next += 1;
        Ok(())
    });
    assert_eq!(accepted, 35);
    assert_eq!(results[1].0.as_ref().unwrap_err().code(), ErrorCode::RecordTooLarge);
    let firsts: Vec<i64> = results.iter().filter_map(|(r, _)| r.as_ref().ok().map(|i| i.first_offset)).collect();
    assert_eq!(firsts, [0, 5, 10, 15, 20, 25, 30]);
    assert!(results.iter().all(|(r, buf)| r.is_err() || buf.is_some()), "the buffer of every written batch comes back");
    let bases: Vec<i64> = p.segment_infos().iter().map(|s| s.base_offset).collect();
    assert!(bases.len() >= 2 && bases[0] == 0, "~650-byte batches past 3000 bytes roll inside the run: {bases:?}");
    let mut seen = Vec::new();
    let mut at = 0;
    while at < 35 {
        let data = p.read(at, 1 << 20, IsolationLevel::ReadUncommitted).unwrap();
        for b in batch::batches(&data.bytes) {
            let (h, _) = b.unwrap();
            seen.push((h.base_offset, h.base_sequence));
            at = h.next_offset();
        }
    }
    assert_eq!(seen, [(0, 0), (5, 5), (10, 10), (15, 15), (20, 20), (25, 25), (30, 30)], "CRCs hold and sequences follow on");

    // A failed write: both batches fail, nothing moves.
    let again = || vec![batch(5, 100, 35), batch(5, 100, 40)];
    p.state.lock().segments.values_mut().next_back().unwrap().set_log_writable(false);
    let (results, accepted) = p.append_batches(again(), |_, _| Ok(()));
    assert_eq!(accepted, 0);
    assert!(results.iter().all(|(r, _)| r.as_ref().is_err_and(|e| e.code() == ErrorCode::Io)), "{results:?}");
    assert_eq!(p.log_end_offset(), 35);
    p.state.lock().segments.values_mut().next_back().unwrap().set_log_writable(true);
    let (results, accepted) = p.append_batches(again(), |_, _| Ok(()));
    assert_eq!(accepted, 10);
    let infos: Vec<partition::AppendInfo> = results.into_iter().map(|(r, _)| r.unwrap()).collect();
    assert_eq!(infos.iter().map(|i| (i.first_offset, i.duplicate)).collect::<Vec<_>>(), [(35, false), (40, false)], "not taken for duplicates");
    assert_eq!(p.log_end_offset(), 45);
    let data = p.read(35, 1 << 20, IsolationLevel::ReadUncommitted).unwrap();
    assert_eq!(batch::batches(&data.bytes).map(|b| b.unwrap().0.base_offset).collect::<Vec<_>>()[..2], [35, 40]);
}

/// A run written by `append_batches` still rolls when an index would overflow its
/// `segment.index.bytes`: the placed but unwritten batches count as index entries to come.
#[test]
fn append_batches_roll_before_a_run_overflows_an_index() {
    let d = tempfile::tempdir().unwrap();
    let overrides = [("segment.index.bytes", "48"), ("index.interval.bytes", "100")].into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let cfg = Arc::new(config::TopicConfig::from_overrides(&overrides).unwrap());
    let dir = d.path().join("r-0");
    let p = PartitionLog::open(dir.clone(), "r", 0, "id", cfg, true, 0, 0, Arc::new(DataSignal::default())).unwrap();
    let batches: Vec<Vec<u8>> = (0..40)
        .map(|i| {
            let recs = vec![RecordInput { offset_delta: 0, timestamp: 20_000 + i, value: Some(vec![b'v'; 150]), ..Default::default() }];
            batch::encode_batch(&BatchSpec::default(), &recs).unwrap()
        })
        .collect();
    let (results, accepted) = p.append_batches(batches, |_, _| Ok(()));
    assert_eq!(accepted, 40);
    assert!(results.iter().all(|(r, _)| r.is_ok()));
    let segs = p.segment_infos();
    assert!(segs.len() >= 10, "rolled on full indexes inside the run: {segs:?}");
    for s in &segs[..segs.len() - 1] {
        let ix = std::fs::metadata(dir.join(format!("{:020}.index", s.base_offset))).unwrap().len();
        let tix = std::fs::metadata(dir.join(format!("{:020}.timeindex", s.base_offset))).unwrap().len();
        assert!(ix <= 48 && tix <= 48, "segment {}: index {ix} bytes, time index {tix} (segment.index.bytes 48)", s.base_offset);
    }
    for o in [0, 7, 23, 39] {
        let data = p.read(o, 1, IsolationLevel::ReadUncommitted).unwrap();
        let (h, _) = batch::batches(&data.bytes).next().unwrap().unwrap();
        assert_eq!(h.base_offset, o);
    }
    assert_eq!(p.offset_for_time(20_033).unwrap(), Some((20_033, 33)), "(timestamp, offset)");
}
