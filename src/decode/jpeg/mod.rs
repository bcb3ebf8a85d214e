//! A JPEG decoder whose pixels are libjpeg-turbo's, as Pillow decodes them (default
//! settings: accurate integer IDCT, "fancy" chroma upsampling, fixed-point YCbCr to RGB).
//!
//! Why our own: the reference tools (Pillow, and through it `imagehash`, python-threatexchange
//! and HMA) hash libjpeg-turbo's pixels, and no pure-Rust decoder reproduces them (zune-jpeg
//! differs on about 6 % of the samples). Hashes taken here therefore equal the Python tools'
//! on the same file, and the decoder can run its hot loops on vectors in WebAssembly.
//!
//! It covers what cameras, phones and image tools write: 8-bit Huffman-coded baseline,
//! extended and progressive JPEG with one (grey), three (YCbCr or RGB) or four (CMYK)
//! components, any integral sampling factors, restart intervals. Everything else
//! (arithmetic coding, 12-bit and lossless JPEG, YCCK, damaged data, a progressive file whose
//! scans leave coefficients unsent, which libjpeg "smooths") is refused with a [`Refusal`]
//! saying why, and the caller decodes the file with zune-jpeg where the build has it.
//!
//! Arithmetic mirrored from libjpeg-turbo: `jidctint.c` (IDCT, in `idct`), `jdsample.c`
//! (upsampling) and `jdcolor.c` (colour conversion, in `output`), `jdhuff.c` / `jdphuff.c`
//! (entropy decoding), `jdapimin.c` (colour space guess), `jdinput.c` (quantisation tables
//! latched at a component's first scan).

mod huffman;
mod idct;
mod markers;
mod output;

use crate::decode::sink::RowSink;
use huffman::{extend, Bits, Table};
use markers::{Marker, MarkerWalk, EOI, SOS};
use output::Output;

pub(crate) use markers::{check_complete, frame_dimensions};

/// What the decoder learnt beside the rows it gave the sink.
pub(crate) struct Decoded {
    pub width: u32,
    pub height: u32,
    /// The rows were grey (one byte per pixel), else RGB.
    pub grey: bool,
    /// The payload of the last APP1 "Exif" segment, after its 6-byte header.
    pub exif: Option<Vec<u8>>,
}

/// Zigzag position -> natural (row-major) index (T.81 figure A.6).
const NATURAL: [usize; 64] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20,
    13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59,
    52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
];

#[derive(Clone)]
struct Component {
    id: u8,
    h: usize,
    v: usize,
    tq: usize,
    /// The table in force at the component's first scan, natural order.
    quant: Option<[u16; 64]>,
    /// Samples per line and lines, after downsampling.
    width: usize,
    height: usize,
    /// Blocks per line and block lines holding samples.
    bw_used: usize,
    bh_used: usize,
    /// Blocks per line and block lines of whole MCUs.
    bw: usize,
    bh: usize,
    /// Per coefficient, the bit position still to be sent (-1: nothing yet), as `coef_bits`
    /// in libjpeg; progressive files only.
    coef_bits: [i8; 64],
}

struct Frame {
    progressive: bool,
    width: usize,
    height: usize,
    hmax: usize,
    vmax: usize,
    mcux: usize,
    mcuy: usize,
    comps: Vec<Component>,
}

#[derive(Default)]
struct Markers {
    jfif: bool,
    adobe_transform: Option<u8>,
    exif: Option<Vec<u8>>,
}

fn be16(b: &[u8], at: usize) -> Option<usize> {
    Some(usize::from(u16::from_be_bytes([
        *b.get(at)?,
        *b.get(at + 1)?,
    ])))
}

/// Why a file was not decoded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Refusal {
    /// A JPEG feature this decoder leaves out (see the module docs).
    Unsupported(&'static str),
    /// The frame has more than the allowed number of pixels.
    TooManyPixels(u32, u32),
    /// The buffers would exceed the allowed bytes.
    Memory,
    /// Malformed markers or entropy-coded data, or data that ends early.
    Damaged,
}

