//! Renders the prompt from the templates: `system.md` (fixed instructions) and `task.md` (the files, what was
//! left out, then the request). Stable content comes first and the request last, so a server's prompt cache
//! can reuse everything before it. The built-in templates can be overridden by files of the same name in
//! `.onepass/templates/` of the repository or `templates/` of the user configuration directory.

use std::path::PathBuf;

use minijinja::value::Serde;
use minijinja::{Environment, Value, context};
use serde::Serialize;

pub const SYSTEM_TEMPLATE: &str = include_str!("../templates/system.md");
pub const TASK_TEMPLATE: &str = include_str!("../templates/task.md");

/// What is sent: one system message and one user message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Prompt {
    pub system: String,
    pub user: String,
}

/// A file as the template sees it.
#[derive(Debug, Clone, Serialize)]
pub struct FileBlock<'a> {
    pub path: &'a str,
    pub lang: &'a str,
    pub fence: String,
    /// The file's text, ending with a newline.
    pub text: std::borrow::Cow<'a, str>,
}

impl<'a> FileBlock<'a> {
    pub fn new(path: &'a str, text: &'a str) -> FileBlock<'a> {
        let text = if text.is_empty() || text.ends_with('\n') {
            std::borrow::Cow::Borrowed(text)
        } else {
            std::borrow::Cow::Owned(format!("{text}\n"))
        };
        FileBlock {
            path,
            lang: language(path),
            fence: fence_for(&text),
            text,
        }
    }
}

/// A file shown only as an outline of its definitions.
#[derive(Debug, Clone, Serialize)]
pub struct OutlineBlock<'a> {
    pub path: &'a str,
    pub fence: String,
    /// `LINE: signature` lines, ending with a newline.
    pub text: &'a str,
}

impl<'a> OutlineBlock<'a> {
    pub fn new(path: &'a str, text: &'a str) -> OutlineBlock<'a> {
        OutlineBlock {
            path,
            fence: fence_for(text),
            text,
        }
    }
}

/// The repository context of a prompt, in prompt order: the layout (most stable), the whole files, the
/// outlines, and the files named but not shown.
#[derive(Debug, Clone, Default)]
pub struct Context<'a> {
    /// A compact tree of the repository's paths, ending with a newline; empty for none.
    pub tree: &'a str,
    pub files: &'a [FileBlock<'a>],
    pub outlines: &'a [OutlineBlock<'a>],
    pub omitted: &'a [OmittedBlock<'a>],
    /// Omitted files beyond those listed, counted only.
    pub omitted_more: usize,
}

/// A file named in the prompt but not shown.
#[derive(Debug, Clone, Serialize)]
pub struct OmittedBlock<'a> {
    pub path: &'a str,
    pub bytes: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    #[error("cannot read the template {}: {message}", path.display())]
    Read { path: PathBuf, message: String },
    #[error("template {name}: {message}")]
    Template { name: String, message: String },
}

/// The two templates, loaded once per run.
#[derive(Debug)]
pub struct Templates {
    env: Environment<'static>,
}

