//! One judged completion, the unit of the evaluation's JSONL file (`completions.jsonl`): written
//! as soon as it is judged, read back to resume an interrupted evaluation and for error analysis.

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::generation::FinishReason;

/// One sampled completion and its verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompletionRecord {
    /// Dataset name.
    pub dataset: String,
    /// Problem id within the dataset.
    pub problem_id: String,
    /// Sample index within the problem, `0..k`.
    pub sample: usize,
    /// Gold answer.
    pub gold: String,
    /// The completion text (special tokens removed).
    pub completion: String,
    /// Number of generated tokens (a final stop token included).
    pub length: usize,
    /// Why generation ended (`stop` or `length`).
    pub finish: FinishReason,
    /// The answer extracted from the completion, if any.
    pub extracted: Option<String>,
    /// The verdict.
    pub correct: bool,
}

/// Identity of a sample: dataset, problem id, sample index.
pub type SampleKey = (String, String, usize);

impl CompletionRecord {
    /// The sample this record is for.
    pub fn key(&self) -> SampleKey {
        (self.dataset.clone(), self.problem_id.clone(), self.sample)
    }
}

/// Reads the records of a completions file. A last line without its newline (an interrupted
/// write) is ignored; any other malformed line is an error naming the file and line. Later
/// duplicates of a sample are ignored.
pub fn read_records(path: &Path) -> Result<Vec<CompletionRecord>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let complete = complete_prefix(&text);
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (i, line) in complete.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let record: CompletionRecord = serde_json::from_str(line).with_context(|| {
            format!(
                "{}: line {}: not a completion record",
                path.display(),
                i + 1
            )
        })?;
        if seen.insert(record.key()) {
            out.push(record);
        }
    }
    Ok(out)
}

/// The part of `text` up to and including its last newline.
fn complete_prefix(text: &str) -> &str {
    text.rfind('\n').map_or("", |i| &text[..=i])
}

/// Appends records to a completions file, one flushed line each.
pub struct RecordWriter {
    path: PathBuf,
    out: BufWriter<File>,
}

impl RecordWriter {
    /// Opens `path` for appending, first cutting off an unfinished last line (see
    /// [`read_records`]) so that new lines start on a line of their own.
    pub fn append(path: &Path) -> Result<Self> {
        if path.exists() {
            let text =
                std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            let keep = text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
            if keep < text.len() {
                let file = OpenOptions::new()
                    .write(true)
                    .open(path)
                    .with_context(|| format!("opening {}", path.display()))?;
                file.set_len(keep as u64).with_context(|| {
                    format!("truncating the unfinished last line of {}", path.display())
                })?;
            }
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("opening {}", path.display()))?;
        Ok(Self {
            path: path.to_path_buf(),
            out: BufWriter::new(file),
        })
    }

    /// Writes `records` and flushes them to the file.
    pub fn write(&mut self, records: &[CompletionRecord]) -> Result<()> {
        for r in records {
            if r.completion.contains('\u{0}') {
                bail!("completion of {}/{} contains NUL", r.dataset, r.problem_id);
            }
            let line = serde_json::to_string(r).context("serializing a completion record")?;
            writeln!(self.out, "{line}")
                .with_context(|| format!("writing {}", self.path.display()))?;
        }
        self.out
            .flush()
            .with_context(|| format!("writing {}", self.path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(sample: usize) -> CompletionRecord {
        CompletionRecord {
            dataset: "toy".into(),
            problem_id: "p\"1".into(),
            sample,
            gold: "1".into(),
            completion: "a\nb \\boxed{1}".into(),
            length: 5,
            finish: FinishReason::Stop,
            extracted: Some("1".into()),
            correct: true,
        }
    }

    #[test]
    fn round_trips_and_repairs_an_unfinished_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.jsonl");
        let mut w = RecordWriter::append(&path).unwrap();
        w.write(&[record(0), record(1)]).unwrap();
        drop(w);
        // Simulate a crash in the middle of the third line.
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("{\"dataset\":\"to");
        std::fs::write(&path, &text).unwrap();
        assert_eq!(read_records(&path).unwrap(), vec![record(0), record(1)]);
        let mut w = RecordWriter::append(&path).unwrap();
        w.write(&[record(2), record(1)]).unwrap();
        drop(w);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 4);
        assert_eq!(
            read_records(&path).unwrap(),
            vec![record(0), record(1), record(2)]
        );
    }

    #[test]
    fn a_bad_complete_line_is_an_error_with_its_line_number() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.jsonl");
        std::fs::write(
            &path,
            format!("{}\nnot json\n", serde_json::to_string(&record(0)).unwrap()),
        )
        .unwrap();
        let err = format!("{:#}", read_records(&path).unwrap_err());
        assert!(err.contains("line 2"), "{err}");
    }
}