/// Decodes `bytes` (a JPEG file) into `sink`, refusing frames of more than `max_pixels`
/// pixels and buffers beyond `budget` bytes. After a refusal the sink may hold some rows.
pub(crate) fn decode(
    bytes: &[u8],
    sink: &mut dyn RowSink,
    max_pixels: u64,
    budget: u64,
) -> Result<Decoded, Refusal> {
    if bytes.get(..2) != Some(&[0xFF, 0xD8][..]) {
        return Err(Refusal::Damaged);
    }
    let mut frame: Option<Frame> = None;
    let mut markers = Markers::default();
    let mut dc_tables: [Option<Table>; 4] = [None, None, None, None];
    let mut ac_tables: [Option<Table>; 4] = [None, None, None, None];
    let mut quant: [Option<[u16; 64]>; 4] = [None; 4];
    let mut restart_interval = 0usize;
    let mut out: Option<Output> = None;
    // Coefficients of every block, per component, when the image is not streamed.
    let mut coefs: Vec<Vec<i16>> = Vec::new();
    let mut scans = 0usize;
    let mut walk = MarkerWalk::after_soi(bytes);
    loop {
        let (marker, seg) = match walk.next_marker().map_err(|_| Refusal::Damaged)? {
            Marker::Standalone(EOI) => break,
            Marker::Standalone(0xD0..=0xD7 | 0x01) => continue,
            Marker::Standalone(_) => return Err(Refusal::Damaged),
            Marker::Segment { code: 0xD8, .. } => return Err(Refusal::Damaged),
            Marker::Segment { declared, .. } if declared < 2 => return Err(Refusal::Damaged),
            Marker::Segment { code, data, .. } => (code, data),
        };
        match marker {
            0xC0..=0xC2 => {
                if frame.is_some() {
                    return Err(Refusal::Damaged);
                }
                frame = Some(parse_frame(seg, marker == 0xC2, max_pixels)?);
            }
            0xC3 | 0xC7 | 0xCB | 0xCF => return Err(Refusal::Unsupported("lossless JPEG")),
            0xC5 | 0xC6 | 0xCD | 0xCE => return Err(Refusal::Unsupported("hierarchical JPEG")),
            0xC9 | 0xCA | 0xCC => return Err(Refusal::Unsupported("arithmetic coding")),
            0xC8 => return Err(Refusal::Damaged), // reserved
            0xC4 => parse_dht(seg, &mut dc_tables, &mut ac_tables).ok_or(Refusal::Damaged)?,
            0xDB => parse_dqt(seg, &mut quant).ok_or(Refusal::Damaged)?,
            0xDD => restart_interval = be16(seg, 0).ok_or(Refusal::Damaged)?,
            0xDC => {
                return Err(Refusal::Unsupported(
                    "the height given after the first scan (DNL)",
                ))
            }
            // libjpeg: "JFIF\0" in an APP0 of at least 14 data bytes.
            0xE0 if seg.len() >= 14 && seg.starts_with(b"JFIF\0") => markers.jfif = true,
            0xE1 if seg.len() > 6 && seg.starts_with(b"Exif\0\0") => {
                markers.exif = Some(seg[6..].to_vec());
            }
            // libjpeg: "Adobe" in an APP14 of at least 12 data bytes; transform at 11.
            0xEE if seg.len() >= 12 && seg.starts_with(b"Adobe") => {
                markers.adobe_transform = Some(seg[11]);
            }
            SOS => {
                let f = frame.as_mut().ok_or(Refusal::Damaged)?;
                if out.is_none() {
                    let colour = colour_space(f, &markers);
                    if colour == Colour::Ycck {
                        // No YCCK file to check the conversion against.
                        return Err(Refusal::Unsupported("YCCK colour"));
                    }
                    out = Some(Output::new(f, colour, &mut *sink, budget).ok_or(Refusal::Memory)?);
                }
                let o = out.as_mut().ok_or(Refusal::Damaged)?;
                let scan = parse_scan(seg, f, &quant).ok_or(Refusal::Damaged)?;
                let pos = walk.position();
                let first = scans == 0;
                scans += 1;
                let end = if !f.progressive && first && scan.comps.len() == f.comps.len() {
                    // One interleaved scan holds the whole image: decode and output it
                    // one MCU row at a time.
                    decode_sequential_streaming(
                        bytes,
                        pos,
                        f,
                        &scan,
                        restart_interval,
                        &dc_tables,
                        &ac_tables,
                        o,
                    )
                } else {
                    if !f.progressive && o.streamed {
                        return Err(Refusal::Damaged);
                    }
                    if coefs.is_empty() {
                        coefs = allocate_coefficients(f, budget).ok_or(Refusal::Memory)?;
                    }
                    decode_scan(
                        bytes,
                        pos,
                        f,
                        &scan,
                        restart_interval,
                        &dc_tables,
                        &ac_tables,
                        &mut coefs,
                    )
                };
                walk.resume_at(end.ok_or(Refusal::Damaged)?);
            }
            _ => {} // other APPn, COM, and markers libjpeg skips by length
        }
    }
    let f = frame.ok_or(Refusal::Damaged)?;
    let mut o = out.ok_or(Refusal::Damaged)?;
    if !o.streamed {
        for c in &f.comps {
            // A component never scanned.
            c.quant.ok_or(Refusal::Damaged)?;
            // Progressive files: libjpeg smooths blocks whose first coefficients were not
            // all sent (`jdcoefct.c`, `smoothing_ok`); leave those to the other decoder.
            if f.progressive && c.coef_bits[..10].iter().any(|&b| b != 0) {
                return Err(Refusal::Unsupported(
                    "progressive scans that leave low coefficients unsent",
                ));
            }
        }
        for my in 0..f.mcuy {
            o.idct_rows(&f, my, |ci| {
                &coefs[ci][(my * f.comps[ci].v) * f.comps[ci].bw * 64..]
            });
        }
    }
    if !o.complete() {
        return Err(Refusal::Damaged);
    }
    Ok(Decoded {
        width: f.width as u32,
        height: f.height as u32,
        grey: o.colour_is_grey(),
        exif: markers.exif,
    })
}

