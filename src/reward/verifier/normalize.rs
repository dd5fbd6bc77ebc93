//! String normalisation of a bare answer before parsing: delimiters, sizing and spacing
//! commands, fraction and binomial variants, degree signs, units and words after a value,
//! dollar and percent signs, thousands separators (`1,000` and `1,\!000` only), trailing periods.
//! Text commands (`\text`, `\mathrm`, ...) are kept for the lexer, which knows words from symbols.

use super::extract::matching_brace;

/// A normalised answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Normalized {
    /// The normalised LaTeX, single-spaced.
    pub text: String,
    /// Whether a percent sign (`%`, `\%`, "percent") was removed.
    pub percent: bool,
}

impl Normalized {
    /// The key compared by the string-equality rule: no spaces, except one between two digits.
    pub fn key(&self) -> String {
        let chars: Vec<char> = self.text.chars().collect();
        let mut out = String::with_capacity(chars.len());
        for (k, &c) in chars.iter().enumerate() {
            if c == ' ' {
                let prev = out.chars().last();
                let next = chars.get(k + 1);
                if prev.is_some_and(|p| p.is_ascii_digit())
                    && next.is_some_and(|n| n.is_ascii_digit())
                {
                    out.push(' ');
                }
                continue;
            }
            out.push(c);
        }
        out
    }
}

/// Normalises a bare answer (see the module documentation).
pub fn normalize(answer: &str) -> Normalized {
    let mut s = replace_unicode(answer);
    s = unwrap_command(&s, "\\boxed");
    s = unwrap_command(&s, "\\fbox");
    s = s.replace("\\$", " ");
    s = s.replace('$', " ");
    for d in ["\\[", "\\]", "\\(", "\\)"] {
        s = s.replace(d, " ");
    }
    let mut percent = s.contains('%');
    s = s.replace("\\%", " ").replace('%', " ");
    s = join_thousands_marked(&s);
    s = remove_sizing(&s);
    s = remove_spacing(&s);
    for (name, to) in [
        ("\\qquad", " "),
        ("\\quad", " "),
        ("\\displaystyle", " "),
        ("\\textstyle", " "),
        ("\\limits", " "),
        ("\\dfrac", "\\frac"),
        ("\\tfrac", "\\frac"),
        ("\\cfrac", "\\frac"),
        ("\\dbinom", "\\binom"),
        ("\\tbinom", "\\binom"),
        ("\\lbrace", "\\{"),
        ("\\rbrace", "\\}"),
        ("\\lbrack", "["),
        ("\\rbrack", "]"),
        ("\\langle", "("),
        ("\\rangle", ")"),
        ("\\lvert", "|"),
        ("\\rvert", "|"),
        ("\\vert", "|"),
        ("\\emptyset", "\\{\\}"),
        ("\\varnothing", "\\{\\}"),
        ("\\infin", "\\infty"),
    ] {
        s = replace_command(&s, name, to);
    }
    for r in ["\\mathbb{R}", "\\mathbb R", "\\R"] {
        if s.trim() == r {
            s = "(-\\infty,\\infty)".into();
        }
    }
    s = remove_degrees(&s);
    for (from, to) in [
        ("^{\\prime\\prime}", "''"),
        ("^{\\prime}", "'"),
        ("^\\prime", "'"),
    ] {
        s = s.replace(from, to);
    }
    s = collapse_spaces(&s);
    s = split_words(&s);
    let (stripped, unit_percent) = strip_units(&s);
    percent |= unit_percent;
    s = stripped;
    s = trim_trailing_punctuation(&s);
    s = join_thousands_plain(&s);
    Normalized {
        text: collapse_spaces(&s),
        percent,
    }
}

