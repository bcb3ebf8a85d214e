//! The streaming PDQ pipeline: pixels to the 64x64 buffer in one pass over the rows, with
//! working memory O(width x window) instead of the scalar path's two full-size f32 planes.
//!
//! Input: a [`PixelView`]. Output: the same [`Buffer64x64`] as [`super::scalar::downsample`],
//! bit for bit, hence the same hashes. The scalar path stays public as the oracle; the tests
//! demand equality on every conformance vector and on random images of random sizes.
//!
//! Each input row goes through the stages of `jaroszFilterFloat`
//! (pdq/cpp/downscaling/downscaling.cpp) as soon as it is read:
//! luma → row box (pass 1) → column box (pass 1) → row box (pass 2) → column box (pass 2)
//! → decimation. A column box keeps one running f32 sum per column and the last `window`
//! input rows in a ring; per column the operations are those of `box1DFloat` in the same
//! order (`sum += in[right]; sum -= in[left]; out = sum / count`), so the result is
//! identical. The loops run across independent columns, so they vectorise (SSE2 natively,
//! simd128 in wasm) without reordering any sum. The row box is the reference's sequential
//! running sum; only one row is kept per stage. Pass 2 keeps only the 64 sampled columns
//! after its row box: a column box's columns are independent, and decimation reads no other.

use super::decimate::sample_index;
use super::jarosz::jarosz_window_size;
use super::Preparation;
use super::{bits, dct, quality, Buffer64x64, Dihedral, PdqDihedralOutput, PdqOutput};
use crate::pixels::{PixelFormat, PixelView};

/// `weight * v` for every byte `v`, each product rounded to f32 as the reference rounds it.
const fn products(weight: f32) -> [f32; 256] {
    let mut table = [0.0f32; 256];
    let mut v = 0;
    while v < 256 {
        table[v] = weight * v as f32;
        v += 1;
    }
    table
}

/// The reference's three luma products for every byte value. A pixel's luma is then
/// `(R[r] + G[g]) + B[b]`: the same three f32 products and the same two f32 sums in the same
/// order as [`super::luma::luma_of`], three loads instead of three conversions and multiplications, with no
/// byte shuffling (x86-64's baseline SSE2 has no byte shuffle). A test compares the two on
/// all 2^24 pixels.
static LUMA_PRODUCTS: [[f32; 256]; 3] = [
    products(super::luma::LUMA_FROM_R),
    products(super::luma::LUMA_FROM_G),
    products(super::luma::LUMA_FROM_B),
];

#[inline(always)]
#[cfg_attr(
    all(target_arch = "wasm32", target_feature = "simd128"),
    allow(dead_code)
)]
fn luma_from_products(p: &[u8]) -> f32 {
    let [r, g, b] = &LUMA_PRODUCTS;
    r[usize::from(p[0])] + g[usize::from(p[1])] + b[usize::from(p[2])]
}

/// Writes the luma of one row of pixels (reference `fillFloatLumaFromRGB`, same operations):
/// RGB on simd128 vectors in wasm, elsewhere from the products table; RGBA as written.
fn luma_row(pixels: &[u8], format: PixelFormat, out: &mut [f32]) {
    match format {
        PixelFormat::Gray8 => {
            for (o, &v) in out.iter_mut().zip(pixels) {
                *o = f32::from(v);
            }
        }
        PixelFormat::Rgb8 => {
            // Vector luma where the build has it (wasm simd128); this loop does the rest.
            let done = crate::arch::luma_rgb16(
                pixels,
                out,
                [
                    super::luma::LUMA_FROM_R,
                    super::luma::LUMA_FROM_G,
                    super::luma::LUMA_FROM_B,
                ],
            );
            for (o, p) in out[done..]
                .iter_mut()
                .zip(pixels[3 * done..].chunks_exact(3))
            {
                // The wasm module does the few pixels left after its vectors without the
                // table, which would only add to its size.
                #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
                let luma = super::luma::luma_of(p[0], p[1], p[2]);
                #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
                let luma = luma_from_products(p);
                *o = luma;
            }
        }
        PixelFormat::Rgba8 => {
            // Whole words per pixel: this loop vectorises as it is.
            for (o, p) in out.iter_mut().zip(pixels.chunks_exact(4)) {
                *o = super::luma::luma_of(p[0], p[1], p[2]);
            }
        }
    }
}

