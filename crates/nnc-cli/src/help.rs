//! The text after each subcommand's `--help`: example command lines, the
//! related subcommands and, for `nnc check`, the exit codes. Kept in one
//! place so the subcommands read alike; `tests` below checks that every
//! subcommand has examples that name it and related subcommands that exist.

pub(crate) const CHECK: &str = "\
Examples:
  nnc check models/mnist_784_30_10.nnet
  nnc check models/*.nnet --deny-warnings
  nnc check model.nnet --data --format json

Exit status:
  0  no errors (warnings allowed, unless --deny-warnings)
  1  errors found, including a file that cannot be read (E0003)
  2  a bad command line

See also: nnc summary (shapes and sizes per layer), nnc fmt, nnc run";

pub(crate) const SUMMARY: &str = "\
Examples:
  nnc summary models/conv_20_40.nnet
  nnc summary models/bench_w2.nnet --model mlp_1024 --format json

See also: nnc check, nnc emit ir (the tensor IR)";

pub(crate) const FMT: &str = "\
Examples:
  nnc fmt models/*.nnet
  nnc fmt --check model.nnet   (in CI: exit 1 when not formatted)

See also: nnc check";

pub(crate) const RUN: &str = "\
Examples:
  nnc run models/mnist_784_30_10.nnet
  nnc run models/mnist_784_30_10.nnet --epochs 3 --log run.jsonl --plot plots
  nnc run models/conv_20_40.nnet --checkpoint ckpt --keep 3 --keep-best validation_accuracy
  nnc run models/conv_20_40.nnet --resume ckpt
  nnc run model.nnet --backend wgpu --verify

See also: nnc check, nnc bench (timing only), nnc eval and nnc predict (use the
checkpoints), nnc plot (compare logs)";

pub(crate) const BENCH: &str = "\
Examples:
  nnc bench models/bench_w2.nnet
  nnc bench models/mnist_784_30_10.nnet --epochs 5 --format json
  nnc bench models/bench_w3.nnet --backend wgpu --train-limit 10000

See also: nnc run (trains and evaluates), nnc emit clif and nnc emit wgsl (the
kernels timed)";

pub(crate) const EVAL: &str = "\
Examples:
  nnc eval models/conv_20_40.nnet --weights ckpt
  nnc eval models/conv_20_40.nnet --weights ckpt/epoch-0010.safetensors --split validation
  nnc eval model.nnet --weights ckpt --backend wgpu --format json

See also: nnc run --checkpoint (writes the weights), nnc predict (new examples)";

pub(crate) const PREDICT: &str = "\
Examples:
  nnc predict models/mnist_784_30_10.nnet --weights ckpt digit.png
  nnc predict model.nnet --weights ckpt t10k-images-idx3-ubyte.gz --top 1
  nnc predict model.nnet --weights ckpt rows.csv --format json

See also: nnc run --checkpoint (writes the weights), nnc eval (a whole split)";

pub(crate) const SAMPLE: &str = "\
Examples:
  nnc sample models/vae_mnist.nnet --weights ckpt -o samples.png
  nnc sample models/vae_mnist.nnet --weights ckpt --count 16 --seed 7 -o samples.png
  nnc sample models/vae_mnist.nnet --weights ckpt --interpolate 0,1 --count 10 -o walk.png
  nnc sample models/gan_mnist.nnet --weights ckpt --count 64 -o gan.png
  nnc sample models/gan_conditional.nnet --weights ckpt --label 7 -o sevens.png

See also: nnc run --plot (reconstructions after each epoch), nnc eval (the negative ELBO)";

pub(crate) const EVAL_SAMPLES: &str = "\
Examples:
  nnc eval-samples models/gan_mnist.nnet --weights gan_ckpt \\
      --classifier models/conv_20_40.nnet --classifier-weights clf_ckpt
  nnc eval-samples models/gan_conditional.nnet --weights ckpt --label 7 \\
      --classifier models/conv_20_40.nnet --classifier-weights clf_ckpt --format json

See also: nnc sample (the images themselves), nnc run --plot (a fixed-noise grid per epoch)";

pub(crate) const EMIT: &str = "\
Examples:
  nnc emit ir models/xor_2_2_1.nnet --after autodiff
  nnc emit clif models/xor_2_2_1.nnet
  nnc emit wgsl models/mnist_784_30_10.nnet --inference

See also: nnc summary, nnc run --verify (checks the compiled kernels)";

pub(crate) const EMIT_IR: &str = "\
Examples:
  nnc emit ir models/xor_2_2_1.nnet
  nnc emit ir models/xor_2_2_1.nnet --after fuse
  nnc emit ir models/mnist_784_30_10.nnet --inference --batch 1

See also: nnc emit clif, nnc emit wgsl, nnc summary";

pub(crate) const EMIT_CLIF: &str = "\
Examples:
  nnc emit clif models/xor_2_2_1.nnet
  nnc emit clif models/conv_20_40.nnet --inference

See also: nnc emit ir, nnc emit wgsl, nnc bench";

pub(crate) const EMIT_WGSL: &str = "\
Examples:
  nnc emit wgsl models/xor_2_2_1.nnet
  nnc emit wgsl models/mnist_784_30_10.nnet --inference

See also: nnc emit ir, nnc emit clif, nnc bench --backend wgpu";

pub(crate) const PLOT: &str = "\
Examples:
  nnc plot batch64.jsonl batch1024.jsonl -o compare.png
  nnc plot run.jsonl -o cost.svg --metric train_cost

See also: nnc run --log (writes the logs), nnc run --plot (figures while training)";

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// Every subcommand's help has examples that run it and names related
    /// subcommands that exist.
    #[test]
    fn every_subcommand_has_examples_and_related_commands() {
        let cli = crate::Cli::command();
        let top: Vec<String> = cli
            .get_subcommands()
            .map(|c| c.get_name().to_string())
            .collect();
        let mut seen = 0;
        let mut stack: Vec<(String, clap::Command)> = cli
            .get_subcommands()
            .map(|c| (c.get_name().to_string(), c.clone()))
            .collect();
        while let Some((path, command)) = stack.pop() {
            seen += 1;
            let help = command
                .get_after_help()
                .map(|h| h.to_string())
                .unwrap_or_default();
            assert!(
                help.contains(&format!("  nnc {path} ")),
                "`nnc {path} --help` has no example running it:\n{help}"
            );
            let related = help
                .split("See also:")
                .nth(1)
                .unwrap_or_else(|| panic!("`nnc {path} --help` names no related subcommand"));
            for word in related.split("nnc ").skip(1) {
                let name: String = word.chars().take_while(char::is_ascii_lowercase).collect();
                assert!(top.contains(&name), "`nnc {path}` points at `nnc {name}`");
            }
            for sub in command.get_subcommands() {
                if sub.get_name() != "help" {
                    stack.push((format!("{path} {}", sub.get_name()), sub.clone()));
                }
            }
        }
        assert!(seen >= 12, "{seen} subcommands");
    }
}
