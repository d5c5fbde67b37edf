//! Tests of the table model: admin, data rules, masking, versions, TTL, scans, atomicity.

use super::*;
use crate::cell::Cell;
use crate::filter::{Filter, ReturnCode};
use crate::filter;
use crate::table::schema::MAX_ROW_LEN;

fn engine() -> Engine {
    Engine::open_in_memory().unwrap()
}

fn table_with(e: &Engine, name: &str, fams: Vec<FamilyDescriptor>) -> Table {
    let mut d = TableDescriptor::new(name);
    for f in fams {
        d = d.family(f);
    }
    e.create_table(d).unwrap();
    e.table(name).unwrap()
}

fn simple(e: &Engine) -> Table {
    table_with(e, "t", vec![FamilyDescriptor::new("cf").versions(3), FamilyDescriptor::new("cg")])
}

fn rows(t: &Table, s: Scan) -> Vec<RowResult> {
    t.scan(s).unwrap().collect::<Result<Vec<_>>>().unwrap()
}

fn row_keys(t: &Table, s: Scan) -> Vec<String> {
    rows(t, s).into_iter().map(|r| String::from_utf8(r.row).unwrap()).collect()
}

fn vals(r: &RowResult, f: &str, q: &str) -> Vec<(i64, String)> {
    r.versions(f, q).into_iter().map(|c| (c.timestamp, String::from_utf8(c.value.clone()).unwrap())).collect()
}

// ------------------------------------------------------------------ namespaces and admin

#[test]
fn namespaces_builtin_create_delete() {
    let e = engine();
    let names: Vec<_> = e.list_namespaces().unwrap().into_iter().map(|n| n.name).collect();
    assert!(names.contains(&"default".to_string()) && names.contains(&"hbase".to_string()));
    e.create_namespace(NamespaceDescriptor::new("ns1").property("owner", "me")).unwrap();
    assert_eq!(e.describe_namespace("ns1").unwrap().properties.get("owner").map(String::as_str), Some("me"));
    assert_eq!(e.create_namespace("ns1").unwrap_err().code(), ErrorCode::NamespaceExists);
    assert_eq!(e.create_namespace("bad-ns").unwrap_err().code(), ErrorCode::InvalidName);
    e.create_table(TableDescriptor::new("ns1:t").family(FamilyDescriptor::new("cf"))).unwrap();
    assert_eq!(e.delete_namespace("ns1").unwrap_err().code(), ErrorCode::NamespaceNotEmpty);
    assert_eq!(e.list_tables_in_namespace("ns1").unwrap(), vec!["ns1:t".to_string()]);
    e.disable_table("ns1:t").unwrap();
    e.delete_table("ns1:t").unwrap();
    e.delete_namespace("ns1").unwrap();
    assert_eq!(e.describe_namespace("ns1").unwrap_err().code(), ErrorCode::NamespaceNotFound);
    assert!(e.delete_namespace("default").is_err());
    assert_eq!(
        e.create_table(TableDescriptor::new("nope:t").family(FamilyDescriptor::new("cf"))).unwrap_err().code(),
        ErrorCode::NamespaceNotFound
    );
}

#[test]
fn metadata_survives_reopen() {
    let d = tempfile::tempdir().unwrap();
    {
        let e = Engine::open(d.path()).unwrap();
        e.create_namespace("ns").unwrap();
        e.create_table(
            TableDescriptor::new("ns:t")
                .family(FamilyDescriptor::new("cf").versions(5).ttl(100).compression(Compression::Zstd))
                .split_keys(vec![b"k".to_vec(), b"c".to_vec()]),
        )
        .unwrap();
        e.table("ns:t").unwrap().put(Put::new("r").add("cf", "q", "v")).unwrap();
        e.create_table(TableDescriptor::new("off").family(FamilyDescriptor::new("cf"))).unwrap();
        e.disable_table("off").unwrap();
        e.close().unwrap();
    }
    let e = Engine::open(d.path()).unwrap();
    assert!(e.namespace_exists("ns").unwrap());
    let desc = e.describe_table("ns:t").unwrap();
    assert_eq!(desc.families[0].max_versions, 5);
    assert_eq!(desc.families[0].ttl_seconds, Some(100));
    assert_eq!(desc.families[0].compression_in_force(), "ZSTD (per value)");
    assert_eq!(desc.split_keys, vec![b"c".to_vec(), b"k".to_vec()]);
    assert_eq!(e.table_regions("ns:t").unwrap().len(), 3);
    assert_eq!(e.table("ns:t").unwrap().get(Get::new("r")).unwrap().value("cf", "q"), Some(&b"v"[..]));
    assert!(!e.is_table_enabled("off").unwrap());
    assert_eq!(e.list_tables().unwrap(), vec!["off".to_string(), "ns:t".to_string()]);
    e.close().unwrap();
}

#[test]
fn table_admin_rules() {
    let e = engine();
    assert_eq!(e.create_table(TableDescriptor::new("t")).unwrap_err().code(), ErrorCode::InvalidArgument);
    let t = simple(&e);
    assert_eq!(
        e.create_table(TableDescriptor::new("t").family(FamilyDescriptor::new("cf"))).unwrap_err().code(),
        ErrorCode::TableExists
    );
    assert!(e.table_exists("t").unwrap() && e.table_exists("default:t").unwrap());
    assert!(!e.table_exists("u").unwrap());
    assert_eq!(e.table("u").unwrap_err().code(), ErrorCode::TableNotFound);
    assert_eq!(e.table("bad name").unwrap_err().code(), ErrorCode::InvalidName);
    t.put(Put::new("r").add("cf", "q", "v")).unwrap();
    assert_eq!(e.delete_table("t").unwrap_err().code(), ErrorCode::TableNotDisabled);
    e.disable_table("t").unwrap();
    assert_eq!(t.get(Get::new("r")).unwrap_err().code(), ErrorCode::TableDisabled);
    assert_eq!(t.put(Put::new("r").add("cf", "q", "v")).unwrap_err().code(), ErrorCode::TableDisabled);
    assert_eq!(t.scan(Scan::new()).unwrap_err().code(), ErrorCode::TableDisabled);
    e.enable_table("t").unwrap();
    assert_eq!(t.get(Get::new("r")).unwrap().value("cf", "q"), Some(&b"v"[..]));
    e.disable_table("t").unwrap();
    e.delete_table("t").unwrap();
    assert_eq!(t.get(Get::new("r")).unwrap_err().code(), ErrorCode::TableNotFound);
    assert!(!e.table_exists("t").unwrap());
    // Recreating gives an empty table.
    let t = simple(&e);
    assert!(t.get(Get::new("r")).unwrap().is_empty());
}

#[test]
fn alter_add_remove_modify_family() {
    let e = engine();
    let t = simple(&e);
    t.put(Put::new("r").add("cf", "a", "1").add("cg", "b", "2")).unwrap();
    e.add_family("t", FamilyDescriptor::new("new")).unwrap();
    t.put(Put::new("r").add("new", "c", "3")).unwrap();
    assert_eq!(t.get(Get::new("r")).unwrap().cells.len(), 3);
    e.delete_family("t", "cg").unwrap();
    assert_eq!(t.get(Get::new("r").family("cg")).unwrap_err().code(), ErrorCode::NoSuchColumnFamily);
    assert_eq!(t.get(Get::new("r")).unwrap().cells.len(), 2);
    // Re-adding the family does not resurrect its old data.
    e.add_family("t", FamilyDescriptor::new("cg")).unwrap();
    assert!(t.get(Get::new("r").family("cg")).unwrap().is_empty());
    // VERSIONS change applies to reads at once.
    for ts in 1..=3 {
        t.put(Put::new("v").add_at("cf", "q", ts, format!("{ts}"))).unwrap();
    }
    assert_eq!(t.get(Get::new("v").max_versions(10)).unwrap().cells.len(), 3);
    e.modify_family("t", FamilyDescriptor::new("cf").versions(1)).unwrap();
    assert_eq!(vals(&t.get(Get::new("v").max_versions(10)).unwrap(), "cf", "q"), vec![(3, "3".into())]);
    // Block-level changes need a disabled table, then rewrite the data.
    let err = e.modify_family("t", FamilyDescriptor::new("cf").compression(Compression::Lz4)).unwrap_err();
    assert_eq!(err.code(), ErrorCode::TableNotDisabled);
    e.disable_table("t").unwrap();
    e.modify_family("t", FamilyDescriptor::new("cf").versions(3).compression(Compression::Lz4).block_size(4096)).unwrap();
    e.enable_table("t").unwrap();
    assert_eq!(t.get(Get::new("v").max_versions(10)).unwrap().cells.len(), 3);
    assert_eq!(e.describe_table("t").unwrap().get_family(b"cf").unwrap().compression_in_force(), "LZ4 (LSM data blocks)");
    assert_eq!(e.delete_family("t", "zz").unwrap_err().code(), ErrorCode::NoSuchColumnFamily);
}

#[test]
fn truncate_keeps_splits_and_options() {
    let e = engine();
    e.create_table(TableDescriptor::new("t").family(FamilyDescriptor::new("cf").versions(4)).split_keys(vec![b"m".to_vec()]))
        .unwrap();
    let t = e.table("t").unwrap();
    t.put(Put::new("r").add("cf", "q", "v")).unwrap();
    assert_eq!(e.truncate_table("t").unwrap_err().code(), ErrorCode::TableNotDisabled);
    e.disable_table("t").unwrap();
    e.truncate_table("t").unwrap();
    assert!(e.is_table_enabled("t").unwrap());
    assert!(t.get(Get::new("r")).unwrap().is_empty());
    assert_eq!(e.table_regions("t").unwrap().len(), 2);
    assert_eq!(t.regions().unwrap()[1].start_key, b"m".to_vec());
    assert_eq!(e.describe_table("t").unwrap().families[0].max_versions, 4);
}

#[test]
fn compression_is_applied_to_stored_values() {
    let e = engine();
    let t = table_with(
        &e,
        "t",
        vec![
            FamilyDescriptor::new("gz").compression(Compression::Gz),
            FamilyDescriptor::new("sn").compression(Compression::Snappy),
            FamilyDescriptor::new("zs").compression(Compression::Zstd),
            FamilyDescriptor::new("no"),
        ],
    );
    let big = "abcdefgh".repeat(200);
    t.put(Put::new("r").add("gz", "q", big.clone()).add("sn", "q", big.clone()).add("zs", "q", big.clone()).add("no", "q", big.clone()))
        .unwrap();
    let r = t.get(Get::new("r")).unwrap();
    for f in ["gz", "sn", "zs", "no"] {
        assert_eq!(r.value(f, "q"), Some(big.as_bytes()));
    }
    let shape = e.table("t").unwrap().shape().unwrap();
    for (f, codec) in [("gz", 1u8), ("sn", 2), ("zs", 3), ("no", 0)] {
        let i = shape.family_index(f.as_bytes()).unwrap();
        let (_, v) = shape.families[i].ks.iter().next().unwrap().into_inner().unwrap();
        assert_eq!(codec::stored_codec(&v), Some(codec), "{f}");
        if codec != 0 {
            assert!(v.len() < big.len() / 4, "{f} stored {} bytes", v.len());
        }
    }
}

// ------------------------------------------------------------------ put / get

#[test]
fn put_get_versions_and_time_ranges() {
    let e = engine();
    let t = simple(&e);
    t.put(Put::new("r").add_at("cf", "q", 10, "a").add_at("cf", "q", 20, "b").add_at("cf", "q", 30, "c").add_at("cf", "q", 40, "d"))
        .unwrap();
    // VERSIONS=3: only the 3 newest exist.
    let r = t.get(Get::new("r").max_versions(10)).unwrap();
    assert_eq!(vals(&r, "cf", "q"), vec![(40, "d".into()), (30, "c".into()), (20, "b".into())]);
    assert_eq!(t.get(Get::new("r")).unwrap().value("cf", "q"), Some(&b"d"[..]));
    // Time range [min, max), exact timestamp; version 10 stays gone (beyond VERSIONS).
    let r = t.get(Get::new("r").time_range(20, 40).max_versions(10)).unwrap();
    assert_eq!(vals(&r, "cf", "q"), vec![(30, "c".into()), (20, "b".into())]);
    assert!(t.get(Get::new("r").timestamp(10)).unwrap().is_empty());
    assert_eq!(vals(&t.get(Get::new("r").timestamp(30)).unwrap(), "cf", "q"), vec![(30, "c".into())]);
    // Same timestamp twice: last write wins.
    t.put(Put::new("r").add_at("cf", "q", 40, "d2")).unwrap();
    assert_eq!(t.get(Get::new("r")).unwrap().value("cf", "q"), Some(&b"d2"[..]));
    // Server timestamps are now-ish and newest wins.
    let before = crate::now_ms();
    t.put(Put::new("s").add("cf", "q", "x")).unwrap();
    let c = t.get(Get::new("s")).unwrap().latest("cf", "q").unwrap().clone();
    assert!(c.timestamp >= before && c.timestamp <= crate::now_ms());
}

#[test]
fn get_columns_and_families() {
    let e = engine();
    let t = simple(&e);
    t.put(Put::new("r").add("cf", "a", "1").add("cf", "b", "2").add("cf", "c", "3").add("cg", "x", "9")).unwrap();
    let r = t.get(Get::new("r")).unwrap();
    let cols: Vec<_> = r.cells.iter().map(|c| String::from_utf8(c.column()).unwrap()).collect();
    assert_eq!(cols, vec!["cf:a", "cf:b", "cf:c", "cg:x"]);
    let r = t.get(Get::new("r").column("cf", "c").column("cf", "a")).unwrap();
    assert_eq!(r.cells.len(), 2);
    assert!(r.value("cf", "b").is_none());
    let r = t.get(Get::new("r").family("cg")).unwrap();
    assert_eq!(r.cells.len(), 1);
    // addFamily overrides addColumn of the same family.
    let r = t.get(Get::new("r").column("cf", "a").family("cf")).unwrap();
    assert_eq!(r.cells.len(), 3);
    assert_eq!(t.get(Get::new("r").family("zz")).unwrap_err().code(), ErrorCode::NoSuchColumnFamily);
    assert!(t.exists(Get::new("r")).unwrap());
    assert!(!t.exists(Get::new("nope")).unwrap());
    assert_eq!(t.get(Get::new("r").max_versions(0)).unwrap_err().code(), ErrorCode::InvalidArgument);
}

#[test]
fn binary_row_keys_and_qualifiers() {
    let e = engine();
    let t = simple(&e);
    let keys: Vec<Vec<u8>> = vec![b"\x00".to_vec(), b"\x00\x00".to_vec(), b"\x00\x01".to_vec(), b"a".to_vec(), b"a\x00".to_vec(), b"a\xff".to_vec(), b"\xff".to_vec()];
    for k in keys.iter().rev() {
        t.put(Put::new(k.clone()).add("cf", b"q\x00".to_vec(), k.clone())).unwrap();
    }
    for k in &keys {
        assert_eq!(t.get(Get::new(k.clone())).unwrap().value("cf", b"q\x00"), Some(k.as_slice()));
    }
    let got: Vec<Vec<u8>> = rows(&t, Scan::new()).into_iter().map(|r| r.row).collect();
    assert_eq!(got, keys);
    let got: Vec<Vec<u8>> = rows(&t, Scan::new().prefix(b"\x00".to_vec())).into_iter().map(|r| r.row).collect();
    assert_eq!(got, keys[..3].to_vec());
    let got: Vec<Vec<u8>> = rows(&t, Scan::new().prefix(b"a".to_vec()).reversed(true)).into_iter().map(|r| r.row).collect();
    assert_eq!(got, vec![b"a\xff".to_vec(), b"a\x00".to_vec(), b"a".to_vec()]);
}

#[test]
fn bad_input_errors() {
    let e = engine();
    let t = simple(&e);
    assert_eq!(t.put(Put::new("").add("cf", "q", "v")).unwrap_err().code(), ErrorCode::InvalidArgument);
    assert!(t.put(Put::new("").add("cf", "q", "v")).unwrap_err().message().contains("empty"));
    assert_eq!(t.put(Put::new("r")).unwrap_err().code(), ErrorCode::InvalidArgument);
    let err = t.put(Put::new("r").add("nope", "q", "v")).unwrap_err();
    assert_eq!(err.code(), ErrorCode::NoSuchColumnFamily);
    assert!(err.message().contains("nope"));
    assert_eq!(t.put(Put::new("r").add_at("cf", "q", -1, "v")).unwrap_err().code(), ErrorCode::InvalidArgument);
    let long_row = vec![b'x'; MAX_ROW_LEN + 1];
    assert!(t.put(Put::new(long_row).add("cf", "q", "v")).unwrap_err().message().contains("limit"));
    // A key beyond the LSM's limit (row of zero bytes doubles when escaped, plus a big qualifier).
    let err = t.put(Put::new(vec![0u8; 30_000]).add("cf", vec![0u8; 10_000], "v")).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidArgument);
    assert!(err.message().contains("storage limit"), "{}", err.message());
    assert_eq!(t.get(Get::new("")).unwrap_err().code(), ErrorCode::InvalidArgument);
    assert_eq!(t.delete(Delete::new("r").column("zz", "q")).unwrap_err().code(), ErrorCode::NoSuchColumnFamily);
    assert_eq!(t.get(Get::new("r").time_range(5, 1)).unwrap_err().code(), ErrorCode::InvalidArgument);
    // Closed engine.
    e.close().unwrap();
    assert_eq!(t.put(Put::new("r").add("cf", "q", "v")).unwrap_err().code(), ErrorCode::Closed);
    assert_eq!(t.get(Get::new("r")).unwrap_err().code(), ErrorCode::Closed);
    assert_eq!(e.list_tables().unwrap_err().code(), ErrorCode::Closed);
    assert_eq!(e.table("t").unwrap_err().code(), ErrorCode::Closed);
}