/// What the components hold, as `jdapimin.c` (`default_decompress_parms`) decides it.
#[derive(Clone, Copy, PartialEq, Debug)]
pub(super) enum Colour {
    Grey,
    Rgb,
    YCbCr,
    Cmyk,
    Ycck,
}

fn colour_space(f: &Frame, m: &Markers) -> Colour {
    match f.comps.len() {
        1 => Colour::Grey,
        3 => {
            if m.jfif {
                return Colour::YCbCr;
            }
            if let Some(t) = m.adobe_transform {
                return if t == 0 { Colour::Rgb } else { Colour::YCbCr };
            }
            let ids = [f.comps[0].id, f.comps[1].id, f.comps[2].id];
            if ids == [b'R', b'G', b'B'] {
                Colour::Rgb
            } else {
                Colour::YCbCr
            }
        }
        _ => match m.adobe_transform {
            None | Some(0) => Colour::Cmyk,
            Some(_) => Colour::Ycck,
        },
    }
}

fn parse_frame(seg: &[u8], progressive: bool, max_pixels: u64) -> Result<Frame, Refusal> {
    const DAMAGED: Refusal = Refusal::Damaged;
    if *seg.first().ok_or(DAMAGED)? != 8 {
        return Err(Refusal::Unsupported("samples of more than 8 bits"));
    }
    let height = be16(seg, 1).ok_or(DAMAGED)?;
    let width = be16(seg, 3).ok_or(DAMAGED)?;
    let n = usize::from(*seg.get(5).ok_or(DAMAGED)?);
    if width == 0 || height == 0 || seg.len() < 6 + 3 * n {
        return Err(DAMAGED);
    }
    if !matches!(n, 1 | 3 | 4) {
        return Err(Refusal::Unsupported(
            "a component count other than 1, 3 or 4",
        ));
    }
    if width as u64 * height as u64 > max_pixels {
        return Err(Refusal::TooManyPixels(width as u32, height as u32));
    }
    let mut comps = Vec::with_capacity(n);
    for i in 0..n {
        let b = &seg[6 + 3 * i..9 + 3 * i];
        let (h, v, tq) = (
            usize::from(b[1] >> 4),
            usize::from(b[1] & 15),
            usize::from(b[2]),
        );
        if !(1..=4).contains(&h) || !(1..=4).contains(&v) || tq > 3 {
            return Err(DAMAGED);
        }
        if comps.iter().any(|c: &Component| c.id == b[0]) {
            return Err(DAMAGED);
        }
        comps.push(Component {
            id: b[0],
            h,
            v,
            tq,
            quant: None,
            width: 0,
            height: 0,
            bw_used: 0,
            bh_used: 0,
            bw: 0,
            bh: 0,
            coef_bits: [-1; 64],
        });
    }
    let hmax = comps.iter().map(|c| c.h).max().ok_or(DAMAGED)?;
    let vmax = comps.iter().map(|c| c.v).max().ok_or(DAMAGED)?;
    let mcux = width.div_ceil(8 * hmax);
    let mcuy = height.div_ceil(8 * vmax);
    for c in &mut comps {
        // Upsampling needs whole ratios (libjpeg refuses the others too).
        if hmax % c.h != 0 || vmax % c.v != 0 {
            return Err(Refusal::Unsupported("fractional sampling ratios"));
        }
        c.width = (width * c.h).div_ceil(hmax);
        c.height = (height * c.v).div_ceil(vmax);
        c.bw_used = c.width.div_ceil(8);
        c.bh_used = c.height.div_ceil(8);
        c.bw = mcux * c.h;
        c.bh = mcuy * c.v;
    }
    Ok(Frame {
        progressive,
        width,
        height,
        hmax,
        vmax,
        mcux,
        mcuy,
        comps,
    })
}

