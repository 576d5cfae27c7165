//! Saving, loading, pruning and damaging checkpoints.

use nnc_check::program::{Model, Optimizer};
use nnc_ckpt::{
    hash_source, list, load, model_params, model_state, prune, save, CkptError, Sidecar,
};
use nnc_lower::backend::Tensor;
use std::fs;
use std::path::{Path, PathBuf};

const SOURCE: &str = r#"model net {
  input x: [3]
  layers {
    dense(4, act: relu)
    dense(2, act: sigmoid)
  }
  cost cross_entropy
}
"#;

fn model(source: &str) -> Model {
    let (file, errors) = nnc_syntax::parse(source);
    assert!(errors.is_empty(), "{errors:?}");
    let checked = nnc_check::check(&file);
    assert!(checked.errors.is_empty(), "{:?}", checked.errors);
    checked.program.models.into_iter().next().unwrap()
}

/// A fresh, empty directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir()
        .join(format!("nnc-ckpt-tests-{}", std::process::id()))
        .join(name);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// Parameters and Adam state of `model`, with distinct values.
fn tensors(model: &Model, offset: f32) -> (Sidecar, Vec<Tensor>, Vec<Tensor>) {
    let fill = |shape: &Vec<usize>, k: usize| {
        let len: usize = shape.iter().product();
        Tensor::new(
            shape.clone(),
            (0..len)
                .map(|i| offset + k as f32 + i as f32 * 0.25)
                .collect(),
        )
    };
    let params_specs = nnc_lower::params::param_specs(model);
    let adam = adam();
    let state_specs = nnc_lower::params::optimizer_state(model, &adam);
    let params = params_specs
        .iter()
        .enumerate()
        .map(|(k, s)| fill(&s.shape, k))
        .collect();
    let state = state_specs
        .iter()
        .enumerate()
        .map(|(k, s)| fill(&s.shape, 100 + k))
        .collect();
    let sidecar = Sidecar {
        format: nnc_ckpt::FORMAT,
        model_file: "net.nnet".into(),
        model_hash: hash_source(SOURCE),
        model: model.name.clone(),
        backend: "interp".into(),
        epoch: 3,
        step: 0,
        phase: 1,
        seed: 7,
        params: params_specs.into_iter().map(|s| s.name).collect(),
        state: state_specs.into_iter().map(|s| s.name).collect(),
        loop_state: serde_json::json!({ "multiplier": 0.5 }),
        metrics: vec![serde_json::json!({ "epoch": 1, "train_cost": 0.25 })],
        vocabulary: None,
    };
    (sidecar, params, state)
}

fn adam() -> Optimizer {
    Optimizer::Adam {
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
    }
}

fn saved(dir: &Path, name: &str, epoch: usize, step: usize) -> PathBuf {
    let m = model(SOURCE);
    let (mut sidecar, params, state) = tensors(&m, epoch as f32);
    sidecar.epoch = epoch;
    sidecar.step = step;
    save(dir, name, &sidecar, &params, &state).unwrap()
}

#[test]
fn a_saved_checkpoint_loads_back_exactly() {
    let dir = scratch("round_trip");
    let m = model(SOURCE);
    let (sidecar, params, state) = tensors(&m, 0.5);
    let path = save(&dir, "epoch-0003", &sidecar, &params, &state).unwrap();
    assert_eq!(path, dir.join("epoch-0003.safetensors"));
    assert!(dir.join("epoch-0003.json").is_file());

    for given in [path.clone(), dir.join("epoch-0003.json"), dir.clone()] {
        let ck = load(&given).unwrap();
        assert_eq!(ck.sidecar, sidecar);
        assert_eq!(ck.params, params);
        assert_eq!(ck.state, state);
        assert_eq!(ck.path, path);
    }
    let ck = load(&path).unwrap();
    assert_eq!(model_params(&m, &ck).unwrap(), params);
    assert_eq!(model_state(&m, &adam(), &ck).unwrap(), state);
    // Adam's step count is a scalar of shape [].
    assert_eq!(ck.state.last().unwrap().shape, Vec::<usize>::new());
    // No temporary file is left behind.
    let names: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

#[test]
fn the_weights_file_is_plain_safetensors_with_named_f32_tensors() {
    let dir = scratch("format");
    let m = model(SOURCE);
    let (sidecar, params, state) = tensors(&m, 1.0);
    let path = save(&dir, "c", &sidecar, &params, &state).unwrap();
    let bytes = fs::read(&path).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let view = file.tensor("dense_1.weight").unwrap();
    assert_eq!(view.dtype(), safetensors::Dtype::F32);
    assert_eq!(view.shape(), &[4, 3][..]);
    assert_eq!(&view.data()[..4], &params[0].data[0].to_le_bytes());
    assert!(file.tensor("dense_2.bias.s").is_ok());
    assert!(file.tensor("adam.step").is_ok());
    // The sidecar ties itself to these exact weights.
    let json: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(dir.join("c.json")).unwrap()).unwrap();
    assert_eq!(json["weights_sha256"].as_str().unwrap().len(), 64);
    assert_eq!(json["epoch"], 3);
}

