//! Rendering the samples page.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::PageOptions;
use super::html::{escape, prob_color};
use super::samples::{Sample, split_steps};

const CSS: &str = r#"
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px; background: #f6f7f9; color: #1d1d1f; }
h1 { font-size: 22px; margin: 0 0 6px; } h2 { font-size: 18px; margin: 28px 0 8px; } h3 { font-size: 15px; margin: 16px 0 6px; }
code { background: #eceef1; padding: 1px 4px; border-radius: 3px; }
.summary { color: #555; margin: 4px 0; }
.legend { display: flex; align-items: center; gap: 8px; font-size: 12px; color: #444; margin: 8px 0 16px; }
.legend .bar { width: 220px; height: 12px; border-radius: 3px; border: 1px solid #bbb;
  background: linear-gradient(to right, hsl(0, 75%, 82%), hsl(60, 75%, 82%), hsl(120, 75%, 82%)); }
section.flawed { background: #fff8e1; border: 1px solid #f0d58a; border-radius: 8px; padding: 4px 14px 12px; }
.group { background: #fff; border: 1px solid #dcdfe4; border-radius: 8px; padding: 8px 12px; margin: 12px 0; }
.prompt summary { cursor: pointer; color: #333; }
.prompt pre, .gold { white-space: pre-wrap; font-size: 13px; }
.completions { display: grid; grid-template-columns: repeat(auto-fill, minmax(360px, 1fr)); gap: 10px; margin-top: 8px; }
.completion { background: #fff; border: 1px solid #cfd4da; border-radius: 6px; padding: 8px; }
.completion.dropped { border-style: dashed; background: #fbfbfb; }
.meta { font-size: 12px; margin-bottom: 6px; line-height: 1.9; }
.badge { display: inline-block; padding: 0 7px; border-radius: 9px; margin-right: 4px; font-weight: 600; }
.verdict.ok { background: #2e7d32; color: #fff; } .verdict.bad { background: #c62828; color: #fff; }
.filter.kept { background: #1565c0; color: #fff; } .filter.dropped { background: #6d6d6d; color: #fff; }
.filter.none { background: #e0e0e0; color: #333; }
.score, .len, .where { color: #444; margin-right: 8px; }
.reason { display: block; color: #555; font-style: italic; }
.rstep { white-space: pre-wrap; word-wrap: break-word; font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 12.5px;
  padding: 4px 6px; margin: 3px 0; border-radius: 4px; border-left: 4px solid rgba(0, 0, 0, 0.18); }
.rstep.lowest { outline: 2px solid #c62828; }
.rstep .p { float: right; font-size: 11px; font-weight: 600; color: #333; margin-left: 8px; }
.note { font-size: 12px; color: #a15c00; }
"#;

fn fmt_opt(v: Option<f64>, digits: usize) -> String {
    match v.filter(|v| v.is_finite()) {
        Some(v) => format!("{v:.digits$}"),
        None => "–".into(),
    }
}

/// One completion card; `origin` adds "step S, group G" (for the flawed list). The lowest step
/// of a correct completion is outlined when it is below `flaw_threshold`.
fn completion_card(out: &mut String, s: &Sample, group: usize, origin: bool, flaw_threshold: f64) {
    let correct = s.is_correct();
    let kept_class = match s.kept {
        Some(true) => "kept",
        Some(false) => "dropped",
        None => "unfiltered",
    };
    let _ = write!(
        out,
        r#"<div class="completion {} {kept_class}" data-step="{}" data-group="{group}" data-correct="{correct}" data-kept="{}" data-score="{}">"#,
        if correct { "correct" } else { "incorrect" },
        s.step,
        s.kept.map_or("unknown".to_string(), |k| k.to_string()),
        fmt_opt(s.score, 6),
    );
    out.push_str(r#"<div class="meta">"#);
    let _ = write!(
        out,
        r#"<span class="badge verdict {}">{}</span>"#,
        if correct { "ok" } else { "bad" },
        if correct {
            "✓ correct"
        } else {
            "✗ incorrect"
        }
    );
    let (filter_class, filter_text) = match s.kept {
        Some(true) => ("kept", "kept"),
        Some(false) => ("dropped", "dropped"),
        None => ("none", "not filtered"),
    };
    let _ = write!(
        out,
        r#"<span class="badge filter {filter_class}">{filter_text}</span>"#
    );
    let _ = write!(
        out,
        r#"<span class="score">score {}</span>"#,
        fmt_opt(s.score, 3)
    );
    let _ = write!(
        out,
        r#"<span class="score">reward {}</span>"#,
        fmt_opt(s.reward, 2)
    );
    if let Some(len) = s.length {
        let _ = write!(
            out,
            r#"<span class="len">{len} tokens{}</span>"#,
            if s.truncated == Some(true) {
                " (truncated)"
            } else {
                ""
            }
        );
    }
    if origin {
        let _ = write!(
            out,
            r#"<span class="where">step {}, group {group}</span>"#,
            s.step
        );
    }
    if let Some(reason) = s.reason.as_deref().filter(|r| !r.is_empty()) {
        let _ = write!(out, r#"<span class="reason">{}</span>"#, escape(reason));
    }
    out.push_str("</div>");
    let steps = split_steps(&s.completion);
    if !s.step_probs.is_empty() && s.step_probs.len() != steps.len() {
        let _ = write!(
            out,
            r#"<div class="note">the PRM scored {} steps; the text splits into {}</div>"#,
            s.step_probs.len(),
            steps.len()
        );
    }
    let lowest = s.min_step_prob();
    out.push_str(r#"<div class="steps">"#);
    for (i, text) in steps.iter().enumerate() {
        let p = s.step_probs.get(i).copied().flatten();
        let is_lowest =
            correct && p.is_some() && p == lowest && p.is_some_and(|p| p < flaw_threshold);
        let _ = write!(
            out,
            r#"<div class="rstep{}" data-p="{}" style="background: {}" title="step {}: PRM p = {}"><span class="p">{}</span>{}</div>"#,
            if is_lowest { " lowest" } else { "" },
            fmt_opt(p, 4),
            prob_color(p),
            i + 1,
            fmt_opt(p, 4),
            fmt_opt(p, 2),
            escape(text)
        );
    }
    if steps.is_empty() {
        out.push_str(r#"<div class="note">(empty completion)</div>"#);
    }
    out.push_str("</div></div>");
}

/// Completions of one step, by prompt group (the `group` field, else the prompt text), groups in
/// order of their index or first appearance.
fn groups_of(samples: &[Sample], step: u64) -> Vec<(usize, Vec<&Sample>)> {
    let mut by_key: BTreeMap<(usize, usize), Vec<&Sample>> = BTreeMap::new();
    let mut prompt_index: Vec<&str> = Vec::new();
    for s in samples.iter().filter(|s| s.step == step) {
        let key = match s.group {
            Some(g) => (g, 0),
            None => {
                let i = prompt_index
                    .iter()
                    .position(|p| *p == s.prompt)
                    .unwrap_or_else(|| {
                        prompt_index.push(&s.prompt);
                        prompt_index.len() - 1
                    });
                (i, 1)
            }
        };
        by_key.entry(key).or_default().push(s);
    }
    by_key.into_iter().map(|((g, _), v)| (g, v)).collect()
}

/// The whole page; returns it and the number of completion cards in it.
pub fn render_page(
    run_label: &str,
    samples: &[Sample],
    steps: &[u64],
    options: &PageOptions,
) -> (String, usize) {
    let mut body = String::new();
    let mut cards = 0usize;

    let chosen: Vec<&Sample> = samples.iter().filter(|s| steps.contains(&s.step)).collect();
    let mut flawed: Vec<(usize, &Sample)> = Vec::new();
    for &step in steps {
        for (g, members) in groups_of(samples, step) {
            for s in members {
                if s.is_correct()
                    && s.min_step_prob()
                        .is_some_and(|p| p < options.flaw_threshold)
                {
                    flawed.push((g, s));
                }
            }
        }
    }
    let flawed_total = flawed.len();
    flawed.sort_by(|a, b| {
        let pa = a.1.min_step_prob().unwrap_or(1.0);
        let pb = b.1.min_step_prob().unwrap_or(1.0);
        pa.total_cmp(&pb)
            .then(a.1.step.cmp(&b.1.step))
            .then(a.0.cmp(&b.0))
    });
    flawed.truncate(options.max_flawed);

    let _ = write!(
        body,
        r#"<section class="flawed" id="flawed"><h2>Flawed but correct: {flawed_total} completion(s)</h2><p class="summary">A correct final answer reached through at least one step the PRM scores below {} (lowest first{}; the lowest step is outlined). Outcome rewards cannot tell these from sound solutions; PROF ranks them last among the correct ones.</p>"#,
        options.flaw_threshold,
        if flawed_total > flawed.len() {
            format!(", first {} shown", flawed.len())
        } else {
            String::new()
        }
    );
    if flawed.is_empty() {
        body.push_str(r#"<p class="summary">None in the steps shown.</p>"#);
    } else {
        body.push_str(r#"<div class="completions">"#);
        for (g, s) in &flawed {
            completion_card(&mut body, s, *g, true, options.flaw_threshold);
            cards += 1;
        }
        body.push_str("</div>");
    }
    body.push_str("</section>");

    for &step in steps {
        let groups = groups_of(samples, step);
        let members: Vec<&Sample> = groups.iter().flat_map(|(_, m)| m.iter().copied()).collect();
        let correct = members.iter().filter(|s| s.is_correct()).count();
        let kept = members.iter().filter(|s| s.kept == Some(true)).count();
        let _ = write!(
            body,
            r#"<section class="train-step" id="step-{step}" data-step="{step}"><h2>Step {step}</h2><p class="summary">{} prompt(s), {} completion(s): {correct} correct, {kept} kept by the filter{}.</p>"#,
            groups.len(),
            members.len(),
            if groups.len() > options.max_groups {
                format!("; first {} prompts shown", options.max_groups)
            } else {
                String::new()
            }
        );
        for (g, members) in groups.iter().take(options.max_groups) {
            let first = members[0];
            let preview: String = first.prompt.chars().take(140).collect();
            let _ = write!(
                body,
                r#"<article class="group" data-group="{g}"><h3>Prompt group {g}</h3><details class="prompt"><summary>{}{}</summary><pre>{}</pre></details>"#,
                escape(&preview.replace('\n', " ")),
                if first.prompt.chars().count() > 140 {
                    "…"
                } else {
                    ""
                },
                escape(&first.prompt)
            );
            if let Some(gold) = &first.answer {
                let _ = write!(
                    body,
                    r#"<div class="gold">gold answer: <code>{}</code></div>"#,
                    escape(gold)
                );
            }
            body.push_str(r#"<div class="completions">"#);
            for s in members {
                completion_card(&mut body, s, *g, false, options.flaw_threshold);
                cards += 1;
            }
            body.push_str("</div></article>");
        }
        body.push_str("</section>");
    }

    let steps_text: Vec<String> = steps.iter().map(u64::to_string).collect();
    let mut page = String::new();
    let _ = write!(
        page,
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Samples of {label}</title><style>{CSS}</style></head>
<body><header><h1>Samples of <code>{label}</code></h1>
<p class="summary">Steps {steps}: {n} completion(s). Each reasoning step (text between blank lines) is coloured by its PRM probability.</p>
<div class="legend"><span>PRM p = 0</span><span class="bar"></span><span>1</span><span style="background: {grey}; padding: 0 6px; border-radius: 3px;">no score</span></div></header>
{body}
</body></html>
"#,
        label = escape(run_label),
        steps = steps_text.join(", "),
        n = chosen.len(),
        grey = prob_color(None),
    );
    (page, cards)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(step: u64, group: usize, reward: f64, probs: &[f64], completion: &str) -> Sample {
        serde_json::from_value(serde_json::json!({
            "step": step, "group": group, "prompt": "What is <b>1+1</b>?", "completion": completion,
            "answer": "2", "reward": reward, "step_probs": probs, "score": 0.1, "kept": true,
            "reason": "kept: highest score among correct"
        }))
        .unwrap()
    }

    #[test]
    fn escapes_text_and_gathers_flawed_completions() {
        let samples = vec![
            sample(
                1,
                0,
                1.0,
                &[0.9, 0.1],
                "1+1 <script>x</script>\n\n\\boxed{2}",
            ),
            sample(1, 0, 1.0, &[0.9, 0.8], "fine\n\n\\boxed{2}"),
            sample(1, 0, 0.0, &[0.2], "\\boxed{3}"),
        ];
        let (page, cards) = render_page("run<1>", &samples, &[1], &PageOptions::default());
        assert!(!page.contains("<script>"));
        assert!(page.contains("&lt;script&gt;"));
        assert!(page.contains("run&lt;1&gt;"));
        assert!(page.contains("What is &lt;b&gt;1+1&lt;/b&gt;?"));
        // 1 flawed card + 3 step cards.
        assert_eq!(cards, 4);
        assert!(page.contains("Flawed but correct: 1 completion(s)"));
        let flawed =
            &page[page.find("id=\"flawed\"").unwrap()..page.find("id=\"step-1\"").unwrap()];
        assert_eq!(flawed.matches("class=\"completion ").count(), 1);
        assert!(flawed.contains("rstep lowest"));
    }
}
