//! YUV to RGB24 exactly as libswscale converts 8-bit 4:2:0 and 4:2:2 frames that it does not
//! scale: the table-driven `yuv2rgb` of FFmpeg's `libswscale/yuv2rgb.c`
//! (`ff_yuv2rgb_c_init_tables` for 24-bit RGB and the `yuv2rgb_c_24_rgb` loops). That is the
//! conversion `pixelprint hash-video` gets from ffmpeg for these formats (its
//! `neighbor+accurate_rnd+bitexact` flags, docs/video.md), and the one the reference hashes
//! were made with.
//!
//! Input: the planes of one frame, tightly packed ([`ChromaLayout`]); output: packed RGB24. A
//! browser decodes a video to the same YUV samples as FFmpeg (H.264, HEVC, VP9 and AV1 decoding
//! is exact), so converting its frames here gives the CLI's RGB, and vPDQ hashes, bit for bit.
//!
//! How libswscale computes it, in integers: with `cy = 65536 * 255 / 219` (limited range) or
//! `65536` (full range) and the matrix's `{crv, cbu, cgu, cgv}` (`ff_yuv2rgb_coeffs`) rescaled by
//! `cy`, each chroma value selects an offset into one luma table
//! `T[j] = clip((j * cy - 384 * 65536 - oy + 32768) >> 16)`; a pixel is
//! `R = T[326 + Y + rv(V)]`, `G = T[326 + Y + gu(U) + gv(V)]`, `B = T[326 + Y + bu(U)]` (384 in
//! place of 326 for full range), each chroma sample serving its 2x2 (4:2:0) or 2x1 (4:2:2)
//! pixels, without interpolation. Shifts are arithmetic and divisions truncate, as in C.

use crate::error::CallerError;

/// The YUV to RGB matrix, as FFmpeg names the colour spaces (`AVColorSpace`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum YuvMatrix {
    /// ITU-R BT.601 (`smpte170m`, `bt470bg`): also FFmpeg's choice for an unspecified matrix.
    Bt601,
    /// ITU-R BT.709.
    Bt709,
    /// FCC (US, 1953).
    Fcc,
    /// SMPTE 240M.
    Smpte240m,
    /// ITU-R BT.2020, non-constant (and constant) luminance.
    Bt2020,
}

impl YuvMatrix {
    /// `{crv, cbu, cgu, cgv}` of `ff_yuv2rgb_coeffs` (FFmpeg 5.1 and later): 65536 * 255/224
    /// times the matrix entries.
    fn coefficients(self) -> [i64; 4] {
        match self {
            YuvMatrix::Bt601 => [104597, 132201, 25675, 53279],
            YuvMatrix::Bt709 => [117489, 138438, 13975, 34925],
            YuvMatrix::Fcc => [104448, 132798, 24759, 53109],
            YuvMatrix::Smpte240m => [117579, 136230, 16907, 35559],
            YuvMatrix::Bt2020 => [110013, 140363, 12277, 42626],
        }
    }
}

/// How the planes of a frame are laid out in its buffer, rows without padding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChromaLayout {
    /// 4:2:0 planar (FFmpeg `yuv420p`, WebCodecs `I420`): Y, then U and V of
    /// `ceil(w/2) x ceil(h/2)` samples each.
    I420,
    /// 4:2:2 planar (`yuv422p`, `I422`): Y, then U and V of `ceil(w/2) x h`.
    I422,
    /// 4:2:0 semi-planar (`nv12`, `NV12`): Y, then `ceil(h/2)` rows of `ceil(w/2)` U,V pairs.
    Nv12,
}

impl ChromaLayout {
    /// Bytes of a `width` x `height` frame in this layout, or `None` on overflow.
    pub fn frame_len(self, width: u32, height: u32) -> Option<usize> {
        let (w, h) = (width as usize, height as usize);
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        let chroma = match self {
            ChromaLayout::I420 | ChromaLayout::Nv12 => cw.checked_mul(ch)?.checked_mul(2)?,
            ChromaLayout::I422 => cw.checked_mul(h)?.checked_mul(2)?,
        };
        w.checked_mul(h)?.checked_add(chroma)
    }
}

/// The conversion tables for one matrix and range; reusable for every frame of a video.
#[derive(Debug, Clone)]
pub struct YuvToRgb {
    /// The luma scale and offset, kept for the tests' formula twin.
    #[cfg(test)]
    cy: i64,
    #[cfg(test)]
    oy: i64,
    /// Where `Y = 0` sits in the luma table, without chroma: 326 (limited) or 384 (full range).
    y_origin: i32,
    r_v: [i32; 256],
    g_u: [i32; 256],
    g_v: [i32; 256],
    b_u: [i32; 256],
    /// `T[j]` for `j` in `table_start..table_start + table.len()`: every index a pixel can reach.
    table: Vec<u8>,
    table_start: i32,
}

