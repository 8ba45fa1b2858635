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
    // Sorted by each record's place among its source's names (equal names share a place), so
    // that a national run's links do not hold two strings per pair in memory; names are made
    // once per record named, one source at a time.
    let place_of = |names: Vec<String>| -> Vec<u32> {
        let mut order: Vec<u32> = (0..names.len() as u32).collect();
        order.sort_by(|&x, &y| names[x as usize].cmp(&names[y as usize]));
        let mut place = vec![0u32; names.len()];
        let mut at = 0u32;
        for (n, w) in order.windows(2).enumerate() {
            if names[w[0] as usize] != names[w[1] as usize] {
                at = n as u32 + 1;
            }
            place[w[1] as usize] = at;
        }
        place
    };
    let source = place_of(
        datasets
            .iter()
            .map(|d| d.source_name().to_owned())
            .collect(),
    );
    let mut named: Vec<Vec<u32>> = vec![Vec::new(); datasets.len()];
    for c in pairs {
        named[c.a.ds as usize].push(c.a.row);
        named[c.b.ds as usize].push(c.b.row);
    }
    let mut place: Vec<Vec<u32>> = Vec::with_capacity(datasets.len());
    for (d, rows) in datasets.iter().zip(&mut named) {
        rows.sort_unstable();
        rows.dedup();
        let of_rows = place_of(rows.iter().map(|&r| d.record_name(r as usize)).collect());
        let mut p = vec![0u32; if rows.is_empty() { 0 } else { d.records() }];
        for (&r, &at) in rows.iter().zip(&of_rows) {
            p[r as usize] = at;
        }
        place.push(p);
    }
    let key = |c: &Candidate| {
        let (a, b) = (c.a.ds as usize, c.b.ds as usize);
        (
            source[a],
            place[a][c.a.row as usize],
            source[b],
            place[b][c.b.row as usize],
        )
    };
    let mut order: Vec<u32> = (0..pairs.len() as u32).collect();
    order.sort_by_key(|&n| key(&pairs[n as usize]));
    writeln!(w, "source_a,token_a,source_b,token_b,score")?;
    for n in order {
        let c = &pairs[n as usize];
        let (a, b) = (&datasets[c.a.ds as usize], &datasets[c.b.ds as usize]);
        writeln!(
            w,
            "{},{},{},{},{:.6}",
            csv_field(a.source_name()),
            a.record_name(c.a.row as usize),
            csv_field(b.source_name()),
            b.record_name(c.b.row as usize),
            c.shown()
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
    fn pairs_are_written_in_order_of_source_and_record_names() {
        use crate::solve::Rec;
        // Dataset 0 is "police", 1 "health": health's pairs come first; within a source, by the
        // records' names, not their rows (row 0 of health is "zed").
        let sets = [
            Names {
                source: "police".into(),
                names: vec!["b".into(), "a".into()],
            },
            Names {
                source: "health".into(),
                names: vec!["zed".into(), "amy".into(), "amy".into()],
            },
        ];
        let pair = |a: (u32, u32), b: (u32, u32), score| Candidate {
            score,
            shown: Candidate::SCORE,
            a: Rec { ds: a.0, row: a.1 },
            b: Rec { ds: b.0, row: b.1 },
            exact: false,
        };
        let pairs = [
            pair((0, 0), (1, 0), 0.9),
            pair((0, 1), (1, 0), 0.8),
            pair((1, 0), (1, 1), 0.7),
            pair((0, 0), (1, 1), 0.6),
            // One name twice: kept in input order.
            pair((1, 2), (1, 0), 0.5),
            pair((1, 1), (1, 0), 0.4),
        ];
        let mut out = Vec::new();
        write_pairs(&mut out, &sets, &pairs).expect("written");
        assert_eq!(
            String::from_utf8(out).expect("utf-8"),
            "source_a,token_a,source_b,token_b,score\n\
             health,amy,health,zed,0.500000\n\
             health,amy,health,zed,0.400000\n\
             health,zed,health,amy,0.700000\n\
             police,a,health,zed,0.800000\n\
             police,b,health,amy,0.600000\n\
             police,b,health,zed,0.900000\n"
        );
    }

    #[test]
    fn csv_field_quotes_only_what_csv_needs() {
        assert_eq!(csv_field("council"), "council");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
    }
}
