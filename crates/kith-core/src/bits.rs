//! A fixed-width, cache-line-aligned bit vector for Bloom filters and CLKs.
//!
//! Bits are numbered as clkhash numbers them: bit `b` is the most significant remaining bit of byte
//! `b / 8` (MSB-first). Internally bit `b` lives in 64-bit word `b / 64` at position `63 - b % 64`, so
//! the big-endian bytes of the words are the serialised CLK. Storage is whole 512-bit [`Block`]s,
//! aligned to 64 bytes, so the scoring kernels can load any CLK with aligned vector loads.

/// 512 bits, aligned to a cache line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[repr(C, align(64))]
pub struct Block(pub [u64; 8]);

/// A bit vector of a length fixed at creation.
#[derive(Clone, PartialEq, Eq)]
pub struct BitVec {
    blocks: Vec<Block>,
    bits: usize,
}

impl std::fmt::Debug for BitVec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BitVec({} bits, {} set)", self.bits, self.count_ones())
    }
}

impl BitVec {
    /// All zeros.
    pub fn zeros(bits: usize) -> BitVec {
        BitVec {
            blocks: vec![Block::default(); bits.div_ceil(512)],
            bits,
        }
    }

    /// Length in bits.
    pub fn len(&self) -> usize {
        self.bits
    }

    /// True for a zero-length vector.
    pub fn is_empty(&self) -> bool {
        self.bits == 0
    }

