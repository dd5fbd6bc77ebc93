//! Jinja chat templates rendered with minijinja the way transformers renders them.
//!
//! transformers compiles `chat_template` with jinja2 `trim_blocks=True, lstrip_blocks=True`, the
//! `loopcontrols` extension, a `raise_exception` function, a `strftime_now` function and its own
//! `tojson` filter (plain `json.dumps`, no HTML escaping), and passes `messages`, `tools`,
//! `documents`, `add_generation_prompt` and the tokenizer's special tokens (`bos_token`,
//! `eos_token`, …) to the template. [`ChatTemplate`] reproduces that environment; Python string
//! and dict methods (`.strip()`, `.split()`, `.items()`, …) come from `minijinja-contrib`'s
//! `pycompat` callback.

use anyhow::{Context, Result, anyhow};
use minijinja::value::{Kwargs, Value};
use minijinja::{Environment, Error, ErrorKind};
use serde::{Deserialize, Serialize};

use super::config::TokenizerConfig;
use super::python_json::python_json_dumps;

/// One chat message: a role (`system`, `user`, `assistant`, …) and its text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// The speaker: `system`, `user`, `assistant` or `tool`.
    pub role: String,
    /// The message text.
    pub content: String,
}

impl ChatMessage {
    /// A message with the given role and content.
    pub fn new(role: impl Into<String>, content: impl Into<String>) -> Self {
        Self {
            role: role.into(),
            content: content.into(),
        }
    }

    /// A `system` message.
    pub fn system(content: impl Into<String>) -> Self {
        Self::new("system", content)
    }

    /// A `user` message.
    pub fn user(content: impl Into<String>) -> Self {
        Self::new("user", content)
    }

    /// An `assistant` message.
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::new("assistant", content)
    }
}

const TEMPLATE_NAME: &str = "chat_template";

/// A compiled chat template together with the special tokens it may refer to.
#[derive(Debug, Clone)]
pub struct ChatTemplate {
    env: Environment<'static>,
    special_tokens: Vec<(String, Value)>,
}

impl ChatTemplate {
    /// Compiles `source` (a `chat_template` string) and records the special tokens of `config`
    /// (`bos_token`, `eos_token`, `pad_token`, `unk_token`, `additional_special_tokens`; absent
    /// ones stay undefined in the template, as in transformers).
    pub fn new(source: &str, config: &TokenizerConfig) -> Result<Self> {
        let mut env = Environment::new();
        env.set_syntax(
            minijinja::syntax::SyntaxConfig::builder()
                .trim_blocks(true)
                .lstrip_blocks(true)
                .build()
                .map_err(|e| anyhow!("{e}"))?,
        );
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_filter("tojson", tojson);
        env.add_function("raise_exception", raise_exception);
        env.add_function("strftime_now", strftime_now);
        env.add_template_owned(TEMPLATE_NAME, replace_generation_blocks(source))
            .map_err(|e| anyhow!("{e:#}"))
            .context("compiling the chat template")?;

        let mut special_tokens = Vec::new();
        for (name, token) in [
            ("bos_token", &config.bos_token),
            ("eos_token", &config.eos_token),
            ("unk_token", &config.unk_token),
            ("pad_token", &config.pad_token),
        ] {
            if let Some(t) = token {
                special_tokens.push((name.to_string(), Value::from(t.clone())));
            }
        }
        if !config.additional_special_tokens.is_empty() {
            special_tokens.push((
                "additional_special_tokens".to_string(),
                serde_value(&config.additional_special_tokens),
            ));
        }
        Ok(Self {
            env,
            special_tokens,
        })
    }

    /// Renders `messages`; with `add_generation_prompt` the assistant header is appended.
    pub fn render(&self, messages: &[ChatMessage], add_generation_prompt: bool) -> Result<String> {
        self.render_values(serde_value(messages), add_generation_prompt, &[])
    }

    /// Renders arbitrary JSON messages (e.g. with `tool_calls`) plus extra template variables.
    pub fn render_json(
        &self,
        messages: &serde_json::Value,
        add_generation_prompt: bool,
        extra: &[(&str, serde_json::Value)],
    ) -> Result<String> {
        let extra: Vec<(String, Value)> = extra
            .iter()
            .map(|(k, v)| (k.to_string(), serde_value(v)))
            .collect();
        self.render_values(serde_value(messages), add_generation_prompt, &extra)
    }

    fn render_values(
        &self,
        messages: Value,
        add_generation_prompt: bool,
        extra: &[(String, Value)],
    ) -> Result<String> {
        let mut ctx: Vec<(String, Value)> = vec![
            ("messages".into(), messages),
            ("tools".into(), Value::from(())),
            ("documents".into(), Value::from(())),
            (
                "add_generation_prompt".into(),
                Value::from(add_generation_prompt),
            ),
        ];
        ctx.extend(self.special_tokens.iter().cloned());
        ctx.extend(extra.iter().cloned());
        let ctx = Value::from_pairs(ctx);
        let template = self
            .env
            .get_template(TEMPLATE_NAME)
            .map_err(|e| anyhow!("{e:#}"))?;
        template
            .render(ctx)
            .map_err(|e| anyhow!("rendering the chat template: {e:#}"))
    }
}

/// A template value from anything serde can serialise.
fn serde_value<T: Serialize + ?Sized>(x: &T) -> Value {
    Value::from(minijinja::value::Serde(x))
}

