//! The Kotlin bindings on the JVM: generate the Kotlin sources, compile them with the programs in
//! `bindings/uniffi/kotlin` by Maven (kotlin-maven-plugin, JNA; the first run downloads them from
//! Maven Central into ~/.m2), then run the shared seed flow and the error checks with
//! `jna.library.path` pointing at the built cdylib.
//!
//! Maven and a JDK are required: without them this test fails, it does not skip.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Instant;

use common::*;
use kabase_sdk::ErrorCode;

/// The compiled programs: their class path.
struct Jvm {
    classpath: String,
}

fn require(tool: &str, arg: &str) {
    match Command::new(tool).arg(arg).output() {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!("`{tool} {arg}` failed ({}): {}", o.status, String::from_utf8_lossy(&o.stderr)),
        Err(e) => panic!("the Kotlin test needs `{tool}` on PATH (Maven and a JDK 17+, e.g. `apt-get install maven`): {e}"),
    }
}

fn build() -> Result<Jvm, String> {
    std::panic::catch_unwind(|| {
        require("mvn", "-v");
        require("java", "-version");
        let generated = generate("kotlin");
        let build = profile_dir().join("uniffi").join("maven");
        let start = Instant::now();
        run(Command::new("mvn")
            .args(["-B", "-q", "-Dstyle.color=never", "-f"])
            .arg(root().join("bindings/uniffi/kotlin/pom.xml"))
            .arg(format!("-Dkabase.generated={}", generated.display()))
            .arg(format!("-Dkabase.build={}", build.display()))
            .arg("compile"));
        eprintln!("maven compile took {:.1} s", start.elapsed().as_secs_f64());
        let deps = std::fs::read_to_string(build.join("classpath.txt")).expect("classpath.txt written by maven-dependency-plugin");
        assert!(deps.contains("jna") && deps.contains("kotlin-stdlib"), "class path lacks JNA or the Kotlin stdlib: {deps}");
        let sep = if cfg!(windows) { ";" } else { ":" };
        Jvm { classpath: format!("{}{sep}{}", build.join("classes").display(), deps.trim()) }
    })
    .map_err(|p| p.downcast_ref::<String>().cloned().or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_default())
}

fn jvm() -> &'static Jvm {
    static JVM: OnceLock<Result<Jvm, String>> = OnceLock::new();
    match JVM.get_or_init(build) {
        Ok(j) => j,
        Err(e) => panic!("building the Kotlin programs failed: {e}"),
    }
}

/// Run `kabase.examples.<main>` with the cdylib on JNA's path; its stdout.
fn java(main: &str, args: &[&str]) -> String {
    let lib_dir: PathBuf = cdylib().parent().expect("lib dir").to_path_buf();
    let out = run(Command::new("java")
        .arg(format!("-Djna.library.path={}", lib_dir.display()))
        .arg("-cp")
        .arg(&jvm().classpath)
        .arg(format!("kabase.examples.{main}"))
        .args(args));
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

#[test]
fn kotlin_runs_the_shared_seed_flow_in_memory() {
    assert_eq!(java("SeedKt", &[]), expected_seed());
}

#[test]
fn kotlin_runs_the_shared_seed_flow_on_disk() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().to_str().expect("utf-8 path");
    assert_eq!(java("SeedKt", &[path]), expected_seed());
    // The data stayed on disk: a second run finds the table and fails with its stable code.
    let err = Command::new("java")
        .arg(format!("-Djna.library.path={}", cdylib().parent().expect("lib dir").display()))
        .arg("-cp")
        .arg(&jvm().classpath)
        .arg("kabase.examples.SeedKt")
        .arg(path)
        .output()
        .expect("run java");
    assert!(!err.status.success());
    let stderr = String::from_utf8_lossy(&err.stderr);
    assert!(stderr.contains("seed failed: TABLE_EXISTS (204)"), "{stderr}");
}

/// Change streams through the Kotlin bindings: the same flow and transcript as the generated
/// Python's (bindings/uniffi/python/streams.py, tests/generate.rs).
#[test]
fn kotlin_change_streams_move_rows_and_records() {
    assert_eq!(java("StreamsKt", &[]), include_str!("expected/streams.txt"));
}

#[test]
fn kotlin_errors_carry_the_core_codes() {
    let first = ErrorCode::all()[0];
    let expected = [
        format!("version: {}", kabase_sdk::VERSION),
        format!("error codes: {}, first {} {}", ErrorCode::all().len(), first.name(), first.as_i32()),
        error_line("create table \"bad name!\"", ErrorCode::InvalidName),
        error_line("table \"missing\"", ErrorCode::TableNotFound),
        error_line("create table \"t\" again", ErrorCode::TableExists),
        error_line("column \"nocolon\"", ErrorCode::InvalidArgument),
        error_line("put to family \"nope\"", ErrorCode::NoSuchColumnFamily),
        error_line("topic with -1 partitions", ErrorCode::InvalidArgument),
        error_line("producer acks=sometimes", ErrorCode::InvalidConfig),
        error_line("send to \"bad topic!\"", ErrorCode::InvalidName),
        error_line("list tables after shutdown", ErrorCode::Closed),
    ]
    .map(|l| l + "\n")
    .concat();
    assert_eq!(java("ErrorsKt", &[]), expected);
}
