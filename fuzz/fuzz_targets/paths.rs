//! Arbitrary paths against the patch stage's path check and the working tree's guarded reads, on a real
//! directory with a symlink out, a symlink in, a nested repository and a FIFO-free tree. Whatever is read must
//! lie inside the root, outside `.git` and outside the nested repository.
#![no_main]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use onepass::patch::Tree;
use onepass::patch::validate::check_path;
use onepass::repo::WorkTree;

struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    tree: WorkTree,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("repo").canonicalize().unwrap_or_else(|_| {
            std::fs::create_dir_all(dir.path().join("repo")).unwrap();
            dir.path().join("repo").canonicalize().unwrap()
        });
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("secret.txt"), "outside\n").unwrap();
        for (path, text) in [
            ("src/main.rs", "fn main() {}\n"),
            ("a.txt", "a\n"),
            (".git/config", "[core]\n"),
            ("sub/.git", "gitdir: ../.git/modules/sub\n"),
            ("sub/file.c", "int x;\n"),
        ] {
            let full = root.join(path);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(full, text).unwrap();
        }
        std::os::unix::fs::symlink(&outside, root.join("out")).unwrap();
        std::os::unix::fs::symlink("src", root.join("in")).unwrap();
        let tree = WorkTree::new(&root);
        Fixture {
            _dir: dir,
            root,
            tree,
        }
    })
}

fn inside(root: &Path, rel: &str) -> bool {
    root.join(rel)
        .canonicalize()
        .is_ok_and(|p| p.starts_with(root))
}

fuzz_target!(|data: &[u8]| {
    let path = String::from_utf8_lossy(data);
    if let Ok(clean) = check_path(&path) {
        assert!(!clean.starts_with('/'), "{clean:?}");
        assert!(
            !clean.split('/').any(|c| c == ".." || c.eq_ignore_ascii_case(".git")),
            "{clean:?}"
        );
        assert!(!clean.chars().any(char::is_control), "{clean:?}");
    }
    let f = fixture();
    if let Ok(Some(bytes)) = f.tree.read(&path) {
        assert!(inside(&f.root, &path), "read outside the root: {path:?}");
        assert!(!path.split('/').any(|c| c.eq_ignore_ascii_case(".git")));
        assert!(!path.starts_with("sub/"), "read inside the nested repository");
        assert_ne!(bytes, b"outside\n");
    }
});
