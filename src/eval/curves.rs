//! Accuracy-vs-step curves of a run's checkpoints: one PNG per dataset (and one for the average
//! over datasets) with avg@k, pass@k and maj@k against the training step.
//!
//! Text is rendered from an embedded ASCII subset of DejaVu Sans (plotters' `ab_glyph`
//! feature), so no system font library is needed.

use anyhow::{Context, Result, anyhow};
use plotters::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::report::EvalReport;
use super::table::display_name;

const FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-ascii.ttf");
const FAMILY: &str = "sans-serif";

fn register_font() -> Result<()> {
    static OK: OnceLock<bool> = OnceLock::new();
    let ok =
        *OK.get_or_init(|| plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_ok());
    ok.then_some(())
        .ok_or_else(|| anyhow!("the embedded plot font is invalid"))
}

/// One curve: a name and its (step, value) points.
struct Curve {
    name: String,
    color: RGBColor,
    points: Vec<(f64, f64)>,
}

fn curves_for(reports: &[&EvalReport], dataset: Option<&str>) -> Vec<Curve> {
    let k = reports.first().map_or(1, |r| r.settings.k);
    type Pick = fn(&EvalReport, Option<&str>) -> Option<f64>;
    let picks: [(String, RGBColor, Pick); 3] = [
        (format!("avg@{k}"), RGBColor(31, 119, 180), |r, d| match d {
            Some(d) => r.dataset(d).map(|m| m.avg_at_k),
            None => Some(r.average.avg_at_k),
        }),
        (format!("pass@{k}"), RGBColor(44, 160, 44), |r, d| match d {
            Some(d) => r.dataset(d).map(|m| m.pass_at_k()),
            None => Some(r.average.pass_at_k),
        }),
        (format!("maj@{k}"), RGBColor(214, 39, 40), |r, d| match d {
            Some(d) => r.dataset(d).map(|m| m.maj_at_k),
            None => Some(r.average.maj_at_k),
        }),
    ];
    picks
        .into_iter()
        .filter(|(name, _, _)| k > 1 || name.starts_with("avg"))
        .map(|(name, color, pick)| Curve {
            name,
            color,
            points: reports
                .iter()
                .filter_map(|r| {
                    let v = pick(r, dataset)?;
                    v.is_finite().then_some((r.step.unwrap_or(0) as f64, v))
                })
                .collect(),
        })
        .collect()
}

/// Draws one PNG per dataset (`<dataset>.png`) and `average.png` into `dir` from the reports of
/// a run's checkpoints; returns the files written.
pub fn draw_accuracy_curves(reports: &[EvalReport], dir: &Path) -> Result<Vec<PathBuf>> {
    register_font()?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut sorted: Vec<&EvalReport> = reports.iter().collect();
    sorted.sort_by_key(|r| r.step.unwrap_or(0));
    let mut datasets: Vec<String> = Vec::new();
    for r in &sorted {
        for m in &r.datasets {
            if !datasets.contains(&m.dataset) {
                datasets.push(m.dataset.clone());
            }
        }
    }
    let mut written = Vec::new();
    let targets = datasets
        .iter()
        .map(|d| Some(d.as_str()))
        .chain(std::iter::once(None));
    for dataset in targets {
        let (file, title) = match dataset {
            Some(d) => (format!("{d}.png"), display_name(d)),
            None => (
                "average.png".to_string(),
                "Average over datasets".to_string(),
            ),
        };
        let path = dir.join(&file);
        let tmp = dir.join(format!(".{file}.tmp-{}.png", std::process::id()));
        draw(&curves_for(&sorted, dataset), &title, &tmp)
            .with_context(|| format!("drawing {}", path.display()))?;
        std::fs::rename(&tmp, &path).with_context(|| format!("renaming {}", tmp.display()))?;
        written.push(path);
    }
    Ok(written)
}

fn draw(curves: &[Curve], title: &str, path: &Path) -> Result<()> {
    let root = BitMapBackend::new(path, (720, 450)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
    let xs = curves.iter().flat_map(|c| c.points.iter().map(|p| p.0));
    let (mut x0, mut x1) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
        (a.min(x), b.max(x))
    });
    if !x0.is_finite() {
        (x0, x1) = (0.0, 1.0);
    }
    if x1 - x0 < 1.0 {
        x1 = x0 + 1.0;
    }
    let pad = (x1 - x0) * 0.03;
    let inner = || -> std::result::Result<(), Box<dyn std::error::Error>> {
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FAMILY, 22))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(x0 - pad..x1 + pad, 0.0..100.0)?;
        chart
            .configure_mesh()
            .x_desc("training step")
            .y_desc("accuracy (%)")
            .label_style((FAMILY, 13))
            .x_label_formatter(&|v| format!("{v:.0}"))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()?;
        for c in curves {
            let color = c.color;
            chart
                .draw_series(LineSeries::new(c.points.clone(), color.stroke_width(2)))?
                .label(c.name.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                });
            chart.draw_series(c.points.iter().map(|&p| Circle::new(p, 3, color.filled())))?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(180, 180, 180))
            .label_font((FAMILY, 13))
            .position(SeriesLabelPosition::LowerRight)
            .draw()?;
        root.present()?;
        Ok(())
    };
    inner().map_err(|e| anyhow!("{e}"))
}
