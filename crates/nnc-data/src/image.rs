//! Decoding the images of image folders into 8-bit pixels.
//!
//! The format is told by the first bytes (`89 50 4e 47` PNG, `ff d8 ff`
//! JPEG), never by the name. PNG goes through the `png` crate with palettes
//! and transparency expanded and 16-bit samples cut to their high byte; JPEG
//! through `jpeg-decoder` (greyscale, RGB, and CMYK converted to RGB). The
//! result has 1 (grey), 2 (grey and alpha), 3 (RGB) or 4 (RGBA) channels,
//! interleaved, row by row.
//!
//! Decoding never panics the stage: images larger than
//! [`IMAGE_BYTE_LIMIT`] decoded are refused before any pixel buffer is
//! allocated, and a panic inside a decoder (a bug there, on a hostile file)
//! is caught and reported as a decoding failure of that file.

use nnc_diag::data::{ImageFormat, ImageProblem};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

/// The most bytes one decoded image may take (256 MiB: 8,192 x 8,192 RGBA).
pub const IMAGE_BYTE_LIMIT: u64 = 256 * 1024 * 1024;

const PNG_SIGNATURE: [u8; 4] = [0x89, b'P', b'N', b'G'];
const JPEG_SIGNATURE: [u8; 3] = [0xFF, 0xD8, 0xFF];

/// A decoded image: `height` rows of `width` pixels of `channels` bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    pub width: usize,
    pub height: usize,
    /// 1 grey, 2 grey and alpha, 3 RGB, 4 RGBA.
    pub channels: usize,
    /// `height * width * channels` bytes, interleaved.
    pub pixels: Vec<u8>,
}

impl Image {
    /// The bytes of the pixel at row `y`, column `x`.
    pub fn pixel(&self, y: usize, x: usize) -> &[u8] {
        let at = (y * self.width + x) * self.channels;
        self.pixels.get(at..at + self.channels).unwrap_or(&[])
    }
}

/// The format of a file by its first bytes, or `None`.
pub fn image_format(first: &[u8]) -> Option<ImageFormat> {
    if first.starts_with(&PNG_SIGNATURE) {
        Some(ImageFormat::Png)
    } else if first.starts_with(&JPEG_SIGNATURE) {
        Some(ImageFormat::Jpeg)
    } else {
        None
    }
}

/// Reads and decodes one PNG or JPEG file.
pub fn read_image(path: &Path) -> Result<Image, ImageProblem> {
    let unreadable = |e: io::Error| ImageProblem::Unreadable {
        reason: e.to_string(),
    };
    let mut file = BufReader::new(File::open(path).map_err(unreadable)?);
    let mut first = [0u8; 4];
    let got = crate::open::read_full(&mut file, &mut first).map_err(unreadable)?;
    let first = first.get(..got).unwrap_or(&[]);
    let Some(format) = image_format(first) else {
        return Err(ImageProblem::NotAnImage {
            found: first.to_vec(),
        });
    };
    file.seek(SeekFrom::Start(0)).map_err(unreadable)?;
    let decoded = catch_unwind(AssertUnwindSafe(|| match format {
        ImageFormat::Png => decode_png(file),
        ImageFormat::Jpeg => decode_jpeg(file),
    }));
    let image = decoded.unwrap_or_else(|_| {
        Err(ImageProblem::Decode {
            format,
            reason: "the decoder stopped on malformed data".into(),
        })
    })?;
    if image.width == 0 || image.height == 0 {
        return Err(ImageProblem::Decode {
            format,
            reason: "the image has no pixels".into(),
        });
    }
    Ok(image)
}

