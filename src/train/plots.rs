//! PNG plots of the main training curves, drawn from `metrics.jsonl` with plotters: one grid
//! image, one panel per metric (raw values, with a moving average over them), redrawn as the
//! run goes on.
//!
//! Text needs a font. plotters' usual `ttf` feature finds system fonts through fontconfig,
//! which is not on every machine (nor in CI images); the `ab_glyph` feature instead renders a
//! font registered from bytes. The project therefore embeds a 20 kB subset of DejaVu Sans
//! (printable ASCII, free licence, `assets/fonts/LICENSE-DejaVu.txt`) with `include_bytes!`, so
//! plots have labels everywhere, with no system dependency.

use std::path::Path;
use std::sync::OnceLock;

use anyhow::{Context, Result, anyhow};
use plotters::prelude::*;

use crate::train::metrics::{StepMetrics, keys, read_metrics};

/// The embedded font (see the module docs).
const FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-ascii.ttf");
const FAMILY: &str = "sans-serif";

/// Metrics plotted, in panel order, when present (evaluation metrics `eval/*` follow them).
pub const MAIN_METRICS: &[&str] = &[
    keys::REWARD,
    keys::REWARD_STD,
    keys::FRAC_REWARD_ZERO_STD,
    keys::COMPLETIONS_MEAN_LENGTH,
    keys::COMPLETIONS_CLIPPED_RATIO,
    keys::KL,
    keys::ENTROPY,
    keys::LOSS,
    keys::GRAD_NORM,
    keys::LR,
    keys::CLIP_RATIO_LOW_MEAN,
    keys::CLIP_RATIO_HIGH_MEAN,
    keys::PROF_KEPT_CORRECT,
    keys::PROF_KEPT_INCORRECT,
    keys::PROF_SCORE_MEAN_CORRECT,
    keys::PROF_SCORE_MEAN_INCORRECT,
    keys::PRM_STEP_COUNT_MEAN,
    keys::PERF_TOKENS_PER_S,
];

const PANEL_W: u32 = 480;
const PANEL_H: u32 = 300;
const COLUMNS: usize = 3;

fn register_font() -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| register_font_bytes(FAMILY, FONT));
    ok.then_some(())
        .ok_or_else(|| anyhow!("the embedded plot font is invalid"))
}

fn register_font_bytes(family: &str, bytes: &'static [u8]) -> bool {
    plotters::style::register_font(family, FontStyle::Normal, bytes).is_ok()
}

/// Redraws `out_png` from the metrics file `metrics_jsonl`; returns the metrics plotted (nothing
/// is written when there is nothing to plot yet).
pub fn plot_metrics_file(metrics_jsonl: &Path, out_png: &Path) -> Result<Vec<String>> {
    plot_metrics(&read_metrics(metrics_jsonl)?, out_png)
}

/// Draws the grid of curves of `rows` into `out_png` (written under a temporary name and
/// renamed, so a viewer never sees half an image); returns the metrics plotted.
pub fn plot_metrics(rows: &[StepMetrics], out_png: &Path) -> Result<Vec<String>> {
    let mut metrics: Vec<String> = MAIN_METRICS
        .iter()
        .filter(|k| has_finite(rows, k))
        .map(|k| k.to_string())
        .collect();
    let mut evals: Vec<String> = rows
        .iter()
        .flat_map(|r| r.values.keys())
        .filter(|k| k.starts_with(keys::EVAL_PREFIX))
        .cloned()
        .collect();
    evals.sort();
    evals.dedup();
    metrics.extend(evals.into_iter().filter(|k| has_finite(rows, k)));
    if metrics.is_empty() {
        return Ok(metrics);
    }
    register_font()?;

    let stem = out_png
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("plot");
    let tmp = out_png.with_file_name(format!(".{stem}.{}.png", std::process::id()));
    draw_grid(rows, &metrics, &tmp).with_context(|| format!("drawing {}", out_png.display()))?;
    std::fs::rename(&tmp, out_png)
        .with_context(|| format!("renaming {} to {}", tmp.display(), out_png.display()))?;
    Ok(metrics)
}

fn has_finite(rows: &[StepMetrics], key: &str) -> bool {
    rows.iter().any(|r| r.get(key).is_some_and(f64::is_finite))
}

