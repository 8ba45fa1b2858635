//! `kith link`: read encodings, link, write links, clusters and the review band.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail, ensure};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use kith::Token;
use kith_link::Dataset;
use kith_link::block::{Blocking, LshParams};
use kith_link::dataset::Chunks;
use kith_link::kernel::Kernel;
use kith_link::link::{self, LinkOptions};
use kith_link::solve::Candidate;
use kith_link::threshold;
use rayon::prelude::*;

use crate::atomic::AtomicFile;
use crate::flags::{BlockingArg, LinkArgs, ScoringArg};

/// The checked configuration of one `kith link` run.
#[derive(Debug)]
pub(crate) struct LinkConfig {
    inputs: Vec<PathBuf>,
    output: PathBuf,
    blocking: BlockingArg,
    lsh: LshParams,
    check_blocking: Option<usize>,
    scoring: ScoringArg,
    options: LinkOptions,
    chunk: Option<usize>,
}

fn check_score(name: &str, v: Option<f64>) -> Result<()> {
    if let Some(t) = v {
        ensure!(
            t.is_finite() && (0.0..=1.0).contains(&t),
            "{name} must be between 0 and 1, not {t}"
        );
    }
    Ok(())
}

impl LinkConfig {
    pub(crate) fn from_args(a: LinkArgs) -> Result<LinkConfig> {
        check_score("--threshold", a.threshold)?;
        check_score("--review-threshold", a.review_threshold)?;
        check_score("--candidate-floor", Some(a.candidate_floor))?;
        if let (Some(t), Some(r)) = (a.threshold, a.review_threshold) {
            ensure!(
                r < t,
                "--review-threshold ({r}) must be below --threshold ({t})"
            );
        }
        ensure!(
            a.inputs.len() >= 2 || a.dedupe,
            "give at least two encodings files (or one with --dedupe)"
        );
        ensure!(
            (1..=64).contains(&a.lsh_bits),
            "--lsh-bits must be between 1 and 64"
        );
        ensure!(a.lsh_tables >= 1, "--lsh-tables must be at least 1");
        ensure!(a.max_bucket >= 1, "--max-bucket must be at least 1");
        if let Some(n) = a.chunk {
            ensure!(n >= 1, "--chunk must be at least 1");
            ensure!(
                a.inputs.len() >= 2 && !a.dedupe && a.check_blocking.is_none(),
                "--chunk links the first file chunk by chunk against the others: give two or more files, without --dedupe or --check-blocking"
            );
            ensure!(
                a.threshold.is_some() || a.scoring != ScoringArg::Clk,
                "--chunk with CLK scoring needs --threshold (kith suggests one from the whole score distribution; run without --chunk on a sample to see it)"
            );
        }
        for (i, p) in a.inputs.iter().enumerate() {
            if a.inputs[..i].contains(p) {
                bail!("{} is given twice", p.display());
            }
        }
        let kernel = match &a.kernel {
            None => Kernel::detect(),
            Some(n) => {
                Kernel::by_name(n).with_context(|| format!("this CPU cannot run the {n} kernel"))?
            }
        };
        Ok(LinkConfig {
            lsh: LshParams {
                tables: a.lsh_tables,
                bits: a.lsh_bits,
                ..LshParams::default()
            },
            chunk: a.chunk,
            inputs: a.inputs,
            output: a.output,
            blocking: a.blocking,
            check_blocking: a.check_blocking,
            scoring: a.scoring,
            options: LinkOptions {
                threshold: a.threshold,
                review: a.review_threshold,
                blocking: Blocking::None,
                max_bucket: a.max_bucket,
                dedupe: a.dedupe,
                exact_veto: !a.no_exact_veto,
                kernel,
                fields: a.scoring != ScoringArg::Clk,
                candidate_floor: a.candidate_floor,
            },
        })
    }
}

