//! Image grids checked as files: the PNG decodes to the size the layout
//! gives, every image's pixels land in its cell, gutters and empty cells are
//! mid-grey; the SVG embeds exactly the PNG's bytes under the escaped title;
//! bad input is an error that names the problem and writes nothing.

use nnc_plot::{write_image_grid, GridSpec, PlotError};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nnc-grid-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn spec(height: usize, width: usize, channels: usize, columns: usize, scale: usize) -> GridSpec {
    GridSpec {
        height,
        width,
        channels,
        columns,
        scale,
        title: None,
    }
}

struct Png {
    width: usize,
    height: usize,
    color: png::ColorType,
    bytes: Vec<u8>,
}

impl Png {
    fn channels(&self) -> usize {
        match self.color {
            png::ColorType::Rgb => 3,
            _ => 1,
        }
    }

    /// The bytes of the pixel at column `x`, row `y`.
    fn at(&self, x: usize, y: usize) -> &[u8] {
        let c = self.channels();
        let start = (y * self.width + x) * c;
        &self.bytes[start..start + c]
    }
}

fn decode_png(path: &Path) -> Png {
    let file = std::fs::File::open(path).unwrap();
    let mut reader = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .unwrap_or_else(|e| panic!("{} is not a PNG: {e}", path.display()));
    let mut bytes = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut bytes).unwrap();
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    bytes.truncate(info.buffer_size());
    Png {
        width: info.width as usize,
        height: info.height as usize,
        color: info.color_type,
        bytes,
    }
}

/// Writes the grid and checks it returned `stem.png` and `stem.svg`, both
/// present on disk.
fn write(images: &[&[f32]], spec: &GridSpec, stem: &Path) -> (Png, String) {
    let written = write_image_grid(images, spec, stem).unwrap();
    let png_path = PathBuf::from(format!("{}.png", stem.display()));
    let svg_path = PathBuf::from(format!("{}.svg", stem.display()));
    assert_eq!(written, vec![png_path.clone(), svg_path.clone()]);
    (
        decode_png(&png_path),
        std::fs::read_to_string(&svg_path).unwrap(),
    )
}

#[test]
fn each_image_lands_in_its_cell_with_grey_gutters_and_empty_cells() {
    let dir = scratch("layout");
    // Ten 3x4 images, image k all k/10; four to a row, so three rows with
    // two empty cells in the last.
    let images: Vec<Vec<f32>> = (0..10).map(|k| vec![k as f32 / 10.0; 12]).collect();
    let refs: Vec<&[f32]> = images.iter().map(Vec::as_slice).collect();
    let (png, _) = write(&refs, &spec(3, 4, 1, 4, 2), &dir.join("digits"));
    assert_eq!(png.color, png::ColorType::Grayscale);
    // 4 cells of 8 pixels and 5 gutters of 2 across; 3 cells of 6 and 4
    // gutters down.
    assert_eq!((png.width, png.height), (42, 26));
    const BYTES: [u8; 10] = [0, 26, 51, 77, 102, 128, 153, 179, 204, 230];
    // Hand-placed corners: image 6 (row 1, column 2) starts at (22, 10) and
    // ends at (29, 15); image 9 (row 2, column 1) starts at (12, 18).
    assert_eq!(png.at(22, 10), [153]);
    assert_eq!(png.at(29, 15), [153]);
    assert_eq!(png.at(30, 15), [128], "gutter right of image 6");
    assert_eq!(png.at(21, 10), [128], "gutter left of image 6");
    assert_eq!(png.at(12, 18), [230]);
    assert_eq!(png.at(0, 0), [128], "border");
    assert_eq!(png.at(41, 25), [128], "border");
    // Every pixel: inside cell k it is BYTES[k], elsewhere gutter grey
    // (including the empty cells 10 and 11).
    for y in 0..png.height {
        for x in 0..png.width {
            let cell = |p: usize, side: usize| {
                let q = p.checked_sub(2)?;
                (q % (side * 2 + 2) < side * 2).then_some(q / (side * 2 + 2))
            };
            let expected = match (cell(x, 4), cell(y, 3)) {
                (Some(col), Some(row)) if row * 4 + col < 10 => BYTES[row * 4 + col],
                _ => 128,
            };
            assert_eq!(png.at(x, y), [expected], "pixel ({x}, {y})");
        }
    }
}