#[test]
fn the_newest_checkpoint_of_a_directory_is_the_furthest_position() {
    let dir = scratch("newest");
    saved(&dir, "epoch-0002", 2, 0);
    saved(&dir, "epoch-0003-step-00007", 3, 7);
    saved(&dir, "epoch-0003", 3, 0);
    saved(&dir, "epoch-0001", 1, 0);
    let ck = load(&dir).unwrap();
    assert_eq!((ck.sidecar.epoch, ck.sidecar.step), (3, 7));
    assert_eq!(ck.path, dir.join("epoch-0003-step-00007.safetensors"));
    let names: Vec<String> = list(&dir).unwrap().into_iter().map(|e| e.name).collect();
    assert_eq!(
        names,
        [
            "epoch-0001",
            "epoch-0002",
            "epoch-0003",
            "epoch-0003-step-00007"
        ]
    );
}

#[test]
fn pruning_keeps_the_newest_and_ignores_other_files() {
    let dir = scratch("prune");
    for epoch in 1..=5 {
        saved(&dir, &format!("epoch-{epoch:04}"), epoch, 0);
    }
    fs::write(dir.join("notes.txt"), "mine").unwrap();
    fs::write(dir.join("other.safetensors"), "no sidecar").unwrap();
    prune(&dir, 2).unwrap();
    let mut names: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "epoch-0004.json",
            "epoch-0004.safetensors",
            "epoch-0005.json",
            "epoch-0005.safetensors",
            "notes.txt",
            "other.safetensors"
        ]
    );
    prune(&dir, 10).unwrap();
    assert_eq!(list(&dir).unwrap().len(), 2);
}

#[test]
fn saving_over_a_checkpoint_replaces_it_whole() {
    let dir = scratch("replace");
    saved(&dir, "c", 1, 0);
    saved(&dir, "c", 2, 0);
    let ck = load(&dir.join("c.safetensors")).unwrap();
    assert_eq!(ck.sidecar.epoch, 2);
    assert_eq!(ck.params[0].data[0], 2.0);
}

/// The message of an error, checked to name `file` and to contain `what`.
fn assert_message(error: &CkptError, file: &Path, what: &str) {
    let message = error.to_string();
    assert!(
        message.contains(&file.display().to_string()),
        "the message does not name {}: {message}",
        file.display()
    );
    assert!(message.contains(what), "expected `{what}` in: {message}");
}

#[test]
fn a_truncated_weights_file_is_a_clear_error() {
    let dir = scratch("truncated");
    let path = saved(&dir, "c", 1, 0);
    let bytes = fs::read(&path).unwrap();
    // Cut inside the data, inside the header, and inside the length prefix.
    for keep in [bytes.len() - 10, 40, 5, 0] {
        fs::write(&path, &bytes[..keep]).unwrap();
        let error = load(&path).unwrap_err();
        assert_message(&error, &path, "not a valid checkpoint");
    }
}

#[test]
fn a_damaged_weights_file_is_detected_by_its_sidecar() {
    let dir = scratch("flipped");
    let path = saved(&dir, "c", 1, 0);
    let mut bytes = fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x40;
    fs::write(&path, &bytes).unwrap();
    let error = load(&path).unwrap_err();
    assert_message(&error, &path, "not the ones its sidecar");
}

/// Damage that keeps the sidecar's hash right (as if written by another
/// tool) is caught by the safetensors checks themselves.
fn rewrite_without_hash(dir: &Path, name: &str, weights: &[u8]) -> PathBuf {
    let path = dir.join(format!("{name}.safetensors"));
    fs::write(&path, weights).unwrap();
    let sidecar = dir.join(format!("{name}.json"));
    let mut json: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&sidecar).unwrap()).unwrap();
    json.as_object_mut().unwrap().remove("weights_sha256");
    fs::write(&sidecar, json.to_string()).unwrap();
    path
}

