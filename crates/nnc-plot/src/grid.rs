//! Image grids: many small images (samples drawn from a model, test inputs
//! beside their reconstructions) tiled into one picture, written as a PNG
//! and as an SVG that embeds the same PNG.
//!
//! Each image is drawn at an integer scale with no smoothing, so a pixel of
//! the input is a `scale x scale` square of the output. Images are separated
//! and framed by a mid-grey gutter one input pixel wide, so white-on-black
//! digits stay apart and a blank image still shows its extent.

use crate::write::write_atomically;
use crate::PlotError;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The most pixels a grid may have (about 268 million): far beyond any
/// useful picture, and small enough that the buffers fit in memory.
const MAX_PIXELS: usize = 1 << 28;

/// The grey of the gutters, as a byte (the value 0.5).
const GUTTER: u8 = 128;

/// The height of the band above the grid that holds the SVG title, and its
/// font size, in pixels.
const TITLE_BAND: usize = 24;
const TITLE_SIZE: usize = 14;

/// The shape of the images and how they are laid out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GridSpec {
    /// Pixels per image, vertically.
    pub height: usize,
    /// Pixels per image, horizontally.
    pub width: usize,
    /// 1 for grayscale, 3 for RGB.
    pub channels: usize,
    /// Images per row of the grid (at least 1). A grid of fewer images than
    /// `columns` is one row of just those images.
    pub columns: usize,
    /// Each input pixel is drawn as a `scale x scale` square (at least 1).
    pub scale: usize,
    /// A caption drawn above the grid in the SVG only, as text.
    pub title: Option<String>,
}