impl YuvToRgb {
    /// The tables of `ff_yuv2rgb_c_init_tables` for `matrix`, limited (16-235) or full range,
    /// with libswscale's default brightness (0), contrast and saturation (1.0).
    pub fn new(matrix: YuvMatrix, full_range: bool) -> Self {
        const CONTRAST: i64 = 1 << 16;
        const SATURATION: i64 = 1 << 16;
        let [crv, cbu, cgu, cgv] = matrix.coefficients();
        let (mut crv, mut cbu, mut cgu, mut cgv) = (crv, cbu, -cgu, -cgv);
        let (mut cy, oy) = if full_range {
            // Integer divisions truncate toward zero, as in C.
            crv = crv * 224 / 255;
            cbu = cbu * 224 / 255;
            cgu = cgu * 224 / 255;
            cgv = cgv * 224 / 255;
            (1i64 << 16, 0i64)
        } else {
            ((1i64 << 16) * 255 / 219, 16i64 << 16)
        };
        cy = (cy * CONTRAST) >> 16;
        let scale = |c: i64| ((c * CONTRAST * SATURATION) >> 32) * (1 << 16);
        let per_cy = |c: i64| (scale(c) + 0x8000) / cy.max(1);
        (crv, cbu, cgu, cgv) = (per_cy(crv), per_cy(cbu), per_cy(cgu), per_cy(cgv));
        // `fill_table` / `fill_gv_table`: the chroma value's offset into the luma table.
        let offsets = |inc: i64| -> [i32; 256] {
            std::array::from_fn(|c| (-(inc >> 9) + ((c as i64 * inc) >> 16)) as i32)
        };
        let y_origin = if full_range { 384 } else { 326 };
        let (r_v, g_u, g_v, b_u) = (offsets(crv), offsets(cgu), offsets(cgv), offsets(cbu));
        let lowest = |t: &[i32; 256]| *t.iter().min().unwrap_or(&0);
        let highest = |t: &[i32; 256]| *t.iter().max().unwrap_or(&0);
        let table_start = y_origin
            + lowest(&r_v)
                .min(lowest(&g_u) + lowest(&g_v))
                .min(lowest(&b_u));
        let table_end = y_origin
            + 255
            + highest(&r_v)
                .max(highest(&g_u) + highest(&g_v))
                .max(highest(&b_u));
        let table = (table_start..=table_end)
            .map(|j| {
                let v = (i64::from(j) * cy - (384 << 16) - oy + 0x8000) >> 16;
                v.clamp(0, 255) as u8
            })
            .collect();
        YuvToRgb {
            #[cfg(test)]
            cy,
            #[cfg(test)]
            oy,
            y_origin,
            r_v,
            g_u,
            g_v,
            b_u,
            table,
            table_start,
        }
    }

    /// The luma table entry `T[j]`; `j` is always within the table built by [`new`](Self::new).
    #[inline]
    fn t(&self, j: i32) -> u8 {
        self.table[(j - self.table_start) as usize]
    }

    /// One pixel: luma `y` with chroma `u`, `v`.
    #[inline]
    pub fn pixel(&self, y: u8, u: u8, v: u8) -> [u8; 3] {
        let y = self.y_origin + i32::from(y);
        [
            self.t(y + self.r_v[usize::from(v)]),
            self.t(y + self.g_u[usize::from(u)] + self.g_v[usize::from(v)]),
            self.t(y + self.b_u[usize::from(u)]),
        ]
    }

    /// Converts a `width` x `height` frame laid out as `layout` in `data` (exactly
    /// [`ChromaLayout::frame_len`] bytes) into `rgb`, resized to `width * height * 3` bytes.
    pub fn convert(
        &self,
        data: &[u8],
        layout: ChromaLayout,
        width: u32,
        height: u32,
        rgb: &mut Vec<u8>,
    ) -> Result<(), CallerError> {
        if width == 0 || height == 0 {
            return Err(CallerError::ZeroDimension { width, height });
        }
        let overflow = CallerError::SizeOverflow {
            width,
            height,
            stride: usize::MAX,
        };
        let expected = layout.frame_len(width, height).ok_or(overflow.clone())?;
        if data.len() != expected {
            return Err(CallerError::BufferLengthMismatch {
                expected,
                found: data.len(),
            });
        }
        let (w, h) = (width as usize, height as usize);
        let cw = w.div_ceil(2);
        let out_len = w.checked_mul(h).and_then(|n| n.checked_mul(3));
        rgb.resize(out_len.ok_or(overflow)?, 0);
        let (luma, chroma) = data.split_at(w * h);
        let chroma_rows = if layout == ChromaLayout::I422 {
            h
        } else {
            h.div_ceil(2)
        };
        let (u_plane, v_plane) = chroma.split_at(cw * chroma_rows);
        for (row, (luma_row, out_row)) in luma
            .chunks_exact(w)
            .zip(rgb.chunks_exact_mut(w * 3))
            .enumerate()
        {
            let c_row = if layout == ChromaLayout::I422 {
                row
            } else {
                row / 2
            };
            for (x, (&y, out)) in luma_row.iter().zip(out_row.chunks_exact_mut(3)).enumerate() {
                let (u, v) = match layout {
                    ChromaLayout::Nv12 => {
                        let at = c_row * cw * 2 + (x / 2) * 2;
                        (chroma[at], chroma[at + 1])
                    }
                    _ => (u_plane[c_row * cw + x / 2], v_plane[c_row * cw + x / 2]),
                };
                out.copy_from_slice(&self.pixel(y, u, v));
            }
        }
        Ok(())
    }