/// Rows filtered side by side: `LANES` rows interleaved, value `i` of row `k` at `[i][k]`.
/// Each row keeps its own running sum in its own lane, so the lanes' operations are exactly
/// those of one row alone, and the inner loops over a [`Lanes`] vectorise (SSE2/AVX natively,
/// simd128 in wasm) without reordering any sum. Sixteen lanes are four SSE or simd128 vectors:
/// four independent dependency chains, so the adders stay busy despite the sums' latency.
const LANES: usize = 16;
type Lanes = [f32; LANES];

/// The box filter along `LANES` interleaved rows (`box1DFloat` with stride 1 on each), the
/// same four phases and operation order as [`super::jarosz::box_1d`].
/// `window` must be in `1..=input.len()`.
fn box_lanes(input: &[Lanes], output: &mut [Lanes], window: usize) {
    let length = input.len();
    debug_assert!(window >= 1 && window <= length && output.len() == length);
    let half = (window + 2) / 2;
    let phase1 = half - 1;
    let phase2 = window - half + 1;
    let mut sums = [0.0f32; LANES];
    // Phase 1: accumulate the first half window without writing.
    for v in &input[..phase1] {
        for k in 0..LANES {
            sums[k] += v[k];
        }
    }
    // Phase 2: growing window; the count includes phase 1's values.
    let mut count = phase1 as u32;
    for (o, v) in output[..phase2].iter_mut().zip(&input[phase1..window]) {
        count += 1;
        let c = count as f32;
        for k in 0..LANES {
            sums[k] += v[k];
            o[k] = sums[k] / c;
        }
    }
    // Phase 3: the full window slides; input[i] enters as input[i - window] leaves.
    let full = count as f32;
    for ((o, right), left) in output[phase2..phase2 + (length - window)]
        .iter_mut()
        .zip(&input[window..])
        .zip(&input[..length - window])
    {
        for k in 0..LANES {
            sums[k] += right[k];
            sums[k] -= left[k];
            o[k] = sums[k] / full;
        }
    }
    // Phase 4: shrinking window.
    for (o, left) in output[length - phase1..]
        .iter_mut()
        .zip(&input[length - window..length - window + phase1])
    {
        count -= 1;
        let c = count as f32;
        for k in 0..LANES {
            sums[k] -= left[k];
            o[k] = sums[k] / c;
        }
    }
}

/// Writes the outputs wanted at output index `o` (`samples` ascending; small images sample an
/// index more than once): `sums / count`, as [`box_lanes`] would write at `o`.
#[inline(always)]
fn emit_sampled(
    o: usize,
    count: f32,
    sums: &Lanes,
    samples: &[usize; 64],
    next: &mut usize,
    out: &mut [Lanes; 64],
) {
    while *next < 64 && samples[*next] == o {
        for k in 0..LANES {
            out[*next][k] = sums[k] / count;
        }
        *next += 1;
    }
}

/// [`box_lanes`] when only the outputs at `samples` are read (pass 2, whose decimation keeps 64
/// columns): the same running sums in the same order, divided only where an output is kept.
/// `out[s]` is output `samples[s]`.
fn box_lanes_sampled(input: &[Lanes], window: usize, samples: &[usize; 64], out: &mut [Lanes; 64]) {
    let length = input.len();
    debug_assert!(window >= 1 && window <= length);
    let half = (window + 2) / 2;
    let phase1 = half - 1;
    let phase2 = window - half + 1;
    let mut sums = [0.0f32; LANES];
    let mut next = 0;
    for v in &input[..phase1] {
        for k in 0..LANES {
            sums[k] += v[k];
        }
    }
    let mut count = phase1 as u32;
    for (o, v) in input[phase1..window].iter().enumerate() {
        count += 1;
        for k in 0..LANES {
            sums[k] += v[k];
        }
        emit_sampled(o, count as f32, &sums, samples, &mut next, out);
    }
    let full = count as f32;
    for (i, (right, left)) in input[window..]
        .iter()
        .zip(&input[..length - window])
        .enumerate()
    {
        for k in 0..LANES {
            sums[k] += right[k];
            sums[k] -= left[k];
        }
        emit_sampled(phase2 + i, full, &sums, samples, &mut next, out);
    }
    for (i, left) in input[length - window..length - window + phase1]
        .iter()
        .enumerate()
    {
        count -= 1;
        for k in 0..LANES {
            sums[k] -= left[k];
        }
        emit_sampled(
            length - phase1 + i,
            count as f32,
            &sums,
            samples,
            &mut next,
            out,
        );
    }
}

