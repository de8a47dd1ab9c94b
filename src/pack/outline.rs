//! Compact outlines of the files that do not fit whole: the signature lines of their definitions (functions,
//! methods, types, classes, exported constants), each with its line number, so the model knows what exists
//! and where. Tree-sitter parses the major languages (Rust, Python, JavaScript, TypeScript, Go, Java, C, C++);
//! anything else gets a plain-text fallback (definition-looking lines, Markdown headings). Pure: text in,
//! outline out.

use tree_sitter::{Language, Node, Parser};

/// Files larger than this are outlined by the plain-text fallback (parsing them costs more than it gives).
const PARSE_LIMIT: usize = 1 << 20;
/// A signature line is cut after this many characters.
const LINE_LIMIT: usize = 160;
/// At most this many lines per outline.
const MAX_LINES: usize = 400;

/// How the outline was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    TreeSitter,
    PlainText,
}

fn language_for(path: &str) -> Option<Language> {
    let name = path.rsplit('/').next().unwrap_or(path);
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase())?;
    Some(match ext.as_str() {
        "rs" => tree_sitter_rust::LANGUAGE.into(),
        "py" | "pyi" => tree_sitter_python::LANGUAGE.into(),
        "js" | "mjs" | "cjs" | "jsx" => tree_sitter_javascript::LANGUAGE.into(),
        "ts" | "mts" | "cts" => tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into(),
        "tsx" => tree_sitter_typescript::LANGUAGE_TSX.into(),
        "go" => tree_sitter_go::LANGUAGE.into(),
        "java" => tree_sitter_java::LANGUAGE.into(),
        "c" | "h" => tree_sitter_c::LANGUAGE.into(),
        "cc" | "cpp" | "cxx" | "hpp" | "hh" | "hxx" => tree_sitter_cpp::LANGUAGE.into(),
        _ => return None,
    })
}

/// Whether files at `path` are parsed with tree-sitter (rather than the plain-text fallback).
pub fn parsed(path: &str) -> bool {
    language_for(path).is_some()
}

/// Definitions whose body is not outlined further (their first line is the signature).
const LEAF_DEFS: &[&str] = &[
    // Rust
    "function_item",
    "function_signature_item",
    "struct_item",
    "enum_item",
    "type_item",
    "const_item",
    "static_item",
    "macro_definition",
    "union_item",
    // Python
    "function_definition",
    // JavaScript / TypeScript
    "function_declaration",
    "generator_function_declaration",
    "method_definition",
    "method_signature",
    "abstract_method_signature",
    "interface_declaration",
    "type_alias_declaration",
    "enum_declaration",
    "lexical_declaration",
    // Go
    "method_declaration",
    "type_declaration",
    "const_declaration",
    // Java
    "constructor_declaration",
    "record_declaration",
    "annotation_type_declaration",
    // C / C++
    "type_definition",
    "preproc_def",
    "preproc_function_def",
];

/// Definitions whose signature is shown and whose body is outlined too.
const CONTAINER_DEFS: &[&str] = &[
    "impl_item",
    "trait_item",
    "mod_item",
    "class_definition",
    "class_declaration",
    "abstract_class_declaration",
    "class_specifier",
    "struct_specifier",
    "namespace_definition",
    "internal_module",
    "module",
];

/// The outline of one file, or `None` when it has no definitions worth listing.
pub fn outline(path: &str, text: &str) -> Option<(String, Method)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut rows: Vec<usize> = Vec::new();
    let mut method = Method::PlainText;
    if let Some(language) = language_for(path).filter(|_| text.len() <= PARSE_LIMIT) {
        let mut parser = Parser::new();
        if parser.set_language(&language).is_ok()
            && let Some(tree) = parser.parse(text, None)
        {
            collect(tree.root_node(), text.as_bytes(), 0, &mut rows);
            method = Method::TreeSitter;
        }
    }
    if method == Method::PlainText {
        let markdown = path.ends_with(".md") || path.ends_with(".markdown");
        for (n, line) in lines.iter().enumerate() {
            let heading = markdown && line.starts_with('#');
            if heading || crate::pack::rank::defined_name(line).is_some() {
                rows.push(n);
            }
        }
    }
    rows.sort_unstable();
    rows.dedup();
    if rows.is_empty() {
        return None;
    }
    let width = (lines.len().max(1)).to_string().len();
    let mut out = String::new();
    for &row in rows.iter().take(MAX_LINES) {
        let line = signature(&lines, row);
        out.push_str(&format!("{:>width$}: {line}\n", row + 1));
    }
    if rows.len() > MAX_LINES {
        out.push_str(&format!("… {} more definitions\n", rows.len() - MAX_LINES));
    }
    Some((out, method))
}

