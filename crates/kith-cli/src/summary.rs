//! Progress bar and the end-of-run summary, both on stderr.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use kith::Encoder;

use crate::config::EncodeConfig;
use crate::flags::OutputFormat;

/// A byte-based progress bar, drawn only on a terminal and never with --quiet.
pub(crate) fn progress_bar(total: u64, quiet: bool) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} encoding [{bar:40}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta} left)",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// Missing and invalid counts of one field.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct FieldCounts {
    pub(crate) missing: u64,
    pub(crate) invalid: u64,
}

/// What `kith encode` did.
#[derive(Debug)]
pub(crate) struct EncodeSummary {
    input: String,
    output: String,
    format: OutputFormat,
    party: String,
    clk_bits: u32,
    fingerprint: String,
    key_check: String,
    fields: Vec<(String, bool)>,
    /// Criteria of the schema this holder does not hold.
    criteria_not_held: Vec<String>,
    /// Features and inputs the mapping does not mention (missing in every record).
    pub(crate) unmentioned: Vec<String>,
    counts: Vec<FieldCounts>,
    pub(crate) encoded: u64,
    pub(crate) written: u64,
    pub(crate) empty_clks: u64,
    pub(crate) skipped: BTreeMap<String, u64>,
    pub(crate) duplicates: u64,
    pub(crate) elapsed: Duration,
    pub(crate) threads: usize,
    /// The files read and written, for the run's manifest.
    pub(crate) hashes: EncodeHashes,
}

/// SHA-256 and size of each file an encode run read or wrote.
#[derive(Debug, Default)]
pub(crate) struct EncodeHashes {
    pub(crate) input: Option<crate::atomic::Committed>,
    pub(crate) output: Option<crate::atomic::Committed>,
    pub(crate) map: Option<crate::atomic::Committed>,
    pub(crate) rejects: Option<crate::atomic::Committed>,
}

impl EncodeSummary {
    pub(crate) fn new(
        cfg: &EncodeConfig,
        encoder: &Encoder,
        fields: Vec<(String, bool)>,
    ) -> EncodeSummary {
        let n = fields.len();
        EncodeSummary {
            input: cfg.input.display().to_string(),
            output: cfg.output.display().to_string(),
            format: cfg.format,
            party: cfg.party.clone(),
            clk_bits: encoder.clk_bits(),
            fingerprint: encoder.fingerprint().to_owned(),
            key_check: encoder.key_check().to_owned(),
            fields,
            criteria_not_held: cfg
                .schema
                .kith()
                .criteria
                .iter()
                .map(|c| c.name.clone())
                .filter(|c| !encoder.criteria_names().contains(&c.as_str()))
                .collect(),
            counts: vec![FieldCounts::default(); n],
            unmentioned: Vec::new(),
            encoded: 0,
            written: 0,
            empty_clks: 0,
            skipped: BTreeMap::new(),
            duplicates: 0,
            elapsed: Duration::ZERO,
            threads: 1,
            hashes: EncodeHashes::default(),
        }
    }

    /// The run's schema facts and counts, for its manifest (aggregates only).
    pub(crate) fn fill_manifest(&self, m: &mut crate::manifest::Manifest) {
        m.schema("fingerprint", &self.fingerprint);
        m.schema("key_check", &self.key_check);
        m.schema("clk_bits", self.clk_bits);
        m.count("rows_encoded", self.encoded);
        m.count("records_written", self.written);
        m.count("rows_skipped", self.skipped_total());
        m.count("skipped_by_reason", &self.skipped);
        m.count("duplicate_local_ids", self.duplicates);
        m.count("empty_clks", self.empty_clks);
        let fields: BTreeMap<&str, BTreeMap<&str, u64>> = self
            .fields
            .iter()
            .zip(&self.counts)
            .map(|((name, _), c)| {
                let counts = BTreeMap::from([("missing", c.missing), ("invalid", c.invalid)]);
                (name.as_str(), counts)
            })
            .collect();
        m.count("fields", fields);
        m.count("unmentioned_features", &self.unmentioned);
    }

    /// Add one batch's field counts.
    pub(crate) fn add_batch(&mut self, counts: &[FieldCounts], empty_clks: u64) {
        for (c, b) in self.counts.iter_mut().zip(counts) {
            c.missing += b.missing;
            c.invalid += b.invalid;
        }
        self.empty_clks += empty_clks;
    }

    pub(crate) fn count_skip(&mut self, reason: String) {
        *self.skipped.entry(reason).or_insert(0) += 1;
    }

    pub(crate) fn skipped_total(&self) -> u64 {
        self.skipped.values().sum()
    }

