//! `kith report`: one self-contained HTML file for a finished run (inline SVG and CSS, a few
//! lines of inline script, nothing fetched), built only from what the run folders hold: the
//! manifests, `model.json`, and the aggregate shape of links.csv, review.csv, clusters.csv and
//! families.csv. It shows counts, scores and settings, never a token or a value, so it shows the
//! linkage party nothing it does not already hold. The same folders give the same bytes, apart
//! from the times the manifests recorded.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, ensure};
use serde_json::Value;

use crate::atomic::AtomicFile;
use crate::csvin::CsvRows;

/// Score histogram bins over [0, 1].
const BINS: usize = 50;

/// What a report is made from.
pub(crate) struct Sources<'a> {
    /// A `kith link` output folder.
    pub(crate) links: &'a Path,
    /// A `kith families` output folder.
    pub(crate) families: Option<&'a Path>,
    /// Holders' encode manifests (`FILE.manifest.json`), as they chose to send them.
    pub(crate) encodes: &'a [PathBuf],
    /// Holders' profiles of their extracts (`kith profile --json`), as they chose to send them.
    pub(crate) profiles: &'a [PathBuf],
    /// A `kith patterns` output folder: its published tables.
    pub(crate) patterns: Option<&'a Path>,
    /// A labelled sample (source, token, entity), for the calibration of the scores.
    pub(crate) truth: Option<&'a Path>,
}

/// Write the report of `src` to `out` (whole or not at all).
pub(crate) fn write(src: &Sources<'_>, out: &Path) -> Result<()> {
    // A families folder given in place of the link's: the link is the one its manifest read.
    let families_run = read_json(&src.links.join("manifest.json"))
        .ok()
        .filter(|m| m["command"] == "families" && src.families.is_none())
        .and_then(|m| {
            m["inputs"].as_array()?.iter().find_map(|i| {
                (i["role"] == "clusters")
                    .then(|| {
                        i["path"]
                            .as_str()
                            .map(|p| crate::atomic::parent_dir(Path::new(p)))
                    })
                    .flatten()
            })
        });
    let html = match &families_run {
        Some(links) => render(&Sources {
            links,
            families: Some(src.links),
            ..*src
        })?,
        None => render(src)?,
    };
    let mut f = AtomicFile::create(out)?;
    std::io::Write::write_all(f.writer(), html.as_bytes())
        .with_context(|| format!("cannot write {}", out.display()))?;
    f.commit()?;
    Ok(())
}

fn read_json(path: &Path) -> Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{}: not valid JSON", path.display()))
}

/// The aggregate shape of a link run's CSV files.
#[derive(Default)]
struct LinkShape {
    links: Vec<u64>,
    review: Vec<u64>,
    has_review: bool,
    /// Links per unordered pair of sources.
    pairs: BTreeMap<(String, String), u64>,
    /// Entities by their set of sources.
    overlap: BTreeMap<Vec<String>, u64>,
    /// Entities by number of records.
    sizes: BTreeMap<usize, u64>,
    sources: BTreeSet<String>,
}

fn bin(score: f64) -> usize {
    ((score * BINS as f64) as usize).min(BINS - 1)
}

fn scores(
    path: &Path,
    into: &mut [u64],
    pairs: Option<&mut BTreeMap<(String, String), u64>>,
) -> Result<()> {
    let mut r = CsvRows::open(path)?;
    ensure!(
        r.header().iter().collect::<Vec<_>>()
            == ["source_a", "token_a", "source_b", "token_b", "score"],
        "{}: line 1: expected the header of a kith link output",
        path.display()
    );
    let mut pairs = pairs;
    while let Some((line, rec)) = r.next_row()? {
        let s: f64 = rec[4].parse().with_context(|| {
            format!(
                "{}: line {line}: field score: expected a number",
                path.display()
            )
        })?;
        into[bin(s)] += 1;
        if let Some(p) = pairs.as_deref_mut() {
            let (a, b) = (rec[0].to_owned(), rec[2].to_owned());
            *p.entry(if a <= b { (a, b) } else { (b, a) }).or_insert(0) += 1;
        }
    }
    Ok(())
}

/// Whether the run's manifest lists an output of this role (a file of that name left by an
/// earlier run in the same folder is not this run's).
fn wrote(manifest: &Value, role: &str) -> bool {
    manifest["outputs"]
        .as_array()
        .is_some_and(|o| o.iter().any(|f| f["role"] == role))
}

fn link_shape(dir: &Path, with_review: bool) -> Result<LinkShape> {
    let mut s = LinkShape {
        links: vec![0; BINS],
        review: vec![0; BINS],
        ..LinkShape::default()
    };
    scores(&dir.join("links.csv"), &mut s.links, Some(&mut s.pairs))?;
    let review = dir.join("review.csv");
    if with_review {
        s.has_review = true;
        scores(&review, &mut s.review, None)?;
    }
    let path = dir.join("clusters.csv");
    let mut r = CsvRows::open(&path)?;
    let mut entities: BTreeMap<String, (BTreeSet<String>, usize)> = BTreeMap::new();
    while let Some((_, rec)) = r.next_row()? {
        s.sources.insert(rec[0].to_owned());
        let e = entities.entry(rec[2].to_owned()).or_default();
        e.0.insert(rec[0].to_owned());
        e.1 += 1;
    }
    for (sources, n) in entities.into_values() {
        *s.overlap.entry(sources.into_iter().collect()).or_insert(0) += 1;
        *s.sizes.entry(n).or_insert(0) += 1;
    }
    Ok(s)
}

