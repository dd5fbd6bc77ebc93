//! Checkpoints: one directory per saved step under a checkpoint root,
//!
//! ```text
//! ROOT/latest                      name of the newest checkpoint directory
//! ROOT/step-00000040/model.safetensors      policy weights, Hugging Face tensor names
//!                    optimizer.safetensors  optimizer state as named tensors (optional)
//!                    state.json             step, data cursor, RNG states, config hash, …
//!                    <extra files>          e.g. config.json, tokenizer.json, config.toml
//! ```
//!
//! A checkpoint is written into `ROOT/step-N.tmp-<pid>` (every file fsynced) and renamed into
//! place, so `step-N` either exists complete or not at all; the `latest` pointer is replaced the
//! same way. Left-over `*.tmp-*` directories of an interrupted write never parse as
//! checkpoints and are removed by the next save. One process writes a root at a time.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use rand::SeedableRng;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde::{Deserialize, Serialize};

use crate::train::nan_guard::NanGuard;
use crate::train::prompt_sampler::SamplerCursor;

/// File of the policy weights.
pub const WEIGHTS_FILE: &str = "model.safetensors";
/// File of the optimizer state.
pub const OPTIMIZER_FILE: &str = "optimizer.safetensors";
/// File of the [`TrainState`].
pub const STATE_FILE: &str = "state.json";
/// Pointer file naming the newest checkpoint directory.
pub const LATEST_FILE: &str = "latest";
/// Version of the checkpoint layout written by this code.
pub const FORMAT_VERSION: u32 = 1;

const RESERVED: [&str; 3] = [WEIGHTS_FILE, OPTIMIZER_FILE, STATE_FILE];

/// Serialized state of a ChaCha generator: seed, stream and position in the stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RngState {
    /// The 32-byte seed, hex.
    pub seed: String,
    /// Stream number.
    pub stream: u64,
    /// Position in the stream in 32-bit words (decimal, as it is a u128).
    pub word_pos: String,
}

/// A random generator whose exact state can be saved and restored.
pub trait ResumableRng: Sized {
    /// The generator's current state.
    fn save_state(&self) -> RngState;
    /// A generator in the saved state.
    fn from_state(state: &RngState) -> Result<Self>;
}

macro_rules! resumable_chacha {
    ($($rng:ty),*) => {$(
        impl ResumableRng for $rng {
            fn save_state(&self) -> RngState {
                RngState {
                    seed: self.get_seed().iter().map(|b| format!("{b:02x}")).collect(),
                    stream: self.get_stream(),
                    word_pos: self.get_word_pos().to_string(),
                }
            }

            fn from_state(state: &RngState) -> Result<Self> {
                let seed = parse_seed(&state.seed)?;
                let word_pos: u128 = state
                    .word_pos
                    .parse()
                    .with_context(|| format!("invalid RNG word_pos {:?}", state.word_pos))?;
                let mut rng = <$rng>::from_seed(seed);
                rng.set_stream(state.stream);
                rng.set_word_pos(word_pos);
                Ok(rng)
            }
        }
    )*};
}

resumable_chacha!(
    rand_chacha::ChaCha8Rng,
    rand_chacha::ChaCha12Rng,
    rand_chacha::ChaCha20Rng
);

fn parse_seed(hex: &str) -> Result<[u8; 32]> {
    if hex.len() != 64 || !hex.is_ascii() {
        bail!("invalid RNG seed {hex:?}: expected 64 hex digits");
    }
    let mut seed = [0u8; 32];
    for (i, byte) in seed.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16)
            .with_context(|| format!("invalid RNG seed {hex:?}"))?;
    }
    Ok(seed)
}

/// Everything besides tensors that a resumed run needs (`state.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// Layout version ([`FORMAT_VERSION`]).
    pub format_version: u32,
    /// Completed optimizer steps (RL steps) at the time of saving.
    pub step: u64,
    /// Where the prompt sampler continues.
    pub cursor: SamplerCursor,
    /// Named generator states (e.g. `"rollout"`, `"filter"`).
    pub rngs: BTreeMap<String, RngState>,
    /// [`TrainConfig::hash_hex`](crate::train::config::TrainConfig::hash_hex) of the run's configuration.
    pub config_hash: String,
    /// The NaN guard's counters.
    pub nan_guard: NanGuard,
    /// Anything else the loop wants back (free-form JSON).
    #[serde(default)]
    pub extra: serde_json::Value,
}

