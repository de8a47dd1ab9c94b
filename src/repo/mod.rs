//! The repository on disk: which files are candidates for the prompt, and read access for validation.

pub mod signals;
pub mod snapshot;
pub mod walk;

use std::path::{Component, Path, PathBuf};

use crate::patch::{Tree, TreeError};

/// Read access to the working tree for the patch stage. Refuses paths that leave the repository through a
/// symbolic link and anything that is not a regular file.
pub struct WorkTree {
    root: PathBuf,
}

impl WorkTree {
    pub fn new(root: &Path) -> WorkTree {
        WorkTree {
            root: root.to_path_buf(),
        }
    }
}

/// Files larger than this are not read for editing (a reply naming a huge file must not exhaust memory).
pub const MAX_EDIT_BYTES: u64 = 32 * 1024 * 1024;

impl Tree for WorkTree {
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, TreeError> {
        let refuse = |message: &str| TreeError::Unreadable {
            path: path.escape_debug().to_string(),
            message: message.to_string(),
        };
        if path.is_empty() || path.chars().any(char::is_control) {
            return Err(refuse("its name is empty or contains control characters"));
        }
        if path.contains('\\') {
            return Err(refuse("its name contains a backslash"));
        }
        let rel = Path::new(path);
        if rel.is_absolute()
            || rel
                .components()
                .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
        {
            return Err(TreeError::Escapes(path.to_string()));
        }
        let parts: Vec<_> = rel
            .components()
            .filter(|c| matches!(c, Component::Normal(_)))
            .collect();
        if parts
            .iter()
            .any(|c| c.as_os_str().eq_ignore_ascii_case(".git"))
        {
            return Err(refuse("it is inside .git, which onepass never touches"));
        }
        // Every existing ancestor must be a real directory inside the root: a symlink on the way could lead
        // outside the repository, and a nested repository (a submodule) belongs to another history.
        let mut at = self.root.clone();
        for (i, part) in parts.iter().enumerate() {
            at.push(part);
            let meta = match std::fs::symlink_metadata(&at) {
                Ok(meta) => meta,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(refuse(&e.to_string())),
            };
            let last = i + 1 == parts.len();
            if meta.file_type().is_symlink() {
                let target = at.canonicalize().ok();
                let inside = target.as_ref().is_some_and(|t| t.starts_with(&self.root));
                if !inside {
                    return Err(TreeError::Escapes(path.to_string()));
                }
                if last {
                    // A link inside the repository: editing it would edit its target behind git's back.
                    return Err(TreeError::NotAFile(path.to_string()));
                }
            } else if (last && !meta.is_file()) || (!last && !meta.is_dir()) {
                // Directories, devices, FIFOs and sockets are never edited.
                return Err(TreeError::NotAFile(path.to_string()));
            }
            if !last && std::fs::symlink_metadata(at.join(".git")).is_ok() {
                return Err(refuse(
                    "it is inside a nested git repository (a submodule), which onepass does not edit",
                ));
            }
            if last {
                return read_checked(&at, &meta).map(Some).map_err(|m| refuse(&m));
            }
        }
        Err(TreeError::NotAFile(path.to_string()))
    }
}

/// Read the regular file `at` whose metadata (taken without following links) is `meta`: refuse a file with
/// other hard links (editing it would change them too), a file too large to edit, and a file swapped for
/// another between the check and the read.
fn read_checked(at: &Path, meta: &std::fs::Metadata) -> Result<Vec<u8>, String> {
    if meta.len() > MAX_EDIT_BYTES {
        return Err(format!(
            "it is larger than {} MiB, too large to edit",
            MAX_EDIT_BYTES >> 20
        ));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if meta.nlink() > 1 {
            return Err(format!(
                "it has {} hard links; editing it would change the other copies too",
                meta.nlink()
            ));
        }
    }
    let mut file = std::fs::File::open(at).map_err(|e| e.to_string())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let opened = file.metadata().map_err(|e| e.to_string())?;
        if opened.ino() != meta.ino() || opened.dev() != meta.dev() {
            return Err("it changed while it was being read".into());
        }
    }
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(
        &mut std::io::Read::take(&mut file, MAX_EDIT_BYTES + 1),
        &mut bytes,
    )
    .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > MAX_EDIT_BYTES {
        return Err("it grew too large to edit while it was being read".into());
    }
    Ok(bytes)
}