/// The aggregate shape of families.csv.
#[derive(Default)]
struct FamilyShape {
    persons: BTreeMap<usize, u64>,
    met: BTreeMap<usize, u64>,
    combos: BTreeMap<Vec<String>, u64>,
}

fn family_shape(dir: &Path) -> Result<FamilyShape> {
    let path = dir.join("families.csv");
    let mut r = CsvRows::open(&path)?;
    let names = crate::families::criteria_columns(r.header());
    let mut s = FamilyShape::default();
    while let Some((line, rec)) = r.next_row()? {
        let num = |i: usize, what: &str| -> Result<usize> {
            rec[i].parse().with_context(|| {
                format!(
                    "{}: line {line}: field {what}: expected a number",
                    path.display()
                )
            })
        };
        *s.persons.entry(num(1, "persons")?).or_insert(0) += 1;
        *s.met.entry(num(4, "criteria_met")?).or_insert(0) += 1;
        let mut combo = Vec::new();
        for (i, n) in &names {
            if num(*i, n)? > 0 {
                combo.push(n.clone());
            }
        }
        if !combo.is_empty() {
            *s.combos.entry(combo).or_insert(0) += 1;
        }
    }
    Ok(s)
}

/// Text for HTML (element content and attribute values).
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A JSON value as short text.
fn show(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "none".to_owned(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => format!("{f:.4}"),
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

/// Horizontal bars: one row per label, its value at the end.
fn bars(id: &str, title: &str, rows: &[(String, f64)], unit: &str) -> String {
    let max = rows.iter().map(|r| r.1).fold(0.0, f64::max).max(1e-9);
    let (label_w, bar_w, row_h) = (300.0, 400.0, 20.0);
    let h = 30.0 + row_h * rows.len() as f64;
    let mut svg = format!(
        r#"<figure><figcaption>{}</figcaption><svg class="chart" id="{id}" viewBox="0 0 {} {h}" style="max-width:{}px" role="img" aria-label="{}">"#,
        esc(title),
        label_w + bar_w + 90.0,
        label_w + bar_w + 90.0,
        esc(title)
    );
    for (i, (label, v)) in rows.iter().enumerate() {
        let y = 10.0 + row_h * i as f64;
        let w = bar_w * v / max;
        // Long labels are cut to fit; the bar's tooltip has the whole.
        let shown: String = if label.chars().count() > 46 {
            label.chars().take(45).chain(std::iter::once('…')).collect()
        } else {
            label.clone()
        };
        let value = if unit == "%" {
            format!("{v:.1}")
        } else {
            fmt_num(*v)
        };
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="end">{}</text><rect x="{label_w}" y="{}" width="{w:.1}" height="{}"><title>{}: {}</title></rect><text x="{}" y="{}">{}{unit}</text>"#,
            label_w - 6.0,
            y + 14.0,
            esc(&shown),
            y + 3.0,
            row_h - 6.0,
            esc(label),
            value,
            label_w + w + 4.0,
            y + 14.0,
            value
        );
    }
    svg.push_str("</svg></figure>");
    svg
}

fn fmt_num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        let n = v as i64;
        let s = n.abs().to_string();
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            if i > 0 && (s.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        if n < 0 { format!("-{out}") } else { out }
    } else {
        format!("{v:.3}")
    }
}

/// The score histogram: kept links and review candidates, with the threshold and review band.
fn histogram(shape: &LinkShape, threshold: f64, review: Option<f64>) -> String {
    let (w, h, left, bottom) = (700.0, 260.0, 70.0, 30.0);
    let max = (0..BINS)
        .map(|i| shape.links[i] + shape.review[i])
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    // A square-root scale: the hump of non-matches and the hump of matches both stay visible.
    let y = |n: f64| (h - bottom) * (1.0 - (n / max).sqrt());
    let bw = (w - left) / BINS as f64;
    let mut svg = format!(
        r#"<figure><figcaption>Scores of the pairs kept as links and of those left for review (square-root scale)</figcaption><svg class="chart" id="scores" viewBox="0 0 {} {h}" style="max-width:{}px" role="img" aria-label="score histogram">"#,
        w + 20.0,
        w + 20.0
    );
    if let Some(r) = review {
        let x0 = left + (w - left) * r;
        let x1 = left + (w - left) * threshold;
        let _ = write!(
            svg,
            r#"<rect class="band" x="{x0:.1}" y="0" width="{:.1}" height="{}"><title>review band {r:.2} to {threshold:.2}</title></rect>"#,
            (x1 - x0).max(0.0),
            h - bottom
        );
    }
    for i in 0..BINS {
        let x = left + bw * i as f64;
        let (l, r) = (shape.links[i] as f64, shape.review[i] as f64);
        let lo = (i as f64) / BINS as f64;
        for (class, n, base) in [("review", r, 0.0), ("link", l, r)] {
            if n > 0.0 {
                let top = y(base + n);
                let _ = write!(
                    svg,
                    r#"<rect class="{class}" x="{:.1}" y="{top:.1}" width="{:.1}" height="{:.1}"><title>{class}s scored {lo:.2}–{:.2}: {}</title></rect>"#,
                    x + 0.5,
                    bw - 1.0,
                    y(base) - top,
                    lo + 1.0 / BINS as f64,
                    fmt_num(n)
                );
            }
        }
    }
    let tx = left + (w - left) * threshold;
    let _ = write!(
        svg,
        r#"<line class="threshold" x1="{tx:.1}" y1="0" x2="{tx:.1}" y2="{}"/><text x="{:.1}" y="12">threshold {threshold:.2}</text>"#,
        h - bottom,
        tx + 4.0
    );
    for t in 0..=10 {
        let x = left + (w - left) * t as f64 / 10.0;
        let _ = write!(
            svg,
            r#"<text x="{x:.1}" y="{}" text-anchor="middle">{:.1}</text>"#,
            h - 10.0,
            t as f64 / 10.0
        );
    }
    let _ = write!(
        svg,
        r#"<text x="4" y="12">{} pairs</text><line class="axis" x1="{left}" y1="{}" x2="{w}" y2="{}"/></svg></figure>"#,
        fmt_num(max),
        h - bottom,
        h - bottom
    );
    svg
}