impl TrainState {
    /// A state at `step` with the current layout version and no RNGs.
    pub fn new(step: u64, cursor: SamplerCursor, config_hash: &str, nan_guard: NanGuard) -> Self {
        Self {
            format_version: FORMAT_VERSION,
            step,
            cursor,
            rngs: BTreeMap::new(),
            config_hash: config_hash.to_string(),
            nan_guard,
            extra: serde_json::Value::Null,
        }
    }
}

/// An owned tensor: name, dtype, shape and little-endian bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedTensor {
    /// Tensor name (Hugging Face naming for weights, e.g. `model.layers.0.mlp.up_proj.weight`).
    pub name: String,
    /// Element type.
    pub dtype: Dtype,
    /// Shape.
    pub shape: Vec<usize>,
    /// Raw little-endian bytes.
    pub data: Vec<u8>,
}

impl NamedTensor {
    /// An f32 tensor from values.
    pub fn from_f32(name: &str, shape: Vec<usize>, values: &[f32]) -> Self {
        Self {
            name: name.to_string(),
            dtype: Dtype::F32,
            shape,
            data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        }
    }

    /// The values of an f32 tensor (`None` for another dtype).
    pub fn to_f32(&self) -> Option<Vec<f32>> {
        (self.dtype == Dtype::F32).then(|| {
            self.data
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        })
    }

    /// A borrowed view for [`CheckpointContents`]. Errors when the byte count does not match.
    pub fn view(&self) -> Result<(String, TensorView<'_>)> {
        let view = TensorView::new(self.dtype, self.shape.clone(), &self.data)
            .map_err(|e| anyhow::anyhow!("tensor {}: {e}", self.name))?;
        Ok((self.name.clone(), view))
    }
}

