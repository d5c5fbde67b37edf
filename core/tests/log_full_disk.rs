//! A full disk under a topic: the append that does not fit fails with a clear I/O error, every
//! acknowledged record stays readable, and once space is freed the same producer goes on, with
//! everything in order after a reopen. The engine runs on a 6 MiB tmpfs mounted for the test,
//! so its segment fills the disk within seconds (the segment's allocation ahead, which asks for
//! as much again as the file holds, fails first and is given up; the writes then fill what is
//! left). Mounting needs root, as CI has; without it the test says so and passes.

use std::time::Duration;

use kabase::{ConsumerConfig, Engine, ErrorCode, NewTopic, ProducerConfig, ProducerRecord, TopicPartition};

#[path = "support/small_disk.rs"]
mod small_disk;

fn value(i: u32) -> Vec<u8> {
    let mut v = format!("{i:08}:").into_bytes();
    v.resize(1000, b'a' + (i % 26) as u8);
    v
}

/// Every record of partition 0 of `t`, as (offset, value).
fn read_all(e: &Engine) -> Vec<(i64, Vec<u8>)> {
    let mut c = e.consumer(ConsumerConfig::default().set("auto.offset.reset", "earliest").unwrap()).unwrap();
    let tp = TopicPartition::new("t", 0);
    c.assign(std::slice::from_ref(&tp)).unwrap();
    let end = c.end_offsets(std::slice::from_ref(&tp)).unwrap()[0].1;
    let mut out = Vec::new();
    while c.position(&tp).unwrap() < end {
        for r in c.poll(Duration::from_millis(200)).unwrap() {
            out.push((r.offset, r.value.unwrap_or_default()));
        }
    }
    out
}

#[test]
fn a_full_disk_fails_the_append_loses_nothing_and_the_log_goes_on() {
    let Some(disk) = small_disk::SmallDisk::mount(6, 1 << 20) else { return };
    let dir = disk.path("data");
    let e = Engine::open(&dir).unwrap();
    e.create_topic(NewTopic::new("t", 1)).unwrap();
    let p = e.producer(ProducerConfig::default().set("acks", "1").unwrap().set("linger.ms", "0").unwrap()).unwrap();
    let mut acked: Vec<(i64, u32)> = Vec::new();
    let mut failed = None;
    for i in 0..20_000u32 {
        match p.send(ProducerRecord::new("t", value(i))).and_then(|f| f.get()) {
            Ok(m) => acked.push((m.offset, i)),
            Err(err) => {
                failed = Some((i, err));
                break;
            }
        }
    }
    let (first_failed, err) = failed.expect("20 MB of records cannot fit on a 6 MiB disk");
    eprintln!("the disk filled after {} records: {err}", acked.len());
    assert_eq!(err.code(), ErrorCode::Io, "{err}");
    assert!(err.to_string().contains("No space left on device"), "the error says the disk is full: {err}");
    assert!(acked.len() > 1000, "most of the disk was used: {} records", acked.len());
    let expect = |acked: &[(i64, u32)]| acked.iter().map(|&(o, i)| (o, value(i))).collect::<Vec<_>>();
    assert_eq!(read_all(&e), expect(&acked), "every acknowledged record reads back, nothing else");

    // Freed space: the same producer goes on from the record that failed.
    disk.free_ballast();
    for i in first_failed..first_failed + 200 {
        let m = p.send(ProducerRecord::new("t", value(i))).and_then(|f| f.get()).unwrap();
        assert_eq!(m.offset, acked.last().map_or(0, |a| a.0 + 1), "offsets go on without a gap");
        acked.push((m.offset, i));
    }
    assert_eq!(read_all(&e), expect(&acked));
    p.close().unwrap();
    e.close().unwrap();
    drop(e);

    let e = Engine::open(&dir).unwrap();
    assert_eq!(read_all(&e), expect(&acked), "after a reopen");
    e.close().unwrap();
}