/// The field model as a grid: a cell per field and agreement level, coloured by its weight.
fn weights(model: &Value) -> String {
    let fields = model["fields"].as_array().cloned().unwrap_or_default();
    let bounds: Vec<String> = model["bounds"]
        .as_array()
        .map(|b| {
            b.iter()
                .map(|v| format!("≥{}", show(v).trim_end_matches('0')))
                .collect()
        })
        .unwrap_or_default();
    let levels: Vec<String> = std::iter::once("disagree".to_owned())
        .chain(bounds)
        .collect();
    let (label_w, cell_w, cell_h) = (150.0, 80.0, 24.0);
    let h = 30.0 + cell_h * fields.len() as f64;
    let mut svg = format!(
        r#"<figure><figcaption>The fitted model: each field's weight log2(m/u) at each agreement level (Dice of its filters); green is evidence for a match, red against</figcaption><svg class="chart" id="model" viewBox="0 0 {} {h}" style="max-width:{}px" role="img" aria-label="field weights">"#,
        label_w + cell_w * levels.len() as f64 + 10.0,
        label_w + cell_w * levels.len() as f64 + 10.0
    );
    for (j, l) in levels.iter().enumerate() {
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="16" text-anchor="middle">{}</text>"#,
            label_w + cell_w * (j as f64 + 0.5),
            esc(l)
        );
    }
    for (i, f) in fields.iter().enumerate() {
        let y = 24.0 + cell_h * i as f64;
        let name = f["name"].as_str().unwrap_or("?");
        let _ = write!(
            svg,
            r#"<text x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
            label_w - 6.0,
            y + 16.0,
            esc(name)
        );
        let ws = f["weight"].as_array().cloned().unwrap_or_default();
        for (j, w) in ws.iter().enumerate() {
            let w = w.as_f64().unwrap_or(0.0);
            // Saturates at ±10 bits.
            let a = (w.abs() / 10.0).min(1.0);
            let colour = if w >= 0.0 {
                format!("rgba(26,127,55,{a:.2})")
            } else {
                format!("rgba(190,40,40,{a:.2})")
            };
            let x = label_w + cell_w * j as f64;
            let _ = write!(
                svg,
                r#"<rect x="{x:.1}" y="{y:.1}" width="{}" height="{}" style="fill:{colour}"><title>{}, {}: {w:+.2}</title></rect><text x="{:.1}" y="{:.1}" text-anchor="middle">{w:+.1}</text>"#,
                cell_w - 2.0,
                cell_h - 2.0,
                esc(name),
                esc(levels.get(j).map_or("", String::as_str)),
                x + cell_w / 2.0,
                y + 16.0
            );
        }
    }
    svg.push_str("</svg></figure>");
    svg
}

/// An UpSet-style view of the sources: entities by the set of sources that hold them, a bar each,
/// with the set drawn as dots beneath.
fn upset(shape: &LinkShape) -> String {
    let sources: Vec<&String> = shape.sources.iter().collect();
    let mut combos: Vec<(&Vec<String>, u64)> = shape.overlap.iter().map(|(k, v)| (k, *v)).collect();
    combos.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    combos.truncate(24);
    let max = combos.iter().map(|c| c.1).max().unwrap_or(1).max(1) as f64;
    let (left, col, bar_h, dot_h) = (110.0, 34.0, 160.0, 18.0);
    let w = left + col * combos.len() as f64 + 10.0;
    let h = bar_h + 20.0 + dot_h * sources.len() as f64 + 10.0;
    let mut svg = format!(
        r#"<figure><figcaption>Which sources hold each person (entities by their set of sources, largest first)</figcaption><svg class="chart" id="overlap" viewBox="0 0 {w} {h}" style="max-width:{w}px" role="img" aria-label="overlap of sources">"#
    );
    for (i, (set, n)) in combos.iter().enumerate() {
        let x = left + col * i as f64;
        let bh = (bar_h - 14.0) * (*n as f64) / max;
        let label = set.join(" + ");
        let _ = write!(
            svg,
            r#"<rect x="{:.1}" y="{:.1}" width="{}" height="{bh:.1}"><title>{}: {}</title></rect><text x="{:.1}" y="{:.1}" text-anchor="middle" class="small">{}</text>"#,
            x + 4.0,
            bar_h - bh,
            col - 8.0,
            esc(&label),
            fmt_num(*n as f64),
            x + col / 2.0,
            bar_h - bh - 3.0,
            fmt_num(*n as f64)
        );
        for (j, s) in sources.iter().enumerate() {
            let cy = bar_h + 20.0 + dot_h * j as f64;
            let class = if set.contains(s) { "dot on" } else { "dot" };
            let _ = write!(
                svg,
                r#"<circle class="{class}" cx="{:.1}" cy="{cy:.1}" r="5"/>"#,
                x + col / 2.0
            );
        }
    }
    for (j, s) in sources.iter().enumerate() {
        let _ = write!(
            svg,
            r#"<text x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
            left - 8.0,
            bar_h + 24.0 + dot_h * j as f64,
            esc(s)
        );
    }
    svg.push_str("</svg></figure>");
    svg
}

