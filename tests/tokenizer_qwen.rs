//! The real Qwen2.5 tokenizers from the shared folder: golden ids, special tokens, and chat
//! templates rendered exactly as transformers renders them (fixtures from
//! `tests/fixtures/chat_template/make_chat_fixtures.py`). Skipped when the shared folder is absent.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use prof_grpo::data::{DEFAULT_SYSTEM_PROMPT, DEFAULT_USER_SUFFIX, PromptTemplate};
use prof_grpo::tokenizer::{ChatMessage, END_OF_TEXT, IM_END, STEP_SEPARATOR, Tokenizer};
use serde_json::Value;

fn shared_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("PROF_SHARED_DIR") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"),
    };
    if dir.join("tokenizers").is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "SKIPPED: no shared tokenizers at {} (set PROF_SHARED_DIR)",
            dir.display()
        );
        None
    }
}

/// Loads a shared tokenizer once per test binary (loading the 150k-token BPE takes a while).
fn load(name: &str) -> Option<&'static Tokenizer> {
    static CACHE: OnceLock<Mutex<HashMap<String, &'static Tokenizer>>> = OnceLock::new();
    let dir = shared_dir()?.join("tokenizers").join(name);
    let mut cache = CACHE.get_or_init(Default::default).lock().unwrap();
    let tok = cache.entry(name.to_string()).or_insert_with(|| {
        let tok = Tokenizer::from_dir(&dir)
            .unwrap_or_else(|e| panic!("loading {}: {e:#}", dir.display()));
        Box::leak(Box::new(tok))
    });
    Some(*tok)
}

fn fixtures() -> Value {
    crate::common::read_json(&crate::common::fixtures().join("chat_template/expected.json"))
}

#[test]
fn golden_ids_from_the_shared_readme() {
    let Some(tok) = load("qwen2.5") else { return };
    assert_eq!(
        tok.encode("What is 12+30?").unwrap(),
        [3838, 374, 220, 16, 17, 10, 18, 15, 30]
    );
    assert_eq!(tok.encode("\n").unwrap(), [198]);
    assert_eq!(tok.encode("user").unwrap(), [872]);
    assert_eq!(tok.encode("assistant").unwrap(), [77091]);
    assert_eq!(
        tok.decode(&[3838, 374, 220, 16, 17, 10, 18, 15, 30], false)
            .unwrap(),
        "What is 12+30?"
    );
}

#[test]
fn special_tokens_are_looked_up_by_string() {
    let Some(tok) = load("qwen2.5") else { return };
    assert_eq!(tok.token_id(END_OF_TEXT), Some(151643));
    assert_eq!(tok.token_id(IM_END), Some(151645));
    assert_eq!(tok.eos_token_id(), Some(151643));
    assert_eq!(tok.pad_token_id(), Some(151643));
    assert_eq!(tok.bos_token_id(), None);
    assert_eq!(tok.stop_token_ids(), [151643, 151645]);
    // The plain tokenizer has no `<extra_0>`; the PRM one has it at 151651 (in place of quad_end).
    assert_eq!(tok.token_id(STEP_SEPARATOR), None);
    assert!(
        tok.require_token_id(STEP_SEPARATOR)
            .unwrap_err()
            .to_string()
            .contains("<extra_0>")
    );
    let Some(prm) = load("qwen2.5-extra0") else {
        return;
    };
    assert_eq!(prm.token_id(STEP_SEPARATOR), Some(151651));
    assert_eq!(prm.token_id("<|quad_end|>"), None);
    assert_eq!(prm.encode("a<extra_0>b").unwrap(), [64, 151651, 65]);
    assert_eq!(prm.vocab_size(), 151665);
    assert_eq!(prm.decode(&[64, 151651, 65], true).unwrap(), "ab");
}

#[test]
fn chat_templates_render_like_transformers() {
    let fixtures = fixtures();
    let cases = fixtures["cases"].as_array().unwrap();
    assert!(cases.len() >= 20);
    let mut checked = 0;
    for case in cases {
        let Some(tok) = load(case["tokenizer"].as_str().unwrap()) else {
            return;
        };
        let name = case["name"].as_str().unwrap();
        let messages: Vec<ChatMessage> = serde_json::from_value(case["messages"].clone()).unwrap();
        let add_gen = case["add_generation_prompt"].as_bool().unwrap();
        let text = tok.apply_chat_template(&messages, add_gen).unwrap();
        assert_eq!(
            text,
            case["text"].as_str().unwrap(),
            "rendering of {name} ({})",
            case["tokenizer"]
        );
        let ids: Vec<u32> = serde_json::from_value(case["ids"].clone()).unwrap();
        assert_eq!(
            tok.encode(&text).unwrap(),
            ids,
            "ids of {name} ({})",
            case["tokenizer"]
        );
        assert_eq!(tok.decode(&ids, false).unwrap(), text, "decoding {name}");
        checked += 1;
    }
    assert_eq!(checked, cases.len());
}

#[test]
fn plain_encodings_match_transformers() {
    let fixtures = fixtures();
    for enc in fixtures["encodings"].as_array().unwrap() {
        let Some(tok) = load(enc["tokenizer"].as_str().unwrap()) else {
            return;
        };
        let text = enc["text"].as_str().unwrap();
        let ids: Vec<u32> = serde_json::from_value(enc["ids"].clone()).unwrap();
        assert_eq!(
            tok.encode(text).unwrap(),
            ids,
            "{text:?} with {}",
            enc["tokenizer"]
        );
        assert_eq!(
            tok.decode(&ids, false).unwrap(),
            enc["decoded"].as_str().unwrap()
        );
    }
}

#[test]
fn the_reference_prompt_through_the_qwen_template() {
    let Some(tok) = load("qwen2.5") else { return };
    // The PROF prompt cases of the fixtures are exactly what PromptTemplate::default() builds.
    let fixtures = fixtures();
    let case = fixtures["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| {
            c["tokenizer"] == "qwen2.5"
                && c["name"]
                    .as_str()
                    .unwrap()
                    .starts_with("prof_prompt_math500")
        })
        .unwrap();
    let user = case["messages"][1]["content"].as_str().unwrap();
    let problem = user.strip_suffix(DEFAULT_USER_SUFFIX).unwrap();
    let template = PromptTemplate::default();
    let messages = template.messages_for_text(problem);
    assert_eq!(messages[0].content, DEFAULT_SYSTEM_PROMPT);
    assert_eq!(
        template.render_messages(&messages, tok).unwrap(),
        case["text"].as_str().unwrap()
    );
}

#[test]
fn save_and_reload_keeps_behaviour() {
    let Some(tok) = load("qwen2.5-extra0") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    tok.save_to_dir(dir.path()).unwrap();
    let back = Tokenizer::from_dir(dir.path()).unwrap();
    let msgs = [ChatMessage::user("What is 12+30?")];
    assert_eq!(
        back.apply_chat_template(&msgs, true).unwrap(),
        tok.apply_chat_template(&msgs, true).unwrap()
    );
    assert_eq!(
        back.encode("x<extra_0>y").unwrap(),
        tok.encode("x<extra_0>y").unwrap()
    );
    assert_eq!(back.eos_token_id(), tok.eos_token_id());
}
