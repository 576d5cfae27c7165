//! Checkpoints of nnc runs: the parameters and optimizer state of a model,
//! and where the run stood, so that it can be evaluated, used or resumed.
//!
//! A checkpoint `NAME` is two files in one directory:
//! - `NAME.safetensors`: every parameter a layer declares, trained or not
//!   (under its name from `nnc_lower::params::param_specs`, e.g.
//!   `dense_1.weight`; state such as a running mean too), then every tensor
//!   of optimizer state, which only trained parameters have (its name from
//!   `nnc_lower::params::optimizer_state`, e.g. `dense_1.weight.velocity`,
//!   `adam.step`), each as little-endian `f32`, row-major, in the
//!   safetensors format. Tensors are matched by name and shape when loaded,
//!   never by position;
//! - `NAME.json`, the [`Sidecar`]: the model file and the hash of its source,
//!   the position of the run (epochs completed, steps into the next epoch,
//!   phase), the seed, the order of the tensors, the loop's state and the
//!   metrics so far. On disk it also holds `weights_sha256`, the hash of the
//!   weights file it belongs with.
//!
//! Invariants:
//! - Writes are atomic ([`atomic`]): each file is written under a temporary
//!   name in the same directory, flushed, renamed over its target, and the
//!   directory is flushed. The weights are written first and the sidecar
//!   last: a weights file without its sidecar is not a checkpoint, so a
//!   crash at any point leaves every earlier checkpoint whole and never
//!   shows a half-written one.
//! - A sidecar names the exact weights file it was written with (its
//!   SHA-256); a weights file replaced without its sidecar is detected.
//! - Reading never panics: a missing, truncated or damaged file, a wrong
//!   dtype, a missing tensor or bad JSON is a [`CkptError`] that names the
//!   file and what is wrong.
//! - "Newest" means the furthest position of the run: the greatest
//!   `(epoch, step)` of the sidecars, then the latest modification time,
//!   then the name.

mod atomic;
mod error;

pub use atomic::remove_stale_temporaries;
pub use error::CkptError;

use nnc_check::program::{Model, Optimizer};
use nnc_lower::backend::Tensor;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The sidecar format this crate writes and reads.
pub const FORMAT: u32 = 1;

/// The extension of a checkpoint's weights file.
pub const WEIGHTS_EXTENSION: &str = "safetensors";
/// The extension of a checkpoint's sidecar.
pub const SIDECAR_EXTENSION: &str = "json";

/// The field of the sidecar file holding the weights file's hash; it is
/// added when saving and checked when loading, and is no field of
/// [`Sidecar`].
const WEIGHTS_HASH_FIELD: &str = "weights_sha256";

/// Where a run stood when a checkpoint was taken, and what it needs to go on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sidecar {
    /// The sidecar format, [`FORMAT`].
    pub format: u32,
    /// The `.nnet` file the run trained, as given on the command line.
    pub model_file: String,
    /// `sha256:<hex>` of the `.nnet` source text ([`hash_source`]).
    pub model_hash: String,
    /// The model's name in the file.
    pub model: String,
    /// The backend that trained it (`jit`, `interp`, `gpu`).
    pub backend: String,
    /// Epochs completed.
    pub epoch: usize,
    /// Steps done in epoch `epoch + 1` (0 at an epoch boundary).
    pub step: usize,
    /// The phase (1-based) the run is in.
    pub phase: usize,
    pub seed: u64,
    /// The names of the parameter tensors, in `param_specs` order.
    pub params: Vec<String>,
    /// The names of the optimizer-state tensors, in `optimizer_state` order.
    pub state: Vec<String>,
    /// The training loop's own state (plateau counters, early stopping,
    /// partial epoch sums), as the loop wrote it.
    pub loop_state: serde_json::Value,
    /// The log records of the epochs so far.
    pub metrics: Vec<serde_json::Value>,
    /// A character model's vocabulary: its classes in order (character
    /// `i` of the string is class `i`); absent for other models.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vocabulary: Option<String>,
}

/// A checkpoint read back.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    pub sidecar: Sidecar,
    /// In `sidecar.params` order.
    pub params: Vec<Tensor>,
    /// In `sidecar.state` order.
    pub state: Vec<Tensor>,
    /// The `.safetensors` file.
    pub path: PathBuf,
}