/// Interleaves the first `n` of the rows held back to back in `rows` (each `lanes.len()` long)
/// into `lanes`; the other lanes keep what they held (their results are never read).
fn to_lanes(rows: &[f32], n: usize, lanes: &mut [Lanes]) {
    let cols = lanes.len();
    if n == LANES {
        // Whole batches in 4x4 blocks: four contiguous loads, four contiguous stores.
        let rows: [&[f32]; LANES] = std::array::from_fn(|k| &rows[k * cols..][..cols]);
        let main = cols / 4 * 4;
        for (i, block) in (0..main).step_by(4).zip(lanes.chunks_exact_mut(4)) {
            for kb in (0..LANES).step_by(4) {
                let b: [[f32; 4]; 4] =
                    std::array::from_fn(|r| rows[kb + r][i..i + 4].try_into().unwrap());
                for (c, l) in block.iter_mut().enumerate() {
                    l[kb..kb + 4].copy_from_slice(&[b[0][c], b[1][c], b[2][c], b[3][c]]);
                }
            }
        }
        for (i, l) in lanes.iter_mut().enumerate().skip(main) {
            for (k, row) in rows.iter().enumerate() {
                l[k] = row[i];
            }
        }
        return;
    }
    for (i, l) in lanes.iter_mut().enumerate() {
        for k in 0..n {
            l[k] = rows[k * cols + i];
        }
    }
}

/// The inverse of [`to_lanes`] for the first `n` lanes.
fn from_lanes(lanes: &[Lanes], n: usize, rows: &mut [f32]) {
    let cols = lanes.len();
    if n == LANES {
        let mut rows: Vec<&mut [f32]> = rows[..cols * LANES].chunks_exact_mut(cols).collect();
        let main = cols / 4 * 4;
        for (i, block) in (0..main).step_by(4).zip(lanes.chunks_exact(4)) {
            for kb in (0..LANES).step_by(4) {
                let b: [[f32; 4]; 4] =
                    std::array::from_fn(|c| block[c][kb..kb + 4].try_into().unwrap());
                for (r, row) in rows[kb..kb + 4].iter_mut().enumerate() {
                    row[i..i + 4].copy_from_slice(&[b[0][r], b[1][r], b[2][r], b[3][r]]);
                }
            }
        }
        for (i, l) in lanes.iter().enumerate().skip(main) {
            for (k, row) in rows.iter_mut().enumerate() {
                row[i] = l[k];
            }
        }
        return;
    }
    for (i, l) in lanes.iter().enumerate() {
        for k in 0..n {
            rows[k * cols + i] = l[k];
        }
    }
}

/// The box filter along every column of a plane that arrives one row at a time
/// (`boxAlongColsFloat`, each column's operations in the reference's order).
struct ColumnBox {
    width: usize,
    length: usize,
    window: usize,
    /// `half - 1` in `box1DFloat`: rows read before the first output.
    lead: usize,
    sums: Vec<f32>,
    /// The last `window` input rows; row `r` lives in slot `r % window`.
    ring: Vec<f32>,
    pushed: usize,
    emitted: usize,
}

impl ColumnBox {
    fn new(width: usize, length: usize, window: usize) -> Self {
        debug_assert!(window >= 1 && window <= length);
        ColumnBox {
            width,
            length,
            window,
            lead: (window + 2) / 2 - 1,
            sums: vec![0.0; width],
            ring: vec![0.0; width * window],
            pushed: 0,
            emitted: 0,
        }
    }