/// Decodes a PNG image (the first frame of an animated one).
pub fn decode_png(reader: impl BufRead + Seek) -> Result<Image, ImageProblem> {
    let format = ImageFormat::Png;
    let failed = |e: png::DecodingError| ImageProblem::Decode {
        format,
        reason: e.to_string(),
    };
    let mut decoder = png::Decoder::new(reader);
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let (width, height) = decoder.read_header_info().map_err(failed)?.size();
    check_size(format, u64::from(width), u64::from(height))?;
    let mut reader = decoder.read_info().map_err(failed)?;
    let size = reader.output_buffer_size().ok_or(ImageProblem::TooLarge {
        format,
        width: u64::from(width),
        height: u64::from(height),
        limit: IMAGE_BYTE_LIMIT,
    })?;
    let mut pixels = vec![0u8; size];
    let frame = reader.next_frame(&mut pixels).map_err(failed)?;
    let channels = match frame.color_type {
        png::ColorType::Grayscale => 1,
        png::ColorType::GrayscaleAlpha => 2,
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        png::ColorType::Indexed => {
            return Err(ImageProblem::Decode {
                format,
                reason: "the palette could not be expanded".into(),
            })
        }
    };
    if frame.bit_depth != png::BitDepth::Eight {
        return Err(ImageProblem::Decode {
            format,
            reason: format!("unexpected sample depth {:?}", frame.bit_depth),
        });
    }
    let (width, height) = (frame.width as usize, frame.height as usize);
    pixels.truncate(frame.buffer_size());
    packed(format, width, height, channels, pixels, frame.line_size)
}

/// Keeps exactly `width * channels` bytes of each row (decoders may pad).
fn packed(
    format: ImageFormat,
    width: usize,
    height: usize,
    channels: usize,
    pixels: Vec<u8>,
    line_size: usize,
) -> Result<Image, ImageProblem> {
    let row = width * channels;
    let short = || ImageProblem::Decode {
        format,
        reason: "the decoder returned fewer pixels than the image has".into(),
    };
    if line_size == row {
        if pixels.len() < row * height {
            return Err(short());
        }
        let mut pixels = pixels;
        pixels.truncate(row * height);
        return Ok(Image {
            width,
            height,
            channels,
            pixels,
        });
    }
    let mut out = Vec::with_capacity(row * height);
    for y in 0..height {
        let line = pixels
            .get(y * line_size..y * line_size + row)
            .ok_or_else(short)?;
        out.extend_from_slice(line);
    }
    Ok(Image {
        width,
        height,
        channels,
        pixels: out,
    })
}

/// Decodes a JPEG image.
pub fn decode_jpeg(reader: impl BufRead + Seek) -> Result<Image, ImageProblem> {
    let format = ImageFormat::Jpeg;
    let failed = |e: jpeg_decoder::Error| ImageProblem::Decode {
        format,
        reason: e.to_string(),
    };
    let mut reader = reader;
    let precision = jpeg_precision(&mut reader);
    let mut decoder = jpeg_decoder::Decoder::new(reader);
    decoder.read_info().map_err(failed)?;
    let info = decoder.info().ok_or_else(|| ImageProblem::Decode {
        format,
        reason: "the file has no image header".into(),
    })?;
    let (width, height) = (usize::from(info.width), usize::from(info.height));
    check_size(format, width as u64, height as u64)?;
    decoder.set_max_decoding_buffer_size(IMAGE_BYTE_LIMIT as usize);
    let raw = decoder.decode().map_err(failed)?;
    let (channels, pixels) = match info.pixel_format {
        jpeg_decoder::PixelFormat::L8 => (1, raw),
        jpeg_decoder::PixelFormat::L16 => (1, sixteen_to_eight(&raw, precision.unwrap_or(16))),
        jpeg_decoder::PixelFormat::RGB24 => (3, raw),
        jpeg_decoder::PixelFormat::CMYK32 => (3, cmyk_to_rgb(&raw)),
    };
    packed(format, width, height, channels, pixels, width * channels)
}

/// Refuses images whose decoded RGBA pixels would exceed the limit.
fn check_size(format: ImageFormat, width: u64, height: u64) -> Result<(), ImageProblem> {
    let bytes = width.saturating_mul(height).saturating_mul(4);
    if bytes > IMAGE_BYTE_LIMIT {
        return Err(ImageProblem::TooLarge {
            format,
            width,
            height,
            limit: IMAGE_BYTE_LIMIT,
        });
    }
    Ok(())
}

