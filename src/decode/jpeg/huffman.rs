//! Entropy-coded data: the bit reader (byte stuffing, markers) and Huffman tables.
//!
//! The bit semantics follow ITU T.81 and libjpeg-turbo's `jdhuff.c`: a stuffed `FF 00` is
//! one `FF` byte, fill `FF`s before a marker are skipped, and past a marker the reader
//! supplies zero bits. libjpeg-turbo warns when it has to use those zeros and then stops
//! decoding the scan; this reader counts them instead, and the decoder hands such a file to
//! the other decoder (see `Bits::overran`), so no guess about damaged data is ever made here.

/// Bits of the entropy-coded segment, most significant first, read ahead into `acc`.
pub(super) struct Bits<'a> {
    data: &'a [u8],
    /// Next byte to read; at a marker, the position of its `FF`.
    pos: usize,
    /// Unread bits, left-aligned.
    acc: u64,
    /// Number of valid bits in `acc`.
    n: u32,
    /// A marker (or the end of the data) was reached: only zero bytes follow.
    at_marker: bool,
    /// Zero bytes supplied after the marker.
    padding: u32,
}

impl<'a> Bits<'a> {
    pub(super) fn new(data: &'a [u8], pos: usize) -> Self {
        Bits {
            data,
            pos,
            acc: 0,
            n: 0,
            at_marker: false,
            padding: 0,
        }
    }

    /// The next data byte, handling stuffing and markers.
    #[inline]
    fn byte(&mut self) -> u8 {
        if self.at_marker {
            self.padding += 1;
            return 0;
        }
        let Some(&b) = self.data.get(self.pos) else {
            self.at_marker = true;
            self.padding += 1;
            return 0;
        };
        if b != 0xFF {
            self.pos += 1;
            return b;
        }
        // FF: skip fill bytes; FF 00 is a data FF, anything else a marker.
        let mut next = self.pos + 1;
        while self.data.get(next) == Some(&0xFF) {
            next += 1;
        }
        if self.data.get(next) == Some(&0) {
            self.pos = next + 1;
            0xFF
        } else {
            self.pos = next - 1;
            self.at_marker = true;
            self.padding += 1;
            0
        }
    }

    /// Tops `acc` up to at least 57 bits.
    #[inline]
    pub(super) fn refill(&mut self) {
        // Fast path: eight plain bytes (no FF) go in at once.
        if !self.at_marker && self.n <= 56 {
            if let Some(chunk) = self.data.get(self.pos..self.pos + 8) {
                let word = u64::from_be_bytes(chunk.try_into().unwrap_or([0xFF; 8]));
                // A byte of the word is FF exactly where the complement has a zero byte:
                // the classic test for a zero byte, `(v - 0x01..) & !v & 0x80..`.
                const ONES: u64 = 0x0101_0101_0101_0101;
                let has_ff = (!word).wrapping_sub(ONES) & word & (ONES << 7) != 0;
                if !has_ff {
                    let take = (64 - self.n) / 8; // whole bytes that fit, at least one
                    self.acc |= (word >> (64 - 8 * take)) << (64 - self.n - 8 * take);
                    self.n += 8 * take;
                    self.pos += take as usize;
                    return;
                }
            }
        }
        while self.n <= 56 {
            let b = self.byte();
            self.acc |= u64::from(b) << (56 - self.n);
            self.n += 8;
        }
    }

    /// The next `count` bits (1..=16) as an unsigned number.
    #[inline]
    pub(super) fn get(&mut self, count: u32) -> u32 {
        if self.n < count {
            self.refill();
        }
        let v = (self.acc >> (64 - count)) as u32;
        self.acc <<= count;
        self.n -= count;
        v
    }

    #[inline]
    pub(super) fn bit(&mut self) -> bool {
        self.get(1) != 0
    }

    /// Whether bits past the end of the segment were used: the data ran out early.
    pub(super) fn overran(&self) -> bool {
        self.n < self.padding * 8
    }

    /// Drops the buffered bits and moves past the restart marker that must come next.
    /// `false` if the next marker is not `RST(expected)` (damaged data).
    pub(super) fn restart(&mut self, expected: u8) -> bool {
        if self.overran() {
            return false;
        }
        self.acc = 0;
        self.n = 0;
        self.padding = 0;
        self.at_marker = false;
        let mut p = self.pos;
        // Only fill bytes may come between the data and the marker.
        while self.data.get(p + 1) == Some(&0xFF) && self.data.get(p) == Some(&0xFF) {
            p += 1;
        }
        if self.data.get(p) == Some(&0xFF) && self.data.get(p + 1) == Some(&(0xD0 + expected)) {
            self.pos = p + 2;
            true
        } else {
            false
        }
    }

