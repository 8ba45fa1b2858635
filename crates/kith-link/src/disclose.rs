//! Statistical disclosure control for the counts `kith patterns` publishes, as UK official
//! statistics practise it: small counts are suppressed (primary suppression), then more cells are
//! suppressed (secondary suppression) until no suppressed count can be worked back from what is
//! published, and the published counts may be rounded.
//!
//! Tables are given as cells and lines. A line says that some cells (its parts) add up to another
//! (its total): a row and its row total, a column and its column total, the criteria
//! combinations of one size and their subtotal. Tables that share a total share its cell, so
//! they are protected together: a published subtotal cannot be used to undo a suppression in
//! another table.
//!
//! A line is safe when its total is published and either none of its parts is suppressed, or two
//! or more are and together they hold at least the threshold (so the line's total less its
//! published parts, which anyone can work out, is not a small count); or when its total is
//! suppressed and so is one of its parts at least. Once every line is safe, the lines are solved
//! together exactly: a suppressed cell that the published cells fix to one value (through a chain
//! of lines) gets another of its lines' cells suppressed, until none is fixed.

/// A line: `parts` add up to `total` (indices into the cells).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The total's cell.
    pub total: usize,
    /// The parts' cells.
    pub parts: Vec<usize>,
}

/// How counts are protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// Counts from 1 to `threshold - 1` are suppressed (default 10: counts under 10).
    pub threshold: u64,
    /// Suppress zero counts too (a zero can tell that nobody in a group has a need).
    pub zeros: bool,
    /// Round each published count to the nearest multiple of this (none when 1 or less).
    pub round: u64,
}

impl Default for Rules {
    fn default() -> Rules {
        Rules {
            threshold: 10,
            zeros: false,
            round: 1,
        }
    }
}

/// Why a table cannot be protected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiscloseError {
    /// A line names a cell that does not exist.
    #[error("line {line} names cell {cell}, but there are {cells} cells")]
    NoSuchCell {
        /// The line.
        line: usize,
        /// The cell it names.
        cell: usize,
        /// How many cells there are.
        cells: usize,
    },
    /// A line's parts do not add up to its total.
    #[error("line {line}: its parts add up to {parts}, its total is {total}")]
    DoesNotAdd {
        /// The line.
        line: usize,
        /// The sum of its parts.
        parts: u64,
        /// Its total.
        total: u64,
    },
    /// A threshold of 0 suppresses nothing and means a mistake.
    #[error("the suppression threshold must be at least 1")]
    NoThreshold,
}

/// One published cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Published {
    /// The count (rounded, if the rules round).
    Count(u64),
    /// Suppressed because it is small.
    Primary,
    /// Suppressed so that a small count cannot be worked back.
    Secondary,
}

impl Published {
    /// The count, or `None` when suppressed.
    pub fn count(self) -> Option<u64> {
        match self {
            Published::Count(n) => Some(n),
            _ => None,
        }
    }

    /// The cell as a CSV field: the count, or `[c]` (confidential, the Government Statistical
    /// Service's symbol) when suppressed.
    pub fn to_field(self) -> String {
        match self {
            Published::Count(n) => n.to_string(),
            Published::Primary | Published::Secondary => "[c]".to_owned(),
        }
    }
}

/// Protect `values` (related by `lines`) under `rules`: which cells to suppress, and the counts
/// of the rest.
pub fn protect(
    values: &[u64],
    lines: &[Line],
    rules: &Rules,
) -> Result<Vec<Published>, DiscloseError> {
    if rules.threshold == 0 {
        return Err(DiscloseError::NoThreshold);
    }
    for (l, line) in lines.iter().enumerate() {
        for &c in line.parts.iter().chain([&line.total]) {
            if c >= values.len() {
                return Err(DiscloseError::NoSuchCell {
                    line: l,
                    cell: c,
                    cells: values.len(),
                });
            }
        }
        let parts: u64 = line.parts.iter().map(|&c| values[c]).sum();
        if parts != values[line.total] {
            return Err(DiscloseError::DoesNotAdd {
                line: l,
                parts,
                total: values[line.total],
            });
        }
    }
    let small = |v: u64| (v > 0 || rules.zeros) && v < rules.threshold;
    let primary: Vec<bool> = values.iter().map(|&v| small(v)).collect();
    let mut hidden = primary.clone();
    loop {
        let mut changed = false;
        for line in lines {
            let parts_hidden: Vec<usize> =
                line.parts.iter().copied().filter(|&c| hidden[c]).collect();
            let sum: u64 = parts_hidden.iter().map(|&c| values[c]).sum();
            let unsafe_line = if hidden[line.total] {
                parts_hidden.is_empty() && values[line.total] > 0
            } else {
                !parts_hidden.is_empty() && (parts_hidden.len() < 2 || sum < rules.threshold)
            };
            if !unsafe_line {
                continue;
            }
            let next = smallest(values, &hidden, line.parts.iter().copied())
                .or_else(|| (!hidden[line.total]).then_some(line.total));
            if let Some(c) = next {
                hidden[c] = true;
                changed = true;
            }
        }
        if changed {
            continue;
        }
        // Every line is safe on its own; now all of them together.
        let Some(fixed) = determined(values.len(), lines, &hidden)
            .into_iter()
            .position(|d| d)
        else {
            break;
        };
        match widen(values, lines, &hidden, fixed) {
            Some(c) => hidden[c] = true,
            // Everything that could carry the cell is hidden already (cannot happen with counts
            // that add up, but never loop).
            None => break,
        }
    }
    let round = |v: u64| {
        if rules.round > 1 {
            (v + rules.round / 2) / rules.round * rules.round
        } else {
            v
        }
    };
    Ok(values
        .iter()
        .zip(primary.iter().zip(&hidden))
        .map(|(&v, (&p, &h))| match (p, h) {
            (true, _) => Published::Primary,
            (false, true) => Published::Secondary,
            (false, false) => Published::Count(round(v)),
        })
        .collect())
}