/// transformers' `{% generation %}…{% endgeneration %}` marks assistant text for masks and
/// renders its body unchanged; minijinja has no such tag, so it becomes `{% if true %}…{% endif %}`
/// with the same whitespace-control markers.
fn replace_generation_blocks(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    let mut rest = source;
    while let Some(start) = rest.find("{%") {
        out.push_str(&rest[..start]);
        let tag = &rest[start..];
        let Some(end) = tag.find("%}") else {
            out.push_str(tag);
            return out;
        };
        let inner = &tag[2..end];
        let body = inner
            .trim_start_matches(['-', '+'])
            .trim_end_matches(['-', '+'])
            .trim();
        let open = &inner[..inner.len() - inner.trim_start_matches(['-', '+']).len()];
        let close = &inner[inner.trim_end_matches(['-', '+']).len()..];
        match body {
            "generation" => out.push_str(&format!("{{%{open} if true {close}%}}")),
            "endgeneration" => out.push_str(&format!("{{%{open} endif {close}%}}")),
            _ => out.push_str(&tag[..end + 2]),
        }
        rest = &tag[end + 2..];
    }
    out.push_str(rest);
    out
}

/// `tojson` as transformers defines it: `json.dumps(x, ensure_ascii=False, indent=None,
/// separators=None, sort_keys=False)`.
fn tojson(value: Value, kwargs: Kwargs) -> Result<String, Error> {
    let indent: Option<usize> = kwargs.get("indent")?;
    let ensure_ascii: Option<bool> = kwargs.get("ensure_ascii")?;
    let sort_keys: Option<bool> = kwargs.get("sort_keys")?;
    let separators: Option<Value> = kwargs.get("separators")?;
    kwargs.assert_all_used()?;
    let separators = match separators {
        Some(v) if !v.is_none() => {
            let item = v.get_item_by_index(0)?;
            let key = v.get_item_by_index(1)?;
            match (item.as_str(), key.as_str()) {
                (Some(i), Some(k)) => Some((i.to_string(), k.to_string())),
                _ => {
                    return Err(Error::new(
                        ErrorKind::InvalidOperation,
                        "tojson: separators must be a pair of strings",
                    ));
                }
            }
        }
        _ => None,
    };
    python_json_dumps(
        &value,
        indent,
        ensure_ascii.unwrap_or(false),
        sort_keys.unwrap_or(false),
        separators,
    )
}

/// `raise_exception(message)`: aborts rendering with the template's message.
fn raise_exception(message: String) -> Result<Value, Error> {
    Err(Error::new(ErrorKind::InvalidOperation, message))
}

/// `strftime_now(format)`: the local time formatted with C `strftime` directives.
fn strftime_now(format: String) -> Result<String, Error> {
    use std::fmt::Write;
    let mut out = String::new();
    write!(out, "{}", chrono::Local::now().format(&format)).map_err(|_| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("strftime_now: bad format {format:?}"),
        )
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(source: &str, messages: &[ChatMessage], gen_prompt: bool) -> String {
        let cfg = TokenizerConfig {
            eos_token: Some("</s>".into()),
            ..Default::default()
        };
        ChatTemplate::new(source, &cfg)
            .unwrap()
            .render(messages, gen_prompt)
            .unwrap()
    }

    #[test]
    fn trim_and_lstrip_blocks_like_transformers() {
        // With trim_blocks the newline after a block tag goes; with lstrip_blocks the spaces before
        // it. A single trailing newline of the template is dropped (keep_trailing_newline=False).
        let src = "{% for m in messages %}\n    {% if m.role == 'user' %}\n[{{ m.content }}]\n    {% endif %}\n{% endfor %}\n";
        let out = render(
            src,
            &[ChatMessage::user("a"), ChatMessage::assistant("b")],
            false,
        );
        assert_eq!(out, "[a]\n");
    }

    #[test]
    fn special_tokens_generation_prompt_and_loop_controls() {
        let src = "{% for m in messages %}{% if loop.index0 == 1 %}{% break %}{% endif %}{{ m.content }}{{ eos_token }}{% endfor %}{% if add_generation_prompt %}>{% endif %}{{ bos_token is defined }}";
        let msgs = [ChatMessage::user("x"), ChatMessage::user("y")];
        // jinja2 prints booleans the Python way.
        assert_eq!(render(src, &msgs, true), "x</s>>False");
        assert_eq!(render(src, &msgs, false), "x</s>False");
    }

    #[test]
    fn python_string_methods_and_tojson() {
        let src = "{{ messages[0].content.strip().split(',') | tojson }}|{{ {'b': 1, 'a': [1.5, none, true]} | tojson }}|{{ 'x y'.title() }}";
        let out = render(src, &[ChatMessage::user("  p,q  ")], false);
        assert_eq!(out, r#"["p", "q"]|{"b": 1, "a": [1.5, null, true]}|X Y"#);
    }

    #[test]
    fn raise_exception_is_an_error_with_the_message() {
        let cfg = TokenizerConfig::default();
        let t = ChatTemplate::new("{{ raise_exception('Only user roles!') }}", &cfg).unwrap();
        let err = t.render(&[], false).unwrap_err();
        assert!(format!("{err:#}").contains("Only user roles!"), "{err:#}");
    }

    #[test]
    fn generation_blocks_render_their_body() {
        let src = "{% for m in messages %}{%- generation -%} <{{ m.content }}> {%- endgeneration %}{% endfor %}";
        assert_eq!(
            replace_generation_blocks("{% generation %}a{%- endgeneration -%}"),
            "{% if true %}a{%- endif -%}"
        );
        assert_eq!(render(src, &[ChatMessage::assistant("z")], false), "<z>");
    }

    #[test]
    fn strftime_now_formats_the_current_date() {
        let year = strftime_now("%Y".into()).unwrap();
        assert_eq!(year.len(), 4);
        assert!(year.chars().all(|c| c.is_ascii_digit()), "{year}");
    }
}
