//! The strict JSON check every JSON-kind key and value passes at produce, and every stored
//! one passes again before fetch returns it as JSON: exactly the JSON texts of RFC 8259
//! (whitespace around the value allowed) in valid UTF-8, with every `\u` surrogate escape
//! paired (a high one followed by a low one) and at most [`MAX_DEPTH`] nested arrays and
//! objects. Lenient parsers (`serde_json`'s `RawValue` among them) accept lone surrogates
//! and deep nesting that strict readers (`serde_json::Value`, browsers, most languages'
//! string types) then refuse, so one such record would fail every fetch that holds it.
//!
//! [`check`] is one pass over the bytes with no recursion and no allocation: the open
//! arrays and objects are bits of one `u64`.

use std::fmt;

/// The most arrays and objects one JSON key or value may nest: `[[1]]` is depth 2.
pub const MAX_DEPTH: usize = 64;

/// Why a text is not accepted, and the byte offset where that was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonError {
    /// Byte offset into the checked text.
    pub offset: usize,
    /// What is wrong there.
    pub kind: JsonErrorKind,
}

/// What [`check`] refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonErrorKind {
    /// The bytes are not UTF-8.
    InvalidUtf8,
    /// A `\u` escape of this surrogate code unit is not part of a high-low pair.
    LoneSurrogate(u16),
    /// More than [`MAX_DEPTH`] arrays and objects are open.
    TooDeep,
    /// A byte JSON does not allow here (a control character inside a string included).
    Unexpected(u8),
    /// The text ends inside a value, or holds no value.
    UnexpectedEnd,
    /// Something follows the value.
    TrailingCharacters,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = self.offset;
        match self.kind {
            JsonErrorKind::InvalidUtf8 => write!(f, "invalid UTF-8 at byte {at}"),
            JsonErrorKind::LoneSurrogate(unit) => {
                write!(f, "lone surrogate \\u{unit:04x} at byte {at}")
            }
            JsonErrorKind::TooDeep => write!(
                f,
                "arrays and objects nest deeper than {MAX_DEPTH} at byte {at}"
            ),
            JsonErrorKind::Unexpected(byte) => {
                write!(f, "unexpected {} at byte {at}", describe(byte))
            }
            JsonErrorKind::UnexpectedEnd => write!(f, "unexpected end at byte {at}"),
            JsonErrorKind::TrailingCharacters => write!(f, "trailing characters at byte {at}"),
        }
    }
}

impl std::error::Error for JsonError {}

/// A byte as a message shows it: `'x'` when printable ASCII, else `byte 0x1f`.
fn describe(byte: u8) -> String {
    if byte.is_ascii_graphic() {
        format!("'{}'", byte as char)
    } else {
        format!("byte 0x{byte:02x}")
    }
}

/// Whether `text` is one JSON value silt may store and return as JSON (see the module doc).
pub fn check(text: &[u8]) -> Result<(), JsonError> {
    let mut scanner = Scanner {
        text,
        pos: 0,
        depth: 0,
        objects: 0,
    };
    loop {
        if scanner.value()? {
            continue;
        }
        if scanner.after_value()? {
            return scanner.end();
        }
    }
}

/// The scan's position and the open arrays and objects.
struct Scanner<'a> {
    /// The text checked.
    text: &'a [u8],
    /// The next byte to read.
    pos: usize,
    /// Arrays and objects open.
    depth: usize,
    /// Bit `i` set: the container at depth `i + 1` is an object.
    objects: u64,
}

