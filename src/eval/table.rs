//! Text tables: the paper's Table 1 (one row per model, avg@k per dataset plus the average)
//! and a detailed per-dataset table of one model.

use super::report::EvalReport;

/// The display name of a benchmark, as the paper's Table 1 heads its columns.
pub fn display_name(dataset: &str) -> String {
    match dataset {
        "math500" => "Math500".into(),
        "minerva_math" => "Minerva Math".into(),
        "olympiadbench" | "olympiad_bench" => "Olympiad Bench".into(),
        "aime24" => "AIME24".into(),
        "amc23" => "AMC23".into(),
        "gsm8k" => "GSM8K".into(),
        other => other.to_string(),
    }
}

fn markdown(header: &[String], rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..header.len())
        .map(|c| {
            rows.iter()
                .map(|r| r[c].chars().count())
                .chain(std::iter::once(header[c].chars().count()))
                .max()
                .unwrap_or(0)
                .max(3)
        })
        .collect();
    let line = |cells: &[String]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(c, (s, w))| {
                if c == 0 {
                    format!("{s:<w$}")
                } else {
                    format!("{s:>w$}")
                }
            })
            .collect();
        format!("| {} |\n", padded.join(" | "))
    };
    let mut out = line(header);
    let rule: Vec<String> = widths
        .iter()
        .enumerate()
        .map(|(c, w)| {
            if c == 0 {
                format!(":{}", "-".repeat(w - 1))
            } else {
                format!("{}:", "-".repeat(w - 1))
            }
        })
        .collect();
    out.push_str(&format!("| {} |\n", rule.join(" | ")));
    for r in rows {
        out.push_str(&line(r));
    }
    out
}

fn pct(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.1}")
    } else {
        "-".into()
    }
}

/// Table 1: a row per report, avg@k (%) per dataset (columns in the first report's order, then
/// any others) and the average over datasets.
pub fn table1(reports: &[EvalReport]) -> String {
    let mut datasets: Vec<String> = Vec::new();
    for r in reports {
        for m in &r.datasets {
            if !datasets.contains(&m.dataset) {
                datasets.push(m.dataset.clone());
            }
        }
    }
    let k = reports.first().map_or(1, |r| r.settings.k);
    let mut header = vec![format!("Model (avg@{k})")];
    header.extend(datasets.iter().map(|d| display_name(d)));
    header.push("Average".into());
    let rows: Vec<Vec<String>> = reports
        .iter()
        .map(|r| {
            let mut row = vec![match r.step {
                Some(s) => format!("{} (step {s})", r.model),
                None => r.model.clone(),
            }];
            row.extend(
                datasets
                    .iter()
                    .map(|d| pct(r.dataset(d).map_or(f64::NAN, |m| m.avg_at_k))),
            );
            row.push(pct(r.average.avg_at_k));
            row
        })
        .collect();
    markdown(&header, &rows)
}

/// Every metric of one report, a row per dataset plus the average.
pub fn detail_table(report: &EvalReport) -> String {
    let k = report.settings.k;
    let header: Vec<String> = [
        "Dataset".to_string(),
        "problems".into(),
        format!("avg@{k}"),
        format!("pass@{k}"),
        format!("maj@{k}"),
        "mean len".into(),
        "variance".into(),
        "no answer".into(),
        "truncated".into(),
    ]
    .into();
    let mut rows: Vec<Vec<String>> = report
        .datasets
        .iter()
        .map(|m| {
            vec![
                display_name(&m.dataset),
                m.problems.to_string(),
                pct(m.avg_at_k),
                pct(m.pass_at_k()),
                pct(m.maj_at_k),
                format!("{:.1}", m.mean_length),
                format!("{:.4}", m.variance),
                format!("{:.1}%", 100.0 * m.no_answer_rate),
                format!("{:.1}%", 100.0 * m.truncated_rate),
            ]
        })
        .collect();
    let a = &report.average;
    rows.push(vec![
        "Average".into(),
        String::new(),
        pct(a.avg_at_k),
        pct(a.pass_at_k),
        pct(a.maj_at_k),
        format!("{:.1}", a.mean_length),
        format!("{:.4}", a.variance),
        String::new(),
        String::new(),
    ]);
    markdown(&header, &rows)
}
