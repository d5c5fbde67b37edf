//! A full disk under a table: the put that does not fit fails with a clear I/O error; the
//! table store then refuses writes with an error that says why and what to do (fjall stops
//! taking writes after a failed journal write), reads go on, every acknowledged put reads back,
//! and after a reopen with space freed the table takes writes again with everything
//! acknowledged still there. The engine runs on a 16 MiB tmpfs mounted for the test (needs
//! root, as CI has; without it the test says so and passes).

use kabase::{Engine, ErrorCode, FamilyDescriptor, Get, Put, Table, TableDescriptor};

#[path = "support/small_disk.rs"]
mod small_disk;

fn value(i: u32) -> Vec<u8> {
    let mut v = format!("{i:08}:").into_bytes();
    v.resize(2000, b'a' + (i % 26) as u8);
    v
}

fn check(t: &Table, acked: &[u32], when: &str) {
    for &i in acked {
        let r = t.get(Get::new(format!("row{i:08}"))).unwrap();
        assert_eq!(r.value("cf", "q"), Some(&value(i)[..]), "row {i} {when}");
    }
}

#[test]
fn a_full_disk_fails_the_put_and_loses_nothing() {
    let Some(disk) = small_disk::SmallDisk::mount(16, 4 << 20) else { return };
    let dir = disk.path("data");
    let e = Engine::open(&dir).unwrap();
    e.create_table(TableDescriptor::new("t").family(FamilyDescriptor::new("cf"))).unwrap();
    let t = e.table("t").unwrap();
    let mut acked = Vec::new();
    let mut failed = None;
    for i in 0..100_000u32 {
        match t.put(Put::new(format!("row{i:08}")).add("cf", "q", value(i))) {
            Ok(()) => acked.push(i),
            Err(err) => {
                failed = Some(err);
                break;
            }
        }
    }
    let err = failed.expect("200 MB of cells cannot fit on a 16 MiB disk");
    eprintln!("the disk filled after {} puts: {err}", acked.len());
    assert_eq!(err.code(), ErrorCode::Io, "{err}");
    assert!(err.to_string().contains("No space left on device"), "the error says the disk is full: {err}");
    assert!(acked.len() > 1000, "most of the disk was used: {} puts", acked.len());
    check(&t, &acked, "after the failed put");

    // Space freed: the store still refuses writes until a reopen, and says so.
    disk.free_ballast();
    let err = t.put(Put::new("freed").add("cf", "q", "x")).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Io, "{err}");
    assert!(err.to_string().contains("reopen the engine"), "{err}");
    check(&t, &acked, "while writes are refused");
    drop(t);
    let _ = e.close();
    drop(e);

    let e = Engine::open(&dir).unwrap();
    let t = e.table("t").unwrap();
    check(&t, &acked, "after the reopen");
    assert!(t.get(Get::new("freed")).unwrap().is_empty(), "the refused put is not there");
    t.put(Put::new("after").add("cf", "q", "x")).unwrap();
    assert_eq!(t.get(Get::new("after")).unwrap().value("cf", "q"), Some(&b"x"[..]));
    e.close().unwrap();
}
