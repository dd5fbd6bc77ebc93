//! A small tokenizer built in code, for tiny models trained from scratch on the toy arithmetic
//! set: no files needed.
//!
//! Vocabulary: the special tokens, `<unk>`, newline, tab, carriage return, every printable ASCII
//! character, then a few
//! whole words and `\boxed{` that the toy prompts and solutions use a lot. A regex
//! pre-tokenizer takes the longest listed word at each position and otherwise one character,
//! so any ASCII text encodes and decodes back unchanged; the `Fuse` decoder concatenates pieces.

use serde_json::{Value, json};

use super::config::TokenizerConfig;
use super::text_tokenizer::{END_OF_TEXT, IM_END, IM_START, STEP_SEPARATOR, Tokenizer};

/// Unknown-character token of the toy tokenizer.
pub const TOY_UNK: &str = "<unk>";

/// Special tokens of the toy tokenizer, ids 0.. in this order.
pub const TOY_SPECIAL_TOKENS: [&str; 5] = [END_OF_TEXT, IM_START, IM_END, STEP_SEPARATOR, TOY_UNK];

/// Whole-word tokens of the toy vocabulary (after the single characters).
pub const TOY_WORDS: &[&str] = &[
    "\\boxed{",
    "What",
    "is",
    "the",
    "The",
    "final",
    "answer",
    "so",
    "we",
    "get",
    "First",
    "Then",
    "Next",
    "Finally",
    "compute",
    "Please",
    "reason",
    "step",
    "by",
    "and",
    "put",
    "your",
    "within",
    "Let's",
    "think",
    "output",
    "system",
    "user",
    "assistant",
];

/// ChatML-style chat template of the toy tokenizer.
pub const TOY_CHAT_TEMPLATE: &str = "{%- for message in messages %}\n    {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}\n{%- endfor %}\n{%- if add_generation_prompt %}\n    {{- '<|im_start|>assistant\\n' }}\n{%- endif %}\n";

impl Tokenizer {
    /// The built-in toy tokenizer (see the module docs); eos and pad are `<|endoftext|>`.
    pub fn builtin_toy() -> Self {
        let inner = tokenizers::Tokenizer::from_bytes(toy_tokenizer_json().to_string())
            .expect("the built-in toy tokenizer definition is valid");
        let config = TokenizerConfig {
            bos_token: None,
            eos_token: Some(END_OF_TEXT.into()),
            pad_token: Some(END_OF_TEXT.into()),
            unk_token: Some(TOY_UNK.into()),
            additional_special_tokens: vec![STEP_SEPARATOR.into()],
            chat_template: Some(TOY_CHAT_TEMPLATE.into()),
        };
        Tokenizer::from_parts(inner, config).expect("the built-in toy chat template compiles")
    }
}

/// Vocabulary of the toy tokenizer in id order.
pub fn toy_vocab() -> Vec<String> {
    let mut vocab: Vec<String> = TOY_SPECIAL_TOKENS.iter().map(|s| s.to_string()).collect();
    vocab.extend(["\n", "\t", "\r"].map(String::from));
    vocab.extend((b' '..=b'~').map(|b| (b as char).to_string()));
    vocab.extend(TOY_WORDS.iter().map(|s| s.to_string()));
    vocab
}

/// The `tokenizer.json` document of the toy tokenizer.
fn toy_tokenizer_json() -> Value {
    let vocab = toy_vocab();
    let vocab_map: serde_json::Map<String, Value> = vocab
        .iter()
        .enumerate()
        .map(|(i, t)| (t.clone(), json!(i)))
        .collect();
    let added: Vec<Value> = TOY_SPECIAL_TOKENS
        .iter()
        .enumerate()
        .map(|(id, content)| {
            json!({"id": id, "content": content, "single_word": false, "lstrip": false,
                   "rstrip": false, "normalized": false, "special": true})
        })
        .collect();
    let mut words: Vec<&str> = TOY_WORDS.to_vec();
    words.sort_by_key(|w| std::cmp::Reverse(w.len()));
    let alternatives: Vec<String> = words.iter().map(|w| regex_escape(w)).collect();
    let pattern = format!("{}|[\\s\\S]", alternatives.join("|"));
    json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": added,
        "normalizer": null,
        "pre_tokenizer": {"type": "Split", "pattern": {"Regex": pattern},
                          "behavior": "Isolated", "invert": false},
        "post_processor": null,
        "decoder": {"type": "Fuse"},
        "model": {"type": "WordLevel", "vocab": vocab_map, "unk_token": TOY_UNK},
    })
}

/// Escapes regex metacharacters.
fn regex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 2);
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
