//! Helpers of the UniFFI tests: where the built library and `uniffi-bindgen` are, generating the
//! bindings of one language into `target/<profile>/uniffi/<language>`, running programs.
#![allow(dead_code)] // each test file uses a part

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("workspace root")
}

/// `target/<profile>`: where cargo put `uniffi-bindgen` and the cdylib.
pub fn profile_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_uniffi-bindgen")).parent().expect("bin dir").to_path_buf()
}

/// The cdylib `libkabase_uniffi.so` that `cargo test` just built: in `target/<profile>/deps`
/// (cargo copies it up to `target/<profile>` only on `cargo build`, so the copy there may be
/// older; it is used only when deps/ has none).
pub fn cdylib() -> PathBuf {
    let name = format!("{}kabase_uniffi{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX);
    let dir = profile_dir();
    [dir.join("deps").join(&name), dir.join(&name)]
        .into_iter()
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{name} not found in {} or its deps/; build kabase-uniffi first", dir.display()))
}

/// The shared scenario's transcript.
pub fn expected_seed() -> String {
    std::fs::read_to_string(root().join("docs/scenario/seed.txt")).expect("docs/scenario/seed.txt")
}

/// Run a command; panic with its output unless it exits 0.
pub fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

static GENERATED: Mutex<Option<HashMap<String, PathBuf>>> = Mutex::new(None);

/// Generate the bindings of `language` (`kotlin`, `swift`, `python`) from the built cdylib into
/// `target/<profile>/uniffi/<language>` (emptied first); once per test process.
pub fn generate(language: &str) -> PathBuf {
    let mut done = GENERATED.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(dir) = done.get_or_insert_with(HashMap::new).get(language) {
        return dir.clone();
    }
    let out = profile_dir().join("uniffi").join(language);
    if out.exists() {
        std::fs::remove_dir_all(&out).expect("clear the output directory");
    }
    std::fs::create_dir_all(&out).expect("create the output directory");
    run(Command::new(env!("CARGO_BIN_EXE_uniffi-bindgen"))
        .current_dir(root())
        .args(["generate", "--no-format", "--metadata-no-deps", "--language", language, "--library"])
        .arg(cdylib())
        .arg("--out-dir")
        .arg(&out));
    done.get_or_insert_with(HashMap::new).insert(language.to_string(), out.clone());
    out
}

/// Every file under `dir` with this extension, sorted.
pub fn files_with(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).expect("read dir") {
            let p = e.expect("dir entry").path();
            if p.is_dir() {
                todo.push(p);
            } else if p.extension().is_some_and(|x| x == ext) {
                found.push(p);
            }
        }
    }
    found.sort();
    found
}

/// The one file under `dir` with this extension, read.
pub fn only_source(dir: &Path, ext: &str) -> (PathBuf, String) {
    let files = files_with(dir, ext);
    assert_eq!(files.len(), 1, "expected one .{ext} file in {}, found {files:?}", dir.display());
    let text = std::fs::read_to_string(&files[0]).expect("read generated source");
    (files[0].clone(), text)
}

/// The lines the error checks print (Errors.kt, seed.py --errors): `<case>: <NAME> <number>`
/// with the core's own codes.
pub fn error_line(case: &str, code: kabase_sdk::ErrorCode) -> String {
    format!("{case}: {} {}", code.name(), code.as_i32())
}
