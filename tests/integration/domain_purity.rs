//! `src/domain` must stay pure: no async, no I/O, no clock reads, no randomness. This reads the sources, so a new `use tokio` in the
//! domain fails CI rather than a code review.

use std::fs;
use std::path::{Path, PathBuf};

/// Patterns that mean I/O, async or hidden inputs.
const FORBIDDEN: &[&str] = &[
    "async ",
    ".await",
    "tokio",
    "sqlx",
    "redis",
    "rdkafka",
    "axum",
    "std::fs",
    "std::net",
    "std::io",
    "std::env",
    "std::process",
    "std::thread",
    "Utc::now",
    "SystemTime",
    "Instant::now",
    "thread_rng",
    "new_v4",
    "rand::",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn the_domain_does_no_io_no_async_and_reads_no_clock() {
    let mut files = Vec::new();
    rust_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src/domain"), &mut files);
    assert!(files.len() >= 10, "found only {files:?}");
    let mut offences = Vec::new();
    for file in &files {
        let text = fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for pattern in FORBIDDEN {
                if code.contains(pattern) {
                    offences.push(format!("{}:{}: {pattern}: {}", file.display(), n + 1, line.trim()));
                }
            }
        }
    }
    assert!(offences.is_empty(), "src/domain must stay pure:\n{}", offences.join("\n"));
}

#[test]
fn the_purity_check_would_catch_an_offence() {
    let line = "use tokio::sync::Mutex;";
    assert!(FORBIDDEN.iter().any(|p| line.contains(p)));
}
