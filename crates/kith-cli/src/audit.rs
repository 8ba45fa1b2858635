//! `kith audit`: what a linkage party could learn from encodings made with a schema.
//!
//! The audit plays both sides on synthetic data where the answer is known: a victim population's
//! extract is encoded with the schema under a throwaway secret, and an attacker who holds only the
//! encodings, the schema and a frequency table from another population of the same kind runs the
//! attacks of `kith_link::audit` on them. It reports, per field filter and for the CLK, the share
//! of records each attack names correctly, the group sizes of the deterministic tokens, and a
//! verdict against kith's targets (`docs/privacy.md`).

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use kith::normalize::{Normalized, Normalizer};
use kith::schema::{FieldFilter, FieldTokens};
use kith::{Encoder, EncoderOptions, Layout, Mapping, RecordInput, Schema, Scratch, Secret};
use kith_link::audit::{self, Dictionary, Entry, Filters, Success};
use kith_link::dataset::Dataset;
use kith_synth::{Agency, extract};
use serde::Serialize;

use crate::atomic::AtomicFile;
use crate::config::read_schema;
use crate::flags::AuditArgs;

/// What share of records an attack may name before the audit fails the schema.
const FULL_NAME_LIMIT: f64 = 0.01;
const DOB_LIMIT: f64 = 0.01;
const SURNAME_LIMIT: f64 = 0.05;
/// Filters with noise (BLIP) are grouped, and decoded by the bootstrap, when their Dice
/// coefficient reaches this; filters without, when it reaches `EXACT_MIN_DICE`.
const NOISY_MIN_DICE: f64 = 0.6;
const EXACT_MIN_DICE: f64 = 0.8;
/// A CLK is decoded to a value when it sets this share of the value's learned bits.
const CLK_MIN_SHARE: f64 = 0.9;
/// The bootstrap is seeded with the frequency alignment's guesses of the most common values.
const SEED_RANKS: u32 = 20;
/// Shared-bit thresholds the year-class attack tries (0: the one the filter's `k` suggests).
const YEAR_THRESHOLDS: [u32; 6] = [0, 10, 20, 30, 40, 50];
/// True for a filter made of a date's parts (`"date"` or `"date_parts"` tokens), whose year tokens
/// an attacker can group records by.
fn by_date_parts(tokens: FieldTokens) -> bool {
    matches!(tokens, FieldTokens::Date | FieldTokens::DateParts)
}

/// Group size under which a record counts as nearly alone on a token.
const SMALL_GROUP: u64 = 5;

/// The audit's findings.
#[derive(Debug, Serialize)]
pub(crate) struct Audit {
    pub(crate) schema_fingerprint: String,
    pub(crate) records: usize,
    pub(crate) attacker_records: usize,
    pub(crate) fields: Vec<FieldFindings>,
    pub(crate) clk_alignment: f64,
    /// The cascade into the CLK: per name feature, the share of records whose value a bootstrap
    /// on the CLKs, seeded by the field filters' guesses, names; and both names.
    pub(crate) clk_names: Vec<(String, f64)>,
    pub(crate) clk_full_name: Option<f64>,
    /// The CLKs attacked alone, with no seeds (pattern mining, graph matching, bootstrap): per
    /// name feature the share of records named right, and both names.
    pub(crate) clk_seedless: Vec<(String, f64)>,
    pub(crate) clk_seedless_full_name: Option<f64>,
    pub(crate) full_name: Option<f64>,
    pub(crate) groups: Vec<audit::groups::GroupSizes>,
    pub(crate) verdict: Verdict,
    /// The attacks on a real encodings file, when one was given.
    pub(crate) file: Option<FileFindings>,
}

/// What the attacks make of a real encodings file. There is no truth, so decodes are counted,
/// not checked: the simulation's precision says how far to trust them.
#[derive(Debug, Serialize)]
pub(crate) struct FileFindings {
    pub(crate) path: String,
    pub(crate) records: usize,
    pub(crate) fields: Vec<FileField>,
    /// The seedless CLK attack: per name feature, the share of records decoded with confidence.
    pub(crate) clk_seedless: Vec<(String, f64)>,
    pub(crate) groups: Vec<audit::groups::GroupSizes>,
}

#[derive(Debug, Serialize)]
pub(crate) struct FileField {
    pub(crate) field: String,
    pub(crate) with_filter: usize,
    pub(crate) distinct: usize,
    /// Share of records the bootstrap decodes to a value with confidence.
    pub(crate) decoded: f64,
    /// Date filters: classes holding at least one record in a thousand, and the share of records
    /// in them.
    pub(crate) year_classes: Option<(usize, f64)>,
}