/// Upper bounds of the calibration bands.
const BANDS: [f64; 11] = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.99, 1.0];

/// Calibration against a labelled sample: of the pairs in links.csv and review.csv whose records
/// are both in the sample, per score band, the share that are one person, beside the band's mean
/// score (what a calibrated score would give).
fn calibration(dir: &Path, truth: &Path) -> Result<String> {
    let rows = crate::evaluate::read_columns(truth, &["source", "token", "entity"])?;
    let entity = crate::evaluate::to_map(rows, truth)?;
    // Per band: pairs, true matches, sum of scores.
    let mut bands = [(0u64, 0u64, 0.0f64); BANDS.len()];
    for file in ["links.csv", "review.csv"] {
        let path = dir.join(file);
        if !path.exists() {
            continue;
        }
        let mut r = CsvRows::open(&path)?;
        while let Some((line, rec)) = r.next_row()? {
            let (Some(x), Some(y)) = (
                entity.get(&(rec[0].to_owned(), rec[1].to_owned())),
                entity.get(&(rec[2].to_owned(), rec[3].to_owned())),
            ) else {
                continue;
            };
            let s: f64 = rec[4].parse().with_context(|| {
                format!(
                    "{}: line {line}: field score: expected a number",
                    path.display()
                )
            })?;
            let b = BANDS.iter().position(|&u| s < u).unwrap_or(BANDS.len() - 1);
            bands[b].0 += 1;
            bands[b].1 += u64::from(x == y);
            bands[b].2 += s;
        }
    }
    let (w, h, left, bottom) = (700.0, 240.0, 50.0, 40.0);
    let col = (w - left) / BANDS.len() as f64;
    let y = |v: f64| (h - bottom) * (1.0 - v) + 6.0;
    let mut svg = format!(
        r#"<h2>Calibration against the labelled sample</h2><figure><figcaption>Of the pairs scored in each band (links and review band whose records are both in {}), the share that are one person (bars) and the band's mean score (marks): a calibrated score puts each mark at the top of its bar</figcaption><svg class="chart" id="calibration" viewBox="0 0 {w} {h}" style="max-width:{w}px" role="img" aria-label="calibration">"#,
        esc(&truth.file_name().unwrap_or_default().to_string_lossy())
    );
    let mut lower = 0.0;
    for (b, &(n, t, sum)) in bands.iter().enumerate() {
        let x = left + col * b as f64;
        let label = format!("{lower:.2}–{:.2}", BANDS[b]);
        lower = BANDS[b];
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{}" text-anchor="middle" class="small">{label}</text><text x="{:.1}" y="{}" text-anchor="middle" class="small">{} pairs</text>"#,
            x + col / 2.0,
            h - 22.0,
            x + col / 2.0,
            h - 8.0,
            fmt_num(n as f64)
        );
        if n == 0 {
            continue;
        }
        let share = t as f64 / n as f64;
        let mean = sum / n as f64;
        let _ = write!(
            svg,
            r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}"><title>{label}: {t} of {n} pairs are one person ({:.1}%); mean score {mean:.3}</title></rect><line class="threshold" x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}"/>"#,
            x + 4.0,
            y(share),
            col - 8.0,
            y(0.0) - y(share),
            100.0 * share,
            x + 2.0,
            y(mean),
            x + col - 2.0,
            y(mean)
        );
    }
    for t in [0.0, 0.5, 1.0] {
        let _ = write!(
            svg,
            r#"<text x="{}" y="{:.1}" text-anchor="end">{t:.1}</text>"#,
            left - 6.0,
            y(t) + 4.0
        );
    }
    svg.push_str("</svg></figure>");
    Ok(svg)
}

/// Review pairs shown at most.
const REVIEW_ROWS: usize = 200;

