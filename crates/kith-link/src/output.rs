//! The files the linkage party writes: `links.csv` and `review.csv` (pairs) and `clusters.csv`
//! (every record with its entity id). Rows are sorted by name, so their order says nothing about
//! any holder's input order.

use std::io::Write;

use rayon::prelude::*;

use crate::Dataset;
use crate::solve::Candidate;

/// Records as the outputs name them: their source, and a name per row (the record token in hex).
/// A [`Dataset`] is one; so are [`Names`], the records of a linkage solved elsewhere (a Spark
/// job's driver holds names, not CLKs).
pub trait Named: Sync {
    /// The source (holder) name.
    fn source_name(&self) -> &str;
    /// Number of records.
    fn records(&self) -> usize;
    /// Record `row`'s name.
    fn record_name(&self, row: usize) -> String;
}

impl Named for Dataset {
    fn source_name(&self) -> &str {
        &self.source
    }
    fn records(&self) -> usize {
        self.len()
    }
    fn record_name(&self, row: usize) -> String {
        self.id(row)
    }
}

/// A source's records by name, in the order their encodings file lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    /// The source.
    pub source: String,
    /// Each record's name.
    pub names: Vec<String>,
}

impl Named for Names {
    fn source_name(&self) -> &str {
        &self.source
    }
    fn records(&self) -> usize {
        self.names.len()
    }
    fn record_name(&self, row: usize) -> String {
        self.names[row].clone()
    }
}

/// Quote a CSV field (a party name) if CSV needs it.
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// Write pairs (`source_a,token_a,source_b,token_b,score`), sorted by their names.
pub fn write_pairs<W: Write, D: Named>(
    w: &mut W,
    datasets: &[D],
    pairs: &[Candidate],
) -> std::io::Result<()> {
    let mut rows: Vec<(&str, String, &str, String, f64)> = pairs
        .iter()
        .map(|c| {
            let (a, b) = (&datasets[c.a.ds as usize], &datasets[c.b.ds as usize]);
            (
                a.source_name(),
                a.record_name(c.a.row as usize),
                b.source_name(),
                b.record_name(c.b.row as usize),
                c.score,
            )
        })
        .collect();
    rows.sort_by(|x, y| (x.0, &x.1, x.2, &x.3).cmp(&(y.0, &y.1, y.2, &y.3)));
    writeln!(w, "source_a,token_a,source_b,token_b,score")?;
    for (sa, ta, sb, tb, score) in rows {
        writeln!(
            w,
            "{},{ta},{},{tb},{score:.6}",
            csv_field(sa),
            csv_field(sb)
        )?;
    }
    Ok(())
}

/// Write every record with its entity id (`source,token,entity_id`), sorted by entity id, then
/// source and record name.
pub fn write_clusters<W: Write, D: Named>(
    w: &mut W,
    datasets: &[D],
    entity: &[Vec<u64>],
) -> std::io::Result<()> {
    // Names are made only to break ties within an entity, so a national extract does not need a
    // string per record in memory.
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
            (a.source_name(), a.record_name(x.2 as usize))
                .cmp(&(b.source_name(), b.record_name(y.2 as usize)))
        })
    });
    writeln!(w, "source,token,entity_id")?;
    for (e, ds, row) in rows {
        let d = &datasets[ds as usize];
        writeln!(
            w,
            "{},{},{e:016x}",
            csv_field(d.source_name()),
            d.record_name(row as usize)
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_field_quotes_only_what_csv_needs() {
        assert_eq!(csv_field("council"), "council");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
    }
}