/// The signature starting at `row`: its line, continued while it plainly goes on (an open parameter list).
fn signature(lines: &[&str], row: usize) -> String {
    let mut text = lines[row].trim_end().to_string();
    let mut next = row + 1;
    while next < lines.len() && next < row + 4 && text.ends_with(['(', ',']) {
        text.push(' ');
        text.push_str(lines[next].trim());
        next += 1;
    }
    if text.chars().count() > LINE_LIMIT {
        let cut: String = text.chars().take(LINE_LIMIT).collect();
        return format!("{cut}…");
    }
    text
}

fn collect(node: Node<'_>, src: &[u8], depth: usize, rows: &mut Vec<usize>) {
    if depth > 40 {
        return;
    }
    let kind = node.kind();
    let row = node.start_position().row;
    if LEAF_DEFS.contains(&kind) {
        if kind == "lexical_declaration" {
            // Module-level constants only; `const x = require(...)` is an import, not a definition.
            let end = node.end_byte().min(node.start_byte() + 200);
            let head = String::from_utf8_lossy(&src[node.start_byte()..end]);
            if !top_level(node) || head.contains("require(") {
                return;
            }
        }
        rows.push(row);
        return;
    }
    if kind == "function_definition" || kind == "method_declaration" {
        rows.push(row);
        return;
    }
    if CONTAINER_DEFS.contains(&kind) {
        // A struct/class specifier without a body is a use, not a definition.
        if node.child_by_field_name("body").is_some() || kind.ends_with("_item") {
            rows.push(row);
        }
    } else if is_definition_like(node, src) {
        rows.push(row);
        return;
    }
    let mut cursor = node.walk();
    for child in node.children(&mut cursor) {
        if child.is_named() {
            collect(child, src, depth + 1, rows);
        }
    }
}

/// Definitions that need a look at their shape: Java methods and fields, Go vars, C prototypes, Python
/// module constants.
fn is_definition_like(node: Node<'_>, src: &[u8]) -> bool {
    match node.kind() {
        "field_declaration" => {
            // Java constants: static final fields.
            let mut cursor = node.walk();
            node.children(&mut cursor).any(|c| {
                c.kind() == "modifiers" && {
                    let mut inner = c.walk();
                    let kinds: Vec<&str> = c.children(&mut inner).map(|m| m.kind()).collect();
                    kinds.contains(&"static") && kinds.contains(&"final")
                }
            })
        }
        "var_declaration" => top_level(node),
        "declaration" => {
            // C/C++ prototypes at file or namespace level.
            top_level(node) && {
                let mut cursor = node.walk();
                node.children(&mut cursor)
                    .any(|c| c.kind() == "function_declarator")
            }
        }
        "expression_statement" => {
            // Python: UPPER_CASE = ... at module level.
            top_level(node)
                && node.named_child(0).is_some_and(|a| {
                    a.kind() == "assignment"
                        && a.child_by_field_name("left").is_some_and(|l| {
                            let name = &src[l.start_byte()..l.end_byte()];
                            l.kind() == "identifier"
                                && name.len() > 1
                                && name.iter().all(|b| {
                                    b.is_ascii_uppercase() || b.is_ascii_digit() || *b == b'_'
                                })
                        })
                })
        }
        _ => false,
    }
}

fn top_level(node: Node<'_>) -> bool {
    let mut parent = node.parent();
    while let Some(p) = parent {
        match p.kind() {
            "program" | "source_file" | "translation_unit" | "module" => return true,
            "export_statement" | "declaration_list" | "namespace_definition" => {
                parent = p.parent();
            }
            _ => return false,
        }
    }
    false
}