    /// Takes input row `pushed`; returns the index of the output row written to `out`, if
    /// this row completes one.
    fn push(&mut self, row: &[f32], out: &mut [f32]) -> Option<usize> {
        let r = self.pushed;
        debug_assert!(r < self.length);
        self.pushed += 1;
        let width = self.width;
        let slot = &mut self.ring[(r % self.window) * width..][..width];
        let (row, out) = (&row[..width], &mut out[..width]);
        if r < self.lead {
            // Phase 1.
            for ((s, &v), keep) in self.sums.iter_mut().zip(row).zip(slot.iter_mut()) {
                *s += v;
                *keep = v;
            }
            return None;
        }
        if r < self.window {
            // Phase 2: the count is the number of rows read so far.
            let count = (r + 1) as f32;
            for (((s, &v), keep), o) in self
                .sums
                .iter_mut()
                .zip(row)
                .zip(slot.iter_mut())
                .zip(out.iter_mut())
            {
                *s += v;
                *keep = v;
                *o = *s / count;
            }
        } else {
            // Phase 3: row r enters as row r - window (the slot's content) leaves.
            let count = self.window as f32;
            for (((s, &v), keep), o) in self
                .sums
                .iter_mut()
                .zip(row)
                .zip(slot.iter_mut())
                .zip(out.iter_mut())
            {
                *s += v;
                *s -= *keep;
                *keep = v;
                *o = *s / count;
            }
        }
        self.emitted += 1;
        Some(self.emitted - 1)
    }

    /// After all `length` rows are pushed: writes the next phase-4 output row, if any.
    fn drain(&mut self, out: &mut [f32]) -> Option<usize> {
        debug_assert_eq!(self.pushed, self.length);
        if self.emitted == self.length {
            return None;
        }
        let k = self.emitted - (self.length - self.lead);
        let left = self.length - self.window + k;
        let count = (self.window - 1 - k) as f32;
        let width = self.width;
        let slot = &self.ring[(left % self.window) * width..][..width];
        for ((s, &v), o) in self.sums.iter_mut().zip(slot).zip(out[..width].iter_mut()) {
            *s -= v;
            *o = *s / count;
        }
        self.emitted += 1;
        Some(self.emitted - 1)
    }
}

/// Pass 2's column box, decimation and the 64x64 output.
struct Pass2 {
    columns: ColumnBox,
    sample_cols: [usize; 64],
    sample_rows: [usize; 64],
    picked: Vec<f32>,
    out_row: Vec<f32>,
    next_row: usize,
    buffer: Buffer64x64,
}

impl Pass2 {
    /// Takes row `k` of pass 2's row box (interleaved); keeps the sampled columns.
    fn push(&mut self, sampled: &[Lanes; 64], k: usize) {
        for (p, l) in self.picked.iter_mut().zip(sampled) {
            *p = l[k];
        }
        if let Some(o) = self.columns.push(&self.picked, &mut self.out_row) {
            self.sample(o);
        }
    }

    fn sample(&mut self, o: usize) {
        // Small images sample the same row more than once.
        while self.next_row < 64 && self.sample_rows[self.next_row] == o {
            self.buffer.0[self.next_row].copy_from_slice(&self.out_row);
            self.next_row += 1;
        }
    }

    fn finish(mut self) -> Buffer64x64 {
        while let Some(o) = self.columns.drain(&mut self.out_row) {
            self.sample(o);
        }
        debug_assert_eq!(self.next_row, 64);
        self.buffer
    }
}

/// Blur and decimate an image to 64x64, equal bit for bit to
/// `scalar::downsample(luma_plane(view))`. Needs at least one pixel on a side.
pub fn downsample(view: &PixelView<'_>) -> Buffer64x64 {
    let mut d = Downsampler::new(view.width() as usize, view.height() as usize);
    for y in 0..view.height() as usize {
        d.push_row(view.row(y), view.format());
    }
    d.finish()
}

/// [`downsample`] fed one row of pixels at a time, top to bottom (a decoder's output rows,
/// while they are in cache): the same operations in the same order.
pub(crate) struct Downsampler {
    cols: usize,
    window_along_rows: usize,
    /// Luma rows waiting for a batch of LANES, then pass 1's row box output.
    rows_buf: Vec<f32>,
    pending: usize,
    lanes_in: Vec<Lanes>,
    lanes_out: Vec<Lanes>,
    col_rows: Vec<f32>,
    pass1: ColumnBox,
    pass2: Pass2,
}

