//! Puts an accepted change into the working tree through git2, all or nothing, or writes it as a .patch file
//! that `git apply` accepts.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("cannot open the repository: {0}")]
    Open(String),
    #[error("git could not read the regenerated diff: {0}")]
    Diff(String),
    #[error("git refused to apply the change (nothing was written): {0}")]
    Refused(String),
    #[error("cannot write {}: {message}", path.display())]
    Write { path: PathBuf, message: String },
}

/// Apply a git-format diff to the working directory. libgit2 checks every file before it writes any.
pub fn apply_to_workdir(root: &Path, diff: &str) -> Result<(), ApplyError> {
    let repo =
        git2::Repository::open(root).map_err(|e| ApplyError::Open(e.message().to_string()))?;
    let diff = git2::Diff::from_buffer(diff.as_bytes())
        .map_err(|e| ApplyError::Diff(e.message().to_string()))?;
    let mut check = git2::ApplyOptions::new();
    check.check(true);
    repo.apply(&diff, git2::ApplyLocation::WorkDir, Some(&mut check))
        .map_err(|e| ApplyError::Refused(e.message().to_string()))?;
    repo.apply(&diff, git2::ApplyLocation::WorkDir, None)
        .map_err(|e| ApplyError::Refused(e.message().to_string()))
}

/// Write the patch file; nothing else is touched.
pub fn write_patch(path: &Path, diff: &str) -> Result<(), ApplyError> {
    std::fs::write(path, diff).map_err(|e| ApplyError::Write {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// `onepass-<slug-of-request>.patch`: lower-case words of the request joined by dashes, at most 48 characters.
pub fn default_patch_name(request: &str) -> String {
    let mut slug = String::new();
    for word in request
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        if slug.len() + word.len() + 1 > 48 {
            break;
        }
        if !slug.is_empty() {
            slug.push('-');
        }
        slug.push_str(&word.to_ascii_lowercase());
    }
    if slug.is_empty() {
        slug.push_str("change");
    }
    format!("onepass-{slug}.patch")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_names_are_slugs() {
        assert_eq!(
            default_patch_name("Add a --verbose flag!"),
            "onepass-add-a-verbose-flag.patch"
        );
        assert_eq!(default_patch_name("日本語"), "onepass-change.patch");
        let long = default_patch_name(&"word ".repeat(40));
        assert!(long.len() <= "onepass-.patch".len() + 48, "{long}");
    }
}
