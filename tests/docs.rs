//! The documentation holds together: every relative link in a Markdown file reaches a file
//! of the repository (and, with `#anchor`, a heading in it), every path to a Markdown file
//! named in a source file exists, and the README stays a front door: short, with the two
//! commands first. No server, no database.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "docs/markdown.rs"]
mod markdown;

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};
use std::process::Command;

use markdown::{anchors, link_destinations, markdown_mentions, percent_decode, prose_lines};

const README_MAX_LINES: usize = 250;

/// The repository's files (paths relative to its root) and every directory holding one.
struct Repo {
    root: PathBuf,
    files: BTreeSet<PathBuf>,
    dirs: BTreeSet<PathBuf>,
}

impl Repo {
    fn load() -> Self {
        Self::at(PathBuf::from(env!("CARGO_MANIFEST_DIR")))
    }

    fn at(root: PathBuf) -> Self {
        let listed = git_files(&root).unwrap_or_else(|| walk(&root));
        // A file deleted but not yet staged is still in git's index.
        let files: BTreeSet<PathBuf> = listed
            .into_iter()
            .filter(|f| root.join(f).is_file())
            .collect();
        let dirs = files
            .iter()
            .flat_map(|f| f.ancestors().skip(1))
            .map(Path::to_path_buf)
            .collect();
        Self { root, files, dirs }
    }

    fn markdown_files(&self) -> impl Iterator<Item = &PathBuf> {
        self.files
            .iter()
            .filter(|f| f.extension().is_some_and(|e| e == "md"))
    }

    fn read(&self, file: &Path) -> Option<String> {
        std::fs::read_to_string(self.root.join(file)).ok()
    }

    /// Whether `target` (relative to the root, `..` already resolved) is a file or a
    /// directory of the repository.
    fn has(&self, target: &Path) -> bool {
        target.as_os_str().is_empty() || self.files.contains(target) || self.dirs.contains(target)
    }
}

/// Tracked files, and new ones not ignored; `None` outside a git checkout.
fn git_files(root: &Path) -> Option<Vec<PathBuf>> {
    let out = Command::new("git")
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .current_dir(root)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let listing = String::from_utf8(out.stdout).ok()?;
    Some(
        listing
            .split('\0')
            .filter(|f| !f.is_empty())
            .map(PathBuf::from)
            .collect(),
    )
}

/// Every file under `root`, skipping build output, dependencies and git's own directory.
fn walk(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(root.join(&dir))
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = entry.file_name();
            let path = dir.join(&name);
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                if !matches!(name.to_str(), Some("target" | "node_modules" | ".git")) {
                    pending.push(path);
                }
            } else {
                found.push(path);
            }
        }
    }
    found
}

/// `base.join(rel)` with `.` and `..` resolved; `None` when it climbs out of the repository.
fn resolve(base: &Path, rel: &str) -> Option<PathBuf> {
    let mut parts: Vec<Component> = Vec::new();
    let start = if rel.starts_with('/') {
        Path::new("")
    } else {
        base
    };
    for c in start.components().chain(Path::new(rel).components()) {
        match c {
            Component::Normal(_) => parts.push(c),
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
        }
    }
    Some(parts.iter().collect())
}