/// Read one encodings file, kith or clkhash-json.
pub(crate) fn read_dataset(path: &Path) -> Result<Dataset> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut input = BufReader::with_capacity(1 << 20, file);
    let start = input
        .fill_buf()
        .with_context(|| format!("cannot read {}", path.display()))?;
    // A kith file's first line is its JSON header, which names the format.
    let first_line = start.split(|&b| b == b'\n').next().unwrap_or(&[]);
    let is_kith = first_line
        .windows(b"\"kith-encodings\"".len())
        .any(|w| w == b"\"kith-encodings\"");
    let text_start = String::from_utf8_lossy(&start[..start.len().min(200)]).into_owned();
    let trimmed = text_start.trim_start();
    if is_kith {
        return Dataset::from_encodings(input).with_context(|| format!("{}", path.display()));
    }
    if !trimmed.starts_with('{') {
        bail!(
            "{}: not an encodings file (expected a kith encodings header or clkhash-json {{\"clks\": [...]}})",
            path.display()
        );
    }
    let mut text = String::new();
    input
        .read_to_string(&mut text)
        .with_context(|| format!("cannot read {} (it must be UTF-8 JSON)", path.display()))?;
    #[derive(serde::Deserialize)]
    struct ClkFile {
        clks: Vec<String>,
    }
    let parsed: ClkFile = serde_json::from_str(&text).map_err(|e| {
        anyhow::anyhow!(
            "{}: line {} column {}: not clkhash-json ({{\"clks\": [base64, ...]}}): {e}",
            path.display(),
            e.line(),
            e.column()
        )
    })?;
    drop(text);
    let source = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "input".to_owned());
    let mut d: Option<Dataset> = None;
    for (i, c) in parsed.clks.iter().enumerate() {
        let bytes = B64
            .decode(c)
            .with_context(|| format!("{}: clks[{i}] is not valid base64", path.display()))?;
        ensure!(!bytes.is_empty(), "{}: clks[{i}] is empty", path.display());
        let ds = d.get_or_insert_with(|| {
            Dataset::new(
                &source,
                (bytes.len() * 8) as u32,
                false,
                Vec::new(),
                Vec::new(),
            )
        });
        ds.push(None, &bytes, &[], &[]).with_context(|| {
            format!(
                "{}: clks[{i}] has {} bytes but clks[0] has {}",
                path.display(),
                bytes.len(),
                ds.bits() / 8
            )
        })?;
    }
    d.with_context(|| format!("{}: the file holds no CLKs", path.display()))
}

fn blocking_for(cfg: &LinkConfig, datasets: &[Dataset], fields: bool) -> Result<Blocking> {
    let have_keys = datasets.iter().all(|d| !d.block_names().is_empty())
        && datasets
            .windows(2)
            .all(|w| w[0].block_names() == w[1].block_names());
    Ok(match cfg.blocking {
        BlockingArg::None => Blocking::None,
        BlockingArg::Lsh => Blocking::Lsh(cfg.lsh),
        // Field scoring recovers what keyed blocking keys alone find well, and LSH costs far more.
        BlockingArg::Auto if have_keys && fields => Blocking::Keys,
        BlockingArg::Auto if have_keys => Blocking::KeysAndLsh(cfg.lsh),
        BlockingArg::Auto => Blocking::Lsh(cfg.lsh),
        BlockingArg::Keys | BlockingArg::KeysLsh => {
            ensure!(
                have_keys,
                "--blocking keys needs every input to carry the same keyed blocking keys (the schema's kith.blocking section); these inputs carry {}",
                datasets
                    .iter()
                    .map(|d| format!("{}: [{}]", d.source, d.block_names().join(", ")))
                    .collect::<Vec<_>>()
                    .join("; ")
            );
            if cfg.blocking == BlockingArg::Keys {
                Blocking::Keys
            } else {
                Blocking::KeysAndLsh(cfg.lsh)
            }
        }
    })
}

