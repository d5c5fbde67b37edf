//! `uniffi-bindgen` for this workspace: generates Kotlin, Swift and Python sources from the built
//! library, e.g. `cargo run -p kabase-uniffi --bin uniffi-bindgen -- generate --library
//! target/debug/libkabase_uniffi.so --language kotlin --out-dir out/`.
fn main() {
    uniffi::uniffi_bindgen_main()
}
