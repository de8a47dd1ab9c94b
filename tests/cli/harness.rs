//! The builder harness: a temporary git repository made from files, a loopback server, arguments, stdin and
//! environment, then the real `onepass` binary run on them, and assertions on status, output and files.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::server::{Reply, TestServer, sse_transcript};

pub const BIN: &str = env!("CARGO_BIN_EXE_onepass");

/// A port where nothing listens: connections are refused at once.
pub fn dead_endpoint() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    url
}

pub struct Case {
    pub repo: tempfile::TempDir,
    pub home: tempfile::TempDir,
    args: Vec<String>,
    env: Vec<(String, String)>,
    stdin: Vec<u8>,
    cwd: Option<PathBuf>,
    pub server: Option<TestServer>,
    git: bool,
    pty: bool,
}

impl Case {
    /// An empty git repository (no commits yet).
    pub fn new() -> Case {
        let repo = tempfile::tempdir().unwrap();
        git2::Repository::init(repo.path()).unwrap();
        Case {
            repo,
            home: tempfile::tempdir().unwrap(),
            args: Vec::new(),
            env: Vec::new(),
            stdin: Vec::new(),
            cwd: None,
            server: None,
            git: true,
            pty: false,
        }
    }

    /// A plain directory that is not a git repository.
    pub fn without_git() -> Case {
        let mut case = Case::new();
        std::fs::remove_dir_all(case.repo.path().join(".git")).unwrap();
        case.git = false;
        case
    }

    pub fn path(&self) -> &Path {
        self.repo.path()
    }

    pub fn file(self, path: &str, content: &str) -> Case {
        self.bytes(path, content.as_bytes())
    }

    pub fn bytes(self, path: &str, content: &[u8]) -> Case {
        let full = self.repo.path().join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, content).unwrap();
        self
    }

    /// Commit everything in the working tree.
    pub fn commit(self) -> Case {
        assert!(self.git);
        let repo = git2::Repository::open(self.repo.path()).unwrap();
        let mut index = repo.index().unwrap();
        index
            .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
            .unwrap();
        index.write().unwrap();
        let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
        let sig = git2::Signature::now("Test", "test@example.com").unwrap();
        let parents: Vec<git2::Commit> = repo
            .head()
            .ok()
            .and_then(|h| h.peel_to_commit().ok())
            .into_iter()
            .collect();
        let parents: Vec<&git2::Commit> = parents.iter().collect();
        repo.commit(Some("HEAD"), &sig, &sig, "fixture", &tree, &parents)
            .unwrap();
        drop(tree);
        self
    }

    /// A server that streams `text` as the model's reply.
    pub fn reply(self, text: &str) -> Case {
        self.chat(Reply::sse(&sse_transcript(text, "stop")))
    }

    /// A server whose chat endpoint answers `reply`.
    pub fn chat(self, reply: Reply) -> Case {
        self.with_server(TestServer::openai(reply))
    }

    pub fn with_server(mut self, server: TestServer) -> Case {
        self.env
            .push(("ONEPASS_ENDPOINT".into(), server.url.clone()));
        self.server = Some(server);
        self
    }

    pub fn args(mut self, args: &[&str]) -> Case {
        self.args.extend(args.iter().map(|a| a.to_string()));
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Case {
        self.env.push((key.into(), value.into()));
        self
    }

    pub fn stdin(mut self, input: &str) -> Case {
        self.stdin = input.as_bytes().to_vec();
        self
    }

    pub fn cwd(mut self, dir: &str) -> Case {
        self.cwd = Some(self.repo.path().join(dir));
        self
    }

    /// Run from a directory outside the repository.
    pub fn cwd_outside(mut self, dir: &std::path::Path) -> Case {
        self.cwd = Some(dir.to_path_buf());
        self
    }

    /// Run inside a pseudo-terminal (util-linux `script`), typing stdin into it.
    pub fn in_terminal(mut self) -> Case {
        self.pty = true;
        self
    }

    /// The same repository (and server and environment) for another run: arguments, stdin and the terminal
    /// are reset.
    pub fn again(mut self) -> Case {
        self.args.clear();
        self.stdin.clear();
        self.pty = false;
        self
    }

    /// Every file of the working tree (outside .git) with its bytes.
    pub fn snapshot(&self) -> BTreeMap<String, Vec<u8>> {
        snapshot(self.repo.path())
    }

    pub fn run(self) -> Run {
        let before = self.snapshot();
        let mut command = if self.pty {
            let mut line = shell_quote(BIN);
            for a in &self.args {
                line.push(' ');
                line.push_str(&shell_quote(a));
            }
            let mut c = Command::new("script");
            c.args(["-qec", &line, "/dev/null"]);
            c
        } else {
            let mut c = Command::new(BIN);
            c.args(&self.args);
            c
        };
        command
            .current_dir(
                self.cwd
                    .clone()
                    .unwrap_or_else(|| self.repo.path().to_path_buf()),
            )
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.home.path())
            .env("XDG_CONFIG_HOME", self.home.path().join(".config"))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("TERM", if self.pty { "xterm" } else { "dumb" })
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if self.server.is_none() {
            command.env("ONEPASS_ENDPOINT", dead_endpoint());
        }
        for (k, v) in &self.env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("spawn onepass");
        let mut stdin = child.stdin.take().unwrap();
        let input = self.stdin.clone();
        let pty = self.pty;
        let writer = std::thread::spawn(move || {
            if pty {
                // Give the program time to reach its question before typing.
                std::thread::sleep(std::time::Duration::from_millis(1500));
            }
            let _ = stdin.write_all(&input);
            if pty {
                std::thread::sleep(std::time::Duration::from_millis(1500));
            }
        });
        let output = child.wait_with_output().unwrap();
        let _ = writer.join();
        Run {
            status: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            before,
            case: self,
        }
    }
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