/// `sha256:<hex>` of a model's source text.
pub fn hash_source(text: &str) -> String {
    format!("sha256:{}", hex_sha256(text.as_bytes()))
}

fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The weights file and the sidecar of checkpoint `name` in `dir`.
pub fn checkpoint_files(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    (
        dir.join(format!("{name}.{WEIGHTS_EXTENSION}")),
        dir.join(format!("{name}.{SIDECAR_EXTENSION}")),
    )
}

/// Saves checkpoint `name` into `dir` (created if needed) and returns the
/// weights file's path. `params` and `state` are named, in order, by
/// `sidecar.params` and `sidecar.state`. An existing checkpoint of that name
/// is replaced, atomically.
pub fn save(
    dir: &Path,
    name: &str,
    sidecar: &Sidecar,
    params: &[Tensor],
    state: &[Tensor],
) -> Result<PathBuf, CkptError> {
    let weights = weights_bytes(sidecar, params, state)?;
    fs::create_dir_all(dir).map_err(|e| CkptError::io(dir, "create the directory", e))?;
    let (weights_path, sidecar_path) = checkpoint_files(dir, name);

    let mut json = serde_json::to_value(sidecar).map_err(|e| CkptError::Invalid {
        problem: format!("the sidecar cannot be written as JSON: {e}"),
    })?;
    if let serde_json::Value::Object(fields) = &mut json {
        fields.insert(
            WEIGHTS_HASH_FIELD.to_string(),
            serde_json::Value::String(hex_sha256(&weights)),
        );
    }
    let mut text = serde_json::to_string_pretty(&json).map_err(|e| CkptError::Invalid {
        problem: format!("the sidecar cannot be written as JSON: {e}"),
    })?;
    text.push('\n');

    // The weights first, the sidecar last: until the sidecar lands, the new
    // weights are no checkpoint.
    atomic::write_atomic(&weights_path, &weights)?;
    atomic::write_atomic(&sidecar_path, text.as_bytes())?;
    Ok(weights_path)
}

/// The safetensors bytes of `params` then `state`, each under its name.
fn weights_bytes(
    sidecar: &Sidecar,
    params: &[Tensor],
    state: &[Tensor],
) -> Result<Vec<u8>, CkptError> {
    let invalid = |problem: String| CkptError::Invalid { problem };
    if sidecar.params.len() != params.len() || sidecar.state.len() != state.len() {
        return Err(invalid(format!(
            "the sidecar names {} parameters and {} state tensors, {} and {} were given",
            sidecar.params.len(),
            sidecar.state.len(),
            params.len(),
            state.len()
        )));
    }
    let names = sidecar.params.iter().chain(&sidecar.state);
    let tensors = params.iter().chain(state);
    let mut seen = HashSet::new();
    let mut bytes: Vec<(String, Vec<usize>, Vec<u8>)> =
        Vec::with_capacity(params.len() + state.len());
    for (name, tensor) in names.zip(tensors) {
        if !seen.insert(name.as_str()) {
            return Err(invalid(format!("two tensors are named `{name}`")));
        }
        if tensor.shape.iter().product::<usize>() != tensor.data.len() {
            return Err(invalid(format!(
                "tensor `{name}` has shape {:?} but {} values",
                tensor.shape,
                tensor.data.len()
            )));
        }
        let data: Vec<u8> = tensor.data.iter().flat_map(|v| v.to_le_bytes()).collect();
        bytes.push((name.clone(), tensor.shape.clone(), data));
    }
    let mut views = Vec::with_capacity(bytes.len());
    for (name, shape, data) in &bytes {
        let view = TensorView::new(Dtype::F32, shape.clone(), data)
            .map_err(|e| invalid(format!("tensor `{name}`: {e}")))?;
        views.push((name.clone(), view));
    }
    let mut info = HashMap::new();
    info.insert("format".to_string(), "nnc-ckpt".to_string());
    safetensors::serialize(views, &Some(info))
        .map_err(|e| invalid(format!("the tensors cannot be serialized: {e}")))
}