impl Downsampler {
    /// For an image of `cols` x `rows` pixels, both at least 1.
    pub(crate) fn new(cols: usize, rows: usize) -> Downsampler {
        let window_along_cols = jarosz_window_size(rows, 64);
        // Rows travel in batches of LANES: luma rows, interleaved for pass 1's row box, back
        // to rows for pass 1's column box, whose output rows are interleaved for pass 2's
        // row box.
        Downsampler {
            cols,
            window_along_rows: jarosz_window_size(cols, 64),
            rows_buf: vec![0.0f32; cols * LANES],
            pending: 0,
            lanes_in: vec![[0.0f32; LANES]; cols],
            lanes_out: vec![[0.0f32; LANES]; cols],
            col_rows: vec![0.0f32; cols * LANES],
            pass1: ColumnBox::new(cols, rows, window_along_cols),
            pass2: Pass2 {
                columns: ColumnBox::new(64, rows, window_along_cols),
                sample_cols: std::array::from_fn(|j| sample_index(j, cols, 64)),
                sample_rows: std::array::from_fn(|i| sample_index(i, rows, 64)),
                picked: vec![0.0; 64],
                out_row: vec![0.0; 64],
                next_row: 0,
                buffer: Buffer64x64::zero(),
            },
        }
    }

    /// The next row of pixels (`cols` pixels of `format`).
    pub(crate) fn push_row(&mut self, pixels: &[u8], format: PixelFormat) {
        let cols = self.cols;
        let k = self.pending;
        luma_row(pixels, format, &mut self.rows_buf[k * cols..(k + 1) * cols]);
        self.pending += 1;
        if self.pending == LANES {
            self.batch();
        }
    }

    /// Pass 1 on the pending rows, then pass 2's row box on what pass 1's column box gives.
    fn batch(&mut self) {
        let (n, cols) = (self.pending, self.cols);
        self.pending = 0;
        to_lanes(&self.rows_buf, n, &mut self.lanes_in);
        box_lanes(&self.lanes_in, &mut self.lanes_out, self.window_along_rows);
        from_lanes(&self.lanes_out, n, &mut self.rows_buf);
        let mut produced = 0;
        for k in 0..n {
            let out = &mut self.col_rows[produced * cols..(produced + 1) * cols];
            if self
                .pass1
                .push(&self.rows_buf[k * cols..(k + 1) * cols], out)
                .is_some()
            {
                produced += 1;
            }
        }
        self.pass2_rows(produced);
    }

    /// Pass 2's row box on the first `n` rows of `col_rows`, then on to pass 2's column box.
    fn pass2_rows(&mut self, n: usize) {
        to_lanes(&self.col_rows, n, &mut self.lanes_in);
        let mut sampled = [[0.0f32; LANES]; 64];
        box_lanes_sampled(
            &self.lanes_in,
            self.window_along_rows,
            &self.pass2.sample_cols,
            &mut sampled,
        );
        for k in 0..n {
            self.pass2.push(&sampled, k);
        }
    }

    /// The 64x64 buffer, once every row was pushed.
    pub(crate) fn finish(mut self) -> Buffer64x64 {
        if self.pending > 0 {
            self.batch();
        }
        let cols = self.cols;
        loop {
            let mut produced = 0;
            while produced < LANES {
                let out = &mut self.col_rows[produced * cols..(produced + 1) * cols];
                if self.pass1.drain(out).is_none() {
                    break;
                }
                produced += 1;
            }
            if produced == 0 {
                break;
            }
            self.pass2_rows(produced);
        }
        self.pass2.finish()
    }
}

/// PDQ (plain, dihedral or both) of an image fed a row at a time, as [`pdq_hash`] and
/// [`pdq_dihedral`] compute it from the whole image: one shared blur, the reference's 64x64
/// and too-small cases included.
pub(crate) struct PdqRows {
    format: PixelFormat,
    plain: bool,
    dihedral: bool,
    /// A 64x64 image's luma, which the plain hash takes unblurred.
    direct: Option<Box<Buffer64x64>>,
    blur: Option<Downsampler>,
    y: usize,
}

