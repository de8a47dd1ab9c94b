//! Context sessions: the repository part of one run's prompt is remembered (the template context, with each
//! shown file as path + blob id), so that `onepass again` and `--same-context` rebuild a prompt whose prefix is
//! byte-identical to the last one and the server processes only the new tail. Files changed since move to the
//! end of the file list; files that vanished drop out.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::prompt::{FileBlock, Prompt, PromptError, Templates};

const VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub version: u32,
    /// The request of the run that made the session.
    pub request: String,
    /// Shown files in prompt order, with the blob id of the text shown.
    pub files: Vec<SessionFile>,
    /// The rest of the template context (everything but `files` and the request), replayed verbatim.
    pub context: Value,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionFile {
    pub path: String,
    pub blob: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("there is no previous run to reuse in this repository: run onepass \"REQUEST\" first")]
    None,
    #[error("cannot read the session {}: {message}", path.display())]
    Read { path: PathBuf, message: String },
    #[error(transparent)]
    Prompt(#[from] PromptError),
}

/// A prompt rebuilt from a session.
#[derive(Debug, Clone)]
pub struct Rebuilt {
    pub prompt: Prompt,
    /// The session to save for the next run (new order, new blob ids).
    pub session: Session,
    /// Files whose content changed since (now at the end).
    pub changed: Vec<String>,
    /// Files that are gone or no longer readable as text.
    pub removed: Vec<String>,
}

/// Git's blob id of some bytes.
pub fn blob_id(bytes: &[u8]) -> String {
    git2::Oid::hash_object(git2::ObjectType::Blob, bytes)
        .map(|o| o.to_string())
        .unwrap_or_default()
}

/// Where the session of the repository at `root` lives: `<git dir>/onepass/session.json`.
pub fn location(root: &Path) -> Option<PathBuf> {
    let repo = git2::Repository::open(root).ok()?;
    Some(repo.path().join("onepass").join("session.json"))
}

pub fn load(root: &Path) -> Result<Session, SessionError> {
    let path = location(root).ok_or(SessionError::None)?;
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(SessionError::None),
        Err(e) => {
            return Err(SessionError::Read {
                path,
                message: e.to_string(),
            });
        }
    };
    match serde_json::from_str::<Session>(&text) {
        Ok(session) if session.version == VERSION => Ok(session),
        // A session from another version is as good as none.
        _ => Err(SessionError::None),
    }
}

pub fn save(root: &Path, session: &Session) -> std::io::Result<()> {
    let path = location(root).ok_or_else(|| std::io::Error::other("not a git repository"))?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("json.tmp");
    std::fs::write(
        &tmp,
        serde_json::to_vec(session).map_err(std::io::Error::other)?,
    )?;
    std::fs::rename(tmp, path)
}