/// `\!` removed; `\,`, `\;`, `\:`, `\ `, `~` and line breaks as spaces; `\\` kept.
fn remove_spacing(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.peek() {
                Some('\\') => {
                    out.push_str("\\\\");
                    chars.next();
                }
                Some('!') => {
                    chars.next();
                }
                Some(',' | ';' | ':' | ' ') => {
                    out.push(' ');
                    chars.next();
                }
                _ => out.push('\\'),
            },
            '~' | '\n' | '\t' | '\r' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

fn replace_unicode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\u{2212}' | '\u{2013}' | '\u{2014}' => out.push('-'),
            '\u{00d7}' => out.push_str("\\times "),
            '\u{00b7}' | '\u{22c5}' => out.push_str("\\cdot "),
            '\u{00f7}' => out.push_str("\\div "),
            '\u{03c0}' => out.push_str("\\pi "),
            '\u{221a}' => out.push_str("\\sqrt"),
            '\u{2264}' => out.push_str("\\le "),
            '\u{2265}' => out.push_str("\\ge "),
            '\u{2260}' => out.push_str("\\ne "),
            '\u{221e}' => out.push_str("\\infty "),
            '\u{00b0}' => out.push_str("^\\circ "),
            '\u{222a}' => out.push_str("\\cup "),
            '\u{00b1}' => out.push_str("\\pm "),
            '\u{2208}' => out.push_str("\\in "),
            '\u{00a0}' | '\u{2009}' | '\u{202f}' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

/// Whether the command `name` (with backslash) starts at byte `i` of `s` and is not a prefix
/// of a longer command name.
fn command_at(s: &str, i: usize, name: &str) -> bool {
    s[i..].starts_with(name)
        && s.as_bytes()
            .get(i + name.len())
            .is_none_or(|c| !c.is_ascii_alphabetic())
}

/// Replaces every whole command `name` by `to`.
fn replace_command(s: &str, name: &str, to: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s.as_bytes()[i] == b'\\' && command_at(s, i, name) {
            out.push_str(to);
            i += name.len();
        } else {
            let c = s[i..].chars().next().unwrap_or(' ');
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// Replaces `\cmd{X}` by `X` everywhere.
fn unwrap_command(s: &str, name: &str) -> String {
    let mut out = s.to_string();
    loop {
        let Some(i) = find_command(&out, name) else {
            return out;
        };
        let bytes = out.as_bytes();
        let mut j = i + name.len();
        while j < bytes.len() && bytes[j] == b' ' {
            j += 1;
        }
        if j < bytes.len()
            && bytes[j] == b'{'
            && let Some(end) = matching_brace(bytes, j)
        {
            out = format!("{}{}{}", &out[..i], &out[j + 1..end], &out[end + 1..]);
            continue;
        }
        out = format!("{}{}", &out[..i], &out[i + name.len()..]);
    }
}

fn find_command(s: &str, name: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(k) = s[from..].find(name) {
        let i = from + k;
        if command_at(s, i, name) {
            return Some(i);
        }
        from = i + name.len();
    }
    None
}

/// `1,\!000` and `1{,}000`: a comma marked as a thousands separator between digits.
fn join_thousands_marked(s: &str) -> String {
    let mut out = s.to_string();
    for marker in [",\\!", "{,}"] {
        let mut result = String::with_capacity(out.len());
        let mut rest = out.as_str();
        while let Some(k) = rest.find(marker) {
            let before = &rest[..k];
            let after = rest[k + marker.len()..].trim_start();
            let digits = after.bytes().take_while(u8::is_ascii_digit).count();
            result.push_str(before);
            if before.ends_with(|c: char| c.is_ascii_digit()) && digits == 3 {
                rest = after;
            } else {
                result.push_str(if marker == "{,}" { "," } else { ", " });
                rest = &rest[k + marker.len()..];
            }
        }
        result.push_str(rest);
        out = result;
    }
    out
}

/// `12,345,678` (the whole answer) without its commas.
fn join_thousands_plain(s: &str) -> String {
    let t = s.trim();
    let body = t.strip_prefix(['-', '+']).unwrap_or(t);
    let (int, frac) = match body.split_once('.') {
        Some((a, b)) => (a, Some(b)),
        None => (body, None),
    };
    let groups: Vec<&str> = int.split(',').collect();
    let ok = groups.len() > 1
        && (1..=3).contains(&groups[0].len())
        && groups
            .iter()
            .all(|g| !g.is_empty() && g.bytes().all(|c| c.is_ascii_digit()))
        && groups[1..].iter().all(|g| g.len() == 3)
        && frac.is_none_or(|f| !f.is_empty() && f.bytes().all(|c| c.is_ascii_digit()));
    if ok {
        t.replace(',', "")
    } else {
        s.to_string()
    }
}

/// Drops `\left`, `\right` (with a `.` delimiter) and `\big`-style sizes, keeping delimiters.
fn remove_sizing(s: &str) -> String {
    let mut out = s.to_string();
    for name in [
        "\\left", "\\right", "\\middle", "\\bigl", "\\bigr", "\\Bigl", "\\Bigr", "\\biggl",
        "\\biggr", "\\Biggl", "\\Biggr", "\\bigg", "\\Bigg", "\\big", "\\Big",
    ] {
        let mut result = String::with_capacity(out.len());
        let mut i = 0;
        while i < out.len() {
            if out.as_bytes()[i] == b'\\' && command_at(&out, i, name) {
                i += name.len();
                let rest = &out[i..];
                let trimmed = rest.trim_start();
                if trimmed.starts_with('.') {
                    i += rest.len() - trimmed.len() + 1;
                }
                result.push(' ');
            } else {
                let c = out[i..].chars().next().unwrap_or(' ');
                result.push(c);
                i += c.len_utf8();
            }
        }
        out = result;
    }
    out
}

fn remove_degrees(s: &str) -> String {
    let mut out = s.to_string();
    for pat in [
        "^{\\circ}",
        "^{ \\circ}",
        "^{\\circ }",
        "^{ \\circ }",
        "^\\circ",
        "^{\\degree}",
        "^\\degree",
    ] {
        out = out.replace(pat, " ");
    }
    out = replace_command(&out, "\\circ", " ");
    replace_command(&out, "\\degree", " ")
}

fn collapse_spaces(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `a \text{ or } b`, `a or b`, `a and b`: list separators.
fn split_words(s: &str) -> String {
    let mut out = s.to_string();
    for w in ["or", "and"] {
        for cmd in ["\\text", "\\mbox", "\\textrm", "\\mathrm"] {
            for pat in [
                format!("{cmd}{{ {w} }}"),
                format!("{cmd}{{{w}}}"),
                format!("{cmd}{{ {w}}}"),
                format!("{cmd}{{{w} }}"),
            ] {
                out = out.replace(&pat, ",");
            }
        }
        out = out.replace(&format!(" {w} "), ", ");
    }
    out
}

const TEXT_COMMANDS: [&str; 8] = [
    "\\text",
    "\\textrm",
    "\\textnormal",
    "\\textit",
    "\\textbf",
    "\\mbox",
    "\\mathrm",
    "\\textup",
];

const UNIT_WORDS: [&str; 78] = [
    "cm", "mm", "km", "meters", "meter", "metres", "metre", "inches", "inch", "feet", "foot", "ft",
    "yards", "yard", "yd", "miles", "mile", "units", "unit", "degrees", "degree", "deg", "radians",
    "dollars", "dollar", "cents", "cent", "hours", "hour", "hrs", "hr", "minutes", "minute",
    "mins", "min", "seconds", "second", "sec", "secs", "days", "day", "weeks", "week", "months",
    "month", "years", "year", "kg", "grams", "gram", "pounds", "pound", "lbs", "lb", "ounces",
    "oz", "liters", "liter", "litres", "litre", "ml", "gallons", "gallon", "mph", "percent", "sq",
    "square", "cubic", "people", "students", "ways", "points", "marbles", "balls", "numbers",
    "integers", "cups", "pages",
];

/// Removes unit text groups and unit words that follow a value (repeatedly, from the end).
/// Returns the remaining answer and whether a "percent" unit was removed.
fn strip_units(s: &str) -> (String, bool) {
    let mut out = s.trim().to_string();
    let mut percent = false;
    loop {
        let (body, power) = split_unit_power(&out);
        let body = body.trim_end();
        if let Some((start, content)) = trailing_text_group(body) {
            let before = body[..start].trim_end();
            if is_unit_text(&content) && before.bytes().any(|c| c.is_ascii_digit()) {
                percent |= content.trim().eq_ignore_ascii_case("percent");
                out = before.to_string();
                continue;
            }
        }
        let word_start = body
            .char_indices()
            .rev()
            .take_while(|(_, c)| c.is_ascii_alphabetic())
            .last()
            .map(|(k, _)| k);
        if let Some(k) = word_start {
            let word = &body[k..];
            let before = body[..k].trim_end();
            let separated = body[..k].ends_with(' ')
                || before.ends_with(|c: char| c.is_ascii_digit() || c == '}');
            let is_command = before.ends_with('\\');
            if UNIT_WORDS.contains(&word.to_ascii_lowercase().as_str())
                && separated
                && !is_command
                && before.bytes().any(|c| c.is_ascii_digit())
                && !before.ends_with(['^', '_'])
            {
                percent |= word.eq_ignore_ascii_case("percent");
                out = before.to_string();
                continue;
            }
        }
        let _ = power;
        return (out, percent);
    }
}

/// Splits a trailing `^2`, `^3`, `^{2}`, `^{3}` off a unit.
fn split_unit_power(s: &str) -> (&str, &str) {
    for p in ["^{2}", "^{3}", "^2", "^3"] {
        if let Some(body) = s.strip_suffix(p)
            && (body.trim_end().ends_with('}') || body.ends_with(|c: char| c.is_ascii_alphabetic()))
        {
            return (body, p);
        }
    }
    (s, "")
}

/// The start and content of a text group (`\text{...}` and the like) ending `s`.
fn trailing_text_group(s: &str) -> Option<(usize, String)> {
    if !s.ends_with('}') {
        return None;
    }
    for cmd in TEXT_COMMANDS {
        let mut from = 0;
        let mut found = None;
        while let Some(k) = s[from..].find(cmd) {
            let i = from + k;
            if command_at(s, i, cmd) {
                found = Some(i);
            }
            from = i + cmd.len();
        }
        let Some(i) = found else { continue };
        let bytes = s.as_bytes();
        let mut j = i + cmd.len();
        while j < bytes.len() && bytes[j] == b' ' {
            j += 1;
        }
        if j < bytes.len() && bytes[j] == b'{' && matching_brace(bytes, j) == Some(s.len() - 1) {
            return Some((i, s[j + 1..s.len() - 1].to_string()));
        }
    }
    None
}

/// Whether a text group reads as a unit: a short run of letters (with `/`, `^`, digits).
fn is_unit_text(content: &str) -> bool {
    let c = content.trim();
    !c.is_empty()
        && c.len() <= 30
        && c.starts_with(|ch: char| ch.is_ascii_alphabetic())
        && c.chars().all(|ch| {
            ch.is_ascii_alphanumeric() || matches!(ch, ' ' | '/' | '^' | '.' | '{' | '}' | '-')
        })
}

fn trim_trailing_punctuation(s: &str) -> String {
    let mut t = s.trim();
    loop {
        let next = t
            .strip_suffix(['.', ',', ';', ':'])
            .filter(|r| !r.ends_with('\\'))
            .map(str::trim_end);
        match next {
            Some(r) if !r.is_empty() => t = r,
            _ => return t.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> String {
        normalize(s).text
    }

    #[test]
    fn delimiters_spacing_and_variants() {
        assert_eq!(n("$\\dfrac{1}{2}$"), "\\frac{1}{2}");
        assert_eq!(
            n("\\left( 3, \\frac{\\pi}{2} \\right)"),
            "( 3, \\frac{\\pi}{2} )"
        );
        assert_eq!(n("\\boxed{5}."), "5");
        assert_eq!(n("\\left.x\\right|"), "x |");
        assert_eq!(n("\\leftarrow"), "\\leftarrow");
    }

    #[test]
    fn thousands_only_in_thousands_form() {
        assert_eq!(n("10,\\!080"), "10080");
        assert_eq!(n("11,\\! 111,\\! 111,\\! 100"), "11111111100");
        assert_eq!(n("58,500"), "58500");
        assert_eq!(n("1,234,567.5"), "1234567.5");
        assert_eq!(n("2500,7500"), "2500,7500");
        assert_eq!(n("1,3,5"), "1,3,5");
        assert_eq!(n("(1,000)"), "(1,000)");
    }

    #[test]
    fn units_degrees_money_percent() {
        assert_eq!(n("5.4 \\text{ cents}"), "5.4");
        assert_eq!(n("15\\mbox{ cm}^2"), "15");
        assert_eq!(n("\\frac{270}7\\text{ degrees}"), "\\frac{270}7");
        assert_eq!(n("106^\\circ"), "106");
        assert_eq!(n("45^{\\circ}"), "45");
        assert_eq!(n("\\$18.90"), "18.90");
        assert_eq!(n("\\$32,\\!348"), "32348");
        assert_eq!(n("27 miles"), "27");
        assert_eq!(n("6.5 \\mathrm{~m}"), "6.5");
        assert_eq!(n("\\text{Evelyn}"), "\\text{Evelyn}");
        let p = normalize("62.5\\%");
        assert_eq!((p.text.as_str(), p.percent), ("62.5", true));
        assert_eq!(n("x \\text{ cm}"), "x \\text{ cm}");
    }

    #[test]
    fn word_separators() {
        assert_eq!(n("x=1 \\text{ or } x=2"), "x=1 , x=2");
        assert_eq!(n("3 and 4"), "3, 4");
    }

    #[test]
    fn key_keeps_spaces_between_digits_only() {
        assert_eq!(normalize("2 3").key(), "2 3");
        assert_eq!(normalize("x + 1").key(), "x+1");
    }
}