/// Reads a checkpoint. `path` is its `.safetensors` file, its `.json`
/// sidecar, or a directory (then the newest checkpoint in it).
pub fn load(path: &Path) -> Result<Checkpoint, CkptError> {
    let weights_path = resolve(path)?;
    let sidecar_path = weights_path.with_extension(SIDECAR_EXTENSION);
    let (sidecar, weights_hash) = read_sidecar(&sidecar_path)?;
    let bytes = fs::read(&weights_path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            CkptError::missing(&weights_path, "the weights file of the sidecar is missing")
        }
        _ => CkptError::io(&weights_path, "read", e),
    })?;
    if let Some(expected) = weights_hash {
        let actual = hex_sha256(&bytes);
        if actual != expected {
            return Err(CkptError::corrupt(
                &weights_path,
                format!(
                    "its contents are not the ones its sidecar `{}` was written with \
                     (sha256 {actual}, the sidecar says {expected})",
                    sidecar_path.display()
                ),
            ));
        }
    }
    let file = SafeTensors::deserialize(&bytes).map_err(|e| {
        CkptError::corrupt(
            &weights_path,
            format!("its safetensors data cannot be read: {e}"),
        )
    })?;
    let read = |name: &String| read_tensor(&file, name, &weights_path);
    let params = sidecar
        .params
        .iter()
        .map(read)
        .collect::<Result<Vec<_>, _>>()?;
    let state = sidecar
        .state
        .iter()
        .map(read)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Checkpoint {
        sidecar,
        params,
        state,
        path: weights_path,
    })
}

/// One `f32` tensor of the weights file.
fn read_tensor(file: &SafeTensors<'_>, name: &str, path: &Path) -> Result<Tensor, CkptError> {
    let view = file
        .tensor(name)
        .map_err(|_| CkptError::corrupt(path, format!("it has no tensor `{name}`")))?;
    if view.dtype() != Dtype::F32 {
        return Err(CkptError::corrupt(
            path,
            format!(
                "tensor `{name}` is {:?}, nnc checkpoints hold F32 only",
                view.dtype()
            ),
        ));
    }
    let shape = view.shape().to_vec();
    let data = view.data();
    if data.len() != shape.iter().product::<usize>() * 4 {
        return Err(CkptError::corrupt(
            path,
            format!(
                "tensor `{name}` of shape {shape:?} holds {} bytes",
                data.len()
            ),
        ));
    }
    let values = data
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    Ok(Tensor::new(shape, values))
}

/// Reads and checks a sidecar; returns it and the weights hash it holds.
fn read_sidecar(path: &Path) -> Result<(Sidecar, Option<String>), CkptError> {
    let text = fs::read_to_string(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => CkptError::missing(
            path,
            "the sidecar is missing, so the weights next to it are no complete checkpoint \
             (a save was interrupted, or the sidecar was deleted)",
        ),
        std::io::ErrorKind::InvalidData => {
            CkptError::corrupt(path, "the sidecar is not UTF-8 text")
        }
        _ => CkptError::io(path, "read", e),
    })?;
    let mut json: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| CkptError::corrupt(path, format!("the sidecar is not valid JSON: {e}")))?;
    let hash = match &mut json {
        serde_json::Value::Object(fields) => match fields.remove(WEIGHTS_HASH_FIELD) {
            Some(serde_json::Value::String(h)) => Some(h),
            Some(_) => {
                return Err(CkptError::corrupt(
                    path,
                    format!("the sidecar's `{WEIGHTS_HASH_FIELD}` is not a string"),
                ))
            }
            None => None,
        },
        _ => return Err(CkptError::corrupt(path, "the sidecar is not a JSON object")),
    };
    let format = json.get("format").and_then(|f| f.as_u64());
    if let Some(format) = format {
        if format != u64::from(FORMAT) {
            return Err(CkptError::corrupt(
                path,
                format!(
                    "the sidecar has format {format}, this nnc reads format {FORMAT}; \
                     use the nnc that wrote it"
                ),
            ));
        }
    }
    let sidecar: Sidecar = serde_json::from_value(json)
        .map_err(|e| CkptError::corrupt(path, format!("the sidecar is incomplete: {e}")))?;
    Ok((sidecar, hash))
}