/// The cell of `cells` to suppress next: the smallest published non-zero count (the least
/// information lost), the lowest index on ties.
fn smallest(values: &[u64], hidden: &[bool], cells: impl Iterator<Item = usize>) -> Option<usize> {
    cells
        .filter(|&c| !hidden[c] && values[c] > 0)
        .min_by_key(|&c| (values[c], c))
}

/// The cell to hide so that the hidden cell `fixed` is no longer fixed: the smallest published
/// count in a line through it; failing that, in a line through a hidden cell of those lines, and
/// so on outwards (every line that carries the derivation is reached that way); failing all, a
/// published zero in a line through it.
fn widen(values: &[u64], lines: &[Line], hidden: &[bool], fixed: usize) -> Option<usize> {
    let through = |cell: usize| {
        lines
            .iter()
            .enumerate()
            .filter(move |(_, l)| l.total == cell || l.parts.contains(&cell))
            .map(|(i, _)| i)
    };
    let mut seen_lines = vec![false; lines.len()];
    let mut seen_cells = vec![false; values.len()];
    seen_cells[fixed] = true;
    let mut frontier: Vec<usize> = vec![fixed];
    while !frontier.is_empty() {
        let ring: Vec<usize> = frontier
            .iter()
            .flat_map(|&c| through(c))
            .filter(|&l| !std::mem::replace(&mut seen_lines[l], true))
            .collect();
        let cells = || {
            ring.iter()
                .flat_map(|&l| lines[l].parts.iter().copied().chain([lines[l].total]))
        };
        if let Some(c) = smallest(values, hidden, cells()) {
            return Some(c);
        }
        frontier = cells()
            .filter(|&c| hidden[c] && !std::mem::replace(&mut seen_cells[c], true))
            .collect();
    }
    through(fixed)
        .flat_map(|l| lines[l].parts.iter().copied().chain([lines[l].total]))
        .find(|&c| !hidden[c])
}

/// Which hidden cells the lines fix to one value, given every other cell: a hidden cell is fixed
/// when its unit vector lies in the span of the lines' equations over the hidden cells, that is,
/// when the reduced row echelon form of those equations has a row that is that unit vector.
pub fn determined(cells: usize, lines: &[Line], hidden: &[bool]) -> Vec<bool> {
    let vars: Vec<usize> = (0..cells).filter(|&c| hidden[c]).collect();
    let mut index = vec![usize::MAX; cells];
    for (i, &c) in vars.iter().enumerate() {
        index[c] = i;
    }
    let n = vars.len();
    // Each line as an equation over the hidden cells: parts +1, total -1 (the published cells
    // move to the right-hand side, which does not matter for what is fixed).
    let mut rows: Vec<Vec<i128>> = lines
        .iter()
        .map(|l| {
            let mut r = vec![0i128; n];
            for &p in &l.parts {
                if hidden[p] {
                    r[index[p]] += 1;
                }
            }
            if hidden[l.total] {
                r[index[l.total]] -= 1;
            }
            r
        })
        .filter(|r| r.iter().any(|&x| x != 0))
        .collect();
    // Integer Gauss-Jordan elimination, each row kept divided by the gcd of its entries.
    let mut pivots: Vec<(usize, usize)> = Vec::new(); // (row, column)
    let mut next_row = 0;
    for col in 0..n {
        let Some(p) = (next_row..rows.len()).find(|&r| rows[r][col] != 0) else {
            continue;
        };
        rows.swap(next_row, p);
        let pivot_row = rows[next_row].clone();
        let a = pivot_row[col];
        for (r, row) in rows.iter_mut().enumerate() {
            if r == next_row || row[col] == 0 {
                continue;
            }
            let b = row[col];
            for (x, &y) in row.iter_mut().zip(&pivot_row) {
                *x = *x * a - y * b;
            }
            reduce(row);
        }
        pivots.push((next_row, col));
        next_row += 1;
    }
    let mut fixed = vec![false; cells];
    for (r, col) in pivots {
        if rows[r].iter().enumerate().all(|(c, &x)| c == col || x == 0) {
            fixed[vars[col]] = true;
        }
    }
    fixed
}

fn reduce(row: &mut [i128]) {
    let g = row.iter().fold(0i128, |g, &x| gcd(g, x.abs()));
    if g > 1 {
        for x in row.iter_mut() {
            *x /= g;
        }
    }
}

fn gcd(a: i128, b: i128) -> i128 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// A set of tables being built: cells and the lines between them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tables {
    /// Every cell's count.
    pub values: Vec<u64>,
    /// The lines between them.
    pub lines: Vec<Line>,
}

impl Tables {
    /// A new cell holding `value`; its index.
    pub fn cell(&mut self, value: u64) -> usize {
        self.values.push(value);
        self.values.len() - 1
    }

    /// A new cell that is the total of `parts`, with the line that says so; its index.
    pub fn total(&mut self, parts: &[usize]) -> usize {
        let t = self.cell(parts.iter().map(|&c| self.values[c]).sum());
        self.lines.push(Line {
            total: t,
            parts: parts.to_vec(),
        });
        t
    }

    /// Say that `parts` add up to the existing cell `total`.
    pub fn line(&mut self, total: usize, parts: &[usize]) {
        self.lines.push(Line {
            total,
            parts: parts.to_vec(),
        });
    }

    /// Protect every cell together.
    pub fn protect(&self, rules: &Rules) -> Result<Vec<Published>, DiscloseError> {
        protect(&self.values, &self.lines, rules)
    }
}

#[cfg(test)]
mod tests;
