//! Builds every C test in `tests/c/*.c` and the example `examples/c/seed.c` with plain `cc`
//! (`-std=c11 -Wall -Wextra -Werror`) against `include/kabase.h` and the static library this
//! package just built, then runs each under valgrind (`--error-exitcode=1 --leak-check=full`):
//! any C check failing, any memory error or any definite or possible leak fails the test.
//!
//! Needs `cc` and `valgrind` on the PATH (`bindings/c/run-c-tests.sh` installs valgrind when
//! missing). `KABASE_C_TESTS_NO_VALGRIND=1` runs the programs without valgrind (for machines that
//! cannot run it); nothing is skipped silently otherwise.

use std::path::{Path, PathBuf};
use std::process::Command;

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `target/<profile>`: the directory of this test binary's profile, two levels above it. The
/// static library is (re)built there first: `cargo test` builds only the Rust test harness of a
/// crate without an rlib, not its `staticlib`.
fn lib_dir() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let exe = std::env::current_exe().unwrap();
            let dir = exe.parent().and_then(Path::parent).unwrap().to_path_buf();
            let target_dir = dir.parent().unwrap();
            let profile = dir.file_name().unwrap().to_string_lossy().into_owned();
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let mut cmd = Command::new(cargo);
            cmd.args(["build", "-q", "-p", "kabase-c", "--target-dir"]).arg(target_dir);
            if profile == "release" {
                cmd.arg("--release");
            }
            let status = cmd.status().expect("run cargo build");
            assert!(status.success(), "cargo build -p kabase-c failed");
            assert!(dir.join("libkabase.a").is_file(), "libkabase.a not found in {}", dir.display());
            dir
        })
        .clone()
}

fn compile(src: &Path, out: &Path) {
    let include = manifest_dir().join("../../include");
    let status = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()))
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-g", "-I"])
        .arg(&include)
        .arg(src)
        .arg(lib_dir().join("libkabase.a"))
        .args(["-lpthread", "-ldl", "-lm", "-o"])
        .arg(out)
        .status()
        .expect("run cc");
    assert!(status.success(), "compiling {} failed", src.display());
}

fn run(program: &Path, args: &[&Path]) -> String {
    let use_valgrind = std::env::var_os("KABASE_C_TESTS_NO_VALGRIND").is_none_or(|v| v != "1");
    let mut cmd = if use_valgrind {
        let mut c = Command::new("valgrind");
        c.args(["--error-exitcode=1", "--leak-check=full", "--errors-for-leak-kinds=definite,possible", "--quiet"]);
        c.arg(format!("--suppressions={}", manifest_dir().join("tests/valgrind.supp").display()));
        c.arg(program);
        c
    } else {
        Command::new(program)
    };
    let output = cmd.args(args).output().unwrap_or_else(|e| panic!("run {} (is valgrind installed?): {e}", program.display()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    print!("{stdout}");
    eprint!("{stderr}");
    assert!(output.status.success(), "{} failed ({}):\n{stdout}\n{stderr}", program.display(), output.status);
    stdout.into_owned()
}

fn c_sources() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(manifest_dir().join("tests/c"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "c"))
        .collect();
    v.sort();
    v
}

#[test]
fn c_tests_and_example_pass_under_valgrind() {
    let scratch = tempfile::tempdir().unwrap();
    let sources = c_sources();
    assert!(!sources.is_empty(), "no C tests found");
    for src in &sources {
        let name = src.file_stem().unwrap().to_string_lossy().into_owned();
        let exe = scratch.path().join(&name);
        compile(src, &exe);
        let data = scratch.path().join(format!("{name}.data"));
        std::fs::create_dir_all(&data).unwrap();
        run(&exe, &[&data]);
    }
}

/// The C example runs the shared scenario (docs/scenario.md) and prints its transcript exactly,
/// on an in-memory engine and on a data directory.
#[test]
fn seed_example_prints_the_shared_transcript_under_valgrind() {
    let expected = std::fs::read_to_string(manifest_dir().join("../../docs/scenario/seed.txt")).unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let exe = scratch.path().join("seed");
    compile(&manifest_dir().join("../../examples/c/seed.c"), &exe);
    assert_eq!(run(&exe, &[]), expected);
    let data = scratch.path().join("seed.data");
    assert_eq!(run(&exe, &[&data]), expected);
}
