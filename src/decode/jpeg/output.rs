//! From coefficients to pixels: inverse DCT into component planes, then, row by row as the
//! planes fill, upsampling (`jdsample.c`) and colour conversion (`jdcolor.c`), each row
//! handed to a [`RowSink`] as it is made.

use super::idct::idct_block;
use super::{Colour, Frame};
use crate::decode::sink::{RowKind, RowSink};
use crate::pixels::PixelFormat;

/// How a component reaches full resolution; the choice `jinit_upsampler` makes with fancy
/// upsampling on (Pillow's default).
#[derive(Clone, Copy, PartialEq, Debug)]
enum Up {
    Full,
    /// Horizontal 2:1, triangle filter (`h2v1_fancy_upsample`).
    H2V1,
    /// Vertical 2:1, triangle filter (`h1v2_fancy_upsample`).
    H1V2,
    /// Both 2:1, triangle filter (`h2v2_fancy_upsample`).
    H2V2,
    /// Any whole ratios, by replication (`int_upsample`, `h2v1_upsample`, `h2v2_upsample`).
    Replicate(usize, usize),
}

/// A component's samples: a ring of the last `ring` rows (row `r` at `r % ring`). Rows are
/// written in order, a block row (8) at a time, and output rows are made as soon as their
/// source rows exist, so only the rows of the last two MCU rows can still be read: the ring
/// holds four MCU rows' worth, a few hundred kilobytes instead of the whole plane.
struct Plane {
    samples: Vec<u8>,
    ring: usize,
    stride: usize,
    width: usize,
    height: usize,
    /// Rows written so far.
    ready: usize,
    up: Up,
    rv: usize,
    /// Room for one upsampled row, and for the sums it is made from.
    row: Vec<u8>,
    sums: Vec<u16>,
}

pub(super) struct Output<'s> {
    width: usize,
    height: usize,
    colour: Colour,
    planes: Vec<Plane>,
    next: usize,
    /// Where the rows go.
    sink: &'s mut dyn RowSink,
    /// The RGB of the pixels a grey sink's row was not made for straight from the samples.
    aside: Vec<u8>,
    /// The image came in one interleaved sequential scan, output as it was decoded.
    pub(super) streamed: bool,
}

