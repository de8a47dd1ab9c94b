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
    // Rebuild when HEAD moves. In a linked worktree HEAD is the worktree's own and the refs are the main
    // repository's (`--git-path` resolves both); a path that does not exist would make cargo rebuild every
    // time, so only what exists is watched: the branch's loose ref and its folder (a first loose ref for
    // it appears there), and the packed refs.
    let watch = |path: &str| {
        let path = std::path::Path::new(&dir).join(path);
        if path.exists() {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    };
    if let Some(head) = git(&["rev-parse", "--git-path", "HEAD"]) {
        watch(&head);
    }
    if let Some(head_ref) = git(&["symbolic-ref", "-q", "HEAD"]) {
        let folder = head_ref.rsplit_once('/').map_or("", |(folder, _)| folder);
        for name in [head_ref.as_str(), folder, "packed-refs"] {
            if let Some(path) = git(&["rev-parse", "--git-path", name]).filter(|_| !name.is_empty())
            {
                watch(&path);
            }
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
}
