//! Patterns of need (`kith patterns`): aggregate counts from a linkage and families run, safe to
//! give to commissioners. People and families known to each combination of agencies, families by
//! the combination of criteria they meet, and families by area where the holders encoded one; all
//! protected together by [`crate::disclose`], so that no count under the threshold is published
//! or can be worked back from the totals.
//!
//! The tables share their totals: families by agencies, by criteria and by area all add up to the
//! same number of families, and the families by area table's columns are the criteria table's
//! subtotals (0, 1, 2, and 3 or more criteria met). Sharing the cells means a suppression in one
//! table cannot be undone with a total published in another.

use std::collections::BTreeMap;

use crate::disclose::{DiscloseError, Published, Rules, Tables};

/// Up to this many agencies or criteria, every combination gets a row (zeros included, so that
/// the rows are the same from run to run); beyond, only combinations that occur.
const ALL_COMBINATIONS_UP_TO: usize = 8;

/// The groups of criteria met that the criteria subtotals and the area table's columns use.
pub const CRITERIA_GROUPS: [(&str, usize, usize); 4] = [
    ("0", 0, 0),
    ("1", 1, 1),
    ("2", 2, 2),
    ("3 or more", 3, usize::MAX),
];

/// One family, as the patterns see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FamilyFacts {
    /// The agencies that hold a record of one of its members, a bit per agency.
    pub agencies: u64,
    /// The criteria it meets, a bit per criterion.
    pub criteria: u64,
    /// Its area (a postcode district), if its holders encoded one.
    pub area: Option<String>,
}

/// What the patterns are counted from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PatternInput {
    /// The agencies' names, a bit each (at most 64).
    pub agencies: Vec<String>,
    /// The criteria's names, a bit each (at most 64).
    pub criteria: Vec<String>,
    /// Each person (entity), as the agencies that hold a record of them.
    pub people: Vec<u64>,
    /// Each family.
    pub families: Vec<FamilyFacts>,
    /// Whether areas were encoded (then every family has a row in the area table, `none` for
    /// families with no area).
    pub with_areas: bool,
}

/// A published table: a header, and rows of labels and cells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedTable {
    /// Its file name without extension (`people_by_agencies`).
    pub name: &'static str,
    /// The label columns' names, then the count columns' names.
    pub header: Vec<String>,
    /// Labels, then the published cells.
    pub rows: Vec<(Vec<String>, Vec<Published>)>,
}

/// A row being built: its labels and its cells' indices.
type DraftRow = (Vec<String>, Vec<usize>);

/// A table being built.
struct Draft {
    name: &'static str,
    header: Vec<String>,
    rows: Vec<DraftRow>,
}

fn label(names: &[String], bits: u64, none: &str) -> String {
    if bits == 0 {
        return none.to_owned();
    }
    names
        .iter()
        .enumerate()
        .filter(|(i, _)| bits >> i & 1 == 1)
        .map(|(_, n)| n.as_str())
        .collect::<Vec<_>>()
        .join(" + ")
}

