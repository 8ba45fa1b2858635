//! Blocking: which pairs are worth scoring, so that cost grows near-linearly with the records.
//!
//! Two kinds, used alone or together (a pair is compared when any key matches):
//! - **Keyed blocking keys**, computed by the holders at encode time from the schema's
//!   `kith.blocking` section. The linkage party sees only 64-bit HMAC tokens.
//! - **LSH on the CLKs** (Hamming bit sampling): `tables` tables, each keyed by `bits` CLK bit
//!   positions drawn from a fixed seed. Two CLKs that differ in a fraction `h` of their bits share a
//!   table's key with probability `(1 - h)^bits`, so close CLKs meet in at least one of the tables
//!   with high probability while random pairs rarely do. It needs no secret.

use kith_core::bits::Block;

use crate::Dataset;

/// LSH parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LshParams {
    /// Number of tables (λ).
    pub tables: u32,
    /// CLK bits sampled per table (at most 64).
    pub bits: u32,
    /// Seed of the bit positions.
    pub seed: u64,
}

impl Default for LshParams {
    fn default() -> Self {
        LshParams {
            tables: 32,
            bits: 16,
            seed: 0x6b69_7468_6c73_6821,
        }
    }
}

/// splitmix64: the bit-position generator and the key mixer.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A 64-bit key folded to the 32 bits tables store (keyed tokens and mixed LSH keys are uniform).
pub fn fold(k: u64) -> u32 {
    (k ^ (k >> 32)) as u32
}

/// The bit positions of each LSH table.
#[derive(Debug, Clone)]
pub struct Lsh {
    positions: Vec<Vec<u32>>,
}

impl Lsh {
    /// Positions for CLKs of `clk_bits` bits.
    pub fn new(p: LshParams, clk_bits: u32) -> Lsh {
        let mut state = p.seed;
        let k = p.bits.clamp(1, 64.min(clk_bits));
        let positions = (0..p.tables)
            .map(|_| {
                let mut pos: Vec<u32> = Vec::with_capacity(k as usize);
                while pos.len() < k as usize {
                    state = mix(state);
                    let b = (state % u64::from(clk_bits)) as u32;
                    if !pos.contains(&b) {
                        pos.push(b);
                    }
                }
                pos
            })
            .collect();
        Lsh { positions }
    }

    /// Number of tables.
    pub fn tables(&self) -> usize {
        self.positions.len()
    }

    /// The key of `clk` in table `t` (the sampled bits, mixed so that keys spread evenly).
    pub fn key(&self, t: usize, clk: &[Block]) -> u64 {
        let mut k = t as u64;
        for &b in &self.positions[t] {
            // Bit b of the CLK as the dataset packs it: byte b/8 of the big-endian words, MSB-first.
            let word = clk[b as usize / 512].0[(b as usize % 512) / 64];
            k = (k << 1) | ((word >> (63 - b % 64)) & 1);
        }
        mix(k ^ ((t as u64) << 58))
    }

    /// True when the two CLKs share a key in some table: LSH would compare them.
    pub fn meet(&self, a: &[Block], b: &[Block]) -> bool {
        (0..self.tables()).any(|t| self.key(t, a) == self.key(t, b))
    }
}

/// Rows of one dataset grouped by key, for one key kind (a blocking key or an LSH table).
#[derive(Debug)]
struct Table {
    /// (key, row), sorted. Keys are folded to 32 bits: a rare collision only merges two buckets,
    /// and the table takes 8 bytes per record.
    entries: Vec<(u32, u32)>,
    /// `dir[k >> shift]` is the first entry whose key has that prefix; one extra entry at the end.
    dir: Vec<u32>,
    shift: u32,
}

impl Table {
    fn new(mut entries: Vec<(u32, u32)>) -> Table {
        entries.sort_unstable();
        entries.shrink_to_fit();
        // One directory entry per four or so entries: a lookup then searches a few entries, and
        // the directory takes a tenth of the table's memory, not half.
        let dir_bits = (usize::BITS - (entries.len() / 4).leading_zeros()).clamp(1, 18);
        let shift = 32 - dir_bits;
        let mut dir = vec![0u32; (1usize << dir_bits) + 1];
        for &(k, _) in &entries {
            dir[(k >> shift) as usize + 1] += 1;
        }
        for i in 1..dir.len() {
            dir[i] += dir[i - 1];
        }
        Table {
            entries,
            dir,
            shift,
        }
    }
}

