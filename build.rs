//! Puts the git revision into `onepass --version` when built from a checkout.

use std::process::Command;

fn main() {
    let version = env!("CARGO_PKG_VERSION");
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(&dir)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let full = match git(&["rev-parse", "--short=10", "HEAD"]) {
        Some(rev) if !rev.is_empty() => format!("{version} ({rev})"),
        _ => version.to_string(),
    };
    println!("cargo:rustc-env=ONEPASS_VERSION={full}");
    if let Some(git_dir) = git(&["rev-parse", "--git-dir"]) {
        let git_dir = std::path::Path::new(&dir).join(git_dir);
        println!("cargo:rerun-if-changed={}", git_dir.join("HEAD").display());
        if let Some(head_ref) = git(&["symbolic-ref", "-q", "HEAD"]) {
            println!(
                "cargo:rerun-if-changed={}",
                git_dir.join(head_ref).display()
            );
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
}
