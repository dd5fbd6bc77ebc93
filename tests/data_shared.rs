//! Every benchmark file of the shared folder loads through its spec: row counts, a non-empty
//! problem and gold answer per row, and known gold answers. Skipped when the folder is absent.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use prof_grpo::data::{DatasetSpec, LoadOptions, load_dataset};

fn datasets_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("PROF_SHARED_DIR") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"),
    }
    .join("datasets");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "SKIPPED: no shared datasets at {} (set PROF_SHARED_DIR)",
            dir.display()
        );
        None
    }
}

const EXPECTED: [(&str, usize); 6] = [
    ("math500", 500),
    ("minerva_math", 272),
    ("olympiadbench", 675),
    ("aime24", 30),
    ("amc23", 40),
    ("gsm8k", 1319),
];

#[test]
fn counts_and_non_empty_fields() {
    let Some(dir) = datasets_dir() else { return };
    for (name, count) in EXPECTED {
        let loaded = load_dataset(name, &dir, &LoadOptions::default())
            .unwrap_or_else(|e| panic!("{name}: {e:#}"));
        assert_eq!(loaded.problems.len(), count, "{name}");
        assert_eq!(loaded.report.rows, count, "{name}");
        assert!(loaded.report.bad_rows.is_empty(), "{name}");
        assert_eq!(loaded.spec.expected_rows, Some(count), "{name}");
        let mut ids = HashSet::new();
        for p in &loaded.problems {
            assert!(
                !p.problem.trim().is_empty(),
                "{name} {}: empty problem",
                p.id
            );
            assert!(!p.gold.trim().is_empty(), "{name} {}: empty gold", p.id);
            assert_eq!(p.gold, p.gold.trim(), "{name} {}: untrimmed gold", p.id);
            assert_eq!(p.source, name);
            assert!(ids.insert(p.id.clone()), "{name}: duplicate id {}", p.id);
        }
    }
}

#[test]
fn gold_answers_come_from_the_right_place() {
    let Some(dir) = datasets_dir() else { return };
    let load = |name: &str| {
        load_dataset(name, &dir, &LoadOptions::default())
            .unwrap()
            .problems
    };

    let math500 = load("math500");
    assert_eq!(math500[0].id, "test/precalculus/807.json");
    assert_eq!(math500[0].gold, r"\left( 3, \frac{\pi}{2} \right)");
    assert!(math500.iter().all(|p| p.solution.is_some()));

    // Minerva: the last \boxed{} of the solution.
    let minerva = load("minerva_math");
    assert_eq!(minerva[0].gold, "1.6");
    assert_eq!(minerva[271].gold, "10.1");
    for p in &minerva {
        assert!(
            p.solution
                .as_ref()
                .unwrap()
                .contains(&format!("\\boxed{{{}", p.gold)),
            "{}",
            p.id
        );
    }

    // OlympiadBench: final_answer[0] without `$`.
    let olympiad = load("olympiadbench");
    assert_eq!(
        (olympiad[0].id.as_str(), olympiad[0].gold.as_str()),
        ("1606", "2")
    );
    assert_eq!(
        (olympiad[1].id.as_str(), olympiad[1].gold.as_str()),
        ("1610", r"\frac{1}{2 n+2}")
    );
    assert!(olympiad.iter().all(|p| !p.gold.contains('$')));

    // GSM8K: after ####, no thousands commas.
    let gsm8k = load("gsm8k");
    assert_eq!(gsm8k[0].gold, "18");
    assert_eq!(gsm8k[1318].gold, "14");
    assert!(
        gsm8k
            .iter()
            .all(|p| !p.gold.contains(',') && !p.gold.contains('#'))
    );

    // AMC23 answers are JSON numbers like 27.0; AIME24 keeps its zero-padded strings.
    let amc = load("amc23");
    assert_eq!(amc[0].gold, "27");
    assert!(amc.iter().all(|p| !p.gold.ends_with(".0")));
    let aime = load("aime24");
    assert_eq!((aime[0].id.as_str(), aime[0].gold.as_str()), ("60", "204"));
    assert!(aime.iter().any(|p| p.gold == "025"));
}

#[test]
fn every_shared_file_has_a_spec() {
    let Some(dir) = datasets_dir() else { return };
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "jsonl") {
            let stem = path.file_stem().unwrap().to_str().unwrap();
            let spec = DatasetSpec::builtin(stem).unwrap_or_else(|| panic!("no spec for {stem}"));
            assert_eq!(
                spec.file.as_deref(),
                Some(path.file_name().unwrap().to_str().unwrap())
            );
            // Loading by path gives the same problems as loading by name.
            let by_path = load_dataset(
                path.to_str().unwrap(),
                Path::new("/nonexistent"),
                &LoadOptions::default(),
            )
            .unwrap();
            assert_eq!(by_path.problems.len(), spec.expected_rows.unwrap());
            seen += 1;
        }
    }
    assert_eq!(seen, EXPECTED.len());
}
