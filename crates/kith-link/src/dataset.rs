//! One partner's encodings as the linkage party holds them: CLKs packed into aligned blocks with
//! their popcounts, record tokens, exact tokens and blocking tokens. Nothing here needs a key.

use std::io::BufRead;

use kith_core::Token;
use kith_core::bits::Block;
use kith_core::encodings::{FieldSpec, Reader, TwinNames};

use crate::LinkError;

/// How a dataset's records are named in outputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ids {
    /// Record tokens from a kith encodings file.
    Tokens(Vec<Token>),
    /// 0-based row numbers (clkhash-json input, which carries no tokens).
    RowIndex,
}

/// Reads an encodings file a chunk of records at a time, each chunk a [`Dataset`] of its own, so
/// that a file larger than memory can be linked against others chunk by chunk.
#[derive(Debug)]
pub struct Chunks<R> {
    reader: Reader<R>,
    header: kith_core::encodings::Header,
    chunk: usize,
    done: bool,
}

impl<R: BufRead> Chunks<R> {
    /// Read the header; chunks will hold up to `chunk` records.
    pub fn new(input: R, chunk: usize) -> Result<Chunks<R>, LinkError> {
        let reader = Reader::new(input)?;
        let header = reader.header().clone();
        Ok(Chunks {
            reader,
            header,
            chunk: chunk.max(1),
            done: false,
        })
    }

    /// The file's header.
    pub fn header(&self) -> &kith_core::encodings::Header {
        &self.header
    }

    /// The next chunk, `None` after the last record.
    pub fn next_chunk(&mut self) -> Result<Option<Dataset>, LinkError> {
        if self.done {
            return Ok(None);
        }
        let mut d = Dataset::from_header(&self.header);
        let cap = usize::try_from(self.header.records)
            .unwrap_or(0)
            .min(self.chunk)
            .min(1 << 24);
        // Every column at its final size at once: growing by doubling would hold up to three
        // times a national extract's field filters while the last copy is made.
        d.clks.reserve(cap * d.per);
        d.pop.reserve(cap);
        d.field_words.reserve(cap * d.field_stride);
        d.blocks.reserve(cap * d.block_names.len());
        d.records_expected = cap;
        if let Ids::Tokens(t) = &mut d.ids {
            t.reserve(cap);
        }
        while d.len < self.chunk {
            match self.reader.next_record()? {
                Some(row) => {
                    d.push(Some(row.token), &row.clk, &row.exact, &row.blocks)?;
                    d.push_fields(&row.fields)?;
                }
                None => {
                    self.done = true;
                    break;
                }
            }
        }
        Ok((d.len > 0).then_some(d))
    }
}

/// One partner's encodings.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// The party name (the `party` of a kith file, the stem of a clkhash-json file).
    pub source: String,
    /// Schema fingerprint, when the file carries one.
    pub fingerprint: Option<String>,
    /// Key check, when the file carries one.
    pub key_check: Option<String>,
    ids: Ids,
    bits: u32,
    per: usize,
    len: usize,
    clks: Vec<Block>,
    pop: Vec<u32>,
    exact_names: Vec<String>,
    /// Empty while no record has an exact token (an extract without NHS numbers need not hold
    /// one `None` per record).
    exact: Vec<Option<Token>>,
    /// Records the file's header announces (room for exact tokens is made for them at once).
    records_expected: usize,
    block_names: Vec<String>,
    /// Blocking tokens folded to the 32 bits blocking tables store ([`crate::block::fold`]), 0
    /// where missing (a token folding to 0 is stored as 1; the linkage party only compares them
    /// for equality, and a rare collision only merges two buckets).
    blocks: Vec<u32>,
    field_specs: Vec<FieldSpec>,
    /// (start, words) of each field filter within a record's `field_stride` words. A record's
    /// words start with its filters' popcounts, four 16-bit counts to a word, so that one
    /// record's field data is one contiguous run (one or two cache lines to fetch).
    field_spans: Vec<(usize, usize)>,
    field_stride: usize,
    field_words: Vec<u64>,
    /// The twin rule.
    pub twins: Option<TwinNames>,
}

impl Dataset {
    /// An empty dataset for CLKs of `bits` bits, with the named exact and blocking tokens.
    pub fn new(
        source: &str,
        bits: u32,
        with_tokens: bool,
        exact_names: Vec<String>,
        block_names: Vec<String>,
    ) -> Dataset {
        Dataset {
            source: source.to_owned(),
            fingerprint: None,
            key_check: None,
            ids: if with_tokens {
                Ids::Tokens(Vec::new())
            } else {
                Ids::RowIndex
            },
            bits,
            per: (bits as usize).div_ceil(512).max(1),
            len: 0,
            clks: Vec::new(),
            pop: Vec::new(),
            exact_names,
            exact: Vec::new(),
            records_expected: 0,
            block_names,
            blocks: Vec::new(),
            field_specs: Vec::new(),
            field_spans: Vec::new(),
            field_stride: 0,
            field_words: Vec::new(),
            twins: None,
        }
    }

