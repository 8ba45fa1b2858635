//! `kith profile`: a holder's own look at its extract before it encodes (nothing leaves its
//! machine). Text on standard output, with example lines to fix; `--json` writes the counts only,
//! which the holder may choose to send for the run report.

use std::fmt::Write as _;

use anyhow::{Context, Result, bail};
use kith::Layout;
use kith::datefmt::Ymd;
use kith::profile::{Examples, Profile, ProfileOptions, Profiler};

use crate::atomic::AtomicFile;
use crate::csvin::{Chunk, CsvInput, decode};
use crate::flags::ProfileArgs;

/// Rows read at a time.
const CHUNK_ROWS: usize = 4096;

pub(crate) fn run(args: &ProfileArgs, out: &mut dyn std::io::Write) -> Result<bool> {
    let schema = crate::config::read_schema(&args.schema)?;
    let mapping = args
        .mapping
        .as_deref()
        .map(crate::config::read_mapping)
        .transpose()?;
    let party = crate::config::party_of(args.party.as_deref(), mapping.as_ref(), &args.input)?;
    if let Some(json) = &args.json
        && [Some(&args.input), Some(&args.schema), args.mapping.as_ref()]
            .into_iter()
            .flatten()
            .any(|p| crate::config::same_file(json, p))
    {
        bail!(
            "--json {} is one of the inputs; refusing to overwrite it",
            json.display()
        );
    }
    let as_of = match &args.as_of {
        Some(d) => parse_day(d).with_context(|| format!("--as-of {d:?}: expected YYYY-MM-DD"))?,
        None => {
            let today = jiff::Zoned::now().date();
            Ymd {
                year: today.year(),
                month: today.month(),
                day: today.day(),
            }
        }
    };
    let mut input = CsvInput::open(&args.input, args.encoding)?;
    let header = input.header().to_vec();
    let refs: Vec<&str> = header.iter().map(String::as_str).collect();
    let layout = Layout::resolve(&schema, mapping.as_ref(), args.id_column.as_deref(), &refs)
        .map_err(|e| anyhow::anyhow!("{}: line 1 (header): {e}", args.input.display()))?;
    let options = ProfileOptions {
        party: party.clone(),
        extra_date_formats: mapping
            .as_ref()
            .map(|m| m.date_formats.clone())
            .unwrap_or_default(),
        as_of,
    };
    let mut profiler = Profiler::new(&schema, &layout, &options);
    let mut chunk = Chunk::default();
    let mut malformed: Vec<(u64, String)> = Vec::new();
    let mut malformed_rows = 0u64;
    loop {
        let more = input.read_chunk(CHUNK_ROWS, &mut chunk)?;
        for row in &chunk.rows {
            let cells: Result<Vec<_>, String> = chunk
                .fields(row)
                .map(|f| decode(f, args.encoding))
                .collect();
            let problem = match &cells {
                Err(m) => Some(m.clone()),
                Ok(c) if c.len() != header.len() => Some(format!(
                    "the row has {} fields but the header has {}",
                    c.len(),
                    header.len()
                )),
                Ok(_) => None,
            };
            if let Some(m) = problem {
                malformed_rows += 1;
                if malformed.len() < 3 {
                    malformed.push((row.line, m));
                }
                continue;
            }
            let cells = cells.unwrap_or_default();
            let refs: Vec<&str> = cells.iter().map(AsRef::as_ref).collect();
            let (mut features, mut exact) = (Vec::new(), Vec::new());
            layout.extract(&refs, &mut features, &mut exact);
            profiler.add(row.line, layout.local_id(&refs), &features, &exact);
        }
        if !more {
            break;
        }
    }
    let (profile, examples) = profiler.finish();
    let columns: Vec<Option<String>> = layout
        .feature_columns()
        .into_iter()
        .chain(layout.exact_columns())
        .map(|c| c.map(|c| header[c].clone()))
        .collect();
    let text = render(
        &args.input.display().to_string(),
        &profile,
        &examples,
        &columns,
        malformed_rows,
        &malformed,
    );
    out.write_all(text.as_bytes())
        .context("cannot write to standard output")?;
    if let Some(path) = &args.json {
        let mut json = serde_json::to_value(&profile).context("cannot render the profile")?;
        json["malformed_rows"] = malformed_rows.into();
        let mut f = AtomicFile::create(path)?;
        let mut text = serde_json::to_string_pretty(&json).context("cannot render the profile")?;
        text.push('\n');
        std::io::Write::write_all(f.writer(), text.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
        f.commit()?;
    }
    Ok(!args.strict || profile.verdict.fit != "not fit")
}

fn parse_day(s: &str) -> Option<Ymd> {
    let d: jiff::civil::Date = s.trim().parse().ok()?;
    Some(Ymd {
        year: d.year(),
        month: d.month(),
        day: d.day(),
    })
}

fn pct(n: u64, of: u64) -> String {
    if of == 0 {
        "-".to_owned()
    } else {
        format!("{:.1}%", 100.0 * n as f64 / of as f64)
    }
}

fn examples_line(e: &[(u64, String)]) -> String {
    e.iter()
        .map(|(line, v)| {
            if v.is_empty() {
                format!("line {line}")
            } else {
                format!("line {line}: {v:?}")
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn render(
    file: &str,
    p: &Profile,
    ex: &Examples,
    columns: &[Option<String>],
    malformed_rows: u64,
    malformed: &[(u64, String)],
) -> String {
    let n = p.records;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "kith profile: {file} ({}), {n} records; schema {}; nothing here leaves this machine",
        p.party, p.schema_fingerprint
    );
    if malformed_rows > 0 {
        let _ = writeln!(
            s,
            "  {malformed_rows} rows could not be read and are not profiled (kith encode refuses them too): {}",
            malformed
                .iter()
                .map(|(l, m)| format!("line {l}: {m}"))
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
    let _ = writeln!(
        s,
        "\n{:<18} {:<18} {:>8} {:>8} {:>8} {:>8} {:>9}",
        "field", "column", "present", "missing", "invalid", "refused", "distinct"
    );
    for (f, col) in p.fields.iter().zip(columns) {
        let col = match (f.held, col) {
            (true, Some(c)) => c.clone(),
            _ => "(not held)".to_owned(),
        };
        if !f.held {
            let _ = writeln!(s, "{:<18} {col:<18}", f.name);
            continue;
        }
        let _ = writeln!(
            s,
            "{:<18} {:<18} {:>8} {:>8} {:>8} {:>8} {:>9}",
            f.name,
            col,
            pct(f.present, n),
            pct(f.missing, n),
            pct(f.invalid, n),
            pct(f.refused, n),
            f.distinct.map_or("-".to_owned(), |d| d.to_string())
        );
    }
    let _ = writeln!(s, "\nchecks (records affected):");
    let mut any = false;
    for f in &p.fields {
        for (name, count) in &f.checks {
            let Some(c) = kith::profile::Check::ALL
                .into_iter()
                .find(|c| c.name() == *name)
            else {
                continue;
            };
            any = true;
            let _ = writeln!(
                s,
                "  {}: {} — {count} ({})",
                f.name,
                c.label(),
                pct(*count, n)
            );
            let e = ex.of(&f.name, name);
            if !e.is_empty() {
                if c == kith::profile::Check::RepeatedValue {
                    let shown: Vec<String> = e
                        .iter()
                        .map(|(count, v)| format!("{v:?} ×{count}"))
                        .collect();
                    let _ = writeln!(s, "      values: {}", shown.join(", "));
                } else {
                    let _ = writeln!(s, "      e.g. {}", examples_line(e));
                }
            }
            let _ = writeln!(s, "      effect: {}", c.effect());
        }
        for what in ["invalid", "refused"] {
            let e = ex.of(&f.name, what);
            if !e.is_empty() {
                any = true;
                let _ = writeln!(
                    s,
                    "  {}: {what} — {} ({}); e.g. {}",
                    f.name,
                    if what == "invalid" {
                        f.invalid
                    } else {
                        f.refused
                    },
                    pct(
                        if what == "invalid" {
                            f.invalid
                        } else {
                            f.refused
                        },
                        n
                    ),
                    examples_line(e)
                );
            }
        }
    }
    if !any {
        let _ = writeln!(s, "  none found");
    }
    let d = &p.duplicate_ids;
    let _ = writeln!(s, "\nduplicates:");
    if d.id_column {
        let _ = writeln!(
            s,
            "  local IDs used more than once: {} IDs on {} rows; rows with no ID: {}",
            d.ids, d.rows, d.empty
        );
    } else {
        let _ = writeln!(
            s,
            "  no local ID column: records are numbered by their row (give --id-column or id_column in the mapping)"
        );
    }
    let l = &p.likely_duplicates;
    let eg = |what: &str| match ex.of("", what) {
        [] => String::new(),
        x => format!(" (e.g. {})", examples_line(x)),
    };
    let _ = writeln!(
        s,
        "  likely the same person under another ID: {} agree on every field{}; {} share an exact identifier{}",
        l.same_details,
        eg("same_details"),
        l.same_identifier,
        eg("same_identifier")
    );
    let e = &p.linkage;
    let _ = writeln!(s, "\nexpected effect on linkage:");
    let _ = writeln!(
        s,
        "  linkable: {} ({}); with an exact identifier: {} ({})",
        e.linkable,
        pct(e.linkable, n),
        e.with_exact_identifier,
        pct(e.with_exact_identifier, n)
    );
    let _ = writeln!(
        s,
        "  never compared (no blocking key, no exact identifier): {} ({}){}",
        e.no_blocking_key,
        pct(e.no_blocking_key, n),
        match ex.of("", "no_blocking_key") {
            [] => String::new(),
            x => format!("; e.g. {}", examples_line(x)),
        }
    );
    let _ = writeln!(
        s,
        "  too few fields to tell apart (under half the features, no exact identifier): {} ({}){}",
        e.too_few_fields,
        pct(e.too_few_fields, n),
        match ex.of("", "too_few_fields") {
            [] => String::new(),
            x => format!("; e.g. {}", examples_line(x)),
        }
    );
    let v = &p.verdict;
    let _ = writeln!(s, "\nverdict: {}", v.fit.to_uppercase());
    for r in &v.reasons {
        let _ = writeln!(s, "  - {r}");
    }
    if !v.fix_first.is_empty() {
        let _ = writeln!(s, "fix first:");
        for (i, f) in v.fix_first.iter().take(5).enumerate() {
            let field = if f.field.is_empty() {
                String::new()
            } else {
                format!("{}: ", f.field)
            };
            let _ = writeln!(
                s,
                "  {}. {field}{} ({} record{}, {}): {}",
                i + 1,
                f.what,
                f.records,
                if f.records == 1 { "" } else { "s" },
                pct(f.records, n),
                f.advice
            );
        }
    }
    s
}
