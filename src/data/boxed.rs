//! Gold answers out of worked solutions: the last `\boxed{...}` (brace-matched), the text after
//! GSM8K's `####`, `$...$` stripping.

/// Content of the last `\boxed{...}` or `\fbox{...}` in `text`, braces matched (escaped `\{`,
/// `\}` do not count). `\boxed 5` (no braces) gives the single following token. `None` when there
/// is no box or the last one is unbalanced.
pub fn last_boxed(text: &str) -> Option<&str> {
    let start = ["\\boxed", "\\fbox"]
        .iter()
        .filter_map(|cmd| text.rfind(cmd).map(|i| (i, cmd.len())))
        .max_by_key(|&(i, _)| i)?;
    let after = &text[start.0 + start.1..];
    let trimmed = after.trim_start();
    if let Some(inner) = trimmed.strip_prefix('{') {
        let end = matching_brace(inner)?;
        Some(&inner[..end])
    } else if after.starts_with(' ') {
        // `\boxed 5`: one token, up to whitespace or the closing `$`.
        let end = trimmed
            .find(|c: char| c.is_whitespace() || c == '$')
            .unwrap_or(trimmed.len());
        (end > 0).then(|| &trimmed[..end])
    } else {
        None
    }
}

/// Byte offset of the `}` closing an already-opened brace in `s`.
fn matching_brace(s: &str) -> Option<usize> {
    let mut depth = 1usize;
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                chars.next(); // skip the escaped character (`\{`, `\}`, `\\`)
            }
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// GSM8K's gold: the text after the last `####`, trimmed, with thousands commas removed
/// (`#### 1,234` → `1234`). `None` when there is no `####` or nothing after it.
pub fn after_hashes(text: &str) -> Option<String> {
    let (_, tail) = text.rsplit_once("####")?;
    let answer: String = tail.trim().chars().filter(|&c| c != ',').collect();
    (!answer.is_empty()).then_some(answer)
}

/// Removes `$` signs and surrounding whitespace (`$\frac{1}{2}$` → `\frac{1}{2}`).
pub fn strip_dollars(text: &str) -> String {
    text.replace('$', "").trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_box_with_nested_and_escaped_braces() {
        assert_eq!(
            last_boxed(r"so \boxed{1} and \boxed{\frac{1}{2}}."),
            Some(r"\frac{1}{2}")
        );
        assert_eq!(last_boxed(r"\boxed{\{1,2\}}"), Some(r"\{1,2\}"));
        assert_eq!(
            last_boxed(r"\boxed{\left\{ x \right.}"),
            Some(r"\left\{ x \right.")
        );
        assert_eq!(last_boxed(r"$\fbox{7}$"), Some("7"));
        assert_eq!(last_boxed(r"\boxed{a} then \fbox{b}"), Some("b"));
        assert_eq!(last_boxed(r"answer $\boxed 5$."), Some("5"));
        assert_eq!(last_boxed(r"\boxed {x^2}"), Some("x^2"));
    }

    #[test]
    fn missing_or_unbalanced_box_is_none() {
        assert_eq!(last_boxed("no box here"), None);
        assert_eq!(last_boxed(r"\boxed{1"), None);
        assert_eq!(last_boxed(r"\boxed{1} \boxed{2"), None);
        assert_eq!(last_boxed(r"\boxedx"), None);
    }

    #[test]
    fn gsm8k_answers_and_dollars() {
        assert_eq!(after_hashes("a\nb\n#### 1,234").as_deref(), Some("1234"));
        assert_eq!(after_hashes("#### -5 ").as_deref(), Some("-5"));
        assert_eq!(after_hashes("no hashes"), None);
        assert_eq!(after_hashes("####   "), None);
        assert_eq!(strip_dollars(" $\\frac{1}{2}$ "), "\\frac{1}{2}");
    }
}