/// A compact tree of `paths` (sorted, '/'-separated) in at most about `max_bytes`: one line per directory
/// with its file names and its subdirectories. When the whole tree is too large, directories below some depth
/// are folded into their parent as `name/ (N files)`, and very long file lists are cut with a count.
pub fn path_tree(paths: &[&str], max_bytes: usize) -> String {
    use std::collections::HashMap;
    type Map<K, V> = HashMap<K, V, super::rank::Quick>;
    struct Dir<'a> {
        path: &'a str,
        depth: usize,
        files: Vec<&'a str>,
        /// Files here and below.
        total: usize,
        /// Subdirectories, by their place in `dirs`, in order.
        children: Vec<usize>,
    }
    fn parent(dir: &str) -> &str {
        dir.rsplit_once('/').map_or("", |(parent, _)| parent)
    }
    // Each directory's files (in the order given), then its total and its ancestors', one walk up per
    // directory.
    let mut files: Map<&str, Vec<&str>> = Map::default();
    for path in paths {
        let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
        files.entry(dir).or_default().push(name);
    }
    let mut totals: Map<&str, usize> = Map::default();
    totals.insert("", 0);
    for (dir, names) in &files {
        let mut at = *dir;
        loop {
            *totals.entry(at).or_default() += names.len();
            if at.is_empty() {
                break;
            }
            at = parent(at);
        }
    }
    let mut order: Vec<&str> = totals.keys().copied().collect();
    order.sort_unstable();
    let mut dirs: Vec<Dir<'_>> = order
        .iter()
        .map(|&path| Dir {
            path,
            depth: if path.is_empty() {
                0
            } else {
                path.matches('/').count() + 1
            },
            files: files.remove(path).unwrap_or_default(),
            total: totals[path],
            children: Vec::new(),
        })
        .collect();
    let place: Map<&str, usize> = order.iter().enumerate().map(|(i, &d)| (d, i)).collect();
    for (i, dir) in order.iter().enumerate().skip(1) {
        dirs[place[parent(dir)]].children.push(i);
    }
    let max_depth = dirs.iter().map(|d| d.depth).max().unwrap_or(0);
    let render = |limit: usize, names_per_line: usize| -> String {
        let mut out = String::new();
        for dir in &dirs {
            // A directory with no files of its own says nothing its subdirectories' lines do not.
            if dir.depth > limit || (dir.files.is_empty() && dir.depth < limit) {
                continue;
            }
            out.push_str(if dir.path.is_empty() { "./" } else { dir.path });
            if !dir.path.is_empty() {
                out.push('/');
            }
            out.push(':');
            for name in dir.files.iter().take(names_per_line) {
                out.push(' ');
                out.push_str(name);
            }
            if dir.files.len() > names_per_line {
                out.push_str(&format!(" … +{} files", dir.files.len() - names_per_line));
            }
            if dir.depth == limit {
                // Fold the subdirectories into this line.
                let prefix = if dir.path.is_empty() {
                    0
                } else {
                    dir.path.len() + 1
                };
                for &c in &dir.children {
                    let sub = &dirs[c];
                    out.push_str(&format!(" {}/ ({} files)", &sub.path[prefix..], sub.total));
                }
            }
            out.push('\n');
        }
        out
    };
    // The size grows with the depth: find the deepest that fits by bisection, with all names, then with
    // shortened file lists.
    for names in [usize::MAX, 40, 12] {
        let full = render(max_depth, names);
        if full.len() <= max_bytes {
            return full;
        }
        let (mut lo, mut hi) = (0usize, max_depth);
        let mut best = None;
        // Invariant: depth hi does not fit.
        while lo < hi {
            let mid = (lo + hi) / 2;
            let text = render(mid, names);
            if text.len() <= max_bytes {
                best = Some(text);
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        if let Some(text) = best {
            return text;
        }
    }
    let text = render(0, 12);
    let mut cut = String::new();
    for line in text.lines() {
        if cut.len() + line.len() + 1 > max_bytes {
            break;
        }
        cut.push_str(line);
        cut.push('\n');
    }
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_of(path: &str, text: &str) -> Vec<String> {
        let (out, _) = outline(path, text).expect("an outline");
        out.lines()
            .map(|l| l.split_once(": ").unwrap().1.trim().to_string())
            .collect()
    }

    #[test]
    fn rust_items_and_methods() {
        let text = "use std::io;\n\npub struct Config {\n    port: u16,\n}\n\nimpl Config {\n    pub fn load(path: &str) -> Config {\n        let x = 1;\n        Config { port: x }\n    }\n}\n\npub const LIMIT: usize = 4;\n";
        assert_eq!(
            lines_of("src/config.rs", text),
            [
                "pub struct Config {",
                "impl Config {",
                "pub fn load(path: &str) -> Config {",
                "pub const LIMIT: usize = 4;"
            ]
        );
        let (_, method) = outline("src/config.rs", text).unwrap();
        assert_eq!(method, Method::TreeSitter);
    }

    #[test]
    fn python_classes_methods_and_constants() {
        let text = "import os\n\nMAX_RETRIES = 3\n\nclass Client(Base):\n    \"\"\"Doc.\"\"\"\n\n    @property\n    def url(self):\n        return self._url\n\n    def send(self, data,\n             timeout=3):\n        def inner():\n            pass\n        return inner\n\nif __name__ == '__main__':\n    x = 1\n";
        assert_eq!(
            lines_of("app/client.py", text),
            [
                "MAX_RETRIES = 3",
                "class Client(Base):",
                "def url(self):",
                "def send(self, data, timeout=3):"
            ]
        );
    }

    #[test]
    fn typescript_go_java_c() {
        let ts = "const fs = require('fs');\nexport interface Props { a: number }\nexport const DEFAULT = 3;\nexport function render(p: Props): string {\n  const inner = 1;\n  return '';\n}\nclass View {\n  draw(): void {}\n}\n";
        assert_eq!(
            lines_of("src/view.ts", ts),
            [
                "export interface Props { a: number }",
                "export const DEFAULT = 3;",
                "export function render(p: Props): string {",
                "class View {",
                "draw(): void {}"
            ]
        );
        let go = "package srv\n\ntype Server struct {\n\tport int\n}\n\nfunc (s *Server) Serve() error {\n\treturn nil\n}\n\nfunc New() *Server { return &Server{} }\n";
        assert_eq!(
            lines_of("srv/server.go", go),
            [
                "type Server struct {",
                "func (s *Server) Serve() error {",
                "func New() *Server { return &Server{} }"
            ]
        );
        let java = "package a;\npublic class Store {\n  public static final int MAX = 3;\n  private int n;\n  public Store() {}\n  public int size() { return n; }\n}\n";
        assert_eq!(
            lines_of("a/Store.java", java),
            [
                "public class Store {",
                "public static final int MAX = 3;",
                "public Store() {}",
                "public int size() { return n; }"
            ]
        );
        let c = "#include <stdio.h>\n#define LIMIT 4\nstruct buf { int n; };\nint read_all(struct buf *b);\nint read_all(struct buf *b) {\n  return b->n;\n}\n";
        assert_eq!(
            lines_of("src/io.c", c),
            [
                "#define LIMIT 4",
                "struct buf { int n; };",
                "int read_all(struct buf *b);",
                "int read_all(struct buf *b) {"
            ]
        );
    }

    #[test]
    fn the_tree_lists_everything_or_folds_deep_directories() {
        let paths = [
            "Cargo.toml",
            "src/main.rs",
            "src/pack/mod.rs",
            "src/pack/rank.rs",
            "tests/a.rs",
        ];
        let full = path_tree(&paths, 10_000);
        assert_eq!(
            full,
            "./: Cargo.toml\nsrc/: main.rs\nsrc/pack/: mod.rs rank.rs\ntests/: a.rs\n"
        );
        let folded = path_tree(&paths, 50);
        assert_eq!(folded, "./: Cargo.toml src/ (3 files) tests/ (1 files)\n");
        assert!(path_tree(&paths, 10).len() <= 10);
        // A sibling whose name continues the folded directory's (`a-b` sorts between `a` and `a/x`) does
        // not hide the folded directory's subdirectories.
        let paths = [
            "a/i.rs",
            "a/x/first.rs",
            "a/x/second.rs",
            "a/x/third.rs",
            "a/y/h.rs",
            "a-b/g.rs",
        ];
        let folded = "a/: i.rs x/ (3 files) y/ (1 files)\na-b/: g.rs\n";
        assert_eq!(path_tree(&paths, folded.len()), folded);
    }

    #[test]
    fn plain_text_fallback_and_nothing_to_outline() {
        let (out, method) = outline("docs/guide.md", "# Guide\ntext\n## Install\nmore\n").unwrap();
        assert_eq!(method, Method::PlainText);
        assert_eq!(out, "1: # Guide\n3: ## Install\n");
        assert_eq!(outline("notes.txt", "just words\n"), None);
    }
}
