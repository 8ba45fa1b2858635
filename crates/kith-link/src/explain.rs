//! Why two records scored as they did: one pair's evidence under a run's field model (each
//! field's agreement level and weight, the term-frequency adjustment, the prior), its exact
//! identifiers, the twin rule, and the match probability the model gives it, computed exactly as
//! the run computed it (the same comparator over the same datasets, the same model).

use crate::weigh::{self, Comparator, Model, Twin};
use crate::{Dataset, LinkError};

/// One field's part in a pair's weight.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldEvidence {
    /// The field (or field part, such as `dob.year`).
    pub name: String,
    /// The agreement level (0: disagree, up to `NLEVELS - 1`), or `None` when either side is
    /// missing it (it then weighs nothing).
    pub level: Option<usize>,
    /// Its weight `log2(m/u)` at that level.
    pub weight: f64,
}

/// What a pair's exact identifiers say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exact {
    /// Both hold it and it is the same token: the pair is a match whatever its fields say.
    Agree,
    /// Both hold it and the tokens differ: the pair is never linked (the exact veto).
    Differ,
    /// One side or both lack it.
    Missing,
}

/// One pair's evidence.
#[derive(Debug, Clone, PartialEq)]
pub struct Explanation {
    /// [`weigh::CROSS`] or [`weigh::WITHIN`].
    pub kind: usize,
    /// Dice similarity of the two CLKs.
    pub dice: f64,
    /// Each field's level and weight, in the model's order.
    pub fields: Vec<FieldEvidence>,
    /// The term-frequency adjustment: agreement on rare values weighs more.
    pub tf_adjustment: f64,
    /// The share of pairs of this kind that are matches.
    pub prior: f64,
    /// The weight at which a pair of this kind is even odds (`log2((1 - prior) / prior)`).
    pub even_weight: f64,
    /// The fields' weights plus the adjustment.
    pub weight: f64,
    /// The model's match probability.
    pub probability: f64,
    /// Each exact identifier both datasets hold.
    pub exact: Vec<(String, Exact)>,
    /// The twin rule: [`Twin::Like`], the pair looks like twins (set aside: never merged, and it
    /// keeps their groups apart); [`Twin::Unsure`], a pair of one holder with the forename missing
    /// on one side (a candidate only when its records have the same other partners).
    pub twin: Twin,
    /// Whether the twin rule's shared fields contradict the pair (see
    /// [`Comparator::contradicts`]): such a pair is set aside for review, never linked.
    pub contradicts: Contradiction,
    /// Whether a personal field of the twin rule (an identity number) agrees, which keeps the
    /// twin rule and contradictions from speaking against the pair
    /// ([`Comparator::personal_agrees`]).
    pub personal_agrees: bool,
    /// Whether a pair the twin rule or a contradiction speaks against is set aside (kept, with
    /// its veto): it scores at least [`crate::partner::FROM`], or it is one holder's twins that
    /// the fields twins share alone would match ([`Comparator::twins_below`]). Otherwise it is
    /// simply not a candidate.
    pub set_aside: bool,
}

/// How the twin rule's shared fields contradict a pair ([`Comparator::contradicts`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contradiction {
    /// They do not.
    No,
    /// Every shared field wholly differs: a parent and child of one name, or namesakes.
    Wholly,
    /// Within one holder, two or more shared fields or parts each differ (the year and the day and
    /// month of a date of birth): siblings of one name.
    EachPart,
}