/// The evidence of each pair listed for review (the band, possible twins, and pairs above the
/// threshold the solver did not link; as `kith explain` gives it), a row per pair
/// named by its line in review.csv: each field's level as a cell coloured by its weight, the
/// term-frequency adjustment, the probability and the twin rule. Needs the run's encodings,
/// unchanged; without them the section says so.
fn review_evidence(dir: &Path) -> String {
    let mut html = String::from("<h2>Pairs for review, pair by pair</h2>");
    let run = match crate::explain::LinkedRun::open(dir) {
        Ok(run) => run,
        Err(e) => {
            let _ = write!(
                html,
                "<p>The evidence of each pair needs the run's encodings as they were linked: {}.</p>",
                esc(&format!("{e:#}"))
            );
            return html;
        }
    };
    let Some(model) = &run.model else {
        return html;
    };
    let rows = match review_rows(dir, &run, model) {
        Ok(rows) => rows,
        Err(e) => {
            let _ = write!(html, "<p>{}</p>", esc(&format!("{e:#}")));
            return html;
        }
    };
    let names = &model.names;
    let _ = write!(
        html,
        "<p>Each pair of review.csv (by its line there; {} shown): every field's agreement level, coloured by its weight (green for a match, red against), then the adjustment for rare values, the model's probability and the twin rule. <code>kith explain --links DIR --row ROW</code> gives one in full.</p><table class=\"evidence\"><thead><tr><th>line</th><th>sources</th>",
        rows.len()
    );
    for n in names {
        let _ = write!(html, "<th>{}</th>", esc(n));
    }
    html.push_str("<th>rare values</th><th>probability</th><th>twin rule</th></tr></thead><tbody>");
    for (line, sources, e) in &rows {
        let _ = write!(html, "<tr><td>{line}</td><td>{}</td>", esc(sources));
        for f in &e.fields {
            let a = (f.weight.abs() / 10.0).min(1.0);
            let colour = if f.level.is_none() {
                "transparent".to_owned()
            } else if f.weight >= 0.0 {
                format!("rgba(26,127,55,{a:.2})")
            } else {
                format!("rgba(190,40,40,{a:.2})")
            };
            let _ = write!(
                html,
                "<td style=\"background:{colour}\" title=\"{}\">{}</td>",
                esc(&crate::explain::level_name(f.level)),
                match f.level {
                    None => "–".to_owned(),
                    Some(_) => format!("{:+.1}", f.weight),
                }
            );
        }
        let twin = twin_label(e);
        let _ = write!(
            html,
            "<td>{:+.1}</td><td>{:.3}</td><td>{twin}</td></tr>",
            e.tf_adjustment, e.probability
        );
    }
    html.push_str("</tbody></table>");
    html
}

/// What the twin rule said of a pair, for the review table's last column.
fn twin_label(e: &kith_link::explain::Explanation) -> &'static str {
    use kith_link::explain::{Contradiction, Exact};
    use kith_link::weigh::Twin;
    let exact = e.exact.iter().any(|(_, x)| *x == Exact::Agree);
    match (e.twin, e.contradicts) {
        (Twin::Like, _) if exact => "twin-like, but an exact identifier agrees",
        (Twin::Like, _) => "twin-like",
        _ if e.personal_agrees => "a personal number agrees",
        (Twin::Unsure, _) => "no forename",
        (_, Contradiction::Wholly) => "contradicts",
        (_, Contradiction::EachPart) => "siblings?",
        _ => "",
    }
}

/// The first review pairs' evidence: (line in review.csv, their sources, the explanation).
fn review_rows(
    dir: &Path,
    run: &crate::explain::LinkedRun,
    model: &kith_link::weigh::Model,
) -> Result<Vec<(u64, String, kith_link::explain::Explanation)>> {
    let mut r = CsvRows::open(&dir.join("review.csv"))?;
    let mut rows = Vec::new();
    while let Some((line, rec)) = r.next_row()? {
        if rows.len() >= REVIEW_ROWS {
            break;
        }
        let a = run.find(Some(&rec[0]), &rec[1])?;
        let b = run.find(Some(&rec[2]), &rec[3])?;
        let e = kith_link::explain::explain(&run.datasets, model, a, b, run.within_multiple(a, b))?;
        let sources = if rec[0] == rec[2] {
            format!("{} (within)", &rec[0])
        } else {
            format!("{} – {}", &rec[0], &rec[2])
        };
        rows.push((line, sources, e));
    }
    Ok(rows)
}

fn table(head: &[&str], rows: &[Vec<String>]) -> String {
    let mut t = String::from("<table><thead><tr>");
    for h in head {
        let _ = write!(t, "<th>{}</th>", esc(h));
    }
    t.push_str("</tr></thead><tbody>");
    for r in rows {
        t.push_str("<tr>");
        for c in r {
            let _ = write!(t, "<td>{}</td>", esc(c));
        }
        t.push_str("</tr>");
    }
    t.push_str("</tbody></table>");
    t
}

fn key_values(map: &Value) -> Vec<Vec<String>> {
    map.as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| vec![k.replace('_', " "), show(v)])
                .collect()
        })
        .unwrap_or_default()
}

