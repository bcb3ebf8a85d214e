//! Where a decoder's rows go: a decoder emits rows top to bottom into a [`RowSink`] and knows
//! nothing of what reads them. The pipeline plugs in what its hashes need: [`Pixels`] keeps
//! the image, [`Grey`] keeps only Pillow's grey image of it (the imagehash family), [`Pdq`]
//! feeds PDQ's streaming blur (no image kept), and [`Tee`] gives every row to two sinks.
//!
//! Rows are lent, not allocated: a sink hands out the memory for the next row
//! ([`RowSink::row_mut`]), the decoder writes it there, and one call per row (not per pixel)
//! goes through the trait object.

use crate::imagehash::grey::{grey_of, grey_row_rgb};
use crate::pdq::fast::PdqRows;
use crate::pdq::{PdqDihedralOutput, PdqOutput};
use crate::pixels::PixelFormat;

/// The rows a sink reads of a colour image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RowKind {
    /// The decoded pixels ([`RowSink::row_mut`] then [`RowSink::row_written`]).
    Decoded,
    /// Pillow's grey of the decoded pixels (`Image.convert("L")`): the decoder may make the
    /// grey of a row's first pixels straight from its samples and hand the rest as RGB
    /// ([`RowSink::row_mut`] then [`RowSink::grey_written`]).
    Grey,
}

/// A consumer of decoded rows. [`RowSink::begin`] comes first, then one row at a time, top to
/// bottom, either written in place ([`RowSink::row_mut`]) or handed over ([`RowSink::push`]).
pub(crate) trait RowSink {
    /// The rows this sink reads of a colour image (a grey image's rows are always pushed).
    fn kind(&self) -> RowKind {
        RowKind::Decoded
    }

    /// The bytes this sink will keep for `width` x `height` pixels of `format`, for the
    /// decoder's allocation budget.
    fn memory(&self, width: usize, height: usize, format: PixelFormat) -> u64;

    /// The image's size and the layout of the rows to come.
    fn begin(&mut self, width: usize, height: usize, format: PixelFormat);

    /// The memory for the next row: `width` pixels of the format given to
    /// [`RowSink::begin`], or `width` grey bytes for a [`RowKind::Grey`] sink.
    fn row_mut(&mut self) -> &mut [u8];

    /// The row lent by [`RowSink::row_mut`] is written.
    fn row_written(&mut self);

    /// [`RowKind::Grey`] only: the row lent by [`RowSink::row_mut`] holds the grey of its first
    /// `done` pixels; `rgb_rest` holds the other pixels as RGB.
    fn grey_written(&mut self, done: usize, rgb_rest: &[u8]) {
        let _ = (done, rgb_rest);
        self.row_written();
    }

    /// The next row, made elsewhere.
    fn push(&mut self, row: &[u8]) {
        self.row_mut().copy_from_slice(row);
        self.row_written();
    }
}

/// Keeps the pixels, rows packed.
#[derive(Debug, Default)]
pub(crate) struct Pixels {
    data: Vec<u8>,
    row_len: usize,
    format: Option<PixelFormat>,
}

impl Pixels {
    /// The pixels and their layout, once the rows are in (`None` before [`RowSink::begin`]).
    pub(crate) fn into_parts(self) -> Option<(Vec<u8>, PixelFormat)> {
        Some((self.data, self.format?))
    }
}

impl RowSink for Pixels {
    fn memory(&self, width: usize, height: usize, format: PixelFormat) -> u64 {
        width as u64 * height as u64 * format.bytes_per_pixel() as u64
    }

    fn begin(&mut self, width: usize, height: usize, format: PixelFormat) {
        self.row_len = width * format.bytes_per_pixel();
        self.format = Some(format);
        self.data = Vec::with_capacity(self.row_len * height);
    }

    fn row_mut(&mut self) -> &mut [u8] {
        // Rows come in order: the buffer grows by one row, which is then written.
        let at = self.data.len();
        self.data.resize(at + self.row_len, 0);
        &mut self.data[at..]
    }