/// Explain record `a.1` of dataset `a.0` against record `b.1` of dataset `b.0`, under `model`,
/// with the comparator the link built over all of `datasets`. A pair within one dataset takes
/// that dataset's share of duplicates, `within_multiple` times the model's pooled one (1 when
/// the run fitted none; see [`crate::partner::reweigh_within`]).
pub fn explain(
    datasets: &[Dataset],
    model: &Model,
    a: (usize, usize),
    b: (usize, usize),
    within_multiple: f64,
) -> Result<Explanation, LinkError> {
    let first = datasets
        .first()
        .ok_or_else(|| LinkError::Input("no datasets".into()))?;
    let cmp = Comparator::new(first, first)
        .ok_or_else(|| LinkError::Input("the inputs share no field filters".into()))?
        .with_value_counts(datasets);
    if cmp.names() != model.names.as_slice() {
        return Err(LinkError::Input(format!(
            "the model's fields ({}) are not these encodings' ({})",
            model.names.join(", "),
            cmp.names().join(", ")
        )));
    }
    let ((i, ra), (j, rb)) = (a, b);
    let (da, db) = (&datasets[i], &datasets[j]);
    if ra >= da.len() || rb >= db.len() {
        return Err(LinkError::Input("no such record".into()));
    }
    let kind = if i == j { weigh::WITHIN } else { weigh::CROSS };
    let mut gamma = Vec::new();
    let crossed = cmp.gamma(da, ra, db, rb, &mut gamma);
    let fields = gamma
        .iter()
        .enumerate()
        .map(|(f, &g)| FieldEvidence {
            name: model.names[f].clone(),
            level: (g != weigh::MISSING).then_some(g as usize),
            weight: if g == weigh::MISSING {
                0.0
            } else {
                model.weights[f][g as usize]
            },
        })
        .collect();
    let tf_adjustment = cmp.tf_adjustment(model, &gamma, da, ra);
    let exact = exact_evidence(da, ra, db, rb);
    let twin = if i == j {
        cmp.twin_verdict(&gamma, crossed, (da, ra), (db, rb))
    } else if cmp.twin_like_across(&gamma, crossed, da, ra, db, rb) {
        Twin::Like
    } else {
        Twin::Not
    };
    let (mut prior, mut even_weight, mut probability) = (
        model.prior[kind],
        model.even_weight(kind),
        cmp.probability(model, kind, &gamma, da, ra),
    );
    let unadjusted = probability;
    if kind == weigh::WITHIN && within_multiple != 1.0 {
        even_weight -= within_multiple.log2();
        prior = 1.0 / (1.0 + even_weight.exp2());
        probability = crate::partner::with_multiple(probability, within_multiple);
    }
    let contradicts = if cmp.contradicts(&gamma, false) {
        Contradiction::Wholly
    } else if cmp.contradicts(&gamma, i == j) {
        Contradiction::EachPart
    } else {
        Contradiction::No
    };
    // A pair an exact token matched is not set aside (`link::keep_exact_over_twins`).
    let matched_exactly = exact.iter().any(|(_, e)| *e == Exact::Agree);
    // As `link::find_candidates` decides: the model's probability before the holder's own share
    // of duplicates.
    let set_aside = (twin == Twin::Like || contradicts != Contradiction::No)
        && !matched_exactly
        && (unadjusted >= crate::partner::FROM
            || i == j
                && cmp.twins_below(
                    model,
                    &gamma,
                    crossed,
                    (da, ra),
                    (db, rb),
                    crate::link::FIELD_THRESHOLD,
                ));
    Ok(Explanation {
        kind,
        dice: dice(da, ra, db, rb),
        fields,
        tf_adjustment,
        prior,
        even_weight,
        weight: model.weight(&gamma) + tf_adjustment,
        probability,
        exact,
        twin,
        contradicts,
        personal_agrees: cmp.personal_agrees(&gamma),
        set_aside,
    })
}

/// What each exact identifier both datasets hold says of records `ra` of `da` and `rb` of `db`.
pub fn exact_evidence(da: &Dataset, ra: usize, db: &Dataset, rb: usize) -> Vec<(String, Exact)> {
    da.exact_names()
        .iter()
        .enumerate()
        .filter_map(|(ea, name)| {
            let eb = db.exact_names().iter().position(|n| n == name)?;
            let said = match (da.exact(ra, ea), db.exact(rb, eb)) {
                (Some(x), Some(y)) if x == y => Exact::Agree,
                (Some(_), Some(_)) => Exact::Differ,
                _ => Exact::Missing,
            };
            Some((name.clone(), said))
        })
        .collect()
}

/// Dice similarity of two records' CLKs.
pub fn dice(a: &Dataset, ra: usize, b: &Dataset, rb: usize) -> f64 {
    let both: u32 = a
        .clk(ra)
        .iter()
        .zip(b.clk(rb))
        .flat_map(|(x, y)| x.0.iter().zip(&y.0).map(|(p, q)| (p & q).count_ones()))
        .sum();
    crate::compare::dice(both, a.popcounts()[ra] + b.popcounts()[rb])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::weigh::tests::{people, test_model};

    /// A pair the twin rule speaks against is said to be set aside only when the run keeps it:
    /// one holder's twins, whatever their score, when the fields twins share would match them;
    /// not a pair of that holder's whose surnames agree only loosely and that scores too low.
    #[test]
    fn only_the_pairs_a_run_keeps_aside_are_said_to_be_set_aside() {
        let (jade, jordan, smith, smyth) =
            (0xff00_u64, 0xffu64 << 32, 0xffu64 << 16, 0x0f0fu64 << 16);
        let (dob, f, m) = (0x1111u64 << 40, 0x3, 0xc0);
        let d = people(&[
            [Some(jade), Some(smith), Some(dob), Some(f)],
            [Some(jordan), Some(smith), Some(dob), Some(m)],
            [Some(jordan), Some(smyth), Some(dob), Some(m)],
        ]);
        let c = Comparator::new(&d, &d).expect("shared fields");
        // Strong weights, so that the run's term-frequency adjustment (at most 6 bits either
        // way) cannot turn either verdict.
        let model = test_model(&c, [-20.0, 0.0, -30.0, 0.0, 0.0, 10.0]);
        let sets = [d];
        let twins = explain(&sets, &model, (0, 0), (0, 1), 1.0).expect("explained");
        assert_eq!(twins.twin, Twin::Like);
        assert!(twins.probability < crate::partner::FROM);
        assert!(twins.set_aside);
        let loose = explain(&sets, &model, (0, 0), (0, 2), 1.0).expect("explained");
        assert_eq!(loose.twin, Twin::Like);
        assert!(!loose.set_aside);
    }
}