fn parse_dht(
    mut seg: &[u8],
    dc: &mut [Option<Table>; 4],
    ac: &mut [Option<Table>; 4],
) -> Option<()> {
    while !seg.is_empty() {
        let class = seg[0] >> 4;
        let id = usize::from(seg[0] & 15);
        let counts: [u8; 16] = seg.get(1..17)?.try_into().ok()?;
        let total: usize = counts.iter().map(|&c| usize::from(c)).sum();
        let symbols = seg.get(17..17 + total)?;
        if id > 3 || class > 1 {
            return None;
        }
        // libjpeg refuses DC categories above 15 (`jdhuff.c`).
        if class == 0 && symbols.iter().any(|&s| s > 15) {
            return None;
        }
        let table = Table::new(&counts, symbols, class == 0)?;
        if class == 0 {
            dc[id] = Some(table);
        } else {
            ac[id] = Some(table);
        }
        seg = &seg[17 + total..];
    }
    Some(())
}

fn parse_dqt(mut seg: &[u8], quant: &mut [Option<[u16; 64]>; 4]) -> Option<()> {
    while !seg.is_empty() {
        let precision = seg[0] >> 4;
        let id = usize::from(seg[0] & 15);
        if id > 3 || precision > 1 {
            return None;
        }
        let mut table = [0u16; 64];
        let size = if precision == 0 { 64 } else { 128 };
        let values = seg.get(1..1 + size)?;
        for (k, &n) in NATURAL.iter().enumerate() {
            table[n] = if precision == 0 {
                u16::from(values[k])
            } else {
                u16::from_be_bytes([values[2 * k], values[2 * k + 1]])
            };
        }
        quant[id] = Some(table);
        seg = &seg[1 + size..];
    }
    Some(())
}

struct Scan {
    /// Frame component indices, with their DC and AC table numbers.
    comps: Vec<(usize, usize, usize)>,
    ss: usize,
    se: usize,
    ah: u8,
    al: u8,
}

fn parse_scan(seg: &[u8], f: &mut Frame, quant: &[Option<[u16; 64]>; 4]) -> Option<Scan> {
    let n = usize::from(*seg.first()?);
    if n == 0 || n > f.comps.len() || seg.len() != 4 + 2 * n {
        return None;
    }
    let mut comps = Vec::with_capacity(n);
    for i in 0..n {
        let id = seg[1 + 2 * i];
        let t = seg[2 + 2 * i];
        let ci = f.comps.iter().position(|c| c.id == id)?;
        if comps.iter().any(|&(c, _, _)| c == ci) {
            return None;
        }
        comps.push((ci, usize::from(t >> 4), usize::from(t & 15)));
    }
    let ss = usize::from(seg[1 + 2 * n]);
    let se = usize::from(seg[2 + 2 * n]);
    let ah = seg[3 + 2 * n] >> 4;
    let al = seg[3 + 2 * n] & 15;
    if f.progressive {
        // T.81 G.1.1.1.1 and the checks of `jdphuff.c`.
        let dc = ss == 0;
        if se > 63 || ss > se || (dc && se != 0) || (!dc && n != 1) || al > 13 {
            return None;
        }
        if ah != 0 && ah != al + 1 {
            return None;
        }
        for &(ci, _, _) in &comps {
            let bits = &mut f.comps[ci].coef_bits;
            if !dc && bits[0] < 0 {
                return None; // AC before DC
            }
            for b in &mut bits[ss..=se] {
                let expected = if ah == 0 { -1 } else { ah as i8 };
                if *b != expected {
                    return None;
                }
                *b = al as i8;
            }
        }
    } else {
        if ss != 0 || se != 63 || ah != 0 || al != 0 {
            return None;
        }
        // In sequential mode each component comes in exactly one scan.
        for &(ci, _, _) in &comps {
            let seen = &mut f.comps[ci].coef_bits[0];
            if *seen == 0 {
                return None;
            }
            *seen = 0;
        }
    }
    // Quantisation tables are taken at a component's first scan (`jdinput.c`).
    for &(ci, _, _) in &comps {
        let c = &mut f.comps[ci];
        if c.quant.is_none() {
            c.quant = Some(quant[c.tq]?);
        }
    }
    Some(Scan {
        comps,
        ss,
        se,
        ah,
        al,
    })
}