    /// The words, MSB-first within each word; bits past `len()` are zero.
    pub fn words(&self) -> impl Iterator<Item = u64> + '_ {
        self.blocks
            .iter()
            .flat_map(|b| b.0)
            .take(self.bits.div_ceil(64))
    }

    #[inline]
    fn word(&self, w: usize) -> u64 {
        self.blocks[w / 8].0[w % 8]
    }

    #[inline]
    fn word_mut(&mut self, w: usize) -> &mut u64 {
        &mut self.blocks[w / 8].0[w % 8]
    }

    /// OR `src` into the vector's words and zero `src`, in one pass. `src` must not be longer than
    /// the vector.
    #[inline]
    pub fn or_take_words(&mut self, src: &mut [u64]) {
        assert!(
            src.len() <= self.bits.div_ceil(64),
            "{} words do not fit {} bits",
            src.len(),
            self.bits
        );
        let (whole, rest) = src.as_chunks_mut::<8>();
        let n = whole.len();
        for (block, chunk) in self.blocks.iter_mut().zip(whole) {
            for (w, s) in block.0.iter_mut().zip(chunk) {
                *w |= std::mem::take(s);
            }
        }
        if let Some(block) = self.blocks.get_mut(n) {
            for (w, s) in block.0.iter_mut().zip(rest) {
                *w |= std::mem::take(s);
            }
        }
    }

    /// OR `src` into the vector's words, word 0 first. `src` must not be longer than the vector.
    #[inline]
    pub fn or_words(&mut self, src: &[u64]) {
        assert!(
            src.len() <= self.bits.div_ceil(64),
            "{} words do not fit {} bits",
            src.len(),
            self.bits
        );
        let (whole, rest) = src.as_chunks::<8>();
        for (block, chunk) in self.blocks.iter_mut().zip(whole) {
            for (w, s) in block.0.iter_mut().zip(chunk) {
                *w |= *s;
            }
        }
        if let Some(block) = self.blocks.get_mut(whole.len()) {
            for (w, s) in block.0.iter_mut().zip(rest) {
                *w |= *s;
            }
        }
    }

    /// The 512-bit blocks; bits past `len()` are zero.
    pub fn blocks(&self) -> &[Block] {
        &self.blocks
    }

    /// Set bit `i`. Panics if `i >= len()` (callers reduce indices modulo the length).
    #[inline]
    pub fn set(&mut self, i: usize) {
        assert!(i < self.bits, "bit {i} out of range for {} bits", self.bits);
        *self.word_mut(i / 64) |= 1u64 << (63 - i % 64);
    }

    /// Read bit `i`.
    #[inline]
    pub fn get(&self, i: usize) -> bool {
        i < self.bits && self.word(i / 64) & (1u64 << (63 - i % 64)) != 0
    }

    /// Zero every bit.
    pub fn clear(&mut self) {
        self.blocks.fill(Block::default());
    }

    /// Zero every bit and set the length to `bits`, reusing the storage.
    pub fn reset(&mut self, bits: usize) {
        self.blocks.clear();
        self.blocks.resize(bits.div_ceil(512), Block::default());
        self.bits = bits;
    }

    /// OR `mask` into word `w` (bit `b` of the vector is word `b / 64`, mask `1 << (63 - b % 64)`).
    #[inline]
    pub fn or_word(&mut self, w: usize, mask: u64) {
        assert!(
            w < self.bits.div_ceil(64),
            "word {w} out of range for {} bits",
            self.bits
        );
        *self.word_mut(w) |= mask;
    }

    /// Number of set bits.
    pub fn count_ones(&self) -> u32 {
        self.words().map(u64::count_ones).sum()
    }

    /// Fold once: the first half XOR the second half; the length halves. The length must be even.
    pub fn fold(&mut self) {
        assert!(
            self.bits.is_multiple_of(2),
            "cannot fold {} bits",
            self.bits
        );
        let half = self.bits / 2;
        if half.is_multiple_of(64) {
            let hw = half / 64;
            for w in 0..hw {
                let upper = self.word(w + hw);
                *self.word_mut(w) ^= upper;
            }
        } else {
            for i in 0..half {
                if self.get(i + half) {
                    *self.word_mut(i / 64) ^= 1u64 << (63 - i % 64);
                }
            }
        }
        // Zero everything past the new end.
        if !half.is_multiple_of(64) {
            *self.word_mut(half / 64) &= !(u64::MAX >> (half % 64));
        }
        for w in half.div_ceil(64)..self.bits.div_ceil(64) {
            *self.word_mut(w) = 0;
        }
        self.bits = half;
        self.blocks.truncate(half.div_ceil(512));
    }

    /// The bits as bytes, MSB-first; the last byte is zero-padded at the low end.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.bits.div_ceil(8));
        self.write_bytes(&mut out);
        out
    }

    /// Replace the contents of `out` with [`BitVec::to_bytes`].
    pub fn write_bytes(&self, out: &mut Vec<u8>) {
        out.clear();
        out.extend(self.words().flat_map(u64::to_be_bytes));
        out.truncate(self.bits.div_ceil(8));
    }

    /// Read `bits` bits from MSB-first bytes. `None` if the length is wrong or padding bits are set.
    pub fn from_bytes(bytes: &[u8], bits: usize) -> Option<BitVec> {
        if bytes.len() != bits.div_ceil(8) {
            return None;
        }
        if !bits.is_multiple_of(8)
            && bytes
                .last()
                .is_some_and(|b| b & (0xffu8 >> (bits % 8)) != 0)
        {
            return None;
        }
        let mut v = BitVec::zeros(bits);
        for (w, chunk) in bytes.chunks(8).enumerate() {
            let mut buf = [0u8; 8];
            buf[..chunk.len()].copy_from_slice(chunk);
            *v.word_mut(w) = u64::from_be_bytes(buf);
        }
        Some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn bits_are_msb_first() {
        let mut v = BitVec::zeros(16);
        v.set(0);
        v.set(9);
        assert_eq!(v.to_bytes(), vec![0x80, 0x40]);
        let mut odd = BitVec::zeros(12);
        odd.set(11);
        assert_eq!(odd.to_bytes(), vec![0x00, 0x10]);
        assert_eq!(
            BitVec::from_bytes(&[0x00, 0x18], 12),
            None,
            "padding bit set"
        );
    }

    proptest! {
        /// `or_take_words` sets what `or_words` sets, word `i` of the source on word `i` of the
        /// vector, and leaves the source zeroed.
        #[test]
        fn or_take_words_is_or_words_then_zero(words in proptest::collection::vec(any::<u64>(), 0..40), extra in 0usize..70, seed in any::<u64>()) {
            let bits = words.len() * 64 + extra;
            let mut a = BitVec::zeros(bits);
            for i in (0..bits).step_by(7) {
                if (seed >> (i % 64)) & 1 == 1 { a.set(i); }
            }
            let mut b = a.clone();
            a.or_words(&words);
            let mut src = words.clone();
            b.or_take_words(&mut src);
            prop_assert_eq!(&a, &b);
            prop_assert!(src.iter().all(|&w| w == 0));
            for (i, &w) in words.iter().enumerate() {
                for j in 0..64 {
                    if (w >> (63 - j)) & 1 == 1 {
                        prop_assert!(b.get(i * 64 + j), "bit {} of word {}", j, i);
                    }
                }
            }
        }

        /// Bit `i` is bit `7 - i % 8` of byte `i / 8`, for any length; the bytes read back.
        #[test]
        fn bytes_are_the_bits_msb_first(bits in proptest::collection::vec(any::<bool>(), 0..300usize)) {
            let mut v = BitVec::zeros(bits.len());
            for (i, &b) in bits.iter().enumerate() {
                if b { v.set(i); }
            }
            let mut want = vec![0u8; bits.len().div_ceil(8)];
            for (i, &b) in bits.iter().enumerate() {
                want[i / 8] |= u8::from(b) << (7 - i % 8);
            }
            let mut out = vec![0xaa; 3]; // replaced, not appended to
            v.write_bytes(&mut out);
            prop_assert_eq!(&out, &want);
            let back = BitVec::from_bytes(&out, bits.len());
            prop_assert_eq!(back.as_ref(), Some(&v));
        }

        #[test]
        fn fold_matches_the_definition(bits in proptest::collection::vec(any::<bool>(), 1..600usize)) {
            let n = bits.len() * 2;
            let mut v = BitVec::zeros(n);
            let mut all = bits.clone();
            all.extend(bits.iter().rev().map(|b| !b));
            for (i, &b) in all.iter().enumerate() {
                if b { v.set(i); }
            }
            v.fold();
            prop_assert_eq!(v.len(), n / 2);
            for i in 0..n / 2 {
                prop_assert_eq!(v.get(i), all[i] ^ all[i + n / 2]);
            }
            let round = BitVec::from_bytes(&v.to_bytes(), v.len());
            prop_assert_eq!(round.as_ref(), Some(&v));
        }
    }
}
