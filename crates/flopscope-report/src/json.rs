//! Pretty JSON, byte for byte what `serde_json::to_string_pretty` writes, in fewer steps.
//!
//! serde_json's pretty printer writes a line's indentation one level at a time, a separate
//! write per level; a large model's report has tens of thousands of lines six or more levels
//! deep, and those writes were a tenth of `flopscope profile --format json`'s instructions.
//! [`Indented`] writes each line's indentation in one slice, and [`to_string_pretty`] sizes
//! the buffer up front from the caller's estimate.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::ser::{Formatter, Serializer};

/// Two spaces per level, as serde_json's default pretty printer indents.
const SPACES: &[u8] = &[b' '; 128];

/// A pretty-printing formatter: objects and arrays open a new line per element, indented two
/// spaces per level; empty ones stay `{}` and `[]`.
#[derive(Debug, Default)]
struct Indented {
    level: usize,
    has_value: bool,
}

impl Indented {
    fn newline<W: ?Sized + Write>(&self, w: &mut W) -> io::Result<()> {
        w.write_all(b"\n")?;
        let mut width = self.level * 2;
        while width > 0 {
            let n = width.min(SPACES.len());
            w.write_all(&SPACES[..n])?;
            width -= n;
        }
        Ok(())
    }

    fn open<W: ?Sized + Write>(&mut self, w: &mut W, bracket: &[u8]) -> io::Result<()> {
        self.level += 1;
        self.has_value = false;
        w.write_all(bracket)
    }

    fn close<W: ?Sized + Write>(&mut self, w: &mut W, bracket: &[u8]) -> io::Result<()> {
        self.level -= 1;
        if self.has_value {
            self.newline(w)?;
        }
        w.write_all(bracket)
    }

    fn element<W: ?Sized + Write>(&self, w: &mut W, first: bool) -> io::Result<()> {
        if !first {
            w.write_all(b",")?;
        }
        self.newline(w)
    }
}

impl Formatter for Indented {
    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.open(w, b"[")
    }

    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.close(w, b"]")
    }

    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.element(w, first)
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, _w: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.open(w, b"{")
    }

    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.close(w, b"}")
    }

    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.element(w, first)
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, _w: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

/// `value` as pretty JSON; `capacity` is the expected length, to allocate the text once.
pub(crate) fn to_string_pretty<T: Serialize + ?Sized>(
    value: &T,
    capacity: usize,
) -> serde_json::Result<String> {
    let mut out = Vec::with_capacity(capacity);
    value.serialize(&mut Serializer::with_formatter(
        &mut out,
        Indented::default(),
    ))?;
    // Only `str`s and serde_json's own escaping went in: the bytes are UTF-8.
    String::from_utf8(out).map_err(|e| {
        serde_json::Error::io(io::Error::new(io::ErrorKind::InvalidData, e.utf8_error()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_same_bytes_as_serde_jsons_pretty_printer() {
        let deep = (0..80).fold(json!(1), |inner, _| json!([inner]));
        let cases = [
            json!(null),
            json!([]),
            json!({}),
            json!({"a": [], "b": {}, "c": [1, 2.5, "x\"y\n"], "d": {"e": {"f": [[], [[]]]}}}),
            json!([{"name": "ü", "shape": [1, "batch", null]}, true, false, -3]),
            deep,
        ];
        for value in &cases {
            let ours = to_string_pretty(value, 0).unwrap();
            let theirs = serde_json::to_string_pretty(value).unwrap();
            assert_eq!(ours, theirs);
        }
    }
}