    /// Declare field-level filters (before the first record is pushed).
    pub fn with_fields(mut self, specs: Vec<FieldSpec>) -> Dataset {
        assert_eq!(self.len, 0, "fields are declared before records");
        self.field_spans.clear();
        let mut at = specs.len().div_ceil(4);
        for f in &specs {
            self.field_spans.push((at, f.bits as usize / 64));
            at += f.bits as usize / 64;
        }
        self.field_stride = at;
        self.field_specs = specs;
        self
    }

    /// Add the field filters of the record just pushed (MSB-first bytes, `None` when missing).
    pub fn push_fields(&mut self, fields: &[Option<Vec<u8>>]) -> Result<(), LinkError> {
        assert_eq!(
            fields.len(),
            self.field_specs.len(),
            "one value per field filter"
        );
        assert_eq!(
            self.field_words.len(),
            (self.len - 1) * self.field_stride,
            "field filters follow their record"
        );
        let head = self.field_words.len();
        self.field_words
            .extend(std::iter::repeat_n(0, self.field_specs.len().div_ceil(4)));
        for (n, (f, spec)) in fields.iter().zip(&self.field_specs).enumerate() {
            let words = spec.bits as usize / 64;
            match f {
                None => {
                    self.field_words.extend(std::iter::repeat_n(0, words));
                }
                Some(bytes) => {
                    if bytes.len() * 8 != spec.bits as usize {
                        return Err(LinkError::Input(format!(
                            "record {}: field filter {} has {} bytes where {} bits need {}",
                            self.len,
                            spec.name,
                            bytes.len(),
                            spec.bits,
                            spec.bits / 8
                        )));
                    }
                    let mut pop = 0;
                    for chunk in bytes.chunks(8) {
                        let mut w = [0u8; 8];
                        w.copy_from_slice(chunk);
                        let word = u64::from_be_bytes(w);
                        pop += word.count_ones();
                        self.field_words.push(word);
                    }
                    self.field_words[head + n / 4] |= u64::from(pop) << (16 * (n % 4));
                }
            }
        }
        Ok(())
    }

    /// The field-level filters the records carry.
    pub fn field_specs(&self) -> &[FieldSpec] {
        &self.field_specs
    }

    /// All field filters of record `i`, end to end.
    pub fn field_words(&self, i: usize) -> &[u64] {
        &self.field_words[i * self.field_stride..(i + 1) * self.field_stride]
    }

    /// Field filter `f` of record `i` (all zero when missing) and its popcount (0 when missing).
    #[inline]
    pub fn field(&self, i: usize, f: usize) -> (&[u64], u32) {
        let rec = self.field_words(i);
        let (start, words) = self.field_spans[f];
        let pop = (rec[f / 4] >> (16 * (f % 4))) & 0xffff;
        (&rec[start..start + words], pop as u32)
    }

    /// Add a record. `clk` is MSB-first bytes, `ceil(bits / 8)` long, as in both file formats.
    pub fn push(
        &mut self,
        token: Option<Token>,
        clk: &[u8],
        exact: &[Option<Token>],
        blocks: &[Option<u64>],
    ) -> Result<(), LinkError> {
        let want = (self.bits as usize).div_ceil(8);
        if clk.len() != want {
            return Err(LinkError::Input(format!(
                "record {}: a CLK of {} bytes where {} bits need {want}",
                self.len + 1,
                clk.len(),
                self.bits
            )));
        }
        assert_eq!(
            exact.len(),
            self.exact_names.len(),
            "one value per exact identifier"
        );
        assert_eq!(
            blocks.len(),
            self.block_names.len(),
            "one value per blocking key"
        );
        match (&mut self.ids, token) {
            (Ids::Tokens(t), Some(tok)) => t.push(tok),
            (Ids::RowIndex, None) => {}
            _ => unreachable!("a dataset's records either all have tokens or none do"),
        }
        let start = self.clks.len();
        self.clks.resize(start + self.per, Block::default());
        let mut pop = 0;
        for (i, chunk) in clk.chunks(8).enumerate() {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            let word = u64::from_be_bytes(w);
            pop += word.count_ones();
            self.clks[start + i / 8].0[i % 8] = word;
        }
        self.pop.push(pop);
        if self.exact.is_empty() && exact.iter().any(Option::is_some) {
            // The first exact token: the records before it had none (none at all when this is
            // the first record, which then leaves the column empty until it is extended).
            self.exact
                .reserve(self.records_expected.max(self.len + 1) * exact.len());
            self.exact.resize(self.len * exact.len(), None);
            self.exact.extend_from_slice(exact);
        } else if !self.exact.is_empty() {
            self.exact.extend_from_slice(exact);
        }
        self.blocks.extend(
            blocks
                .iter()
                .map(|b| b.map_or(0, |v| crate::block::fold(v).max(1))),
        );
        self.len += 1;
        Ok(())
    }