#[test]
fn pixels_keep_their_orientation_and_are_scaled_to_squares() {
    let dir = scratch("orientation");
    // One 2x3 image whose pixel (row r, column c) is (3r + c) / 10.
    let image: Vec<f32> = (0..6).map(|i| i as f32 / 10.0).collect();
    let (png, _) = write(&[&image], &spec(2, 3, 1, 8, 3), &dir.join("one"));
    // A grid of fewer images than columns is one row of just those images.
    assert_eq!((png.width, png.height), (3 * 3 + 6, 2 * 3 + 6));
    const BYTES: [u8; 6] = [0, 26, 51, 77, 102, 128];
    for r in 0..2 {
        for c in 0..3 {
            for (dx, dy) in [(0, 0), (2, 0), (0, 2), (2, 2), (1, 1)] {
                let (x, y) = (3 + 3 * c + dx, 3 + 3 * r + dy);
                assert_eq!(png.at(x, y), [BYTES[3 * r + c]], "input ({r}, {c})");
            }
        }
    }
}

#[test]
fn values_outside_the_unit_range_are_clamped_and_nan_is_black() {
    let dir = scratch("clamp");
    let image = [-1.0, 2.0, f32::NAN, 0.5, f32::INFINITY, 1.0];
    let (png, _) = write(&[&image], &spec(1, 6, 1, 1, 1), &dir.join("clamp"));
    assert_eq!((png.width, png.height), (8, 3));
    let row: Vec<u8> = (1..7).map(|x| png.at(x, 1)[0]).collect();
    assert_eq!(row, [0, 255, 0, 128, 255, 255]);
}

#[test]
fn rgb_images_are_read_channel_first_and_written_as_rgb() {
    let dir = scratch("rgb");
    // Two 1x2 images in CHW order: red plane, green plane, blue plane.
    let first = [1.0, 0.0, 0.0, 1.0, 0.2, 0.4];
    let second = [0.0, 0.0, 0.0, 0.0, 1.0, 1.0];
    let (png, _) = write(&[&first, &second], &spec(1, 2, 3, 2, 2), &dir.join("rgb"));
    assert_eq!(png.color, png::ColorType::Rgb);
    assert_eq!((png.width, png.height), (2 * 4 + 3 * 2, 2 + 2 * 2));
    assert_eq!(png.at(2, 2), [255, 0, 51]);
    assert_eq!(png.at(5, 3), [0, 255, 102]);
    assert_eq!(png.at(8, 2), [0, 0, 255]);
    assert_eq!(png.at(11, 3), [0, 0, 255]);
    assert_eq!(png.at(6, 2), [128, 128, 128], "gutter between the images");
    assert_eq!(png.at(0, 0), [128, 128, 128], "border");
}

/// Standard base64 decoding, strict: only the alphabet, padding at the end.
fn decode_base64(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    assert_eq!(text.len() % 4, 0, "base64 of {} characters", text.len());
    let body = text.trim_end_matches('=');
    assert!(text.len() - body.len() <= 2, "too much padding");
    let mut bits = 0u32;
    let mut count = 0;
    let mut bytes = Vec::new();
    for c in body.bytes() {
        let value = ALPHABET.iter().position(|&a| a == c);
        let value = value.unwrap_or_else(|| panic!("{:?} is not base64", c as char));
        bits = (bits << 6) | value as u32;
        count += 6;
        if count >= 8 {
            count -= 8;
            bytes.push((bits >> count) as u8);
        }
    }
    bytes
}

#[test]
fn the_svg_embeds_exactly_the_png_under_the_escaped_title() {
    let dir = scratch("svg");
    let images: Vec<Vec<f32>> = (0..6).map(|k| vec![k as f32 / 6.0; 28 * 28]).collect();
    let refs: Vec<&[f32]> = images.iter().map(Vec::as_slice).collect();
    let mut spec = spec(28, 28, 1, 3, 2);
    spec.title = Some("epoch 3: inputs | reconstructions <&> \"x\" 'y'".to_string());
    let stem = dir.join("epoch_3");
    let (png, svg) = write(&refs, &spec, &stem);
    let png_bytes = std::fs::read(dir.join("epoch_3.png")).unwrap();

    let start = svg.find("data:image/png;base64,").expect("a data URI") + 22;
    let end = start + svg[start..].find('"').expect("a closing quote");
    assert_eq!(decode_base64(&svg[start..end]), png_bytes);
    assert_eq!(svg.matches("<image ").count(), 1, "{svg:.400}");

    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(svg.trim_end().ends_with("</svg>"));
    assert!(svg.contains("style=\"image-rendering: pixelated\""));
    assert!(svg.contains("image-rendering=\"optimizeSpeed\""));
    let size = format!("width=\"{}\" height=\"{}\"", png.width, png.height);
    assert!(svg.contains(&size), "no {size} in the SVG");
    assert_eq!((png.width, png.height), (3 * 58 + 2, 2 * 58 + 2));
    assert!(
        svg.contains(
            ">epoch 3: inputs | reconstructions &lt;&amp;&gt; &quot;x&quot; &apos;y&apos;</text>"
        ),
        "{svg:.600}"
    );
    assert!(!svg.contains("<&>"));

    // Without a title there is no text, and the picture is the grid's size.
    spec.title = None;
    let (_, svg) = write(&refs, &spec, &stem);
    assert!(!svg.contains("<text"));
    assert!(svg.contains("width=\"176\" height=\"118\" viewBox=\"0 0 176 118\""));
}