    fn row_written(&mut self) {}

    fn push(&mut self, row: &[u8]) {
        self.data.extend_from_slice(&row[..self.row_len]);
    }
}

/// Keeps Pillow's grey image of the rows (`Image.convert("L")`), one byte per pixel.
#[derive(Debug, Default)]
pub(crate) struct Grey {
    data: Vec<u8>,
    width: usize,
    format: Option<PixelFormat>,
}

impl Grey {
    /// The grey image, once the rows are in.
    pub(crate) fn into_grey(self) -> Vec<u8> {
        self.data
    }

    /// Room for the next grey row.
    fn grow(&mut self) -> &mut [u8] {
        let at = self.data.len();
        self.data.resize(at + self.width, 0);
        &mut self.data[at..]
    }
}

impl RowSink for Grey {
    fn kind(&self) -> RowKind {
        RowKind::Grey
    }

    fn memory(&self, width: usize, height: usize, _: PixelFormat) -> u64 {
        width as u64 * height as u64
    }

    fn begin(&mut self, width: usize, height: usize, format: PixelFormat) {
        self.width = width;
        self.format = Some(format);
        self.data = Vec::with_capacity(width * height);
    }

    fn row_mut(&mut self) -> &mut [u8] {
        self.grow()
    }

    fn row_written(&mut self) {}

    fn grey_written(&mut self, done: usize, rgb_rest: &[u8]) {
        let at = self.data.len() - self.width;
        grey_row_rgb(rgb_rest, &mut self.data[at + done..]);
    }

    fn push(&mut self, row: &[u8]) {
        let format = self.format;
        let out = self.grow();
        match format {
            Some(PixelFormat::Rgb8) => grey_row_rgb(row, out),
            Some(PixelFormat::Rgba8) => {
                for (o, p) in out.iter_mut().zip(row.chunks_exact(4)) {
                    *o = grey_of(p[0], p[1], p[2]);
                }
            }
            _ => out.copy_from_slice(&row[..out.len()]),
        }
    }
}

/// PDQ (plain, dihedral or both) from the rows as they come, through the streaming blur; no
/// image is kept.
pub(crate) struct Pdq {
    plain: bool,
    dihedral: bool,
    rows: Option<PdqRows>,
    row: Vec<u8>,
}

/// The PDQ outputs a [`Pdq`] sink was asked for.
pub(crate) struct PdqDone {
    pub plain: Option<PdqOutput>,
    pub dihedral: Option<PdqDihedralOutput>,
}

impl Pdq {
    pub(crate) fn new(plain: bool, dihedral: bool) -> Self {
        Pdq {
            plain,
            dihedral,
            rows: None,
            row: Vec::new(),
        }
    }

    /// The outputs, once every row is in (`None` before [`RowSink::begin`]).
    pub(crate) fn finish(self) -> Option<PdqDone> {
        let (plain, dihedral) = self.rows?.finish();
        Some(PdqDone { plain, dihedral })
    }
}

impl RowSink for Pdq {
    fn memory(&self, _: usize, _: usize, _: PixelFormat) -> u64 {
        0
    }

    fn begin(&mut self, width: usize, height: usize, format: PixelFormat) {
        self.rows = Some(PdqRows::new(
            width,
            height,
            format,
            self.plain,
            self.dihedral,
        ));
        self.row = vec![0; width * format.bytes_per_pixel()];
    }

    fn row_mut(&mut self) -> &mut [u8] {
        &mut self.row
    }

    fn row_written(&mut self) {
        if let Some(rows) = &mut self.rows {
            rows.push_row(&self.row);
        }
    }

    fn push(&mut self, row: &[u8]) {
        if let Some(rows) = &mut self.rows {
            rows.push_row(row);
        }
    }
}