impl<'s> Output<'s> {
    /// The output stage of frame `f`, or `None` when the planes and what the sink keeps would
    /// exceed `budget` bytes.
    pub(super) fn new(
        f: &Frame,
        colour: Colour,
        sink: &'s mut dyn RowSink,
        budget: u64,
    ) -> Option<Output<'s>> {
        let format = if colour == Colour::Grey {
            PixelFormat::Gray8
        } else {
            PixelFormat::Rgb8
        };
        let mut bytes = sink.memory(f.width, f.height, format);
        for c in &f.comps {
            bytes += c.bw as u64 * 8 * 32 * c.v as u64;
        }
        if bytes > budget {
            return None;
        }
        let planes = f
            .comps
            .iter()
            .map(|c| {
                let (rh, rv) = (f.hmax / c.h, f.vmax / c.v);
                let up = match (rh, rv) {
                    (1, 1) => Up::Full,
                    (2, 1) if c.width > 2 => Up::H2V1,
                    (1, 2) => Up::H1V2,
                    (2, 2) if c.width > 2 => Up::H2V2,
                    _ => Up::Replicate(rh, rv),
                };
                let ring = 4 * 8 * c.v;
                Plane {
                    samples: vec![0; ring * c.bw * 8],
                    ring,
                    stride: c.bw * 8,
                    width: c.width,
                    height: c.height,
                    ready: 0,
                    up,
                    rv,
                    row: vec![
                        0;
                        if up == Up::Full {
                            0
                        } else {
                            f.width.max(2 * c.width)
                        }
                    ],
                    sums: vec![0; c.width],
                }
            })
            .collect();
        let grey_rows = colour != Colour::Grey && sink.kind() == RowKind::Grey;
        sink.begin(f.width, f.height, format);
        Some(Output {
            width: f.width,
            height: f.height,
            colour,
            planes,
            next: 0,
            sink,
            aside: if grey_rows {
                vec![0; 3 * f.width]
            } else {
                Vec::new()
            },
            streamed: false,
        })
    }

    pub(super) fn complete(&self) -> bool {
        self.next == self.height
    }

    /// The rows are grey (a one-component image), else RGB.
    pub(super) fn colour_is_grey(&self) -> bool {
        self.colour == Colour::Grey
    }

    /// Inverse DCT of MCU row `my` of every component, `coefs(c)` giving component `c`'s
    /// coefficients from the first block of that row on; then outputs the rows now complete.
    pub(super) fn idct_rows<'a>(
        &mut self,
        f: &Frame,
        my: usize,
        coefs: impl Fn(usize) -> &'a [i16],
    ) {
        for (ci, c) in f.comps.iter().enumerate() {
            let quant = c.quant.as_ref().unwrap_or(&[0; 64]);
            let p = &mut self.planes[ci];
            let src = coefs(ci);
            for v in 0..c.v {
                let by = my * c.v + v;
                if by >= c.bh_used {
                    break;
                }
                idct_row(
                    &src[v * c.bw * 64..(v + 1) * c.bw * 64],
                    quant,
                    p,
                    by,
                    c.bw_used,
                );
            }
        }
        self.emit();
    }

    /// Inverse DCT of block row `by` of the single component `ci` (a one-component image).
    pub(super) fn idct_block_row(&mut self, f: &Frame, ci: usize, by: usize, coefs: &[i16]) {
        let c = &f.comps[ci];
        let quant = c.quant.as_ref().unwrap_or(&[0; 64]);
        idct_row(
            &coefs[..c.bw * 64],
            quant,
            &mut self.planes[ci],
            by,
            c.bw_used,
        );
        self.emit();
    }

    /// Outputs every row whose component rows (and the neighbours the filters read) exist.
    fn emit(&mut self) {
        while self.next < self.height {
            let y = self.next;
            let ready = self.planes.iter().all(|p| {
                let need = match p.rv {
                    1 => y + 1,
                    2 => y / 2 + 2,
                    rv => y / rv + 1,
                };
                p.ready >= need.min(p.height)
            });
            if !ready {
                return;
            }
            self.row(y);
            self.next += 1;
        }
    }

    fn row(&mut self, y: usize) {
        let w = self.width;
        for p in &mut self.planes {
            upsample(p, y, w);
        }
        let Output {
            planes,
            aside,
            sink,
            colour,
            ..
        } = self;
        let colour = *colour;
        fn line(p: &Plane, y: usize, w: usize) -> &[u8] {
            if p.up == Up::Full {
                let at = (y % p.ring) * p.stride;
                &p.samples[at..at + w]
            } else {
                &p.row[..w]
            }
        }
        // At most four components: their rows in a fixed array, no allocation per row.
        let mut all: [&[u8]; 4] = [&[]; 4];
        for (l, p) in all.iter_mut().zip(planes.iter()) {
            *l = line(p, y, w);
        }
        let lines = &mut all[..planes.len()];
        if colour == Colour::Grey {
            // A grey JPEG's samples are its pixels and its grey image alike.
            sink.push(lines[0]);
            return;
        }
        match sink.kind() {
            RowKind::Decoded => {
                to_rgb(colour, lines, sink.row_mut());
                sink.row_written();
            }
            RowKind::Grey => {
                // YCbCr: the grey straight from the samples on vectors where the build has
                // them; `done` pixels are then complete, the sink makes the rest from RGB.
                let grey = sink.row_mut();
                let done = match (colour, &*lines) {
                    (Colour::YCbCr, [a, b, c]) => crate::arch::ycc_rgb16(a, b, c, None, Some(grey)),
                    _ => 0,
                };
                for l in lines.iter_mut() {
                    *l = &l[done..];
                }
                let rest = &mut aside[..3 * (w - done)];
                to_rgb(colour, lines, rest);
                sink.grey_written(done, rest);
            }
        }
    }
}

/// One output row from the components' rows: RGB, or a grey JPEG's grey.
fn to_rgb(colour: Colour, lines: &[&[u8]], out: &mut [u8]) {
    match (colour, lines) {
        (Colour::Grey, [g]) => out.copy_from_slice(g),
        (Colour::YCbCr, [a, b, c]) => ycc_to_rgb(a, b, c, out),
        (Colour::Rgb, [a, b, c]) => {
            for (((px, &r), &g), &b) in out.chunks_exact_mut(3).zip(*a).zip(*b).zip(*c) {
                px.copy_from_slice(&[r, g, b]);
            }
        }
        (Colour::Cmyk, [c, m, ye, k]) => cmyk_to_rgb(c, m, ye, k, out),
        _ => {}
    }
}

fn idct_row(coefs: &[i16], quant: &[u16; 64], p: &mut Plane, by: usize, blocks: usize) {
    let stride = p.stride;
    // The ring holds whole block rows (its size is a multiple of 8).
    let first = (by * 8) % p.ring;
    let rows = &mut p.samples[first * stride..(first + 8) * stride];
    for (bx, block) in coefs.chunks_exact(64).take(blocks).enumerate() {
        let block: &[i16; 64] = block.try_into().unwrap_or(&[0; 64]);
        idct_block(block, quant, &mut rows[bx * 8..], stride);
    }
    p.ready = ((by + 1) * 8).min(p.height);
}