#[test]
fn a_stem_keeps_its_dots_and_its_folder_is_created() {
    let dir = scratch("stem");
    let stem = dir.join("new/folder/epoch.3");
    let (png, svg) = write(&[&[1.0]], &spec(1, 1, 1, 1, 1), &stem);
    assert_eq!((png.width, png.height), (3, 3));
    assert_eq!(png.at(1, 1), [255]);
    assert!(svg.contains("base64,"));
    let mut names: Vec<String> = std::fs::read_dir(dir.join("new/folder"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["epoch.3.png", "epoch.3.svg"], "no temporaries left");
}

/// The grid's error message, after checking that nothing was written.
fn grid_error(images: &[&[f32]], spec: &GridSpec) -> String {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    let dir = scratch(&format!("error-{}", CALLS.fetch_add(1, Ordering::Relaxed)));
    let stem = dir.join("bad");
    let error = write_image_grid(images, spec, &stem).unwrap_err();
    assert!(matches!(error, PlotError::Grid { .. }), "{error:?}");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "files written");
    let message = error.to_string();
    let prefix = format!("cannot draw the image grid `{}`: ", stem.display());
    assert!(message.starts_with(&prefix), "{message}");
    message[prefix.len()..].to_string()
}

#[test]
fn bad_input_is_an_error_naming_the_problem() {
    let four = [0.0; 4];
    let three = [0.0; 3];
    assert_eq!(
        grid_error(&[], &spec(2, 2, 1, 1, 1)),
        "there are no images to draw"
    );
    assert_eq!(
        grid_error(&[&four], &spec(2, 2, 2, 1, 1)),
        "an image has 1 channel (grayscale) or 3 (RGB), not 2"
    );
    for (name, spec) in [
        ("height", spec(0, 2, 1, 1, 1)),
        ("width", spec(2, 0, 1, 1, 1)),
        ("columns", spec(2, 2, 1, 0, 1)),
        ("scale", spec(2, 2, 1, 1, 0)),
    ] {
        assert_eq!(
            grid_error(&[&four], &spec),
            format!("the grid's {name} is 0; it must be at least 1")
        );
    }
    assert_eq!(
        grid_error(&[&four, &four, &three, &four], &spec(2, 2, 1, 2, 1)),
        "image 2 has 3 values, but a 1x2x2 image (channels x height x width) has 4"
    );
    assert_eq!(
        grid_error(&[&four], &spec(2, 2, 3, 2, 1)),
        "image 0 has 4 values, but a 3x2x2 image (channels x height x width) has 12"
    );
}

#[test]
fn absurd_sizes_are_errors_not_allocations() {
    let one = [0.5];
    let huge = grid_error(&[&one], &spec(1, 1, 1, 1, 1 << 15));
    assert!(huge.contains("beyond 268435456 pixels"), "{huge}");
    let overflow = grid_error(&[&one], &spec(1, 1, 1, 1, usize::MAX));
    assert!(overflow.contains("beyond 268435456 pixels"), "{overflow}");
    let dims = grid_error(&[&one], &spec(usize::MAX, 2, 3, 1, 1));
    assert!(dims.contains("beyond 268435456 pixels"), "{dims}");
}

#[test]
fn a_stem_without_a_file_name_is_an_error() {
    let error = write_image_grid(&[&[0.0]], &spec(1, 1, 1, 1, 1), Path::new("")).unwrap_err();
    assert!(
        error.to_string().ends_with("the output stem names no file"),
        "{error}"
    );
}
