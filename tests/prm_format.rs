//! The PRM input string is byte-identical to what the reference's `apply_chat_template`
//! produces (fixture from transformers with the real Qwen2.5 tokenizer carrying `<extra_0>`).

use crate::common;

use common::{fixtures, read_json, shared_dir, u32s};
use prof_grpo::reward::prm::Truncation;
use prof_grpo::reward::prm::format::{format_prm_input, prepare_prm_input, split_steps};
use prof_grpo::tokenizer::Tokenizer;

#[test]
fn formatting_matches_the_reference_byte_for_byte() {
    let Some(shared) = shared_dir() else { return };
    let tok = Tokenizer::from_dir(&shared.join("tokenizers/qwen2.5-extra0")).unwrap();
    let exp = read_json(&fixtures().join("expected/prm_format.json"));
    assert_eq!(tok.token_id("<extra_0>"), Some(151651));
    for case in exp["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let question = case["question"].as_str().unwrap();
        let response = case["response"].as_str().unwrap();
        let steps = split_steps(response);
        assert_eq!(
            steps.len() as u64,
            case["num_steps"].as_u64().unwrap(),
            "{name}"
        );
        let text = format_prm_input(&tok, question, &steps).unwrap();
        assert_eq!(text, case["text"].as_str().unwrap(), "{name}");
        assert_eq!(tok.encode(&text).unwrap(), u32s(&case["ids"]), "{name}");
        let prepared = prepare_prm_input(&tok, question, response, 0, Truncation::Left).unwrap();
        if steps.is_empty() {
            // Documented: an empty response has zero steps and is not scored.
            assert!(prepared.is_none(), "{name}");
        } else {
            assert_eq!(prepared.unwrap().ids, u32s(&case["ids"]), "{name}");
        }
    }
}

#[test]
fn long_inputs_lose_whole_leading_steps_or_are_rejected() {
    let Some(shared) = shared_dir() else { return };
    let tok = Tokenizer::from_dir(&shared.join("tokenizers/qwen2.5-extra0")).unwrap();
    let response =
        "Step one is long enough to matter here.\n\nStep two.\n\nThe answer is $\\boxed{2}$.";
    let full = prepare_prm_input(&tok, "Q?", response, 0, Truncation::Left)
        .unwrap()
        .unwrap();
    let limit = full.ids.len() - 3;
    let cut = prepare_prm_input(&tok, "Q?", response, limit, Truncation::Left)
        .unwrap()
        .unwrap();
    assert_eq!(cut.dropped_steps, 1);
    assert_eq!(cut.num_steps, 3);
    assert!(cut.ids.len() <= limit);
    assert_eq!(
        cut.ids.iter().filter(|&&t| t == 151651).count(),
        2,
        "separators stay whole"
    );
    assert!(prepare_prm_input(&tok, "Q?", response, limit, Truncation::Reject).is_err());
}