/// The combinations to give a row: every non-empty one (or, with `empty`, the empty one too) when
/// there are few names, else those that occur; by size, then by name order.
fn combinations(n: usize, seen: impl Iterator<Item = u64>, empty: bool) -> Vec<u64> {
    let mut all: Vec<u64> = if n <= ALL_COMBINATIONS_UP_TO {
        (u64::from(!empty)..1u64 << n).collect()
    } else {
        let mut v: Vec<u64> = seen.collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    // By size, then as the names read: the combination whose first differing name comes first.
    all.sort_by_key(|&m| {
        let names: Vec<u32> = (0..64).filter(|i| m >> i & 1 == 1).collect();
        (m.count_ones(), names)
    });
    all
}

fn count_by(items: impl Iterator<Item = u64>) -> BTreeMap<u64, u64> {
    let mut m = BTreeMap::new();
    for i in items {
        *m.entry(i).or_default() += 1;
    }
    m
}

/// Rows of a one-way table of `items` by combination of `names` (every non-empty combination
/// when there are few names), then "all"; and the total's cell.
fn combination_table(
    t: &mut Tables,
    names: &[String],
    items: impl Iterator<Item = u64>,
) -> (Vec<DraftRow>, usize) {
    let counts = count_by(items);
    let combos = combinations(names.len(), counts.keys().copied(), false);
    let cells: Vec<usize> = combos
        .iter()
        .map(|m| t.cell(counts.get(m).copied().unwrap_or(0)))
        .collect();
    let total = t.total(&cells);
    let mut rows: Vec<DraftRow> = combos
        .iter()
        .zip(&cells)
        .map(|(&m, &c)| (vec![label(names, m, "none")], vec![c]))
        .collect();
    rows.push((vec!["all".to_owned()], vec![total]));
    (rows, total)
}

/// Build and protect every table.
pub fn patterns(input: &PatternInput, rules: &Rules) -> Result<Vec<PublishedTable>, DiscloseError> {
    let mut t = Tables::default();
    let mut drafts = Vec::new();

    // People by agencies (its own total: people, not families), and families by agencies, whose
    // total is every family table's.
    let (people_rows, _) = combination_table(&mut t, &input.agencies, input.people.iter().copied());
    drafts.push(Draft {
        name: "people_by_agencies",
        header: vec!["agencies".into(), "people".into()],
        rows: people_rows,
    });
    let (family_rows, families) = combination_table(
        &mut t,
        &input.agencies,
        input.families.iter().map(|f| f.agencies),
    );
    drafts.push(Draft {
        name: "families_by_agencies",
        header: vec!["agencies".into(), "families".into()],
        rows: family_rows,
    });

    // Families by criteria: each combination, a subtotal per group of criteria met, the total.
    let by_criteria = count_by(input.families.iter().map(|f| f.criteria));
    let combos = combinations(input.criteria.len(), by_criteria.keys().copied(), true);
    let mut rows = Vec::new();
    let mut subtotals = Vec::new();
    for (group, lo, hi) in CRITERIA_GROUPS {
        let in_group: Vec<u64> = combos
            .iter()
            .copied()
            .filter(|m| (lo..=hi).contains(&(m.count_ones() as usize)))
            .collect();
        if in_group.is_empty() && lo > input.criteria.len() {
            subtotals.push(None);
            continue;
        }
        let cells: Vec<usize> = in_group
            .iter()
            .map(|m| t.cell(by_criteria.get(m).copied().unwrap_or(0)))
            .collect();
        for (&m, &c) in in_group.iter().zip(&cells) {
            rows.push((
                vec![group.to_owned(), label(&input.criteria, m, "none")],
                vec![c],
            ));
        }
        let sub = t.total(&cells);
        rows.push((vec![group.to_owned(), "all".to_owned()], vec![sub]));
        subtotals.push(Some(sub));
    }
    let present: Vec<usize> = subtotals.iter().flatten().copied().collect();
    t.line(families, &present);
    rows.push((vec!["all".to_owned(), "all".to_owned()], vec![families]));
    drafts.push(Draft {
        name: "families_by_criteria",
        header: vec!["criteria_met".into(), "criteria".into(), "families".into()],
        rows,
    });

    // Families by area and criteria met: its column totals are the criteria subtotals.
    if input.with_areas {
        let mut by_area: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
        for f in &input.families {
            let met = f.criteria.count_ones() as usize;
            let g = CRITERIA_GROUPS
                .iter()
                .position(|&(_, lo, hi)| (lo..=hi).contains(&met))
                .unwrap_or(CRITERIA_GROUPS.len() - 1);
            by_area
                .entry(f.area.as_deref().unwrap_or("none"))
                .or_insert_with(|| vec![0; CRITERIA_GROUPS.len()])[g] += 1;
        }
        let groups: Vec<usize> = (0..CRITERIA_GROUPS.len())
            .filter(|&g| subtotals[g].is_some())
            .collect();
        let mut columns: Vec<Vec<usize>> = vec![Vec::new(); groups.len()];
        let mut row_totals = Vec::new();
        let mut rows = Vec::new();
        for (area, counts) in &by_area {
            let cells: Vec<usize> = groups.iter().map(|&g| t.cell(counts[g])).collect();
            for (col, &c) in columns.iter_mut().zip(&cells) {
                col.push(c);
            }
            let total = t.total(&cells);
            row_totals.push(total);
            let mut all = cells;
            all.push(total);
            rows.push((vec![(*area).to_owned()], all));
        }
        for (&g, col) in groups.iter().zip(&columns) {
            if let Some(sub) = subtotals[g] {
                t.line(sub, col);
            }
        }
        t.line(families, &row_totals);
        let mut totals: Vec<usize> = groups.iter().filter_map(|&g| subtotals[g]).collect();
        totals.push(families);
        rows.push((vec!["all".to_owned()], totals));
        let mut header = vec!["area".to_owned()];
        header.extend(
            groups
                .iter()
                .map(|&g| format!("criteria_met_{}", CRITERIA_GROUPS[g].0.replace(' ', "_"))),
        );
        header.push("families".to_owned());
        drafts.push(Draft {
            name: "families_by_area",
            header,
            rows,
        });
    }

    let published = t.protect(rules)?;
    Ok(drafts
        .into_iter()
        .map(|d| PublishedTable {
            name: d.name,
            header: d.header,
            rows: d
                .rows
                .into_iter()
                .map(|(labels, cells)| (labels, cells.iter().map(|&c| published[c]).collect()))
                .collect(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> PatternInput {
        let mut families = Vec::new();
        // 40 families known to the council alone meeting nothing, 12 to council and health
        // meeting out_of_work, 3 to all three meeting both criteria (a small count).
        for _ in 0..40 {
            families.push(FamilyFacts {
                agencies: 0b001,
                criteria: 0,
                area: Some("LS6".into()),
            });
        }
        for i in 0..12 {
            families.push(FamilyFacts {
                agencies: 0b011,
                criteria: 0b01,
                area: Some(if i < 6 { "LS6" } else { "LS7" }.into()),
            });
        }
        for _ in 0..3 {
            families.push(FamilyFacts {
                agencies: 0b111,
                criteria: 0b11,
                area: Some("LS7".into()),
            });
        }
        PatternInput {
            agencies: vec!["council".into(), "health".into(), "police".into()],
            criteria: vec!["out_of_work".into(), "offending".into()],
            people: [vec![0b001; 90], vec![0b011; 30], vec![0b111; 4]].concat(),
            families,
            with_areas: true,
        }
    }

    fn find<'t>(tables: &'t [PublishedTable], name: &str) -> &'t PublishedTable {
        tables.iter().find(|t| t.name == name).expect("table")
    }

    fn row<'t>(t: &'t PublishedTable, labels: &[&str]) -> &'t [Published] {
        &t.rows
            .iter()
            .find(|(l, _)| l == labels)
            .unwrap_or_else(|| panic!("no row {labels:?} in {}", t.name))
            .1
    }

    #[test]
    fn every_combination_has_a_row_and_small_ones_cannot_be_worked_back() {
        let tables = patterns(&input(), &Rules::default()).expect("patterns");
        let people = find(&tables, "people_by_agencies");
        assert_eq!(people.rows.len(), 8, "seven combinations and the total");
        assert_eq!(people.header, ["agencies", "people"]);
        assert_eq!(row(people, &["council"]), [Published::Count(90)]);
        assert_eq!(row(people, &["health"]), [Published::Count(0)]);
        assert_eq!(
            row(people, &["council + health + police"]),
            [Published::Primary]
        );
        // Else the 4 would be 124 - 90 - 30.
        assert_eq!(row(people, &["council + health"]), [Published::Secondary]);
        assert_eq!(row(people, &["all"]), [Published::Count(124)]);

        let by_criteria = find(&tables, "families_by_criteria");
        assert_eq!(
            row(by_criteria, &["2", "out_of_work + offending"]),
            [Published::Primary]
        );
        assert_eq!(row(by_criteria, &["2", "all"]), [Published::Primary]);
        // Else the 3 would be 55 - 40 - 12.
        assert_eq!(row(by_criteria, &["1", "all"]), [Published::Secondary]);
        assert!(
            by_criteria.rows.iter().all(|(l, _)| l[0] != "3 or more"),
            "two criteria: no group of three"
        );

        // The same families total everywhere, and the area table's columns are the criteria
        // subtotals, suppressed alike.
        let area = find(&tables, "families_by_area");
        assert_eq!(
            area.header,
            [
                "area",
                "criteria_met_0",
                "criteria_met_1",
                "criteria_met_2",
                "families"
            ]
        );
        assert_eq!(row(area, &["all"])[3], Published::Count(55));
        assert_eq!(
            row(find(&tables, "families_by_agencies"), &["all"]),
            [Published::Count(55)]
        );
        assert_eq!(row(area, &["all"])[1], row(by_criteria, &["1", "all"])[0]);
        assert_eq!(row(area, &["LS7"])[2], Published::Primary);
        for (labels, cells) in tables.iter().flat_map(|t| &t.rows) {
            for c in cells {
                if let Some(n) = c.count() {
                    assert!(n == 0 || n >= 10, "{labels:?}: {n}");
                }
            }
        }
    }

    #[test]
    fn many_agencies_list_only_the_combinations_that_occur() {
        let mut input = input();
        input.agencies = (0..10).map(|i| format!("agency{i}")).collect();
        let tables = patterns(&input, &Rules::default()).expect("patterns");
        assert_eq!(find(&tables, "people_by_agencies").rows.len(), 4);
    }
}
