//! `kabase`: inspect a kabase data directory.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("version") | Some("--version") => {
            println!("kabase {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Some("check") => {
            let Some(dir) = args.get(1) else {
                eprintln!("usage: kabase check DIR");
                return ExitCode::from(2);
            };
            match kabase::Engine::open(dir).and_then(|e| e.close()) {
                Ok(()) => {
                    println!("{dir}: ok");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("{dir}: {} ({})", e, e.code());
                    ExitCode::FAILURE
                }
            }
        }
        _ => {
            eprintln!("usage: kabase version | kabase check DIR");
            ExitCode::from(2)
        }
    }
}