// ------------------------------------------------------------------ deletes

#[test]
fn delete_markers_every_kind() {
    let e = engine();
    let t = simple(&e);
    let fill = |row: &str| {
        t.put(
            Put::new(row)
                .add_at("cf", "a", 1, "a1")
                .add_at("cf", "a", 2, "a2")
                .add_at("cf", "a", 3, "a3")
                .add_at("cf", "b", 2, "b2")
                .add_at("cg", "c", 2, "c2"),
        )
        .unwrap();
    };
    let all = |row: &str| t.get(Get::new(row).max_versions(10)).unwrap();

    // One column version (exact ts).
    fill("r1");
    t.delete(Delete::new("r1").column_at("cf", "a", 2)).unwrap();
    assert_eq!(vals(&all("r1"), "cf", "a"), vec![(3, "a3".into()), (1, "a1".into())]);
    // Newest version (no ts).
    t.delete(Delete::new("r1").column("cf", "a")).unwrap();
    assert_eq!(vals(&all("r1"), "cf", "a"), vec![(1, "a1".into())]);

    // Column, all versions <= ts.
    fill("r2");
    t.delete(Delete::new("r2").columns_at("cf", "a", 2)).unwrap();
    assert_eq!(vals(&all("r2"), "cf", "a"), vec![(3, "a3".into())]);
    assert_eq!(vals(&all("r2"), "cf", "b"), vec![(2, "b2".into())]);
    t.delete(Delete::new("r2").columns("cf", "a")).unwrap();
    assert!(vals(&all("r2"), "cf", "a").is_empty());

    // Family <= ts.
    fill("r3");
    t.delete(Delete::new("r3").family_at("cf", 2)).unwrap();
    let r = all("r3");
    assert_eq!(vals(&r, "cf", "a"), vec![(3, "a3".into())]);
    assert!(vals(&r, "cf", "b").is_empty());
    assert_eq!(vals(&r, "cg", "c"), vec![(2, "c2".into())]);

    // Family version == ts.
    fill("r4");
    t.delete(Delete::new("r4").family_version("cf", 2)).unwrap();
    let r = all("r4");
    assert_eq!(vals(&r, "cf", "a"), vec![(3, "a3".into()), (1, "a1".into())]);
    assert!(vals(&r, "cf", "b").is_empty());

    // Whole row (every family, up to now), and up to a timestamp.
    fill("r5");
    t.delete(Delete::new("r5")).unwrap();
    assert!(all("r5").is_empty());
    fill("r6");
    t.delete(Delete::new_at("r6", 1)).unwrap();
    let r = all("r6");
    assert_eq!(vals(&r, "cf", "a"), vec![(3, "a3".into()), (2, "a2".into())]);
    assert_eq!(r.cells.len(), 4);
}

#[test]
fn delete_masks_later_puts_until_major_compaction() {
    let e = engine();
    let t = simple(&e);
    t.put(Put::new("r").add_at("cf", "q", 100, "old")).unwrap();
    t.delete(Delete::new("r").columns_at("cf", "q", 200)).unwrap();
    // A put written after the delete, with an older timestamp, stays invisible.
    t.put(Put::new("r").add_at("cf", "q", 150, "later")).unwrap();
    assert!(t.get(Get::new("r")).unwrap().is_empty());
    // A newer timestamp is visible.
    t.put(Put::new("r").add_at("cf", "q", 250, "newer")).unwrap();
    assert_eq!(t.get(Get::new("r")).unwrap().value("cf", "q"), Some(&b"newer"[..]));
    // Major compaction drops the marker and the masked cells...
    e.major_compact_table("t").unwrap();
    assert_eq!(vals(&t.get(Get::new("r").max_versions(5)).unwrap(), "cf", "q"), vec![(250, "newer".into())]);
    // ...after which a put with an old timestamp is visible again.
    t.put(Put::new("r").add_at("cf", "q", 150, "again")).unwrap();
    assert_eq!(vals(&t.get(Get::new("r").max_versions(5)).unwrap(), "cf", "q"), vec![(250, "newer".into()), (150, "again".into())]);
}

#[test]
fn keep_deleted_cells_time_range_reads() {
    let e = engine();
    let t = table_with(&e, "t", vec![FamilyDescriptor::new("cf").versions(5).keep_deleted_cells(KeepDeletedCells::True)]);
    t.put(Put::new("r").add_at("cf", "q", 10, "v10")).unwrap();
    t.delete(Delete::new("r").columns_at("cf", "q", 20)).unwrap();
    assert!(t.get(Get::new("r")).unwrap().is_empty());
    // A time range ending before the marker still sees the deleted cell.
    assert_eq!(t.get(Get::new("r").time_range(0, 20)).unwrap().value("cf", "q"), Some(&b"v10"[..]));
    // Major compaction keeps both.
    e.major_compact_table("t").unwrap();
    assert!(t.get(Get::new("r")).unwrap().is_empty());
    assert_eq!(t.get(Get::new("r").time_range(0, 20)).unwrap().value("cf", "q"), Some(&b"v10"[..]));

    // Without KEEP_DELETED_CELLS, the time range does not help.
    let t2 = table_with(&e, "t2", vec![FamilyDescriptor::new("cf").versions(5)]);
    t2.put(Put::new("r").add_at("cf", "q", 10, "v10")).unwrap();
    t2.delete(Delete::new("r").columns_at("cf", "q", 20)).unwrap();
    assert!(t2.get(Get::new("r").time_range(0, 20)).unwrap().is_empty());
}

// ------------------------------------------------------------------ TTL and MIN_VERSIONS

#[test]
fn ttl_and_min_versions_hold_on_read_and_compaction() {
    let e = engine();
    let t = table_with(
        &e,
        "t",
        vec![FamilyDescriptor::new("cf").versions(5).ttl(60), FamilyDescriptor::new("mv").versions(5).min_versions(2).ttl(60)],
    );
    let now = crate::now_ms();
    let old = now - 3_600_000; // an hour ago: expired
    t.put(Put::new("r").add_at("cf", "old", old, "x").add_at("cf", "new", now, "y")).unwrap();
    t.put(Put::new("r").add_at("mv", "q", old - 2, "o1").add_at("mv", "q", old - 1, "o2").add_at("mv", "q", old, "o3")).unwrap();
    let r = t.get(Get::new("r").max_versions(10)).unwrap();
    assert!(r.value("cf", "old").is_none());
    assert_eq!(r.value("cf", "new"), Some(&b"y"[..]));
    // MIN_VERSIONS=2 keeps the 2 newest expired versions.
    assert_eq!(vals(&r, "mv", "q"), vec![(old, "o3".into()), (old - 1, "o2".into())]);
    e.major_compact_table("t").unwrap();
    let shape = t.shape().unwrap();
    let n: usize = shape.families.iter().map(|f| f.ks.iter().count()).sum();
    assert_eq!(n, 3, "compaction keeps exactly the visible cells");
    assert_eq!(t.get(Get::new("r").max_versions(10)).unwrap().cells.len(), 3);
}

#[test]
fn versions_reclaimed_by_major_compaction() {
    let e = engine();
    let t = table_with(&e, "t", vec![FamilyDescriptor::new("cf").versions(2)]);
    for ts in 1..=10 {
        t.put(Put::new("r").add_at("cf", "q", ts, format!("v{ts}"))).unwrap();
    }
    t.delete(Delete::new("r").column_at("cf", "q", 10)).unwrap();
    // Deleted versions do not count (HBase without NEW_VERSION_BEHAVIOR): 9 and 8 remain.
    assert_eq!(vals(&t.get(Get::new("r").max_versions(5)).unwrap(), "cf", "q"), vec![(9, "v9".into()), (8, "v8".into())]);
    e.flush_table("t").unwrap();
    e.major_compact_table("t").unwrap();
    let shape = t.shape().unwrap();
    assert_eq!(shape.families[0].ks.iter().count(), 2);
    assert_eq!(vals(&t.get(Get::new("r").max_versions(5)).unwrap(), "cf", "q"), vec![(9, "v9".into()), (8, "v8".into())]);
}

// ------------------------------------------------------------------ scans

fn fill_rows(t: &Table, n: usize) {
    let puts: Vec<Mutation> = (0..n).map(|i| Put::new(format!("row{i:03}")).add("cf", "q", format!("{i}")).into()).collect();
    for r in t.batch(puts).unwrap() {
        r.unwrap();
    }
}

#[test]
fn scan_bounds_prefix_reversed_limit() {
    let e = engine();
    let t = simple(&e);
    fill_rows(&t, 30);
    assert_eq!(rows(&t, Scan::new()).len(), 30);
    assert_eq!(row_keys(&t, Scan::new().start("row010").stop("row013")), vec!["row010", "row011", "row012"]);
    assert_eq!(row_keys(&t, Scan::new().prefix("row02").limit(3)), vec!["row020", "row021", "row022"]);
    assert_eq!(row_keys(&t, Scan::new().prefix("row00").reversed(true).limit(2)), vec!["row009", "row008"]);
    assert_eq!(row_keys(&t, Scan::new().start("row005").stop("row002").reversed(true)), vec!["row005", "row004", "row003"]);
    assert_eq!(row_keys(&t, Scan::new().reversed(true).limit(1)), vec!["row029"]);
    assert!(row_keys(&t, Scan::new().prefix("zzz")).is_empty());
    assert!(row_keys(&t, Scan::new().start("row005").stop("row001")).is_empty());
    // Prefix and start combine.
    assert_eq!(row_keys(&t, Scan::new().prefix("row01").start("row018")), vec!["row018", "row019"]);
    // Small caching still returns everything, in order.
    let keys = row_keys(&t, Scan::new().caching(1));
    assert_eq!(keys.len(), 30);
    assert!(keys.windows(2).all(|w| w[0] < w[1]));
    let rkeys = row_keys(&t, Scan::new().caching(7).reversed(true));
    assert_eq!(rkeys.len(), 30);
    assert!(rkeys.windows(2).all(|w| w[0] > w[1]));
}

#[test]
fn scan_batch_versions_columns_time_range() {
    let e = engine();
    let t = simple(&e);
    for ts in 1..=3 {
        t.put(Put::new("a").add_at("cf", "x", ts, format!("x{ts}")).add_at("cf", "y", ts, format!("y{ts}")).add_at("cg", "z", ts, "z")).unwrap();
    }
    t.put(Put::new("b").add_at("cf", "x", 5, "bx")).unwrap();
    let r = rows(&t, Scan::new().max_versions(3));
    assert_eq!(r[0].cells.len(), 7);
    let parts = rows(&t, Scan::new().max_versions(3).batch(3));
    assert_eq!(parts.iter().map(|p| p.cells.len()).collect::<Vec<_>>(), vec![3, 3, 1, 1]);
    assert_eq!(parts[0].row, b"a");
    assert_eq!(parts[3].row, b"b");
    let r = rows(&t, Scan::new().column("cf", "y").max_versions(2));
    assert_eq!(r.len(), 1);
    assert_eq!(vals(&r[0], "cf", "y"), vec![(3, "y3".into()), (2, "y2".into())]);
    let r = rows(&t, Scan::new().time_range(2, 3).family("cf"));
    assert_eq!(r.len(), 1);
    assert_eq!(vals(&r[0], "cf", "x"), vec![(2, "x2".into())]);
    let r = rows(&t, Scan::new().timestamp(5));
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].row, b"b");
}

#[test]
fn scan_streams_in_chunks() {
    let e = engine();
    let t = simple(&e);
    fill_rows(&t, 50);
    let mut s = t.scan(Scan::new().caching(10)).unwrap();
    let first = s.next().unwrap().unwrap();
    assert_eq!(first.row, b"row000");
    // Only the first chunk was read; rows written past it show up (read committed).
    t.put(Put::new("row049x").add("cf", "q", "late")).unwrap();
    assert_eq!(s.chunk_rows, 1);
    let rest: Vec<_> = s.collect::<Result<Vec<_>>>().unwrap();
    assert_eq!(rest.len(), 50);
    // Disabling mid-scan stops it with an error at the next chunk.
    let mut s = t.scan(Scan::new().caching(5)).unwrap();
    for _ in 0..5 {
        s.next().unwrap().unwrap();
    }
    e.disable_table("t").unwrap();
    assert_eq!(s.next().unwrap().unwrap_err().code(), ErrorCode::TableDisabled);
}

// ------------------------------------------------------------------ filters (driving only)

/// Records the calls it gets; drops rows whose key ends in '1'; skips cells whose value is "skip";
/// ends the scan after `stop_after` rows.
#[derive(Debug, Default)]
struct Probe {
    calls: Vec<String>,
    rows: usize,
    stop_after: usize,
}

impl Filter for Probe {
    fn reset(&mut self) {
        self.calls.push("reset".into());
    }
    fn filter_all_remaining(&mut self) -> bool {
        self.stop_after > 0 && self.rows >= self.stop_after
    }
    fn filter_row_key(&mut self, row: &[u8]) -> bool {
        self.calls.push(format!("key:{}", String::from_utf8_lossy(row)));
        row.ends_with(b"1")
    }
    fn filter_cell(&mut self, cell: &Cell) -> ReturnCode {
        self.calls.push(format!("cell:{}", String::from_utf8_lossy(&cell.qualifier)));
        if cell.value == b"skip" {
            ReturnCode::Skip
        } else if cell.value == b"next" {
            ReturnCode::NextRow
        } else {
            ReturnCode::Include
        }
    }
    fn transform_cell(&mut self, mut cell: Cell) -> Cell {
        cell.value.extend_from_slice(b"!");
        cell
    }
    fn filter_row_cells(&mut self, cells: &mut Vec<Cell>) {
        self.calls.push(format!("rowcells:{}", cells.len()));
    }
    fn has_filter_row(&self) -> bool {
        true
    }
    fn filter_row(&mut self) -> bool {
        self.rows += 1;
        false
    }
}

#[test]
fn filter_is_driven_in_hbase_order() {
    let e = engine();
    let t = simple(&e);
    t.put(Put::new("r0").add("cf", "a", "keep").add("cf", "b", "skip").add("cg", "c", "keep")).unwrap();
    t.put(Put::new("r1").add("cf", "a", "keep")).unwrap();
    t.put(Put::new("r2").add("cf", "a", "next").add("cf", "b", "keep")).unwrap();
    t.put(Put::new("r3").add("cf", "a", "keep")).unwrap();
    let probe = Probe { stop_after: 0, ..Probe::default() };
    let got = rows(&t, Scan::new().filter(Box::new(probe)));
    assert_eq!(got.iter().map(|r| r.row.clone()).collect::<Vec<_>>(), vec![b"r0".to_vec(), b"r3".to_vec()]);
    assert_eq!(got[0].cells.len(), 2);
    assert_eq!(got[0].value("cf", "a"), Some(&b"keep!"[..]));
    // Check the exact sequence on a Get.
    let mut p = Probe::default();
    let shape = t.shape().unwrap();
    let plan = handle::plan(&shape, &ColumnSelection::default(), TimeRange::ALL, 1).unwrap();
    let snap = e.inner.tables.db_snapshot();
    let prefix = codec::row_prefix(b"r0");
    let mut sources: Vec<read::BufSource> = shape
        .families
        .iter()
        .map(|f| read::BufSource {
            entries: fjall::Readable::prefix(&snap, &f.ks, &prefix).map(|g| g.into_inner().unwrap()).collect(),
            pos: 0,
        })
        .collect();
    let mut cells = Vec::new();
    let (keep, end) =
        handle::process_row(&shape, &plan, b"r0", &prefix, &mut sources, crate::now_ms(), Some(&mut p), &mut cells, &mut read::ReadBufs::default()).unwrap();
    assert!(!end && keep);
    assert_eq!(cells.len(), 2);
    assert_eq!(p.calls, vec!["reset", "key:r0", "cell:a", "cell:b", "cell:c", "rowcells:2"]);
    // filter_all_remaining ends the scan.
    let got = rows(&t, Scan::new().filter(Box::new(Probe { stop_after: 1, ..Probe::default() })));
    assert_eq!(got.len(), 1);
    // Filters see cells before version counting, after time range.
    let got = t.get(Get::new("r0").filter(Box::new(Probe::default()))).unwrap();
    assert_eq!(got.cells.len(), 2);
}

// ------------------------------------------------------------------ atomic ops

#[test]
fn increment_and_append() {
    let e = engine();
    let t = simple(&e);
    let r = t.increment(Increment::new("c").add("cf", "n", 5).add("cf", "m", -2)).unwrap();
    assert_eq!((r.long("cf", "n"), r.long("cf", "m")), (Some(5), Some(-2)));
    let r = t.increment(Increment::new("c").add("cf", "n", 10)).unwrap();
    assert_eq!(r.long("cf", "n"), Some(15));
    assert_eq!(t.get(Get::new("c")).unwrap().long("cf", "n"), Some(15));
    t.put(Put::new("c").add("cf", "bad", "abc")).unwrap();
    let err = t.increment(Increment::new("c").add("cf", "bad", 1)).unwrap_err();
    assert_eq!(err.code(), ErrorCode::NotALong);
    assert_eq!(err.message(), "Field is not a long, it's 3 bytes wide");
    // Counter with a future timestamp still advances.
    t.put(Put::new("f").add_at("cf", "n", i64::MAX - 10, 7i64.to_be_bytes().to_vec())).unwrap();
    assert_eq!(t.increment(Increment::new("f").add("cf", "n", 1)).unwrap().long("cf", "n"), Some(8));
    assert_eq!(t.get(Get::new("f")).unwrap().long("cf", "n"), Some(8));
    let r = t.append(Append::new("a").add("cf", "s", "ab")).unwrap();
    assert_eq!(r.value("cf", "s"), Some(&b"ab"[..]));
    let r = t.append(Append::new("a").add("cf", "s", "cd").add("cf", "s", "e")).unwrap();
    assert_eq!(r.value("cf", "s"), Some(&b"abcde"[..]));
    assert_eq!(t.get(Get::new("a")).unwrap().value("cf", "s"), Some(&b"abcde"[..]));
}

