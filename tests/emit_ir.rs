//! `nnc emit ir` of the variational autoencoder (`models/vae_mnist.nnet`),
//! snapshotted at a batch of 2 (shapes stay short; the graph does not grow
//! with the batch): the training step after `autodiff` (the forward graph,
//! both cost terms and every gradient, before the optimizer's update adds
//! one block per parameter) and the inference graph.
//!
//! Besides the snapshots, each test checks what the graphs must show, so a
//! change that loses it fails with a message, not only a snapshot diff:
//! - the reparameterisation `z = mu + exp(0.5 * logvar) * eps`, with `eps`
//!   the IR's `random` op drawing `normal` values from the `step_seed`
//!   input (training) and from the evaluation's noise seed, the same input
//!   (inference);
//! - the KL term `0.5 * sum(mu² + e^logvar - logvar - 1)` and the
//!   reconstruction's cross-entropy, added per example into the cost;
//! - the gradients reaching `mu` and `logvar` from both terms, the noise
//!   scaling the gradient through `z` (training only).

mod common;

use common::{nnc, root};
use std::collections::HashMap;

fn settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(root().join("tests/snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings
}

/// Runs `nnc emit ir models/vae_mnist.nnet --batch 2` with `extra`.
fn emit_vae(extra: &[&str]) -> String {
    let mut args = vec!["emit", "ir", "models/vae_mnist.nnet", "--batch", "2"];
    args.extend_from_slice(extra);
    let out = nnc(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Whether a node's name is `name`, alone or inside a block instance
/// (`encoder.mu`).
fn is(node_name: &str, name: &str) -> bool {
    node_name == name || node_name.ends_with(&format!(".{name}"))
}

/// One node of the printed graph: `%id = OP(OPERANDS) : SHAPE  // NAME`.
#[derive(Debug)]
struct Node {
    id: String,
    op: String,
    operands: String,
    name: String,
}

/// The nodes of a printed graph, in order.
fn nodes(text: &str) -> Vec<Node> {
    text.lines()
        .filter_map(|line| {
            let (id, rest) = line.trim().split_once(" = ")?;
            let id = id.strip_prefix('%')?.to_string();
            let (body, name) = rest.split_once("  // ")?;
            let (op, operands) = match body.split_once('(') {
                Some((op, operands)) => (op, operands.split(") :").next().unwrap_or("")),
                None => (body.split(" :").next().unwrap_or(""), ""),
            };
            Some(Node {
                id,
                op: op.to_string(),
                operands: operands.to_string(),
                name: name.to_string(),
            })
        })
        .collect()
}

/// Checks what both graphs share: the noise drawn from the step seed, the
/// reparameterisation, the KL term and the two cost terms added per
/// example. Returns the nodes by name (the last of each name).
fn check_forward(text: &str) -> HashMap<String, Node> {
    let all = nodes(text);
    let by_id: HashMap<&str, &Node> = all.iter().map(|n| (n.id.as_str(), n)).collect();
    let operand = |node: &Node, k: usize| -> String {
        let id = node
            .operands
            .split(", ")
            .nth(k)
            .and_then(|o| o.strip_prefix('%'))
            .unwrap_or_else(|| panic!("operand {k} of {node:?}"))
            .trim_end_matches("^T");
        by_id
            .get(id)
            .map_or_else(|| panic!("no node %{id}"), |n| n.name.clone())
    };
    let noise = all
        .iter()
        .find(|n| n.op == "random")
        .unwrap_or_else(|| panic!("no random op:\n{text}"));
    assert!(noise.operands.contains("normal"), "{noise:?}");
    assert_eq!(operand(noise, 0), "step_seed", "{noise:?}");
    assert!(
        text.contains("= input step_seed : []"),
        "the seed is an input:\n{text}"
    );
    let named = |name: &str| {
        all.iter()
            .rfind(|n| n.name == name)
            .unwrap_or_else(|| panic!("no node named {name}:\n{text}"))
    };
    let z = named("z");
    assert_eq!(z.op, "add");
    assert!(is(&operand(z, 0), "mu"), "{z:?}");
    let scaled_noise = by_id[z
        .operands
        .split(", ")
        .nth(1)
        .unwrap()
        .trim_start_matches('%')];
    assert_eq!(scaled_noise.op, "mul");
    assert_eq!(operand(scaled_noise, 1), "normal");
    let kl = named("kl");
    assert_eq!(
        (kl.op.as_str(), operand(kl, 0)),
        ("scale", "sum.shape".to_string())
    );
    assert!(kl.operands.ends_with(", 0.5"), "{kl:?}");
    for (op, name) in [("square", "square"), ("exp", "exp_2"), ("sub", "sub")] {
        assert_eq!(named(name).op, op, "{name}");
    }
    let reconstruction = all
        .iter()
        .find(|n| n.op == "cost_sigmoid_cross_entropy")
        .unwrap_or_else(|| panic!("no cross-entropy:\n{text}"));
    assert_eq!(
        operand(reconstruction, 1),
        "image",
        "compared with the input"
    );
    let terms = named("cost.terms");
    assert_eq!(terms.op, "add");
    assert_eq!(operand(terms, 0), reconstruction.name);
    assert_eq!(operand(terms, 1), "penalty1");
    all.into_iter().map(|n| (n.name.clone(), n)).collect()
}

#[test]
fn vae_training_step_after_autodiff() {
    let text = emit_vae(&["--after", "autodiff"]);
    assert!(text.starts_with("graph training (batch 2) {"), "{text}");
    let nodes = check_forward(&text);
    assert!(text.contains("output cost = "), "{text}");
    assert!(!text.contains("new("), "no update after autodiff:\n{text}");
    // Gradients reach mu and logvar (from the KL term and through z) and
    // every parameter.
    for of in ["mu", "logvar", "z", "kl", "exp_1"] {
        assert!(
            nodes.keys().any(|name| name
                .strip_prefix("grad(")
                .and_then(|n| n.strip_suffix(')'))
                .is_some_and(|n| is(n, of))),
            "no gradient of {of}:\n{text}"
        );
    }
    for param in ["hidden", "mu", "logvar", "decoded", "reconstruction"] {
        for part in ["weight", "bias"] {
            assert!(
                text.contains(&format!("{param}.{part}) = ")),
                "no gradient of {param}.{part}"
            );
        }
    }
    // The gradient through `exp(0.5 * logvar) * eps` is scaled by the noise.
    let noise_id = &nodes["normal"].id;
    assert!(
        nodes["grad(exp_1)"]
            .operands
            .contains(&format!("%{noise_id}")),
        "{text}"
    );
    settings().bind(|| insta::assert_snapshot!("emit_ir_vae_training_after_autodiff", text));
}

#[test]
fn vae_inference_graph() {
    let text = emit_vae(&["--inference"]);
    assert!(text.starts_with("graph inference (batch 2) {"), "{text}");
    check_forward(&text);
    assert!(!text.contains("grad("), "{text}");
    for output in [
        "output cost_term0 = ",
        "output cost_term1 = ",
        "output cost_sum = ",
        "output prediction(reconstruction) = ",
    ] {
        assert!(text.contains(output), "no `{output}`:\n{text}");
    }
    settings().bind(|| insta::assert_snapshot!("emit_ir_vae_inference", text));
}
