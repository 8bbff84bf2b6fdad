//! `ImageDecoder`: an encoded image (a 1-D uint8 stream) → [H, W, C] uint8.
//!
//! H and W depend on the data: fresh symbols, unless the stream's bytes are known before run
//! time (a constant, or a value given for the input), in which case they are read from the
//! image header (BMP, JPEG, JPEG 2000, PNG, PNM, TIFF, WebP). C is 3 for RGB and BGR, 1 for
//! Grayscale. Decoding is codec work, not tensor arithmetic: it costs 0 FLOPs here.

use flopscope_ir::{DType, Dim, TensorType};

use super::no_flops;
use crate::{InferCtx, OpClass, OpDef, OpError, Opsets, Role, invalid};

fn be16(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from(u16::from_be_bytes([
        *b.get(at)?,
        *b.get(at + 1)?,
    ])))
}

fn le16(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from(u16::from_le_bytes([
        *b.get(at)?,
        *b.get(at + 1)?,
    ])))
}

fn be32(b: &[u8], at: usize) -> Option<u64> {
    let s: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
    Some(u64::from(u32::from_be_bytes(s)))
}

fn le32(b: &[u8], at: usize) -> Option<u64> {
    let s: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
    Some(u64::from(u32::from_le_bytes(s)))
}

fn le24(b: &[u8], at: usize) -> Option<u64> {
    Some(
        u64::from(*b.get(at)?) | u64::from(*b.get(at + 1)?) << 8 | u64::from(*b.get(at + 2)?) << 16,
    )
}

/// (height, width) from the header of an encoded image.
fn image_size(b: &[u8]) -> Option<(u64, u64)> {
    if b.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Some((be32(b, 20)?, be32(b, 16)?));
    }
    if b.starts_with(b"BM") {
        return if le32(b, 14)? == 12 {
            Some((le16(b, 20)?, le16(b, 18)?))
        } else {
            // A negative height marks a top-down bitmap.
            let h: [u8; 4] = b.get(22..26)?.try_into().ok()?;
            let h = i32::from_le_bytes(h).unsigned_abs();
            Some((u64::from(h), le32(b, 18)?))
        };
    }
    if b.starts_with(&[0xFF, 0xD8]) {
        return jpeg_size(b);
    }
    if b.starts_with(b"\0\0\0\x0cjP  ") {
        let at = b.windows(4).position(|w| w == b"ihdr")?;
        return Some((be32(b, at + 4)?, be32(b, at + 8)?));
    }
    if b.starts_with(&[0xFF, 0x4F, 0xFF, 0x51]) {
        // SIZ: Xsiz, Ysiz, XOsiz, YOsiz after the marker, length and capabilities.
        let (x, y, xo, yo) = (be32(b, 8)?, be32(b, 12)?, be32(b, 16)?, be32(b, 20)?);
        return Some((y.checked_sub(yo)?, x.checked_sub(xo)?));
    }
    if b.len() > 2 && b[0] == b'P' && (b'1'..=b'6').contains(&b[1]) {
        return pnm_size(b);
    }
    if b.starts_with(b"II*\0") || b.starts_with(b"MM\0*") {
        return tiff_size(b);
    }
    if b.starts_with(b"RIFF") && b.get(8..12) == Some(b"WEBP") {
        return webp_size(b);
    }
    None
}

fn jpeg_size(b: &[u8]) -> Option<(u64, u64)> {
    let mut at = 2;
    while at + 1 < b.len() {
        if b[at] != 0xFF {
            return None;
        }
        let marker = b[at + 1];
        if marker == 0xFF {
            at += 1;
            continue;
        }
        if (0xD0..=0xD9).contains(&marker) || marker == 0x01 {
            at += 2;
            continue;
        }
        let len = be16(b, at + 2)? as usize;
        let sof = (0xC0..=0xCF).contains(&marker) && ![0xC4, 0xC8, 0xCC].contains(&marker);
        if sof {
            return Some((be16(b, at + 5)?, be16(b, at + 7)?));
        }
        at += 2 + len;
    }
    None
}

fn pnm_size(b: &[u8]) -> Option<(u64, u64)> {
    let mut numbers = Vec::new();
    let mut at = 2;
    while numbers.len() < 2 && at < b.len() {
        match b[at] {
            b'#' => {
                while at < b.len() && b[at] != b'\n' {
                    at += 1;
                }
            }
            c if c.is_ascii_digit() => {
                let start = at;
                while at < b.len() && b[at].is_ascii_digit() {
                    at += 1;
                }
                numbers.push(
                    std::str::from_utf8(&b[start..at])
                        .ok()?
                        .parse::<u64>()
                        .ok()?,
                );
                continue;
            }
            c if c.is_ascii_whitespace() => {}
            _ => return None,
        }
        at += 1;
    }
    match numbers.as_slice() {
        [w, h] => Some((*h, *w)),
        _ => None,
    }
}