fn allocate_coefficients(f: &Frame, budget: u64) -> Option<Vec<Vec<i16>>> {
    let total: u64 = f
        .comps
        .iter()
        .map(|c| c.bw as u64 * c.bh as u64 * 128)
        .sum();
    if total > budget {
        return None;
    }
    Some(f.comps.iter().map(|c| vec![0; c.bw * c.bh * 64]).collect())
}

/// What the walk over a scan reports.
enum Step {
    /// Block (`by`, `bx`) of scan component `i` is next in the data.
    Block { i: usize, by: usize, bx: usize },
    /// A restart marker was passed: predictions and end-of-band runs start again.
    Restart,
    /// MCU row (interleaved scan) or block row (one component) `r` is complete.
    RowDone(usize),
}

/// The blocks of a scan in coding order (T.81 A.2), with restart markers.
fn walk(
    bits: &mut Bits,
    f: &Frame,
    scan: &Scan,
    restart_interval: usize,
    mut step: impl FnMut(&mut Bits, Step) -> Option<()>,
) -> Option<()> {
    let mut todo = restart_interval;
    let mut next_rst = 0u8;
    let mut restart = |bits: &mut Bits, step: &mut dyn FnMut(&mut Bits, Step) -> Option<()>| {
        if restart_interval == 0 {
            return Some(());
        }
        if todo == 0 {
            if !bits.restart(next_rst) {
                return None;
            }
            next_rst = (next_rst + 1) & 7;
            todo = restart_interval;
            step(bits, Step::Restart)?;
        }
        todo -= 1;
        Some(())
    };
    if scan.comps.len() == 1 {
        let c = &f.comps[scan.comps[0].0];
        for by in 0..c.bh_used {
            for bx in 0..c.bw_used {
                restart(bits, &mut step)?;
                step(bits, Step::Block { i: 0, by, bx })?;
            }
            step(bits, Step::RowDone(by))?;
        }
    } else {
        for my in 0..f.mcuy {
            for mx in 0..f.mcux {
                restart(bits, &mut step)?;
                for (i, &(ci, _, _)) in scan.comps.iter().enumerate() {
                    let c = &f.comps[ci];
                    for v in 0..c.v {
                        for h in 0..c.h {
                            step(
                                bits,
                                Step::Block {
                                    i,
                                    by: my * c.v + v,
                                    bx: mx * c.h + h,
                                },
                            )?;
                        }
                    }
                }
            }
            step(bits, Step::RowDone(my))?;
        }
    }
    Some(())
}

/// Baseline block (`jdhuff.c`, `decode_mcu`): DC difference, then run/size AC codes.
#[inline]
fn sequential_block(
    bits: &mut Bits,
    dc: &Table,
    ac: &Table,
    pred: &mut i32,
    block: &mut [i16; 64],
) -> Option<()> {
    let diff = match dc.fast_value(bits) {
        Some((_, diff)) => i32::from(diff),
        None => {
            let s = u32::from(dc.decode(bits)?);
            if s == 0 {
                0
            } else {
                extend(bits.get(s), s)
            }
        }
    };
    *pred = pred.wrapping_add(diff);
    block[0] = *pred as i16;
    let mut k = 1;
    while k < 64 {
        if let Some((run, value)) = ac.fast_value(bits) {
            k += run;
            if k > 63 {
                return None;
            }
            block[NATURAL[k] & 63] = value;
            k += 1;
            continue;
        }
        let rs = ac.decode(bits)?;
        let (r, s) = (usize::from(rs >> 4), u32::from(rs & 15));
        if s != 0 {
            k += r;
            if k > 63 {
                return None;
            }
            block[NATURAL[k] & 63] = extend(bits.get(s), s) as i16;
            k += 1;
        } else if r == 15 {
            k += 16;
        } else {
            break;
        }
    }
    Some(())
}

