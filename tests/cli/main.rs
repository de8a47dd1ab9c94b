//! onepass's one integration-test binary: the real program run against temporary git repositories and a
//! loopback model server.

mod harness;
mod server;

mod apply_cmd;
mod bad_input;
mod cache;
mod config;
mod diffs;
mod faults;
mod hostile;
mod llama_real;
mod pack_cmd;
mod review;
mod secrets;
mod servers;
mod setup;
mod single_pass;

use harness::Case;

pub const HELLO_MAIN: &str = include_str!("../../fixtures/repos/hello/src/main.rs");
pub const ADD_VERBOSE_REPLY: &str = include_str!("../../fixtures/replies/add-verbose-flag.md");
pub const ADD_VERBOSE_SSE: &str =
    include_str!("../../fixtures/streams/openai-add-verbose-flag.sse");

/// main.rs after the add-verbose-flag reply is applied.
pub const HELLO_MAIN_VERBOSE: &str = "use std::env;

fn main() {
    let args: Vec<String> = env::args().collect();
    let verbose = args.iter().any(|a| a == \"--verbose\");
    if verbose {
        eprintln!(\"args: {args:?}\");
    }
    let name = args.get(1).map(String::as_str).unwrap_or(\"world\");
    println!(\"hello, {name}\");
}
";

/// The sample repository of fixtures/repos/hello, committed.
pub fn hello() -> Case {
    Case::new()
        .file("src/main.rs", HELLO_MAIN)
        .file(
            "README.md",
            include_str!("../../fixtures/repos/hello/README.md"),
        )
        .file(
            "Cargo.toml",
            include_str!("../../fixtures/repos/hello/Cargo.toml"),
        )
        .commit()
}