    /// An empty dataset shaped by an encodings file's header.
    pub fn from_header(h: &kith_core::encodings::Header) -> Dataset {
        let mut d = Dataset::new(
            &h.party,
            h.clk_bits,
            true,
            h.exact.clone(),
            h.blocks.clone(),
        )
        .with_fields(h.fields.clone());
        d.fingerprint = Some(h.schema_fingerprint.clone());
        d.twins = h.twins.clone();
        d.key_check = Some(h.key_check.clone());
        d
    }

    /// Read a kith encodings file (the caller opens it).
    pub fn from_encodings<R: BufRead>(input: R) -> Result<Dataset, LinkError> {
        let mut reader = Chunks::new(input, usize::MAX)?;
        Ok(match reader.next_chunk()? {
            Some(d) => d,
            None => Dataset::from_header(reader.header()),
        })
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when there are no records.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// CLK length in bits.
    pub fn bits(&self) -> u32 {
        self.bits
    }

    /// Blocks per CLK.
    pub fn per(&self) -> usize {
        self.per
    }

    /// All CLKs, `per()` blocks each.
    pub fn clks(&self) -> &[Block] {
        &self.clks
    }

    /// CLK of record `i`.
    pub fn clk(&self, i: usize) -> &[Block] {
        &self.clks[i * self.per..(i + 1) * self.per]
    }

    /// Popcounts of all CLKs.
    pub fn popcounts(&self) -> &[u32] {
        &self.pop
    }

    /// A view of all records, for scoring.
    pub fn view(&self) -> crate::compare::View<'_> {
        crate::compare::View::new(&self.clks, &self.pop, self.per)
    }

    /// The record name written to outputs: its token in hex, or its row number.
    pub fn id(&self, i: usize) -> String {
        match &self.ids {
            Ids::Tokens(t) => kith_core::hex(&t[i]),
            Ids::RowIndex => i.to_string(),
        }
    }

    /// The ids.
    pub fn ids(&self) -> &Ids {
        &self.ids
    }

    /// Names of the exact identifiers.
    pub fn exact_names(&self) -> &[String] {
        &self.exact_names
    }

    /// Exact token `e` of record `i`.
    pub fn exact(&self, i: usize, e: usize) -> Option<&Token> {
        self.exact.get(i * self.exact_names.len() + e)?.as_ref()
    }

    /// Names of the blocking keys.
    pub fn block_names(&self) -> &[String] {
        &self.block_names
    }

    /// Blocking token `k` of record `i`, folded to 32 bits (see [`crate::block::fold`], which
    /// leaves it as it is); `None` where missing, and after [`Dataset::release_blocking_keys`].
    pub fn block(&self, i: usize, k: usize) -> Option<u64> {
        let v = self.blocks.get(i * self.block_names.len() + k).copied()?;
        (v != 0).then_some(u64::from(v))
    }

    /// Free the blocking keys (a tenth of a dataset's memory) once candidates are found: solving
    /// and writing do not use them.
    pub fn release_blocking_keys(&mut self) {
        self.blocks = Vec::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_tokens_are_found_wherever_the_first_one_comes() {
        // Two exact identifiers; the first records carry none, so nothing is held for them until
        // the third brings one.
        let mut d = Dataset::new(
            "x",
            64,
            false,
            vec!["nhs".into(), "upn".into()],
            vec!["k".into()],
        );
        let clk = [0u8; 8];
        for exact in [
            [None, None],
            [None, None],
            [None, Some([7; 16])],
            [Some([9; 16]), None],
        ] {
            d.push(None, &clk, &exact, &[Some(1)]).expect("record");
        }
        let got: Vec<[Option<Token>; 2]> = (0..4)
            .map(|i| [d.exact(i, 0).copied(), d.exact(i, 1).copied()])
            .collect();
        assert_eq!(
            got,
            [
                [None, None],
                [None, None],
                [None, Some([7; 16])],
                [Some([9; 16]), None]
            ]
        );
        let none = Dataset::new("y", 64, false, vec!["nhs".into()], Vec::new());
        assert_eq!(none.exact(0, 0), None);
        // The very first record carrying one (an extract sorted by token: its NHS number was
        // dropped, and so its exact match with another holder's record).
        let mut d = Dataset::new("z", 64, false, vec!["nhs".into()], Vec::new());
        for exact in [[Some([3; 16])], [None], [Some([4; 16])]] {
            d.push(None, &clk, &exact, &[]).expect("record");
        }
        let got: Vec<Option<Token>> = (0..3).map(|i| d.exact(i, 0).copied()).collect();
        assert_eq!(got, [Some([3; 16]), None, Some([4; 16])]);
    }

    #[test]
    fn released_blocking_keys_are_missing() {
        let mut d = Dataset::new("x", 64, false, Vec::new(), vec!["k".into()]);
        d.push(None, &[0u8; 8], &[], &[Some(1 << 40 | 5)])
            .expect("record");
        // Folded to the 32 bits blocking tables store.
        assert_eq!(
            d.block(0, 0),
            Some(u64::from(crate::block::fold(1 << 40 | 5)))
        );
        d.release_blocking_keys();
        assert_eq!(d.block(0, 0), None);
    }
}
