//! Field paths into JSON rows: `answer`, `reward_model.ground_truth`, `final_answer[0]`, and
//! alternatives `answer|gt` (the first one present and not null wins).

use std::fmt;

use anyhow::{Result, bail};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// One step of a path: an object key or a list index.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

/// A parsed field path with alternatives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldPath {
    text: String,
    alternatives: Vec<Vec<Step>>,
}

impl FieldPath {
    /// Parses `a.b[0]|c` syntax.
    pub fn parse(text: &str) -> Result<Self> {
        let mut alternatives = Vec::new();
        for alt in text.split('|') {
            let alt = alt.trim();
            if alt.is_empty() {
                bail!("empty field path in {text:?}");
            }
            let mut steps = Vec::new();
            for part in alt.split('.') {
                let (name, mut rest) = match part.find('[') {
                    Some(i) => (&part[..i], &part[i..]),
                    None => (part, ""),
                };
                if name.is_empty() {
                    bail!("empty key in field path {text:?}");
                }
                steps.push(Step::Key(name.to_string()));
                while !rest.is_empty() {
                    let Some(close) = rest.find(']') else {
                        bail!("unclosed `[` in field path {text:?}");
                    };
                    let index = rest[1..close].trim().parse::<usize>().map_err(|_| {
                        anyhow::anyhow!("bad index {:?} in field path {text:?}", &rest[1..close])
                    })?;
                    steps.push(Step::Index(index));
                    rest = &rest[close + 1..];
                    if !rest.is_empty() && !rest.starts_with('[') {
                        bail!("unexpected {rest:?} after an index in field path {text:?}");
                    }
                }
            }
            alternatives.push(steps);
        }
        Ok(Self {
            text: text.to_string(),
            alternatives,
        })
    }

    /// The first alternative that resolves to a non-null value.
    pub fn lookup<'a>(&self, row: &'a Value) -> Option<&'a Value> {
        self.alternatives.iter().find_map(|steps| {
            let mut v = row;
            for step in steps {
                v = match step {
                    Step::Key(k) => v.get(k.as_str())?,
                    Step::Index(i) => v.get(*i)?,
                };
            }
            (!v.is_null()).then_some(v)
        })
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for FieldPath {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for FieldPath {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        FieldPath::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_keys_indices_and_alternatives() {
        let row = json!({"a": {"b": [10, {"c": "x"}]}, "n": null, "m": 5});
        assert_eq!(
            FieldPath::parse("a.b[0]").unwrap().lookup(&row),
            Some(&json!(10))
        );
        assert_eq!(
            FieldPath::parse("a.b[1].c").unwrap().lookup(&row),
            Some(&json!("x"))
        );
        assert_eq!(FieldPath::parse("a.b[2]").unwrap().lookup(&row), None);
        assert_eq!(
            FieldPath::parse("n|m").unwrap().lookup(&row),
            Some(&json!(5))
        );
        assert_eq!(FieldPath::parse("zz|a.q").unwrap().lookup(&row), None);
        let grid = json!({"g": [[1, 2], [3, 4]]});
        assert_eq!(
            FieldPath::parse("g[1][0]").unwrap().lookup(&grid),
            Some(&json!(3))
        );
    }

    #[test]
    fn malformed_paths_are_errors() {
        for bad in ["", "a..b", "a[", "a[x]", "a[0]b", "|a", "[0]"] {
            assert!(FieldPath::parse(bad).is_err(), "{bad:?}");
        }
    }
}