impl PdqRows {
    /// For `cols` x `rows` pixels of `format`, both at least 1.
    pub(crate) fn new(
        cols: usize,
        rows: usize,
        format: PixelFormat,
        plain: bool,
        dihedral: bool,
    ) -> PdqRows {
        let plain_prep = plain.then(|| Preparation::plain(cols, rows));
        let dihedral_prep = dihedral.then(|| Preparation::dihedral(cols, rows));
        let blurs = [plain_prep, dihedral_prep].contains(&Some(Preparation::Blur));
        PdqRows {
            format,
            plain,
            dihedral,
            direct: (plain_prep == Some(Preparation::Copy)).then(|| Box::new(Buffer64x64::zero())),
            blur: blurs.then(|| Downsampler::new(cols, rows)),
            y: 0,
        }
    }

    /// The next row of pixels.
    pub(crate) fn push_row(&mut self, pixels: &[u8]) {
        if let Some(b) = &mut self.direct {
            if let Some(row) = b.0.get_mut(self.y) {
                luma_row(pixels, self.format, row);
            }
        }
        if let Some(d) = &mut self.blur {
            d.push_row(pixels, self.format);
        }
        self.y += 1;
    }

    /// The requested outputs, once every row was pushed.
    pub(crate) fn finish(self) -> (Option<PdqOutput>, Option<PdqDihedralOutput>) {
        let blurred = self.blur.map(Downsampler::finish);
        let plain = self.plain.then(|| match (&self.direct, &blurred) {
            (Some(b), _) => plain_output(b),
            (None, Some(b)) => plain_output(b),
            (None, None) => PdqOutput::TOO_SMALL,
        });
        let dihedral = self.dihedral.then(|| match &blurred {
            Some(b) => dihedral_output(b),
            None => PdqDihedralOutput::TOO_SMALL,
        });
        (plain, dihedral)
    }
}

fn plain_output(buffer: &Buffer64x64) -> PdqOutput {
    let quality = quality::quality(buffer);
    let dct = dct::dct_64_to_16(buffer);
    PdqOutput {
        hash: bits::dct_to_hash(&dct),
        quality,
    }
}

fn dihedral_output(buffer: &Buffer64x64) -> PdqDihedralOutput {
    let quality = quality::quality(buffer);
    let dct = dct::dct_64_to_16(buffer);
    let hashes = Dihedral::ALL.map(|d| bits::dct_to_hash(&d.apply(&dct)));
    PdqDihedralOutput { hashes, quality }
}

/// PDQ hash and quality of an image (reference `pdqHash256FromFloatLuma` semantics).
pub fn pdq_hash(view: &PixelView<'_>) -> PdqOutput {
    let (width, height) = (view.width() as usize, view.height() as usize);
    let buffer = match Preparation::plain(width, height) {
        Preparation::TooSmall => return PdqOutput::TOO_SMALL,
        Preparation::Copy => {
            let mut b = Buffer64x64::zero();
            for (y, row) in b.0.iter_mut().enumerate() {
                luma_row(view.row(y), view.format(), row);
            }
            b
        }
        Preparation::Blur => downsample(view),
    };
    plain_output(&buffer)
}