/// Every row to both sinks (decoded rows, not grey ones: both read the same row).
pub(crate) struct Tee<A, B> {
    pub first: A,
    pub second: B,
    row: Vec<u8>,
}

impl<A: RowSink, B: RowSink> Tee<A, B> {
    pub(crate) fn new(first: A, second: B) -> Self {
        Tee {
            first,
            second,
            row: Vec::new(),
        }
    }
}

impl<A: RowSink, B: RowSink> RowSink for Tee<A, B> {
    fn memory(&self, width: usize, height: usize, format: PixelFormat) -> u64 {
        self.first.memory(width, height, format) + self.second.memory(width, height, format)
    }

    fn begin(&mut self, width: usize, height: usize, format: PixelFormat) {
        self.first.begin(width, height, format);
        self.second.begin(width, height, format);
        self.row = vec![0; width * format.bytes_per_pixel()];
    }

    fn row_mut(&mut self) -> &mut [u8] {
        &mut self.row
    }

    fn row_written(&mut self) {
        self.first.push(&self.row);
        self.second.push(&self.row);
    }

    fn push(&mut self, row: &[u8]) {
        self.first.push(row);
        self.second.push(row);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imagehash::grey::to_grey;
    use crate::pdq::{pdq_dihedral, pdq_hash};
    use crate::pixels::PixelView;

    fn random(len: usize, seed: &mut u32) -> Vec<u8> {
        (0..len)
            .map(|_| {
                *seed ^= *seed << 13;
                *seed ^= *seed >> 17;
                *seed ^= *seed << 5;
                (*seed >> 24) as u8
            })
            .collect()
    }

    /// Rows written in place, pushed, or (grey) half made by the decoder: each sink gives what
    /// the whole-image functions give.
    #[test]
    fn sinks_fed_rows_equal_the_whole_image_functions() {
        let mut seed = 0x2545_f491_u32;
        for (w, h) in [(1, 1), (4, 9), (64, 64), (37, 70)] {
            for format in [PixelFormat::Rgb8, PixelFormat::Gray8, PixelFormat::Rgba8] {
                let bpp = format.bytes_per_pixel();
                let pixels = random(w * h * bpp, &mut seed);
                let view = PixelView::packed(&pixels, w as u32, h as u32, format).unwrap();
                let rows = || pixels.chunks_exact(w * bpp);

                let mut both = Tee::new(Pdq::new(true, true), Grey::default());
                let mut kept = Pixels::default();
                both.begin(w, h, format);
                kept.begin(w, h, format);
                for (y, row) in rows().enumerate() {
                    if y % 2 == 0 {
                        both.row_mut().copy_from_slice(row);
                        both.row_written();
                        kept.row_mut().copy_from_slice(row);
                        kept.row_written();
                    } else {
                        both.push(row);
                        kept.push(row);
                    }
                }
                let what = format!("{w}x{h} {format:?}");
                assert_eq!(kept.into_parts(), Some((pixels.clone(), format)), "{what}");
                assert_eq!(both.second.into_grey(), to_grey(&view).data, "{what}");
                let done = both.first.finish().unwrap();
                assert_eq!(done.plain, Some(pdq_hash(&view)), "{what}");
                assert_eq!(done.dihedral, Some(pdq_dihedral(&view)), "{what}");

                if format == PixelFormat::Rgb8 {
                    // A grey sink's row: the first pixels' grey from the decoder, the rest
                    // from RGB.
                    let mut grey = Grey::default();
                    grey.begin(w, h, format);
                    for row in rows() {
                        let done = w / 2;
                        let out = grey.row_mut();
                        for (o, p) in out[..done].iter_mut().zip(row.chunks_exact(3)) {
                            *o = grey_of(p[0], p[1], p[2]);
                        }
                        grey.grey_written(done, &row[3 * done..]);
                    }
                    assert_eq!(grey.into_grey(), to_grey(&view).data, "{what}");
                }
            }
        }
    }
}