fn render(src: &Sources<'_>) -> Result<String> {
    let link_manifest = read_json(&src.links.join("manifest.json")).with_context(|| {
        format!(
            "{} holds no run manifest: is it the output folder of a kith link run?",
            src.links.display()
        )
    })?;
    let shape = link_shape(src.links, wrote(&link_manifest, "review"))?;
    let params = &link_manifest["parameters"];
    let counts = &link_manifest["counts"];
    let threshold = params["threshold_used"].as_f64().unwrap_or(0.5);
    let review = params["review_threshold"].as_f64();
    let model_path = src.links.join("model.json");
    let model = wrote(&link_manifest, "model")
        .then(|| read_json(&model_path))
        .transpose()?;

    let mut body = String::new();
    let _ = write!(
        body,
        "<h1>kith run report</h1><p class=\"lead\">A link of {} sources: {} links, {} entities of two or more records{}. Threshold {threshold:.2}{}.</p>",
        shape.sources.len(),
        show(&counts["links"]),
        show(&counts["entities"]),
        if shape.has_review {
            format!(", {} pairs for review", show(&counts["review_pairs"]))
        } else {
            String::new()
        },
        match params["threshold_given"].as_f64() {
            Some(_) => " (given)".to_owned(),
            None => format!(
                " (kith's suggestion {:.2})",
                params["threshold_suggested"].as_f64().unwrap_or(threshold)
            ),
        }
    );

    body.push_str("<h2>Scores</h2>");
    body.push_str(&histogram(
        &shape,
        threshold,
        review.filter(|_| shape.has_review),
    ));
    if let Some(m) = &model {
        body.push_str("<h2>The field model</h2>");
        body.push_str(&weights(m));
        let _ = write!(
            body,
            "<p>Fitted without labels on {} pairs across sources and {} within ({} EM iterations); prior share of matches across sources {}; a pair is more likely a match than not from weight {} across sources.</p>",
            show(&m["fitted_pairs"]["across"]),
            show(&m["fitted_pairs"]["within"]),
            show(&m["iterations"]),
            show(&m["prior"]["across"]),
            show(&m["even_weight"]["across"])
        );
    }

    if let Some(truth) = src.truth {
        body.push_str(&calibration(src.links, truth)?);
    }
    if shape.has_review && model.is_some() {
        body.push_str(&review_evidence(src.links));
    }

    body.push_str("<h2>Sources</h2>");
    let records: Vec<(String, f64)> = counts["records_by_source"]
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), v.as_f64().unwrap_or(0.0)))
                .collect()
        })
        .unwrap_or_default();
    body.push_str(&bars(
        "records",
        "Records linked from each source",
        &records,
        "",
    ));
    let pairs: Vec<(String, f64)> = shape
        .pairs
        .iter()
        .map(|((a, b), n)| {
            (
                if a == b {
                    format!("{a} (within)")
                } else {
                    format!("{a} – {b}")
                },
                *n as f64,
            )
        })
        .collect();
    body.push_str(&bars("pairs", "Links per pair of sources", &pairs, ""));
    body.push_str(&upset(&shape));
    let sizes: Vec<(String, f64)> = shape
        .sizes
        .iter()
        .map(|(n, c)| {
            (
                format!("{n} record{}", if *n == 1 { "" } else { "s" }),
                *c as f64,
            )
        })
        .collect();
    body.push_str(&bars(
        "entities",
        "Entities by number of records",
        &sizes,
        "",
    ));

    if let Some(dir) = src.families {
        let fm = read_json(&dir.join("manifest.json")).with_context(|| {
            format!(
                "{} holds no run manifest: is it the output folder of a kith families run?",
                dir.display()
            )
        })?;
        let fam = family_shape(dir)?;
        body.push_str("<h2>Families</h2>");
        let _ = write!(
            body,
            "<p>{} people in {} families; {} families written (at least {} criteria).</p>",
            show(&fm["counts"]["people"]),
            show(&fm["counts"]["families"]),
            show(&fm["counts"]["families_written"]),
            show(&fm["parameters"]["min_criteria"])
        );
        let persons: Vec<(String, f64)> = fam
            .persons
            .iter()
            .map(|(n, c)| (format!("{n} people"), *c as f64))
            .collect();
        body.push_str(&bars(
            "family-sizes",
            "Families by number of people",
            &persons,
            "",
        ));
        let met: Vec<(String, f64)> = fam
            .met
            .iter()
            .map(|(n, c)| (format!("{n} criteria met"), *c as f64))
            .collect();
        body.push_str(&bars(
            "criteria-met",
            "Families by number of criteria met",
            &met,
            "",
        ));
        let mut combos: Vec<(String, f64)> = fam
            .combos
            .iter()
            .map(|(k, c)| (k.join(" + "), *c as f64))
            .collect();
        combos.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        combos.truncate(15);
        body.push_str(&bars(
            "criteria-combinations",
            "Families by combination of criteria met (the fifteen commonest)",
            &combos,
            "",
        ));
    }

    body.push_str("<h2>Blocking</h2>");
    let comparisons = counts["comparisons"].as_f64().unwrap_or(0.0);
    let all = counts["all_pairs"].as_f64().unwrap_or(0.0);
    let mut rows = vec![
        vec!["blocking".to_owned(), show(&params["blocking"])],
        vec!["comparisons".to_owned(), fmt_num(comparisons)],
        vec!["all pairs".to_owned(), fmt_num(all)],
        vec![
            "reduction ratio".to_owned(),
            format!(
                "{:.6}",
                if all > 0.0 {
                    1.0 - comparisons / all
                } else {
                    0.0
                }
            ),
        ],
    ];
    if let Some(e) = counts.get("pairs_completeness_estimate") {
        rows.push(vec!["pairs completeness (estimate)".to_owned(), show(e)]);
    }
    body.push_str(&table(&["", ""], &rows));

    if !src.encodes.is_empty() {
        body.push_str("<h2>Holders' extracts</h2>");
        let mut rows = Vec::new();
        let mut missing: BTreeMap<String, Vec<(String, f64)>> = BTreeMap::new();
        for path in src.encodes {
            let m = read_json(path)?;
            let party = show(&m["parameters"]["party"]);
            let c = &m["counts"];
            let encoded = c["rows_encoded"].as_f64().unwrap_or(0.0);
            rows.push(vec![
                party.clone(),
                show(&c["rows_encoded"]),
                show(&c["records_written"]),
                show(&c["rows_skipped"]),
                show(&c["duplicate_local_ids"]),
            ]);
            if let Some(fields) = c["fields"].as_object() {
                for (f, v) in fields {
                    let n =
                        v["missing"].as_f64().unwrap_or(0.0) + v["invalid"].as_f64().unwrap_or(0.0);
                    missing.entry(f.clone()).or_default().push((
                        party.clone(),
                        if encoded > 0.0 {
                            100.0 * n / encoded
                        } else {
                            0.0
                        },
                    ));
                }
            }
        }
        body.push_str(&table(
            &[
                "holder",
                "rows encoded",
                "records sent",
                "rows rejected",
                "duplicate IDs",
            ],
            &rows,
        ));
        let bars_rows: Vec<(String, f64)> = missing
            .iter()
            .flat_map(|(f, v)| {
                v.iter()
                    .map(move |(p, pct)| (format!("{f}, {p}"), (pct * 10.0).round() / 10.0))
            })
            .collect();
        body.push_str(&bars(
            "missing",
            "Missing or unreadable values per field and holder (% of rows)",
            &bars_rows,
            "%",
        ));
    }

    if !src.profiles.is_empty() {
        body.push_str(&profiles(src.profiles)?);
    }
    if let Some(dir) = src.patterns {
        body.push_str(&patterns(dir)?);
    }

    body.push_str("<h2>What was run</h2>");
    let mut rows = vec![
        vec![
            "tool".to_owned(),
            format!("kith {}", show(&link_manifest["version"])),
        ],
        vec![
            "run".to_owned(),
            format!(
                "{} to {}",
                show(&link_manifest["started"]),
                show(&link_manifest["finished"])
            ),
        ],
    ];
    for (k, v) in [
        ("schema fingerprints", "fingerprints"),
        ("key checks", "key_checks"),
    ] {
        let list: Vec<String> = link_manifest["schema"][v]
            .as_array()
            .map(|a| a.iter().map(show).collect())
            .unwrap_or_default();
        rows.push(vec![k.to_owned(), list.join(", ")]);
    }
    rows.extend(key_values(params));
    body.push_str(&table(&["", ""], &rows));

    Ok(format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>kith run report</title><style>{STYLE}</style></head><body><main>{body}</main><script>{SCRIPT}</script></body></html>\n"
    ))
}

