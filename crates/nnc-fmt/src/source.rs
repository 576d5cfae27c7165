//! Questions the printer asks about the original text: where the newlines
//! are, and where a punctuation token the tree does not record (`{`, `)`,
//! `,`, `|>`) sits.
//!
//! Every function here is total: positions out of range or inside a
//! multi-byte character read as empty text, never as a panic, so a tree that
//! does not belong to the text (a caller's mistake) gives odd output at worst.

/// The source text being formatted.
#[derive(Clone, Copy)]
pub(crate) struct Source<'a> {
    text: &'a str,
}

impl<'a> Source<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        Source { text }
    }

    /// The text of `start..end`, or `""` when that is not a valid range.
    pub(crate) fn slice(self, start: usize, end: usize) -> &'a str {
        self.text.get(start..end).unwrap_or("")
    }

    /// Whether the text between `start` and `end` holds a newline.
    pub(crate) fn has_newline(self, start: usize, end: usize) -> bool {
        self.newlines(start, end) > 0
    }

    /// How many newlines the text between `start` and `end` holds.
    pub(crate) fn newlines(self, start: usize, end: usize) -> usize {
        let bytes = self.text.as_bytes();
        let end = end.min(bytes.len());
        bytes
            .get(start..end)
            .map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count())
    }

    /// The position of the first byte at or after `pos` that is neither
    /// whitespace nor part of a comment.
    pub(crate) fn next_token(self, mut pos: usize) -> Option<usize> {
        let bytes = self.text.as_bytes();
        while let Some(&b) = bytes.get(pos) {
            let next = bytes.get(pos + 1).copied();
            pos = match (b, next) {
                (b' ' | b'\t' | b'\r' | b'\n', _) => pos + 1,
                (b'/', Some(b'/')) => self.line_end(pos),
                (b'/', Some(b'*')) => self.block_comment_end(pos),
                _ => return Some(pos),
            };
        }
        None
    }

    /// The position of the first `wanted` byte at or after `pos`, skipping
    /// comments and string literals.
    pub(crate) fn find(self, mut pos: usize, wanted: u8) -> Option<usize> {
        let bytes = self.text.as_bytes();
        loop {
            pos = self.next_token(pos)?;
            let b = *bytes.get(pos)?;
            if b == wanted {
                return Some(pos);
            }
            pos = if b == b'"' {
                self.string_end(pos)
            } else {
                pos + 1
            };
        }
    }

    /// Whether the next token at or after `pos` starts with `token`; returns
    /// its position if so.
    pub(crate) fn next_token_is(self, pos: usize, token: &str) -> Option<usize> {
        let at = self.next_token(pos)?;
        self.text.get(at..)?.starts_with(token).then_some(at)
    }

    fn line_end(self, pos: usize) -> usize {
        let rest = self.text.as_bytes().get(pos..).unwrap_or(&[]);
        rest.iter()
            .position(|&b| b == b'\n')
            .map_or(self.text.len(), |n| pos + n)
    }

    fn block_comment_end(self, pos: usize) -> usize {
        let body = pos + 2;
        self.text
            .get(body..)
            .and_then(|rest| rest.find("*/"))
            .map_or(self.text.len(), |n| body + n + 2)
    }

    fn string_end(self, pos: usize) -> usize {
        let bytes = self.text.as_bytes();
        let mut i = pos + 1;
        while let Some(&b) = bytes.get(i) {
            match b {
                b'\\' => i += 2,
                b'"' | b'\n' => return i + 1,
                _ => i += 1,
            }
        }
        bytes.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_skips_comments_and_strings() {
        let text = "x /* { */ \"{\" // {\n {";
        assert_eq!(Source::new(text).find(0, b'{'), Some(text.len() - 1));
    }

    #[test]
    fn out_of_range_positions_are_empty() {
        let src = Source::new("ab");
        assert_eq!(src.slice(1, 9), "");
        assert!(!src.has_newline(5, 2));
        assert_eq!(src.next_token(7), None);
    }
}
