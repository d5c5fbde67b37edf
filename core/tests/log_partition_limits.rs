//! Creating partitions is all or nothing. With the process's open-file limit lowered (its own
//! test binary, so no other test shares the limit), a topic of thousands of partitions fails
//! part-way with a clear `Io` error; the failed create leaves no topic, no partition directory
//! and no open descriptor behind, and the engine goes on creating and using topics. Growing a
//! topic past the limit fails the same way and leaves the topic at its count, in memory and
//! after a reopen. (Before, a failed grow kept the partitions it had opened: the topic's count in
//! memory disagreed with its metadata, and their descriptors starved every later create.)

use std::time::Duration;

use kabase::{ConsumerConfig, Engine, ErrorCode, NewTopic, ProducerConfig, ProducerRecord, TopicPartition};

fn set_open_file_limit(n: u64) {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit with a valid pointer to an rlimit.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
        lim.rlim_cur = n.min(lim.rlim_max);
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &lim), 0);
    }
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0)
}

fn partition_dirs(dir: &std::path::Path, topic: &str) -> usize {
    std::fs::read_dir(dir.join("log"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(&format!("{topic}-")))
        .count()
}

fn round_trip(e: &Engine, topic: &str) {
    let p = e.producer(ProducerConfig::default()).unwrap();
    let off = p.send(ProducerRecord::new(topic, b"v".to_vec()).partition(0)).unwrap().get().unwrap().offset;
    let mut c = e.consumer(ConsumerConfig::default().set("auto.offset.reset", "earliest").unwrap()).unwrap();
    c.assign(&[TopicPartition::new(topic, 0)]).unwrap();
    let got = c.poll(Duration::from_secs(5)).unwrap();
    assert_eq!(got.last().map(|r| r.offset), Some(off));
}

#[test]
fn partition_creates_that_run_out_of_descriptors_leave_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let e = Engine::open(dir.path()).unwrap();
    e.create_topic(NewTopic::new("small", 2)).unwrap();
    round_trip(&e, "small");
    set_open_file_limit(512);
    let before = open_fds();

    let err = e.create_topic(NewTopic::new("huge", 100_000)).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Io, "{err}");
    assert!(err.message().contains("Too many open files"), "{}", err.message());
    assert!(!e.list_topics().unwrap().contains(&"huge".to_string()));
    assert_eq!(partition_dirs(dir.path(), "huge"), 0);
    assert!(open_fds() <= before + 8, "descriptors left open: {} before, {} after", before, open_fds());

    // The engine goes on: a new topic, and the old one.
    e.create_topic(NewTopic::new("after", 1)).unwrap();
    round_trip(&e, "after");
    round_trip(&e, "small");

    // Growing past the limit fails whole too.
    let err = e.create_partitions("small", 100_000).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Io, "{err}");
    assert_eq!(e.partitions_for("small").unwrap(), 2);
    assert_eq!(partition_dirs(dir.path(), "small"), 2);
    assert!(open_fds() <= before + 16, "descriptors left open: {} before, {} after", before, open_fds());
    e.create_partitions("small", 3).unwrap();
    round_trip(&e, "small");
    e.close().unwrap();

    // Closed but not dropped, the engine still holds its table store: a clear error, not
    // "corrupt".
    let err = Engine::open(dir.path()).err().expect("still held");
    assert_eq!(err.code(), ErrorCode::EngineLocked, "{err}");
    assert!(err.message().contains("drop every handle"), "{}", err.message());
    drop(e);

    let e = Engine::open(dir.path()).unwrap();
    assert_eq!(e.partitions_for("small").unwrap(), 3);
    assert_eq!(e.list_topics().unwrap(), ["after", "small"]);
    round_trip(&e, "small");
    e.close().unwrap();
}