/// Writes `images` as a grid to `stem.png` and `stem.svg` (the extensions
/// are appended to `stem`, whose folder is created when missing) and
/// returns both paths, PNG first.
///
/// Each image holds `channels * height * width` values in row-major CHW
/// order (channel, then row, then column), nominally in [0, 1]: values
/// outside are clamped and NaN draws as 0. Images fill the grid row by row,
/// `columns` to a row; the empty cells of a last, partial row are gutter
/// grey.
///
/// An empty image list, a zero dimension, a channel count other than 1 or
/// 3, an image of the wrong length (named by its index, from 0) or a grid
/// beyond 2^28 pixels is a [`PlotError::Grid`]; nothing is written then.
pub fn write_image_grid(
    images: &[&[f32]],
    spec: &GridSpec,
    stem: &Path,
) -> Result<Vec<PathBuf>, PlotError> {
    let problem = |problem: String| PlotError::Grid {
        stem: stem.to_path_buf(),
        problem,
    };
    if stem.file_name().is_none() {
        return Err(problem("the output stem names no file".to_string()));
    }
    let layout = Layout::new(images, spec).map_err(problem)?;
    let png_path = with_suffix(stem, ".png");
    let svg_path = with_suffix(stem, ".svg");
    let pixels = layout.draw(images);
    let png = encode_png(&pixels, &layout).map_err(|message| PlotError::Draw {
        path: png_path.clone(),
        message,
    })?;
    let svg = svg_document(&png, &layout, spec.title.as_deref());
    if let Some(dir) = stem.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| PlotError::CreateDir {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    write_atomically(&png_path, &png)?;
    write_atomically(&svg_path, svg.as_bytes())?;
    Ok(vec![png_path, svg_path])
}

/// `stem` with `suffix` appended to its file name (not replacing an
/// extension: `epoch.3` becomes `epoch.3.png`).
fn with_suffix(stem: &Path, suffix: &str) -> PathBuf {
    let mut name = OsString::from(stem.as_os_str());
    name.push(suffix);
    PathBuf::from(name)
}

/// The checked geometry of a grid, in output pixels.
#[derive(Debug)]
struct Layout {
    /// Input pixels per image, vertically and horizontally, and channels.
    height: usize,
    width: usize,
    channels: usize,
    /// Columns actually used (at most the number of images).
    columns: usize,
    scale: usize,
    /// Output size of the whole grid.
    grid_width: usize,
    grid_height: usize,
}

impl Layout {
    /// Checks `spec` and the images against it; the error says what is
    /// wrong (without the stem, which the caller adds).
    fn new(images: &[&[f32]], spec: &GridSpec) -> Result<Layout, String> {
        if spec.channels != 1 && spec.channels != 3 {
            return Err(format!(
                "an image has 1 channel (grayscale) or 3 (RGB), not {}",
                spec.channels
            ));
        }
        for (name, value) in [
            ("height", spec.height),
            ("width", spec.width),
            ("columns", spec.columns),
            ("scale", spec.scale),
        ] {
            if value == 0 {
                return Err(format!("the grid's {name} is 0; it must be at least 1"));
            }
        }
        if images.is_empty() {
            return Err("there are no images to draw".to_string());
        }
        let too_large = || {
            format!(
                "{} images of {}x{} pixels at scale {} make a grid beyond {MAX_PIXELS} pixels",
                images.len(),
                spec.height,
                spec.width,
                spec.scale
            )
        };
        let expected = spec
            .channels
            .checked_mul(spec.height)
            .and_then(|n| n.checked_mul(spec.width))
            .ok_or_else(too_large)?;
        if let Some((index, image)) = images
            .iter()
            .enumerate()
            .find(|(_, image)| image.len() != expected)
        {
            return Err(format!(
                "image {index} has {} values, but a {}x{}x{} image (channels x height x width) \
                 has {expected}",
                image.len(),
                spec.channels,
                spec.height,
                spec.width
            ));
        }
        let columns = spec.columns.min(images.len());
        let rows = images.len().div_ceil(columns);
        // Cells of `side * scale` pixels, a gutter of `scale` after each and
        // one before the first.
        let extent = |count: usize, side: usize| {
            side.checked_mul(spec.scale)?
                .checked_add(spec.scale)?
                .checked_mul(count)?
                .checked_add(spec.scale)
        };
        let grid_width = extent(columns, spec.width).ok_or_else(too_large)?;
        let grid_height = extent(rows, spec.height).ok_or_else(too_large)?;
        match grid_width.checked_mul(grid_height) {
            Some(pixels) if pixels <= MAX_PIXELS => Ok(Layout {
                height: spec.height,
                width: spec.width,
                channels: spec.channels,
                columns,
                scale: spec.scale,
                grid_width,
                grid_height,
            }),
            _ => Err(too_large()),
        }
    }

    /// The grid's bytes, row by row, `channels` bytes per pixel (gray, or
    /// red, green, blue).
    fn draw(&self, images: &[&[f32]]) -> Vec<u8> {
        let (c, s) = (self.channels, self.scale);
        let row_bytes = self.grid_width * c;
        let mut pixels = vec![GUTTER; row_bytes * self.grid_height];
        let plane = self.height * self.width;
        let mut line = vec![0u8; self.width * s * c];
        for (index, image) in images.iter().enumerate() {
            let x0 = s + (index % self.columns) * (self.width + 1) * s;
            let y0 = s + (index / self.columns) * (self.height + 1) * s;
            for y in 0..self.height {
                for x in 0..self.width {
                    for channel in 0..c {
                        let byte = to_byte(image[channel * plane + y * self.width + x]);
                        for dx in 0..s {
                            line[(x * s + dx) * c + channel] = byte;
                        }
                    }
                }
                for dy in 0..s {
                    let start = (y0 + y * s + dy) * row_bytes + x0 * c;
                    pixels[start..start + line.len()].copy_from_slice(&line);
                }
            }
        }
        pixels
    }
}

/// A value in [0, 1] as a byte: clamped, rounded to nearest, NaN as 0.
fn to_byte(value: f32) -> u8 {
    if value.is_nan() {
        0
    } else {
        (value.clamp(0.0, 1.0) * 255.0).round() as u8
    }
}

fn encode_png(pixels: &[u8], layout: &Layout) -> Result<Vec<u8>, String> {
    // The layout keeps both sides within 2^28, so they fit a u32.
    let side = |n: usize| u32::try_from(n).map_err(|e| e.to_string());
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(
        &mut bytes,
        side(layout.grid_width)?,
        side(layout.grid_height)?,
    );
    encoder.set_color(if layout.channels == 3 {
        png::ColorType::Rgb
    } else {
        png::ColorType::Grayscale
    });
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
    writer.write_image_data(pixels).map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())?;
    Ok(bytes)
}