/// What to write into one checkpoint.
#[derive(Debug)]
pub struct CheckpointContents<'a> {
    /// The training state (its `step` names the directory).
    pub state: &'a TrainState,
    /// Policy weights.
    pub weights: Vec<(String, TensorView<'a>)>,
    /// Optimizer state; empty means no optimizer file.
    pub optimizer: Vec<(String, TensorView<'a>)>,
    /// Extra files (plain names, e.g. `config.json`) and their bytes.
    pub files: Vec<(String, &'a [u8])>,
}

/// A checkpoint found on disk: its state, read eagerly, and its tensors, read on demand.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedCheckpoint {
    /// The checkpoint directory.
    pub dir: PathBuf,
    /// Contents of `state.json`.
    pub state: TrainState,
    /// Names of the extra files, sorted.
    pub files: Vec<String>,
}

impl LoadedCheckpoint {
    /// Path of the weights file (loadable by transformers with a `config.json` beside it).
    pub fn weights_path(&self) -> PathBuf {
        self.dir.join(WEIGHTS_FILE)
    }

    /// The policy weights, sorted by name.
    pub fn read_weights(&self) -> Result<Vec<NamedTensor>> {
        read_safetensors(&self.weights_path())
    }

    /// The optimizer tensors, sorted by name (empty when none were saved).
    pub fn read_optimizer(&self) -> Result<Vec<NamedTensor>> {
        let path = self.dir.join(OPTIMIZER_FILE);
        if path.exists() {
            read_safetensors(&path)
        } else {
            Ok(Vec::new())
        }
    }

    /// The bytes of an extra file.
    pub fn read_file(&self, name: &str) -> Result<Vec<u8>> {
        let path = self.dir.join(name);
        fs::read(&path).with_context(|| format!("reading {}", path.display()))
    }
}

/// Reads every tensor of a safetensors file, sorted by name.
pub fn read_safetensors(path: &Path) -> Result<Vec<NamedTensor>> {
    let bytes = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let st = SafeTensors::deserialize(&bytes)
        .map_err(|e| anyhow::anyhow!("{}: not a valid safetensors file: {e}", path.display()))?;
    let mut out: Vec<NamedTensor> = st
        .tensors()
        .into_iter()
        .map(|(name, view)| NamedTensor {
            name,
            dtype: view.dtype(),
            shape: view.shape().to_vec(),
            data: view.data().to_vec(),
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Writes one checkpoint directory `dir` atomically (see the module docs); an existing `dir` is
/// replaced.
pub fn write_checkpoint(dir: &Path, contents: &CheckpointContents<'_>) -> Result<()> {
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .with_context(|| format!("invalid checkpoint directory {}", dir.display()))?;
    let parent = dir.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    for (file, _) in &contents.files {
        let plain = Path::new(file).file_name().and_then(|n| n.to_str()) == Some(file.as_str());
        if !plain || file.starts_with('.') || RESERVED.contains(&file.as_str()) {
            bail!("invalid extra checkpoint file name {file:?}");
        }
    }

    let pid = std::process::id();
    let tmp = parent.join(format!("{name}.tmp-{pid}"));
    remove_any(&tmp)?;
    fs::create_dir(&tmp).with_context(|| format!("creating {}", tmp.display()))?;

    let metadata = Some(HashMap::from([("format".to_string(), "pt".to_string())]));
    write_tensors(&tmp.join(WEIGHTS_FILE), &contents.weights, metadata.clone())?;
    if !contents.optimizer.is_empty() {
        write_tensors(&tmp.join(OPTIMIZER_FILE), &contents.optimizer, metadata)?;
    }
    for (file, bytes) in &contents.files {
        write_synced(&tmp.join(file), bytes)?;
    }
    let state = serde_json::to_vec_pretty(contents.state).context("serializing the train state")?;
    write_synced(&tmp.join(STATE_FILE), &state)?;
    sync_dir(&tmp)?;

    if dir.exists() {
        let old = parent.join(format!("{name}.old-{pid}"));
        remove_any(&old)?;
        fs::rename(dir, &old).with_context(|| format!("moving aside {}", dir.display()))?;
        fs::rename(&tmp, dir)
            .with_context(|| format!("renaming {} to {}", tmp.display(), dir.display()))?;
        remove_any(&old)?;
    } else {
        fs::rename(&tmp, dir)
            .with_context(|| format!("renaming {} to {}", tmp.display(), dir.display()))?;
    }
    sync_dir(parent)
}

fn write_tensors(
    path: &Path,
    tensors: &[(String, TensorView<'_>)],
    metadata: Option<HashMap<String, String>>,
) -> Result<()> {
    safetensors::serialize_to_file(tensors.iter().map(|(n, v)| (n.as_str(), v)), metadata, path)
        .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
    File::open(path)
        .and_then(|f| f.sync_all())
        .with_context(|| format!("syncing {}", path.display()))
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", path.display()))
}

/// Flushes a directory's entries (renames) to disk; a no-op where directories cannot be opened.
fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("syncing directory {}", dir.display()))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

fn remove_any(path: &Path) -> Result<()> {
    let result = match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => Err(e),
    };
    result.with_context(|| format!("removing {}", path.display()))
}

/// The step of a checkpoint directory name `step-<digits>` (`None` for anything else,
/// including the `.tmp-<pid>` directories of unfinished writes).
pub fn parse_step_dir_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("step-")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Saves numbered checkpoints under a root directory, keeps the newest few and a `latest` pointer.
#[derive(Debug, Clone)]
pub struct CheckpointManager {
    root: PathBuf,
    keep_last: usize,
}

impl CheckpointManager {
    /// A manager of `root` keeping the newest `keep_last` checkpoints (0 keeps all).
    pub fn new(root: impl Into<PathBuf>, keep_last: usize) -> Self {
        Self {
            root: root.into(),
            keep_last,
        }
    }

    /// The checkpoint root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Directory of the checkpoint of `step`.
    pub fn dir_for_step(&self, step: u64) -> PathBuf {
        self.root.join(format!("step-{step:08}"))
    }

    /// Writes the checkpoint of `contents.state.step`, points `latest` at it and removes older
    /// checkpoints beyond `keep_last` (newer ones, left by an abandoned run, are not touched).
    /// Returns its directory.
    pub fn save(&self, contents: &CheckpointContents<'_>) -> Result<PathBuf> {
        fs::create_dir_all(&self.root)
            .with_context(|| format!("creating {}", self.root.display()))?;
        self.clean_unfinished()?;
        let step = contents.state.step;
        let dir = self.dir_for_step(step);
        write_checkpoint(&dir, contents)?;
        let name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .expect("step directory name");
        let tmp = self
            .root
            .join(format!("{LATEST_FILE}.tmp-{}", std::process::id()));
        write_synced(&tmp, format!("{name}\n").as_bytes())?;
        fs::rename(&tmp, self.root.join(LATEST_FILE))
            .with_context(|| format!("updating {}", self.root.join(LATEST_FILE).display()))?;
        sync_dir(&self.root)?;
        if self.keep_last > 0 {
            let older: Vec<(u64, PathBuf)> = self
                .list()?
                .into_iter()
                .filter(|(s, _)| *s < step)
                .collect();
            let excess = (older.len() + 1).saturating_sub(self.keep_last);
            for (_, path) in older.into_iter().take(excess) {
                remove_any(&path)?;
            }
        }
        Ok(dir)
    }

    /// Complete checkpoints under the root, by increasing step.
    pub fn list(&self) -> Result<Vec<(u64, PathBuf)>> {
        let entries = match fs::read_dir(&self.root) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e).with_context(|| format!("listing {}", self.root.display())),
        };
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.with_context(|| format!("listing {}", self.root.display()))?;
            let Some(step) = entry.file_name().to_str().and_then(parse_step_dir_name) else {
                continue;
            };
            if entry.path().join(STATE_FILE).is_file() {
                out.push((step, entry.path()));
            }
        }
        out.sort();
        Ok(out)
    }

    /// The checkpoint named by `latest`, or the highest-step complete one when the pointer is
    /// missing or stale; `None` when there is none.
    pub fn latest(&self) -> Result<Option<PathBuf>> {
        if let Ok(text) = fs::read_to_string(self.root.join(LATEST_FILE)) {
            let name = text.trim();
            let dir = self.root.join(name);
            if parse_step_dir_name(name).is_some() && dir.join(STATE_FILE).is_file() {
                return Ok(Some(dir));
            }
        }
        Ok(self.list()?.pop().map(|(_, p)| p))
    }

    /// Removes what interrupted writes left behind (`*.tmp-*`, `*.old-*`); returns them.
    pub fn clean_unfinished(&self) -> Result<Vec<PathBuf>> {
        let mut removed = Vec::new();
        let Ok(entries) = fs::read_dir(&self.root) else {
            return Ok(removed);
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.contains(".tmp-") || name.contains(".old-") {
                remove_any(&entry.path())?;
                removed.push(entry.path());
            }
        }
        removed.sort();
        Ok(removed)
    }
}

/// Finds the checkpoint a path designates: a checkpoint directory itself, a checkpoint root
/// (its latest), or a run directory with a `checkpoints/` root.
pub fn resolve_checkpoint(path: &Path) -> Result<PathBuf> {
    if path.join(STATE_FILE).is_file() {
        return Ok(path.to_path_buf());
    }
    for root in [path.to_path_buf(), path.join("checkpoints")] {
        if let Some(dir) = CheckpointManager::new(root, 0).latest()? {
            return Ok(dir);
        }
    }
    bail!(
        "no checkpoint in {} (expected a directory with {STATE_FILE}, a checkpoint root or a run directory)",
        path.display()
    )
}

/// Loads the checkpoint `path` designates (see [`resolve_checkpoint`]): its state and file list.
pub fn load_checkpoint(path: &Path) -> Result<LoadedCheckpoint> {
    let dir = resolve_checkpoint(path)?;
    let state_path = dir.join(STATE_FILE);
    let text = fs::read_to_string(&state_path)
        .with_context(|| format!("reading {}", state_path.display()))?;
    let state: TrainState =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", state_path.display()))?;
    if state.format_version != FORMAT_VERSION {
        bail!(
            "{}: checkpoint format version {} is not supported (this build reads {FORMAT_VERSION})",
            state_path.display(),
            state.format_version
        );
    }
    if !dir.join(WEIGHTS_FILE).is_file() {
        bail!("{}: missing {WEIGHTS_FILE}", dir.display());
    }
    let mut files = Vec::new();
    for entry in fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if !RESERVED.contains(&name.as_str()) {
            files.push(name);
        }
    }
    files.sort();
    Ok(LoadedCheckpoint { dir, state, files })
}