/// Upsamples the component row(s) behind output row `y` into `p.row`.
fn upsample(p: &mut Plane, y: usize, out_width: usize) {
    let (stride, width) = (p.stride, p.width);
    let (samples, ring) = (&p.samples, p.ring);
    let row = |r: usize| &samples[(r % ring) * stride..(r % ring) * stride + width];
    // The nearer and the further source row of a vertical 2:1 triangle filter; above the
    // first and below the last row the edge row repeats (`jdmainct.c` context rows).
    let near = y / 2;
    let far = if y % 2 == 0 {
        near.saturating_sub(1)
    } else {
        (near + 1).min(p.height - 1)
    };
    match p.up {
        Up::Full => {}
        Up::H2V1 => {
            for (s, &v) in p.sums.iter_mut().zip(row(y)) {
                *s = u16::from(v);
            }
            triangle(&p.sums, &mut p.row, 1, 2, 2);
        }
        Up::H1V2 => {
            let bias = if y % 2 == 0 { 1 } else { 2 };
            for ((o, &a), &b) in p.row.iter_mut().zip(row(near)).zip(row(far)) {
                *o = ((u16::from(a) * 3 + u16::from(b) + bias) >> 2) as u8;
            }
        }
        Up::H2V2 => {
            let sums = &mut p.sums;
            for ((s, &a), &b) in sums.iter_mut().zip(row(near)).zip(row(far)) {
                *s = u16::from(a) * 3 + u16::from(b);
            }
            triangle(sums, &mut p.row, 8, 7, 4);
        }
        Up::Replicate(rh, rv) => {
            let src = row(y / rv);
            for (x, o) in p.row[..out_width].iter_mut().enumerate() {
                *o = src[x / rh];
            }
        }
    }
}

/// The horizontal 2:1 triangle filter of `h2v1_fancy_upsample` (on the samples, biases
/// 1 and 2, shift 2) and `h2v2_fancy_upsample` (on the column sums `3 near + far`, biases 8
/// and 7, shift 4): between inputs `a` and `b`, the output nearer `a` is
/// `(3 a + b + odd) >> shift` and the one nearer `b` is `(3 b + a + even) >> shift`. At the
/// edges the input stands in for its missing neighbour, which gives libjpeg's edge
/// outputs: `(4 s + even) >> shift` first and `(4 s + odd) >> shift` last.
fn triangle(s: &[u16], out: &mut [u8], even: u16, odd: u16, shift: u32) {
    let n = s.len();
    out[0] = ((s[0] * 4 + even) >> shift) as u8;
    out[2 * n - 1] = ((s[n - 1] * 4 + odd) >> shift) as u8;
    let done = crate::arch::triangle_pairs(s, out, even, odd, shift);
    for ((o, &a), &b) in out[1 + 2 * done..2 * n - 1]
        .chunks_exact_mut(2)
        .zip(&s[done..n - 1])
        .zip(&s[done + 1..])
    {
        o[0] = ((3 * a + b + odd) >> shift) as u8;
        o[1] = ((3 * b + a + even) >> shift) as u8;
    }
}

/// YCbCr to RGB (`jdcolor.c`, `ycc_rgb_convert` and its tables, 16-bit fixed point):
/// `R = Y + round(1.402 (Cr - 128))`, `B = Y + round(1.772 (Cb - 128))`,
/// `G = Y + ((-0.34414 (Cb - 128) - 0.71414 (Cr - 128)) * 2^16 + 2^15) >> 16`, each factor
/// rounded to 16 fractional bits, results clamped to 0..=255.
fn ycc_to_rgb(y: &[u8], cb: &[u8], cr: &[u8], out: &mut [u8]) {
    const HALF: i32 = 1 << 15;
    let convert = |y: u8, cb: u8, cr: u8| {
        let (y, cb, cr) = (i32::from(y), i32::from(cb) - 128, i32::from(cr) - 128);
        [
            (y + ((91881 * cr + HALF) >> 16)).clamp(0, 255) as u8,
            (y + ((-22554 * cb + HALF - 46802 * cr) >> 16)).clamp(0, 255) as u8,
            (y + ((116130 * cb + HALF) >> 16)).clamp(0, 255) as u8,
        ]
    };
    // Sixteen pixels at a time into planar arrays, so that the arithmetic runs on vectors;
    // then interleaved.
    let vectors = crate::arch::ycc_rgb16(y, cb, cr, Some(out), None);
    const N: usize = 16;
    let whole = vectors + (y.len().min(out.len() / 3) - vectors) / N * N;
    for (((o, y), cb), cr) in out[vectors * 3..whole * 3]
        .chunks_exact_mut(3 * N)
        .zip(y[vectors..].chunks_exact(N))
        .zip(cb[vectors..].chunks_exact(N))
        .zip(cr[vectors..].chunks_exact(N))
    {
        let mut planes = [[0u8; N]; 3];
        for i in 0..N {
            let [r, g, b] = convert(y[i], cb[i], cr[i]);
            planes[0][i] = r;
            planes[1][i] = g;
            planes[2][i] = b;
        }
        for (i, px) in o.chunks_exact_mut(3).enumerate() {
            px.copy_from_slice(&[planes[0][i], planes[1][i], planes[2][i]]);
        }
    }
    for (i, px) in out[whole * 3..].chunks_exact_mut(3).enumerate() {
        let x = whole + i;
        px.copy_from_slice(&convert(y[x], cb[x], cr[x]));
    }
}