/// The name of the copy of the best checkpoint of a run (`nnc run
/// --keep-best METRIC`): `best.safetensors` and `best.json`. It is no
/// position of the run, so [`list`], [`prune`] and resuming from a
/// directory leave it out.
pub const BEST: &str = "best";

/// Like [`load`], but a directory gives its `best` checkpoint when it has
/// one (what `nnc eval` and `nnc predict` use), else its newest.
pub fn load_best_or_newest(path: &Path) -> Result<Checkpoint, CkptError> {
    if path.is_dir() {
        let (weights, sidecar) = checkpoint_files(path, BEST);
        if weights.is_file() && sidecar.is_file() {
            return load(&weights);
        }
    }
    load(path)
}

/// Deletes the `best` checkpoint of `dir`, if any (sidecar first).
pub fn remove_best(dir: &Path) -> Result<(), CkptError> {
    let (weights, sidecar) = checkpoint_files(dir, BEST);
    for path in [sidecar, weights] {
        if path.exists() {
            fs::remove_file(&path).map_err(|e| CkptError::io(&path, "delete", e))?;
        }
    }
    Ok(())
}

/// The weights file `path` designates.
fn resolve(path: &Path) -> Result<PathBuf, CkptError> {
    let metadata = fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => CkptError::missing(path, "no such file or directory"),
        _ => CkptError::io(path, "read", e),
    })?;
    if metadata.is_dir() {
        let newest = list(path)?.pop().ok_or_else(|| {
            CkptError::missing(
                path,
                "the directory holds no checkpoint (a `.safetensors` file with its `.json` sidecar)",
            )
        })?;
        return Ok(newest.weights);
    }
    match path.extension().and_then(|e| e.to_str()) {
        Some(WEIGHTS_EXTENSION) | Some(SIDECAR_EXTENSION) => {
            Ok(path.with_extension(WEIGHTS_EXTENSION))
        }
        _ => Err(CkptError::missing(
            path,
            "a checkpoint is a `.safetensors` file, its `.json` sidecar, or a directory of them",
        )),
    }
}

/// One complete checkpoint found in a directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The checkpoint's name: its files without their extensions.
    pub name: String,
    pub weights: PathBuf,
    pub sidecar: PathBuf,
    pub epoch: usize,
    pub step: usize,
}