    pub(crate) fn render(&self) -> String {
        let mut s = String::new();
        let format = match self.format {
            OutputFormat::Kith => "kith encodings",
            OutputFormat::ClkhashJson => "clkhash JSON",
        };
        let _ = writeln!(
            s,
            "kith encode: {} records from {} written to {} ({format}, {}-bit CLKs, party {:?})",
            group(self.written),
            self.input,
            self.output,
            self.clk_bits,
            self.party
        );
        let skipped = self.skipped_total();
        if skipped == 0 {
            let _ = writeln!(s, "  rows skipped: 0");
        } else {
            let _ = writeln!(
                s,
                "  rows skipped: {} (listed in the rejects file if one was given)",
                group(skipped)
            );
            for (reason, n) in &self.skipped {
                let _ = writeln!(s, "    {:>9}  {reason}", group(*n));
            }
        }
        if self.format == OutputFormat::ClkhashJson && self.fields.iter().any(|(_, exact)| *exact) {
            let _ = writeln!(
                s,
                "  note: the clkhash JSON format holds CLKs only; exact-match tokens are written in the kith format"
            );
        }
        if self.empty_clks > 0 {
            let _ = writeln!(
                s,
                "  warning: {} records had no value in any CLK field (all-zero CLKs cannot link)",
                group(self.empty_clks)
            );
        }
        if !self.fields.is_empty() {
            let width = self
                .fields
                .iter()
                .map(|(n, e)| n.len() + if *e && !n.contains(' ') { 8 } else { 0 })
                .max()
                .unwrap_or(5)
                .max(5);
            let _ = writeln!(
                s,
                "  {:<width$}  {:>12}  {:>9}",
                "field", "missing", "invalid"
            );
            for ((name, exact), c) in self.fields.iter().zip(&self.counts) {
                // Household inputs and criteria come labelled already.
                let label = if *exact && !name.contains(' ') {
                    format!("{name} (exact)")
                } else {
                    name.clone()
                };
                let pct = if self.encoded > 0 {
                    100.0 * c.missing as f64 / self.encoded as f64
                } else {
                    0.0
                };
                let _ = writeln!(
                    s,
                    "  {label:<width$}  {:>12}  {:>9}",
                    format!("{} {pct:.1}%", group(c.missing)),
                    group(c.invalid)
                );
            }
            let _ = writeln!(
                s,
                "  (invalid values could not be read and were treated as missing; a blank flag is \"no\")"
            );
            for name in &self.unmentioned {
                let _ = writeln!(
                    s,
                    "  {name}: not in the mapping, so missing in every record"
                );
            }
            if !self.criteria_not_held.is_empty() {
                let _ = writeln!(
                    s,
                    "  criteria this holder does not hold (no flag sent): {}",
                    self.criteria_not_held.join(", ")
                );
            }
        }
        let secs = self.elapsed.as_secs_f64();
        let rate = if secs > 0.0 {
            (self.encoded as f64 / secs) as u64
        } else {
            0
        };
        let _ = writeln!(
            s,
            "  schema {}  key check {}",
            self.fingerprint, self.key_check
        );
        let _ = writeln!(
            s,
            "  {secs:.2} s, {} records/s, {} threads",
            group(rate),
            self.threads
        );
        s
    }
}

/// The hardening a filter or the CLK shares, in the order it is applied.
fn hardening_words(
    h: &mut Vec<String>,
    rule90: bool,
    rehash: Option<kith::schema::Rehash>,
    blip: Option<f64>,
    balance: bool,
) {
    if rule90 {
        h.push("rule 90".to_owned());
    }
    if let Some(r) = rehash {
        h.push(format!("rehashed ({}/{}/{})", r.window, r.step, r.k));
    }
    if let Some(e) = blip {
        h.push(format!("BLIP ε={e}"));
    }
    if balance {
        h.push("balanced".to_owned());
    }
}

