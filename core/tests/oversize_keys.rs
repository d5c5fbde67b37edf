//! Rows, bounds and seek hints longer than the LSM's key limit (lsm-tree panics on a key of
//! more than 65,535 bytes, in a write and in a read's bounds alike): each is a clear error or an
//! exact empty answer, never a panic, and nothing is written by a refused change.

use kabase::filter::{ColumnRangeFilter, Filter};
use kabase::*;

const MAX_ROW: usize = 32_767;

fn table(e: &Engine) -> Table {
    e.create_table(TableDescriptor::new("t").family(FamilyDescriptor::new("cf").versions(3))).unwrap();
    let t = e.table("t").unwrap();
    for r in ["a", "b"] {
        t.put(Put::new(r).add("cf", "q", r)).unwrap();
    }
    // A wide row: reads seek in the LSM for hints and explicit columns.
    let mut p = Put::new("w");
    for i in 0..40 {
        p = p.add("cf", format!("q{i:02}"), format!("v{i}"));
    }
    t.put(p).unwrap();
    t
}

fn keys(t: &Table, s: Scan) -> Vec<Vec<u8>> {
    t.scan(s).unwrap().map(|r| r.unwrap().row).collect()
}

fn cells(t: &Table, s: Scan) -> usize {
    t.scan(s).unwrap().map(|r| r.unwrap().cells.len()).sum()
}

fn all_cells(t: &Table) -> usize {
    cells(t, Scan::new())
}

/// A cell key is the escaped row, two bytes, a tag, the escaped qualifier, two bytes, the
/// timestamp and the kind: 14 bytes more than row and qualifier without 0x00 bytes.
#[test]
fn a_cell_key_of_the_limit_is_stored_and_one_byte_more_is_refused() {
    let e = Engine::open_in_memory().unwrap();
    let t = table(&e);
    let row = vec![b'x'; MAX_ROW];
    let q = vec![b'y'; 65_535 - 14 - MAX_ROW];
    t.put(Put::new(row.clone()).add("cf", q.clone(), "fits")).unwrap();
    assert_eq!(t.get(Get::new(row.clone())).unwrap().value("cf", &q), Some(&b"fits"[..]));
    let mut longer = q.clone();
    longer.push(b'y');
    let err = t.put(Put::new(row.clone()).add("cf", longer.clone(), "no")).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidArgument);
    assert!(err.message().contains("65536 bytes") && err.message().contains("65535"), "{}", err.message());
    assert!(t.get(Get::new(row.clone()).column("cf", longer)).unwrap().is_empty());
    assert_eq!(keys(&t, Scan::new().start(row.clone())), vec![row]);
}

#[test]
fn scan_bounds_over_hbase_row_limit_are_refused() {
    let e = Engine::open_in_memory().unwrap();
    let t = table(&e);
    let long = vec![b'x'; MAX_ROW + 1];
    for (what, s) in [
        ("start row", Scan::new().start(long.clone())),
        ("stop row", Scan::new().stop(long.clone())),
        ("row prefix", Scan::new().prefix(long.clone())),
        ("start row", Scan::new().start(long.clone()).reversed(true)),
    ] {
        let err = t.scan(s).err().expect("refused");
        assert_eq!(err.code(), ErrorCode::InvalidArgument);
        assert!(err.message().contains(what) && err.message().contains("32767"), "{}", err.message());
    }
    // At the limit, a row of ordinary bytes is a bound like any other.
    assert_eq!(keys(&t, Scan::new().start(vec![b'a'; MAX_ROW])), vec![b"b".to_vec(), b"w".to_vec()]);
    assert_eq!(keys(&t, Scan::new().prefix(vec![b'a'; MAX_ROW])), Vec::<Vec<u8>>::new());
}

/// A row of 32,767 0x00 bytes is within HBase's limit but escapes to more than the LSM takes:
/// it holds no cell, scans bounded by it read what they should, and changes to it are refused.
#[test]
fn rows_that_escape_past_the_key_limit_read_as_empty_and_refuse_writes() {
    let e = Engine::open_in_memory().unwrap();
    let t = table(&e);
    let zeros = vec![0u8; MAX_ROW];
    let before = all_cells(&t);
    assert!(t.get(Get::new(zeros.clone())).unwrap().is_empty());
    assert!(t.get(Get::new(zeros.clone()).column("cf", "q")).unwrap().is_empty());
    assert!(!t.exists(Get::new(zeros.clone())).unwrap());
    let everything = vec![b"a".to_vec(), b"b".to_vec(), b"w".to_vec()];
    assert_eq!(keys(&t, Scan::new().start(zeros.clone())), everything);
    assert_eq!(keys(&t, Scan::new().stop(zeros.clone())), Vec::<Vec<u8>>::new());
    assert_eq!(keys(&t, Scan::new().start(zeros.clone()).reversed(true)), Vec::<Vec<u8>>::new());
    let mut rev = everything.clone();
    rev.reverse();
    assert_eq!(keys(&t, Scan::new().stop(zeros.clone()).reversed(true)), rev);
    assert_eq!(keys(&t, Scan::new().prefix(zeros.clone())), Vec::<Vec<u8>>::new());

    let limit = |r: Result<()>| {
        let err = r.unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidArgument);
        assert!(err.message().contains("storage limit"), "{}", err.message());
    };
    limit(t.put(Put::new(zeros.clone()).add("cf", "q", "v")));
    limit(t.delete(Delete::new(zeros.clone())));
    limit(t.increment(Increment::new(zeros.clone()).add("cf", "n", 1)).map(drop));
    limit(t.append(Append::new(zeros.clone()).add("cf", "s", "x")).map(drop));
    limit(
        t.check_and_mutate(CheckAndMutate::new(zeros.clone()).if_not_exists("cf", "q").then(Put::new(zeros.clone()).add("cf", "q", "v")))
            .map(drop),
    );
    assert_eq!(all_cells(&t), before);
}

/// A filter's seek hint with a qualifier too long for a key (`ColumnRangeFilter` from a
/// qualifier of 40,000 bytes past `q20`) seeks exactly where a shorter one would.
#[test]
fn seek_hints_past_the_key_limit_land_where_they_should() {
    let e = Engine::open_in_memory().unwrap();
    let t = table(&e);
    let mut min = b"q20".to_vec();
    min.extend(vec![0u8; 40_000]);
    let f = || -> Box<dyn Filter> { Box::new(ColumnRangeFilter::new(Some(min.clone()), true, None, false)) };
    let got = t.get(Get::new("w").filter(f())).unwrap();
    let qs: Vec<_> = got.cells.iter().map(|c| String::from_utf8(c.qualifier.clone()).unwrap()).collect();
    assert_eq!(qs, (21..40).map(|i| format!("q{i:02}")).collect::<Vec<_>>());
    assert_eq!(cells(&t, Scan::new().filter(f())), 19);
    assert_eq!(cells(&t, Scan::new().filter(f()).reversed(true)), 19);
    let mut q = b"q05".to_vec();
    q.extend(vec![0u8; 40_000]);
    assert!(t.get(Get::new("w").column("cf", q.clone())).unwrap().is_empty());
    assert_eq!(cells(&t, Scan::new().column("cf", q.clone()).column("cf", "q07")), 1);
}