/// Split a template context into the session form: file texts replaced by blob ids.
pub fn from_context(request: &str, context: &Value) -> Session {
    let mut rest = context.clone();
    let files = rest
        .get("files")
        .and_then(Value::as_array)
        .map(|files| {
            files
                .iter()
                .filter_map(|f| {
                    Some(SessionFile {
                        path: f.get("path")?.as_str()?.to_string(),
                        blob: blob_id(f.get("text")?.as_str()?.as_bytes()),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    if let Some(obj) = rest.as_object_mut() {
        obj.remove("files");
    }
    Session {
        version: VERSION,
        request: request.to_string(),
        files,
        context: rest,
    }
}

/// Rebuild the prompt of `session` for `request` from the files as they are now; `read` gives a file's text,
/// or None when it is gone or no longer text.
pub fn rebuild(
    session: &Session,
    request: &str,
    templates: &Templates,
    read: &dyn Fn(&str) -> Option<String>,
) -> Result<Rebuilt, SessionError> {
    let mut same = Vec::new();
    let mut changed = Vec::new();
    let mut removed = Vec::new();
    for file in &session.files {
        match read(&file.path) {
            Some(text) if blob_id(text.as_bytes()) == file.blob => {
                same.push((file.path.clone(), text))
            }
            Some(text) => changed.push((file.path.clone(), text)),
            None => removed.push(file.path.clone()),
        }
    }
    let ordered: Vec<&(String, String)> = same.iter().chain(changed.iter()).collect();
    let blocks: Vec<FileBlock<'_>> = ordered.iter().map(|(p, t)| FileBlock::new(p, t)).collect();
    let mut context = session.context.clone();
    if !context.is_object() {
        context = Value::Object(Default::default());
    }
    context["files"] = serde_json::to_value(&blocks).unwrap_or(Value::Null);
    let prompt = templates.render_value(&context, request)?;
    Ok(Rebuilt {
        prompt,
        session: Session {
            version: VERSION,
            request: request.to_string(),
            files: ordered
                .iter()
                .map(|(p, t)| SessionFile {
                    path: p.clone(),
                    blob: blob_id(t.as_bytes()),
                })
                .collect(),
            context: session.context.clone(),
        },
        changed: changed.into_iter().map(|(p, _)| p).collect(),
        removed,
    })
}

/// Everything in the prompt before the request: the part a server can keep in its cache between requests.
/// (The request is rendered last, so the prompt for an empty request ends exactly there.)
pub fn stable_prefix(prompt: &Prompt, request: &str) -> String {
    let cut = prompt
        .user
        .rfind(request.trim())
        .unwrap_or(prompt.user.len());
    format!("{}\u{0}{}", prompt.system, &prompt.user[..cut])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prompt::{Context, OmittedBlock};

    #[test]
    fn a_rebuilt_prompt_keeps_the_prefix_and_moves_changes_to_the_end() {
        let templates = Templates::load(&[]).unwrap();
        let blocks = [
            FileBlock::new("a.rs", "fn a() {}\n"),
            FileBlock::new("b.rs", "fn b() {}\n"),
            FileBlock::new("c.rs", "fn c() {}\n"),
        ];
        let omitted = [OmittedBlock {
            path: "big.rs",
            bytes: 10,
        }];
        let context = Context {
            files: &blocks,
            omitted: &omitted,
            ..Context::default()
        }
        .to_value();
        let first = templates.render_value(&context, "first request").unwrap();
        let session = from_context("first request", &context);
        assert_eq!(session.files.len(), 3);

        // Nothing changed: the new prompt differs only in the request.
        let read = |p: &str| Some(format!("fn {}() {{}}\n", &p[..1]));
        let again = rebuild(&session, "second request", &templates, &read).unwrap();
        assert!(again.changed.is_empty() && again.removed.is_empty());
        let prefix = stable_prefix(&first, "first request");
        assert_eq!(prefix, stable_prefix(&again.prompt, "second request"));
        assert!(again.prompt.user.contains("- big.rs (10 bytes)"));

        // b changed, c vanished: a keeps its place, b moves after it, c is gone.
        let read = |p: &str| match p {
            "a.rs" => Some("fn a() {}\n".to_string()),
            "b.rs" => Some("fn b() { changed() }\n".to_string()),
            _ => None,
        };
        let next = rebuild(&session, "third", &templates, &read).unwrap();
        assert_eq!(next.changed, ["b.rs"]);
        assert_eq!(next.removed, ["c.rs"]);
        let user = &next.prompt.user;
        assert!(user.find("### a.rs").unwrap() < user.find("### b.rs").unwrap());
        assert!(!user.contains("### c.rs"));
        assert_eq!(
            next.session
                .files
                .iter()
                .map(|f| f.path.as_str())
                .collect::<Vec<_>>(),
            ["a.rs", "b.rs"]
        );
    }

    #[test]
    fn blob_ids_are_gits() {
        assert_eq!(blob_id(b""), "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391");
        assert_eq!(
            blob_id(b"hello\n"),
            "ce013625030ba8dba906f756967f9e9ca394464a"
        );
    }
}

/// Saved llama.cpp slots and what each server's pinned slot last received, kept beside the session.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SlotState {
    pub saved: Vec<SavedSlot>,
    /// Per server API URL, the prefix key of the last prompt onepass sent to its pinned slot.
    pub last_prefix: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedSlot {
    pub api: String,
    pub model: String,
    /// The prefix key: model, context window and prompt prefix hashed together.
    pub prefix: String,
    pub filename: String,
    pub tokens: u64,
    pub bytes: u64,
}

/// A key for "this model, with this context window, holding this prefix": a saved slot is only ever restored
/// for the same key, so a file made for another model or context size is never loaded.
pub fn prefix_key(model: &str, context_window: Option<usize>, prefix: &str) -> String {
    let text = format!("{model}\u{0}{}\u{0}{prefix}", context_window.unwrap_or(0));
    blob_id(text.as_bytes())
}

fn slots_location(root: &Path) -> Option<PathBuf> {
    location(root).map(|p| p.with_file_name("slots.json"))
}

pub fn load_slots(root: &Path) -> SlotState {
    slots_location(root)
        .and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

pub fn save_slots(root: &Path, state: &SlotState) -> std::io::Result<()> {
    let path = slots_location(root).ok_or_else(|| std::io::Error::other("not a git repository"))?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("json.tmp");
    std::fs::write(
        &tmp,
        serde_json::to_vec_pretty(state).map_err(std::io::Error::other)?,
    )?;
    std::fs::rename(tmp, path)
}