/// What `kith schema` prints: the schema's shape and fingerprint, never anything secret.
pub(crate) fn describe_schema(schema: &kith::Schema) -> String {
    use kith::schema::{Comparison, HashKind, Strategy};
    let mut s = String::new();
    let clk = schema.clk();
    let _ = writeln!(
        s,
        "linkage schema v{} (read as v3{}), {}-bit CLKs{}",
        schema.source_version(),
        if schema.has_kith_section() {
            ", with a kith section"
        } else {
            ""
        },
        clk.l,
        if clk.xor_folds > 0 {
            format!(", {} XOR folds", clk.xor_folds)
        } else {
            String::new()
        }
    );
    let kdf = &clk.kdf;
    let bytes = |what: &str, v: &Option<Vec<u8>>| match v {
        Some(b) => format!("{what} of {} bytes", b.len()),
        None => format!("no {what}"),
    };
    let _ = writeln!(
        s,
        "  keys derived by HKDF-{}: {}-byte keys, {}, {}",
        match kdf.hash {
            kith::schema::KdfHash::Sha256 => "SHA256",
            kith::schema::KdfHash::Sha512 => "SHA512",
        },
        kdf.key_size,
        bytes("salt", &kdf.salt),
        bytes("info", &kdf.info)
    );
    let c = &schema.kith().clk;
    if c.any() {
        let mut h = Vec::new();
        if let Some(p) = &c.salt {
            h.push(format!("salted by {} of {}", p.transform.name(), p.feature));
        }
        if c.date_parts {
            h.push("dates hashed by their parts".to_owned());
        }
        hardening_words(&mut h, c.rule90, c.rehash, c.blip, c.balance);
        let _ = writeln!(
            s,
            "  CLK hardened (not clkhash's; clkhash-json refused): {}",
            h.join(", ")
        );
    }
    for f in schema.features() {
        let Some(h) = &f.hashing else {
            let _ = writeln!(s, "  {:<24} ignored", f.identifier);
            continue;
        };
        let cmp = match &h.comparison {
            Comparison::Ngram { n, positional } => {
                format!("{}{n}-grams", if *positional { "positional " } else { "" })
            }
            Comparison::Exact => "exact".to_owned(),
            Comparison::Numeric(c) => format!("numeric ±{}", c.threshold_distance),
        };
        let strategy = match h.strategy {
            Strategy::BitsPerToken(k) => format!("{k} bits per token"),
            Strategy::BitsPerFeature(k) => format!("{k} bits per feature"),
        };
        let hash = match h.hash {
            HashKind::Blake => "blakeHash",
            HashKind::Double {
                prevent_singularity: true,
            } => "doubleHash (prevent_singularity)",
            HashKind::Double {
                prevent_singularity: false,
            } => "doubleHash",
        };
        let norm = schema
            .kith()
            .normalize
            .get(&f.identifier)
            .map(|n| format!(", normalised as {}", n.name()))
            .unwrap_or_default();
        let _ = writeln!(s, "  {:<24} {cmp}, {strategy}, {hash}{norm}", f.identifier);
    }
    for e in &schema.kith().exact {
        let norm = e
            .normalize
            .as_ref()
            .map(|n| format!(", normalised as {}", n.name()))
            .unwrap_or_default();
        let _ = writeln!(s, "  {:<24} exact-match token (HMAC-SHA256){norm}", e.name);
    }
    for b in &schema.kith().blocking {
        let parts: Vec<String> = b
            .parts
            .iter()
            .map(|p| format!("{} of {}", p.transform.name(), p.feature))
            .collect();
        let _ = writeln!(
            s,
            "  {:<24} blocking key: {}",
            format!("block:{}", b.name),
            parts.join(" + ")
        );
    }
    for f in &schema.kith().fields {
        let mut h = vec![format!("{} hashing", f.hash.name())];
        if let Some(p) = &f.salt {
            h.push(format!("salted by {} of {}", p.transform.name(), p.feature));
        }
        if f.folds > 0 {
            h.push(format!("folded {}×", f.folds));
        }
        hardening_words(&mut h, f.rule90, f.rehash, f.blip, f.balance);
        let _ = writeln!(
            s,
            "  {:<24} field filter: {} bits, {} bits per token, key group {}; {}",
            format!("field:{}", f.feature),
            f.encoded_bits(),
            f.k,
            f.group,
            h.join(", ")
        );
    }
    if let Some(t) = &schema.kith().twins {
        let _ = writeln!(
            s,
            "  twin rule: {} agreeing while {} differs marks possible twins{}",
            t.agree.join(" and "),
            t.differ.join(" or "),
            if t.personal.is_empty() {
                String::new()
            } else {
                format!(", unless {} agrees", t.personal.join(" or "))
            }
        );
    }
    if let Some(h) = &schema.kith().household {
        let mut parts = Vec::new();
        if let Some(d) = &h.dwelling {
            parts.push(format!(
                "a dwelling token from feature {} and the premise (house and flat numbers) of input {}, and a street token from the postcode and the line's street word",
                d.postcode, d.address
            ));
        }
        if let Some(r) = &h.register {
            parts.push(format!(
                "a register token from input {r}, keyed to each holder"
            ));
        }
        let _ = writeln!(s, "  household: {}", parts.join("; "));
    }
    let criteria = &schema.kith().criteria;
    if !criteria.is_empty() {
        let _ = writeln!(
            s,
            "  criteria flags (yes/no, sent as flags only): {}",
            criteria
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let _ = writeln!(s, "fingerprint {}", schema.fingerprint());
    s
}

/// 1234567 as "1,234,567".
pub(crate) fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn groups_thousands() {
        assert_eq!(super::group(0), "0");
        assert_eq!(super::group(999), "999");
        assert_eq!(super::group(1000), "1,000");
        assert_eq!(super::group(1234567), "1,234,567");
    }
}
