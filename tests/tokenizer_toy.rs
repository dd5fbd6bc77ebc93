//! The built-in toy tokenizer: round trips, special tokens, chat template.

use prof_grpo::data::toy::corrupt_solution;
use prof_grpo::data::{Corruption, PromptTemplate, ToyConfig, generate_toy_set};
use prof_grpo::tokenizer::toy::toy_vocab;
use prof_grpo::tokenizer::{ChatMessage, END_OF_TEXT, IM_END, IM_START, STEP_SEPARATOR, Tokenizer};
use rand::SeedableRng;

#[test]
fn encode_decode_round_trips() {
    let tok = Tokenizer::builtin_toy();
    let texts = [
        "What is 3+4*2?",
        "4*2 = 8, so we get 3+8.\n\n3+8 = 11.\n\nThe final answer is \\boxed{11}.",
        "2-5 = -3, so we get -3+1.",
        "Please reason step by step, and put your final answer within \\boxed{}.",
        " Let's think step by step and output the final answer within \\boxed{}.",
        "Anything ASCII: ~!@#$%^&*()_+{}|:\"<>?`-=[]\\;',./ \t END",
        "",
    ];
    for text in texts {
        let ids = tok.encode(text).unwrap();
        assert_eq!(tok.decode(&ids, false).unwrap(), text, "{ids:?}");
    }
    // Whole words are single tokens.
    let ids = tok.encode("What is \\boxed{7}").unwrap();
    let pieces: Vec<String> = ids.iter().map(|&i| tok.id_to_token(i).unwrap()).collect();
    assert_eq!(pieces, ["What", " ", "is", " ", "\\boxed{", "7", "}"]);
}

#[test]
fn special_tokens_and_vocab() {
    let tok = Tokenizer::builtin_toy();
    assert_eq!(tok.vocab_size(), toy_vocab().len());
    assert_eq!(
        tok.vocab_size(),
        5 + 3 + 95 + prof_grpo::tokenizer::toy::TOY_WORDS.len()
    );
    for (i, t) in [END_OF_TEXT, IM_START, IM_END, STEP_SEPARATOR]
        .iter()
        .enumerate()
    {
        assert_eq!(tok.token_id(t), Some(i as u32), "{t}");
    }
    assert_eq!(tok.eos_token_id(), Some(0));
    assert_eq!(tok.pad_token_id(), Some(0));
    assert_eq!(tok.stop_token_ids(), [0, 2]);
    let ids = tok.encode("a<extra_0>b<|im_end|>").unwrap();
    assert_eq!(ids[1], 3);
    assert_eq!(*ids.last().unwrap(), 2);
    assert_eq!(tok.decode(&ids, true).unwrap(), "ab");
    assert_eq!(tok.decode(&ids, false).unwrap(), "a<extra_0>b<|im_end|>");
    // Characters outside ASCII become <unk>.
    let unk = tok.token_id("<unk>").unwrap();
    assert_eq!(tok.encode("é").unwrap(), [unk]);
}

#[test]
fn chat_template_is_chatml() {
    let tok = Tokenizer::builtin_toy();
    let msgs = [ChatMessage::system("S"), ChatMessage::user("What is 1+1?")];
    let text = tok.apply_chat_template(&msgs, true).unwrap();
    assert_eq!(
        text,
        "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nWhat is 1+1?<|im_end|>\n<|im_start|>assistant\n"
    );
    assert_eq!(
        tok.decode(&tok.encode(&text).unwrap(), false).unwrap(),
        text
    );
    let dir = tempfile::tempdir().unwrap();
    tok.save_to_dir(dir.path()).unwrap();
    let back = Tokenizer::from_dir(dir.path()).unwrap();
    assert_eq!(back.apply_chat_template(&msgs, true).unwrap(), text);
    assert_eq!(back.encode(&text).unwrap(), tok.encode(&text).unwrap());
    assert_eq!(
        Tokenizer::from_dir_or_hub("toy").unwrap().vocab_size(),
        tok.vocab_size()
    );
}

#[test]
fn toy_set_prompts_and_solutions_encode_without_unknowns() {
    let tok = Tokenizer::builtin_toy();
    let unk = tok.token_id("<unk>").unwrap();
    let template = PromptTemplate::default();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    for item in generate_toy_set(50, 11, &ToyConfig::default()) {
        let prompt = template.encode(&item.problem, &tok).unwrap();
        let solution = item.problem.solution.as_deref().unwrap();
        let sol_ids = tok.encode(solution).unwrap();
        assert!(!prompt.contains(&unk) && !sol_ids.contains(&unk));
        assert_eq!(tok.decode(&sol_ids, false).unwrap(), solution);
        let bad = corrupt_solution(&item.expression, Corruption::Slip, &mut rng).unwrap();
        assert_eq!(
            tok.decode(&tok.encode(&bad.text()).unwrap(), false)
                .unwrap(),
            bad.text()
        );
    }
}
