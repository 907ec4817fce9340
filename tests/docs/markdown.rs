//! Reading Markdown as GitHub does, as far as links go: which lines are prose, where links
//! point, what anchors headings get; and paths to Markdown files written in other text.

use std::collections::BTreeSet;

/// Lines of a Markdown file that are prose, not code: fenced blocks become empty lines.
pub fn prose_lines(text: &str) -> Vec<&str> {
    let mut fence: Option<(char, usize)> = None;
    text.lines()
        .map(|line| {
            let trimmed = line.trim_start();
            let indent = line.len() - trimmed.len();
            let marker = trimmed.chars().next().filter(|c| *c == '`' || *c == '~');
            let run = marker.map_or(0, |m| trimmed.chars().take_while(|c| *c == m).count());
            match (fence, marker) {
                (None, Some(m)) if run >= 3 && indent <= 3 => {
                    fence = Some((m, run));
                    ""
                }
                (Some((m, open)), Some(c))
                    if c == m && run >= open && trimmed[run..].trim().is_empty() =>
                {
                    fence = None;
                    ""
                }
                (Some(_), _) => "",
                (None, _) => line,
            }
        })
        .collect()
}

/// `line` without its code spans (`` `like this` ``), which hold no links.
fn without_code_spans(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(start) = rest.find('`') {
        out.push_str(&rest[..start]);
        let ticks = rest[start..].chars().take_while(|c| *c == '`').count();
        let fence = &rest[start..start + ticks];
        let after = &rest[start + ticks..];
        match find_closing_ticks(after, ticks) {
            Some(end) => rest = &after[end + ticks..],
            None => {
                out.push_str(fence);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn find_closing_ticks(text: &str, ticks: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'`' {
            let run = bytes[i..].iter().take_while(|b| **b == b'`').count();
            if run == ticks {
                return Some(i);
            }
            i += run;
        } else {
            i += 1;
        }
    }
    None
}

/// The destinations of inline links and images (`[text](dest "title")`) and of link
/// reference definitions (`[label]: dest`) in one line of prose.
pub fn link_destinations(line: &str) -> Vec<String> {
    let line = without_code_spans(line);
    let mut found = Vec::new();
    let trimmed = line.trim_start();
    if trimmed.starts_with('[')
        && let Some(close) = trimmed.find("]:")
    {
        let dest = trimmed[close + 2..].split_whitespace().next().unwrap_or("");
        found.push(
            dest.trim_start_matches('<')
                .trim_end_matches('>')
                .to_owned(),
        );
    }
    let mut rest = line.as_str();
    while let Some(at) = rest.find("](") {
        let after = &rest[at + 2..];
        let dest = if let Some(bracketed) = after.strip_prefix('<') {
            bracketed.split('>').next().unwrap_or("")
        } else {
            let end = after
                .find(|c: char| c.is_whitespace() || c == ')')
                .unwrap_or(after.len());
            &after[..end]
        };
        found.push(dest.to_owned());
        rest = after;
    }
    found
}

/// The anchors GitHub gives a Markdown file's headings (`## Running on Neon` is
/// `#running-on-neon`; a repeated heading gets `-1`, `-2`, …), and any `id`/`name` set in
/// HTML.
pub fn anchors(text: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut anchors = BTreeSet::new();
    let lines = prose_lines(text);
    for (i, line) in lines.iter().enumerate() {
        let heading = atx_heading(line).or_else(|| {
            let next = lines.get(i + 1)?.trim();
            let underline = next.len() >= 3
                && (next.chars().all(|c| c == '=') || next.chars().all(|c| c == '-'));
            let is_paragraph = !line.trim().is_empty()
                && !line
                    .trim_start()
                    .starts_with(['|', '-', '*', '>', '#', '<']);
            (underline && is_paragraph).then(|| line.trim().to_owned())
        });
        if let Some(heading) = heading {
            let base = slug(&heading);
            let mut anchor = base.clone();
            let mut n = 0;
            while !seen.insert(anchor.clone()) {
                n += 1;
                anchor = format!("{base}-{n}");
            }
            anchors.insert(anchor);
        }
        for attr in ["id=\"", "name=\""] {
            let mut rest = *line;
            while let Some(at) = rest.find(attr) {
                let value = &rest[at + attr.len()..];
                if let Some(end) = value.find('"') {
                    anchors.insert(value[..end].to_owned());
                }
                rest = value;
            }
        }
    }
    anchors
}

fn atx_heading(line: &str) -> Option<String> {
    let trimmed = line.trim_start();
    if line.len() - trimmed.len() > 3 {
        return None;
    }
    let level = trimmed.chars().take_while(|c| *c == '#').count();
    let text = &trimmed[level..];
    if !(1..=6).contains(&level) || !(text.is_empty() || text.starts_with([' ', '\t'])) {
        return None;
    }
    let text = text.trim();
    let text = text.trim_end_matches('#');
    Some(text.trim().to_owned())
}

/// GitHub's anchor for a heading: its text as shown (links by their text, no code or
/// emphasis markers), lowercased, spaces to `-`, punctuation other than `-` and `_` dropped.
pub fn slug(heading: &str) -> String {
    let mut shown = String::new();
    let mut rest = heading;
    // `[text](url)` shows as `text`.
    while let Some(open) = rest.find('[') {
        let Some(mid) = rest[open..].find("](") else {
            break;
        };
        let Some(close) = rest[open + mid..].find(')') else {
            break;
        };
        shown.push_str(&rest[..open]);
        shown.push_str(&rest[open + 1..open + mid]);
        rest = &rest[open + mid + close + 1..];
    }
    shown.push_str(rest);
    shown
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            '-' | '_' => Some(c),
            c if c.is_alphanumeric() => Some(c),
            _ => None,
        })
        .collect()
}

/// `%20` and friends, as a browser would decode a link before asking for the file.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Paths to Markdown files written out in any text (`docs/testing.md`,
/// `../../README.md#configuration`): those with a directory in them, so a bare word such as
/// a package's `README.md` is not taken for one of ours.
pub fn markdown_mentions(text: &str) -> Vec<(usize, String)> {
    let is_path_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | '-');
    let mut found = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let mut rest = line;
        let mut consumed = 0;
        while let Some(at) = rest.find(".md") {
            let end = at + 3;
            let start = rest[..at]
                .char_indices()
                .rev()
                .take_while(|(_, c)| is_path_char(*c))
                .last()
                .map_or(at, |(j, _)| j);
            let follows = rest[end..].chars().next();
            let in_url = line[..consumed + start].ends_with(':');
            let mut mention = rest[start..end].to_owned();
            if follows.is_none_or(|c| !c.is_ascii_alphanumeric())
                && mention.contains('/')
                && !mention.starts_with("//")
                && !in_url
            {
                if follows == Some('#') {
                    let anchor: String = rest[end + 1..]
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || matches!(c, '-' | '_'))
                        .collect();
                    mention = format!("{mention}#{anchor}");
                }
                found.push((i + 1, mention));
            }
            consumed += end;
            rest = &rest[end..];
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_holds_no_links() {
        let text = "[a](one.md) `[b](two.md)` ``[c](`x`)``\n```\n[d](three.md)\n```\n[e](four.md)";
        let found: Vec<_> = prose_lines(text)
            .iter()
            .flat_map(|line| link_destinations(line))
            .collect();
        assert_eq!(found, ["one.md", "four.md"]);
    }

    #[test]
    fn an_anchor_must_name_a_heading_of_the_target() {
        let text = "# Title\n\n## Running on Neon\n\n## `serve`, `check`: exit codes\n\n\
                    ```sh\n# not a heading\n```\n## Limits\n## Limits\n";
        let found = anchors(text);
        for anchor in [
            "title",
            "running-on-neon",
            "serve-check-exit-codes",
            "limits",
            "limits-1",
        ] {
            assert!(found.contains(anchor), "{anchor} not in {found:?}");
        }
        assert!(!found.contains("not-a-heading"));
        assert!(!found.contains("Running on Neon"));
    }

    #[test]
    fn slugs_follow_github() {
        assert_eq!(
            slug("Switching from the Python backend"),
            "switching-from-the-python-backend"
        );
        assert_eq!(
            slug("What `LIST_CACHE_MAX_AGE` bounds"),
            "what-list_cache_max_age-bounds"
        );
        assert_eq!(slug("Faults & fuzzing (CI)"), "faults--fuzzing-ci");
        assert_eq!(slug("See [the bench](bench/README.md)"), "see-the-bench");
    }

    #[test]
    fn a_source_mentions_markdown_by_path() {
        let text = "// see docs/testing.md#running-a-subset, not https://x.io/y/README.md\n\
                    include_str!(\"../../README.md\") and a package's README.md";
        let found: Vec<_> = markdown_mentions(text)
            .into_iter()
            .map(|(_, m)| m)
            .collect();
        assert_eq!(
            found,
            ["docs/testing.md#running-a-subset", "../../README.md"].map(String::from)
        );
    }
}