#[allow(clippy::too_many_arguments)]
fn decode_sequential_streaming(
    bytes: &[u8],
    pos: usize,
    f: &Frame,
    scan: &Scan,
    restart_interval: usize,
    dc_tables: &[Option<Table>; 4],
    ac_tables: &[Option<Table>; 4],
    o: &mut Output<'_>,
) -> Option<usize> {
    let mut tables = Vec::new();
    for &(_, td, ta) in &scan.comps {
        tables.push((dc_tables.get(td)?.as_ref()?, ac_tables.get(ta)?.as_ref()?));
    }
    // One MCU row of coefficients per component (one block row for a single component).
    let interleaved = scan.comps.len() > 1;
    let mut rows: Vec<Vec<i16>> = scan
        .comps
        .iter()
        .map(|&(ci, _, _)| {
            let c = &f.comps[ci];
            vec![0i16; if interleaved { c.v } else { 1 } * c.bw * 64]
        })
        .collect();
    let mut preds = vec![0i32; scan.comps.len()];
    let mut bits = Bits::new(bytes, pos);
    // Scan component of each frame component.
    let order: Vec<usize> = (0..f.comps.len())
        .map(|ci| scan.comps.iter().position(|s| s.0 == ci).unwrap_or(0))
        .collect();
    o.streamed = true;
    walk(
        &mut bits,
        f,
        scan,
        restart_interval,
        |bits, step| match step {
            Step::Block { i, by, bx } => {
                let c = &f.comps[scan.comps[i].0];
                let local = if interleaved { by % c.v } else { 0 };
                let at = (local * c.bw + bx) * 64;
                let (dc, ac) = tables[i];
                let block = <&mut [i16; 64]>::try_from(&mut rows[i][at..at + 64]).ok()?;
                sequential_block(bits, dc, ac, &mut preds[i], block)
            }
            Step::Restart => {
                preds.iter_mut().for_each(|p| *p = 0);
                Some(())
            }
            Step::RowDone(r) => {
                if interleaved {
                    o.idct_rows(f, r, |ci| &rows[order[ci]][..]);
                } else {
                    o.idct_block_row(f, scan.comps[0].0, r, &rows[0]);
                }
                rows.iter_mut().for_each(|r| r.fill(0));
                Some(())
            }
        },
    )?;
    bits.end()
}

/// One scan into the coefficient buffers (progressive, or sequential with several scans).
#[allow(clippy::too_many_arguments)]
fn decode_scan(
    bytes: &[u8],
    pos: usize,
    f: &Frame,
    scan: &Scan,
    restart_interval: usize,
    dc_tables: &[Option<Table>; 4],
    ac_tables: &[Option<Table>; 4],
    coefs: &mut [Vec<i16>],
) -> Option<usize> {
    let mut bits = Bits::new(bytes, pos);
    let (ss, se, ah, al) = (scan.ss, scan.se, scan.ah, scan.al);
    // Which tables this kind of scan uses.
    let mut dcs = Vec::new();
    let mut acs = Vec::new();
    for &(_, td, ta) in &scan.comps {
        let need_dc = !f.progressive || (ss == 0 && ah == 0);
        let need_ac = !f.progressive || ss > 0;
        dcs.push(if need_dc {
            Some(dc_tables.get(td)?.as_ref()?)
        } else {
            None
        });
        acs.push(if need_ac {
            Some(ac_tables.get(ta)?.as_ref()?)
        } else {
            None
        });
    }
    let progressive = f.progressive;
    let mut preds = vec![0i32; scan.comps.len()];
    let mut eobrun = 0u32;
    walk(&mut bits, f, scan, restart_interval, |bits, step| {
        let Step::Block { i, by, bx } = step else {
            if let Step::Restart = step {
                preds.iter_mut().for_each(|p| *p = 0);
                eobrun = 0;
            }
            return Some(());
        };
        let ci = scan.comps[i].0;
        let at = (by * f.comps[ci].bw + bx) * 64;
        let block = &mut coefs[ci][at..at + 64];
        let pred = &mut preds[i];
        if !progressive {
            sequential_block(bits, dcs[i]?, acs[i]?, pred, block.try_into().ok()?)
        } else if ss == 0 {
            if ah == 0 {
                let s = u32::from(dcs[i]?.decode(bits)?);
                let diff = if s == 0 { 0 } else { extend(bits.get(s), s) };
                *pred = pred.wrapping_add(diff);
                block[0] = pred.wrapping_shl(u32::from(al)) as i16;
            } else if bits.bit() {
                block[0] |= 1 << al;
            }
            Some(())
        } else if ah == 0 {
            ac_first(bits, acs[i]?, block, ss, se, al, &mut eobrun)
        } else {
            ac_refine(bits, acs[i]?, block, ss, se, al, &mut eobrun)
        }
    })?;
    bits.end()
}

