//! The Markdown of a text widget, read into blocks the page renders as
//! elements: never HTML. Text stays text (a `<script>` in a note is shown,
//! not run), and a link is kept only when it goes to `http(s)://`, a path
//! on this server (`/...`) or an anchor (`#...`); any other (`javascript:`)
//! is shown as its text.
//!
//! The subset: `#`, `##`, `###` headings; paragraphs (lines joined until a
//! blank line); `-` or `*` lists; fenced code (```` ``` ````); `---`
//! rules; and inline `**strong**`, `*emphasis*` or `_emphasis_`,
//! `` `code` `` and `[text](url)`. Anything else reads as plain text.

/// A block of a text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Block {
    /// A heading of level 1 to 3.
    Heading(u8, Vec<Inline>),
    /// A paragraph.
    Paragraph(Vec<Inline>),
    /// A list's items.
    List(Vec<Vec<Inline>>),
    /// Fenced code, as written.
    Code(String),
    /// A horizontal rule.
    Rule,
}

/// A run of text within a block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Inline {
    /// Plain text.
    Text(String),
    /// Strong text.
    Strong(String),
    /// Emphasised text.
    Emphasis(String),
    /// Code.
    Code(String),
    /// A link to a safe address.
    Link {
        /// What it says.
        text: String,
        /// Where it goes.
        href: String,
    },
}

/// Reads `text` into blocks.
pub fn parse(text: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut paragraph: Vec<&str> = Vec::new();
    let mut list: Vec<Vec<Inline>> = Vec::new();
    let mut code: Option<String> = None;
    let flush =
        |paragraph: &mut Vec<&str>, list: &mut Vec<Vec<Inline>>, blocks: &mut Vec<Block>| {
            if !paragraph.is_empty() {
                let mut text = String::new();
                for line in paragraph.drain(..) {
                    if !text.is_empty() {
                        text.push(' ');
                    }
                    text.push_str(line);
                }
                blocks.push(Block::Paragraph(inline(&text)));
            }
            if !list.is_empty() {
                blocks.push(Block::List(std::mem::take(list)));
            }
        };
    for line in text.lines() {
        let trimmed = line.trim();
        if let Some(text) = code.as_mut() {
            if trimmed.starts_with("```") {
                blocks.push(Block::Code(std::mem::take(text)));
                code = None;
            } else {
                if !text.is_empty() {
                    text.push('\n');
                }
                text.push_str(line);
            }
            continue;
        }
        if trimmed.starts_with("```") {
            flush(&mut paragraph, &mut list, &mut blocks);
            code = Some(String::new());
        } else if trimmed.is_empty() {
            flush(&mut paragraph, &mut list, &mut blocks);
        } else if trimmed == "---" || trimmed == "***" {
            flush(&mut paragraph, &mut list, &mut blocks);
            blocks.push(Block::Rule);
        } else if let Some((level, rest)) = heading(trimmed) {
            flush(&mut paragraph, &mut list, &mut blocks);
            blocks.push(Block::Heading(level, inline(rest)));
        } else if let Some(item) = trimmed
            .strip_prefix("- ")
            .or_else(|| trimmed.strip_prefix("* "))
        {
            if !paragraph.is_empty() {
                flush(&mut paragraph, &mut list, &mut blocks);
            }
            list.push(inline(item.trim()));
        } else {
            if !list.is_empty() {
                flush(&mut paragraph, &mut list, &mut blocks);
            }
            paragraph.push(trimmed);
        }
    }
    if let Some(text) = code {
        blocks.push(Block::Code(text));
    }
    flush(&mut paragraph, &mut list, &mut blocks);
    blocks
}

fn heading(line: &str) -> Option<(u8, &str)> {
    let hashes = line.bytes().take_while(|b| *b == b'#').count();
    let rest = line[hashes..].strip_prefix(' ')?;
    ((1..=3).contains(&hashes)).then(|| (hashes as u8, rest.trim()))
}

