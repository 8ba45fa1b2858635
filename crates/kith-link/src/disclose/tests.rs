use super::*;
use proptest::prelude::*;

fn counts(p: &[Published]) -> Vec<Option<u64>> {
    p.iter().map(|c| c.count()).collect()
}

/// A one-way table: its cells, then their total.
fn one_way(values: &[u64]) -> Tables {
    let mut t = Tables::default();
    let cells: Vec<usize> = values.iter().map(|&v| t.cell(v)).collect();
    t.total(&cells);
    t
}

/// A two-way table with row totals, column totals and a grand total; cells row by row, then
/// the row totals, the column totals and the grand total.
fn two_way(rows: &[Vec<u64>]) -> Tables {
    let mut t = Tables::default();
    let cells: Vec<Vec<usize>> = rows
        .iter()
        .map(|r| r.iter().map(|&v| t.cell(v)).collect())
        .collect();
    let row_totals: Vec<usize> = cells.iter().map(|r| t.total(r)).collect();
    let cols = rows.first().map_or(0, Vec::len);
    let col_totals: Vec<usize> = (0..cols)
        .map(|j| {
            let col: Vec<usize> = cells.iter().map(|r| r[j]).collect();
            t.total(&col)
        })
        .collect();
    let grand = t.total(&row_totals);
    t.line(grand, &col_totals);
    t
}

#[test]
fn one_small_count_takes_the_next_smallest_with_it() {
    // Naive suppression hides the 3 alone, and 80 - 25 - 40 - 12 gives it back.
    let t = one_way(&[25, 3, 40, 12]);
    let p = t.protect(&Rules::default()).expect("protect");
    assert_eq!(
        p,
        [
            Published::Count(25),
            Published::Primary,
            Published::Count(40),
            Published::Secondary,
            Published::Count(80)
        ]
    );
}

#[test]
fn small_counts_that_add_to_a_small_count_take_a_large_one_with_them() {
    // Hiding the 2 and the 3 still gives their sum, 5, as 115 - 50 - 60.
    let p = one_way(&[2, 3, 50, 60])
        .protect(&Rules::default())
        .expect("protect");
    assert_eq!(
        counts(&p),
        [None, None, None, Some(60), Some(115)],
        "the 50 goes too: the hidden cells then hold 55"
    );
    assert_eq!(p[2], Published::Secondary);
}

#[test]
fn a_small_total_is_suppressed_and_so_is_a_part_that_would_give_it() {
    // The total, 9, is small; its parts 0 and 9: the 9 is small too. Nothing is left to give
    // the total back.
    let p = one_way(&[0, 9])
        .protect(&Rules::default())
        .expect("protect");
    assert_eq!(counts(&p), [Some(0), None, None]);
}

#[test]
fn two_way_suppression_is_not_undone_from_row_and_column_totals() {
    //            a   b   c | total
    // north     20   4  30 | 54
    // south     25  15  35 | 75
    // east      40  50  12 | 102
    let t = two_way(&[vec![20, 4, 30], vec![25, 15, 35], vec![40, 50, 12]]);
    let p = t.protect(&Rules::default()).expect("protect");
    // The 4 is small; north's row and column b each need a second hidden cell, and the cells
    // chosen must close a loop (a rectangle) so the row and column totals cannot pin them.
    let hidden: Vec<usize> = (0..p.len()).filter(|&i| p[i].count().is_none()).collect();
    assert_eq!(p[1], Published::Primary);
    assert!(hidden.len() >= 4, "{hidden:?}");
    let fixed = determined(
        t.values.len(),
        &t.lines,
        &p.iter().map(|c| c.count().is_none()).collect::<Vec<_>>(),
    );
    assert!(fixed.iter().all(|f| !f), "{fixed:?}");
}

#[test]
fn a_cell_every_line_hides_with_others_is_still_found_when_lines_are_solved_together() {
    // Two loops of small cells joined by one small cell (row 2, column 3): every row and column
    // hides two or more cells holding ten or more, yet the rows and columns together give the
    // joining cell back exactly. Line by line this passes; solved together it does not.
    let rows = vec![
        vec![6, 6, 20, 20],
        vec![4, 4, 4, 20],
        vec![20, 20, 6, 6],
        vec![20, 20, 6, 6],
    ];
    let t = two_way(&rows);
    let primary: Vec<bool> = t.values.iter().map(|&v| v > 0 && v < 10).collect();
    let fixed = determined(t.values.len(), &t.lines, &primary);
    assert!(fixed[6], "the joining cell is given back: {fixed:?}");
    assert_eq!(fixed.iter().filter(|f| **f).count(), 1);
    let p = t.protect(&Rules::default()).expect("protect");
    let hidden: Vec<bool> = p.iter().map(|c| c.count().is_none()).collect();
    assert!(
        determined(t.values.len(), &t.lines, &hidden)
            .iter()
            .all(|f| !f)
    );
    assert!(hidden.iter().filter(|h| **h).count() > primary.iter().filter(|h| **h).count());
}

#[test]
fn zeros_and_rounding_follow_the_rules() {
    let rules = Rules {
        threshold: 10,
        zeros: true,
        round: 5,
    };
    let p = one_way(&[0, 12, 33, 47]).protect(&rules).expect("protect");
    assert_eq!(
        p,
        [
            Published::Primary,
            Published::Secondary,
            Published::Count(35),
            Published::Count(45),
            Published::Count(90)
        ]
    );
    assert_eq!(Published::Primary.to_field(), "[c]");
}

