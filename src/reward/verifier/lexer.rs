//! Tokens of normalised LaTeX answers.

use super::extract::matching_brace;

/// A token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tok {
    /// A number literal as written: digits, optional `.digits`, optional exponent.
    Num(String),
    /// A single-letter (or Greek) variable name.
    Letter(String),
    /// A word of text (three or more letters that are not a function name, or `\text{...}`).
    Word(String),
    /// A command (name without the backslash), or a function name written without one.
    Cmd(String),
    /// A one-character operator or bracket.
    Op(char),
    /// `\\`, the matrix row separator.
    RowSep,
    /// The environment name after `\begin` or `\end`.
    Env(String),
}

/// Function and constant names recognised without a backslash.
const BARE_NAMES: [&str; 24] = [
    "sin", "cos", "tan", "cot", "sec", "csc", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh",
    "log", "ln", "exp", "sqrt", "lcm", "gcd", "max", "min", "pi", "infty", "floor", "ceil",
];

/// Font and text commands whose braced argument is either a word or inline maths.
const TEXT_COMMANDS: [&str; 17] = [
    "text",
    "textrm",
    "textnormal",
    "textit",
    "textbf",
    "textup",
    "textsf",
    "mbox",
    "mathrm",
    "mathbf",
    "mathit",
    "mathsf",
    "mathtt",
    "boldsymbol",
    "bm",
    "mathcal",
    "emph",
];

/// Splits a normalised answer into tokens.
pub fn tokenize(s: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    lex_into(s, &mut out, 0)?;
    Ok(out)
}

fn lex_into(s: &str, out: &mut Vec<Tok>, depth: usize) -> Result<(), String> {
    if depth > 8 {
        return Err("text groups nested too deeply".into());
    }
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c.is_ascii_digit()
            || (c == b'.' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit))
        {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            if i < bytes.len()
                && bytes[i] == b'.'
                && bytes.get(i + 1).is_some_and(u8::is_ascii_digit)
            {
                i += 1;
                while i < bytes.len() && bytes[i].is_ascii_digit() {
                    i += 1;
                }
            } else if i < bytes.len()
                && bytes[i] == b'.'
                && bytes.get(i + 1).is_some_and(|c| b"/*+-)]^".contains(c))
            {
                // `1./3`: a decimal point with no digits after it.
                i += 1;
            }
            if i < bytes.len() && (bytes[i] == b'e' || bytes[i] == b'E') {
                let mut j = i + 1;
                if j < bytes.len() && (bytes[j] == b'+' || bytes[j] == b'-') {
                    j += 1;
                }
                let digits_start = j;
                while j < bytes.len() && bytes[j].is_ascii_digit() {
                    j += 1;
                }
                let followed_by_letter = bytes.get(j).is_some_and(u8::is_ascii_alphabetic);
                if j > digits_start && !followed_by_letter {
                    i = j;
                }
            }
            out.push(Tok::Num(s[start..i].to_string()));
        } else if c.is_ascii_alphabetic() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
                i += 1;
            }
            push_letters(&s[start..i], out);
        } else if c == b'\\' {
            let start = i + 1;
            let mut j = start;
            while j < bytes.len() && bytes[j].is_ascii_alphabetic() {
                j += 1;
            }
            if j == start {
                // `\{`, `\}`, `\|`, `\\`, or a lone backslash.
                match bytes.get(start) {
                    Some(b'\\') => out.push(Tok::RowSep),
                    Some(_) => {
                        let ch = s[start..].chars().next().unwrap_or(' ');
                        out.push(Tok::Cmd(ch.to_string()));
                        j = start + ch.len_utf8();
                    }
                    None => return Err("lone backslash".into()),
                }
                i = if bytes.get(start) == Some(&b'\\') {
                    start + 1
                } else {
                    j
                };
                continue;
            }
            let name = &s[start..j];
            i = j;
            if name == "begin" || name == "end" {
                out.push(Tok::Cmd(name.to_string()));
                let mut k = i;
                while k < bytes.len() && bytes[k] == b' ' {
                    k += 1;
                }
                if k < bytes.len() && bytes[k] == b'{' {
                    let end = matching_brace(bytes, k).ok_or("unbalanced braces")?;
                    out.push(Tok::Env(s[k + 1..end].trim().to_string()));
                    i = end + 1;
                }
                continue;
            }
            if TEXT_COMMANDS.contains(&name) || name == "operatorname" {
                let mut k = i;
                while k < bytes.len() && bytes[k] == b' ' {
                    k += 1;
                }
                if k < bytes.len() && bytes[k] == b'{' {
                    let end = matching_brace(bytes, k).ok_or("unbalanced braces")?;
                    let content = s[k + 1..end].trim();
                    i = end + 1;
                    if name == "operatorname" {
                        out.push(Tok::Cmd(content.to_string()));
                    } else if is_word(content) {
                        out.push(Tok::Word(content.to_string()));
                    } else {
                        lex_into(content, out, depth + 1)?;
                    }
                }
                continue;
            }
            out.push(Tok::Cmd(name.to_string()));
        } else if c < 0x80 {
            out.push(Tok::Op(c as char));
            i += 1;
        } else {
            let ch = s[i..].chars().next().unwrap_or(' ');
            if ch.is_alphabetic() {
                out.push(Tok::Letter(ch.to_string()));
            } else {
                out.push(Tok::Op(ch));
            }
            i += ch.len_utf8();
        }
    }
    Ok(())
}

