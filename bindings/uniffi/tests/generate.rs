//! uniffi-bindgen (this crate's `uniffi-bindgen` bin, library mode) generates Kotlin, Swift and
//! Python sources from the built cdylib into `target/<profile>/uniffi/<language>`; they hold the
//! facade's handles and methods under the names each language expects. The Python module runs
//! the shared seed flow; Swift (no compiler here) is checked structurally against the cdylib.

mod common;

use std::collections::BTreeSet;
use std::process::Command;

use common::*;
use kabase_sdk::ErrorCode;

/// Assert `text` contains every needle.
fn assert_has(what: &str, text: &str, needles: &[&str]) {
    let missing: Vec<&&str> = needles.iter().filter(|n| !text.contains(**n)).collect();
    assert!(missing.is_empty(), "{what} lacks {missing:?}");
}

/// The handles' methods in snake_case; every language must expose each (in its own case).
const METHODS: &[(&str, &[&str])] = &[
    (
        "Engine",
        &[
            "open", "open_in_memory", "path", "is_in_memory", "is_closed", "sync", "shutdown", "create_table", "delete_table", "table_exists",
            "list_tables", "table", "create_topic", "create_topic_with_configs", "delete_topic", "list_topics", "partitions_for", "producer",
            "consumer", "admin", "stream_table_to_topic", "sink_topic_to_table", "change_stream", "list_streams",
        ],
    ),
    ("ChangeStream", &["name", "describe", "pause", "resume", "remove", "wait_caught_up", "snapshot"]),
    ("Table", &["name", "put", "put_many", "get", "get_many", "get_columns", "delete", "delete_columns", "scan", "scanner"]),
    ("RowStream", &["next_batch", "shutdown"]),
    ("Producer", &["send", "send_batch", "flush", "shutdown"]),
    ("Consumer", &["subscribe", "assignment", "poll", "seek", "commit", "commit_offsets", "committed", "shutdown"]),
    ("Admin", &["create_topics", "delete_topics", "list_topics", "create_table", "delete_table", "list_tables"]),
];

const RECORDS: &[&str] = &[
    "ColumnValue", "RowMutation", "Cell", "Row", "ScanOptions", "Header", "OutgoingRecord", "RecordMetadata", "ConsumerRecord", "TopicPartition",
    "PartitionOffset", "NewTopic", "ErrorCodeInfo", "StreamRoute", "StreamOptions", "SinkOptions", "StreamDescription", "StreamSnapshot",
];

/// The text without `/* */` comments, runs of whitespace as one space, none inside parentheses'
/// edges or before commas.
fn squash(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("/*") {
        out.push_str(&rest[..i]);
        rest = rest[i..].find("*/").map_or("", |j| &rest[i + j + 2..]);
    }
    out.push_str(rest);
    out.split_whitespace().collect::<Vec<_>>().join(" ").replace("( ", "(").replace(" )", ")").replace(" ,", ",")
}

fn camel(snake: &str) -> String {
    let mut out = String::new();
    let mut up = false;
    for ch in snake.chars() {
        if ch == '_' {
            up = true;
        } else if up {
            out.extend(ch.to_uppercase());
            up = false;
        } else {
            out.push(ch);
        }
    }
    out
}

#[test]
fn kotlin_sources_hold_the_facade() {
    let (path, kt) = only_source(&generate("kotlin"), "kt");
    assert!(path.ends_with("kabase/kabase_uniffi.kt"), "package path: {}", path.display());
    assert_has("Kotlin", &kt, &["package kabase", "sealed class KabaseException", "class Failed(", "val `codeName`: kotlin.String", "val `detail`: kotlin.String"]);
    for (class, methods) in METHODS {
        assert_has("Kotlin", &kt, &[&format!("open class {class}: Disposable, AutoCloseable")]);
        for m in *methods {
            assert_has(&format!("Kotlin {class}"), &kt, &[&format!("fun `{}`(", camel(m))]);
        }
    }
    for r in RECORDS {
        assert_has("Kotlin", &kt, &[&format!("data class {r} (")]);
    }
    assert_has("Kotlin", &kt, &["fun `version`()", "fun `errorCodes`()", "fun `parseColumnValue`("]);
    // Kotlin's own close() frees the handle; the engine's stop is shutdown(), so no exported
    // method may be called close or destroy.
    assert!(!kt.contains("fun `close`("), "an exported method named close clashes with AutoCloseable");
    assert!(!kt.contains("val `message`"), "a field named message clashes with Throwable.message");
}