fn has_scheme(dest: &str) -> bool {
    let Some(colon) = dest.find(':') else {
        return false;
    };
    let scheme = &dest[..colon];
    !scheme.is_empty()
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// What is wrong with a link to `dest` from `from` (a Markdown file), if anything.
fn check_link(repo: &Repo, from: &Path, dest: &str) -> Option<String> {
    if dest.is_empty() {
        return Some("a link with no destination".to_owned());
    }
    if has_scheme(dest) || dest.starts_with("//") {
        return None;
    }
    let (path, anchor) = match dest.split_once('#') {
        Some((path, anchor)) => (path, Some(anchor)),
        None => (dest, None),
    };
    let path = percent_decode(path.split('?').next().unwrap_or(""));
    let base = from.parent().unwrap_or(Path::new(""));
    let target = if path.is_empty() {
        from.to_path_buf()
    } else {
        match resolve(base, &path) {
            Some(target) => target,
            None => return Some(format!("`{dest}` leaves the repository")),
        }
    };
    if !repo.has(&target) {
        return Some(format!("`{dest}`: no file {}", target.display()));
    }
    let anchor = anchor.filter(|a| !a.is_empty())?;
    if target.extension().is_none_or(|e| e != "md") {
        return None;
    }
    let text = repo.read(&target)?;
    let anchor = percent_decode(anchor).to_lowercase();
    if anchors(&text).contains(&anchor) {
        return None;
    }
    Some(format!(
        "`{dest}`: {} has no heading with the anchor #{anchor}",
        target.display()
    ))
}

/// Every broken relative link in `file`'s text, as `file:line: what`.
fn broken_links(repo: &Repo, file: &Path, text: &str) -> Vec<String> {
    let mut broken = Vec::new();
    for (i, line) in prose_lines(text).iter().enumerate() {
        for dest in link_destinations(line) {
            if let Some(problem) = check_link(repo, file, &dest) {
                broken.push(format!("{}:{}: {problem}", file.display(), i + 1));
            }
        }
    }
    broken
}

#[test]
fn every_relative_link_in_the_markdown_reaches_a_file_and_heading() {
    let repo = Repo::load();
    let markdown: Vec<_> = repo.markdown_files().collect();
    assert!(
        markdown.iter().any(|f| f.as_os_str() == "README.md"),
        "found no README.md under {}",
        repo.root.display()
    );
    let broken: Vec<String> = markdown
        .iter()
        .flat_map(|file| broken_links(&repo, file, &repo.read(file).unwrap_or_default()))
        .collect();
    assert!(
        broken.is_empty(),
        "links that lead nowhere:\n  {}",
        broken.join("\n  ")
    );
}

#[test]
fn every_markdown_file_a_source_names_exists() {
    let repo = Repo::load();
    let mut broken = Vec::new();
    for file in &repo.files {
        // Markdown is checked by its links; this harness spells out missing paths on purpose.
        if file.extension().is_some_and(|e| e == "md")
            || file.starts_with("tests/docs")
            || file.as_os_str() == "tests/docs.rs"
        {
            continue;
        }
        let Some(text) = repo.read(file) else {
            continue; // not text
        };
        for (line, mention) in markdown_mentions(&text) {
            // Written from the file's own directory (`../../README.md`) or from the root.
            let from = if mention.starts_with('.') {
                file.to_path_buf()
            } else {
                PathBuf::from("_")
            };
            if let Some(problem) = check_link(&repo, &from, &mention) {
                broken.push(format!("{}:{line}: {problem}", file.display()));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "Markdown files named but not there:\n  {}",
        broken.join("\n  ")
    );
}

#[test]
fn the_readme_is_short_and_starts_with_the_two_commands() {
    let repo = Repo::load();
    let readme = repo.read(Path::new("README.md")).expect("README.md");
    let lines = readme.lines().count();
    assert!(
        lines <= README_MAX_LINES,
        "README.md has {lines} lines; it is the front door, keep it to {README_MAX_LINES} \
         and move the rest to docs/"
    );
    let mut first_block = None;
    let mut in_block = false;
    for line in readme.lines() {
        if line.trim_start().starts_with("```") {
            if in_block {
                break;
            }
            in_block = true;
            first_block = Some(String::new());
        } else if in_block {
            first_block.get_or_insert_default().push_str(line);
            first_block.get_or_insert_default().push('\n');
        } else {
            assert!(
                !line.starts_with("## "),
                "README.md has a section ({line}) before its first code block: the two \
                 commands come first"
            );
        }
    }
    let block = first_block.expect("README.md has a code block");
    for command in ["scripts/dev", "scripts/test"] {
        assert!(
            block.contains(command),
            "README.md's first code block does not show `{command}`:\n{block}"
        );
    }
}

/// The link check itself, on a made-up repository, so that it is seen to fail.
mod checks {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// A repository of three files, in a directory of its own (not a git checkout).
    fn repo() -> Repo {
        static MADE: AtomicUsize = AtomicUsize::new(0);
        let n = MADE.fetch_add(1, Ordering::Relaxed);
        let root = std::env::temp_dir().join(format!("todo-api-docs-{}-{n}", std::process::id()));
        let files = [
            ("README.md", "# Home\n\n## Configuration\n"),
            (
                "docs/ops.md",
                "# Operations\n\n## Writes that bypass triggers\n",
            ),
            ("src/lib.rs", "//! A library.\n"),
        ];
        for (path, text) in files {
            let path = root.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        Repo::at(root)
    }

    fn problems(from: &str, text: &str) -> Vec<String> {
        let repo = repo();
        let problems = broken_links(&repo, Path::new(from), text);
        std::fs::remove_dir_all(&repo.root).unwrap();
        problems
    }

    #[test]
    fn a_link_to_a_missing_file_is_reported() {
        assert!(problems("README.md", "see [ops](docs/ops.md)").is_empty());
        assert!(problems("docs/ops.md", "[home](../README.md)").is_empty());
        assert!(problems("README.md", "[src](src/) and [lib](/src/lib.rs)").is_empty());
        assert_eq!(problems("README.md", "see [ops](docs/opps.md)").len(), 1);
        assert_eq!(problems("docs/ops.md", "[home](README.md)").len(), 1);
        assert_eq!(problems("README.md", "[out](../elsewhere.md)").len(), 1);
    }

    #[test]
    fn a_link_to_a_missing_heading_is_reported() {
        let text = "[a](docs/ops.md#writes-that-bypass-triggers) [b](#configuration)";
        assert!(problems("README.md", text).is_empty());
        let text = "[a](docs/ops.md#writes-that-bypass) [b](#configure)";
        assert_eq!(problems("README.md", text).len(), 2);
    }

    #[test]
    fn links_with_a_scheme_and_links_in_code_are_not_followed() {
        let text = "[a](https://neon.tech/x.md) [b](mailto:a@b.c) `[c](nowhere.md)`\n\
                    ```\n[d](nowhere.md)\n```\n";
        assert!(problems("README.md", text).is_empty());
    }
}