/// How pairs are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blocking {
    /// Every pair.
    None,
    /// Records sharing a keyed blocking key.
    Keys,
    /// Records sharing an LSH key.
    Lsh(LshParams),
    /// Either.
    KeysAndLsh(LshParams),
}

impl Blocking {
    /// The LSH parameters, if LSH is used.
    pub fn lsh(self) -> Option<LshParams> {
        match self {
            Blocking::Lsh(p) | Blocking::KeysAndLsh(p) => Some(p),
            _ => None,
        }
    }

    /// True when the holders' keyed blocking keys are used.
    pub fn keys(self) -> bool {
        matches!(self, Blocking::Keys | Blocking::KeysAndLsh(_))
    }
}

/// The index of one dataset: its rows by every key kind in use.
#[derive(Debug)]
pub struct Index {
    tables: Vec<Table>,
    lsh: Option<Lsh>,
    n_block_keys: usize,
    /// Buckets larger than this are not used (they would make blocking quadratic); they are counted.
    pub max_bucket: usize,
}

/// A query's keys (computed from the query record, which may be in another dataset).
#[derive(Debug, Default)]
pub struct QueryKeys {
    keys: Vec<Option<u64>>,
}

impl Index {
    /// Index `d` for `blocking`.
    pub fn new(d: &Dataset, blocking: Blocking, max_bucket: usize) -> Index {
        let mut tables = Vec::new();
        let mut n_block_keys = 0;
        if blocking.keys() {
            n_block_keys = d.block_names().len();
            for k in 0..n_block_keys {
                // Sized once: collecting from a filter would grow by doubling, to up to twice
                // the records (a national extract's tables are a fifth of the link's memory).
                let mut e = Vec::with_capacity(d.len());
                e.extend((0..d.len()).filter_map(|i| d.block(i, k).map(|t| (fold(t), i as u32))));
                tables.push(Table::new(e));
            }
        }
        let lsh = blocking.lsh().map(|p| Lsh::new(p, d.bits()));
        if let Some(l) = &lsh {
            for t in 0..l.tables() {
                let e = (0..d.len())
                    .map(|i| (fold(l.key(t, d.clk(i))), i as u32))
                    .collect();
                tables.push(Table::new(e));
            }
        }
        Index {
            tables,
            lsh,
            n_block_keys,
            max_bucket,
        }
    }

    /// The keys of row `i` of `d` (a dataset with the same key names and CLK length).
    pub fn query_keys(&self, d: &Dataset, i: usize, out: &mut QueryKeys) {
        out.keys.clear();
        for k in 0..self.n_block_keys {
            out.keys.push(d.block(i, k));
        }
        if let Some(l) = &self.lsh {
            for t in 0..l.tables() {
                out.keys.push(Some(l.key(t, d.clk(i))));
            }
        }
    }