fn draw_grid(rows: &[StepMetrics], metrics: &[String], path: &Path) -> Result<()> {
    let columns = COLUMNS.min(metrics.len());
    let lines = metrics.len().div_ceil(columns);
    let size = (PANEL_W * columns as u32, PANEL_H * lines as u32);
    let root = BitMapBackend::new(path, size).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
    let panels = root.split_evenly((lines, columns));
    for (panel, key) in panels.iter().zip(metrics) {
        draw_panel(panel, rows, key).map_err(|e| anyhow!("panel {key}: {e}"))?;
    }
    root.present().map_err(|e| anyhow!("{e}"))?;
    Ok(())
}

type Panel<'a> = DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>;

fn draw_panel(
    panel: &Panel<'_>,
    rows: &[StepMetrics],
    key: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let points: Vec<(f64, f64)> = rows
        .iter()
        .filter_map(|r| {
            r.get(key)
                .filter(|v| v.is_finite())
                .map(|v| (r.step as f64, v))
        })
        .collect();
    let (x0, x1) = padded_range(points.iter().map(|p| p.0), 0.0);
    let (y0, y1) = padded_range(points.iter().map(|p| p.1), 0.05);

    let mut chart = ChartBuilder::on(panel)
        .caption(key, (FAMILY, 18))
        .margin(8)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(x0..x1, y0..y1)?;
    chart
        .configure_mesh()
        .x_desc("step")
        .label_style((FAMILY, 12))
        .x_labels(6)
        .y_labels(5)
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&|v| short_number(*v))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()?;

    // Raw values, the line broken where a value is missing or not finite.
    let faint = RGBColor(31, 119, 180).mix(0.35);
    for segment in finite_segments(rows, key) {
        if segment.len() == 1 {
            chart.draw_series(std::iter::once(Circle::new(segment[0], 2, faint.filled())))?;
        } else {
            chart.draw_series(LineSeries::new(segment, faint))?;
        }
    }
    if points.len() >= 5 {
        let window = (points.len() / 10).max(2);
        let strong = RGBColor(31, 119, 180).stroke_width(2);
        chart.draw_series(LineSeries::new(moving_average(&points, window), strong))?;
    }
    Ok(())
}

/// Runs of rows where `key` is finite, as (step, value) points: a recorded non-finite value
/// breaks the line; rows without the key (e.g. between evaluations) are skipped over.
fn finite_segments(rows: &[StepMetrics], key: &str) -> Vec<Vec<(f64, f64)>> {
    let mut segments = vec![Vec::new()];
    for r in rows {
        match r.get(key) {
            None => {}
            Some(v) if v.is_finite() => segments
                .last_mut()
                .expect("never empty")
                .push((r.step as f64, v)),
            Some(_) if !segments.last().expect("never empty").is_empty() => {
                segments.push(Vec::new())
            }
            Some(_) => {}
        }
    }
    segments.retain(|s| !s.is_empty());
    segments
}

/// Trailing moving average over `window` points.
fn moving_average(points: &[(f64, f64)], window: usize) -> Vec<(f64, f64)> {
    let mut sum = 0.0;
    points
        .iter()
        .enumerate()
        .map(|(i, &(x, y))| {
            sum += y;
            if i >= window {
                sum -= points[i - window].1;
            }
            (x, sum / (i + 1).min(window) as f64)
        })
        .collect()
}

/// Min and max of `values` widened by `pad` of the span, or by a unit when they coincide.
fn padded_range(values: impl Iterator<Item = f64>, pad: f64) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo <= f64::EPSILON * lo.abs().max(1.0) {
        let half = if lo == 0.0 { 0.5 } else { lo.abs() * 0.1 };
        return (lo - half, hi + half);
    }
    let margin = (hi - lo) * pad;
    (lo - margin, hi + margin)
}

