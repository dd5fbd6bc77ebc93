//! Every gold answer of the shared benchmarks verifies as equal to itself, math500's equals the
//! last box of its own solution, and the gold answers are listed by kind so the verifier's
//! coverage is visible (`cargo test --test data_gold_verify -- --nocapture`).

use crate::common;

use prof_grpo::data::{LoadOptions, last_boxed, load_dataset};
use prof_grpo::reward::verifier::{Verifier, classify_answer};
use std::collections::BTreeMap;

#[test]
fn gold_answers_verify_against_themselves_and_are_listed_by_kind() {
    let Some(shared) = common::shared_dir() else {
        return;
    };
    let dir = shared.join("datasets");
    let verifier = Verifier::default();
    for name in [
        "math500",
        "minerva_math",
        "olympiadbench",
        "aime24",
        "amc23",
        "gsm8k",
    ] {
        let set = load_dataset(
            name,
            &dir,
            &LoadOptions {
                skip_bad_rows: false,
                limit: None,
            },
        )
        .unwrap();
        let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
        let mut not_self = Vec::new();
        for p in &set.problems {
            *kinds
                .entry(classify_answer(&p.gold).to_string())
                .or_default() += 1;
            if !verifier.equivalent(&p.gold, &p.gold).correct {
                not_self.push(p.gold.clone());
            }
            if name == "math500" {
                let boxed = last_boxed(p.solution.as_deref().unwrap_or("")).unwrap_or_default();
                let v = verifier.equivalent(&p.gold, boxed);
                assert!(
                    v.correct,
                    "math500 {}: gold {:?} vs solution box {boxed:?}: {}",
                    p.id, p.gold, v.reason
                );
            }
        }
        println!(
            "{name}: {} gold answers by kind: {kinds:?}",
            set.problems.len()
        );
        assert!(
            not_self.is_empty(),
            "{name}: gold answers not equal to themselves: {not_self:?}"
        );
    }
}
