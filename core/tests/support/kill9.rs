//! Shared by the kill -9 tests: re-run this test binary as a child that runs only `entry` with
//! `env` set, SIGKILL it after `kill_after`, and return the `ACK ...` lines it printed (split on
//! spaces, without the `ACK`) before it died.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Run `entry` in a child, kill it after `kill_after`, return the fields of each `ACK` line.
pub fn run_and_kill(entry: &str, env: &[(&str, String)], kill_after: Duration) -> Vec<Vec<String>> {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args(["--exact", entry, "--nocapture", "--test-threads=1"])
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut acks = Vec::new();
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            let mut parts = line.split(' ');
            if parts.next() == Some("ACK") {
                acks.push(parts.map(str::to_string).collect());
            }
        }
        acks
    });
    std::thread::sleep(kill_after);
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    reader.join().unwrap()
}