/// The complete checkpoints of `dir` (a sidecar with its weights file),
/// oldest first. A sidecar that cannot be read is an error naming it.
pub fn list(dir: &Path) -> Result<Vec<Entry>, CkptError> {
    let reader = fs::read_dir(dir).map_err(|e| CkptError::io(dir, "list", e))?;
    let mut found = Vec::new();
    for item in reader {
        let item = item.map_err(|e| CkptError::io(dir, "list", e))?;
        let path = item.path();
        let file_name = item.file_name().to_string_lossy().into_owned();
        if atomic::is_temporary(&file_name)
            || path.extension().and_then(|e| e.to_str()) != Some(SIDECAR_EXTENSION)
            || path.file_stem().and_then(|s| s.to_str()) == Some(BEST)
        {
            continue;
        }
        let weights = path.with_extension(WEIGHTS_EXTENSION);
        if !weights.is_file() {
            continue;
        }
        let (sidecar, _) = read_sidecar(&path)?;
        let modified = fs::metadata(&path).and_then(|m| m.modified()).ok();
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        found.push((
            (sidecar.epoch, sidecar.step, modified, name.clone()),
            Entry {
                name,
                weights,
                sidecar: path,
                epoch: sidecar.epoch,
                step: sidecar.step,
            },
        ));
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(found.into_iter().map(|(_, entry)| entry).collect())
}

/// Deletes all but the newest `keep` checkpoints of `dir`. The sidecar of
/// each goes first, so a checkpoint being deleted stops being one at once.
pub fn prune(dir: &Path, keep: usize) -> Result<(), CkptError> {
    let entries = list(dir)?;
    let excess = entries.len().saturating_sub(keep);
    for entry in &entries[..excess] {
        fs::remove_file(&entry.sidecar).map_err(|e| CkptError::io(&entry.sidecar, "delete", e))?;
        fs::remove_file(&entry.weights).map_err(|e| CkptError::io(&entry.weights, "delete", e))?;
    }
    Ok(())
}

/// Puts `ck`'s tensors named `names` in that order, checking each name and
/// shape, and that the checkpoint holds no tensor of this kind (`what`)
/// that `names` lacks.
fn by_name(
    ck: &Checkpoint,
    have_names: &[String],
    have: &[Tensor],
    wanted: &[(String, Vec<usize>)],
    what: &str,
) -> Result<Vec<Tensor>, CkptError> {
    let index: HashMap<&str, usize> = have_names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    let mut out = Vec::with_capacity(wanted.len());
    for (name, shape) in wanted {
        let Some(&i) = index.get(name.as_str()) else {
            return Err(CkptError::mismatch(
                &ck.path,
                format!("it has no {what} `{name}` (the model's has shape {shape:?})"),
            ));
        };
        let tensor = &have[i];
        if &tensor.shape != shape {
            return Err(CkptError::mismatch(
                &ck.path,
                format!(
                    "{what} `{name}` has shape {:?} in the checkpoint, the model's has shape {shape:?}",
                    tensor.shape
                ),
            ));
        }
        out.push(tensor.clone());
    }
    let wanted_names: HashSet<&str> = wanted.iter().map(|(n, _)| n.as_str()).collect();
    if let Some(extra) = have_names
        .iter()
        .find(|n| !wanted_names.contains(n.as_str()))
    {
        return Err(CkptError::mismatch(
            &ck.path,
            format!("it holds {what} `{extra}`, which the model does not have"),
        ));
    }
    Ok(out)
}

/// The optimizer state tensors named `wanted` (name and shape), in that
/// order: a game's, whose state is every step's (`nnc_train::game`).
pub fn named_state(
    ck: &Checkpoint,
    wanted: &[(String, Vec<usize>)],
) -> Result<Vec<Tensor>, CkptError> {
    by_name(
        ck,
        &ck.sidecar.state,
        &ck.state,
        wanted,
        "optimizer state tensor",
    )
}

/// The parameters of `model` as one player of a game saved in `ck`: each
/// named `PLAYER.LAYER.NAME` there (`generator.dense_1.weight`), in
/// `param_specs` order, checked by name and shape. The other players'
/// parameters are left.
pub fn player_params(model: &Model, ck: &Checkpoint) -> Result<Vec<Tensor>, CkptError> {
    let index: HashMap<&str, usize> = ck
        .sidecar
        .params
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    let mut out = Vec::new();
    for spec in nnc_lower::params::param_specs(model) {
        let name = format!("{}.{}", model.name, spec.name);
        let Some(tensor) = index.get(name.as_str()).and_then(|&i| ck.params.get(i)) else {
            return Err(CkptError::mismatch(
                &ck.path,
                format!(
                    "it has no parameter `{name}` (model `{}`'s has shape {:?})",
                    model.name, spec.shape
                ),
            ));
        };
        if tensor.shape != spec.shape {
            return Err(CkptError::mismatch(
                &ck.path,
                format!(
                    "parameter `{name}` has shape {:?} in the checkpoint, the model's has shape {:?}",
                    tensor.shape, spec.shape
                ),
            ));
        }
        out.push(tensor.clone());
    }
    Ok(out)
}

/// The model's parameters from `ck`, in `param_specs` order, checked by
/// name and shape.
pub fn model_params(model: &Model, ck: &Checkpoint) -> Result<Vec<Tensor>, CkptError> {
    let wanted: Vec<(String, Vec<usize>)> = nnc_lower::params::param_specs(model)
        .into_iter()
        .map(|s| (s.name, s.shape))
        .collect();
    by_name(ck, &ck.sidecar.params, &ck.params, &wanted, "parameter")
}

/// The optimizer state of `model` under `optimizer` from `ck`, in
/// `optimizer_state` order, checked by name and shape.
pub fn model_state(
    model: &Model,
    optimizer: &Optimizer,
    ck: &Checkpoint,
) -> Result<Vec<Tensor>, CkptError> {
    let wanted: Vec<(String, Vec<usize>)> = nnc_lower::params::optimizer_state(model, optimizer)
        .into_iter()
        .map(|s| (s.name, s.shape))
        .collect();
    by_name(
        ck,
        &ck.sidecar.state,
        &ck.state,
        &wanted,
        "optimizer state tensor",
    )
}