#[test]
fn a_bad_header_wrong_dtype_or_missing_tensor_is_a_clear_error() {
    let dir = scratch("header");
    let path = saved(&dir, "c", 1, 0);
    let bytes = fs::read(&path).unwrap();
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header = String::from_utf8(bytes[8..8 + header_len].to_vec()).unwrap();

    // A header that is not JSON.
    let mut broken = bytes.clone();
    broken[8] = b'#';
    let path = rewrite_without_hash(&dir, "c", &broken);
    assert_message(
        &load(&path).unwrap_err(),
        &path,
        "safetensors data cannot be read",
    );

    // A header that claims more bytes than the file has.
    let mut long = bytes.clone();
    long[..8].copy_from_slice(&(header_len as u64 + 1000).to_le_bytes());
    let path = rewrite_without_hash(&dir, "c", &long);
    assert_message(&load(&path).unwrap_err(), &path, "not a valid checkpoint");

    // A tensor stored as another dtype of the same width.
    let swapped = header.replacen("\"F32\"", "\"I32\"", 1);
    let mut other = bytes.clone();
    other[8..8 + header_len].copy_from_slice(swapped.as_bytes());
    let path = rewrite_without_hash(&dir, "c", &other);
    assert_message(&load(&path).unwrap_err(), &path, "F32 only");

    // A tensor the sidecar lists under a name the file lacks.
    let renamed = header.replacen("dense_1.weight\"", "dense_9.weight\"", 1);
    let mut missing = bytes.clone();
    missing[8..8 + header_len].copy_from_slice(renamed.as_bytes());
    let path = rewrite_without_hash(&dir, "c", &missing);
    assert_message(
        &load(&path).unwrap_err(),
        &path,
        "no tensor `dense_1.weight`",
    );
}