pub(crate) fn run(cfg: &LinkConfig, quiet: bool) -> Result<()> {
    if cfg.chunk.is_some() {
        return run_chunked(cfg, quiet);
    }
    let say = |m: String| {
        if !quiet {
            eprintln!("{m}");
        }
    };
    let t0 = Instant::now();
    let mut datasets = Vec::with_capacity(cfg.inputs.len());
    for p in &cfg.inputs {
        let d = read_dataset(p)?;
        say(format!(
            "kith: read {} records of {} from {} ({} bits{})",
            d.len(),
            d.source,
            p.display(),
            d.bits(),
            if d.fingerprint.is_some() {
                ""
            } else {
                ", clkhash-json"
            }
        ));
        datasets.push(d);
    }
    let kinds = datasets.iter().filter(|d| d.fingerprint.is_some()).count();
    if kinds != 0 && kinds != datasets.len() {
        say("kith: warning: mixing kith encodings with clkhash-json files; kith cannot check that the clkhash-json files used the same schema and secret".into());
    }
    link::check_compatible(&datasets).context("these inputs cannot be linked")?;
    let mut options = cfg.options.clone();
    let fields = link::uses_fields(&datasets, &options);
    options.blocking = blocking_for(cfg, &datasets, fields)?;
    ensure!(
        fields || cfg.scoring != ScoringArg::Fields,
        "--scoring fields needs every input to carry the same field-level filters (the schema's kith.fields section); these inputs carry {}",
        datasets
            .iter()
            .map(|d| format!(
                "{}: [{}]",
                d.source,
                d.field_specs()
                    .iter()
                    .map(|f| f.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            .collect::<Vec<_>>()
            .join("; ")
    );
    let read_time = t0.elapsed();

    let t1 = Instant::now();
    let candidates = link::find_candidates(&datasets, &options)?;
    let score_time = t1.elapsed();
    let s = &candidates.stats;
    say(format!(
        "kith: blocking {}; {} comparisons of {} possible (reduction ratio {:.6}); {} candidate pairs at {} {:.2} or above; kernel {}; {:.3} s ({:.0} M comparisons/s)",
        describe(options.blocking),
        s.comparisons,
        s.all_pairs,
        s.reduction_ratio(),
        candidates.pairs.len(),
        if fields {
            format!(
                "CLK Dice {:.2} and match probability",
                options.candidate_floor
            )
        } else {
            "Dice".to_owned()
        },
        candidates.collected_at,
        options.kernel.name(),
        score_time.as_secs_f64(),
        s.comparisons as f64 / score_time.as_secs_f64().max(1e-9) / 1e6
    ));
    if s.skipped_buckets > 0 {
        say(format!(
            "kith: warning: {} oversized blocking buckets (over {} records) were skipped; raise --max-bucket or use more specific keys",
            s.skipped_buckets, options.max_bucket
        ));
    }
    if s.possible_twins > 0 {
        say(format!(
            "kith: {} pairs within one source look like twins (shared fields agree, the differing field does not): not merged{}",
            s.possible_twins,
            if options.review.is_some() {
                "; listed in review.csv"
            } else {
                "; give --review-threshold to list them for review"
            }
        ));
    }
    if s.exact_matches > 0 || s.vetoed > 0 {
        say(format!(
            "kith: {} pairs matched on exact tokens; {} CLK matches vetoed by differing exact tokens",
            s.exact_matches, s.vetoed
        ));
    }
    let threshold = match &candidates.model {
        Some(model) => {
            for line in describe_model(model) {
                say(line);
            }
            match options.threshold {
                Some(t) => {
                    say(format!(
                        "kith: threshold {t:.2} (given); kith would suggest {:.2}",
                        link::FIELD_THRESHOLD
                    ));
                    t
                }
                None => {
                    say(format!(
                        "kith: suggested threshold {:.2}: pairs from there up are more likely matches than not, under the model",
                        link::FIELD_THRESHOLD
                    ));
                    link::FIELD_THRESHOLD
                }
            }
        }
        None => {
            if candidates.best.sampled {
                say(format!(
                    "kith: best score against each other source, for a sample of {} records (all pairs were scored at the given threshold; the sample, from {:.2}):",
                    candidates.best.total(),
                    candidates.best.floor_bin as f64 / threshold::BINS as f64
                ));
            } else {
                say("kith: each record's best score against each other source:".into());
            }
            for line in candidates.best.render() {
                say(line);
            }
            let suggestion = threshold::suggest(&candidates.best);
            match options.threshold {
                Some(t) => {
                    say(format!(
                        "kith: threshold {t:.2} (given); kith would suggest {:.2}",
                        suggestion.threshold
                    ));
                    t
                }
                None => {
                    say(format!(
                        "kith: suggested threshold {:.2}:",
                        suggestion.threshold
                    ));
                    for r in &suggestion.reasons {
                        say(format!("  - {r}"));
                    }
                    suggestion.threshold.max(candidates.collected_at)
                }
            }
        }
    };
    if let Some(n) = cfg.check_blocking {
        let (found, all) = link::pairs_completeness(&datasets, &candidates, threshold, n, &options);
        say(format!(
            "kith: blocking check on up to {n} records per source: of the {all} pairs all-pairs scoring would link at {threshold:.2}, blocking found {found} (pairs completeness {:.4})",
            if all == 0 {
                1.0
            } else {
                found as f64 / all as f64
            }
        ));
    }
    if let Some(r) = options.review.filter(|&r| r >= threshold) {
        say(format!(
            "kith: warning: --review-threshold {r} is not below the threshold {threshold:.2}, so there is no review band{}",
            if fields {
                " (with field scoring both are match probabilities; try 0.1)"
            } else {
                ""
            }
        ));
    }
    let review = options.review.filter(|&r| r < threshold);
    let linkage = link::solve(&datasets, &candidates, threshold, review, options.dedupe);
    let (links_path, clusters_path, review_path) =
        write_outputs(&cfg.output, &datasets, &linkage, review, |_| Ok(()))?;
    say(format!(
        "kith: {} links, {} entities of two or more records{}; wrote {}, {}{} (read {:.1} s, total {:.1} s)",
        linkage.links.len(),
        linkage.groups,
        if review.is_some() {
            format!(", {} pairs for review", linkage.review.len())
        } else {
            String::new()
        },
        links_path.display(),
        clusters_path.display(),
        if review.is_some() {
            format!(", {}", review_path.display())
        } else {
            String::new()
        },
        read_time.as_secs_f64(),
        t0.elapsed().as_secs_f64()
    ));
    Ok(())
}

/// The fitted model, one line per field.
fn describe_model(m: &kith_link::weigh::Model) -> Vec<String> {
    use kith_link::weigh;
    let mut out = vec![format!(
        "kith: field scoring model, fitted without labels on {} sampled pairs across sources and {} within ({} EM iterations; {:.2}% and {:.2}% of them look like matches; u from {} random pairs):",
        m.fitted[weigh::CROSS],
        m.fitted[weigh::WITHIN],
        m.iterations,
        100.0 * m.candidate_share[weigh::CROSS],
        100.0 * m.candidate_share[weigh::WITHIN],
        m.random_pairs
    )];
    out.push(format!(
        "  {:<14} weight log2(m/u) at Dice <{:.2} / {:.2} / {:.2} / {:.2} / {:.2}+",
        "field",
        kith_link::weigh::LEVELS[3],
        kith_link::weigh::LEVELS[3],
        kith_link::weigh::LEVELS[2],
        kith_link::weigh::LEVELS[1],
        kith_link::weigh::LEVELS[0]
    ));
    for (f, name) in m.names.iter().enumerate() {
        let w: Vec<String> = (0..kith_link::weigh::NLEVELS)
            .map(|l| format!("{:+6.1}", (m.m[f][l] / m.u[f][l]).log2()))
            .collect();
        out.push(format!("  {name:<14} {}", w.join(" ")));
    }
    out.push(format!(
        "  a pair is more likely a match than not from weight {:.1} across sources (prior {:.2e}){}",
        m.even_weight(weigh::CROSS),
        m.prior[weigh::CROSS],
        if m.fitted[weigh::WITHIN] > 0 {
            format!(
                ", {:.1} within one source (prior {:.2e})",
                m.even_weight(weigh::WITHIN),
                m.prior[weigh::WITHIN]
            )
        } else {
            String::new()
        }
    ));
    out
}

fn describe(b: Blocking) -> String {
    match b {
        Blocking::None => "none (all pairs)".into(),
        Blocking::Keys => "keyed blocking keys".into(),
        Blocking::Lsh(p) => format!("LSH ({} tables of {} bits)", p.tables, p.bits),
        Blocking::KeysAndLsh(p) => format!(
            "keyed blocking keys + LSH ({} tables of {} bits)",
            p.tables, p.bits
        ),
    }
}

/// Write pairs sorted by their names, so that the order says nothing about input order.
fn write_pairs(path: &Path, datasets: &[Dataset], pairs: &[Candidate]) -> Result<AtomicFile> {
    let mut rows: Vec<(&str, String, &str, String, f64)> = pairs
        .iter()
        .map(|c| {
            let (a, b) = (&datasets[c.a.ds as usize], &datasets[c.b.ds as usize]);
            (
                a.source.as_str(),
                a.id(c.a.row as usize),
                b.source.as_str(),
                b.id(c.b.row as usize),
                c.score,
            )
        })
        .collect();
    rows.sort_by(|x, y| (x.0, &x.1, x.2, &x.3).cmp(&(y.0, &y.1, y.2, &y.3)));
    let mut f = AtomicFile::create(path)?;
    let w = f.writer();
    let ctx = || format!("cannot write {}", path.display());
    writeln!(w, "source_a,token_a,source_b,token_b,score").with_context(ctx)?;
    for (sa, ta, sb, tb, score) in rows {
        writeln!(
            w,
            "{},{ta},{},{tb},{score:.6}",
            csv_field(sa),
            csv_field(sb)
        )
        .with_context(ctx)?;
    }
    Ok(f)
}

fn write_clusters(path: &Path, datasets: &[Dataset], entity: &[Vec<u64>]) -> Result<AtomicFile> {
    // Sorted by entity id, then source and record name; names are made only to break ties within
    // an entity, so a national extract does not need a string per record in memory.
    let mut rows: Vec<(u64, u32, u32)> = Vec::with_capacity(entity.iter().map(Vec::len).sum());
    for (ds, ids) in entity.iter().enumerate() {
        rows.extend(
            ids.iter()
                .enumerate()
                .map(|(row, &e)| (e, ds as u32, row as u32)),
        );
    }
    rows.par_sort_unstable_by(|x, y| {
        x.0.cmp(&y.0).then_with(|| {
            let (a, b) = (&datasets[x.1 as usize], &datasets[y.1 as usize]);
            (a.source.as_str(), a.id(x.2 as usize)).cmp(&(b.source.as_str(), b.id(y.2 as usize)))
        })
    });
    let mut f = AtomicFile::create(path)?;
    let w = f.writer();
    let ctx = || format!("cannot write {}", path.display());
    writeln!(w, "source,token,entity_id").with_context(ctx)?;
    for (e, ds, row) in rows {
        let d = &datasets[ds as usize];
        writeln!(
            w,
            "{},{},{e:016x}",
            csv_field(&d.source),
            d.id(row as usize)
        )
        .with_context(ctx)?;
    }
    Ok(f)
}

/// Quote a party name if CSV needs it.
pub(crate) fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// `kith link --chunk N`: the first file is read N records at a time and each chunk is linked
/// against the other files, which are held in memory. Only records of the first file that are in
/// a candidate pair are kept (as their tokens) for solving, so memory does not grow with the first
/// file. With CLK scoring and a given threshold every pair at or above it is a candidate whatever
/// the chunking, so the links are those of an ordinary run (tested). `clusters.csv` lists the
/// entities of two or more records and the other files' records first (sorted by entity id),
/// then the first file's unlinked records in the file's order (by token).
fn run_chunked(cfg: &LinkConfig, quiet: bool) -> Result<()> {
    let say = |m: String| {
        if !quiet {
            eprintln!("{m}");
        }
    };
    let chunk = cfg.chunk.unwrap_or(usize::MAX);
    let t0 = Instant::now();
    let mut others = Vec::with_capacity(cfg.inputs.len() - 1);
    for p in &cfg.inputs[1..] {
        let d = read_dataset(p)?;
        say(format!(
            "kith: read {} records of {} from {} ({} bits)",
            d.len(),
            d.source,
            p.display(),
            d.bits()
        ));
        others.push(d);
    }
    let first = &cfg.inputs[0];
    let open = || -> Result<Chunks<BufReader<File>>> {
        let f = File::open(first).with_context(|| format!("cannot open {}", first.display()))?;
        Chunks::new(BufReader::with_capacity(1 << 20, f), chunk).with_context(|| {
            format!(
                "{}: --chunk reads kith encodings files only",
                first.display()
            )
        })
    };
    let mut chunks = open()?;
    let source = chunks.header().party.clone();
    let mut compact = Dataset::new(
        &source,
        chunks.header().clk_bits,
        true,
        chunks.header().exact.clone(),
        chunks.header().blocks.clone(),
    );
    let zero_clk = vec![0u8; (chunks.header().clk_bits as usize).div_ceil(8)];
    let no_exact = vec![None; chunks.header().exact.len()];
    let no_blocks = vec![None; chunks.header().blocks.len()];
    let mut options = cfg.options.clone();
    let mut pairs: Vec<Candidate> = Vec::new();
    let mut stats = link::Stats::default();
    let mut model = None;
    let mut collected_at = 0.0;
    let (mut read, mut n_chunks) = (0usize, 0usize);
    let floor = match (options.threshold, options.review) {
        (Some(t), Some(r)) => t.min(r),
        (Some(t), None) => t,
        (None, Some(r)) => r.min(link::FIELD_THRESHOLD),
        (None, None) => link::FIELD_THRESHOLD,
    };
    while let Some(d) = chunks
        .next_chunk()
        .with_context(|| first.display().to_string())?
    {
        let base = read;
        read += d.len();
        let mut datasets = Vec::with_capacity(1 + others.len());
        datasets.push(d);
        datasets.append(&mut others);
        if n_chunks == 0 {
            link::check_compatible(&datasets).context("these inputs cannot be linked")?;
            let fields = link::uses_fields(&datasets, &options);
            ensure!(
                fields || cfg.scoring != ScoringArg::Fields,
                "--scoring fields needs every input to carry the same field-level filters"
            );
            options.blocking = blocking_for(cfg, &datasets, fields)?;
        }
        n_chunks += 1;
        // The first chunk is linked with all the other files together, which also finds the
        // pairs between them; later chunks only against each other file in turn (put second in
        // the slice, then renumbered back), since those pairs would be the same every time.
        let mut parts = Vec::new();
        if n_chunks == 1 || datasets.len() == 2 {
            parts.push(link::find_candidates(&datasets, &options)?);
        } else {
            for j in 1..datasets.len() {
                datasets.swap(1, j);
                let found = link::find_candidates(&datasets[..2], &options);
                datasets.swap(1, j);
                let mut found = found?;
                for c in &mut found.pairs {
                    for r in [&mut c.a, &mut c.b] {
                        if r.ds == 1 {
                            r.ds = j as u32;
                        }
                    }
                }
                parts.push(found);
            }
        }
        let mut kept: Vec<Candidate> = Vec::new();
        for found in parts {
            let s = &found.stats;
            stats.comparisons += s.comparisons;
            stats.all_pairs += s.all_pairs;
            stats.skipped_buckets += s.skipped_buckets;
            stats.exact_matches += s.exact_matches;
            stats.vetoed += s.vetoed;
            collected_at = found.collected_at;
            if model.is_none() {
                model = found.model;
            }
            kept.extend(found.pairs.into_iter().filter(|c| c.score >= floor));
        }
        // Keep the pairs that can matter, renumbering the chunk's records into `compact` in
        // file order.
        let mut rows: Vec<u32> = kept
            .iter()
            .flat_map(|c| [c.a, c.b])
            .filter(|r| r.ds == 0)
            .map(|r| r.row)
            .collect();
        rows.sort_unstable();
        rows.dedup();
        let mut to_compact: HashMap<u32, u32> = HashMap::with_capacity(rows.len());
        for r in rows {
            to_compact.insert(r, compact.len() as u32);
            let token = token_of_row(&datasets[0], r as usize)?;
            compact
                .push(Some(token), &zero_clk, &no_exact, &no_blocks)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        for mut c in kept {
            for r in [&mut c.a, &mut c.b] {
                if r.ds == 0 {
                    r.row = to_compact[&r.row];
                }
            }
            pairs.push(c);
        }
        others = datasets.split_off(1);
        say(format!(
            "kith: chunk {n_chunks}: records {}-{} of {}; {} pairs kept so far",
            base + 1,
            read,
            first.display(),
            pairs.len()
        ));
    }
    say(format!(
        "kith: read {read} records of {source} from {} in {n_chunks} chunks of up to {chunk}; blocking {}; {} comparisons of {} possible (reduction ratio {:.6})",
        first.display(),
        describe(options.blocking),
        stats.comparisons,
        stats.all_pairs,
        stats.reduction_ratio()
    ));
    if stats.skipped_buckets > 0 {
        say(format!(
            "kith: warning: {} oversized blocking buckets (over {} records) were skipped; raise --max-bucket or use more specific keys",
            stats.skipped_buckets, options.max_bucket
        ));
    }
    if let Some(m) = &model {
        say("kith: field scoring model of the first chunk (each chunk fits its own):".into());
        for line in describe_model(m) {
            say(line);
        }
    }
    let chunk_time = t0.elapsed();
    let threshold = options.threshold.unwrap_or(link::FIELD_THRESHOLD);
    pairs.sort_by(kith_link::solve::candidate_order);
    let mut datasets = Vec::with_capacity(1 + others.len());
    datasets.push(compact);
    datasets.append(&mut others);
    let candidates = link::Candidates {
        pairs,
        best: threshold::Histogram::default(),
        stats,
        collected_at,
        model: None,
        twins: Vec::new(),
    };
    let review = options.review.filter(|&r| r < threshold);
    let linkage = link::solve(&datasets, &candidates, threshold, review, false);

    // The first file's records that were in no candidate pair: a second pass, in file order,
    // appended to clusters.csv.
    let kept: HashSet<Token> = match datasets[0].ids() {
        kith_link::dataset::Ids::Tokens(t) => t.iter().copied().collect(),
        kith_link::dataset::Ids::RowIndex => HashSet::new(),
    };
    let (links_path, clusters_path, _) =
        write_outputs(&cfg.output, &datasets, &linkage, review, |w| {
            let f =
                File::open(first).with_context(|| format!("cannot open {}", first.display()))?;
            let mut reader = kith::encodings::Reader::new(BufReader::with_capacity(1 << 20, f))
                .with_context(|| first.display().to_string())?;
            let party = csv_field(&source);
            while let Some(t) = reader
                .next_token()
                .with_context(|| first.display().to_string())?
            {
                if kept.contains(&t) {
                    continue;
                }
                let token = kith::hex(&t);
                let id = link::entity_id(&mut [(source.clone(), token.clone())]);
                writeln!(w, "{party},{token},{id:016x}").context("cannot write clusters.csv")?;
            }
            Ok(())
        })?;
    say(format!(
        "kith: threshold {threshold:.2}; {} links, {} entities of two or more records; wrote {}, {} (reading and scoring {:.1} s, solving and writing {:.1} s)",
        linkage.links.len(),
        linkage.groups,
        links_path.display(),
        clusters_path.display(),
        chunk_time.as_secs_f64(),
        (t0.elapsed() - chunk_time).as_secs_f64()
    ));
    Ok(())
}

/// Write links.csv, clusters.csv (then whatever `more_clusters` appends to it) and, with a review
/// band, review.csv into `output`; each appears whole or not at all. Returns their paths.
fn write_outputs(
    output: &Path,
    datasets: &[Dataset],
    linkage: &link::Linkage,
    review: Option<f64>,
    more_clusters: impl FnOnce(&mut std::io::BufWriter<crate::atomic::Syncing>) -> Result<()>,
) -> Result<(PathBuf, PathBuf, PathBuf)> {
    std::fs::create_dir_all(output)
        .with_context(|| format!("cannot create the folder {}", output.display()))?;
    let links_path = output.join("links.csv");
    let clusters_path = output.join("clusters.csv");
    let review_path = output.join("review.csv");
    let links = write_pairs(&links_path, datasets, &linkage.links)?;
    let mut clusters = write_clusters(&clusters_path, datasets, &linkage.entity)?;
    more_clusters(clusters.writer())?;
    let review_file = match review {
        Some(_) => Some(write_pairs(&review_path, datasets, &linkage.review)?),
        None => None,
    };
    links.commit()?;
    clusters.commit()?;
    if let Some(r) = review_file {
        r.commit()?;
    }
    Ok((links_path, clusters_path, review_path))
}

/// The record token of row `r` of a dataset read from a kith file.
fn token_of_row(d: &Dataset, r: usize) -> Result<Token> {
    match d.ids() {
        kith_link::dataset::Ids::Tokens(t) => t.get(r).copied().context("no such row"),
        kith_link::dataset::Ids::RowIndex => bail!("--chunk reads kith encodings files only"),
    }
}