/// One field filter's findings.
#[derive(Debug, Serialize)]
pub(crate) struct FieldFindings {
    pub(crate) field: String,
    /// What the field holds, as its normaliser says: name, forename, date, ...
    pub(crate) kind: String,
    /// Records with a filter, and distinct filters among them.
    pub(crate) with_filter: usize,
    pub(crate) distinct: usize,
    /// Share of all records named correctly, and share of guesses right, per attack.
    pub(crate) alignment: Shares,
    pub(crate) mining: Shares,
    pub(crate) bootstrap: Shares,
    /// Share named right by a bootstrap on all the filters of this one's key group together.
    pub(crate) key_group: Option<f64>,
    /// Date filters: share of records grouped with exactly the others of their year of birth,
    /// and share whose year the groups' sizes name.
    pub(crate) year_grouped: Option<f64>,
    pub(crate) year_named: Option<f64>,
    /// The best attack's share.
    pub(crate) best: f64,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct Shares {
    pub(crate) records: f64,
    pub(crate) precision: f64,
}

#[allow(dead_code)]
impl From<Success> for Shares {
    fn from(s: Success) -> Shares {
        Shares {
            records: s.share(),
            precision: s.precision(),
        }
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct Verdict {
    pub(crate) pass: bool,
    pub(crate) reasons: Vec<String>,
}

/// One synthetic extract through the schema: each record's raw feature values, and its keyed
/// inputs joined by U+001F.
struct Side {
    values: Vec<Vec<String>>,
    exact: Vec<String>,
}

/// What the attacker knows: another population like the victim's, or a frequency table.
enum Attacker {
    Population(Side),
    /// Feature → raw value → count, from `--frequencies`.
    Table(BTreeMap<String, BTreeMap<String, u64>>),
}

impl Attacker {
    /// Records (or, for a table, the largest feature total) the attacker's knowledge comes from.
    fn size(&self) -> usize {
        match self {
            Attacker::Population(p) => p.values.len(),
            Attacker::Table(t) => t
                .values()
                .map(|v| v.values().sum::<u64>() as usize)
                .max()
                .unwrap_or(0),
        }
    }
}

/// Read a frequency table: CSV with a header `feature,value,count`.
fn read_table(path: &std::path::Path) -> Result<BTreeMap<String, BTreeMap<String, u64>>> {
    let mut r = csv::Reader::from_path(path)
        .with_context(|| format!("cannot read the frequency table {}", path.display()))?;
    let headers = r
        .headers()
        .with_context(|| format!("{}: line 1", path.display()))?
        .clone();
    if headers.iter().collect::<Vec<_>>() != ["feature", "value", "count"] {
        bail!(
            "{}: line 1 (header): expected the columns feature,value,count",
            path.display()
        );
    }
    let mut out: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for (n, rec) in r.records().enumerate() {
        let line = n + 2;
        let rec = rec.with_context(|| format!("{}: line {line}", path.display()))?;
        let count: u64 = rec[2].trim().parse().map_err(|_| {
            anyhow::anyhow!(
                "{}: line {line}, field count: expected a whole number, found {:?}",
                path.display(),
                &rec[2]
            )
        })?;
        *out.entry(rec[0].to_owned())
            .or_default()
            .entry(rec[1].to_owned())
            .or_default() += count;
    }
    Ok(out)
}

pub(crate) fn run(args: &AuditArgs, quiet: bool) -> Result<()> {
    let schema = read_schema(&args.schema)?;
    if schema.kith().fields.is_empty() && args.people == 0 {
        bail!("nothing to audit");
    }
    let agency = Agency::ALL
        .iter()
        .copied()
        .find(|a| a.name() == args.agency)
        .with_context(|| {
            format!(
                "--agency {:?} is not one of council, health, police, school",
                args.agency
            )
        })?;
    let mapping = match &args.mapping {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read {}", p.display()))?;
            Mapping::from_json_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?
        }
        None => {
            let mut m = Mapping::from_json_str(&agency.mapping_json())
                .map_err(|e| anyhow::anyhow!("the synthetic {} mapping: {e}", agency.name()))?;
            // The synthetic extract feeds the inputs of the demo schema's names that this schema
            // has; the rest of this schema's features are missing in every record.
            let known: Vec<&str> = schema
                .features()
                .iter()
                .map(|f| f.identifier.as_str())
                .chain(schema.kith().keyed_inputs().into_iter().map(|(n, _)| n))
                .collect();
            m.columns.retain(|name, _| known.contains(&name.as_str()));
            m
        }
    };
    if !quiet {
        eprintln!(
            "kith audit: {} synthetic people, {}'s extract, encoded with a throwaway secret; the attacker's frequency table from another {} people",
            args.people,
            agency.name(),
            args.people
        );
        let unfed: Vec<&str> = schema
            .kith()
            .fields
            .iter()
            .map(|f| f.feature.as_str())
            .filter(|f| mapping.columns.get(*f).is_none_or(Option::is_none))
            .collect();
        if !unfed.is_empty() {
            eprintln!(
                "kith audit: the synthetic extract has no values for {}, so their filters are not attacked; give --mapping to feed them from its columns, or --encodings to attack a real file",
                unfed.join(", ")
            );
        }
    }
    let victim = synthetic(&schema, &mapping, agency, args.people, args.seed)?;
    let attacker = match &args.frequencies {
        Some(path) => Attacker::Table(read_table(path)?),
        None => Attacker::Population(synthetic(
            &schema,
            &mapping,
            agency,
            args.people,
            args.seed ^ 0x5eed_a77a,
        )?),
    };
    let mut findings = attack(&schema, &mapping, &victim, &attacker, args.seed)?;
    if let Some(path) = &args.encodings {
        findings.file = Some(attack_file(&schema, &attacker, path)?);
    }
    let mut text = lines(&findings).join("\n");
    text.push('\n');
    std::io::Write::write_all(&mut std::io::stdout(), text.as_bytes())
        .context("cannot write to standard output")?;
    if let Some(path) = &args.json {
        let mut out = AtomicFile::create(path)?;
        serde_json::to_writer_pretty(out.writer(), &findings).context("cannot write the audit")?;
        out.commit()?;
    }
    if args.strict && !findings.verdict.pass {
        bail!("the schema fails the audit");
    }
    Ok(())
}

/// A synthetic population's extract for `agency`, as the layout picks each record's values.
fn synthetic(
    schema: &Schema,
    mapping: &Mapping,
    agency: Agency,
    people: usize,
    seed: u64,
) -> Result<Side> {
    let pop = kith_synth::population(people, seed);
    let ext = extract(&pop, agency, seed);
    let header: Vec<String> = agency.header().iter().map(|s| (*s).to_owned()).collect();
    let refs: Vec<&str> = header.iter().map(String::as_str).collect();
    let layout = Layout::resolve(schema, Some(mapping), None, &refs)
        .map_err(|e| anyhow::anyhow!("the synthetic {} extract: {e}", agency.name()))?;
    let mut values = Vec::with_capacity(ext.rows.len());
    let (mut f, mut x) = (Vec::new(), Vec::new());
    let mut exact = Vec::with_capacity(ext.rows.len());
    for row in &ext.rows {
        let cells: Vec<&str> = row.iter().map(String::as_str).collect();
        layout.extract(&cells, &mut f, &mut x);
        values.push(f.iter().map(|s| (*s).to_owned()).collect());
        exact.push(
            x.iter()
                .map(|s| (*s).to_owned())
                .collect::<Vec<String>>()
                .join("\u{1f}"),
        );
    }
    Ok(Side { values, exact })
}

/// The throwaway secret of a simulated attack on seed `seed`'s population: drawn from the seed, so
/// that one seed gives one set of findings (the attacks' success varies from key to key). It
/// protects nothing: the records are synthetic and the attacker is never given it.
fn throwaway_secret(seed: u64) -> Result<Secret> {
    // splitmix64.
    let mut state = seed ^ 0x6b69_7468_2061_7564;
    let bytes: Vec<u8> = (0..4)
        .flat_map(|_| {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            (z ^ (z >> 31)).to_be_bytes()
        })
        .collect();
    Secret::new(bytes).context("the throwaway secret")
}

fn attack(
    schema: &Schema,
    mapping: &Mapping,
    victim: &Side,
    attacker: &Attacker,
    seed: u64,
) -> Result<Audit> {
    let secret = throwaway_secret(seed)?;
    let options = EncoderOptions {
        extra_date_formats: mapping.date_formats.clone(),
        ..EncoderOptions::default()
    };
    let encoder = Encoder::new(schema, &secret, "audit", &options).context("cannot derive keys")?;
    drop(secret);
    // Encode the victim's extract and read it back as the linkage party would.
    let mut text = String::new();
    let mut scratch = Scratch::default();
    let mut written = 0u64;
    let mut kept: Vec<usize> = Vec::new();
    let mut records = Vec::new();
    for (i, (values, exact)) in victim.values.iter().zip(&victim.exact).enumerate() {
        let features: Vec<&str> = values.iter().map(String::as_str).collect();
        let exact: Vec<&str> = if encoder.input_names().is_empty() {
            Vec::new()
        } else {
            exact.split('\u{1f}').collect()
        };
        let id = i.to_string();
        let input = RecordInput::new(&features, &exact, Some(&id));
        if let Ok(rec) = encoder.encode(&mut scratch, &input) {
            let Some(token) = rec.token else { continue };
            kith::encodings::record_line(&token, rec, &mut text);
            written += 1;
            kept.push(i);
            records.push(rec.clone());
        }
    }
    let mut file = Vec::new();
    encoder
        .header(schema, written)
        .write(&mut file)
        .context("cannot write the encodings")?;
    file.extend_from_slice(text.as_bytes());
    // Rows are read back in written order (the audit does not sort them by token).
    let ds = Dataset::from_encodings(file.as_slice()).context("cannot read the encodings back")?;
    let feature_index: BTreeMap<&str, usize> = schema
        .features()
        .iter()
        .enumerate()
        .map(|(i, f)| (f.identifier.as_str(), i))
        .collect();
    let mut fields = Vec::new();
    let mut name_guesses: Vec<Vec<bool>> = Vec::new();
    let mut date_classes: Vec<DateClasses> = Vec::new();
    let mut forename_guesses: Option<(usize, Vec<Option<String>>)> = None;
    // Name fields: (feature, its index, the attacker's best guess per record, the truth).
    let mut name_fields: Vec<NameGuesses> = Vec::new();
    for (fi, spec) in schema.kith().fields.iter().enumerate() {
        let Some(&feature) = feature_index.get(spec.feature.as_str()) else {
            continue;
        };
        let normalizer = schema.kith().normalize.get(&spec.feature);
        let normal = |raw: &str| normal_value(schema, &spec.feature, raw);
        let salt_of = |values: &[String]| salt_value(schema, spec, &feature_index, values);
        let dicts = dictionaries(schema, spec, &feature_index, attacker);
        let truth_owned: Vec<Option<String>> = kept
            .iter()
            .map(|&i| normal(&victim.values[i][feature]))
            .collect();
        let all_filters = Filters::field(&ds, fi);
        let mut by_salt: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (r, &i) in kept.iter().enumerate() {
            by_salt
                .entry(salt_of(&victim.values[i]))
                .or_default()
                .push(r);
        }
        let noisy = spec.blip.is_some();
        let mut aligned_right = vec![false; kept.len()];
        let mut mined_right = vec![false; kept.len()];
        let mut boot_right = vec![false; kept.len()];
        // The attacker's best guess per record: the bootstrap's, else mining's, else alignment's.
        let mut guessed: Vec<Option<String>> = vec![None; kept.len()];
        let empty = Dictionary::default();
        for (salt, records) in &by_salt {
            let dict = dicts.get(salt).or(dicts.get("")).unwrap_or(&empty);
            let filters = all_filters.select(records);
            let truth: Vec<Option<&str>> =
                records.iter().map(|&r| truth_owned[r].as_deref()).collect();
            // With noise, equal values give nearly equal filters: both attacks work on groups of
            // those, with the bits most members set.
            let groups = if noisy {
                audit::similar_groups(&filters, NOISY_MIN_DICE)
            } else {
                filters.groups()
            };
            let aligned = audit::align_groups(filters.len(), &groups, dict);
            let mined = audit::mine_groups(&filters, &groups, dict, spec.k);
            // What mining decoded seeds the bootstrap, and the alignment's top ranks where mining
            // found nothing.
            let seeds: Vec<Option<u32>> = mined
                .iter()
                .zip(&aligned)
                .map(|(m, a)| m.or(a.filter(|&v| v < SEED_RANKS)))
                .collect();
            let min_dice = if noisy {
                NOISY_MIN_DICE
            } else {
                EXACT_MIN_DICE
            };
            let booted =
                audit::bootstrap(&filters, dict, spec.k, &seeds, min_dice, audit::Fit::Whole);
            for (n, &r) in records.iter().enumerate() {
                guessed[r] = booted[n]
                    .or(mined[n])
                    .or(aligned[n])
                    .map(|g| dict.entries[g as usize].value.clone());
                aligned_right[r] = is_right(aligned[n], dict, truth[n]);
                mined_right[r] = is_right(mined[n], dict, truth[n]);
                boot_right[r] = is_right(booted[n], dict, truth[n]);
            }
        }
        let filters = all_filters;
        let groups = filters.groups();
        let dict = dicts.get("").cloned().unwrap_or_default();
        let with_filter = (0..filters.len())
            .filter(|&i| filters.get(i).is_some())
            .count();
        let share = |v: &[bool]| v.iter().filter(|x| **x).count() as f64 / kept.len().max(1) as f64;
        let alignment = Shares {
            records: share(&aligned_right),
            precision: share(&aligned_right) * kept.len() as f64 / with_filter.max(1) as f64,
        };
        let mining = Shares {
            records: share(&mined_right),
            precision: share(&mined_right) * kept.len() as f64 / with_filter.max(1) as f64,
        };
        let bootstrap = Shares {
            records: share(&boot_right),
            precision: share(&boot_right) * kept.len() as f64 / with_filter.max(1) as f64,
        };
        let kind = normalizer.map_or("text", Normalizer::name).to_owned();
        let (mut year_grouped, mut year_named) = (None, None);
        if by_date_parts(spec.tokens) && spec.salt.is_none() {
            let years: Vec<Option<String>> = truth_owned
                .iter()
                .map(|t| t.as_ref().map(|d| d.get(..4).unwrap_or(d).to_owned()))
                .collect();
            // The year's token five times over sets about 5k bits, noise keeps most of them; a
            // transform (rule 90, rehashing, folding) changes how many a year's filters share, so
            // an attacker tries several thresholds. The audit reports the best, an upper bound
            // on what choosing by the classes' sizes alone would give.
            let ranked = attacker_years(&dict);
            let (classes, grouped, named) = YEAR_THRESHOLDS
                .iter()
                .map(|&t| if t == 0 { spec.k * 15 / 4 } else { t })
                .map(|t| {
                    let classes = audit::dates::year_classes(&filters, t);
                    let (grouped, named) = score_years(&classes, &years, &ranked);
                    (classes, grouped, named)
                })
                .max_by(|a, b| a.1.total_cmp(&b.1).then(a.2.total_cmp(&b.2)))
                .unwrap_or_default();
            year_grouped = Some(grouped);
            year_named = Some(named);
            date_classes.push(DateClasses {
                field: fields.len(),
                classes,
                years,
            });
        }
        if matches!(normalizer, Some(Normalizer::Name | Normalizer::Forename)) {
            name_fields.push((
                spec.feature.clone(),
                feature,
                guessed.clone(),
                truth_owned.clone(),
            ));
        }
        if matches!(normalizer, Some(Normalizer::Forename)) {
            forename_guesses = Some((feature, guessed));
        }
        // Per record: is the value named right by either attack?
        let right: Vec<bool> = (0..kept.len())
            .map(|r| aligned_right[r] || mined_right[r] || boot_right[r])
            .collect();
        if matches!(normalizer, Some(Normalizer::Name | Normalizer::Forename)) {
            name_guesses.push(right.clone());
        }
        let best = right.iter().filter(|r| **r).count() as f64 / right.len().max(1) as f64;
        fields.push(FieldFindings {
            field: spec.feature.clone(),
            kind,
            with_filter,
            distinct: groups.len(),
            alignment,
            mining,
            bootstrap,
            key_group: None,
            year_grouped,
            year_named,
            best,
        });
    }
    // Year classes named by the forenames decoded in them: forenames follow the years people were
    // born in, and the attacker's table says how.
    if let Some((feature, guessed)) = &forename_guesses {
        let dob = schema
            .kith()
            .fields
            .iter()
            .find(|f| by_date_parts(f.tokens))
            .and_then(|f| feature_index.get(f.feature.as_str()).copied());
        if let (Some(dob), Attacker::Population(attacker)) = (dob, attacker) {
            let table = forenames_by_year(schema, attacker, *feature, dob);
            for d in &date_classes {
                let named = name_years_by_forename(&d.classes, guessed, &table, &d.years);
                let f = &mut fields[d.field];
                f.year_named = Some(f.year_named.unwrap_or(0.0).max(named));
            }
        }
    }
    // Filters of one key group share a key, so a bigram sets the same bits in a forename's filter
    // as in a surname's: what one field gave away seeds a bootstrap on all of them together.
    let mut group_rights: BTreeMap<String, Vec<bool>> = BTreeMap::new();
    let mut by_group: BTreeMap<&str, Vec<(usize, &FieldFilter, &NameGuesses)>> = BTreeMap::new();
    for (fi, spec) in schema.kith().fields.iter().enumerate() {
        if let Some(n) = name_fields.iter().find(|n| n.0 == spec.feature) {
            by_group
                .entry(spec.group.as_str())
                .or_default()
                .push((fi, spec, n));
        }
    }
    for members in by_group.values().filter(|m| m.len() >= 2) {
        let mut entries: BTreeMap<String, Entry> = BTreeMap::new();
        for (_, spec, _) in members {
            let Some(dict) = dictionaries(schema, spec, &feature_index, attacker).remove("") else {
                continue;
            };
            for e in dict.entries {
                entries
                    .entry(e.value.clone())
                    .and_modify(|x| x.count += e.count)
                    .or_insert(e);
            }
        }
        let dict = Dictionary::new(entries.into_values().collect());
        let index: BTreeMap<&str, u32> = dict
            .entries
            .iter()
            .enumerate()
            .map(|(i, e)| (e.value.as_str(), i as u32))
            .collect();
        let parts: Vec<Filters> = members
            .iter()
            .map(|(fi, _, _)| Filters::field(&ds, *fi))
            .collect();
        let merged = Filters::concat(&parts);
        let seeds: Vec<Option<u32>> = members
            .iter()
            .flat_map(|(_, _, n)| n.2.iter())
            .map(|g| g.as_deref().and_then(|g| index.get(g).copied()))
            .collect();
        let noisy = members.iter().any(|(_, s, _)| s.blip.is_some());
        let min_dice = if noisy {
            NOISY_MIN_DICE
        } else {
            EXACT_MIN_DICE
        };
        let booted = audit::bootstrap(
            &merged,
            &dict,
            members[0].1.k,
            &seeds,
            min_dice,
            audit::Fit::Whole,
        );
        for (m, (_, spec, n)) in members.iter().enumerate() {
            let right: Vec<bool> = (0..kept.len())
                .map(|r| is_right(booted[m * kept.len() + r], &dict, n.3[r].as_deref()))
                .collect();
            group_rights.insert(spec.feature.clone(), right);
        }
    }
    for f in &mut fields {
        if let Some(right) = group_rights.get(&f.field) {
            let share = right.iter().filter(|r| **r).count() as f64 / kept.len().max(1) as f64;
            f.key_group = Some(share);
            f.best = f.best.max(share);
        }
    }
    for (n, right) in name_fields.iter().zip(&mut name_guesses) {
        if let Some(g) = group_rights.get(&n.0) {
            right.iter_mut().zip(g).for_each(|(a, b)| *a |= *b);
        }
    }
    // The cascade into the CLK: what the field filters gave away seeds a bootstrap on the CLKs
    // themselves, feature by feature.
    let clk_filters = Filters::clk(&ds);
    let mut clk_names = Vec::new();
    let mut clk_rights: Vec<Vec<bool>> = Vec::new();
    for (name, feature, guessed, truth) in &name_fields {
        let Some((dict, k)) = clk_dictionary(schema, name, *feature, attacker) else {
            continue;
        };
        let index: BTreeMap<&str, u32> = dict
            .entries
            .iter()
            .enumerate()
            .map(|(i, e)| (e.value.as_str(), i as u32))
            .collect();
        let seeds: Vec<Option<u32>> = guessed
            .iter()
            .map(|g| g.as_deref().and_then(|g| index.get(g).copied()))
            .collect();
        let booted = audit::bootstrap(
            &clk_filters,
            &dict,
            k,
            &seeds,
            CLK_MIN_SHARE,
            audit::Fit::Within,
        );
        let right: Vec<bool> = booted
            .iter()
            .zip(truth)
            .map(|(g, t)| is_right(*g, &dict, t.as_deref()))
            .collect();
        clk_names.push((
            name.clone(),
            right.iter().filter(|r| **r).count() as f64 / kept.len().max(1) as f64,
        ));
        clk_rights.push(right);
    }
    let seedless = clk_patterns(schema, attacker, victim, &kept, &clk_filters);
    let share_of = |v: &[bool]| v.iter().filter(|x| **x).count() as f64 / kept.len().max(1) as f64;
    let clk_seedless: Vec<(String, f64)> = seedless
        .iter()
        .map(|(n, r)| (n.clone(), share_of(r)))
        .collect();
    let clk_seedless_full_name = (seedless.len() >= 2).then(|| {
        share_of(
            &(0..kept.len())
                .map(|r| seedless.iter().all(|(_, g)| g[r]))
                .collect::<Vec<bool>>(),
        )
    });
    let clk_full_name = (clk_rights.len() >= 2).then(|| {
        (0..kept.len())
            .filter(|&r| clk_rights.iter().all(|g| g[r]))
            .count() as f64
            / kept.len().max(1) as f64
    });
    let full_name = (name_guesses.len() >= 2).then(|| {
        let n = kept.len().max(1);
        (0..kept.len())
            .filter(|&r| name_guesses.iter().all(|g| g[r]))
            .count() as f64
            / n as f64
    });
    // Whole-CLK alignment: equal CLKs in the victim's encodings are one group; the attacker
    // cannot compute a CLK's value, so the best it can do is rank groups, which only names
    // anything when whole records repeat.
    let clk_groups = Filters::clk(&ds).groups();
    let clk_alignment = clk_groups
        .iter()
        .filter(|g| g.records.len() > 1)
        .map(|g| g.records.len())
        .sum::<usize>() as f64
        / ds.len().max(1) as f64;
    let mut groups = Vec::new();
    for (b, name) in encoder.block_names().iter().enumerate() {
        groups.push(audit::groups::group_sizes(
            &format!("block:{name}"),
            records.iter().map(|r| r.blocks[b]),
            SMALL_GROUP,
        ));
    }
    for (h, name) in encoder.house_names().iter().enumerate() {
        groups.push(audit::groups::group_sizes(
            &format!("house:{name}"),
            records.iter().map(|r| r.house[h]),
            SMALL_GROUP,
        ));
    }
    let verdict = verdict(
        &fields,
        full_name,
        &[
            (
                "bootstrapped from the field filters",
                &clk_names,
                clk_full_name,
            ),
            (
                "alone, with no seeds",
                &clk_seedless,
                clk_seedless_full_name,
            ),
        ],
    );
    Ok(Audit {
        schema_fingerprint: schema.fingerprint().to_owned(),
        records: ds.len(),
        attacker_records: attacker.size(),
        fields,
        clk_alignment,
        clk_names,
        clk_full_name,
        clk_seedless,
        clk_seedless_full_name,
        full_name,
        groups,
        verdict,
        file: None,
    })
}

/// Run the attacks on a real encodings file made with `schema`.
fn attack_file(
    schema: &Schema,
    attacker: &Attacker,
    path: &std::path::Path,
) -> Result<FileFindings> {
    let open = || {
        std::fs::File::open(path)
            .map(std::io::BufReader::new)
            .with_context(|| format!("cannot read {}", path.display()))
    };
    let ds = Dataset::from_encodings(open()?).with_context(|| format!("{}", path.display()))?;
    if ds.fingerprint.as_deref() != Some(schema.fingerprint()) {
        bail!(
            "{} was made with another schema (fingerprint {}, not {})",
            path.display(),
            ds.fingerprint.as_deref().unwrap_or("none"),
            schema.fingerprint()
        );
    }
    let feature_index: BTreeMap<&str, usize> = schema
        .features()
        .iter()
        .enumerate()
        .map(|(i, f)| (f.identifier.as_str(), i))
        .collect();
    let mut fields = Vec::new();
    for (fi, spec) in schema.kith().fields.iter().enumerate() {
        let filters = Filters::field(&ds, fi);
        let with_filter = (0..filters.len())
            .filter(|&i| filters.get(i).is_some())
            .count();
        let groups = if spec.blip.is_some() {
            audit::similar_groups(&filters, NOISY_MIN_DICE)
        } else {
            filters.groups()
        };
        // A salted filter needs each record's salt, which a file does not show: not decoded.
        let decoded = match dictionaries(schema, spec, &feature_index, attacker).remove("") {
            Some(dict) if spec.salt.is_none() => {
                let aligned = audit::align_groups(filters.len(), &groups, &dict);
                let mined = audit::mine_groups(&filters, &groups, &dict, spec.k);
                let seeds: Vec<Option<u32>> = mined
                    .iter()
                    .zip(&aligned)
                    .map(|(m, a)| m.or(a.filter(|&v| v < SEED_RANKS)))
                    .collect();
                let min_dice = if spec.blip.is_some() {
                    NOISY_MIN_DICE
                } else {
                    EXACT_MIN_DICE
                };
                let booted =
                    audit::bootstrap(&filters, &dict, spec.k, &seeds, min_dice, audit::Fit::Whole);
                booted.iter().filter(|g| g.is_some()).count() as f64 / ds.len().max(1) as f64
            }
            _ => 0.0,
        };
        let year_classes = by_date_parts(spec.tokens).then(|| {
            let classes = audit::dates::year_classes(&filters, spec.k * 15 / 4);
            let mut sizes: BTreeMap<u32, usize> = BTreeMap::new();
            for c in classes.iter().flatten() {
                *sizes.entry(*c).or_default() += 1;
            }
            let floor = ds.len().div_ceil(1000);
            let big: Vec<usize> = sizes.values().copied().filter(|&n| n >= floor).collect();
            (
                big.len(),
                big.iter().sum::<usize>() as f64 / ds.len().max(1) as f64,
            )
        });
        fields.push(FileField {
            field: spec.feature.clone(),
            with_filter,
            distinct: groups.len(),
            decoded,
            year_classes,
        });
    }
    let clk_seedless = clk_seedless(schema, attacker, &Filters::clk(&ds))
        .into_iter()
        .map(|(name, _, _, g)| {
            let decoded = g.iter().filter(|g| g.is_some()).count();
            (name, decoded as f64 / ds.len().max(1) as f64)
        })
        .collect();
    let mut reader =
        kith::encodings::Reader::new(open()?).with_context(|| format!("{}", path.display()))?;
    let header = reader.header().clone();
    let mut blocks: Vec<Vec<Option<u64>>> = vec![Vec::new(); header.blocks.len()];
    let mut house: Vec<Vec<Option<kith::Token>>> = vec![Vec::new(); header.house.len()];
    while let Some(row) = reader
        .next_record()
        .with_context(|| format!("{}", path.display()))?
    {
        for (b, v) in row.blocks.iter().enumerate() {
            blocks[b].push(*v);
        }
        for (h, v) in row.house.iter().enumerate() {
            house[h].push(*v);
        }
    }
    let mut groups = Vec::new();
    for (name, tokens) in header.blocks.iter().zip(blocks) {
        groups.push(audit::groups::group_sizes(
            &format!("block:{name}"),
            tokens,
            SMALL_GROUP,
        ));
    }
    for (name, tokens) in header.house.iter().zip(house) {
        groups.push(audit::groups::group_sizes(
            &format!("house:{name}"),
            tokens,
            SMALL_GROUP,
        ));
    }
    Ok(FileFindings {
        path: path.display().to_string(),
        records: ds.len(),
        fields,
        clk_seedless,
        groups,
    })
}

/// A value as the schema normalises `feature` (trimmed where it names no normaliser); `None` when
/// missing or invalid.
fn normal_value(schema: &Schema, feature: &str, raw: &str) -> Option<String> {
    match schema.kith().normalize.get(feature).map(|n| n.apply(raw)) {
        None => Some(raw.trim().to_owned()).filter(|s| !s.is_empty()),
        Some(Normalized::Value(v)) => Some(v.into_owned()),
        Some(_) => None,
    }
}

/// The salt of a record's filter `spec`, as the schema cuts it ("" without a salt). The attacker
/// is assumed to know each record's salt (a year of birth can be read off a date filter): a
/// pessimistic audit, which attacks each salt's records apart with a table of that salt's values.
fn salt_value(
    schema: &Schema,
    spec: &FieldFilter,
    feature_index: &BTreeMap<&str, usize>,
    values: &[String],
) -> String {
    spec.salt
        .as_ref()
        .and_then(|s| {
            let i = *feature_index.get(s.feature.as_str())?;
            s.transform
                .apply(schema.kith().normalize.get(&s.feature), &values[i])
        })
        .unwrap_or_default()
}

/// The attacker's dictionaries for filter `spec`, one per salt: the values of its population with
/// their counts and the tokens the schema hashes for each.
fn dictionaries(
    schema: &Schema,
    spec: &FieldFilter,
    feature_index: &BTreeMap<&str, usize>,
    attacker: &Attacker,
) -> BTreeMap<String, Dictionary> {
    let Some(&feature) = feature_index.get(spec.feature.as_str()) else {
        return BTreeMap::new();
    };
    // Salt → normalised value → (count, a raw spelling to tokenise).
    let mut tables: BTreeMap<String, BTreeMap<String, (u64, String)>> = BTreeMap::new();
    let mut add = |salt: String, raw: &str, count: u64| {
        if let Some(v) = normal_value(schema, &spec.feature, raw) {
            tables
                .entry(salt)
                .or_default()
                .entry(v)
                .or_insert((0, raw.to_owned()))
                .0 += count;
        }
    };
    match attacker {
        Attacker::Population(p) => {
            for values in &p.values {
                add(
                    salt_value(schema, spec, feature_index, values),
                    &values[feature],
                    1,
                );
            }
        }
        // A table knows no salts: one dictionary serves every salt.
        Attacker::Table(t) => {
            for (raw, count) in t.get(&spec.feature).into_iter().flatten() {
                add(String::new(), raw, *count);
            }
        }
    }
    tables
        .into_iter()
        .map(|(salt, counts)| {
            let entries = counts
                .into_iter()
                .filter_map(|(value, (count, raw))| {
                    let tokens = kith::encode::filter_tokens(schema, &spec.feature, &raw)?;
                    Some(Entry {
                        value,
                        count,
                        tokens,
                    })
                })
                .collect();
            (salt, Dictionary::new(entries))
        })
        .collect()
}

/// The CLKs attacked alone, with no seeds: patterns mined, named by graph matching, decoded, then
/// bootstrapped. Per name feature: its name, its index among the schema's features, the
/// attacker's dictionary and its guess per record.
fn clk_seedless(
    schema: &Schema,
    attacker: &Attacker,
    clk_filters: &Filters,
) -> Vec<(String, usize, Dictionary, audit::Guesses)> {
    // The schema says how much noise the CLKs carry; the attacker allows for it.
    let flip = schema
        .kith()
        .clk
        .blip
        .map_or(0.0, |eps| 1.0 / (1.0 + eps.exp()));
    let pats = audit::patterns(clk_filters, flip);
    let dicts: Vec<(String, usize, Dictionary, u32)> = schema
        .features()
        .iter()
        .enumerate()
        .filter_map(|(i, f)| {
            let (d, k) = clk_dictionary(schema, &f.identifier, i, attacker)?;
            Some((f.identifier.clone(), i, d, k))
        })
        .collect();
    let fields: Vec<audit::Field<'_>> = dicts
        .iter()
        .map(|(_, _, dict, k)| audit::Field { dict, k: *k })
        .collect();
    let names = audit::name_patterns(&pats, clk_filters.len(), &fields);
    let mut out = Vec::new();
    for (fi, (name, feature, dict, k)) in dicts.iter().enumerate() {
        if !matches!(
            schema.kith().normalize.get(name),
            Some(Normalizer::Name | Normalizer::Forename)
        ) {
            continue;
        }
        let seeds = audit::decode_patterns(&pats, &names, clk_filters.len(), fi, dict);
        let booted = audit::bootstrap(
            clk_filters,
            dict,
            *k,
            &seeds,
            CLK_MIN_SHARE,
            audit::Fit::Within,
        );
        out.push((name.clone(), *feature, dict.clone(), booted));
    }
    out
}

/// [`clk_seedless`] scored: per name feature, its name and, per record, whether it is named right.
fn clk_patterns(
    schema: &Schema,
    attacker: &Attacker,
    victim: &Side,
    kept: &[usize],
    clk_filters: &Filters,
) -> Vec<(String, Vec<bool>)> {
    clk_seedless(schema, attacker, clk_filters)
        .into_iter()
        .map(|(name, feature, dict, booted)| {
            let right = booted
                .iter()
                .zip(kept)
                .map(|(g, &i)| {
                    let truth = normal_value(schema, &name, &victim.values[i][feature]);
                    is_right(*g, &dict, truth.as_deref())
                })
                .collect();
            (name, right)
        })
        .collect()
}

/// A name field's guesses: (feature, its index, the attacker's best guess per record, the truth).
type NameGuesses = (String, usize, Vec<Option<String>>, Vec<Option<String>>);

/// The attacker's dictionary of a feature's values with the tokens the CLK hashes for each, and the
/// bits per token; `None` when the CLK's strategy for it is not `bitsPerToken`.
fn clk_dictionary(
    schema: &Schema,
    name: &str,
    feature: usize,
    attacker: &Attacker,
) -> Option<(Dictionary, u32)> {
    let mut counts: BTreeMap<String, (u64, String)> = BTreeMap::new();
    let mut add = |raw: &str, count: u64| {
        if let Some(v) = normal_value(schema, name, raw) {
            counts.entry(v).or_insert((0, raw.to_owned())).0 += count;
        }
    };
    match attacker {
        Attacker::Population(p) => p.values.iter().for_each(|v| add(&v[feature], 1)),
        Attacker::Table(t) => t
            .get(name)
            .into_iter()
            .flatten()
            .for_each(|(raw, c)| add(raw, *c)),
    }
    let mut k = None;
    let entries = counts
        .into_iter()
        .filter_map(|(value, (count, raw))| {
            let (tokens, bits) = kith::encode::clk_tokens(schema, name, &raw)?;
            k = Some(bits);
            Some(Entry {
                value,
                count,
                tokens,
            })
        })
        .collect();
    Some((Dictionary::new(entries), k?))
}

/// A date filter's year classes: the filter's place among the findings, each record's class and
/// each record's true year.
struct DateClasses {
    field: usize,
    classes: Vec<Option<u32>>,
    years: Vec<Option<String>>,
}

/// The attacker's table of forenames by year of birth: (year, forename) → count, and per year
/// the total, from its own population, normalised as the schema normalises them.
struct ForenameTable {
    counts: BTreeMap<(String, String), f64>,
    per_year: BTreeMap<String, f64>,
    names: f64,
}

fn forenames_by_year(
    schema: &Schema,
    attacker: &Side,
    forename: usize,
    dob: usize,
) -> ForenameTable {
    let norm = |i: usize, raw: &str| -> Option<String> {
        let id = &schema.features()[i].identifier;
        match schema.kith().normalize.get(id).map(|n| n.apply(raw)) {
            Some(Normalized::Value(v)) => Some(v.into_owned()),
            None => Some(raw.trim().to_owned()).filter(|s| !s.is_empty()),
            Some(_) => None,
        }
    };
    let mut t = ForenameTable {
        counts: BTreeMap::new(),
        per_year: BTreeMap::new(),
        names: 0.0,
    };
    let mut distinct = std::collections::BTreeSet::new();
    for v in &attacker.values {
        let (Some(f), Some(d)) = (norm(forename, &v[forename]), norm(dob, &v[dob])) else {
            continue;
        };
        let year = d.get(..4).unwrap_or(&d).to_owned();
        *t.counts.entry((year.clone(), f.clone())).or_default() += 1.0;
        *t.per_year.entry(year).or_default() += 1.0;
        distinct.insert(f);
    }
    t.names = distinct.len() as f64;
    t
}

/// The share of records whose year class, named by the year under which the forenames decoded in
/// it are likeliest, names their year.
fn name_years_by_forename(
    classes: &[Option<u32>],
    guessed: &[Option<String>],
    table: &ForenameTable,
    years: &[Option<String>],
) -> f64 {
    let mut members: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    for (r, c) in classes.iter().enumerate() {
        if let Some(c) = c {
            members.entry(*c).or_default().push(r);
        }
    }
    let mut right = 0usize;
    for rows in members.values() {
        let best = table
            .per_year
            .iter()
            .map(|(year, total)| {
                let score: f64 = rows
                    .iter()
                    .filter_map(|&r| guessed[r].as_ref())
                    .map(|f| {
                        let n = table
                            .counts
                            .get(&(year.clone(), f.clone()))
                            .copied()
                            .unwrap_or(0.0);
                        ((n + 0.1) / (total + 0.1 * table.names)).ln()
                    })
                    .sum();
                (score, year)
            })
            .max_by(|a, b| a.0.total_cmp(&b.0).then_with(|| b.1.cmp(a.1)));
        if let Some((_, year)) = best {
            right += rows
                .iter()
                .filter(|&&r| years[r].as_deref() == Some(year.as_str()))
                .count();
        }
    }
    right as f64 / years.len().max(1) as f64
}

/// True when `guess` names `truth`.
fn is_right(guess: Option<u32>, dict: &Dictionary, truth: Option<&str>) -> bool {
    guess
        .zip(truth)
        .is_some_and(|(g, t)| dict.entries[g as usize].value == t)
}

/// Years of birth with their counts, most common first, from a dictionary of dates (`YYYYMMDD`).
fn attacker_years(dict: &Dictionary) -> Vec<String> {
    let mut years: BTreeMap<String, u64> = BTreeMap::new();
    for e in &dict.entries {
        *years
            .entry(e.value.get(..4).unwrap_or(&e.value).to_owned())
            .or_default() += e.count;
    }
    let mut v: Vec<(String, u64)> = years.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v.into_iter().map(|(y, _)| y).collect()
}

/// Of all records: the share in a class whose members are mostly of their year and that holds
/// most of that year's records; and the share whose class, ranked by size against the attacker's
/// years, names their year.
fn score_years(classes: &[Option<u32>], years: &[Option<String>], ranked: &[String]) -> (f64, f64) {
    let mut by_class: BTreeMap<u32, BTreeMap<&str, u64>> = BTreeMap::new();
    let mut by_year: BTreeMap<&str, u64> = BTreeMap::new();
    for (c, y) in classes.iter().zip(years) {
        if let (Some(c), Some(y)) = (c, y) {
            *by_class
                .entry(*c)
                .or_default()
                .entry(y.as_str())
                .or_default() += 1;
            *by_year.entry(y.as_str()).or_default() += 1;
        }
    }
    let (mut grouped, mut named) = (0u64, 0u64);
    for (c, ys) in &by_class {
        let size: u64 = ys.values().sum();
        let Some((&top, &n)) = ys.iter().max_by_key(|(_, n)| **n) else {
            continue;
        };
        if 2 * n > size && 2 * n > by_year[top] {
            grouped += n;
        }
        if ranked.get(*c as usize).map(String::as_str) == Some(top) {
            named += n;
        } else if let Some(y) = ranked.get(*c as usize) {
            named += ys.get(y.as_str()).copied().unwrap_or(0);
        }
    }
    let n = years.len().max(1) as f64;
    (grouped as f64 / n, named as f64 / n)
}

/// One attack on the CLKs for the verdict: how it was run, the share named per name feature, and
/// both names.
type ClkAttack<'a> = (&'a str, &'a [(String, f64)], Option<f64>);

fn verdict(fields: &[FieldFindings], full_name: Option<f64>, clk: &[ClkAttack<'_>]) -> Verdict {
    let mut reasons = Vec::new();
    // With no name to attack, in the filters or the CLK, the audit cannot say the schema is safe.
    if !fields
        .iter()
        .any(|f| f.kind == "name" || f.kind == "forename")
        && clk.iter().all(|(_, names, _)| names.is_empty())
    {
        reasons.push(
            "not measured: the schema has no name feature the audit can attack (no field filter \
             or CLK feature with a name normaliser and bitsPerToken)"
                .to_owned(),
        );
    }
    for (how, names, full) in clk {
        for (name, share) in names.iter() {
            if *share >= SURNAME_LIMIT {
                reasons.push(format!(
                    "CLKs {how}: {:.1}% of records' {name} is named; the target is under {:.0}%",
                    100.0 * share,
                    100.0 * SURNAME_LIMIT
                ));
            }
        }
        if let Some(f) = full
            && *f >= FULL_NAME_LIMIT
        {
            reasons.push(format!(
                "CLKs {how}: {:.1}% of records are named in full; the target is under {:.0}%",
                100.0 * f,
                100.0 * FULL_NAME_LIMIT
            ));
        }
    }
    if let Some(f) = full_name
        && f >= FULL_NAME_LIMIT
    {
        reasons.push(format!(
            "{:.1}% of records are named in full (forename and surname); the target is under {:.0}%",
            100.0 * f,
            100.0 * FULL_NAME_LIMIT
        ));
    }
    for f in fields {
        let (limit, what) = match f.kind.as_str() {
            "name" => (SURNAME_LIMIT, "surname"),
            "forename" => (SURNAME_LIMIT, "forename"),
            "date" => (DOB_LIMIT, "date of birth"),
            _ => continue,
        };
        if f.best >= limit {
            reasons.push(format!(
                "field filter {:?}: {:.1}% of records' {what} is named; the target is under {:.0}%",
                f.field,
                100.0 * f.best,
                100.0 * limit
            ));
        }
        if let Some(y) = f.year_grouped
            && y >= DOB_LIMIT
        {
            reasons.push(format!(
                "field filter {:?}: {:.1}% of records are grouped by year of birth",
                f.field,
                100.0 * y
            ));
        }
    }
    Verdict {
        pass: reasons.is_empty(),
        reasons,
    }
}

fn pct(x: f64) -> String {
    format!("{:5.1}%", 100.0 * x)
}

/// One token column's group sizes as a line of the report.
fn group_line(g: &audit::groups::GroupSizes) -> String {
    format!(
        "{:<24} {:>8} {:>8} {:>16} {:>10} {:>8}",
        g.name,
        g.records,
        g.groups,
        pct(g.under_k as f64 / g.records.max(1) as f64),
        g.alone,
        g.largest
    )
}

/// The findings as text, a line each.
fn lines(a: &Audit) -> Vec<String> {
    let mut out = Vec::new();
    out.push(format!(
        "kith audit: schema {}; {} records attacked with a frequency table from {} others",
        a.schema_fingerprint, a.records, a.attacker_records
    ));
    out.push(String::new());
    out.push(format!(
        "{:<14} {:<9} {:>8} {:>8}  {:>16}  {:>16}  {:>8}  {:>8}",
        "field filter",
        "holds",
        "records",
        "distinct",
        "alignment (prec)",
        "mining (prec)",
        "by year",
        "year"
    ));
    for f in &a.fields {
        out.push(format!(
            "{:<14} {:<9} {:>8} {:>8}  {} ({})  {} ({})  {} ({})  {:>8}  {:>8}",
            f.field,
            f.kind,
            f.with_filter,
            f.distinct,
            pct(f.alignment.records),
            pct(f.alignment.precision),
            pct(f.mining.records),
            pct(f.mining.precision),
            pct(f.bootstrap.records),
            pct(f.bootstrap.precision),
            f.year_grouped.map_or("-".to_owned(), pct),
            f.year_named.map_or("-".to_owned(), pct),
        ));
    }
    let grouped: Vec<String> = a
        .fields
        .iter()
        .filter_map(|f| {
            f.key_group
                .map(|x| format!("{} {}", f.field, pct(x).trim()))
        })
        .collect();
    if !grouped.is_empty() {
        out.push(format!(
            "filters of one key group bootstrapped together: {}",
            grouped.join(", ")
        ));
    }
    if let Some(f) = a.full_name {
        out.push(format!(
            "full name (every name field named right): {}",
            pct(f)
        ));
    }
    out.push(format!(
        "whole CLKs: {} of records share their CLK with another record",
        pct(a.clk_alignment)
    ));
    if !a.clk_names.is_empty() {
        let parts: Vec<String> = a
            .clk_names
            .iter()
            .map(|(f, x)| format!("{f} {}", pct(*x).trim()))
            .collect();
        out.push(format!(
            "CLKs bootstrapped from the field filters' guesses: {}{}",
            parts.join(", "),
            a.clk_full_name
                .map_or(String::new(), |f| format!(", full name {}", pct(f).trim()))
        ));
    }
    if !a.clk_seedless.is_empty() {
        let parts: Vec<String> = a
            .clk_seedless
            .iter()
            .map(|(f, x)| format!("{f} {}", pct(*x).trim()))
            .collect();
        out.push(format!(
            "CLKs alone, no seeds (pattern mining, graph matching, bootstrap): {}{}",
            parts.join(", "),
            a.clk_seedless_full_name
                .map_or(String::new(), |f| format!(", full name {}", pct(f).trim()))
        ));
    }
    out.push(String::new());
    out.push(format!(
        "{:<24} {:>8} {:>8} {:>16} {:>10} {:>8}",
        "token", "records", "groups", "in groups < 5", "alone", "largest"
    ));
    out.extend(a.groups.iter().map(group_line));
    if let Some(f) = &a.file {
        out.push(String::new());
        out.push(format!(
            "{}: {} records; what the same attacks decode (unchecked: there is no truth)",
            f.path, f.records
        ));
        out.push(format!(
            "{:<14} {:>8} {:>8} {:>10} {:>22}",
            "field filter", "records", "distinct", "decoded", "year classes (records)"
        ));
        for x in &f.fields {
            out.push(format!(
                "{:<14} {:>8} {:>8} {:>10} {:>22}",
                x.field,
                x.with_filter,
                x.distinct,
                pct(x.decoded),
                x.year_classes
                    .map_or("-".to_owned(), |(n, s)| format!("{n} ({})", pct(s).trim())),
            ));
        }
        if !f.clk_seedless.is_empty() {
            let parts: Vec<String> = f
                .clk_seedless
                .iter()
                .map(|(n, x)| format!("{n} {}", pct(*x).trim()))
                .collect();
            out.push(format!(
                "CLKs alone, no seeds: decoded {} (the simulation above says how many are right)",
                parts.join(", ")
            ));
        }
        out.extend(f.groups.iter().map(group_line));
    }
    out.push(String::new());
    if a.verdict.pass {
        out.push(
            "verdict: passes kith's targets (names under 5%, full name and date of birth under 1%)"
                .to_owned(),
        );
    } else {
        out.push("verdict: FAILS kith's targets:".to_owned());
        for r in &a.verdict.reasons {
            out.push(format!("  - {r}"));
        }
    }
    out
}