#[test]
fn a_missing_or_broken_sidecar_is_a_clear_error() {
    let dir = scratch("sidecar");
    let path = saved(&dir, "c", 1, 0);
    let sidecar = dir.join("c.json");
    let text = fs::read_to_string(&sidecar).unwrap();

    fs::write(&sidecar, &text[..text.len() / 2]).unwrap();
    assert_message(&load(&path).unwrap_err(), &sidecar, "not valid JSON");

    fs::write(&sidecar, "[1, 2]").unwrap();
    assert_message(&load(&path).unwrap_err(), &sidecar, "not a JSON object");

    fs::write(&sidecar, r#"{"format": 1, "epoch": 2}"#).unwrap();
    assert_message(&load(&path).unwrap_err(), &sidecar, "incomplete");

    fs::write(&sidecar, text.replace("\"format\": 1", "\"format\": 9")).unwrap();
    assert_message(&load(&path).unwrap_err(), &sidecar, "format 9");

    fs::remove_file(&sidecar).unwrap();
    assert_message(&load(&path).unwrap_err(), &sidecar, "sidecar is missing");
    // Without its sidecar, the weights are no checkpoint of the directory.
    assert_message(&load(&dir).unwrap_err(), &dir, "holds no checkpoint");

    let nothing = dir.join("nothing.safetensors");
    assert!(matches!(load(&nothing), Err(CkptError::Missing { .. })));
    assert_message(
        &load(&dir.join("c.txt")).unwrap_err(),
        &dir.join("c.txt"),
        "no such file",
    );
}

#[test]
fn parameters_that_do_not_fit_the_model_name_the_tensor_and_both_shapes() {
    let dir = scratch("mismatch");
    let path = saved(&dir, "c", 1, 0);
    let ck = load(&path).unwrap();
    let wider = model(&SOURCE.replace("dense(4", "dense(5"));
    let error = model_params(&wider, &ck).unwrap_err();
    assert_message(
        &error,
        &path,
        "`dense_1.weight` has shape [4, 3] in the checkpoint",
    );
    assert!(error.to_string().contains("[5, 3]"), "{error}");

    let deeper = model(&SOURCE.replace(
        "dense(2, act: sigmoid)",
        "dense(2, act: relu)\n    dense(2, act: sigmoid)",
    ));
    let error = model_params(&deeper, &ck).unwrap_err();
    assert_message(&error, &path, "no parameter `dense_3.weight`");

    let shallower = model(&SOURCE.replace("dense(4, act: relu)\n", ""));
    let error = model_params(&shallower, &ck).unwrap_err();
    assert_message(&error, &path, "does not fit the model");

    let error = model_state(&model(SOURCE), &Optimizer::Momentum { mu: 0.9 }, &ck).unwrap_err();
    assert_message(
        &error,
        &path,
        "no optimizer state tensor `dense_1.weight.velocity`",
    );
}

#[test]
fn a_directory_that_cannot_be_written_is_a_clear_error() {
    let dir = scratch("unwritable");
    let blocker = dir.join("a-file");
    fs::write(&blocker, "not a directory").unwrap();
    let m = model(SOURCE);
    let (sidecar, params, state) = tensors(&m, 0.0);
    let target = blocker.join("checkpoints");
    let error = save(&target, "c", &sidecar, &params, &state).unwrap_err();
    assert!(matches!(error, CkptError::Io { .. }), "{error:?}");
    assert!(error.to_string().contains("a-file"), "{error}");
}

#[test]
fn saving_rejects_tensors_that_do_not_match_their_names() {
    let dir = scratch("invalid");
    let m = model(SOURCE);
    let (mut sidecar, params, state) = tensors(&m, 0.0);
    assert!(save(&dir, "c", &sidecar, &params[1..], &state).is_err());
    sidecar.state[0] = sidecar.params[0].clone();
    let error = save(&dir, "c", &sidecar, &params, &state).unwrap_err();
    assert!(
        error.to_string().contains("two tensors are named"),
        "{error}"
    );
    assert!(list(&dir).unwrap().is_empty());
}

#[test]
fn hashes_are_sha256_of_the_text() {
    assert_eq!(
        hash_source("abc"),
        "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_ne!(hash_source(SOURCE), hash_source(&SOURCE.replace('4', "5")));
}

#[test]
fn metrics_come_back_as_the_very_numbers_saved() {
    let dir = scratch("floats");
    let m = model(SOURCE);
    let (mut sidecar, params, state) = tensors(&m, 0.0);
    // Numbers the default serde_json parser reads one unit off.
    let values: [f64; 5] = [
        1.3044950664043427,
        0.9833333333333333,
        0.1,
        2.0 / 3.0,
        1e-300,
    ];
    sidecar.metrics = values
        .iter()
        .map(|&v| serde_json::json!({ "train_cost": v }))
        .collect();
    let path = save(&dir, "c", &sidecar, &params, &state).unwrap();
    let back = load(&path).unwrap();
    for (record, &v) in back.sidecar.metrics.iter().zip(&values) {
        assert_eq!(
            record["train_cost"].as_f64().unwrap().to_bits(),
            v.to_bits()
        );
    }
}

/// `SOURCE`'s model whose first layer also keeps `input_mean`, state that
/// is not trained.
fn model_with_statistic() -> Model {
    let mut m = model(SOURCE);
    m.layers[0].params.push(nnc_check::program::Param {
        name: "input_mean".to_string(),
        role: nnc_check::program::ParamRole::Statistic,
        shape: vec![3],
        init: nnc_check::program::Init::Zeros,
        decay: false,
        trained: false,
    });
    m
}

#[test]
fn the_tensor_names_of_dense_and_conv_layers_are_unchanged() {
    // What every checkpoint written so far holds: per layer its weight then
    // its bias, and their optimizer state in that order.
    let m = model(
        "model net {
           input x: [1, 6, 6]
           layers {
             conv2d(2, [3, 3], act: relu)
             flatten
             dense(3)
           }
           cost quadratic
         }",
    );
    let names = |o: &Optimizer| -> Vec<String> {
        nnc_lower::params::optimizer_state(&m, o)
            .into_iter()
            .map(|s| s.name)
            .collect()
    };
    let params: Vec<String> = nnc_lower::params::param_specs(&m)
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(
        params,
        ["conv2d.weight", "conv2d.bias", "dense.weight", "dense.bias"]
    );
    assert_eq!(
        names(&Optimizer::Momentum { mu: 0.9 }),
        params
            .iter()
            .map(|p| format!("{p}.velocity"))
            .collect::<Vec<_>>()
    );
    let mut moments: Vec<String> = params
        .iter()
        .flat_map(|p| [format!("{p}.m"), format!("{p}.s")])
        .collect();
    moments.push("adam.step".into());
    assert_eq!(names(&adam()), moments);
}

#[test]
fn state_that_is_not_trained_is_saved_and_loaded_by_name_without_optimizer_state() {
    let dir = scratch("statistic");
    let m = model_with_statistic();
    let (sidecar, params, state) = tensors(&m, 0.5);
    assert_eq!(sidecar.params[2], "dense_1.input_mean");
    assert!(sidecar.state.iter().all(|n| !n.contains("input_mean")));
    assert_eq!(state.len(), 4 * 2 + 1);
    let path = save(&dir, "epoch-0001", &sidecar, &params, &state).unwrap();
    let ck = load(&path).unwrap();
    assert_eq!(model_params(&m, &ck).unwrap(), params);
    assert_eq!(model_state(&m, &adam(), &ck).unwrap(), state);
    // A checkpoint of the model without the state lacks it, by name.
    let plain = model(SOURCE);
    let (sidecar, params, state) = tensors(&plain, 0.5);
    let path = save(&dir, "plain", &sidecar, &params, &state).unwrap();
    let ck = load(&path).unwrap();
    let error = model_params(&m, &ck).unwrap_err();
    assert!(error.to_string().contains("dense_1.input_mean"), "{error}");
    // Its optimizer state is the same: the state has none.
    assert_eq!(model_state(&m, &adam(), &ck).unwrap(), state);
    let _ = fs::remove_dir_all(&dir);
}
