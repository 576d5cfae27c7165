//! A convolutional network learns from a folder of images per class (the
//! dogs-vs-cats layout): the test draws its own small data set, coloured
//! discs and coloured squares of random size and place on random dark
//! backgrounds, as PNG files under `train/<class>/` and `test/<class>/`,
//! and trains a small two-convolution net on it with `nnc run` (the JIT).
//! A net that learned nothing scores 50%; the test asserts at least 90% on
//! the held-out images.

mod common;

use common::{nnc, scratch, Lcg};
use std::path::Path;

const SIDE: u32 = 24;

/// One RGB picture: a disc (`disc`) or a square of a bright random colour
/// on a dark random background.
fn picture(rng: &mut Lcg, disc: bool) -> Vec<u8> {
    let background = [rng.range(0, 80), rng.range(0, 80), rng.range(0, 80)];
    let colour = [
        rng.range(150, 256),
        rng.range(150, 256),
        rng.range(150, 256),
    ];
    let half = rng.range(4, 8) as i64;
    let cx = rng.range(half as u32 + 1, SIDE - half as u32 - 1) as i64;
    let cy = rng.range(half as u32 + 1, SIDE - half as u32 - 1) as i64;
    let mut pixels = Vec::with_capacity((SIDE * SIDE * 3) as usize);
    for y in 0..SIDE as i64 {
        for x in 0..SIDE as i64 {
            let (dx, dy) = (x - cx, y - cy);
            let inside = if disc {
                dx * dx + dy * dy <= half * half
            } else {
                dx.abs() <= half && dy.abs() <= half
            };
            let c = if inside { colour } else { background };
            pixels.extend(c.iter().map(|&v| v as u8));
        }
    }
    pixels
}

fn write_png(path: &Path, pixels: &[u8]) {
    let file = std::fs::File::create(path).unwrap();
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), SIDE, SIDE);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().unwrap();
    writer.write_image_data(pixels).unwrap();
}

/// Writes `count` pictures of each class under `dir/<class>/`.
fn draw_split(dir: &Path, count: usize, rng: &mut Lcg) {
    for (class, disc) in [("disc", true), ("square", false)] {
        let folder = dir.join(class);
        std::fs::create_dir_all(&folder).unwrap();
        for i in 0..count {
            write_png(&folder.join(format!("{i:03}.png")), &picture(rng, disc));
        }
    }
}

const MODEL: &str = r#"const IMAGE = [3, 24, 24]

model shapes {
  input picture: IMAGE
  layers {
    conv2d(16, kernel: 3, act: relu) -> [16, 22, 22]
    max_pool(2) -> [16, 11, 11]
    conv2d(16, kernel: 3, act: relu) -> [16, 9, 9]
    max_pool(3) -> [16, 3, 3]
    flatten -> [144]
    dense(32, act: relu)
    dense(2, act: softmax) -> [2]
  }
  cost log_likelihood
}

data pictures {
  train folder("train", size: IMAGE)
  test folder("test", size: IMAGE)
  scale 1 / 255
  labels one_hot(2)
}

train shapes on pictures {
  optimizer sgd
  learning_rate 0.05
  batch_size 10
  epochs 16
  seed 3
}
"#;

#[test]
fn a_conv_net_learns_discs_from_squares_in_image_folders() {
    let dir = scratch("image-folder", "shapes");
    let mut rng = Lcg(7);
    draw_split(&dir.join("train"), 200, &mut rng);
    draw_split(&dir.join("test"), 50, &mut rng);
    let model = dir.join("shapes.nnet");
    std::fs::write(&model, MODEL).unwrap();
    let log = dir.join("log.jsonl");
    let out = nnc(&[
        "run",
        &model.display().to_string(),
        "--quiet",
        "--log",
        &log.display().to_string(),
    ]);
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&log).unwrap();
    let epochs: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(epochs.len(), 16, "{text}");
    // Plain SGD on 400 pictures still wobbles by a few pictures from epoch
    // to epoch, so the last three epochs are looked at together: the best
    // of them must tell the shapes apart, and the training cost must have
    // fallen far below chance's ln 2 = 0.69.
    let last = &epochs[epochs.len() - 3..];
    let best = last
        .iter()
        .map(|e| e["test_accuracy"].as_f64().expect("a test accuracy"))
        .fold(0.0, f64::max);
    let cost = last[2]["train_cost"].as_f64().expect("a train cost");
    assert!(
        best >= 0.9,
        "best test accuracy of the last epochs {best} (chance is 0.5)\n{text}"
    );
    assert!(cost < 0.3, "train cost {cost} after 16 epochs\n{text}");
}
