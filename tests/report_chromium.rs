//! The samples page rendered by headless Chromium (Debian package `chromium`): the expected
//! elements are in the DOM, text that looks like markup stays text, and a screenshot is taken.
//! Skips with a message when no Chromium is installed.

use prof_grpo::eval::samples_report::{PageOptions, write_run_page};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;

fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|bin| {
            Command::new(bin)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
}

fn headless(bin: &str, profile: &Path) -> Command {
    let mut cmd = Command::new(bin);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    cmd
}

/// A run directory with the trainer's samples file: 2 steps × 2 prompts × 4 completions.
fn write_run(dir: &Path) -> usize {
    let mut lines = Vec::new();
    let completions = [
        // (completion, reward, step probs, kept, reason)
        (
            "Let x = 2.\n\nThen x + x = <b>5</b> & so on.\n\nSo the answer is $\\boxed{4}$.",
            1.0,
            vec![0.93, 0.08, 0.71],
            false,
            "dropped: lowest score among correct",
        ),
        (
            "2 + 2 = 4.\n\nThe answer is $\\boxed{4}$.",
            1.0,
            vec![0.97, 0.95],
            true,
            "kept: highest score among correct",
        ),
        (
            "<script>alert('x')</script>\n\nThe answer is $\\boxed{5}$.",
            0.0,
            vec![0.30, 0.12],
            true,
            "kept: lowest score among incorrect",
        ),
        (
            "I think \"22\".\n\n\\boxed{22}",
            0.0,
            vec![0.81, 0.66],
            false,
            "dropped: highest score among incorrect",
        ),
    ];
    for step in [1u64, 2] {
        for group in 0..2usize {
            for (i, (text, reward, probs, kept, reason)) in completions.iter().enumerate() {
                lines.push(json!({
                    "step": step, "group": group,
                    "prompt": format!("<|im_start|>user\nWhat is 2+2? (prompt {group} of step {step})<|im_end|>"),
                    "completion": text, "answer": "4", "reward": reward, "length": 20 + i,
                    "truncated": false, "step_probs": probs,
                    "score": if *reward > 0.5 { 0.4 - i as f64 * 0.3 } else { -0.2 - i as f64 * 0.1 },
                    "kept": kept, "reason": reason,
                }));
            }
        }
    }
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(dir.join("samples.jsonl"), text).unwrap();
    lines.len()
}

#[test]
fn the_samples_page_renders_in_chromium() {
    let Some(bin) = chromium() else {
        eprintln!("SKIP: no chromium found (Debian: apt-get install chromium)");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    std::fs::create_dir(&run).unwrap();
    let total = write_run(&run);
    let page = tmp.path().join("report.html");
    let shown = write_run_page(&run, &page, &PageOptions::default()).unwrap();
    // Every completion of both steps, plus the 4 flawed-but-correct copies at the top.
    assert_eq!(shown, total + 4);

    let url = format!("file://{}", page.display());
    let dom = headless(bin, &tmp.path().join("profile-dom"))
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .unwrap();
    assert!(
        dom.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&dom.stderr)
    );
    let dom = String::from_utf8(dom.stdout).unwrap();
    assert!(
        dom.contains("<title>Samples of"),
        "no page title in the DOM"
    );
    assert_eq!(dom.matches("<section class=\"flawed\"").count(), 1);
    assert_eq!(dom.matches("<section class=\"train-step\"").count(), 2);
    assert_eq!(dom.matches("<article class=\"group\"").count(), 4);
    assert_eq!(dom.matches("<div class=\"completion ").count(), total + 4);
    // The flawed section holds exactly the correct completions with a step below 0.5.
    let flawed_start = dom.find("<section class=\"flawed\"").unwrap();
    let flawed_end = flawed_start + dom[flawed_start..].find("</section>").unwrap();
    let flawed = &dom[flawed_start..flawed_end];
    assert_eq!(flawed.matches("data-correct=\"true\"").count(), 4);
    assert_eq!(flawed.matches("data-correct=\"false\"").count(), 0);
    assert_eq!(flawed.matches("rstep lowest").count(), 4);
    // Only low steps of correct completions are outlined (each flawed card also shows in its step).
    assert_eq!(dom.matches("rstep lowest").count(), 4 + 4);
    // Kept / dropped badges with their reasons, and verdicts.
    assert_eq!(dom.matches("data-kept=\"false\"").count(), 4 + 8);
    assert!(dom.contains("dropped: lowest score among correct"));
    assert!(dom.contains("✓ correct") && dom.contains("✗ incorrect"));
    // Every reasoning step is its own coloured block: 3 + 2 + 2 + 2 steps per group of 4.
    assert_eq!(dom.matches("<div class=\"rstep").count(), 9 * 4 + 3 * 4);
    assert!(
        dom.contains("background: hsl(10, 75%, 82%)"),
        "step with p = 0.08 is red"
    );
    // Markup in the samples stays text: no script element, no bold element from the completion.
    assert!(!dom.contains("<script"));
    assert!(dom.contains("&lt;script&gt;alert('x')&lt;/script&gt;"));
    assert!(dom.contains("= &lt;b&gt;5&lt;/b&gt; &amp; so on"));

    let shot = tmp.path().join("shot.png");
    let status = headless(bin, &tmp.path().join("profile-shot"))
        .arg(format!("--screenshot={}", shot.display()))
        .arg("--window-size=1200,2000")
        .arg(&url)
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 10_000,
        "screenshot of {} bytes",
        png.len()
    );
    if let Some(keep) = std::env::var_os("PROF_KEEP_SCREENSHOT") {
        std::fs::copy(&shot, PathBuf::from(keep)).unwrap();
    }
}