/// CMYK JPEG to RGB as Pillow gives it: Pillow reads the samples with Adobe's inverted
/// polarity (`CMYK;I`) and converts with `cmyk2rgb` (`libImaging/Convert.c`): with
/// `nk = 255 - k` of the inverted sample, `R = nk - MULDIV255(c, nk)`, likewise G and B.
fn cmyk_to_rgb(c: &[u8], m: &[u8], y: &[u8], k: &[u8], out: &mut [u8]) {
    let muldiv255 = |a: u32, b: u32| {
        let t = a * b + 128;
        ((t >> 8) + t) >> 8
    };
    for ((((px, &c), &m), &y), &k) in out.chunks_exact_mut(3).zip(c).zip(m).zip(y).zip(k) {
        // Inverted reading: Pillow's c is 255 - stored, and nk = 255 - (255 - k) = k.
        let nk = u32::from(k);
        for (o, s) in px.iter_mut().zip([c, m, y]) {
            *o = (nk - muldiv255(255 - u32::from(s), nk)) as u8;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `jdcolor.c`'s per-pixel arithmetic, the oracle.
    fn plain(y: u8, cb: u8, cr: u8) -> [u8; 3] {
        let (y, cb, cr) = (i32::from(y), i32::from(cb) - 128, i32::from(cr) - 128);
        let half = 1 << 15;
        [
            (y + ((91881 * cr + half) >> 16)).clamp(0, 255) as u8,
            (y + ((-22554 * cb + half - 46802 * cr) >> 16)).clamp(0, 255) as u8,
            (y + ((116130 * cb + half) >> 16)).clamp(0, 255) as u8,
        ]
    }

    /// Every (Cb, Cr) pair with luma sweeping 0..=255: the conversion (on vectors where the
    /// build has them, 16 pixels at a time) equals the plain arithmetic, and so does the
    /// grey made alongside it.
    #[test]
    fn ycc_conversion_and_grey_equal_the_plain_arithmetic_for_every_chroma_pair() {
        let n = 65536 + 7; // a tail that is not a whole vector block
        let y: Vec<u8> = (0..n).map(|i| (i * 7 % 256) as u8).collect();
        let cb: Vec<u8> = (0..n).map(|i| (i % 256) as u8).collect();
        let cr: Vec<u8> = (0..n).map(|i| (i / 256 % 256) as u8).collect();
        let mut rgb = vec![0u8; 3 * n];
        ycc_to_rgb(&y, &cb, &cr, &mut rgb);
        let mut both = vec![0u8; 3 * n];
        let mut grey = vec![0u8; n];
        let done = crate::arch::ycc_rgb16(&y, &cb, &cr, Some(&mut both), Some(&mut grey));
        for i in 0..n {
            let expect = plain(y[i], cb[i], cr[i]);
            assert_eq!(rgb[3 * i..3 * i + 3], expect, "pixel {i}");
            if i < done {
                assert_eq!(both[3 * i..3 * i + 3], expect, "pixel {i}");
                let [r, g, b] = expect;
                assert_eq!(
                    grey[i],
                    crate::imagehash::grey::grey_of(r, g, b),
                    "pixel {i}"
                );
            }
        }
    }

    /// The triangle filter's pairs (on vectors where the build has them) equal the formula.
    #[test]
    fn triangle_filter_equals_the_formula() {
        for (even, odd, shift, max) in [(1u16, 2u16, 2u32, 255u16), (8, 7, 4, 1020)] {
            let s: Vec<u16> = (0..1000u32)
                .map(|i| ((i * 37 + 11) % (u32::from(max) + 1)) as u16)
                .collect();
            let mut out = vec![0u8; 2 * s.len()];
            triangle(&s, &mut out, even, odd, shift);
            let n = s.len();
            assert_eq!(out[0], ((s[0] * 4 + even) >> shift) as u8);
            assert_eq!(out[2 * n - 1], ((s[n - 1] * 4 + odd) >> shift) as u8);
            for i in 1..n {
                let (a, b) = (s[i - 1], s[i]);
                assert_eq!(out[2 * i - 1], ((3 * a + b + odd) >> shift) as u8, "{i}");
                assert_eq!(out[2 * i], ((3 * b + a + even) >> shift) as u8, "{i}");
            }
        }
    }
}