    /// The same pixel computed from the formula instead of the tables (the tests' twin).
    #[cfg(test)]
    fn pixel_by_formula(&self, y: u8, u: u8, v: u8) -> [u8; 3] {
        let t = |j: i64| ((j * self.cy - (384 << 16) - self.oy + 0x8000) >> 16).clamp(0, 255) as u8;
        let y = i64::from(self.y_origin) + i64::from(y);
        let (u, v) = (usize::from(u), usize::from(v));
        [
            t(y + i64::from(self.r_v[v])),
            t(y + i64::from(self.g_u[u]) + i64::from(self.g_v[v])),
            t(y + i64::from(self.b_u[u])),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MATRICES: [YuvMatrix; 5] = [
        YuvMatrix::Bt601,
        YuvMatrix::Bt709,
        YuvMatrix::Fcc,
        YuvMatrix::Smpte240m,
        YuvMatrix::Bt2020,
    ];

    #[test]
    fn the_tables_cover_every_yuv_triple() {
        for matrix in MATRICES {
            for full in [false, true] {
                let c = YuvToRgb::new(matrix, full);
                for y in (0..=255u8).step_by(5) {
                    for u in 0..=255u8 {
                        for v in (0..=255u8).step_by(3) {
                            assert_eq!(c.pixel(y, u, v), c.pixel_by_formula(y, u, v));
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn greys_come_out_as_ffmpeg_gives_them() {
        // What ffmpeg 5.1 gives for 4x4 grey frames (`scale=4:4:flags=neighbor+accurate_rnd+
        // bitexact,format=rgb24`): the tables round chroma 128 to an offset of -1 in the luma
        // table, so limited-range white is 253, not 255.
        let c = YuvToRgb::new(YuvMatrix::Bt601, false);
        assert_eq!(c.pixel(16, 128, 128), [0, 0, 0]);
        assert_eq!(c.pixel(126, 128, 128), [126, 126, 126]);
        assert_eq!(c.pixel(235, 128, 128), [253, 253, 253]);
        let full = YuvToRgb::new(YuvMatrix::Bt709, true);
        assert_eq!(full.pixel(0, 128, 128), [0, 0, 0]);
        assert_eq!(full.pixel(255, 128, 128), [255, 255, 255]);
    }

    #[test]
    fn each_chroma_sample_serves_its_2x2_pixels_and_layouts_agree() {
        // A 3x3 frame: odd sizes round the chroma planes up.
        let luma: Vec<u8> = (0..9).map(|i| 20 + i * 20).collect();
        let (u, v) = ([90u8, 100, 110, 120], [140u8, 150, 160, 170]);
        let i420: Vec<u8> = luma.iter().chain(&u).chain(&v).copied().collect();
        let nv12: Vec<u8> = luma
            .iter()
            .copied()
            .chain(u.iter().zip(&v).flat_map(|(&a, &b)| [a, b]))
            .collect();
        let c = YuvToRgb::new(YuvMatrix::Bt601, false);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        c.convert(&i420, ChromaLayout::I420, 3, 3, &mut a).unwrap();
        c.convert(&nv12, ChromaLayout::Nv12, 3, 3, &mut b).unwrap();
        assert_eq!(a, b);
        for (i, px) in a.chunks_exact(3).enumerate() {
            let (x, y) = (i % 3, i / 3);
            let k = (y / 2) * 2 + x / 2;
            assert_eq!(px, c.pixel(luma[i], u[k], v[k]), "pixel ({x}, {y})");
        }
        // 4:2:2: one chroma row per luma row.
        let (u2, v2) = ([1u8, 2, 3, 4, 5, 6], [7u8, 8, 9, 10, 11, 12]);
        let i422: Vec<u8> = luma.iter().chain(&u2).chain(&v2).copied().collect();
        c.convert(&i422, ChromaLayout::I422, 3, 3, &mut a).unwrap();
        for (i, px) in a.chunks_exact(3).enumerate() {
            let k = (i / 3) * 2 + (i % 3) / 2;
            assert_eq!(px, c.pixel(luma[i], u2[k], v2[k]));
        }
    }

    #[test]
    fn buffers_that_do_not_match_the_size_are_refused() {
        let c = YuvToRgb::new(YuvMatrix::Bt601, false);
        let mut out = Vec::new();
        assert!(matches!(
            c.convert(&[0; 10], ChromaLayout::I420, 4, 2, &mut out),
            Err(CallerError::BufferLengthMismatch {
                expected: 12,
                found: 10
            })
        ));
        assert!(matches!(
            c.convert(&[], ChromaLayout::I420, 0, 2, &mut out),
            Err(CallerError::ZeroDimension { .. })
        ));
    }
}