impl Scanner<'_> {
    /// The next byte, if any.
    fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

    /// An error of `kind` at the current position.
    fn error(&self, kind: JsonErrorKind) -> JsonError {
        JsonError {
            offset: self.pos,
            kind,
        }
    }

    /// The error for the byte at the current position (or the end).
    fn unexpected(&self) -> JsonError {
        match self.peek() {
            Some(byte) if byte >= 0x80 => self.error(JsonErrorKind::InvalidUtf8),
            Some(byte) => self.error(JsonErrorKind::Unexpected(byte)),
            None => self.error(JsonErrorKind::UnexpectedEnd),
        }
    }

    /// Skips JSON whitespace.
    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    /// Consumes `byte` after whitespace, or fails.
    fn expect(&mut self, byte: u8) -> Result<(), JsonError> {
        self.skip_whitespace();
        if self.peek() != Some(byte) {
            return Err(self.unexpected());
        }
        self.pos += 1;
        Ok(())
    }

    /// Reads a value's start: a whole scalar or empty container (`false`), or the opening
    /// of a container whose first element comes next (`true`).
    fn value(&mut self) -> Result<bool, JsonError> {
        self.skip_whitespace();
        match self.peek() {
            Some(b'{') => self.open(true),
            Some(b'[') => self.open(false),
            Some(b'"') => self.string().map(|()| false),
            Some(b'-' | b'0'..=b'9') => self.number().map(|()| false),
            Some(b't') => self.literal(b"true").map(|()| false),
            Some(b'f') => self.literal(b"false").map(|()| false),
            Some(b'n') => self.literal(b"null").map(|()| false),
            _ => Err(self.unexpected()),
        }
    }

    /// Opens an array or object; `false` if it closes at once, else `true` with an
    /// object's first key and colon read.
    fn open(&mut self, object: bool) -> Result<bool, JsonError> {
        if self.depth == MAX_DEPTH {
            return Err(self.error(JsonErrorKind::TooDeep));
        }
        self.objects = (self.objects & !(1 << self.depth)) | (u64::from(object) << self.depth);
        self.depth += 1;
        self.pos += 1;
        self.skip_whitespace();
        if self.peek() == Some(if object { b'}' } else { b']' }) {
            self.close();
            return Ok(false);
        }
        if object {
            self.member_key()?;
        }
        Ok(true)
    }

    /// Consumes a closing bracket and leaves its container.
    fn close(&mut self) {
        self.pos += 1;
        self.depth -= 1;
    }

    /// Whether the innermost open container is an object.
    fn in_object(&self) -> bool {
        (self.objects >> (self.depth - 1)) & 1 == 1
    }

    /// Reads an object member's key and its colon.
    fn member_key(&mut self) -> Result<(), JsonError> {
        self.skip_whitespace();
        if self.peek() != Some(b'"') {
            return Err(self.unexpected());
        }
        self.string()?;
        self.expect(b':')
    }

    /// After a complete value: closes containers until a comma (`false`: another value
    /// follows) or the top level (`true`).
    fn after_value(&mut self) -> Result<bool, JsonError> {
        loop {
            self.skip_whitespace();
            if self.depth == 0 {
                return Ok(true);
            }
            let object = self.in_object();
            match self.peek() {
                Some(b',') => return self.comma(object).map(|()| false),
                Some(b'}') if object => self.close(),
                Some(b']') if !object => self.close(),
                _ => return Err(self.unexpected()),
            }
        }
    }

    /// Consumes a comma, and in an object the next member's key and colon.
    fn comma(&mut self, object: bool) -> Result<(), JsonError> {
        self.pos += 1;
        if object {
            self.member_key()?;
        }
        Ok(())
    }

    /// Accepts the end of the text after the top-level value.
    fn end(&self) -> Result<(), JsonError> {
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(self.error(JsonErrorKind::TrailingCharacters)),
        }
    }

    /// Reads `word` (`true`, `false`, `null`).
    fn literal(&mut self, word: &[u8]) -> Result<(), JsonError> {
        for &expected in word {
            if self.peek() != Some(expected) {
                return Err(self.unexpected());
            }
            self.pos += 1;
        }
        Ok(())
    }

    /// Reads a number: `-? (0 | [1-9][0-9]*) (.[0-9]+)? ([eE][+-]?[0-9]+)?`.
    fn number(&mut self) -> Result<(), JsonError> {
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.skip_digits(),
            _ => return Err(self.unexpected()),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            self.digits()?;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            self.digits()?;
        }
        Ok(())
    }

    /// One or more digits.
    fn digits(&mut self) -> Result<(), JsonError> {
        if !matches!(self.peek(), Some(b'0'..=b'9')) {
            return Err(self.unexpected());
        }
        self.skip_digits();
        Ok(())
    }

    /// Zero or more digits.
    fn skip_digits(&mut self) {
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
    }

    /// Reads a string from its opening quote to its closing one.
    fn string(&mut self) -> Result<(), JsonError> {
        self.pos += 1;
        loop {
            self.skip_plain_ascii();
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(b'\\') => self.escape()?,
                Some(byte) if byte >= 0x80 => self.utf8_char()?,
                _ => return Err(self.unexpected()),
            }
        }
    }

    /// Skips string bytes that need no look: printable ASCII other than `"` and `\`.
    fn skip_plain_ascii(&mut self) {
        self.pos += plain_len(&self.text[self.pos.min(self.text.len())..]);
    }

    /// Reads one escape after its backslash, pairing surrogate escapes.
    fn escape(&mut self) -> Result<(), JsonError> {
        let start = self.pos;
        self.pos += 1;
        match self.peek() {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                self.pos += 1;
                Ok(())
            }
            Some(b'u') => self.unicode_escape(start),
            _ => Err(self.unexpected()),
        }
    }

    /// Reads `uXXXX` (the backslash at `start` already read) and, for a high surrogate, the
    /// low one that must follow.
    fn unicode_escape(&mut self, start: usize) -> Result<(), JsonError> {
        let unit = self.hex4()?;
        let lone = JsonError {
            offset: start,
            kind: JsonErrorKind::LoneSurrogate(unit),
        };
        match unit {
            0xD800..=0xDBFF => {
                if self.text.get(self.pos..self.pos + 2) != Some(b"\\u") {
                    return Err(lone);
                }
                self.pos += 1;
                let low = self.hex4()?;
                if (0xDC00..=0xDFFF).contains(&low) {
                    Ok(())
                } else {
                    Err(lone)
                }
            }
            0xDC00..=0xDFFF => Err(lone),
            _ => Ok(()),
        }
    }

    /// Reads `u` and four hex digits; the code unit they spell.
    fn hex4(&mut self) -> Result<u16, JsonError> {
        self.pos += 1;
        let mut unit = 0u16;
        for _ in 0..4 {
            let digit = match self.peek() {
                Some(byte @ b'0'..=b'9') => byte - b'0',
                Some(byte @ b'a'..=b'f') => byte - b'a' + 10,
                Some(byte @ b'A'..=b'F') => byte - b'A' + 10,
                _ => return Err(self.unexpected()),
            };
            unit = (unit << 4) | u16::from(digit);
            self.pos += 1;
        }
        Ok(unit)
    }

    /// Reads one multi-byte UTF-8 character (Unicode Table 3-7: no overlong forms, no
    /// surrogates, nothing above U+10FFFF).
    fn utf8_char(&mut self) -> Result<(), JsonError> {
        let start = self.pos;
        let invalid = JsonError {
            offset: start,
            kind: JsonErrorKind::InvalidUtf8,
        };
        let (second, more) = match self.text[start] {
            0xC2..=0xDF => (0x80..=0xBF, 0),
            0xE0 => (0xA0..=0xBF, 1),
            0xE1..=0xEC | 0xEE..=0xEF => (0x80..=0xBF, 1),
            0xED => (0x80..=0x9F, 1),
            0xF0 => (0x90..=0xBF, 2),
            0xF1..=0xF3 => (0x80..=0xBF, 2),
            0xF4 => (0x80..=0x8F, 2),
            _ => return Err(invalid),
        };
        let tail = self.text.get(start + 1..start + 2 + more).ok_or(invalid)?;
        let continuation = |b: &u8| (0x80..=0xBF).contains(b);
        if !second.contains(&tail[0]) || !tail[1..].iter().all(continuation) {
            return Err(invalid);
        }
        self.pos = start + 2 + more;
        Ok(())
    }
}