    /// The position of the marker that ends the scan, for the marker parser. `None` if the
    /// scan used bits it did not have.
    pub(super) fn end(&self) -> Option<usize> {
        if self.overran() {
            return None;
        }
        // Bytes left unread before the marker (libjpeg skips them with a warning).
        let mut p = self.pos;
        loop {
            match self.data.get(p) {
                None => return Some(p),
                Some(&0xFF) => match self.data.get(p + 1) {
                    Some(0) => p += 2,
                    Some(0xFF) => p += 1,
                    Some(0xD0..=0xD7) => p += 2,
                    _ => return Some(p),
                },
                Some(_) => p += 1,
            }
        }
    }
}

/// Sign extension of a `size`-bit magnitude category value (T.81 F.2.2.1, `HUFF_EXTEND`).
#[inline]
pub(super) fn extend(v: u32, size: u32) -> i32 {
    if size == 0 {
        return 0;
    }
    let v = v as i32;
    if v < 1 << (size - 1) {
        v - (1 << size) + 1
    } else {
        v
    }
}

const LOOKAHEAD: u32 = 10;

/// A decoding table built from a DHT segment.
#[derive(Clone)]
pub(super) struct Table {
    /// For the next `LOOKAHEAD` bits: code length (0: longer) in the high byte, symbol low.
    fast: Box<[u16; 1 << LOOKAHEAD]>,
    /// The whole coefficient (AC) or difference (DC) where a code and its value bits fit in
    /// the next `LOOKAHEAD` bits: value in the low 16 bits, zero run in bits 16..20, bits
    /// used in bits 20..24; 0 where they do not fit, and for AC end-of-band and zero-run codes.
    fast_ac: Box<[u32; 1 << LOOKAHEAD]>,
    /// Largest code of each length (-1: none), as in T.81 F.2.2.3.
    maxcode: [i32; 18],
    /// Index into `symbols` of the first code of each length, minus that code.
    offset: [i32; 17],
    symbols: Vec<u8>,
}

impl Table {
    /// `counts[i]`: number of codes of length `i + 1`. `None` for an impossible table
    /// (over-full code space, or too many symbols).
    pub(super) fn new(counts: &[u8; 16], symbols: &[u8], dc: bool) -> Option<Table> {
        let total: usize = counts.iter().map(|&c| usize::from(c)).sum();
        if total > 256 || total != symbols.len() {
            return None;
        }
        let mut fast = Box::new([0u16; 1 << LOOKAHEAD]);
        let mut maxcode = [-1i32; 18];
        let mut offset = [0i32; 17];
        let mut code: i32 = 0;
        let mut k: usize = 0;
        for len in 1..=16usize {
            let count = usize::from(counts[len - 1]);
            // Codes of this length must fit in `len` bits.
            if code as usize + count > 1 << len {
                return None;
            }
            if count > 0 {
                offset[len] = k as i32 - code;
                for _ in 0..count {
                    if len as u32 <= LOOKAHEAD {
                        let shift = LOOKAHEAD - len as u32;
                        let first = (code as usize) << shift;
                        for e in &mut fast[first..first + (1 << shift)] {
                            *e = ((len as u16) << 8) | u16::from(symbols[k]);
                        }
                    }
                    code += 1;
                    k += 1;
                }
                maxcode[len] = code - 1;
            }
            code <<= 1;
        }
        maxcode[17] = i32::MAX; // sentinel
        let mut fast_ac = Box::new([0u32; 1 << LOOKAHEAD]);
        for (look, e) in fast.iter().enumerate() {
            let len = u32::from(e >> 8);
            let (run, size) = (u32::from((e & 0xFF) >> 4), u32::from(e & 15));
            // A DC category of 0 is a difference of 0; an AC symbol of size 0 is no value.
            if len == 0 || (size == 0 && !dc) || len + size > LOOKAHEAD {
                continue;
            }
            let bits = (look as u32 >> (LOOKAHEAD - len - size)) & ((1 << size) - 1);
            let value = extend(bits, size) as i16 as u16;
            fast_ac[look] = u32::from(value) | (run << 16) | ((len + size) << 20);
        }
        Some(Table {
            fast,
            fast_ac,
            maxcode,
            offset,
            symbols: symbols.to_vec(),
        })
    }