#[test]
fn swift_sources_hold_the_facade_and_match_the_cdylib() {
    let dir = generate("swift");
    let (_, swift) = only_source(&dir, "swift");
    let flat = squash(&swift);
    let (_, header) = only_source(&dir, "h");
    let (_, modulemap) = only_source(&dir, "modulemap");
    assert_has("Swift", &flat, &["public enum KabaseError: Swift.Error", "case Failed(code: Int32, codeName: String, detail: String)", "import KabaseFFI"]);
    assert_has("modulemap", &modulemap, &["module KabaseFFI", "header \"KabaseFFI.h\""]);
    for (class, methods) in METHODS {
        assert_has("Swift", &swift, &[&format!("open class {class}:")]);
        for m in *methods {
            // Swift keywords (`open`) come back-quoted.
            let name = camel(m);
            assert!(
                flat.contains(&format!("func {name}(")) || flat.contains(&format!("func `{name}`(")),
                "Swift {class} lacks func {name}"
            );
        }
    }
    for r in RECORDS {
        assert_has("Swift", &swift, &[&format!("public struct {r} {{")]);
    }
    // Every C function the Swift code calls is declared in the header, and every function the
    // header declares is exported by the cdylib: what swiftc and the linker would check.
    let ident = |text: &str, prefix: &str| -> BTreeSet<String> {
        text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| w.starts_with(prefix))
            .map(str::to_string)
            .collect()
    };
    let called: BTreeSet<String> = ident(&swift, "uniffi_kabase_uniffi_").into_iter().chain(ident(&swift, "ffi_kabase_uniffi_")).collect();
    let declared: BTreeSet<String> = ident(&header, "uniffi_kabase_uniffi_").into_iter().chain(ident(&header, "ffi_kabase_uniffi_")).collect();
    assert!(called.len() > 50, "Swift calls only {} C functions", called.len());
    let undeclared: Vec<&String> = called.difference(&declared).collect();
    assert!(undeclared.is_empty(), "Swift calls functions the header does not declare: {undeclared:?}");
    let nm = run(Command::new("nm").args(["-D", "--defined-only"]).arg(cdylib()));
    let exported = ident(&String::from_utf8_lossy(&nm.stdout), "");
    let unexported: Vec<&String> = declared.iter().filter(|f| !exported.contains(*f)).collect();
    assert!(unexported.is_empty(), "the header declares functions the cdylib does not export: {unexported:?}");
}

/// The generated Python module with the cdylib copied beside it (it loads the library from its
/// own directory).
/// Copied once per process: rewriting the file while another test's Python has it mapped would
/// crash that one.
fn python_dir() -> std::path::PathBuf {
    static DIR: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = generate("python");
        let lib = cdylib();
        std::fs::copy(&lib, dir.join(lib.file_name().expect("file name"))).expect("copy the cdylib beside the module");
        dir
    })
    .clone()
}

fn python(args: &[&str]) -> String {
    python_script("seed.py", args)
}

fn python_script(script: &str, args: &[&str]) -> String {
    let out = run(Command::new("python3")
        .env("PYTHONPATH", python_dir())
        .arg(root().join("bindings/uniffi/python").join(script))
        .args(args));
    String::from_utf8(out.stdout).expect("UTF-8 transcript")
}

#[test]
fn python_sources_hold_the_facade() {
    let (path, py) = only_source(&python_dir(), "py");
    assert!(path.ends_with("kabase_uniffi.py"));
    assert_has("Python", &py, &["class KabaseError(Exception)", "class Failed(_UniffiTempKabaseError)", "def version()", "def error_codes()", "def parse_column_value("]);
    for r in RECORDS {
        assert_has("Python", &py, &[&format!("\nclass {r}:")]);
    }
    for (class, methods) in METHODS {
        assert_has("Python", &py, &[&format!("\nclass {class}():")]);
        for m in *methods {
            assert_has(&format!("Python {class}"), &py, &[&format!("def {m}(")]);
        }
    }
}

#[test]
fn python_runs_the_shared_seed_flow_in_memory_and_on_disk() {
    assert_eq!(python(&[]), expected_seed());
    let dir = tempfile::tempdir().expect("tempdir");
    assert_eq!(python(&[dir.path().to_str().expect("utf-8 path")]), expected_seed());
    assert!(dir.path().join("tables").exists() || std::fs::read_dir(dir.path()).expect("data dir").count() > 0, "nothing was written on disk");
}

#[test]
fn python_errors_carry_the_core_codes() {
    let expected = [
        error_line("create table \"bad name!\"", ErrorCode::InvalidName),
        error_line("table \"missing\"", ErrorCode::TableNotFound),
        error_line("list tables after shutdown", ErrorCode::Closed),
    ]
    .map(|l| l + "\n")
    .concat();
    assert_eq!(python(&["--errors"]), expected);
}

/// Change streams through the generated Python: a put row arrives in the topic as its JSON change
/// record (consumed with read_committed), pause holds changes back, resume moves them, the
/// snapshot holds both rows, a sink writes a record into a table, remove ends the stream. The
/// transcript is shared with the Kotlin run (tests/kotlin.rs).
#[test]
fn python_change_streams_move_rows_and_records() {
    assert_eq!(python_script("streams.py", &[]), include_str!("expected/streams.txt"));
}