/// `0x01` in every byte of a word.
const ONES: u64 = 0x0101_0101_0101_0101;
/// `0x80` in every byte of a word.
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// How many leading bytes of `bytes` are plain string bytes ([`is_plain`]): eight at a time
/// while a whole word is plain, then one at a time.
fn plain_len(bytes: &[u8]) -> usize {
    let words = bytes.chunks_exact(8).map(|chunk| {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        u64::from_le_bytes(word)
    });
    let plain_words = words.take_while(|&word| word_is_plain(word)).count();
    let tail = &bytes[plain_words * 8..];
    plain_words * 8 + tail.iter().take_while(|&&b| is_plain(b)).count()
}

/// Printable ASCII other than `"` and `\`: a string byte that needs no look.
fn is_plain(byte: u8) -> bool {
    (0x20..0x80).contains(&byte) && byte != b'"' && byte != b'\\'
}

/// Whether all eight bytes of `word` are [`is_plain`] (bit tricks: a byte below `0x20`,
/// equal to `"` or `\`, or with its high bit set shows in the `HIGHS` bits).
fn word_is_plain(word: u64) -> bool {
    let below_space = word.wrapping_sub(ONES * 0x20) & !word;
    let quote = has_zero_byte(word ^ (ONES * u64::from(b'"')));
    let backslash = has_zero_byte(word ^ (ONES * u64::from(b'\\')));
    (below_space | word) & HIGHS == 0 && !quote && !backslash
}

/// Whether some byte of `word` is zero.
fn has_zero_byte(word: u64) -> bool {
    word.wrapping_sub(ONES) & !word & HIGHS != 0
}

#[cfg(test)]
mod tests;