#[test]
fn concurrent_increments_are_exact() {
    let e = engine();
    let t = simple(&e);
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let t = t.clone();
            std::thread::spawn(move || {
                for _ in 0..200 {
                    t.increment(Increment::new("c").add("cf", "n", 1)).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(t.get(Get::new("c")).unwrap().long("cf", "n"), Some(800));
}

#[test]
fn check_and_mutate_conditions() {
    let e = engine();
    let t = simple(&e);
    let put = |v: &str| Put::new("r").add("cf", "q", v.to_string());
    assert!(t.check_and_mutate(CheckAndMutate::new("r").if_not_exists("cf", "q").then(put("1"))).unwrap().success);
    assert!(!t.check_and_mutate(CheckAndMutate::new("r").if_not_exists("cf", "q").then(put("2"))).unwrap().success);
    assert!(!t.check_and_mutate(CheckAndMutate::new("r").if_equals("cf", "q", "x").then(put("3"))).unwrap().success);
    assert!(t.check_and_mutate(CheckAndMutate::new("r").if_equals("cf", "q", "1").then(put("4"))).unwrap().success);
    assert_eq!(t.get(Get::new("r")).unwrap().value("cf", "q"), Some(&b"4"[..]));
    // HBase order: given OP stored. "5" > "4" holds for Greater; then "7" < "6" does not hold.
    assert!(t.check_and_mutate(CheckAndMutate::new("r").if_matches("cf", "q", CompareOperator::Greater, "5").then(put("6"))).unwrap().success);
    assert!(!t.check_and_mutate(CheckAndMutate::new("r").if_matches("cf", "q", CompareOperator::Less, "7").then(put("7"))).unwrap().success);
    assert!(t.check_and_mutate(CheckAndMutate::new("r").if_matches("cf", "q", CompareOperator::NotEqual, "5").then(put("8"))).unwrap().success);
    // Missing column never matches.
    assert!(!t.check_and_mutate(CheckAndMutate::new("r").if_matches("cf", "zz", CompareOperator::NotEqual, "5").then(put("9"))).unwrap().success);
    // Guarding a delete, an increment, an append, row mutations.
    assert!(t.check_and_mutate(CheckAndMutate::new("r").if_equals("cf", "q", "8").then(Delete::new("r").columns("cf", "q"))).unwrap().success);
    assert!(t.get(Get::new("r")).unwrap().is_empty());
    let r = t.check_and_mutate(CheckAndMutate::new("r").if_not_exists("cf", "q").then(Increment::new("r").add("cf", "n", 3))).unwrap();
    assert!(r.success);
    assert_eq!(r.result.long("cf", "n"), Some(3));
    let r = t.check_and_mutate(CheckAndMutate::new("r").if_not_exists("cf", "q").then(Append::new("r").add("cf", "s", "x"))).unwrap();
    assert_eq!(r.result.value("cf", "s"), Some(&b"x"[..]));
    let rm = RowMutations::new("r").put(Put::new("r").add("cg", "a", "1")).delete(Delete::new("r").columns("cf", "s"));
    assert!(t.check_and_mutate(CheckAndMutate::new("r").if_not_exists("cf", "q").then(rm)).unwrap().success);
    let r = t.get(Get::new("r")).unwrap();
    assert!(r.value("cf", "s").is_none() && r.value("cg", "a").is_some());
    // Filter condition: the Probe drops row keys ending in '1'.
    assert!(t.check_and_mutate(CheckAndMutate::new("r").if_filter(Box::new(Probe::default())).then(put("f"))).unwrap().success);
    t.put(Put::new("r1").add("cf", "q", "v")).unwrap();
    assert!(!t.check_and_mutate(CheckAndMutate::new("r1").if_filter(Box::new(Probe::default())).then(Put::new("r1").add("cf", "q", "w"))).unwrap().success);
    // Time range on the condition.
    t.put(Put::new("tr").add_at("cf", "q", 100, "v")).unwrap();
    assert!(t.check_and_mutate(CheckAndMutate::new("tr").if_not_exists("cf", "q").time_range(0, 50).then(Put::new("tr").add_at("cf", "q", 10, "w"))).unwrap().success);
    // Bad input.
    assert_eq!(t.check_and_mutate(CheckAndMutate::new("r").if_not_exists("cf", "q").then(put_row("other"))).unwrap_err().code(), ErrorCode::InvalidArgument);
    assert_eq!(t.check_and_mutate(CheckAndMutate::new("r").then(put("x"))).unwrap_err().code(), ErrorCode::InvalidArgument);
}

fn put_row(row: &str) -> Put {
    Put::new(row).add("cf", "q", "v")
}

#[test]
fn mutate_row_and_batch() {
    let e = engine();
    let t = simple(&e);
    t.put(Put::new("r").add("cf", "old", "x")).unwrap();
    t.mutate_row(RowMutations::new("r").put(Put::new("r").add("cf", "a", "1").add("cg", "b", "2")).delete(Delete::new("r").columns("cf", "old")))
        .unwrap();
    let r = t.get(Get::new("r")).unwrap();
    assert_eq!(r.cells.len(), 2);
    assert_eq!(
        t.mutate_row(RowMutations::new("r").put(Put::new("other").add("cf", "a", "1"))).unwrap_err().code(),
        ErrorCode::InvalidArgument
    );
    let res = t
        .batch(vec![
            Put::new("b1").add("cf", "q", "1").into(),
            Put::new("b2").add("nope", "q", "1").into(),
            Increment::new("b3").add("cf", "n", 2).into(),
            Delete::new("r").into(),
            Put::new("").add("cf", "q", "1").into(),
            Append::new("b4").add("cf", "s", "z").into(),
        ])
        .unwrap();
    assert!(res[0].is_ok());
    assert_eq!(res[1].as_ref().unwrap_err().code(), ErrorCode::NoSuchColumnFamily);
    assert_eq!(res[2].as_ref().unwrap().long("cf", "n"), Some(2));
    assert!(res[3].is_ok());
    assert_eq!(res[4].as_ref().unwrap_err().code(), ErrorCode::InvalidArgument);
    assert_eq!(res[5].as_ref().unwrap().value("cf", "s"), Some(&b"z"[..]));
    assert!(t.get(Get::new("r")).unwrap().is_empty());
    assert_eq!(t.get(Get::new("b1")).unwrap().value("cf", "q"), Some(&b"1"[..]));
    assert!(t.get(Get::new("b2")).unwrap().is_empty());
}

/// The write path reuses per-thread buffers (`write::Scratch`): a write that fails part-way
/// must leave nothing in them for the next write, and a batch too big to keep them must not
/// break the writes after it.
#[test]
fn failed_writes_leave_nothing_for_the_next_write() {
    let e = engine();
    let t = simple(&e);
    // The first cell is good, the second names no family: nothing of the put is written.
    let bad = Put::new("bad").add("cf", "good", "1").add("nope", "q", "2");
    assert_eq!(t.put(bad).unwrap_err().code(), ErrorCode::NoSuchColumnFamily);
    t.put(Put::new("ok").add("cf", "q", "v")).unwrap();
    assert!(t.get(Get::new("bad")).unwrap().is_empty());
    let ok = t.get(Get::new("ok")).unwrap();
    assert_eq!(ok.cells.len(), 1);
    assert_eq!(ok.value("cf", "q"), Some(&b"v"[..]));
    // In a batch, a member failing after some of its cells were built takes none of them along,
    // and its neighbours get exactly their own cells.
    let res = t
        .batch(vec![
            Put::new("m1").add("cf", "a", "1").into(),
            Put::new("m2").add("cf", "a", "2").add("cg", "b", "2").add("nope", "c", "2").into(),
            Put::new("m3").add("cg", "b", "3").into(),
        ])
        .unwrap();
    assert!(res[0].is_ok() && res[2].is_ok());
    assert_eq!(res[1].as_ref().unwrap_err().code(), ErrorCode::NoSuchColumnFamily);
    assert!(t.get(Get::new("m2")).unwrap().is_empty());
    let m1 = t.get(Get::new("m1")).unwrap();
    assert_eq!((m1.cells.len(), m1.value("cf", "a")), (1, Some(&b"1"[..])));
    let m3 = t.get(Get::new("m3")).unwrap();
    assert_eq!((m3.cells.len(), m3.value("cg", "b")), (1, Some(&b"3"[..])));
    // A batch larger than the kept buffers, then a single put.
    let big: Vec<Mutation> = (0..5000).map(|i| Put::new(format!("big{i:05}")).add("cf", "q", format!("{i}")).into()).collect();
    assert!(t.batch(big).unwrap().iter().all(|r| r.is_ok()));
    t.put(Put::new("after").add("cg", "z", "after")).unwrap();
    assert_eq!(rows(&t, Scan::new().prefix("big")).len(), 5000);
    assert_eq!(t.get(Get::new("big04999")).unwrap().value("cf", "q"), Some(&b"4999"[..]));
    let after = t.get(Get::new("after")).unwrap();
    assert_eq!((after.cells.len(), after.value("cg", "z")), (1, Some(&b"after"[..])));
}

/// Single-cell puts at the default durability go to the LSM as one insert when no hook adds
/// to them and no sequence reservation is due; they survive a reopen, and the sequence numbers
/// still only grow.
#[test]
fn single_cell_puts_survive_a_reopen_and_keep_sequence_order() {
    let d = tempfile::tempdir().unwrap();
    let last;
    {
        let e = Engine::open(d.path()).unwrap();
        let t = simple(&e);
        let mut seqs = Vec::new();
        for i in 0..50 {
            t.put(Put::new(format!("r{i:02}")).add("cf", "q", format!("v{i}"))).unwrap();
            seqs.push(e.inner.tables.committer.last_seq());
        }
        assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "one sequence number per put: {seqs:?}");
        last = *seqs.last().unwrap();
        e.close().unwrap();
    }
    let e = Engine::open(d.path()).unwrap();
    let t = e.table("t").unwrap();
    for i in 0..50 {
        let r = t.get(Get::new(format!("r{i:02}"))).unwrap();
        assert_eq!(r.value("cf", "q"), Some(format!("v{i}").as_bytes()));
    }
    t.put(Put::new("x").add("cf", "q", "1")).unwrap();
    assert!(e.inner.tables.committer.last_seq() > last);
    e.close().unwrap();
}

/// Two threads read row `row` (by get, and by scan too when `scan`) while `writers` rewrite
/// every one of its `cols` columns in each change, until the writers are done and each reader
/// read at least 50 times (on a busy machine the writers may finish before a reader first
/// runs): every read sees all of one change, never part of two.
fn whole_rows_while(t: &Table, cols: usize, scan: bool, writers: Vec<std::thread::JoinHandle<()>>) {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let t = t.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut seen = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) || seen < 50 {
                    let r = if !scan || seen % 2 == 0 { t.get(Get::new("row")).unwrap() } else {
                        t.scan(Scan::new()).unwrap().next().map(|r| r.unwrap()).unwrap_or_default()
                    };
                    if !r.is_empty() {
                        assert_eq!(r.cells.len(), cols);
                        let first = &r.cells[0].value;
                        assert!(r.cells.iter().all(|c| &c.value == first), "torn row: {:?}", r.cells.iter().map(|c| String::from_utf8_lossy(&c.value).into_owned()).collect::<Vec<_>>());
                    }
                    seen += 1;
                }
                seen
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for r in readers {
        assert!(r.join().unwrap() >= 50);
    }
}

#[test]
fn many_threads_one_row_readers_never_see_half_a_change() {
    let e = engine();
    let t = simple(&e);
    const COLS: usize = 8;
    let writers: Vec<_> = (0..3)
        .map(|w| {
            let t = t.clone();
            std::thread::spawn(move || {
                for i in 0..150 {
                    let v = format!("{w}-{i}");
                    let mut p = Put::new("row");
                    for c in 0..COLS {
                        let fam = if c % 2 == 0 { "cf" } else { "cg" };
                        p = p.add(fam, format!("c{c}"), v.clone());
                    }
                    t.put(p).unwrap();
                }
            })
        })
        .collect();
    whole_rows_while(&t, COLS, true, writers);
}

/// A plain get of a one-family row (the get fast path) never sees half of a change: every
/// column of the row is rewritten in one change, and readers must see all old or all new.
#[test]
fn one_family_gets_never_see_half_a_change() {
    let e = engine();
    let t = table_with(&e, "t", vec![FamilyDescriptor::new("cf")]);
    const COLS: usize = 48;
    let writer = {
        let t = t.clone();
        std::thread::spawn(move || {
            for i in 1..=1500i64 {
                let mut p = Put::new("row");
                for c in 0..COLS {
                    p = p.add_at("cf", format!("c{c:02}"), i, format!("{i}"));
                }
                t.put(p).unwrap();
            }
        })
    };
    whole_rows_while(&t, COLS, false, vec![writer]);
}

/// A get never reads older data than was committed before it began while memtables are sealed
/// and flushed under it: the collected read skips the look-up of sealed memtables only while
/// the memtable it last saw with none sealed is still the active one (`FamilyRt::clean_memtable`);
/// a rotation makes another one active, and the get checks again. A get that skipped a sealed
/// memtable holding the newest value would read an older one from the tables.
#[test]
fn gets_see_every_committed_write_while_memtables_rotate() {
    let e = engine();
    let t = table_with(&e, "rot", vec![FamilyDescriptor::new("cf")]);
    let committed = Arc::new(std::sync::atomic::AtomicI64::new(0));
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (t, committed, done) = (t.clone(), Arc::clone(&committed), Arc::clone(&done));
        std::thread::spawn(move || {
            let ks = t.shape().unwrap().families[0].ks.clone();
            for i in 1..=3000i64 {
                t.put(Put::new("row").add_at("cf", "q", i, i.to_be_bytes().to_vec())).unwrap();
                committed.store(i, std::sync::atomic::Ordering::SeqCst);
                if i % 25 == 0 {
                    // sealed now, flushed by fjall's worker a moment later
                    ks.rotate_memtable().unwrap();
                }
            }
            done.store(true, std::sync::atomic::Ordering::SeqCst);
        })
    };
    let mut reads = 0u64;
    while !done.load(std::sync::atomic::Ordering::SeqCst) {
        let before = committed.load(std::sync::atomic::Ordering::SeqCst);
        let r = t.get(Get::new("row")).unwrap();
        let got = r.value(b"cf", b"q").map_or(0, |v| i64::from_be_bytes(v.try_into().unwrap()));
        assert!(got >= before, "read {got} after {before} was committed");
        reads += 1;
    }
    writer.join().unwrap();
    assert!(reads > 100, "only {reads} reads overlapped the writes");
    // Once fjall's worker has flushed every sealed memtable, a get marks the active one.
    use fjall::AbstractTree;
    let shape = t.shape().unwrap();
    let fam = &shape.families[0];
    let lsm_tree::AnyTree::Standard(tree) = &fam.ks.tree else { unreachable!("a standard tree") };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while tree.sealed_memtable_count() > 0 {
        assert!(std::time::Instant::now() < deadline, "sealed memtables were never flushed");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    t.get(Get::new("row")).unwrap();
    assert_eq!(fam.clean_memtable.load(std::sync::atomic::Ordering::SeqCst), tree.active_memtable().id() + 1);
}

/// The write epoch moves (by two) with every applied batch, and an unpinned read started
/// before a write is told so.
#[test]
fn write_epoch_moves_with_every_batch() {
    let e = engine();
    let t = simple(&e);
    let c = &e.inner.tables.committer;
    let e0 = c.read_epoch().expect("no batch is being applied");
    assert!(c.epoch_unchanged(e0));
    t.put(Put::new("r").add("cf", "q", "v")).unwrap();
    assert!(!c.epoch_unchanged(e0));
    let e1 = c.read_epoch().unwrap();
    assert_eq!(e1, e0 + 2);
    t.batch(vec![Put::new("a").add("cf", "q", "1").into(), Put::new("b").add("cg", "q", "2").into()]).unwrap();
    assert_eq!(c.read_epoch(), Some(e1 + 2));
    // Major compaction's removals move it too.
    t.delete(Delete::new("r")).unwrap();
    let e2 = c.read_epoch().unwrap();
    e.major_compact_table("t").unwrap();
    assert!(c.read_epoch().unwrap() > e2);
    assert!(t.get(Get::new("r")).unwrap().is_empty());
}

/// The unpinned read (plain gets) and the read through a snapshot agree on every rule: delete
/// markers of each kind, versions, MIN_VERSIONS with TTL, per-cell TTL, KEEP_DELETED_CELLS,
/// NEW_VERSION_BEHAVIOR, time ranges, columns and families, and on rows that do not exist.
#[test]
fn unpinned_and_pinned_reads_agree() {
    let e = engine();
    let now = crate::now_ms();
    let t = table_with(
        &e,
        "agree",
        vec![
            FamilyDescriptor::new("a").versions(3),
            FamilyDescriptor::new("b").versions(2).keep_deleted_cells(KeepDeletedCells::True),
            FamilyDescriptor::new("c").versions(5).min_versions(1).ttl(3600),
            nvb_family(),
        ],
    );
    let fams = ["a", "b", "c", "f"];
    for r in 0..6 {
        let row = format!("r{r}");
        for f in fams {
            let mut p = Put::new(row.as_str());
            for q in ["x", "y", "z"] {
                for ts in [now - 7_200_000, now - 10, now - 5, now] {
                    p = p.add_at(f, q, ts, format!("{f}{q}{ts}"));
                }
            }
            t.put(p).unwrap();
        }
    }
    // A put whose own TTL ran out, and one that lives.
    t.put(Put::new("r2").add_at("a", "t", now - 100, "gone").ttl(10)).unwrap();
    t.put(Put::new("r2").add_at("a", "u", now - 100, "kept").ttl(3_600_000)).unwrap();
    t.delete(Delete::new("r0")).unwrap();
    t.delete(Delete::new("r1").family_at("a", now - 5)).unwrap();
    t.delete(Delete::new("r2").family_version("b", now - 5)).unwrap();
    t.delete(Delete::new("r3").columns_at("c", "y", now - 5)).unwrap();
    t.delete(Delete::new("r4").column_at("f", "x", now)).unwrap();
    t.delete(Delete::new("r5").column("b", "z")).unwrap();
    // A put older than a marker, written after it (masked until a major compaction).
    t.put(Put::new("r3").add_at("c", "y", now - 20, "late")).unwrap();
    let shape = t.shape().unwrap();
    let gets = |row: &str| {
        vec![
            Get::new(row),
            Get::new(row).max_versions(10),
            Get::new(row).time_range(now - 10, now),
            Get::new(row).timestamp(now - 5),
            Get::new(row).family("b").max_versions(3),
            Get::new(row).column("a", "y").column("c", "z").max_versions(4),
            Get::new(row).family("c").family_time_range("c", 0, now - 5).max_versions(5),
        ]
    };
    let mut compared = 0;
    for r in ["r0", "r1", "r2", "r3", "r4", "r5", "r9"] {
        for g in gets(r) {
            let plan = handle::plan(&shape, &g.columns, g.time_range, g.max_versions).unwrap().with_family_ranges(&shape, &g.family_time_ranges).unwrap();
            let row_enc = codec::row_prefix(r.as_bytes());
            let upper = codec::after_row(r.as_bytes());
            let (un, _) = t.read_row_unpinned(&shape, r.as_bytes(), &row_enc, &plan).unwrap();
            let (pin, _) = t.read_row_pinned(&shape, r.as_bytes(), &row_enc, &upper, &plan, None).unwrap();
            assert_eq!(un, pin, "row {r}");
            assert_eq!(t.get(g).unwrap().cells, pin.unwrap_or_default(), "row {r}");
            compared += 1;
        }
    }
    assert_eq!(compared, 49);
    // The rules are really at work in what was compared.
    assert!(t.get(Get::new("r0")).unwrap().is_empty());
    assert_eq!(t.get(Get::new("r2")).unwrap().value("a", "u"), Some(&b"kept"[..]));
    assert!(t.get(Get::new("r2")).unwrap().value("a", "t").is_none());
    assert!(t.get(Get::new("r1")).unwrap().value("a", "x").is_some_and(|v| v == format!("ax{now}").as_bytes()));
    assert_eq!(t.get(Get::new("r1").family("a").max_versions(5)).unwrap().versions("a", "x").len(), 1);
    assert_eq!(vals(&t.get(Get::new("r3").column("c", "y").max_versions(5)).unwrap(), "c", "y"), [(now, format!("cy{now}"))]);
    assert_eq!(t.get(Get::new("r1").family("c").max_versions(10)).unwrap().versions("c", "x").len(), 3);
}

// ------------------------------------------------------------------ durability and the commit seam

#[test]
fn durability_levels_and_group_commit() {
    let d = tempfile::tempdir().unwrap();
    let e = Engine::open(d.path()).unwrap();
    e.create_table(TableDescriptor::new("t").family(FamilyDescriptor::new("cf")).durability(Durability::FsyncWal)).unwrap();
    let t = e.table("t").unwrap();
    let c = &e.inner.tables.committer;
    let before = c.fsync_count();
    t.put(Put::new("a").add("cf", "q", "v")).unwrap();
    assert!(c.fsync_count() > before, "FSYNC_WAL table default fsyncs");
    let before = c.fsync_count();
    t.put(Put::new("b").add("cf", "q", "v").durability(Durability::SkipWal)).unwrap();
    t.put(Put::new("c").add("cf", "q", "v").durability(Durability::AsyncWal)).unwrap();
    t.put(Put::new("d").add("cf", "q", "v").durability(Durability::SyncWal)).unwrap();
    assert_eq!(c.fsync_count(), before, "lower levels do not fsync");
    // Many concurrent FSYNC_WAL writers share fsyncs.
    let before = c.fsync_count();
    let hs: Vec<_> = (0..8)
        .map(|i| {
            let t = t.clone();
            std::thread::spawn(move || {
                for j in 0..25 {
                    t.put(Put::new(format!("g{i}-{j}")).add("cf", "q", "v")).unwrap();
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    let used = c.fsync_count() - before;
    assert!(used <= 200, "{used} fsyncs for 200 writes");
    for k in ["a", "b", "c", "d", "g7-24"] {
        assert!(t.exists(Get::new(k)).unwrap(), "{k}");
    }
    e.set_table_durability("t", Durability::SkipWal).unwrap();
    assert_eq!(e.describe_table("t").unwrap().durability, Durability::SkipWal);
    e.close().unwrap();
}

struct OutboxProbe {
    ks: fjall::Keyspace,
    fail_on: Vec<u8>,
}

impl write::CommitHook for OutboxProbe {
    fn extend(&self, ctx: &write::CommitContext<'_>, batch: &mut write::HookBatch<'_>) -> Result<()> {
        if ctx.row == self.fail_on.as_slice() {
            return Err(Error::internal("hook refused"));
        }
        let cells = ctx.to_cells();
        batch.insert(&self.ks, ctx.seq.to_be_bytes().to_vec(), format!("{}:{}", String::from_utf8_lossy(ctx.row), cells.len()).into_bytes());
        Ok(())
    }
}

#[test]
fn commit_seam_writes_atomically_with_the_mutation() {
    let d = tempfile::tempdir().unwrap();
    let last_seq;
    {
        let e = Engine::open(d.path()).unwrap();
        let t = simple(&e);
        let ks = e.inner.db.keyspace("test.outbox", fjall::KeyspaceCreateOptions::default).unwrap();
        e.inner.tables.committer.add_hook(std::sync::Arc::new(OutboxProbe { ks: ks.clone(), fail_on: b"bad".to_vec() }));
        t.put(Put::new("r1").add("cf", "a", "1").add("cg", "b", "2")).unwrap();
        t.delete(Delete::new("r1").columns("cf", "a")).unwrap();
        let entries: Vec<(Vec<u8>, Vec<u8>)> = ks.iter().map(|g| g.into_inner().map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap()).collect();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].1, b"r1:2");
        assert_eq!(entries[1].1, b"r1:1");
        let s0 = u64::from_be_bytes(entries[0].0.clone().try_into().unwrap());
        let s1 = u64::from_be_bytes(entries[1].0.clone().try_into().unwrap());
        assert!(s1 > s0);
        // A failing hook aborts the whole change.
        assert!(t.put(Put::new("bad").add("cf", "a", "1")).is_err());
        assert!(t.get(Get::new("bad")).unwrap().is_empty());
        assert_eq!(ks.iter().count(), 2);
        // Concurrent readers see cells and the hook's record together or not at all.
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let reader = {
            let e = e.clone();
            let ks = ks.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let shape = e.table("t").unwrap().shape().unwrap();
                let mut reads = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) || reads < 20 {
                    reads += 1;
                    let snap = e.inner.db.snapshot();
                    let n_out = fjall::Readable::iter(&snap, &ks).count();
                    let n_rows = fjall::Readable::prefix(&snap, &shape.families[0].ks, codec::row_prefix(b"w")).count();
                    assert_eq!(n_out, 2 + n_rows, "outbox and cells out of step");
                }
            })
        };
        for i in 0..200 {
            t.put(Put::new("w").add_at("cf", "q", i, "v")).unwrap();
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        reader.join().unwrap();
        last_seq = e.inner.tables.committer.last_seq();
        e.close().unwrap();
    }
    // Sequence numbers keep increasing across a restart.
    let e = Engine::open(d.path()).unwrap();
    let t = e.table("t").unwrap();
    t.put(Put::new("x").add("cf", "a", "1")).unwrap();
    assert!(e.inner.tables.committer.last_seq() > last_seq);
    e.close().unwrap();
}

#[test]
fn handles_are_send_and_sync() {
    fn send<T: Send>() {}
    fn sync<T: Sync>() {}
    send::<Scanner>();
    send::<Table>();
    sync::<Table>();
    send::<Engine>();
}

#[test]
fn lsm_compaction_filter_drops_expired_cells() {
    let e = engine();
    let t = table_with(
        &e,
        "t",
        vec![FamilyDescriptor::new("cf").versions(5).ttl(60), FamilyDescriptor::new("mv").versions(5).min_versions(1).ttl(60)],
    );
    let now = crate::now_ms();
    let old = now - 3_600_000;
    for i in 0..50 {
        t.put(Put::new(format!("r{i:02}")).add_at("cf", "q", old, "x").add_at("cf", "k", now, "y").add_at("mv", "q", old, "m")).unwrap();
    }
    t.delete(Delete::new("r00").columns_at("cf", "q", old + 1)).unwrap();
    let shape = t.shape().unwrap();
    let (cf, mv) = (&shape.families[0].ks, &shape.families[1].ks);
    assert_eq!(cf.iter().count(), 101);
    // The LSM's own compaction (not kabase's major compaction pass) applies the TTL filter.
    cf.rotate_memtable_and_wait().unwrap();
    cf.major_compact().unwrap();
    mv.rotate_memtable_and_wait().unwrap();
    mv.major_compact().unwrap();
    assert_eq!(cf.iter().count(), 50, "expired puts and markers are gone");
    assert_eq!(mv.iter().count(), 50, "MIN_VERSIONS families are left to kabase's compaction");
    let r = t.get(Get::new("r07")).unwrap();
    assert_eq!((r.value("cf", "k"), r.value("mv", "q")), (Some(&b"y"[..]), Some(&b"m"[..])));
    assert!(r.value("cf", "q").is_none());
}

#[test]
fn async_wal_is_flushed_in_the_background() {
    let d = tempfile::tempdir().unwrap();
    let e = Engine::open(d.path()).unwrap();
    let t = table_with(&e, "t", vec![FamilyDescriptor::new("cf")]);
    let pending = e.inner.tables.committer.async_pending.clone();
    t.put(Put::new("r").add("cf", "q", "v").durability(Durability::AsyncWal)).unwrap();
    let start = std::time::Instant::now();
    while pending.load(std::sync::atomic::Ordering::Acquire) {
        assert!(start.elapsed() < std::time::Duration::from_secs(5), "the WAL flusher never ran");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    e.close().unwrap();
}

#[test]
fn corrupt_table_record_is_an_error_not_a_panic() {
    let d = tempfile::tempdir().unwrap();
    {
        let e = Engine::open(d.path()).unwrap();
        table_with(&e, "t", vec![FamilyDescriptor::new("cf")]);
        e.inner.tables.meta.insert("tb/default:t", "{not json").unwrap();
        e.close().unwrap();
    }
    let err = Engine::open(d.path()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Corrupt);
    assert!(err.message().contains("table metadata"), "{}", err.message());
}

#[test]
fn one_compare_operator_for_filters_and_checks() {
    // The table's CompareOperator is the filter's: a value of one is a value of the other.
    let op: crate::filter::CompareOperator = CompareOperator::Less;
    assert_eq!(op, crate::table::CompareOperator::Less);
    // check_holds is "given OP stored", for every operator, checked against byte order.
    for stored in [&b"4"[..], b"5", b"6"] {
        let given: &[u8] = b"5";
        let cases = [
            (CompareOperator::Less, given < stored),
            (CompareOperator::LessOrEqual, given <= stored),
            (CompareOperator::Equal, given == stored),
            (CompareOperator::NotEqual, given != stored),
            (CompareOperator::GreaterOrEqual, given >= stored),
            (CompareOperator::Greater, given > stored),
            (CompareOperator::NoOp, false),
        ];
        for (op, want) in cases {
            assert_eq!(super::ops::check_holds(op, stored, given), want, "{op:?} stored={stored:?}");
        }
    }
}

// ------------------------------------------------------------------ filters per family store

/// A table on disk with one wide row `w` (2,000 columns `c0000`.. in `cf`, two in `cg`),
/// flushed so reads go through LSM segments, plus rows `a` and `z` around it.
fn wide_table(dir: &std::path::Path) -> (Engine, Table) {
    let e = Engine::open(dir).unwrap();
    let t = table_with(&e, "wide", vec![FamilyDescriptor::new("cf").versions(3), FamilyDescriptor::new("cg")]);
    let mut p = Put::new("w");
    for i in 0..2000 {
        p = p.add_at("cf", format!("c{i:04}"), 5, format!("v{i}"));
    }
    p = p.add_at("cg", "x", 5, "gx").add_at("cg", "y", 5, "gy");
    t.put(p).unwrap();
    t.put(Put::new("a").add_at("cf", "c0000", 5, "a")).unwrap();
    t.put(Put::new("z").add_at("cf", "c1995", 5, "z")).unwrap();
    e.flush_table("wide").unwrap();
    (e, t)
}

fn scan_counting(t: &Table, s: Scan) -> (Vec<RowResult>, u64) {
    let mut sc = t.scan(s).unwrap();
    let mut out = Vec::new();
    for r in sc.by_ref() {
        out.push(r.unwrap());
    }
    (out, sc.entries_visited())
}

#[test]
fn seek_hints_seek_in_the_lsm() {
    let dir = tempfile::tempdir().unwrap();
    let (_e, t) = wide_table(dir.path());
    // Baseline: a filter that looks at every cell visits the whole row.
    let (rows_all, all) = scan_counting(&t, Scan::new().start("w").stop("w\0").filter(filter::parse("ValueFilter(=, 'binary:nope')").unwrap()));
    assert!(rows_all.is_empty());
    assert!(all >= 2002, "visited {all}");
    // ColumnRangeFilter hints at its lower bound: the scanner seeks there instead of walking.
    let f = filter::parse("ColumnRangeFilter('c1990', true, 'c1995', true)").unwrap();
    let (got, visited) = scan_counting(&t, Scan::new().start("w").stop("w\0").filter(f));
    let quals: Vec<_> = got[0].cells.iter().map(|c| String::from_utf8(c.qualifier.clone()).unwrap()).collect();
    assert_eq!(quals, ["c1990", "c1991", "c1992", "c1993", "c1994", "c1995"]);
    assert!(visited < 40, "visited {visited} entries for 6 cells of a 2,002-cell row");
    // The same on a get, and with ColumnPrefixFilter / MultipleColumnPrefixFilter hints.
    let shape = t.shape().unwrap();
    for (text, want) in [
        ("ColumnRangeFilter('c1990', true, 'c1995', true)", 6),
        ("ColumnPrefixFilter('c150')", 10),
        ("MultipleColumnPrefixFilter('c0005', 'c1999')", 2),
    ] {
        let mut f = filter::parse(text).unwrap();
        let plan = handle::plan(&shape, &ColumnSelection::default(), TimeRange::ALL, 1).unwrap();
        let (cells, visited) = t.read_row_counting(&shape, b"w", &plan, Some(f.as_mut())).unwrap();
        assert_eq!(cells.unwrap().len(), want, "{text}");
        assert!(visited < 60, "{text}: visited {visited}");
    }
    // Rows around the wide one still read right through the seeks.
    let f = filter::parse("ColumnRangeFilter('c1990', true, 'c1995', true)").unwrap();
    assert_eq!(row_keys(&t, Scan::new().filter(f)), ["w", "z"]);
    let f = filter::parse("ColumnRangeFilter('c1990', true, 'c1995', true)").unwrap();
    assert_eq!(row_keys(&t, Scan::new().reversed(true).filter(f)), ["z", "w"]);
}

#[test]
fn explicit_columns_and_version_limits_seek() {
    let dir = tempfile::tempdir().unwrap();
    let (_e, t) = wide_table(dir.path());
    let shape = t.shape().unwrap();
    let mut sel = ColumnSelection::default();
    sel.add_column(b"cf".to_vec(), b"c1999".to_vec());
    sel.add_column(b"cf".to_vec(), b"c0001".to_vec());
    let plan = handle::plan(&shape, &sel, TimeRange::ALL, 1).unwrap();
    let (cells, visited) = t.read_row_counting(&shape, b"w", &plan, None).unwrap();
    let cells = cells.unwrap();
    assert_eq!(cells.iter().map(|c| c.value.clone()).collect::<Vec<_>>(), [b"v1".to_vec(), b"v1999".to_vec()]);
    assert!(visited < 30, "visited {visited}");
    // ColumnPaginationFilter ends the family after its page: NextRow seeks past the rest.
    let f = filter::parse("ColumnPaginationFilter(3, 0)").unwrap();
    let (got, visited) = scan_counting(&t, Scan::new().start("w").stop("w\0").filter(f));
    assert_eq!(got[0].cells.len(), 3);
    assert!(visited < 40, "visited {visited}");
}

/// Answers NextRow for every cell of one family, Include otherwise.
#[derive(Debug)]
struct NextRowOn(&'static [u8], ReturnCode);

impl Filter for NextRowOn {
    fn filter_cell(&mut self, c: &Cell) -> ReturnCode {
        if c.family == self.0 {
            self.1
        } else {
            ReturnCode::Include
        }
    }
}

#[test]
fn next_row_ends_only_the_family() {
    let e = engine();
    let t = simple(&e);
    t.put(Put::new("r").add("cf", "a", "1").add("cf", "b", "2").add("cg", "a", "3").add("cg", "b", "4")).unwrap();
    let r = t.get(Get::new("r").filter(Box::new(NextRowOn(b"cf", ReturnCode::NextRow)))).unwrap();
    assert_eq!(r.cells.iter().map(|c| c.value.clone()).collect::<Vec<_>>(), [b"3".to_vec(), b"4".to_vec()]);
    let r = t.get(Get::new("r").filter(Box::new(NextRowOn(b"cf", ReturnCode::IncludeAndSeekNextRow)))).unwrap();
    assert_eq!(r.cells.iter().map(|c| c.value.clone()).collect::<Vec<_>>(), [b"1".to_vec(), b"3".to_vec(), b"4".to_vec()]);
    let got = rows(&t, Scan::new().filter(Box::new(NextRowOn(b"cg", ReturnCode::NextRow))));
    assert_eq!(got[0].cells.len(), 2);
    // Reversed scans read the row into memory and apply the same codes.
    let got = rows(&t, Scan::new().reversed(true).filter(Box::new(NextRowOn(b"cf", ReturnCode::IncludeAndSeekNextRow))));
    assert_eq!(got[0].cells.len(), 3);
}

#[test]
fn column_counts_carry_across_families() {
    let e = engine();
    let t = simple(&e);
    t.put(Put::new_at("r", 1).add("cf", "a", "1").add("cf", "b", "2").add("cf", "c", "3").add("cg", "a", "4").add("cg", "b", "5"))
        .unwrap();
    t.put(Put::new_at("r", 2).add("cf", "a", "1b").add("cf", "b", "2b")).unwrap();
    t.put(Put::new("s").add("cf", "a", "x")).unwrap();
    let vals = |r: &RowResult| r.cells.iter().map(|c| String::from_utf8(c.value.clone()).unwrap()).collect::<Vec<_>>();
    // Skip 2 columns, take 2: the page spans cf and cg (versions never count as columns).
    let f = filter::parse("ColumnPaginationFilter(2, 2)").unwrap();
    let r = t.get(Get::new("r").max_versions(3).filter(f)).unwrap();
    assert_eq!(vals(&r), ["3", "4"]);
    let f = filter::parse("ColumnPaginationFilter(3, 1)").unwrap();
    let r = t.get(Get::new("r").filter(f)).unwrap();
    assert_eq!(vals(&r), ["2b", "3", "4"]);
    // ColumnCountGetFilter(4): four columns across both families; the fifth ends the scan.
    let f = filter::parse("ColumnCountGetFilter(4)").unwrap();
    let got = rows(&t, Scan::new().max_versions(3).filter(f));
    assert_eq!(got.len(), 1);
    assert_eq!(vals(&got[0]), ["1b", "2b", "3", "4"]);
}

// ------------------------------------------------------------------ raw scans, cell TTL, family time ranges

fn described(r: &RowResult) -> Vec<String> {
    r.cells
        .iter()
        .map(|c| format!("{}:{}@{}{:?}", String::from_utf8_lossy(&c.family), String::from_utf8_lossy(&c.qualifier), c.timestamp, c.kind))
        .collect()
}

#[test]
fn raw_scans_show_markers_and_masked_cells_until_major_compaction() {
    let e = engine();
    let t = table_with(&e, "raw", vec![FamilyDescriptor::new("cf")]);
    t.put(Put::new_at("r", 1).add("cf", "q", "old")).unwrap();
    t.delete(Delete::new_at("r", 2).columns("cf", "q")).unwrap();
    t.put(Put::new_at("r", 5).add("cf", "p", "p")).unwrap();
    t.put(Put::new_at("s", 1).add("cf", "x", "x")).unwrap();
    t.delete(Delete::new_at("s", 3)).unwrap();
    t.put(Put::new_at("v", 10).add("cf", "q", "10")).unwrap();
    t.put(Put::new_at("v", 11).add("cf", "q", "11")).unwrap();
    // A normal scan sees what the markers leave.
    let got = rows(&t, Scan::new());
    assert_eq!(got.iter().map(described).collect::<Vec<_>>(), vec![vec!["cf:p@5Put".to_string()], vec!["cf:q@11Put".to_string()]]);
    // A raw scan sees markers and masked puts, in HBase cell order, and versions past VERSIONS.
    let got = rows(&t, Scan::new().raw(true).max_versions(10));
    assert_eq!(
        got.iter().map(described).collect::<Vec<_>>(),
        vec![
            vec!["cf:p@5Put", "cf:q@2DeleteColumn", "cf:q@1Put"],
            vec!["cf:@3DeleteFamily", "cf:x@1Put"],
            vec!["cf:q@11Put", "cf:q@10Put"],
        ]
    );
    // The scan's max versions still caps puts; a time range applies to markers too.
    let got = rows(&t, Scan::new().raw(true).time_range(2, 4));
    assert_eq!(got.iter().map(described).collect::<Vec<_>>(), vec![vec!["cf:q@2DeleteColumn"], vec!["cf:@3DeleteFamily"]]);
    assert_eq!(rows(&t, Scan::new().raw(true).prefix("v"))[0].cells.len(), 1);
    // Filters see raw cells too.
    let f = filter::parse("QualifierFilter(=, 'binary:q')").unwrap();
    assert_eq!(rows(&t, Scan::new().raw(true).filter(f)).len(), 2);
    // As HBase: no single columns in a raw scan; families are fine.
    let err = t.scan(Scan::new().raw(true).column("cf", "q")).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidArgument);
    assert!(err.message().contains("raw scan"), "{}", err.message());
    assert_eq!(rows(&t, Scan::new().raw(true).family("cf")).len(), 3);
    // A major compaction removes markers, masked puts and surplus versions.
    e.major_compact_table("raw").unwrap();
    let got = rows(&t, Scan::new().raw(true).max_versions(10));
    assert_eq!(got.iter().map(described).collect::<Vec<_>>(), vec![vec!["cf:p@5Put".to_string()], vec!["cf:q@11Put".to_string()]]);
}

#[test]
fn cell_ttl_hides_cells_and_major_compaction_drops_them() {
    let e = engine();
    let t = table_with(&e, "ttl", vec![FamilyDescriptor::new("cf").versions(3)]);
    let now = crate::now_ms();
    t.put(Put::new_at("r", 100).add("cf", "q", "base")).unwrap();
    t.put(Put::new_at("r", now - 5_000).add("cf", "q", "gone").ttl(1_000)).unwrap();
    t.put(Put::new_at("r", now - 5_000).add("cf", "k", "kept").ttl(600_000)).unwrap();
    t.put(Put::new("r").add("cf", "n", "fresh").ttl(600_000)).unwrap();
    let r = t.get(Get::new("r")).unwrap();
    assert_eq!(r.value("cf", "q"), Some(&b"base"[..]), "the expired cell is skipped, the older one shows");
    assert_eq!(r.value("cf", "k"), Some(&b"kept"[..]));
    assert_eq!(r.value("cf", "n"), Some(&b"fresh"[..]));
    assert_eq!(t.get(Get::new("r").max_versions(3)).unwrap().versions("cf", "q").len(), 1);
    // Expired cells are gone for raw scans too (TTL applies to them, as in HBase).
    assert_eq!(rows(&t, Scan::new().raw(true).max_versions(5))[0].cells.len(), 3);
    // A negative TTL is refused.
    assert_eq!(t.put(Put::new("r").add("cf", "q", "x").ttl(-1)).unwrap_err().code(), ErrorCode::InvalidArgument);
    // The stored entry stays until a major compaction drops it.
    let count = || t.shape().unwrap().families[0].ks.iter().count();
    assert_eq!(count(), 4);
    e.major_compact_table("ttl").unwrap();
    assert_eq!(count(), 3);
    assert_eq!(t.get(Get::new("r")).unwrap().cells.len(), 3);
    // The cell TTL survives a change of the family's compression (values are re-encoded).
    t.put(Put::new_at("r", now - 5_000).add("cf", "z", "gone too").ttl(1_000)).unwrap();
    e.modify_family("ttl", FamilyDescriptor::new("cf").versions(3).compression(Compression::Zstd)).unwrap();
    let t = e.table("ttl").unwrap();
    assert_eq!(count(), 4, "the re-encoded expired cell is still stored");
    assert!(t.get(Get::new("r").column("cf", "z")).unwrap().is_empty());
    assert_eq!(t.get(Get::new("r")).unwrap().value("cf", "k"), Some(&b"kept"[..]));
}

#[test]
fn family_time_ranges_override_the_read_range() {
    let e = engine();
    let t = simple(&e);
    t.put(Put::new_at("r", 5).add("cf", "a", "a5").add("cg", "b", "b5")).unwrap();
    t.put(Put::new_at("r", 10).add("cf", "a", "a10").add("cg", "b", "b10")).unwrap();
    let vals = |r: &RowResult| r.cells.iter().map(|c| String::from_utf8(c.value.clone()).unwrap()).collect::<Vec<_>>();
    let r = t.get(Get::new("r").max_versions(3).family_time_range("cf", 0, 6)).unwrap();
    assert_eq!(vals(&r), ["a5", "b10"]);
    let r = t.get(Get::new("r").time_range(0, 6).family_time_range("cg", 6, 100)).unwrap();
    assert_eq!(vals(&r), ["a5", "b10"]);
    let got = rows(&t, Scan::new().max_versions(3).family_time_range("cf", 0, 6));
    assert_eq!(vals(&got[0]), ["a5", "b10"]);
    // cg keeps one version, so b5 does not exist whatever the range.
    let got = rows(&t, Scan::new().family_time_range("cg", 0, 6).family_time_range("cf", 8, 12));
    assert_eq!(vals(&got[0]), ["a10"]);
    // With an explicit column selection the range applies to that family's columns.
    let r = t.get(Get::new("r").column("cf", "a").family_time_range("cf", 0, 6)).unwrap();
    assert_eq!(vals(&r), ["a5"]);
    // Bad input: unknown family, reversed range.
    assert_eq!(t.get(Get::new("r").family_time_range("zz", 0, 6)).unwrap_err().code(), ErrorCode::NoSuchColumnFamily);
    assert_eq!(t.scan(Scan::new().family_time_range("cf", 6, 0)).unwrap_err().code(), ErrorCode::InvalidArgument);
}

#[test]
fn next_into_reuses_buffers_and_matches_the_iterator() {
    let e = engine();
    let t = simple(&e);
    for i in 0..50 {
        let mut p = Put::new(format!("r{i:02}"));
        for q in 0..(i % 7 + 1) {
            p = p.add("cf", format!("q{q}"), format!("v{i}-{q}")).add("cg", format!("g{q}"), "x");
        }
        t.put(p).unwrap();
    }
    for scan in [
        || Scan::new(),
        || Scan::new().batch(3),
        || Scan::new().reversed(true).caching(7),
        || Scan::new().filter(filter::parse("ColumnPrefixFilter('q1')").unwrap()).limit(20),
    ] {
        let want = rows(&t, scan());
        let mut sc = t.scan(scan()).unwrap();
        let mut r = RowResult::default();
        let mut got = Vec::new();
        while sc.next_into(&mut r).unwrap() {
            got.push(r.clone());
        }
        assert!(r.cells.is_empty() && r.row.is_empty());
        assert_eq!(got, want);
        assert!(!sc.next_into(&mut r).unwrap(), "stays at the end");
    }
}

#[test]
fn scanners_can_move_between_threads() {
    fn assert_send<T: Send>() {}
    assert_send::<Scanner>();
    assert_send::<Table>();
}

#[test]
fn hints_inside_a_column_still_apply_its_delete_markers() {
    let e = engine();
    let t = table_with(&e, "tsf", vec![FamilyDescriptor::new("cf").versions(5)]);
    for ts in [7, 8, 9, 10] {
        t.put(Put::new_at("r", ts).add("cf", "q", format!("v{ts}")).add("cf", "w", format!("w{ts}"))).unwrap();
    }
    // A version delete at 8 sits between the newest cell and the hint's target.
    t.delete(Delete::new("r").column_at("cf", "q", 8)).unwrap();
    let ts_of = |r: &RowResult| r.cells.iter().map(|c| (String::from_utf8(c.qualifier.clone()).unwrap(), c.timestamp)).collect::<Vec<_>>();
    for hint in [false, true] {
        let f = crate::filter::TimestampsFilter::new([8, 7]).unwrap().with_hint(hint);
        let r = t.get(Get::new("r").max_versions(5).filter(Box::new(f))).unwrap();
        assert_eq!(ts_of(&r), [("q".to_string(), 7), ("w".to_string(), 8), ("w".to_string(), 7)], "hint {hint}");
        let f = crate::filter::TimestampsFilter::new([8, 7]).unwrap().with_hint(hint);
        let got = rows(&t, Scan::new().max_versions(5).reversed(true).filter(Box::new(f)));
        assert_eq!(ts_of(&got[0]), ts_of(&r));
    }
}

/// Records every committed change of one cell, in commit order (hooks run under the commit
/// mutex, in sequence order).
struct CommitOrderProbe {
    row: Vec<u8>,
    seen: parking_lot::Mutex<Vec<(u64, i64, Vec<u8>)>>,
}

impl write::CommitHook for CommitOrderProbe {
    fn extend(&self, ctx: &write::CommitContext<'_>, _batch: &mut write::HookBatch<'_>) -> Result<()> {
        if ctx.row == self.row.as_slice() {
            let mut seen = self.seen.lock();
            for c in ctx.cells {
                seen.push((ctx.seq, c.ts, c.value.clone()));
            }
        }
        Ok(())
    }
}

#[test]
fn racing_server_timestamped_writes_commit_in_timestamp_order() {
    let e = engine();
    let t = simple(&e);
    let probe = std::sync::Arc::new(CommitOrderProbe { row: b"hot".to_vec(), seen: parking_lot::Mutex::new(Vec::new()) });
    e.inner.tables.committer.add_hook(probe.clone());
    let threads = 8;
    let per = 2000;
    let hs: Vec<_> = (0..threads)
        .map(|w| {
            let t = t.clone();
            std::thread::spawn(move || {
                for i in 0..per {
                    let v = format!("{w}-{i}");
                    // Every write path that takes server time: put, row mutations, check-and-mutate, batch.
                    match i % 4 {
                        0 => t.put(Put::new("hot").add("cf", "q", v)).unwrap(),
                        1 => t.mutate_row(RowMutations::new("hot").put(Put::new("hot").add("cf", "q", v))).unwrap(),
                        2 => {
                            let cam = CheckAndMutate::new("hot").if_not_exists("cg", "never").then(Put::new("hot").add("cf", "q", v));
                            assert!(t.check_and_mutate(cam).unwrap().success);
                        }
                        _ => {
                            for r in t.batch(vec![Put::new("hot").add("cf", "q", v).into()]).unwrap() {
                                r.unwrap();
                            }
                        }
                    }
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    let seen = probe.seen.lock();
    assert_eq!(seen.len(), threads * per);
    for w in seen.windows(2) {
        assert!(w[0].0 < w[1].0, "sequence numbers out of order");
        assert!(w[0].1 <= w[1].1, "commit {} has timestamp {} after commit {} with timestamp {}", w[1].0, w[1].1, w[0].0, w[0].1);
    }
    // The stored value is the last committed put's, not an earlier-timestamped straggler's.
    let last = seen.last().unwrap();
    let got = t.get(Get::new("hot")).unwrap();
    assert_eq!(got.value("cf", "q"), Some(last.2.as_slice()));
    assert_eq!(got.cells[0].timestamp, last.1);
    e.close().unwrap();
}

#[test]
fn unpinned_get_seeks_past_many_versions() {
    let e = engine();
    let t = table_with(&e, "many", vec![FamilyDescriptor::new("cf").versions(100)]);
    let mut p = Put::new("m");
    // More versions than the steps an unpinned read takes in place of a seek.
    for ts in 1..=40 {
        p = p.add_at("cf", "q", ts, format!("q{ts}"));
    }
    t.put(p.add_at("cf", "r", 7, "r7")).unwrap();
    t.put(Put::new("n").add_at("cf", "q", 1, "n1")).unwrap();
    // The unpinned read of row "m" seeks past q's older versions (a new range at the target)
    // and visits fewer entries than the row has.
    let shape = t.shape().unwrap();
    let plan = handle::plan(&shape, &ColumnSelection::default(), TimeRange::ALL, 1).unwrap();
    let row_enc = codec::row_prefix(b"m");
    let mut c = scan::Cursor::open_unpinned_row(&shape.families[0].ks, &row_enc).unwrap();
    let mut out = Vec::new();
    let (keep, _) = handle::process_row(&shape, &plan, b"m", &row_enc, std::slice::from_mut(&mut c), crate::now_ms(), None, &mut out, &mut read::ReadBufs::default()).unwrap();
    assert!(keep && c.visited < 20, "visited {}", c.visited);
    assert_eq!(out.iter().map(|c| c.value.clone()).collect::<Vec<_>>(), [b"q40".to_vec(), b"r7".to_vec()]);
    // Gets still see exactly the newest versions.
    let g = t.get(Get::new("m")).unwrap();
    assert_eq!(vals(&g, "cf", "q"), [(40, "q40".to_string())]);
    assert_eq!(vals(&g, "cf", "r"), [(7, "r7".to_string())]);
    let g = t.get(Get::new("m").max_versions(3)).unwrap();
    assert_eq!(vals(&g, "cf", "q"), [(40, "q40".to_string()), (39, "q39".to_string()), (38, "q38".to_string())]);
    let g = t.get(Get::new("m").time_range(10, 20)).unwrap();
    assert_eq!(vals(&g, "cf", "q"), [(19, "q19".to_string())]);
    assert!(t.get(Get::new("m").time_range(10, 20)).unwrap().value("cf", "r").is_none());
    // A short row needs no seek and reads unpinned.
    assert_eq!(t.get(Get::new("n")).unwrap().value("cf", "q"), Some(&b"n1"[..]));
    assert!(t.get(Get::new("o")).unwrap().is_empty());
    // A column with a few more versions than the steps before a seek is stepped over unpinned.
    let mut p = Put::new("k");
    for ts in 1..=12 {
        p = p.add_at("cf", "q", ts, format!("k{ts}"));
    }
    t.put(p.add_at("cf", "r", 1, "kr")).unwrap();
    let row_enc = codec::row_prefix(b"k");
    let mut c = scan::Cursor::open_unpinned_row(&shape.families[0].ks, &row_enc).unwrap();
    let mut out = Vec::new();
    let (keep, _) = handle::process_row(&shape, &plan, b"k", &row_enc, std::slice::from_mut(&mut c), crate::now_ms(), None, &mut out, &mut read::ReadBufs::default()).unwrap();
    assert!(keep);
    assert_eq!(out.iter().map(|c| c.value.clone()).collect::<Vec<_>>(), [b"k12".to_vec(), b"kr".to_vec()]);
    // Deleting the newest versions is seen by the restarted read.
    t.delete(Delete::new("m").column_at("cf", "q", 40)).unwrap();
    assert_eq!(vals(&t.get(Get::new("m")).unwrap(), "cf", "q"), [(39, "q39".to_string())]);
}

// ------------------------------------------------------------------ NEW_VERSION_BEHAVIOR

fn nvb_family() -> FamilyDescriptor {
    FamilyDescriptor::new("f").versions(3).new_version_behavior(true)
}

/// Timestamps of the visible versions of `f:q`, newest first.
fn stamps(t: &Table, max_versions: u32) -> Vec<i64> {
    t.get(Get::new("r").max_versions(max_versions)).unwrap().versions("f", "q").iter().map(|c| c.timestamp).collect()
}

#[test]
fn new_version_behavior_lets_puts_after_a_delete_through() {
    let dir = tempfile::tempdir().unwrap();
    let e = Engine::open(dir.path()).unwrap();
    let plain = table_with(&e, "plain", vec![FamilyDescriptor::new("f").versions(3)]);
    let nvb = table_with(&e, "nvb", vec![nvb_family()]);
    assert!(e.describe_table("nvb").unwrap().families[0].new_version_behavior);
    assert!(!e.describe_table("plain").unwrap().families[0].new_version_behavior);
    // Keys that may end with a sequence number: a key format older builds refuse.
    assert_eq!((plain.shape().unwrap().meta.key_format, nvb.shape().unwrap().meta.key_format), (codec::KEY_FORMAT, codec::KEY_FORMAT_SEQ));
    for t in [&plain, &nvb] {
        t.put(Put::new("r").add_at("f", "q", 100, "old")).unwrap();
        t.delete(Delete::new("r").columns_at("f", "q", 200)).unwrap();
        t.put(Put::new("r").add_at("f", "q", 150, "later")).unwrap();
    }
    // Without the option the marker hides the later put (HBase's "deletes mask puts")...
    assert!(plain.get(Get::new("r")).unwrap().is_empty());
    // ...with it only the put written before the marker is hidden.
    assert_eq!(vals(&nvb.get(Get::new("r").max_versions(3)).unwrap(), "f", "q"), vec![(150, "later".into())]);
    assert_eq!(rows(&nvb, Scan::new().reversed(true))[0].value("f", "q"), Some(&b"later"[..]));
    // The same from disk segments, after a reopen (sequence numbers go on rising), and after a
    // major compaction.
    e.flush_table("nvb").unwrap();
    drop((plain, nvb));
    e.close().unwrap();
    drop(e);
    let e = Engine::open(dir.path()).unwrap();
    let nvb = e.table("nvb").unwrap();
    assert_eq!(stamps(&nvb, 3), [150]);
    nvb.delete(Delete::new("r").columns_at("f", "q", 300)).unwrap();
    nvb.put(Put::new("r").add_at("f", "q", 120, "after reopen")).unwrap();
    assert_eq!(stamps(&nvb, 3), [120]);
    e.major_compact_table("nvb").unwrap();
    assert_eq!(stamps(&nvb, 3), [120]);
    assert_eq!(nvb.shape().unwrap().families[0].ks.iter().count(), 1, "the marker and the deleted puts are gone");
    // Every marker kind: a put written after it shows through.
    nvb.delete(Delete::new_at("r", 500)).unwrap();
    nvb.put(Put::new("r").add_at("f", "q", 110, "after family delete")).unwrap();
    nvb.delete(Delete::new("r").family_version("f", 105)).unwrap();
    nvb.delete(Delete::new("r").column_at("f", "q", 106)).unwrap();
    nvb.put(Put::new("r").add_at("f", "q", 105, "a").add_at("f", "q", 106, "b")).unwrap();
    assert_eq!(stamps(&nvb, 3), [110, 106, 105]);
    e.close().unwrap();
}

#[test]
fn new_version_behavior_orders_by_commit_within_a_batch() {
    let e = engine();
    let t = table_with(&e, "t", vec![nvb_family()]);
    // One commit holding both: the marker wins (HBase gives a mutation one sequence number).
    t.mutate_row(RowMutations::new("r").delete(Delete::new("r").columns_at("f", "q", 200)).put(Put::new("r").add_at("f", "q", 150, "x")))
        .unwrap();
    assert!(t.get(Get::new("r")).unwrap().is_empty());
    // A batch commits its rows together, each with its own sequence number, in order.
    let res = t
        .batch(vec![
            Delete::new("s").columns_at("f", "q", 200).into(),
            Put::new("s").add_at("f", "q", 150, "after").into(),
            Put::new("u").add_at("f", "q", 150, "before").into(),
            Delete::new("u").columns_at("f", "q", 200).into(),
        ])
        .unwrap();
    assert!(res.iter().all(|r| r.is_ok()));
    assert_eq!(t.get(Get::new("s")).unwrap().value("f", "q"), Some(&b"after"[..]));
    assert!(t.get(Get::new("u")).unwrap().is_empty());
    // Increments and appends are puts with sequence numbers too.
    t.delete(Delete::new("c").columns_at("f", "n", i64::MAX - 1)).unwrap();
    assert_eq!(t.increment(Increment::new("c").add("f", "n", 2)).unwrap().long("f", "n"), Some(2));
    assert_eq!(t.get(Get::new("c")).unwrap().cells.len(), 1);
}

/// HBase's TestNewVersionBehaviorFromClientSide scenarios (VERSIONS = 3), each checked from the
/// memtable, from disk segments and after a major compaction: the option makes results
/// independent of compaction.
#[test]
fn new_version_behavior_counts_versions_by_what_was_visible() {
    let dir = tempfile::tempdir().unwrap();
    let e = Engine::open(dir.path()).unwrap();
    let mut n = 0;
    let mut check = |steps: &dyn Fn(&Table), max_versions: u32, want: &[i64]| {
        n += 1;
        let name = format!("nvb{n}");
        let t = table_with(&e, &name, vec![nvb_family()]);
        steps(&t);
        assert_eq!(stamps(&t, max_versions), want, "{name} in the memtable");
        e.flush_table(&name).unwrap();
        assert_eq!(stamps(&t, max_versions), want, "{name} from segments");
        e.major_compact_table(&name).unwrap();
        assert_eq!(stamps(&t, max_versions), want, "{name} after major compaction");
    };
    let put = |t: &Table, ts: i64| t.put(Put::new("r").add_at("f", "q", ts, format!("v{ts}"))).unwrap();
    let del_version = |t: &Table, ts: i64| t.delete(Delete::new("r").column_at("f", "q", ts)).unwrap();
    // testPutAndDeleteVersions: a column delete, then a put older than everything.
    check(
        &|t| {
            (1..=4).for_each(|i| put(t, 1_000_000 + i));
            t.delete(Delete::new("r").columns_at("f", "q", 2_000_000)).unwrap();
            put(t, 1_000_000);
        },
        3,
        &[1_000_000],
    );
    // testPutMasked: deleting version 3 does not bring back version 1, which was pushed out by
    // 4, 3 and 2 while they were all visible.
    check(
        &|t| {
            (1..=4).for_each(|i| put(t, 1_000_000 + i));
            del_version(t, 1_000_003);
        },
        3,
        &[1_000_004, 1_000_002],
    );
    // testPutMasked2: a version delete before its put does not hide it.
    check(
        &|t| {
            put(t, 1_000_001);
            put(t, 1_000_002);
            del_version(t, 1_000_003);
            put(t, 1_000_003);
            put(t, 1_000_004);
        },
        3,
        &[1_000_004, 1_000_003, 1_000_002],
    );
    // testPutMaskedAndUserMaxVersion: the read's max versions is applied after the masking.
    check(
        &|t| {
            (1..=4).for_each(|i| put(t, 1_000_000 + i));
            del_version(t, 1_000_004);
            del_version(t, 1_000_003);
        },
        1,
        &[1_000_002],
    );
    // testSameTs: rewriting a version counts it once.
    check(
        &|t| {
            for ts in [1, 2, 3, 3, 3, 4] {
                put(t, 1_000_000 + ts);
            }
        },
        3,
        &[1_000_004, 1_000_003, 1_000_002],
    );
    // testSameTsAndDelete: a delete of a rewritten version hides every write of it before.
    check(
        &|t| {
            for ts in [1, 2, 3, 3, 3, 3] {
                put(t, 1_000_000 + ts);
            }
            del_version(t, 1_000_003);
            put(t, 1_000_004);
        },
        3,
        &[1_000_004, 1_000_002, 1_000_001],
    );
    // testTimeRange: versions pushed out by newer ones stay out of a time range that excludes
    // the newer ones.
    let t = table_with(&e, "nvb_tr", vec![nvb_family()]);
    (1..=8).for_each(|i| put(&t, 1_000_000 + i));
    assert!(t.get(Get::new("r").max_versions(3).time_range(0, 1_000_005)).unwrap().is_empty());
    // Without the option, deleting the newest version brings older ones back (until a major
    // compaction drops them, so results depend on compaction timing).
    let plain = table_with(&e, "plain_masked", vec![FamilyDescriptor::new("f").versions(3)]);
    (1..=4).for_each(|i| put(&plain, 1_000_000 + i));
    del_version(&plain, 1_000_003);
    assert_eq!(stamps(&plain, 3), [1_000_004, 1_000_002, 1_000_001]);
}

#[test]
fn new_version_behavior_family_deletes_and_raw_scans() {
    let e = engine();
    let t = table_with(&e, "t", vec![nvb_family()]);
    let put = |q: &str, ts: i64| t.put(Put::new("r").add_at("f", q, ts, "v")).unwrap();
    let cells = |t: &Table| -> Vec<(String, i64)> {
        t.get(Get::new("r").max_versions(3)).unwrap().cells.iter().map(|c| (String::from_utf8(c.qualifier.clone()).unwrap(), c.timestamp)).collect()
    };
    // testDeleteFamily.
    put("col1", 1_000_001);
    put("col1", 1_000_002);
    put("col2", 1_000_002);
    put("col3", 1_000_001);
    t.delete(Delete::new("r").family_at("f", 2_000_000)).unwrap();
    put("col3", 1_500_002);
    put("col2", 1_500_001);
    put("col1", 1_500_001);
    put("col1", 1_500_002);
    let q = |s: &str, ts: i64| (s.to_string(), ts);
    assert_eq!(cells(&t), [q("col1", 1_500_002), q("col1", 1_500_001), q("col2", 1_500_001), q("col3", 1_500_002)]);
    t.delete(Delete::new("r").family_version("f", 1_500_001)).unwrap();
    assert_eq!(cells(&t), [q("col1", 1_500_002), q("col3", 1_500_002)]);
    put("col1", 1_000_001);
    put("col1", 1_000_002);
    put("col2", 1_000_002);
    put("col3", 1_000_001);
    let want = [q("col1", 1_500_002), q("col1", 1_000_002), q("col1", 1_000_001), q("col2", 1_000_002), q("col3", 1_500_002), q("col3", 1_000_001)];
    assert_eq!(cells(&t), want);
    e.major_compact_table("t").unwrap();
    assert_eq!(cells(&t), want);

    // testRawScanAndMajorCompaction: raw scans show everything until a major compaction keeps
    // only what is visible.
    let t = table_with(&e, "raw", vec![nvb_family()]);
    for ts in 1..=4 {
        t.put(Put::new("r").add_at("f", "q", 1_000_000 + ts, "v")).unwrap();
    }
    t.delete(Delete::new("r").column_at("f", "q", 1_000_004)).unwrap();
    t.delete(Delete::new("r").column_at("f", "q", 1_000_003)).unwrap();
    assert_eq!(rows(&t, Scan::new().raw(true).max_versions(10))[0].cells.len(), 6);
    e.major_compact_table("raw").unwrap();
    let got = rows(&t, Scan::new().raw(true).max_versions(10));
    assert_eq!(got.iter().map(described).collect::<Vec<_>>(), [vec!["f:q@1000002Put".to_string()]]);
}

#[test]
fn new_version_behavior_with_keep_deleted_cells() {
    let e = engine();
    let t = table_with(&e, "t", vec![nvb_family().keep_deleted_cells(KeepDeletedCells::True)]);
    t.put(Put::new("r").add_at("f", "q", 10, "v10")).unwrap();
    t.delete(Delete::new("r").columns_at("f", "q", 20)).unwrap();
    t.put(Put::new("r").add_at("f", "q", 15, "v15")).unwrap();
    for _ in 0..2 {
        // The marker hides only the put before it; a range ending before the marker sees both.
        assert_eq!(stamps(&t, 3), [15]);
        assert_eq!(vals(&t.get(Get::new("r").max_versions(3).time_range(0, 20)).unwrap(), "f", "q"), vec![(15, "v15".into()), (10, "v10".into())]);
        // Major compaction keeps the deleted cell and the marker.
        e.major_compact_table("t").unwrap();
    }
}

#[test]
fn new_version_behavior_can_be_altered() {
    let e = engine();
    let t = table_with(&e, "t", vec![FamilyDescriptor::new("f").versions(3).compression(Compression::Zstd)]);
    t.put(Put::new("r").add_at("f", "q", 100, "old")).unwrap();
    t.delete(Delete::new("r").columns_at("f", "q", 200)).unwrap();
    t.put(Put::new("r").add_at("f", "q", 150, "hidden")).unwrap();
    assert!(t.get(Get::new("r")).unwrap().is_empty());
    // Turning it on changes the key layout: the family is rewritten, with the table disabled.
    let on = FamilyDescriptor::new("f").versions(3).compression(Compression::Zstd).new_version_behavior(true);
    assert_eq!(e.modify_family("t", on.clone()).unwrap_err().code(), ErrorCode::TableNotDisabled);
    e.disable_table("t").unwrap();
    e.modify_family("t", on).unwrap();
    e.enable_table("t").unwrap();
    assert!(e.describe_table("t").unwrap().families[0].new_version_behavior);
    assert_eq!(t.shape().unwrap().meta.key_format, codec::KEY_FORMAT_SEQ);
    // Cells written before count as older than every later write.
    assert!(t.get(Get::new("r")).unwrap().is_empty());
    t.put(Put::new("r").add_at("f", "q", 120, "x".repeat(200))).unwrap();
    t.put(Put::new("r").add_at("f", "q", 150, "rewritten")).unwrap();
    assert_eq!(vals(&t.get(Get::new("r").max_versions(3)).unwrap(), "f", "q"), vec![(150, "rewritten".into()), (120, "x".repeat(200))]);
    // Turning it off keeps the newest write of each cell, and the marker masks by timestamp
    // again (here together with a move to LZ4 blocks).
    e.disable_table("t").unwrap();
    e.modify_family("t", FamilyDescriptor::new("f").versions(3).compression(Compression::Lz4)).unwrap();
    e.enable_table("t").unwrap();
    assert_eq!(t.shape().unwrap().meta.key_format, codec::KEY_FORMAT);
    assert!(t.get(Get::new("r")).unwrap().is_empty());
    let raw = rows(&t, Scan::new().raw(true).max_versions(10));
    let cells: Vec<_> = raw[0].cells.iter().map(|c| (c.timestamp, c.kind, String::from_utf8(c.value.clone()).unwrap())).collect();
    assert_eq!(
        cells,
        [
            (200, crate::cell::CellKind::DeleteColumn, String::new()),
            (150, crate::cell::CellKind::Put, "rewritten".to_string()),
            (120, crate::cell::CellKind::Put, "x".repeat(200)),
            (100, crate::cell::CellKind::Put, "old".to_string()),
        ]
    );
}

/// One step of [`new_version_behavior_results_do_not_depend_on_major_compaction`].
#[derive(Debug, Clone)]
enum NvbOp {
    Put(u8, i64),
    DeleteColumn(u8, i64),
    DeleteVersion(u8, i64),
    DeleteFamily(i64),
    DeleteFamilyVersion(i64),
    Compact,
}

fn nvb_op() -> impl proptest::strategy::Strategy<Value = NvbOp> {
    use proptest::prelude::*;
    prop_oneof![
        6 => (0u8..2, 1i64..7).prop_map(|(q, ts)| NvbOp::Put(q, ts)),
        1 => (0u8..2, 1i64..7).prop_map(|(q, ts)| NvbOp::DeleteColumn(q, ts)),
        2 => (0u8..2, 1i64..7).prop_map(|(q, ts)| NvbOp::DeleteVersion(q, ts)),
        1 => (1i64..7).prop_map(NvbOp::DeleteFamily),
        1 => (1i64..7).prop_map(NvbOp::DeleteFamilyVersion),
        2 => Just(NvbOp::Compact),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
    /// With NEW_VERSION_BEHAVIOR a major compaction changes no result, whenever it runs (without
    /// the option it does: HBase's "major compactions change query results").
    #[test]
    fn new_version_behavior_results_do_not_depend_on_major_compaction(
        versions in 1u32..4,
        ops in proptest::collection::vec(nvb_op(), 1..30),
    ) {
        let e = engine();
        let fam = || FamilyDescriptor::new("f").versions(versions).new_version_behavior(true);
        let never = table_with(&e, "never", vec![fam()]);
        let sometimes = table_with(&e, "sometimes", vec![fam()]);
        let col = |q: u8| format!("q{q}");
        for (i, op) in ops.iter().enumerate() {
            for t in [&never, &sometimes] {
                match op {
                    NvbOp::Put(q, ts) => t.put(Put::new("r").add_at("f", col(*q), *ts, format!("v{i}"))).unwrap(),
                    NvbOp::DeleteColumn(q, ts) => t.delete(Delete::new("r").columns_at("f", col(*q), *ts)).unwrap(),
                    NvbOp::DeleteVersion(q, ts) => t.delete(Delete::new("r").column_at("f", col(*q), *ts)).unwrap(),
                    NvbOp::DeleteFamily(ts) => t.delete(Delete::new("r").family_at("f", *ts)).unwrap(),
                    NvbOp::DeleteFamilyVersion(ts) => t.delete(Delete::new("r").family_version("f", *ts)).unwrap(),
                    NvbOp::Compact => {}
                }
            }
            if matches!(op, NvbOp::Compact) {
                e.major_compact_table("sometimes").unwrap();
            }
            let gets = || [Get::new("r").max_versions(5), Get::new("r").max_versions(2).time_range(2, 5), Get::new("r").column("f", "q1")];
            for (ga, gb) in gets().into_iter().zip(gets()) {
                let a = never.get(ga).unwrap();
                let b = sometimes.get(gb).unwrap();
                proptest::prop_assert_eq!(described(&a), described(&b), "after step {} {:?}", i, op);
                proptest::prop_assert_eq!(a, b);
            }
        }
    }
}

/// NEW_VERSION_BEHAVIOR as a timeline, for [`new_version_behavior_matches_a_timeline_model`]:
/// every write of a cell is an instance that lives from its commit until a marker deletes it or
/// a rewrite replaces it; just before each version delete, and at the end, each column's living
/// instances beyond VERSIONS (by timestamp) are gone for good.
#[derive(Default)]
struct NvbModel {
    /// `(column, ts, value, alive, gone)` in commit order.
    cells: Vec<(u8, i64, String, bool, bool)>,
}

impl NvbModel {
    fn moment(&mut self, versions: usize) {
        for q in 0..2u8 {
            let mut live: Vec<usize> = (0..self.cells.len()).filter(|&i| self.cells[i].0 == q && self.cells[i].3 && !self.cells[i].4).collect();
            live.sort_by_key(|&i| std::cmp::Reverse(self.cells[i].1));
            for &i in live.iter().skip(versions) {
                self.cells[i].4 = true;
            }
        }
    }

    fn apply(&mut self, op: &NvbOp, value: String, versions: usize) {
        let kill = |m: &mut NvbModel, f: &dyn Fn(u8, i64) -> bool| {
            for c in m.cells.iter_mut().filter(|c| f(c.0, c.1)) {
                c.3 = false;
            }
        };
        match *op {
            NvbOp::Put(q, ts) => {
                kill(self, &|cq, cts| cq == q && cts == ts);
                self.cells.push((q, ts, value, true, false));
            }
            NvbOp::DeleteColumn(q, ts) => kill(self, &|cq, cts| cq == q && cts <= ts),
            NvbOp::DeleteFamily(ts) => kill(self, &|_, cts| cts <= ts),
            NvbOp::DeleteVersion(q, ts) => {
                self.moment(versions);
                kill(self, &|cq, cts| cq == q && cts == ts);
            }
            NvbOp::DeleteFamilyVersion(ts) => {
                self.moment(versions);
                kill(self, &|_, cts| cts == ts);
            }
            NvbOp::Compact => {}
        }
    }

    /// Visible `(column, ts, value)`, by column then newest first.
    fn visible(&mut self, versions: usize) -> Vec<(String, i64, String)> {
        self.moment(versions);
        let mut v: Vec<_> = self.cells.iter().filter(|c| c.3 && !c.4).map(|c| (format!("q{}", c.0), c.1, c.2.clone())).collect();
        v.sort_by(|a, b| (&a.0, std::cmp::Reverse(a.1)).cmp(&(&b.0, std::cmp::Reverse(b.1))));
        v
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
    /// Reads of a NEW_VERSION_BEHAVIOR family (with major compactions anywhere) give what the
    /// timeline model gives.
    #[test]
    fn new_version_behavior_matches_a_timeline_model(
        versions in 1u32..4,
        ops in proptest::collection::vec(nvb_op(), 1..30),
    ) {
        let e = engine();
        let t = table_with(&e, "m", vec![FamilyDescriptor::new("f").versions(versions).new_version_behavior(true)]);
        let mut model = NvbModel::default();
        let col = |q: u8| format!("q{q}");
        for (i, op) in ops.iter().enumerate() {
            match op {
                NvbOp::Put(q, ts) => t.put(Put::new("r").add_at("f", col(*q), *ts, format!("v{i}"))).unwrap(),
                NvbOp::DeleteColumn(q, ts) => t.delete(Delete::new("r").columns_at("f", col(*q), *ts)).unwrap(),
                NvbOp::DeleteVersion(q, ts) => t.delete(Delete::new("r").column_at("f", col(*q), *ts)).unwrap(),
                NvbOp::DeleteFamily(ts) => t.delete(Delete::new("r").family_at("f", *ts)).unwrap(),
                NvbOp::DeleteFamilyVersion(ts) => t.delete(Delete::new("r").family_version("f", *ts)).unwrap(),
                NvbOp::Compact => e.major_compact_table("m").unwrap(),
            }
            model.apply(op, format!("v{i}"), versions as usize);
            let got: Vec<_> = t
                .get(Get::new("r").max_versions(5))
                .unwrap()
                .cells
                .iter()
                .map(|c| (String::from_utf8(c.qualifier.clone()).unwrap(), c.timestamp, String::from_utf8(c.value.clone()).unwrap()))
                .collect();
            proptest::prop_assert_eq!(got, model.visible(versions as usize), "after step {} {:?}", i, op);
        }
    }
}

// ------------------------------------------------------------------ reversed scans seek

#[test]
fn reversed_scans_seek_in_wide_rows() {
    let dir = tempfile::tempdir().unwrap();
    let (_e, t) = wide_table(dir.path());
    // Only row `w`: a reversed scan starts at its start row and stops before its stop row.
    let only_w = || Scan::new().reversed(true).start("w").stop("a");
    // Baseline: a filter that looks at every cell visits the whole row.
    let (none, all) = scan_counting(&t, only_w().filter(filter::parse("ValueFilter(=, 'binary:nope')").unwrap()));
    assert!(none.is_empty());
    assert!(all >= 2002, "visited {all}");
    // A hint seeks in the LSM, as in a forward scan.
    let f = filter::parse("ColumnRangeFilter('c1990', true, 'c1995', true)").unwrap();
    let (got, visited) = scan_counting(&t, only_w().filter(f));
    let quals: Vec<_> = got[0].cells.iter().map(|c| String::from_utf8(c.qualifier.clone()).unwrap()).collect();
    assert_eq!(quals, ["c1990", "c1991", "c1992", "c1993", "c1994", "c1995"]);
    assert!(visited < 60, "visited {visited} entries for 6 cells of a 2,002-cell row");
    // Explicit columns and a filter ending the family seek too.
    let (got, visited) = scan_counting(&t, only_w().column("cf", "c1999").column("cf", "c0001"));
    assert_eq!(got[0].cells.iter().map(|c| c.value.clone()).collect::<Vec<_>>(), [b"v1".to_vec(), b"v1999".to_vec()]);
    assert!(visited < 60, "visited {visited}");
    let (got, visited) = scan_counting(&t, only_w().filter(filter::parse("ColumnPaginationFilter(3, 0)").unwrap()));
    assert_eq!(got[0].cells.len(), 3);
    assert!(visited < 60, "visited {visited}");
    // The whole table backwards gives the forward scan's rows in reverse, wide row included,
    // with and without batching, and across chunk boundaries.
    let forward = rows(&t, Scan::new());
    let mut backward = rows(&t, Scan::new().reversed(true).caching(1));
    backward.reverse();
    assert_eq!(backward, forward);
    assert_eq!(backward[1].cells.len(), 2002);
    let parts = rows(&t, Scan::new().reversed(true).batch(500));
    assert_eq!(parts.iter().map(|r| r.cells.len()).collect::<Vec<_>>(), [1, 500, 500, 500, 500, 2, 1]);
    let f = filter::parse("ColumnRangeFilter('c1990', true, 'c1995', true)").unwrap();
    assert_eq!(row_keys(&t, Scan::new().reversed(true).filter(f)), ["z", "w"]);
}

// ------------------------------------------------------------------ borrowed scan rows

/// Every result of `s` read through [`Scanner::next_view`], copied out.
fn rows_viewed(t: &Table, s: Scan) -> Vec<RowResult> {
    let mut sc = t.scan(s).unwrap();
    let mut out = Vec::new();
    while let Some(r) = sc.next_view().unwrap() {
        assert_eq!(r.len(), r.cells().count());
        assert!(!r.is_empty());
        for c in r.cells() {
            assert_eq!(c.row, r.row());
        }
        out.push(r.to_row_result());
    }
    // The end stays the end.
    assert!(sc.next_view().unwrap().is_none());
    out
}

/// Every result of `s` read through [`Scanner::next_into`] with one reused row.
fn rows_into(t: &Table, s: Scan) -> Vec<RowResult> {
    let mut sc = t.scan(s).unwrap();
    let mut row = RowResult::default();
    let mut out = Vec::new();
    while sc.next_into(&mut row).unwrap() {
        out.push(row.clone());
    }
    out
}

#[test]
fn scan_limit_opens_no_chunk_past_it() {
    let e = engine();
    let t = simple(&e);
    fill_rows(&t, 50);
    let mut sc = t.scan(Scan::new().limit(10).caching(10)).unwrap();
    assert_eq!(sc.by_ref().count(), 10);
    // The ten rows and the entry after them (the scan looks one entry ahead); a second chunk
    // would have pulled one more.
    assert_eq!(sc.entries_visited(), 11);
}

#[test]
fn next_view_borrows_values_and_matches_owned_scans() {
    let dir = tempfile::tempdir().unwrap();
    let (_e, t) = wide_table(dir.path());
    for s in [
        || Scan::new(),
        || Scan::new().reversed(true),
        || Scan::new().reversed(true).caching(1),
        || Scan::new().start("w").stop("w\0").column("cf", "c1999").column("cg", "x"),
        || Scan::new().batch(500),
        || Scan::new().limit(2).filter(filter::parse("ColumnPrefixFilter('c19')").unwrap()),
        || Scan::new().filter(filter::parse("KeyOnlyFilter(true)").unwrap()),
    ] {
        let owned = rows(&t, s());
        assert!(!owned.is_empty());
        assert_eq!(rows_viewed(&t, s()), owned);
        assert_eq!(rows_into(&t, s()), owned);
    }
    // Without a filter the values are the LSM's bytes: a view's value points into a slice the
    // scanner keeps, not into an owned cell.
    let mut sc = t.scan(Scan::new().start("z")).unwrap();
    let r = sc.next_view().unwrap().unwrap();
    assert_eq!(r.row(), b"z");
    assert_eq!(r.value("cf", "c1995"), Some(&b"z"[..]));
    assert!(r.is_borrowed());
    assert_eq!(r.cell(1), None);
    assert_eq!(r.cell(0).unwrap().to_cell(), Cell::put("z", "cf", "c1995", 5, "z"));
}

/// A scan configuration for [`borrowed_scans_match_owned_scans`].
#[derive(Debug, Clone)]
struct ScanSpec {
    start: Option<Vec<u8>>,
    stop: Option<Vec<u8>>,
    prefix: Option<Vec<u8>>,
    reversed: bool,
    limit: Option<u64>,
    batch: u32,
    caching: u32,
    time_range: Option<(i64, i64)>,
    max_versions: u32,
    columns: u8,
    raw: bool,
    filter: u8,
}

impl ScanSpec {
    fn scan(&self) -> Scan {
        let mut s = Scan::new().reversed(self.reversed).caching(self.caching).max_versions(self.max_versions);
        if let Some(v) = &self.start {
            s = s.start(v.clone());
        }
        if let Some(v) = &self.stop {
            s = s.stop(v.clone());
        }
        if let Some(v) = &self.prefix {
            s = s.prefix(v.clone());
        }
        if let Some(n) = self.limit {
            s = s.limit(n);
        }
        if self.batch > 0 {
            s = s.batch(self.batch);
        }
        if let Some((a, b)) = self.time_range {
            s = s.time_range(a, b);
        }
        s = match self.columns {
            1 => s.family("cg"),
            2 if !self.raw => s.column("cf", vec![b'q', 0]).column("cg", "a"),
            _ => s,
        };
        if self.raw {
            s = s.raw(true);
        }
        let f = match self.filter {
            1 => Some("ValueFilter(!=, 'binary:v3')"),
            2 => Some("KeyOnlyFilter()"),
            3 => Some("PageFilter(3)"),
            _ => None,
        };
        if let Some(f) = f {
            s = s.filter(filter::parse(f).unwrap());
        }
        s
    }
}

/// One write of [`borrowed_scans_match_owned_scans`].
#[derive(Debug, Clone)]
enum ViewOp {
    Put(Vec<u8>, bool, Vec<u8>, i64, Option<i64>),
    DeleteRow(Vec<u8>),
    DeleteColumn(Vec<u8>, Vec<u8>, i64),
    DeleteVersion(Vec<u8>, Vec<u8>, i64),
    DeleteFamily(Vec<u8>, i64),
    DeleteFamilyVersion(Vec<u8>, i64),
    Flush,
}

fn view_key() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
    use proptest::prelude::*;
    proptest::collection::vec(prop_oneof![Just(0u8), Just(b'a'), Just(b'b'), Just(0xFF)], 1..4)
}

fn view_op() -> impl proptest::strategy::Strategy<Value = ViewOp> {
    use proptest::prelude::*;
    let qual = prop_oneof![Just(Vec::new()), Just(b"a".to_vec()), Just(vec![b'q', 0]), Just(b"q".to_vec())];
    prop_oneof![
        8 => (view_key(), any::<bool>(), qual.clone(), 1i64..6, proptest::option::weighted(0.2, 1i64..3)).prop_map(|(r, g, q, ts, ttl)| ViewOp::Put(r, g, q, ts, ttl)),
        1 => view_key().prop_map(ViewOp::DeleteRow),
        1 => (view_key(), qual.clone(), 1i64..6).prop_map(|(r, q, ts)| ViewOp::DeleteColumn(r, q, ts)),
        1 => (view_key(), qual, 1i64..6).prop_map(|(r, q, ts)| ViewOp::DeleteVersion(r, q, ts)),
        1 => (view_key(), 1i64..6).prop_map(|(r, ts)| ViewOp::DeleteFamily(r, ts)),
        1 => (view_key(), 1i64..6).prop_map(|(r, ts)| ViewOp::DeleteFamilyVersion(r, ts)),
        1 => Just(ViewOp::Flush),
    ]
}

fn scan_spec() -> impl proptest::strategy::Strategy<Value = ScanSpec> {
    use proptest::prelude::*;
    (
        (proptest::option::of(view_key()), proptest::option::of(view_key()), proptest::option::weighted(0.2, view_key()), any::<bool>()),
        (proptest::option::of(1u64..6), prop_oneof![3 => Just(0u32), 1 => 1u32..3], 1u32..4),
        (proptest::option::weighted(0.3, (1i64..4, 3i64..7)), 1u32..4, 0u8..3, proptest::bool::weighted(0.2), prop_oneof![3 => Just(0u8), 1 => 1u8..4]),
    )
        .prop_map(|((start, stop, prefix, reversed), (limit, batch, caching), (time_range, max_versions, columns, raw, filter))| ScanSpec {
            start,
            stop,
            prefix,
            reversed,
            limit,
            batch,
            caching,
            time_range,
            max_versions,
            columns,
            raw,
            filter,
        })
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
    /// `Scanner::next_view` gives exactly the owned scan's results (iterator and `next_into`)
    /// over varied data (binary row keys and qualifiers, every delete kind, versions, family
    /// and cell TTLs, compressed values, flushed and unflushed cells) and varied scans (bounds,
    /// prefix, reversed, limit, batch, caching, time range, versions, columns, raw, filters).
    #[test]
    fn borrowed_scans_match_owned_scans(
        ops in proptest::collection::vec(view_op(), 1..40),
        specs in proptest::collection::vec(scan_spec(), 1..6),
    ) {
        let e = engine();
        let t = table_with(&e, "v", vec![
            FamilyDescriptor::new("cf").versions(2).keep_deleted_cells(KeepDeletedCells::True),
            FamilyDescriptor::new("cg").versions(3).min_versions(1).ttl(3_600).compression(Compression::Gz),
        ]);
        // Timestamps near now, so the family TTL (an hour) and cell TTLs (ms) both bite.
        let base = crate::now_ms() - 2 * 3_600_000;
        let at = |ts: i64| base + ts * 1_000_000;
        for (i, op) in ops.iter().enumerate() {
            match op {
                ViewOp::Put(r, g, q, ts, ttl) => {
                    let fam = if *g { "cg" } else { "cf" };
                    let mut p = Put::new(r.clone()).add_at(fam, q.clone(), at(*ts), format!("v{i}").repeat(i % 3 + 1));
                    if let Some(l) = ttl {
                        p = p.ttl(*l);
                    }
                    t.put(p).unwrap();
                }
                ViewOp::DeleteRow(r) => t.delete(Delete::new(r.clone())).unwrap(),
                ViewOp::DeleteColumn(r, q, ts) => t.delete(Delete::new(r.clone()).columns_at("cf", q.clone(), at(*ts))).unwrap(),
                ViewOp::DeleteVersion(r, q, ts) => t.delete(Delete::new(r.clone()).column_at("cg", q.clone(), at(*ts))).unwrap(),
                ViewOp::DeleteFamily(r, ts) => t.delete(Delete::new(r.clone()).family_at("cf", at(*ts))).unwrap(),
                ViewOp::DeleteFamilyVersion(r, ts) => t.delete(Delete::new(r.clone()).family_version("cg", at(*ts))).unwrap(),
                ViewOp::Flush => e.flush_table("v").unwrap(),
            }
        }
        for spec in &specs {
            let mut spec = spec.clone();
            if let Some((a, b)) = spec.time_range {
                spec.time_range = Some((at(a), at(b)));
            }
            let owned = rows(&t, spec.scan());
            proptest::prop_assert_eq!(&rows_viewed(&t, spec.scan()), &owned, "{:?}", spec);
            proptest::prop_assert_eq!(&rows_into(&t, spec.scan()), &owned, "{:?}", spec);
        }
    }
}

/// A step of [`collected_gets_match_cursor_reads_and_scans`].
#[derive(Debug, Clone)]
enum RowOp {
    /// Row, family, qualifier, timestamp (a rewrite of a cell replaces it).
    Put(u8, u8, u8, i64),
    DeleteColumn(u8, u8, u8, i64),
    DeleteVersion(u8, u8, u8, i64),
    DeleteFamily(u8, u8, i64),
    DeleteRow(u8),
    /// Memtables to disk tables (several flushes leave overlapping tables in level 0).
    Flush,
    /// Kabase's compaction pass alone: what no read can see is removed by LSM tombstones that
    /// stay in the memtable above the tables holding what they remove.
    RemoveHidden,
    /// A whole major compaction.
    MajorCompact,
}

fn row_op() -> impl proptest::strategy::Strategy<Value = RowOp> {
    use proptest::prelude::*;
    prop_oneof![
        8 => (0u8..3, 0u8..2, 0u8..3, 1i64..6).prop_map(|(r, f, q, ts)| RowOp::Put(r, f, q, ts)),
        1 => (0u8..3, 0u8..2, 0u8..3, 1i64..6).prop_map(|(r, f, q, ts)| RowOp::DeleteColumn(r, f, q, ts)),
        1 => (0u8..3, 0u8..2, 0u8..3, 1i64..6).prop_map(|(r, f, q, ts)| RowOp::DeleteVersion(r, f, q, ts)),
        1 => (0u8..3, 0u8..2, 1i64..6).prop_map(|(r, f, ts)| RowOp::DeleteFamily(r, f, ts)),
        1 => (0u8..3).prop_map(RowOp::DeleteRow),
        2 => Just(RowOp::Flush),
        1 => Just(RowOp::RemoveHidden),
        1 => Just(RowOp::MajorCompact),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
    /// A get's row collected straight from the LSM's sources (`point::collect_row`, merged by
    /// hand) reads what the cursor read through a snapshot and a scan of the row read, whatever
    /// mix of memtable, overlapping disk tables and LSM tombstones holds the row.
    #[test]
    fn collected_gets_match_cursor_reads_and_scans(ops in proptest::collection::vec(row_op(), 1..40)) {
        let e = engine();
        let t = table_with(
            &e,
            "pc",
            vec![FamilyDescriptor::new("a").versions(2), FamilyDescriptor::new("b").versions(3).keep_deleted_cells(KeepDeletedCells::True)],
        );
        let row = |r: u8| format!("row{r}");
        let fam = |f: u8| if f == 0 { "a" } else { "b" };
        let col = |q: u8| format!("q{q}");
        let mut collected = 0;
        for (i, op) in ops.iter().enumerate() {
            match op {
                RowOp::Put(r, f, q, ts) => t.put(Put::new(row(*r)).add_at(fam(*f), col(*q), *ts, format!("v{i}"))).unwrap(),
                RowOp::DeleteColumn(r, f, q, ts) => t.delete(Delete::new(row(*r)).columns_at(fam(*f), col(*q), *ts)).unwrap(),
                RowOp::DeleteVersion(r, f, q, ts) => t.delete(Delete::new(row(*r)).column_at(fam(*f), col(*q), *ts)).unwrap(),
                RowOp::DeleteFamily(r, f, ts) => t.delete(Delete::new(row(*r)).family_at(fam(*f), *ts)).unwrap(),
                RowOp::DeleteRow(r) => t.delete(Delete::new(row(*r))).unwrap(),
                RowOp::Flush => e.flush_table("pc").unwrap(),
                RowOp::RemoveHidden => handle::compact_shape(&e, &t.shape().unwrap()).unwrap(),
                RowOp::MajorCompact => e.major_compact_table("pc").unwrap(),
            }
            let shape = t.shape().unwrap();
            for r in 0..4u8 {
                let rk = row(r);
                let gets = [Get::new(rk.as_str()), Get::new(rk.as_str()).max_versions(3), Get::new(rk.as_str()).family("b").time_range(2, 5).max_versions(2)];
                for g in gets {
                    let plan = handle::plan(&shape, &g.columns, g.time_range, g.max_versions).unwrap();
                    let row_enc = codec::row_prefix(rk.as_bytes());
                    let upper = codec::after_row(rk.as_bytes());
                    let fast = t.read_row_collected(&shape, rk.as_bytes(), &row_enc, &plan).unwrap();
                    let (pin, _) = t.read_row_pinned(&shape, rk.as_bytes(), &row_enc, &upper, &plan, None).unwrap();
                    if let Some((cells, _)) = fast {
                        collected += 1;
                        proptest::prop_assert_eq!(&cells, &pin, "row {} after step {} {:?}", r, i, op);
                    }
                    let mut s = Scan::new().start(rk.as_str()).stop(format!("{rk}\0")).max_versions(g.max_versions).time_range(g.time_range.min, g.time_range.max);
                    for f in g.columns.families.keys() {
                        s = s.family(f.clone());
                    }
                    let scanned: Vec<Cell> = rows(&t, s).into_iter().flat_map(|r| r.cells).collect();
                    let got = t.get(g).unwrap().cells;
                    proptest::prop_assert_eq!(&got, &pin.unwrap_or_default(), "row {} after step {} {:?}", r, i, op);
                    proptest::prop_assert_eq!(&got, &scanned, "scan of row {} after step {} {:?}", r, i, op);
                }
            }
        }
        // With no writer running and rows this narrow, every get took the collected path.
        proptest::prop_assert_eq!(collected, ops.len() * 4 * 3);
    }
}

/// One write of [`plain_scans_match_general_reads`]: `bool` picks the family.
#[derive(Debug, Clone)]
enum PlainOp {
    Put(Vec<u8>, bool, Vec<u8>, i64, Option<i64>),
    DeleteRow(Vec<u8>),
    DeleteColumn(Vec<u8>, bool, Vec<u8>, i64),
    DeleteVersion(Vec<u8>, bool, Vec<u8>, i64),
    DeleteFamily(Vec<u8>, bool, i64),
    DeleteFamilyVersion(Vec<u8>, bool, i64),
    Flush,
}

fn plain_op() -> impl proptest::strategy::Strategy<Value = PlainOp> {
    use proptest::prelude::*;
    let qual = prop_oneof![Just(Vec::new()), Just(b"a".to_vec()), Just(vec![b'q', 0]), Just(b"q".to_vec())];
    prop_oneof![
        10 => (view_key(), any::<bool>(), qual.clone(), 1i64..6, proptest::option::weighted(0.15, 1i64..3)).prop_map(|(r, g, q, ts, ttl)| PlainOp::Put(r, g, q, ts, ttl)),
        1 => view_key().prop_map(PlainOp::DeleteRow),
        1 => (view_key(), any::<bool>(), qual.clone(), 1i64..6).prop_map(|(r, g, q, ts)| PlainOp::DeleteColumn(r, g, q, ts)),
        1 => (view_key(), any::<bool>(), qual, 1i64..6).prop_map(|(r, g, q, ts)| PlainOp::DeleteVersion(r, g, q, ts)),
        1 => (view_key(), any::<bool>(), 1i64..6).prop_map(|(r, g, ts)| PlainOp::DeleteFamily(r, g, ts)),
        1 => (view_key(), any::<bool>(), 1i64..6).prop_map(|(r, g, ts)| PlainOp::DeleteFamilyVersion(r, g, ts)),
        1 => Just(PlainOp::Flush),
    ]
}

/// A family for [`plain_scans_match_general_reads`]: VERSIONS, MIN_VERSIONS (0 or 1), a TTL of
/// an hour or none, KEEP_DELETED_CELLS, GZ or no value compression.
fn plain_family() -> impl proptest::strategy::Strategy<Value = (u32, bool, bool, u8, bool)> {
    use proptest::prelude::*;
    (1u32..4, any::<bool>(), any::<bool>(), 0u8..3, any::<bool>())
}

/// Every way of reading `make()`'s scan: the iterator, `next_into` and `next_view`, through the
/// plain path (as the scan chooses) or forced through the general read.
fn scan_all_ways(t: &Table, make: &dyn Fn() -> Scan, general: bool) -> Vec<Vec<RowResult>> {
    let open = || {
        let sc = t.scan(make()).unwrap();
        if general {
            sc.general_read()
        } else {
            sc
        }
    };
    let iter = open().collect::<Result<Vec<_>>>().unwrap();
    let mut sc = open();
    let mut row = RowResult::default();
    let mut into = Vec::new();
    while sc.next_into(&mut row).unwrap() {
        into.push(row.clone());
    }
    let mut sc = open();
    let mut viewed = Vec::new();
    while let Some(r) = sc.next_view().unwrap() {
        viewed.push(r.to_row_result());
    }
    vec![iter, into, viewed]
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(96))]
    /// A plain scan (forward, no filter, all columns and times, one version) reads through the
    /// lean path of `table::plain`, and returns exactly what the general read returns for it,
    /// through the iterator, `next_into` and `next_view`: over two families with random
    /// VERSIONS, MIN_VERSIONS, TTL (expiring some versions), KEEP_DELETED_CELLS and value
    /// compression, written with puts (some with a cell TTL), every delete kind, several
    /// versions per column, binary rows and qualifiers, and flushes between writes.
    #[test]
    fn plain_scans_match_general_reads(
        fams in (plain_family(), plain_family()),
        ops in proptest::collection::vec(plain_op(), 1..50),
        bounds in (proptest::option::of(view_key()), proptest::option::of(view_key()), proptest::option::of(1u64..6), 1u32..4, 0u32..3),
    ) {
        let e = engine();
        let fam = |name: &str, (versions, min1, ttl, kdc, gz): (u32, bool, bool, u8, bool)| {
            let mut f = FamilyDescriptor::new(name).versions(versions);
            if min1 && versions > 1 {
                f = f.min_versions(1);
            }
            if ttl {
                f = f.ttl(3_600);
            }
            f = f.keep_deleted_cells(match kdc {
                0 => KeepDeletedCells::False,
                1 => KeepDeletedCells::True,
                _ => KeepDeletedCells::Ttl,
            });
            if gz {
                f = f.compression(Compression::Gz);
            }
            f
        };
        let t = table_with(&e, "p", vec![fam("cf", fams.0), fam("cg", fams.1)]);
        // Timestamps near now: a family TTL of an hour expires those at 1..=3, and cell TTLs
        // (1-2 ms) have run out.
        let base = crate::now_ms() - 2 * 3_600_000;
        let at = |ts: i64| base + ts * 1_000_000;
        let f = |g: bool| if g { "cg" } else { "cf" };
        for (i, op) in ops.iter().enumerate() {
            match op {
                PlainOp::Put(r, g, q, ts, ttl) => {
                    let mut p = Put::new(r.clone()).add_at(f(*g), q.clone(), at(*ts), format!("v{i}").repeat(i % 3 + 1));
                    if let Some(l) = ttl {
                        p = p.ttl(*l);
                    }
                    t.put(p).unwrap();
                }
                PlainOp::DeleteRow(r) => t.delete(Delete::new(r.clone())).unwrap(),
                PlainOp::DeleteColumn(r, g, q, ts) => t.delete(Delete::new(r.clone()).columns_at(f(*g), q.clone(), at(*ts))).unwrap(),
                PlainOp::DeleteVersion(r, g, q, ts) => t.delete(Delete::new(r.clone()).column_at(f(*g), q.clone(), at(*ts))).unwrap(),
                PlainOp::DeleteFamily(r, g, ts) => t.delete(Delete::new(r.clone()).family_at(f(*g), at(*ts))).unwrap(),
                PlainOp::DeleteFamilyVersion(r, g, ts) => t.delete(Delete::new(r.clone()).family_version(f(*g), at(*ts))).unwrap(),
                PlainOp::Flush => e.flush_table("p").unwrap(),
            }
        }
        let (start, stop, limit, caching, batch) = bounds;
        let make = || {
            let mut s = Scan::new().caching(caching);
            if let Some(v) = &start {
                s = s.start(v.clone());
            }
            if let Some(v) = &stop {
                s = s.stop(v.clone());
            }
            if let Some(n) = limit {
                s = s.limit(n);
            }
            if batch > 0 {
                s = s.batch(batch);
            }
            s
        };
        proptest::prop_assert!(t.scan(make()).unwrap().is_plain_read());
        let plain = scan_all_ways(&t, &make, false);
        let general = scan_all_ways(&t, &make, true);
        proptest::prop_assert_eq!(&plain, &general);
        // And row by row, what a Get of each row returns (the general read of a single row).
        for r in &plain[0] {
            let got = t.get(Get::new(r.row.clone())).unwrap();
            if batch == 0 {
                proptest::prop_assert_eq!(&got.cells, &r.cells);
            }
        }
    }
}

/// The plain path is taken only when the scan and its families allow it: reversed scans,
/// filters, raw scans, several versions, selected columns, a time range and NEW_VERSION_BEHAVIOR
/// families read through the general path.
#[test]
fn plain_path_only_for_plain_scans() {
    let e = engine();
    let t = table_with(&e, "p", vec![FamilyDescriptor::new("cf").versions(3), FamilyDescriptor::new("cg").ttl(60)]);
    t.put(Put::new("r").add("cf", "q", "v")).unwrap();
    let plain = |s: Scan| t.scan(s).unwrap().is_plain_read();
    assert!(plain(Scan::new()));
    assert!(plain(Scan::new().start("a").stop("z").limit(3).caching(2).batch(1)));
    assert!(plain(Scan::new().prefix("r")));
    assert!(!plain(Scan::new().reversed(true)));
    assert!(!plain(Scan::new().filter(filter::parse("KeyOnlyFilter()").unwrap())));
    assert!(!plain(Scan::new().raw(true)));
    assert!(!plain(Scan::new().max_versions(2)));
    assert!(!plain(Scan::new().column("cf", "q")));
    assert!(plain(Scan::new().family("cf")));
    assert!(!plain(Scan::new().time_range(0, 5)));
    let n = table_with(&e, "n", vec![FamilyDescriptor::new("cf").new_version_behavior(true)]);
    assert!(!n.scan(Scan::new()).unwrap().is_plain_read());
}

/// The tables' background thread frees the flushed memtables that only the memtable keeper
/// still holds (memtables.rs: off fjall's locks, so writers do not wait for the freeing), the
/// data stays readable, and deleting a table stops watching its keyspaces.
#[test]
fn flushed_memtables_are_freed_by_the_background_thread() {
    let e = engine();
    let t = simple(&e);
    let ts = &e.inner.tables;
    let rt = ts.lookup("t").unwrap();
    let name = ks_name(rt.shape.read().id(), 0);
    let ks = rt.shape.read().families[0].ks.clone();
    assert_eq!(ts.memtables.held(&name), 1, "the active memtable is watched from the start");
    let wait_for = |what: &dyn Fn() -> bool| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !what() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    };
    for round in 0..4u32 {
        for i in 0..200u32 {
            t.put(Put::new(format!("r{round}-{i:04}")).add("cf", "q", vec![round as u8; 100])).unwrap();
        }
        // The thread takes each new active memtable within a tick.
        let active = fjall::AbstractTree::active_memtable(&ks.tree).id();
        wait_for(&|| ts.memtables.holds(&name, active));
        assert!(ts.memtables.holds(&name, active), "round {round}");
        // Each flush rotates the memtable; the rotation's version GC drops fjall's references
        // to the memtables flushed before it.
        e.flush_table("t").unwrap();
    }
    wait_for(&|| ts.memtables.freed() >= 2);
    assert!(ts.memtables.freed() >= 2, "freed {}", ts.memtables.freed());
    assert!(ts.memtables.held(&name) <= 3, "held {}", ts.memtables.held(&name));
    for round in 0..4u32 {
        let r = t.get(Get::new(format!("r{round}-0123"))).unwrap();
        assert_eq!(r.value("cf", "q"), Some(&vec![round as u8; 100][..]));
    }
    e.disable_table("t").unwrap();
    e.delete_table("t").unwrap();
    assert_eq!(ts.memtables.held(&name), 0);
}