/// A standalone SVG showing `png` at its size in pixels, unsmoothed, on a
/// white ground, under `title` when there is one. A title wider than the
/// grid widens the picture, and the grid is centred under it.
fn svg_document(png: &[u8], layout: &Layout, title: Option<&str>) -> String {
    let band = if title.is_some() { TITLE_BAND } else { 0 };
    // DejaVu Sans averages well under 0.6 em per character.
    let title_width = title.map_or(0, |t| t.chars().count() * TITLE_SIZE * 6 / 10 + 16);
    let width = layout.grid_width.max(title_width);
    let height = layout.grid_height + band;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" \
         xmlns:xlink=\"http://www.w3.org/1999/xlink\" version=\"1.1\" \
         width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\">\n\
         <rect width=\"{width}\" height=\"{height}\" fill=\"white\"/>\n"
    );
    if let Some(title) = title {
        let _ = writeln!(
            svg,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" \
             font-family=\"DejaVu Sans, sans-serif\" font-size=\"{TITLE_SIZE}\">{}</text>",
            width / 2,
            band - 7,
            escape_xml(title)
        );
    }
    let _ = writeln!(
        svg,
        "<image x=\"{}\" y=\"{band}\" width=\"{}\" height=\"{}\" \
         image-rendering=\"optimizeSpeed\" style=\"image-rendering: pixelated\" \
         preserveAspectRatio=\"none\" xlink:href=\"data:image/png;base64,{}\"/>\n</svg>",
        (width - layout.grid_width) / 2,
        layout.grid_width,
        layout.grid_height,
        base64(png)
    );
    svg
}

/// `text` safe inside an XML element or attribute: markup characters as
/// entities, and control characters XML 1.0 forbids as U+FFFD.
fn escape_xml(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            '\t' | '\n' | '\r' => escaped.push(c),
            c if c.is_control() => escaped.push('\u{FFFD}'),
            c => escaped.push(c),
        }
    }
    escaped
}

/// Standard base64 (RFC 4648, `+` and `/`, padded with `=`).
pub(crate) fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut text = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                text.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                text.push('=');
            }
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        let vectors = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, encoded) in vectors {
            assert_eq!(base64(plain.as_bytes()), encoded, "{plain:?}");
        }
        assert_eq!(base64(&[0xfb, 0xff, 0xbf]), "+/+/");
    }

    #[test]
    fn values_become_bytes_clamped_and_rounded() {
        assert_eq!(to_byte(0.0), 0);
        assert_eq!(to_byte(1.0), 255);
        assert_eq!(to_byte(0.5), GUTTER);
        assert_eq!(to_byte(-1.0), 0);
        assert_eq!(to_byte(2.0), 255);
        assert_eq!(to_byte(f32::NAN), 0);
        assert_eq!(to_byte(f32::INFINITY), 255);
        assert_eq!(to_byte(f32::NEG_INFINITY), 0);
        assert_eq!(to_byte(0.2), 51);
    }

    #[test]
    fn xml_text_is_escaped() {
        assert_eq!(
            escape_xml("a<b>&\"c'\u{1}\n"),
            "a&lt;b&gt;&amp;&quot;c&apos;\u{FFFD}\n"
        );
    }

    #[test]
    fn with_suffix_appends_rather_than_replaces() {
        assert_eq!(
            with_suffix(Path::new("out/epoch.3"), ".png"),
            PathBuf::from("out/epoch.3.png")
        );
    }
}