#[test]
fn tables_that_do_not_add_up_are_refused() {
    let lines = vec![Line {
        total: 2,
        parts: vec![0, 1],
    }];
    assert_eq!(
        protect(&[1, 2, 4], &lines, &Rules::default()),
        Err(DiscloseError::DoesNotAdd {
            line: 0,
            parts: 3,
            total: 4
        })
    );
    assert!(matches!(
        protect(&[1, 2], &lines, &Rules::default()),
        Err(DiscloseError::NoSuchCell { .. })
    ));
}

/// Which hidden cells are fixed, found another way than [`determined`]: a hidden cell is free
/// when some vector of the null space of the lines' equations (over the hidden cells) moves it.
fn fixed_by_null_space(t: &Tables, hidden: &[bool]) -> Vec<usize> {
    let vars: Vec<usize> = (0..t.values.len()).filter(|&c| hidden[c]).collect();
    let n = vars.len();
    let mut a: Vec<Vec<f64>> = t
        .lines
        .iter()
        .map(|l| {
            vars.iter()
                .map(|&v| {
                    let mut x = 0.0;
                    if l.parts.contains(&v) {
                        x += 1.0;
                    }
                    if l.total == v {
                        x -= 1.0;
                    }
                    x
                })
                .collect()
        })
        .collect();
    // Reduced row echelon form in floating point.
    let mut pivot_cols = Vec::new();
    let mut r = 0;
    for c in 0..n {
        let Some(p) = (r..a.len()).max_by(|&i, &j| a[i][c].abs().total_cmp(&a[j][c].abs())) else {
            break;
        };
        if a[p][c].abs() < 1e-9 {
            continue;
        }
        a.swap(r, p);
        let d = a[r][c];
        for x in &mut a[r] {
            *x /= d;
        }
        let pr = a[r].clone();
        for (i, row) in a.iter_mut().enumerate() {
            if i != r && row[c].abs() > 1e-12 {
                let f = row[c];
                for (x, y) in row.iter_mut().zip(&pr) {
                    *x -= f * y;
                }
            }
        }
        pivot_cols.push(c);
        r += 1;
    }
    // Null space basis: one vector per free column.
    let free: Vec<usize> = (0..n).filter(|c| !pivot_cols.contains(c)).collect();
    let mut moved = vec![false; n];
    for &f in &free {
        moved[f] = true;
        for (row, &pc) in pivot_cols.iter().enumerate() {
            if a[row][f].abs() > 1e-9 {
                moved[pc] = true;
            }
        }
    }
    (0..n).filter(|&i| !moved[i]).map(|i| vars[i]).collect()
}

fn check(t: &Tables, rules: &Rules) -> Result<(), TestCaseError> {
    let p = t.protect(rules).expect("protect");
    let hidden: Vec<bool> = p.iter().map(|c| c.count().is_none()).collect();
    let small = |v: u64| v > 0 && v < rules.threshold;
    for (i, c) in p.iter().enumerate() {
        if let Some(n) = c.count() {
            prop_assert!(!small(n), "cell {i} published as {n}");
            prop_assert_eq!(n, t.values[i]);
        }
    }
    for l in &t.lines {
        if let Some(total) = p[l.total].count() {
            let published: u64 = l.parts.iter().filter_map(|&c| p[c].count()).sum();
            prop_assert!(
                !small(total - published),
                "{l:?}: the total less the published parts is {}",
                total - published
            );
        }
    }
    let fixed = fixed_by_null_space(t, &hidden);
    prop_assert!(
        fixed.is_empty(),
        "hidden cells {fixed:?} can be worked back: {p:?}"
    );
    Ok(())
}

/// Counts as patterns tables have them: many small, some zero, some large.
fn count() -> impl Strategy<Value = u64> {
    prop_oneof![3 => 0u64..10, 2 => 10u64..40, 1 => 40u64..400, 1 => Just(0)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn no_published_cell_or_line_difference_reveals_a_small_count_two_way(
        rows in (1usize..6, 1usize..6).prop_flat_map(|(r, c)| {
            prop::collection::vec(prop::collection::vec(count(), c), r)
        })
    ) {
        check(&two_way(&rows), &Rules::default())?;
    }

    #[test]
    fn no_published_cell_or_line_difference_reveals_a_small_count_one_way(
        cells in prop::collection::vec(count(), 1..12),
        threshold in 3u64..12,
    ) {
        let rules = Rules { threshold, ..Rules::default() };
        check(&one_way(&cells), &rules)?;
    }

    #[test]
    fn a_hierarchy_shared_with_a_two_way_table_is_protected_with_it(
        rows in prop::collection::vec(prop::collection::vec(count(), 3), 1..5),
        split in prop::collection::vec(0u64..100, 3),
    ) {
        // A two-way table (area by group), and each group's column total split into two
        // sub-groups in a second table: the column totals are the same cells in both.
        let mut t = two_way(&rows);
        let cols = 3;
        let col_totals: Vec<usize> = (0..cols).map(|j| rows.len() * cols + rows.len() + j).collect();
        for (j, &ct) in col_totals.iter().enumerate() {
            let v = t.values[ct];
            let a = v * split[j] / 100;
            let x = t.cell(a);
            let y = t.cell(v - a);
            t.line(ct, &[x, y]);
        }
        check(&t, &Rules::default())?;
    }
}