/// The length of an end-of-band run coded with `r`: `2^r` plus `r` more bits (T.81 G.1.2.2).
fn eob_run(bits: &mut Bits, r: u32) -> u32 {
    (1u32 << r) + if r > 0 { bits.get(r) } else { 0 }
}

/// Progressive AC first pass (`jdphuff.c`, `decode_mcu_AC_first`).
fn ac_first(
    bits: &mut Bits,
    ac: &Table,
    block: &mut [i16],
    ss: usize,
    se: usize,
    al: u8,
    eobrun: &mut u32,
) -> Option<()> {
    if *eobrun > 0 {
        *eobrun -= 1;
        return Some(());
    }
    let mut k = ss;
    while k <= se {
        let rs = ac.decode(bits)?;
        let (r, s) = (u32::from(rs >> 4), u32::from(rs & 15));
        if s != 0 {
            k += r as usize;
            if k > se {
                return None;
            }
            let v = extend(bits.get(s), s);
            block[NATURAL[k]] = v.wrapping_shl(u32::from(al)) as i16;
        } else if r == 15 {
            k += 15;
        } else {
            *eobrun = eob_run(bits, r) - 1;
            break;
        }
        k += 1;
    }
    Some(())
}

/// Progressive AC refinement (`jdphuff.c`, `decode_mcu_AC_refine`): new coefficients of
/// magnitude 1 << al, and one correction bit for each already nonzero one passed over.
fn ac_refine(
    bits: &mut Bits,
    ac: &Table,
    block: &mut [i16],
    ss: usize,
    se: usize,
    al: u8,
    eobrun: &mut u32,
) -> Option<()> {
    let p1: i16 = 1 << al;
    let m1: i16 = -1i16 << al;
    let refine = |bits: &mut Bits, coef: &mut i16| {
        if bits.bit() && (*coef & p1) == 0 {
            *coef = if *coef >= 0 {
                coef.wrapping_add(p1)
            } else {
                coef.wrapping_add(m1)
            };
        }
    };
    let mut k = ss;
    if *eobrun == 0 {
        while k <= se {
            let rs = ac.decode(bits)?;
            let (mut r, s) = (i32::from(rs >> 4), rs & 15);
            let mut value = 0i16;
            if s != 0 {
                if s != 1 {
                    return None;
                }
                value = if bits.bit() { p1 } else { m1 };
            } else if r != 15 {
                *eobrun = eob_run(bits, r as u32);
                break;
            }
            while k <= se {
                let coef = &mut block[NATURAL[k]];
                if *coef != 0 {
                    refine(bits, coef);
                } else {
                    r -= 1;
                    if r < 0 {
                        break;
                    }
                }
                k += 1;
            }
            if value != 0 {
                if k > se {
                    return None;
                }
                block[NATURAL[k]] = value;
            }
            k += 1;
        }
    }
    if *eobrun > 0 {
        while k <= se {
            let coef = &mut block[NATURAL[k]];
            if *coef != 0 {
                refine(bits, coef);
            }
            k += 1;
        }
        *eobrun -= 1;
    }
    Some(())
}