    /// Rows sharing any key with `q`, each once, appended to `rows` (`stamp` has one entry per row
    /// of the indexed dataset; `mark` must differ from every value in it). Returns how many
    /// oversized buckets were skipped.
    pub fn candidates(
        &self,
        q: &QueryKeys,
        stamp: &mut [u32],
        mark: u32,
        rows: &mut Vec<u32>,
    ) -> u64 {
        // Three passes over (up to 64) tables at a time, so that each pass's loads are
        // independent of one another and the CPU can have many cache misses in flight: the
        // directory entries, then the buckets, then the rows. (Faster by about a fifth on
        // LSH blocking with 32 tables; the same rows in the same order as one pass.)
        let mut skipped = 0;
        let n = self.tables.len().min(q.keys.len());
        let mut spans = [(0u32, 0u32, 0u32); 64];
        for base in (0..n).step_by(spans.len()) {
            let batch = (n - base).min(spans.len());
            for (t, span) in spans.iter_mut().enumerate().take(batch) {
                *span = match q.keys[base + t] {
                    Some(k) => {
                        let (k, table) = (fold(k), &self.tables[base + t]);
                        let p = (k >> table.shift) as usize;
                        (k, table.dir[p], table.dir[p + 1])
                    }
                    None => (0, 0, 0),
                };
            }
            for (t, span) in spans.iter_mut().enumerate().take(batch) {
                let (k, lo, hi) = *span;
                let bucket = &self.tables[base + t].entries[lo as usize..hi as usize];
                let start = bucket.partition_point(|&(x, _)| x < k);
                let end = start + bucket[start..].partition_point(|&(x, _)| x == k);
                *span = (0, lo + start as u32, lo + end as u32);
            }
            for (t, &(_, start, end)) in spans.iter().enumerate().take(batch) {
                if (end - start) as usize > self.max_bucket {
                    skipped += 1;
                    continue;
                }
                for &(_, r) in &self.tables[base + t].entries[start as usize..end as usize] {
                    let s = &mut stamp[r as usize];
                    if *s != mark {
                        *s = mark;
                        rows.push(r);
                    }
                }
            }
        }
        skipped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dataset(clks: &[[u8; 128]], blocks: &[Option<u64>]) -> Dataset {
        let mut d = Dataset::new("x", 1024, false, Vec::new(), vec!["k".into()]);
        for (c, b) in clks.iter().zip(blocks) {
            d.push(None, c, &[], &[*b]).expect("push");
        }
        d
    }

    #[test]
    fn keys_and_lsh_find_the_rows_that_share_a_key() {
        let mut a = [0u8; 128];
        a[..40].fill(0xa5);
        let mut near = a;
        near[3] ^= 1; // one bit apart
        let mut far = [0u8; 128];
        far[60..120].fill(0x5a);
        let d = dataset(&[a, near, far], &[Some(7), None, Some(7)]);
        let p = LshParams {
            tables: 8,
            bits: 16,
            seed: 1,
        };
        let idx = Index::new(&d, Blocking::KeysAndLsh(p), 100);
        let mut q = QueryKeys::default();
        idx.query_keys(&d, 0, &mut q);
        let mut stamp = vec![0; 3];
        let mut rows = Vec::new();
        assert_eq!(idx.candidates(&q, &mut stamp, 1, &mut rows), 0);
        rows.sort_unstable();
        // Row 0 itself, row 1 by LSH (it differs in one bit), row 2 by the keyed block.
        assert_eq!(rows, vec![0, 1, 2]);
        let keys_only = Index::new(&d, Blocking::Keys, 100);
        keys_only.query_keys(&d, 1, &mut q);
        rows.clear();
        keys_only.candidates(&q, &mut stamp, 2, &mut rows);
        assert!(rows.is_empty(), "row 1 has no blocking key");
        let capped = Index::new(&d, Blocking::Keys, 1);
        capped.query_keys(&d, 0, &mut q);
        assert_eq!(capped.candidates(&q, &mut stamp, 3, &mut rows), 1);
    }

    #[test]
    fn lsh_positions_are_fixed_by_the_seed() {
        let p = LshParams::default();
        let a = Lsh::new(p, 1024);
        let b = Lsh::new(p, 1024);
        assert_eq!(a.positions, b.positions);
        assert!(
            a.positions
                .iter()
                .all(|t| t.len() == 16 && t.iter().all(|&b| b < 1024))
        );
        let c = Lsh::new(LshParams { seed: 2, ..p }, 1024);
        assert_ne!(a.positions, c.positions);
    }

    #[test]
    fn lsh_meets_a_clk_and_its_copy_and_wider_tables_meet_more() {
        let d = dataset(
            &[[0x55; 128], [0x55; 128], {
                // A third of the bytes changed.
                let mut x = [0x55; 128];
                for b in x.iter_mut().step_by(3) {
                    *b = 0xaa;
                }
                x
            }],
            &[None, None, None],
        );
        let narrow = Lsh::new(LshParams::default(), 1024);
        assert!(narrow.meet(d.clk(0), d.clk(1)));
        assert!(!narrow.meet(d.clk(0), d.clk(2)), "Dice about 0.67");
        let wide = Lsh::new(
            LshParams {
                tables: 256,
                bits: 4,
                ..LshParams::default()
            },
            1024,
        );
        assert!(wide.meet(d.clk(0), d.clk(2)));
    }
}
