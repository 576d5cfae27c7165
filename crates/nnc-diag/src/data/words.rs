//! Small pieces of wording shared by the data facts.

use crate::thousands;

pub(super) fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

pub(super) fn hex_bytes(bytes: &[u8]) -> String {
    let parts: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
    parts.join(" ")
}

/// A guess at what a file is from its first bytes, for the note.
pub(super) fn guess_format(bytes: &[u8]) -> Option<&'static str> {
    const KNOWN: [(&[u8], &str); 7] = [
        (b"PK", "a zip archive"),
        (&[0x89, b'P', b'N', b'G'], "a PNG image"),
        (&[0xFF, 0xD8, 0xFF], "a JPEG image"),
        (b"BZh", "a bzip2 file"),
        (&[0xFD, b'7', b'z', b'X'], "an xz file"),
        (&[0x1F, 0x8B], "a gzip file inside a gzip file"),
        (b"<", "an HTML or XML page"),
    ];
    if let Some((_, name)) = KNOWN.iter().find(|(magic, _)| bytes.starts_with(magic)) {
        return Some(name);
    }
    let printable =
        |b: &u8| b.is_ascii_graphic() || *b == b' ' || *b == b'\n' || *b == b'\r' || *b == b'\t';
    (!bytes.is_empty() && bytes.iter().all(printable)).then_some("text")
}

pub(super) fn thousands_u128(n: u128) -> String {
    match u64::try_from(n) {
        Ok(small) => thousands(small),
        Err(_) => n.to_string(),
    }
}
