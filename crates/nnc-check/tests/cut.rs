//! Parts of a model (`nnc_check::cut`): the decoder of a VAE from its code,
//! its encoder with the noise as an input, and the code found.

mod common;

use common::program;
use nnc_check::cut::{latent, noise_read_by, part};
use nnc_check::program::{Model, NodeId, Op};

const VAE: &str = "
model vae {
  input image: [16]
  let hidden = dense(image, 8, act: relu)
  let mu = dense(hidden, 2)
  let logvar = dense(hidden, 2)
  let z = mu + exp(0.5 * logvar) * normal([2])
  let decoded = dense(z, 8, act: relu)
  output reconstruction = dense(decoded, 16, act: sigmoid)
  cost cross_entropy(reconstruction, target: image)
  cost 0.5 * sum(square(mu) + exp(logvar) - logvar - 1)
}
";

fn id(model: &Model, name: &str) -> NodeId {
    NodeId(model.nodes.iter().position(|n| n.name == name).unwrap())
}

#[test]
fn the_code_of_a_vae_is_found_and_its_decoder_cut() {
    let p = program(VAE);
    let m = &p.models[0];
    let output = m.outputs[0].1;
    let z = latent(m, output).unwrap();
    assert_eq!(m.node(z).name, "z");
    let decoder = part(m, &[z], output).unwrap();
    assert_eq!(decoder.inputs.len(), 1);
    assert_eq!(decoder.node(decoder.inputs[0]).shape, vec![2]);
    assert!(matches!(decoder.node(decoder.inputs[0]).op, Op::Input));
    // Only the decoder's two dense layers and its input remain; every
    // layer is kept, so the model's parameters fit.
    let dense = decoder
        .nodes
        .iter()
        .filter(|n| matches!(n.op, Op::Dense { .. }))
        .count();
    assert_eq!((decoder.nodes.len(), dense), (3, 2));
    assert_eq!(decoder.layers.len(), m.layers.len());
    assert_eq!(decoder.outputs[0].0, "reconstruction");
    assert!(decoder.cost.is_none() && decoder.penalties.is_empty());
    // Every node's operands come before it.
    for (i, n) in decoder.nodes.iter().enumerate() {
        assert!(n.inputs.iter().all(|o| o.0 < i));
    }
}

#[test]
fn an_encoder_needs_its_noise_as_an_input() {
    let p = program(VAE);
    let m = &p.models[0];
    let z = id(m, "z");
    let noise = noise_read_by(m, z);
    assert_eq!(noise.len(), 1);
    assert!(part(m, &m.inputs, z).is_none());
    let mut inputs = m.inputs.clone();
    inputs.extend(&noise);
    let encoder = part(m, &inputs, z).unwrap();
    assert_eq!(encoder.inputs.len(), 2);
    // A later tensor also carries everything to the output (`decoded`),
    // but `z` comes first; `mu` does not carry the noise.
    let decoded = id(m, "decoded");
    assert!(part(m, &[decoded], m.outputs[0].1).is_some());
    assert!(part(m, &[id(m, "mu")], m.outputs[0].1).is_none());
}

#[test]
fn a_model_without_noise_has_no_code() {
    let p = program(
        "model ae {
           input image: [16]
           let code = dense(image, 4, act: relu)
           output reconstruction = dense(code, 16, act: sigmoid)
           cost cross_entropy(reconstruction, target: image)
         }",
    );
    let m = &p.models[0];
    assert!(noise_read_by(m, m.outputs[0].1).is_empty());
    assert_eq!(latent(m, m.outputs[0].1), None);
}