/// The published patterns tables, as published: suppressed counts drawn as empty bars marked
/// `[c]`.
fn patterns(dir: &Path) -> Result<String> {
    let mut s = String::from(
        "<h2>Patterns of need (as published)</h2><p>Counts under the threshold, and the counts that would give them back, are suppressed ([c]).</p>",
    );
    let read = |name: &str, label_cols: usize| -> Result<Vec<(String, f64)>> {
        let path = dir.join(format!("{name}.csv"));
        let mut r = CsvRows::open(&path)?;
        let mut rows = Vec::new();
        while let Some((_, rec)) = r.next_row()? {
            let labels: Vec<&str> = rec.iter().take(label_cols).collect();
            if labels.contains(&"all") {
                continue;
            }
            let cell = rec.get(label_cols).unwrap_or("");
            let label = labels.join(": ");
            rows.push(match cell.parse::<f64>() {
                Ok(n) => (label, n),
                Err(_) => (format!("{label} [c]"), 0.0),
            });
        }
        Ok(rows)
    };
    s.push_str(&bars(
        "patterns-agencies",
        "Families known to each combination of agencies",
        &read("families_by_agencies", 1)?,
        "",
    ));
    let mut criteria = read("families_by_criteria", 2)?;
    criteria.retain(|(l, n)| *n > 0.0 || l.ends_with("[c]"));
    s.push_str(&bars(
        "patterns-criteria",
        "Families by the criteria they meet (combinations with none left out)",
        &criteria,
        "",
    ));
    Ok(s)
}