pub fn snapshot(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            if path.file_name().is_some_and(|n| n == ".git") {
                continue;
            }
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                stack.push(path);
            } else if !kind.is_file() {
                // Links by their target; FIFOs and devices by their kind (reading a FIFO would block).
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                let what = match std::fs::read_link(&path) {
                    Ok(target) => format!("-> {}", target.display()),
                    Err(_) => "<special file>".into(),
                };
                out.insert(rel, what.into_bytes());
            } else {
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                out.insert(rel, std::fs::read(&path).unwrap_or_default());
            }
        }
    }
    out
}

pub struct Run {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
    before: BTreeMap<String, Vec<u8>>,
    pub case: Case,
}

impl Run {
    pub fn status(self, code: i32) -> Run {
        assert_eq!(
            self.status, code,
            "exit status\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.stdout, self.stderr
        );
        self
    }

    pub fn stdout_has(self, text: &str) -> Run {
        assert!(
            self.stdout.contains(text),
            "stdout lacks {text:?}:\n{}\n--- stderr ---\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    pub fn stdout_lacks(self, text: &str) -> Run {
        assert!(
            !self.stdout.contains(text),
            "stdout has {text:?}:\n{}",
            self.stdout
        );
        self
    }

    pub fn stderr_has(self, text: &str) -> Run {
        assert!(
            self.stderr.contains(text),
            "stderr lacks {text:?}:\n{}\n--- stdout ---\n{}",
            self.stderr,
            self.stdout
        );
        self
    }

    pub fn file(self, path: &str, content: &str) -> Run {
        let actual = std::fs::read_to_string(self.case.path().join(path))
            .unwrap_or_else(|e| panic!("{path}: {e}\n--- stderr ---\n{}", self.stderr));
        assert_eq!(actual, content, "content of {path}");
        self
    }

    pub fn no_file(self, path: &str) -> Run {
        assert!(!self.case.path().join(path).exists(), "{path} exists");
        self
    }

    /// Nothing in the working tree changed.
    pub fn unchanged(self) -> Run {
        let after = self.case.snapshot();
        let changed: Vec<_> = after
            .keys()
            .chain(self.before.keys())
            .filter(|k| after.get(*k) != self.before.get(*k))
            .collect();
        assert!(
            changed.is_empty(),
            "the tree changed: {changed:?}\n--- stderr ---\n{}",
            self.stderr
        );
        self
    }

    /// The files that changed, were created or were deleted.
    pub fn changed(&self) -> Vec<String> {
        let after = self.case.snapshot();
        let mut keys: Vec<String> = after
            .keys()
            .chain(self.before.keys())
            .filter(|k| after.get(*k) != self.before.get(*k))
            .cloned()
            .collect();
        keys.dedup();
        keys
    }

    pub fn chat_requests(&self) -> Vec<crate::server::Request> {
        self.case
            .server
            .as_ref()
            .map(|s| s.chat_requests())
            .unwrap_or_default()
    }
}