/// The eight dihedral PDQ hashes and quality (`pdqDihedralHash256esFromFloatLuma`; a 64x64
/// input is blurred here, as in the reference).
pub fn pdq_dihedral(view: &PixelView<'_>) -> PdqDihedralOutput {
    let (width, height) = (view.width() as usize, view.height() as usize);
    if Preparation::dihedral(width, height) == Preparation::TooSmall {
        return PdqDihedralOutput::TOO_SMALL;
    }
    dihedral_output(&downsample(view))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pdq::jarosz::box_1d;
    use crate::pdq::luma::luma_of;

    #[test]
    fn box_lanes_equals_box_1d_on_each_lane() {
        for length in 1..70 {
            let rows: Vec<f32> = (0..length * LANES)
                .map(|i| ((i * 29) % 13) as f32 * 0.37)
                .collect();
            let mut lanes = vec![[0.0; LANES]; length];
            to_lanes(&rows, LANES, &mut lanes);
            for window in 1..=length {
                let mut want = vec![0.0; rows.len()];
                for k in 0..LANES {
                    let r = k * length..(k + 1) * length;
                    box_1d(&rows[r.clone()], &mut want[r], length, 1, window);
                }
                let mut out = vec![[f32::NAN; LANES]; length];
                box_lanes(&lanes, &mut out, window);
                let mut got = vec![f32::NAN; rows.len()];
                from_lanes(&out, LANES, &mut got);
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&got), bits(&want), "length {length} window {window}");
            }
        }
    }

    #[test]
    fn box_lanes_sampled_equals_box_lanes_at_the_samples() {
        for length in 1..150 {
            let rows: Vec<f32> = (0..length * LANES)
                .map(|i| ((i * 31) % 17) as f32 * 0.41)
                .collect();
            let mut lanes = vec![[0.0; LANES]; length];
            to_lanes(&rows, LANES, &mut lanes);
            let samples: [usize; 64] = std::array::from_fn(|j| sample_index(j, length, 64));
            for window in 1..=length {
                let mut full = vec![[f32::NAN; LANES]; length];
                box_lanes(&lanes, &mut full, window);
                let mut got = [[f32::NAN; LANES]; 64];
                box_lanes_sampled(&lanes, window, &samples, &mut got);
                for (s, &j) in samples.iter().enumerate() {
                    let bits = |l: &Lanes| l.map(f32::to_bits);
                    assert_eq!(
                        bits(&got[s]),
                        bits(&full[j]),
                        "length {length} window {window}"
                    );
                }
            }
        }
    }

    #[test]
    fn column_box_equals_box_1d_for_every_window() {
        let width = 3;
        for length in 1..40 {
            let plane: Vec<f32> = (0..length * width)
                .map(|i| ((i * 53) % 17) as f32 * 0.7)
                .collect();
            for window in 1..=length {
                let mut want = vec![0.0; plane.len()];
                for j in 0..width {
                    box_1d(&plane[j..], &mut want[j..], length, width, window);
                }
                let mut got = vec![f32::NAN; plane.len()];
                let mut boxed = ColumnBox::new(width, length, window);
                let mut out = vec![0.0; width];
                let mut record = |o: Option<usize>, out: &[f32]| {
                    if let Some(o) = o {
                        got[o * width..][..width].copy_from_slice(out);
                    }
                };
                for r in 0..length {
                    let o = boxed.push(&plane[r * width..][..width], &mut out);
                    record(o, &out);
                }
                while let Some(o) = boxed.drain(&mut out) {
                    record(Some(o), &out);
                }
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&got), bits(&want), "length {length} window {window}");
            }
        }
    }

    #[test]
    fn rows_pushed_one_at_a_time_give_the_whole_image_hashes() {
        // Too small, the 64x64 case (plain unblurred, dihedral blurred), thin, odd, larger
        // than a lane batch; RGB and grey rows.
        let sizes = [
            (1, 1),
            (4, 9),
            (5, 5),
            (64, 64),
            (63, 64),
            (64, 65),
            (3, 200),
            (200, 3),
            (131, 97),
        ];
        let mut seed = 0x9e37_79b9_u32;
        for (w, h) in sizes {
            for format in [PixelFormat::Rgb8, PixelFormat::Gray8] {
                let bpp = format.bytes_per_pixel();
                let pixels: Vec<u8> = (0..w * h * bpp)
                    .map(|_| {
                        seed ^= seed << 13;
                        seed ^= seed >> 17;
                        seed ^= seed << 5;
                        (seed >> 24) as u8
                    })
                    .collect();
                let view = PixelView::packed(&pixels, w as u32, h as u32, format).unwrap();
                for (plain, dihedral) in [(true, false), (false, true), (true, true)] {
                    let mut rows = PdqRows::new(w, h, format, plain, dihedral);
                    for y in 0..h {
                        rows.push_row(view.row(y));
                    }
                    let (p, d) = rows.finish();
                    let what = format!("{w}x{h} {format:?} plain={plain} dihedral={dihedral}");
                    assert_eq!(p, plain.then(|| pdq_hash(&view)), "{what}");
                    assert_eq!(d, dihedral.then(|| pdq_dihedral(&view)), "{what}");
                }
            }
        }
    }

    #[test]
    fn luma_from_the_products_table_equals_the_reference_formula_on_every_pixel() {
        for r in 0..=255u8 {
            for g in 0..=255u8 {
                for b in 0..=255u8 {
                    let (want, got) = (luma_of(r, g, b), luma_from_products(&[r, g, b]));
                    assert_eq!(got.to_bits(), want.to_bits(), "{r} {g} {b}");
                }
            }
        }
    }
}