fn tiff_size(b: &[u8]) -> Option<(u64, u64)> {
    let little = b.starts_with(b"II");
    let u16_at = |at| if little { le16(b, at) } else { be16(b, at) };
    let u32_at = |at| if little { le32(b, at) } else { be32(b, at) };
    let ifd = u32_at(4)? as usize;
    let entries = u16_at(ifd)? as usize;
    let (mut width, mut height) = (None, None);
    for e in 0..entries {
        let at = ifd + 2 + 12 * e;
        let tag = u16_at(at)?;
        let kind = u16_at(at + 2)?;
        let value = match kind {
            3 => u16_at(at + 8)?,
            4 => u32_at(at + 8)?,
            _ => continue,
        };
        match tag {
            256 => width = Some(value),
            257 => height = Some(value),
            _ => {}
        }
    }
    Some((height?, width?))
}

fn webp_size(b: &[u8]) -> Option<(u64, u64)> {
    match b.get(12..16)? {
        b"VP8 " => Some((le16(b, 28)? & 0x3FFF, le16(b, 26)? & 0x3FFF)),
        b"VP8L" => {
            let bits = le32(b, 21)?;
            Some((((bits >> 14) & 0x3FFF) + 1, (bits & 0x3FFF) + 1))
        }
        b"VP8X" => Some((le24(b, 27)? + 1, le24(b, 24)? + 1)),
        _ => None,
    }
}

fn infer_image_decoder(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let stream = cx.tensor(0)?;
    if stream.rank() != 1 {
        return invalid!("encoded_stream has shape {}, expected 1-D bytes", stream);
    }
    let channels = match cx.attr_or::<&str>("pixel_format", "RGB")? {
        "RGB" | "BGR" => 3,
        "Grayscale" => 1,
        other => return invalid!("pixel_format `{other}` is not one of RGB, BGR, Grayscale"),
    };
    let bytes: Option<Vec<u8>> = cx
        .value(0)?
        .and_then(|v| v.as_i64s())
        .and_then(|v| v.into_iter().map(|x| u8::try_from(x).ok()).collect());
    let known = bytes
        .as_deref()
        .and_then(image_size)
        .and_then(|(h, w)| Some((i64::try_from(h).ok()?, i64::try_from(w).ok()?)));
    let (h, w) = match known {
        Some((h, w)) => (Dim::from_i64(h), Dim::from_i64(w)),
        None => (cx.fresh_symbol("height"), cx.fresh_symbol("width")),
    };
    cx.set(
        0,
        TensorType::new(DType::Uint8, vec![h, w, Dim::from_i64(channels)]),
    );
    Ok(())
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "ImageDecoder",
        class: OpClass::Other,
        opsets: Opsets::since(20),
        roles: &[Role::Data],
        infer: infer_image_decoder,
        cost: no_flops,
        formula: "0 (decoding is codec work, not counted)",
    }
}

#[cfg(test)]
mod tests {
    use super::image_size;
    use crate::ops::testing::{Case, t};

    #[test]
    fn unknown_streams_give_fresh_dims() {
        let r = Case::new("ImageDecoder")
            .input(t("uint8", &[1058]))
            .str("pixel_format", "Grayscale")
            .opset(20)
            .run();
        assert_eq!(r.shape(0), "[node0_height, node0_width, 1]");
        assert_eq!(r.flops_add() + r.flops_mul(), 0);
    }

    #[test]
    fn headers() {
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        png.extend([0, 0, 0, 40, 0, 0, 0, 30]);
        assert_eq!(image_size(&png), Some((30, 40)));
        let mut bmp = vec![b'B', b'M'];
        bmp.extend([0u8; 12]);
        bmp.extend(40u32.to_le_bytes());
        bmp.extend(64u32.to_le_bytes());
        bmp.extend((-16i32).to_le_bytes());
        assert_eq!(image_size(&bmp), Some((16, 64)));
        // SOI, APP0 (length 4), SOF0: precision 8, height 20, width 10.
        let jpeg = [
            0xFF, 0xD8, 0xFF, 0xE0, 0, 4, 0, 0, 0xFF, 0xC0, 0, 11, 8, 0, 20, 0, 10, 3,
        ];
        assert_eq!(image_size(&jpeg), Some((20, 10)));
        assert_eq!(image_size(b"P6\n# comment\n32 24\n255\n"), Some((24, 32)));
        assert_eq!(image_size(b"not an image"), None);
    }
}