/// A compact tick label: plain decimals for ordinary magnitudes, scientific otherwise.
fn short_number(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if !(1e-3..1e5).contains(&a) {
        format!("{v:.2e}")
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else {
        let text = format!("{v:.3}");
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moving_average_hand_values() {
        let pts = [(1.0, 1.0), (2.0, 3.0), (3.0, 5.0), (4.0, 7.0)];
        assert_eq!(
            moving_average(&pts, 2),
            vec![(1.0, 1.0), (2.0, 2.0), (3.0, 4.0), (4.0, 6.0)]
        );
    }

    #[test]
    fn segments_break_at_missing_values() {
        let mut rows: Vec<StepMetrics> = [1.0, f64::NAN, 2.0, 3.0]
            .iter()
            .enumerate()
            .map(|(i, &v)| StepMetrics::new(i as u64 + 1).with("kl", v))
            .collect();
        rows.push(StepMetrics::new(5));
        rows.push(StepMetrics::new(6).with("kl", 4.0));
        assert_eq!(
            finite_segments(&rows, "kl"),
            vec![vec![(1.0, 1.0)], vec![(3.0, 2.0), (4.0, 3.0), (6.0, 4.0)]],
            "NaN breaks the line, an absent value does not"
        );
    }

    #[test]
    fn ranges_and_labels() {
        assert_eq!(padded_range([1.0, 3.0].into_iter(), 0.5), (0.0, 4.0));
        assert_eq!(padded_range([2.0, 2.0].into_iter(), 0.5), (1.8, 2.2));
        assert_eq!(padded_range([0.0].into_iter(), 0.5), (-0.5, 0.5));
        assert_eq!(padded_range(std::iter::empty(), 0.5), (0.0, 1.0));
        assert_eq!(short_number(0.25), "0.25");
        assert_eq!(short_number(1e-6), "1.00e-6");
        assert_eq!(short_number(1.05e-6), "1.05e-6");
        assert_eq!(short_number(1234.4), "1234");
        assert_eq!(short_number(0.0), "0");
    }

    fn synthetic_metrics(path: &Path) {
        let mut w = crate::train::metrics::MetricsWriter::create(path).unwrap();
        for step in 1..=40u64 {
            let x = step as f64;
            let mut m = StepMetrics::new(step)
                .with(keys::REWARD, 0.2 + 0.01 * x + 0.05 * (x * 1.7).sin())
                .with(keys::KL, 1e-4 * x)
                .with(keys::LR, 1e-6)
                .with(keys::GRAD_NORM, if step == 10 { f64::NAN } else { 1.0 / x })
                .with(keys::PROF_KEPT_CORRECT, f64::NAN);
            if step % 10 == 0 {
                m.set("eval/math500/accuracy", 0.3 + x / 400.0);
            }
            w.write(&m).unwrap();
        }
    }

    #[test]
    fn plots_a_synthetic_metrics_file_into_a_non_blank_png() {
        let dir = tempfile::tempdir().unwrap();
        let metrics = dir.path().join("metrics.jsonl");
        let png = dir.path().join("curves.png");
        synthetic_metrics(&metrics);

        let plotted = plot_metrics_file(&metrics, &png).unwrap();
        assert_eq!(
            plotted,
            vec!["reward", "kl", "grad_norm", "lr", "eval/math500/accuracy"],
            "metrics with no finite value (prof/kept_correct) get no panel"
        );
        let img = image::open(&png).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), (3 * PANEL_W, 2 * PANEL_H));

        let total = img.pixels().count();
        let non_white = img.pixels().filter(|p| p.0 != [255, 255, 255]).count();
        assert!(
            non_white * 100 > total,
            "almost blank: {non_white} of {total} pixels drawn"
        );
        assert!(
            non_white * 100 < total * 60,
            "mostly filled: {non_white} of {total}"
        );
        let series = img
            .pixels()
            .filter(|p| {
                let [r, g, b] = p.0;
                r < 60 && (100..140).contains(&g) && b > 160
            })
            .count();
        assert!(
            series > 200,
            "the curves' colour is missing ({series} pixels)"
        );
        // The caption of the first panel is rendered text: dark pixels in its top band.
        let caption = (0..PANEL_W)
            .flat_map(|x| (0..30).map(move |y| (x, y)))
            .filter(|&(x, y)| img.get_pixel(x, y).0.iter().all(|&c| c < 100))
            .count();
        assert!(
            caption > 20,
            "no caption text drawn ({caption} dark pixels)"
        );

        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|n| n.to_string_lossy().starts_with('.'))
            .collect();
        assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");

        if let Ok(keep) = std::env::var("PROF_KEEP_PLOT") {
            std::fs::copy(&png, keep).unwrap();
        }
        // Redrawing over an existing image works.
        plot_metrics_file(&metrics, &png).unwrap();
    }

    #[test]
    fn nothing_to_plot_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let png = dir.path().join("curves.png");
        assert!(plot_metrics(&[], &png).unwrap().is_empty());
        let only_nan = [StepMetrics::new(1).with(keys::REWARD, f64::NAN)];
        assert!(plot_metrics(&only_nan, &png).unwrap().is_empty());
        assert!(!png.exists());
    }
}