/// Text inside `\text{...}` that reads as words: at least two letters and nothing mathematical.
fn is_word(content: &str) -> bool {
    let letters = content.chars().filter(|c| c.is_alphabetic()).count();
    letters >= 2
        && content.chars().all(|c| {
            c.is_alphabetic() || matches!(c, ' ' | '.' | ',' | '\'' | '-' | '(' | ')' | '!' | '?')
        })
}

fn push_letters(run: &str, out: &mut Vec<Tok>) {
    if run.len() >= 2 && BARE_NAMES.contains(&run) {
        out.push(Tok::Cmd(run.to_string()));
        return;
    }
    if run.len() >= 3 {
        // `sinx`, `cosx`: a function name followed by one variable.
        for name in BARE_NAMES {
            if name.len() >= 3
                && run.len() == name.len() + 1
                && run.starts_with(name)
                && name != "infty"
            {
                out.push(Tok::Cmd(name.to_string()));
                out.push(Tok::Letter(run[name.len()..].to_string()));
                return;
            }
        }
        out.push(Tok::Word(run.to_string()));
        return;
    }
    for ch in run.chars() {
        out.push(Tok::Letter(ch.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_letters_commands() {
        let t = tokenize("2x+\\frac{1}{2}-4.5e33+3e^{2}").unwrap();
        assert_eq!(t[0], Tok::Num("2".into()));
        assert_eq!(t[1], Tok::Letter("x".into()));
        assert_eq!(t[3], Tok::Cmd("frac".into()));
        assert!(t.contains(&Tok::Num("4.5e33".into())));
        assert!(t.contains(&Tok::Num("3".into())));
        assert!(t.contains(&Tok::Letter("e".into())));
    }

    #[test]
    fn words_and_text_groups() {
        assert_eq!(
            tokenize("\\text{Evelyn}").unwrap(),
            vec![Tok::Word("Evelyn".into())]
        );
        assert_eq!(
            tokenize("\\text{(B)}").unwrap(),
            vec![Tok::Op('('), Tok::Letter("B".into()), Tok::Op(')')]
        );
        assert_eq!(tokenize("east").unwrap(), vec![Tok::Word("east".into())]);
        assert_eq!(
            tokenize("\\mathrm{e}").unwrap(),
            vec![Tok::Letter("e".into())]
        );
        assert_eq!(
            tokenize("sinx").unwrap(),
            vec![Tok::Cmd("sin".into()), Tok::Letter("x".into())]
        );
        assert_eq!(
            tokenize("\\operatorname{lcm}").unwrap(),
            vec![Tok::Cmd("lcm".into())]
        );
    }

    #[test]
    fn escapes() {
        assert_eq!(
            tokenize("\\{1\\} \\\\").unwrap(),
            vec![
                Tok::Cmd("{".into()),
                Tok::Num("1".into()),
                Tok::Cmd("}".into()),
                Tok::RowSep
            ]
        );
    }
}