impl Templates {
    /// The built-in templates, each replaced by the first override found in `dirs`.
    pub fn load(dirs: &[PathBuf]) -> Result<Templates, PromptError> {
        let mut env = Environment::new();
        let syntax = minijinja::syntax::SyntaxConfig::builder()
            .keep_trailing_newline(true)
            .build()
            .map_err(|e| template_error("syntax", &e))?;
        env.set_syntax(syntax);
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        for (name, builtin) in [("system.md", SYSTEM_TEMPLATE), ("task.md", TASK_TEMPLATE)] {
            let mut source = builtin.to_string();
            for dir in dirs {
                let path = dir.join(name);
                match std::fs::read_to_string(&path) {
                    Ok(text) => {
                        source = text;
                        break;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => {
                        return Err(PromptError::Read {
                            path,
                            message: e.to_string(),
                        });
                    }
                }
            }
            env.add_template_owned(name, source)
                .map_err(|e| template_error(name, &e))?;
        }
        Ok(Templates { env })
    }

    pub fn render(
        &self,
        files: &[FileBlock<'_>],
        omitted: &[OmittedBlock<'_>],
        request: &str,
    ) -> Result<Prompt, PromptError> {
        self.render_context(
            &Context {
                files,
                omitted,
                ..Context::default()
            },
            request,
        )
    }

    /// Render the repository context and the request.
    pub fn render_context(&self, ctx: &Context<'_>, request: &str) -> Result<Prompt, PromptError> {
        self.render_value(&ctx.to_value(), request)
    }

    /// Render from a template context as a value (everything but the request, as made by
    /// [`Context::to_value`], plus an optional `format`). Context sessions keep this value to rebuild a
    /// prompt whose prefix is byte-identical.
    pub fn render_value(
        &self,
        ctx: &serde_json::Value,
        request: &str,
    ) -> Result<Prompt, PromptError> {
        let system = self
            .env
            .get_template("system.md")
            .and_then(|t| {
                let format = ctx.get("format").and_then(|f| f.as_str()).unwrap_or("diff");
                t.render(context! { format => format })
            })
            .map_err(|e| template_error("system.md", &e))?;
        // Keys a stored context (from an older session) may lack take their empty values.
        let defaults = Context::default().to_value();
        let ctx = context! {
            ..Value::from(Serde(ctx)),
            ..context! { request => request.trim() },
            ..Value::from(Serde(&defaults))
        };
        let user = self
            .env
            .get_template("task.md")
            .and_then(|t| t.render(ctx))
            .map_err(|e| template_error("task.md", &e))?;
        Ok(Prompt {
            system,
            user: if user.ends_with('\n') {
                user
            } else {
                user + "\n"
            },
        })
    }
}

impl Context<'_> {
    /// The context as the templates see it (and as context sessions store it).
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::json!({
            "tree": self.tree,
            "tree_fence": fence_for(self.tree),
            "files": self.files,
            "outlines": self.outlines,
            "omitted": self.omitted,
            "omitted_more": self.omitted_more,
        })
    }
}

fn template_error(name: &str, e: &minijinja::Error) -> PromptError {
    let mut message = e.to_string();
    if let Some(detail) = e.detail() {
        message = format!("{message} ({detail})");
    }
    PromptError::Template {
        name: name.to_string(),
        message,
    }
}

/// A fence longer than any backtick run at the start of a line in the text.
fn fence_for(text: &str) -> String {
    let longest = text
        .lines()
        .map(|l| l.trim_start().chars().take_while(|&c| c == '`').count())
        .max()
        .unwrap_or(0);
    "`".repeat(longest.max(2) + 1)
}

/// The fence language for a path, from its extension.
pub fn language(path: &str) -> &'static str {
    let name = path.rsplit('/').next().unwrap_or(path);
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("rs") => "rust",
        Some("py" | "pyi") => "python",
        Some("js" | "mjs" | "cjs") => "javascript",
        Some("jsx") => "jsx",
        Some("ts" | "mts" | "cts") => "typescript",
        Some("tsx") => "tsx",
        Some("go") => "go",
        Some("java") => "java",
        Some("kt" | "kts") => "kotlin",
        Some("c" | "h") => "c",
        Some("cc" | "cpp" | "cxx" | "hpp" | "hh") => "cpp",
        Some("cs") => "csharp",
        Some("rb") => "ruby",
        Some("php") => "php",
        Some("swift") => "swift",
        Some("sh" | "bash") => "bash",
        Some("toml") => "toml",
        Some("yml" | "yaml") => "yaml",
        Some("json") => "json",
        Some("md") => "markdown",
        Some("html" | "htm") => "html",
        Some("css") => "css",
        Some("scss") => "scss",
        Some("sql") => "sql",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_comes_last_and_prefix_is_stable() {
        let t = Templates::load(&[]).unwrap();
        let files = [
            FileBlock::new("src/a.rs", "fn a() {}\n"),
            FileBlock::new("b.py", "x = 1"),
        ];
        let one = t.render(&files, &[], "add logging").unwrap();
        let two = t.render(&files, &[], "rename a to b").unwrap();
        assert_eq!(one.system, two.system);
        let cut = one.user.find("add logging").unwrap();
        assert_eq!(&one.user[..cut], &two.user[..cut]);
        assert!(one.user.trim_end().ends_with("add logging"));
        assert!(one.user.contains("### src/a.rs\n```rust\nfn a() {}\n```\n"));
        assert!(
            one.user.contains("x = 1\n```"),
            "a missing final newline is added before the fence"
        );
    }

    #[test]
    fn the_system_prompt_asks_for_a_diff_or_whole_files() {
        let t = Templates::load(&[]).unwrap();
        let diff = t
            .render_value(
                &serde_json::json!({"files": [], "omitted": [], "omitted_more": 0}),
                "x",
            )
            .unwrap();
        assert!(diff.system.contains("ONE unified diff"));
        assert!(!diff.system.contains("{%"));
        assert!(
            diff.system.contains("mood.\n2. The whole change"),
            "{}",
            diff.system
        );
        assert!(
            diff.system
                .ends_with("only with context you are certain of.\n"),
            "{:?}",
            diff.system
        );
        let whole = t
            .render_value(&serde_json::json!({"files": [], "omitted": [], "omitted_more": 0, "format": "whole"}), "x")
            .unwrap();
        assert!(
            whole
                .system
                .contains("mood.\n2. Every file you change or create, complete"),
            "{}",
            whole.system
        );
        assert!(!whole.system.contains("unified diff in ONE"));
        assert!(
            whole
                .system
                .ends_with("do not rewrite them unless you must.\n"),
            "{:?}",
            whole.system
        );
    }

    #[test]
    fn omitted_files_are_listed() {
        let t = Templates::load(&[]).unwrap();
        let omitted = [OmittedBlock {
            path: "big.rs",
            bytes: 9000,
        }];
        let p = t.render(&[], &omitted, "x").unwrap();
        assert!(p.user.contains("- big.rs (9000 bytes)"), "{}", p.user);
    }

    #[test]
    fn layout_files_outlines_then_request() {
        let t = Templates::load(&[]).unwrap();
        let files = [FileBlock::new("src/a.rs", "fn a() {}\n")];
        let outlines = [OutlineBlock::new("src/big.rs", "3: pub fn big() {\n")];
        let ctx = Context {
            tree: "src/: a.rs big.rs\n",
            files: &files,
            outlines: &outlines,
            ..Context::default()
        };
        let p = t.render_context(&ctx, "change a").unwrap();
        let at = |needle: &str| {
            p.user
                .find(needle)
                .unwrap_or_else(|| panic!("{needle}: {}", p.user))
        };
        assert!(at("src/: a.rs big.rs\n") < at("### src/a.rs\n"));
        assert!(
            at("### src/a.rs\n") < at("### src/big.rs (outline)\n```\n3: pub fn big() {\n```\n")
        );
        assert!(p.user.trim_end().ends_with("change a"));
    }

    #[test]
    fn fences_outgrow_backticks_in_the_text() {
        assert_eq!(fence_for("plain"), "```");
        assert_eq!(fence_for("```rust\nx\n```"), "````");
    }

    #[test]
    fn overrides_replace_builtins() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("system.md"), "custom system\n").unwrap();
        let t = Templates::load(&[dir.path().to_path_buf()]).unwrap();
        assert_eq!(t.render(&[], &[], "x").unwrap().system, "custom system\n");
    }
}
