//! What evaluation needs from an answer checker, as a trait so metrics and tests do not depend
//! on a particular verifier: a verdict for a response against the gold answer, the answer it
//! committed to, and whether two bare answers are the same (for majority voting).

/// The outcome of judging one response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judged {
    /// Whether the response's answer equals the gold answer.
    pub correct: bool,
    /// The answer taken from the response (`None` when it gave none).
    pub extracted: Option<String>,
}

/// An answer checker.
pub trait Judge {
    /// Judges a full model response against a bare gold answer.
    fn judge(&self, gold: &str, response: &str) -> Judged;
    /// Whether two bare answers are equivalent (should be symmetric).
    fn same_answer(&self, a: &str, b: &str) -> bool;
}

/// A minimal checker: the answer is the content of the last `\boxed{...}` and two answers are
/// equal when equal after removing whitespace, `$` and a trailing period. It knows no
/// mathematics (`0.5` ≠ `\frac12`); the maths verifier replaces it wherever one is available.
#[derive(Debug, Clone, Copy, Default)]
pub struct BoxedStringJudge;

impl BoxedStringJudge {
    fn key(answer: &str) -> String {
        let mut s: String = answer
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '$')
            .collect();
        while s.ends_with('.') {
            s.pop();
        }
        s
    }
}

impl Judge for BoxedStringJudge {
    fn judge(&self, gold: &str, response: &str) -> Judged {
        let extracted = last_boxed(response);
        let correct = extracted
            .as_deref()
            .is_some_and(|a| !Self::key(a).is_empty() && Self::key(a) == Self::key(gold));
        Judged { correct, extracted }
    }

    fn same_answer(&self, a: &str, b: &str) -> bool {
        Self::key(a) == Self::key(b)
    }
}

/// The content of the last `\boxed{...}` (or `\fbox{...}`) in `text`, braces balanced.
pub fn last_boxed(text: &str) -> Option<String> {
    let start = ["\\boxed{", "\\fbox{"]
        .iter()
        .filter_map(|m| text.rfind(m).map(|i| i + m.len()))
        .max()?;
    let mut depth = 1usize;
    for (i, c) in text[start..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(text[start..start + i].to_string());
                }
            }
            _ => {}
        }
    }
    None
}

/// The strict maths verifier as a judge: verdicts from `verify`, answer classes from
/// `equivalent`.
impl Judge for crate::reward::verifier::Verifier {
    fn judge(&self, gold: &str, response: &str) -> Judged {
        let v = self.verify(gold, response);
        Judged {
            correct: v.correct,
            extracted: v.extracted,
        }
    }

    fn same_answer(&self, a: &str, b: &str) -> bool {
        self.equivalent(a, b).correct
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_boxed_balances_braces_and_takes_the_last() {
        assert_eq!(
            last_boxed(r"so \boxed{1} or \boxed{\frac{1}{2}}."),
            Some(r"\frac{1}{2}".into())
        );
        assert_eq!(last_boxed(r"\fbox{7}"), Some("7".into()));
        assert_eq!(last_boxed(r"\boxed{\frac{1}{2}"), None);
        assert_eq!(last_boxed("no answer"), None);
    }

    #[test]
    fn boxed_string_judge_compares_normalised_strings() {
        let j = BoxedStringJudge;
        assert_eq!(
            j.judge("42", r"thus $\boxed{ 42 }$."),
            Judged {
                correct: true,
                extracted: Some(" 42 ".into())
            }
        );
        assert!(!j.judge("42", r"\boxed{43}").correct);
        assert!(!j.judge("", r"\boxed{}").correct);
        assert_eq!(j.judge("42", "42").extracted, None);
        assert!(j.same_answer("x + 1.", "x+1"));
        assert!(!j.same_answer("0.5", r"\frac12"));
    }
}