/// 16-bit samples (native byte order, as `jpeg-decoder` gives them) with
/// `precision` significant bits, scaled to 0..=255.
fn sixteen_to_eight(raw: &[u8], precision: u8) -> Vec<u8> {
    let max = (1u32 << precision.clamp(1, 16)) - 1;
    raw.chunks_exact(2)
        .map(|b| {
            let v = u32::from(u16::from_ne_bytes([b[0], b[1]])).min(max);
            ((v * 255 + max / 2) / max) as u8
        })
        .collect()
}

/// CMYK as `jpeg-decoder` gives it (each ink inverted: 255 is no ink) to
/// RGB: `R = (255 - C) * (255 - K) / 255`, and so on.
fn cmyk_to_rgb(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() / 4 * 3);
    for px in raw.chunks_exact(4) {
        let k = u32::from(px[3]);
        for ink in &px[..3] {
            out.push(((u32::from(*ink) * k + 127) / 255) as u8);
        }
    }
    out
}

/// The sample precision (bits) of a JPEG from its frame header, read by
/// walking the marker segments; the reader is rewound. `None` when the
/// header cannot be found (the decoder then reports the problem).
fn jpeg_precision(reader: &mut (impl Read + Seek)) -> Option<u8> {
    let found = frame_precision(reader);
    reader.seek(SeekFrom::Start(0)).ok()?;
    found
}

fn frame_precision(reader: &mut (impl Read + Seek)) -> Option<u8> {
    let mut two = [0u8; 2];
    reader.read_exact(&mut two).ok()?;
    // Segments: FF, marker, 2-byte big-endian length (itself included).
    for _ in 0..1024 {
        let mut marker = [0u8; 2];
        reader.read_exact(&mut marker).ok()?;
        if marker[0] != 0xFF {
            return None;
        }
        if marker[1] == 0xFF {
            reader.seek(SeekFrom::Current(-1)).ok()?;
            continue;
        }
        let mut len = [0u8; 2];
        reader.read_exact(&mut len).ok()?;
        let is_frame = matches!(marker[1], 0xC0..=0xCF) && !matches!(marker[1], 0xC4 | 0xC8 | 0xCC);
        if is_frame {
            let mut precision = [0u8; 1];
            reader.read_exact(&mut precision).ok()?;
            return Some(precision[0]);
        }
        let skip = i64::from(u16::from_be_bytes(len)).checked_sub(2)?;
        reader.seek(SeekFrom::Current(skip)).ok()?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_told_by_signature() {
        assert_eq!(
            image_format(&[0x89, b'P', b'N', b'G']),
            Some(ImageFormat::Png)
        );
        assert_eq!(
            image_format(&[0xFF, 0xD8, 0xFF, 0xE0]),
            Some(ImageFormat::Jpeg)
        );
        assert_eq!(image_format(b"GIF8"), None);
        assert_eq!(image_format(&[]), None);
    }

    #[test]
    fn sixteen_bit_samples_scale_by_precision() {
        let twelve: Vec<u8> = [0u16, 4095, 2048]
            .iter()
            .flat_map(|v| v.to_ne_bytes())
            .collect();
        assert_eq!(sixteen_to_eight(&twelve, 12), vec![0, 255, 128]);
        let sixteen: Vec<u8> = [65535u16, 0].iter().flat_map(|v| v.to_ne_bytes()).collect();
        assert_eq!(sixteen_to_eight(&sixteen, 16), vec![255, 0]);
    }

    #[test]
    fn cmyk_without_ink_is_white() {
        assert_eq!(cmyk_to_rgb(&[255, 255, 255, 255]), vec![255, 255, 255]);
        assert_eq!(cmyk_to_rgb(&[0, 255, 255, 255]), vec![0, 255, 255]);
        assert_eq!(cmyk_to_rgb(&[255, 255, 255, 0]), vec![0, 0, 0]);
    }

    #[test]
    fn rows_are_unpadded() {
        let image = packed(ImageFormat::Png, 2, 2, 1, vec![1, 2, 0, 3, 4, 0], 3).expect("packed");
        assert_eq!(image.pixels, vec![1, 2, 3, 4]);
        assert_eq!(image.pixel(1, 0), &[3]);
        assert!(packed(ImageFormat::Png, 2, 2, 1, vec![1, 2], 2).is_err());
    }
}
