//! Answer extraction from a model response: the last `\boxed{...}` (or `\fbox{...}`, or
//! `\boxed x` for a single token), else an explicit answer phrase. There is deliberately no
//! fallback to "the last number in the text": a response without either is wrong.

/// The answer a response commits to: the content of its last box, else the text after its last
/// answer phrase ("the final answer is X", "The answer is: X", "Final Answer: X", with `$...$`
/// or markdown bold around X). `None` when there is neither, or the last box is unterminated.
pub fn extract_answer(response: &str) -> Option<String> {
    match scan_boxes(response) {
        BoxScan::Found(s) => Some(s),
        BoxScan::Unterminated => None,
        BoxScan::None => answer_phrase(response),
    }
}

/// The content of the last complete, non-empty `\boxed{...}`/`\fbox{...}` in `text` (for gold
/// answers taken from a worked solution). `None` if there is none or the last is unterminated.
pub fn last_boxed(text: &str) -> Option<String> {
    match scan_boxes(text) {
        BoxScan::Found(s) => Some(s),
        _ => None,
    }
}

enum BoxScan {
    None,
    Found(String),
    Unterminated,
}

const BOX_COMMANDS: [&str; 2] = ["\\boxed", "\\fbox"];

/// Scans left to right for top-level boxes (boxes nested inside a box belong to it).
fn scan_boxes(text: &str) -> BoxScan {
    let bytes = text.as_bytes();
    let mut last = BoxScan::None;
    let mut i = 0;
    while i < bytes.len() {
        let Some(cmd_len) = box_command_at(text, i) else {
            i += 1;
            continue;
        };
        let mut j = i + cmd_len;
        while j < bytes.len() && (bytes[j] == b' ' || bytes[j] == b'\t') {
            j += 1;
        }
        if j < bytes.len() && bytes[j] == b'{' {
            match matching_brace(bytes, j) {
                Some(end) => {
                    let content = text[j + 1..end].trim();
                    if !content.is_empty() {
                        last = BoxScan::Found(content.to_string());
                    }
                    i = end + 1;
                }
                None => return BoxScan::Unterminated,
            }
        } else if j > i + cmd_len {
            // `\boxed 5`: a single token up to whitespace, `$` or the end.
            let start = j;
            while j < bytes.len() && !bytes[j].is_ascii_whitespace() && bytes[j] != b'$' {
                j += 1;
            }
            let token = text[start..j].trim_end_matches(['.', ',']);
            if !token.is_empty() {
                last = BoxScan::Found(token.to_string());
            }
            i = j;
        } else {
            i = j;
        }
    }
    last
}

/// Length of the box command starting at byte `i`, if one does (and is not a longer name).
fn box_command_at(text: &str, i: usize) -> Option<usize> {
    let rest = &text.as_bytes()[i..];
    for cmd in BOX_COMMANDS {
        if rest.starts_with(cmd.as_bytes()) {
            let next = rest.get(cmd.len());
            if next.is_none_or(|c| !c.is_ascii_alphabetic()) {
                return Some(cmd.len());
            }
        }
    }
    None
}

/// Index of the `}` closing the `{` at `open`; escaped braces `\{`, `\}` do not count.
pub(crate) fn matching_brace(bytes: &[u8], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut k = open;
    while k < bytes.len() {
        match bytes[k] {
            b'\\' => {
                k += 2;
                continue;
            }
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(k);
                }
            }
            _ => {}
        }
        k += 1;
    }
    None
}

const PHRASES: [&str; 5] = [
    "final answer is",
    "final answer",
    "the answer is",
    "answer is",
    "answer:",
];

/// The text after the last answer phrase.
fn answer_phrase(response: &str) -> Option<String> {
    let lower = response.to_ascii_lowercase();
    let mut best: Option<usize> = None;
    for p in PHRASES {
        if let Some(pos) = lower.rfind(p) {
            let end = pos + p.len();
            if best.is_none_or(|b| end > b) {
                best = Some(end);
            }
        }
    }
    let rest = &response[best?..];
    let rest = rest.trim_start_matches(|c: char| c.is_whitespace() || matches!(c, ':' | '*' | '_'));
    let captured = capture_delimited(rest).unwrap_or_else(|| {
        let line = rest.lines().next().unwrap_or("");
        let line = line.split("**").next().unwrap_or("");
        let line = line.split(". ").next().unwrap_or("");
        match capture_delimited(line.find('$').map_or("", |k| &line[k..])) {
            Some(inner) => inner,
            None => line,
        }
    });
    let answer = captured
        .trim()
        .trim_end_matches(|c: char| c == '.' || c == '*' || c.is_whitespace())
        .trim();
    if answer.is_empty() {
        None
    } else {
        Some(answer.to_string())
    }
}

/// The inside of `$$..$$`, `$..$`, `\(..\)` or `\[..\]` at the start of `s`.
fn capture_delimited(s: &str) -> Option<&str> {
    for (open, close) in [("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")] {
        if let Some(inner) = s.strip_prefix(open) {
            let end = inner.find(close)?;
            return Some(&inner[..end]);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_top_level_box_wins() {
        assert_eq!(
            extract_answer("a \\boxed{1} b \\boxed{2}").as_deref(),
            Some("2")
        );
        assert_eq!(
            extract_answer("\\boxed{\\frac{1}{2}}").as_deref(),
            Some("\\frac{1}{2}")
        );
        assert_eq!(extract_answer("\\fbox{7}").as_deref(), Some("7"));
        assert_eq!(extract_answer("so \\boxed 5.").as_deref(), Some("5"));
        assert_eq!(
            extract_answer("\\boxed{\\{1,2\\}}").as_deref(),
            Some("\\{1,2\\}")
        );
        assert_eq!(
            extract_answer("\\boxed{a \\boxed{b}}").as_deref(),
            Some("a \\boxed{b}")
        );
    }

    #[test]
    fn empty_or_unterminated_boxes() {
        assert_eq!(
            extract_answer("\\boxed{3} within \\boxed{}").as_deref(),
            Some("3")
        );
        assert_eq!(extract_answer("\\boxed{3} then \\boxed{4"), None);
        assert_eq!(extract_answer("the number 42"), None);
    }

    #[test]
    fn answer_phrases() {
        assert_eq!(
            extract_answer("Final Answer: **73**").as_deref(),
            Some("73")
        );
        assert_eq!(
            extract_answer("The final answer is $\\frac{1}{2}$. I hope").as_deref(),
            Some("\\frac{1}{2}")
        );
        assert_eq!(extract_answer("The answer is: 12.").as_deref(), Some("12"));
        assert_eq!(
            extract_answer("**Final Answer:** $x=3$").as_deref(),
            Some("x=3")
        );
        assert_eq!(
            extract_answer("Final answer\n\\[ 5 \\]").as_deref(),
            Some("5")
        );
        assert_eq!(
            extract_answer("The answer is 3.14. Done").as_deref(),
            Some("3.14")
        );
    }
}
