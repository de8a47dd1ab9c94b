//! The repository on disk: which files are candidates for the prompt, and read access for validation.

pub mod signals;
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

impl Tree for WorkTree {
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, TreeError> {
        let rel = Path::new(path);
        if rel.is_absolute()
            || rel
                .components()
                .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
        {
            return Err(TreeError::Escapes(path.to_string()));
        }
        // Every existing ancestor must be a real directory inside the root: a symlink on the way could lead
        // outside the repository.
        let mut at = self.root.clone();
        let parts: Vec<_> = rel.components().collect();
        for (i, part) in parts.iter().enumerate() {
            at.push(part);
            let meta = match std::fs::symlink_metadata(&at) {
                Ok(meta) => meta,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => {
                    return Err(TreeError::Unreadable {
                        path: path.to_string(),
                        message: e.to_string(),
                    });
                }
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
                return Err(TreeError::NotAFile(path.to_string()));
            }
        }
        std::fs::read(&at)
            .map(Some)
            .map_err(|e| TreeError::Unreadable {
                path: path.to_string(),
                message: e.to_string(),
            })
    }
}