/// Whether a link may go to `href`.
pub fn safe_href(href: &str) -> bool {
    let lower = href.to_ascii_lowercase();
    lower.starts_with("https://")
        || lower.starts_with("http://")
        || (href.starts_with('/') && !href.starts_with("//"))
        || href.starts_with('#')
}

/// Reads a block's text into runs.
pub fn inline(text: &str) -> Vec<Inline> {
    let mut runs = Vec::new();
    let mut plain = String::new();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        let run = match c {
            '`' => delimited(rest, "`").map(|(inner, after)| (Inline::Code(inner.into()), after)),
            '*' if rest.starts_with("**") => {
                delimited(rest, "**").map(|(inner, after)| (Inline::Strong(inner.into()), after))
            }
            '*' | '_' => delimited(rest, &rest[..1])
                .map(|(inner, after)| (Inline::Emphasis(inner.into()), after)),
            '[' => link(rest),
            _ => None,
        };
        match run {
            Some((run, after)) => {
                if !plain.is_empty() {
                    runs.push(Inline::Text(std::mem::take(&mut plain)));
                }
                runs.push(run);
                rest = after;
            }
            None => {
                plain.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    if !plain.is_empty() {
        runs.push(Inline::Text(plain));
    }
    runs
}

/// `rest` opens with `mark`: the text up to the closing `mark` (not
/// empty, and not opening or closing with a space: `2 * 3 * 4` is
/// arithmetic) and what follows it.
fn delimited<'a>(rest: &'a str, mark: &str) -> Option<(&'a str, &'a str)> {
    let body = rest.strip_prefix(mark)?;
    let end = body.find(mark)?;
    let inner = &body[..end];
    let tight = mark == "`" || inner.trim() == inner;
    (!inner.is_empty() && tight).then(|| (inner, &body[end + mark.len()..]))
}

/// `[text](href)`: a link when `href` is safe, else its text.
fn link(rest: &str) -> Option<(Inline, &str)> {
    let close = rest.find("](")?;
    let text = &rest[1..close];
    let after = &rest[close + 2..];
    let end = after.find(')')?;
    let href = after[..end].trim();
    let run = if safe_href(href) {
        Inline::Link {
            text: text.into(),
            href: href.into(),
        }
    } else {
        Inline::Text(text.into())
    };
    Some((run, &after[end + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Inline {
        Inline::Text(s.into())
    }

    #[test]
    fn blocks_are_read_in_order() {
        let blocks = parse("# Runbook\n\nFirst line\nsame paragraph\n\n- one\n- **two**\n\n---\n```\nlet x = 1;\n  <b>\n```\n## Next");
        assert_eq!(
            blocks,
            vec![
                Block::Heading(1, vec![text("Runbook")]),
                Block::Paragraph(vec![text("First line same paragraph")]),
                Block::List(vec![vec![text("one")], vec![Inline::Strong("two".into())]]),
                Block::Rule,
                Block::Code("let x = 1;\n  <b>".into()),
                Block::Heading(2, vec![text("Next")]),
            ]
        );
    }

    #[test]
    fn inline_runs_and_unclosed_marks() {
        assert_eq!(
            inline("a *b* `c` _d_ 2 * 3 **"),
            vec![
                text("a "),
                Inline::Emphasis("b".into()),
                text(" "),
                Inline::Code("c".into()),
                text(" "),
                Inline::Emphasis("d".into()),
                text(" 2 * 3 **"),
            ]
        );
    }

    #[test]
    fn only_safe_links_are_links() {
        assert_eq!(
            inline("[docs](https://example.org/a) [x](javascript:alert(1)) [home](/d/main) [p](//evil)"),
            vec![
                Inline::Link {
                    text: "docs".into(),
                    href: "https://example.org/a".into()
                },
                text(" "),
                text("x"),
                text(") "),
                Inline::Link {
                    text: "home".into(),
                    href: "/d/main".into()
                },
                text(" "),
                text("p"),
            ]
        );
    }

    #[test]
    fn html_is_text() {
        assert_eq!(
            parse("<script>alert(1)</script>"),
            vec![Block::Paragraph(vec![text("<script>alert(1)</script>")])]
        );
    }
}