    /// The next AC coefficient (zero run, value), or DC difference (0, value), if its code and
    /// value fit the look-ahead. Otherwise nothing is consumed.
    #[inline]
    pub(super) fn fast_value(&self, bits: &mut Bits) -> Option<(usize, i16)> {
        if bits.n < 16 {
            bits.refill();
        }
        let e = self.fast_ac[(bits.acc >> (64 - LOOKAHEAD)) as usize];
        if e == 0 {
            return None;
        }
        let used = e >> 20;
        bits.acc <<= used;
        bits.n -= used;
        Some((((e >> 16) & 15) as usize, e as u16 as i16))
    }

    /// Decodes one symbol; `None` for a bit pattern that is no code.
    #[inline]
    pub(super) fn decode(&self, bits: &mut Bits) -> Option<u8> {
        if bits.n < 16 {
            bits.refill();
        }
        let e = self.fast[(bits.acc >> (64 - LOOKAHEAD)) as usize];
        let len = u32::from(e >> 8);
        if len != 0 {
            bits.acc <<= len;
            bits.n -= len;
            return Some(e as u8);
        }
        let mut len = LOOKAHEAD as usize + 1;
        while len <= 16 {
            let code = (bits.acc >> (64 - len)) as i32;
            if code <= self.maxcode[len] {
                bits.acc <<= len;
                bits.n -= len as u32;
                let i = code + self.offset[len];
                return self.symbols.get(i as usize).copied();
            }
            len += 1;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stuffing_fill_bytes_and_markers() {
        // AB, FF 00 (a data FF), FF FF 00 (fill byte then a data FF), then the EOI marker.
        let data = [0xAB, 0xFF, 0x00, 0xFF, 0xFF, 0x00, 0x12, 0xFF, 0xD9];
        let mut bits = Bits::new(&data, 0);
        assert_eq!(bits.get(8), 0xAB);
        assert_eq!(bits.get(8), 0xFF);
        assert_eq!(bits.get(8), 0xFF);
        assert_eq!(bits.get(8), 0x12);
        assert!(!bits.overran());
        assert_eq!(bits.end(), Some(7));
        assert_eq!(bits.get(1), 0);
        assert!(bits.overran());
        assert_eq!(bits.end(), None);
    }

    #[test]
    fn fast_refill_equals_byte_by_byte() {
        let data: Vec<u8> = (0..64u32).map(|i| (i * 37 % 254) as u8).collect();
        let mut a = Bits::new(&data, 0);
        let mut expect = Vec::new();
        for &b in &data {
            for i in (0..8).rev() {
                expect.push(u32::from(b >> i) & 1);
            }
        }
        let got: Vec<u32> = (0..data.len() * 8).map(|_| a.get(1)).collect();
        assert_eq!(got, expect);
    }

    #[test]
    fn restart_marker_realigns() {
        let data = [0b1010_0000, 0xFF, 0xD0, 0xC3, 0xFF, 0xD9];
        let mut bits = Bits::new(&data, 0);
        assert_eq!(bits.get(3), 0b101);
        assert!(!bits.restart(1), "RST0 is not RST1");
        let mut bits = Bits::new(&data, 0);
        assert_eq!(bits.get(3), 0b101);
        assert!(bits.restart(0));
        assert_eq!(bits.get(8), 0xC3);
        assert_eq!(bits.end(), Some(4));
    }

    #[test]
    fn table_decodes_short_and_long_codes() {
        // Lengths: two of 2 bits, one of 3, one of 12.
        let mut counts = [0u8; 16];
        counts[1] = 2;
        counts[2] = 1;
        counts[11] = 1;
        let t = Table::new(&counts, &[5, 6, 7, 8], false).unwrap();
        // Codes: 00, 01, 100, 101000000000.
        let data = [0b0001_1001, 0b0100_0000, 0b0000_0000];
        let mut bits = Bits::new(&data, 0);
        assert_eq!(t.decode(&mut bits), Some(5));
        assert_eq!(t.decode(&mut bits), Some(6));
        assert_eq!(t.decode(&mut bits), Some(7));
        assert_eq!(t.decode(&mut bits), Some(8));
        // An over-full code space is refused.
        let mut counts = [0u8; 16];
        counts[0] = 3;
        assert!(Table::new(&counts, &[1, 2, 3], false).is_none());
    }

    #[test]
    fn extend_matches_t81() {
        assert_eq!(extend(0, 1), -1);
        assert_eq!(extend(1, 1), 1);
        assert_eq!(extend(0, 3), -7);
        assert_eq!(extend(3, 3), -4);
        assert_eq!(extend(4, 3), 4);
        assert_eq!(extend(0, 0), 0);
    }
}