/// The holders' data quality, from the profiles they sent: a verdict per holder, the share of
/// records each problem touches, and what each holder was told to fix first.
fn profiles(paths: &[PathBuf]) -> Result<String> {
    let mut s = String::from("<h2>Holders' data quality</h2>");
    let mut rows = Vec::new();
    let mut affected: Vec<(String, f64)> = Vec::new();
    let mut fixes = String::new();
    for path in paths {
        let p = read_json(path)?;
        ensure!(
            p["format"] == "kith-profile",
            "{}: not a kith profile (kith profile --json writes one)",
            path.display()
        );
        let party = show(&p["party"]);
        let records = p["records"].as_f64().unwrap_or(0.0);
        let pct = |v: &Value| {
            if records > 0.0 {
                format!("{:.1}%", 100.0 * v.as_f64().unwrap_or(0.0) / records)
            } else {
                "-".to_owned()
            }
        };
        let l = &p["likely_duplicates"];
        rows.push(vec![
            party.clone(),
            show(&p["records"]),
            show(&p["verdict"]["fit"]),
            pct(&p["linkage"]["linkable"]),
            pct(&p["linkage"]["with_exact_identifier"]),
            show(&p["duplicate_ids"]["rows"]),
            format!(
                "{}",
                l["same_details"].as_u64().unwrap_or(0)
                    + l["same_identifier"].as_u64().unwrap_or(0)
            ),
        ]);
        let problems = p["verdict"]["fix_first"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for f in problems.iter().filter(|f| f["problem"] != "missing") {
            let n = f["records"].as_f64().unwrap_or(0.0);
            let field = f["field"].as_str().unwrap_or("");
            affected.push((
                format!(
                    "{party}: {}{}",
                    if field.is_empty() {
                        String::new()
                    } else {
                        format!("{field}, ")
                    },
                    show(&f["problem"]).replace('_', " ")
                ),
                if records > 0.0 {
                    (10000.0 * n / records).round() / 100.0
                } else {
                    0.0
                },
            ));
        }
        let top: Vec<String> = problems
            .iter()
            .take(3)
            .map(|f| {
                let field = f["field"].as_str().unwrap_or("");
                format!(
                    "<li>{}{} ({} records): {}</li>",
                    if field.is_empty() {
                        String::new()
                    } else {
                        format!("{}: ", esc(field))
                    },
                    esc(&show(&f["what"])),
                    show(&f["records"]),
                    esc(&show(&f["advice"]))
                )
            })
            .collect();
        if !top.is_empty() {
            let _ = write!(
                fixes,
                "<p>{} to fix first:</p><ul>{}</ul>",
                esc(&party),
                top.join("")
            );
        }
    }
    s.push_str(&table(
        &[
            "holder",
            "records",
            "verdict",
            "linkable",
            "with an exact identifier",
            "rows with a duplicate ID",
            "likely duplicate people",
        ],
        &rows,
    ));
    affected.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    affected.truncate(15);
    if !affected.is_empty() {
        s.push_str(&bars(
            "data-quality",
            "Records each problem touches (% of the holder's records; the fifteen largest)",
            &affected,
            "%",
        ));
    }
    s.push_str(&fixes);
    Ok(s)
}

const STYLE: &str = "body{font:15px/1.45 system-ui,sans-serif;color:#1b1f24;margin:0;background:#fff}\
main{max-width:980px;margin:0 auto;padding:24px}\
h1{font-size:26px;margin:0 0 8px}h2{font-size:19px;margin:28px 0 8px;border-bottom:1px solid #d0d7de;padding-bottom:4px}\
.lead{font-size:16px}figure{margin:12px 0}figcaption{font-weight:600;margin-bottom:4px}\
svg.chart{width:100%;height:auto;font-size:12px}svg text{fill:#1b1f24}svg .small{font-size:10px}\
svg rect{fill:#3b6fb6}svg rect.review{fill:#d4a72c}svg rect.band{fill:#fff5d6}svg rect.link{fill:#3b6fb6}\
svg line.threshold{stroke:#c62828;stroke-width:2}svg line.axis{stroke:#57606a}\
svg circle.dot{fill:#d0d7de}svg circle.dot.on{fill:#1b1f24}\
table{border-collapse:collapse;margin:8px 0}table.evidence{font-size:12px}table.evidence td{text-align:right}td,th{border:1px solid #d0d7de;padding:3px 8px;text-align:left}\
@media print{main{max-width:none;padding:0}figure,table{break-inside:avoid}}";

/// Marks the document once drawn: how many charts have content, and any script error, for the
/// browser test (and harmless to a reader).
const SCRIPT: &str = "window.addEventListener('error',function(e){document.documentElement.dataset.error=String(e.message)});\
document.documentElement.dataset.charts=String([].filter.call(document.querySelectorAll('svg.chart'),function(s){return s.getBBox().width>0&&s.childElementCount>0}).length);";

#[cfg(test)]
mod tests {
    use super::twin_label;
    use kith_link::explain::{Contradiction, Exact, Explanation};
    use kith_link::weigh::Twin;

    #[test]
    fn the_review_table_says_what_outweighed_the_twin_rule() {
        let e = |twin, contradicts, exact, personal_agrees| Explanation {
            kind: 1,
            dice: 0.9,
            fields: Vec::new(),
            tf_adjustment: 0.0,
            prior: 0.01,
            even_weight: 6.6,
            weight: 10.0,
            probability: 0.99,
            exact: vec![("nhs_number".to_owned(), exact)],
            twin,
            contradicts,
            personal_agrees,
            set_aside: false,
        };
        let no = Contradiction::No;
        for (twin, contradicts, exact, personal, says) in [
            (Twin::Like, no, Exact::Missing, false, "twin-like"),
            (
                Twin::Like,
                no,
                Exact::Agree,
                false,
                "twin-like, but an exact identifier agrees",
            ),
            (
                Twin::Not,
                no,
                Exact::Missing,
                true,
                "a personal number agrees",
            ),
            (Twin::Unsure, no, Exact::Missing, false, "no forename"),
            (
                Twin::Not,
                Contradiction::Wholly,
                Exact::Missing,
                false,
                "contradicts",
            ),
            (
                Twin::Not,
                Contradiction::EachPart,
                Exact::Differ,
                false,
                "siblings?",
            ),
            (Twin::Not, no, Exact::Missing, false, ""),
        ] {
            assert_eq!(twin_label(&e(twin, contradicts, exact, personal)), says);
        }
    }
}
