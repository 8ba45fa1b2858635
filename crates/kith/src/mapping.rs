//! A holder's column mapping: which of its CSV columns feed which agreed feature.
//!
//! The mapping belongs to one holder and is kept apart from the agreed schema: it never affects the
//! encodings or the schema fingerprint. A council's `forename` and a health service's `given_name`
//! can feed the same feature; a police extract's single `SURNAME, Forename` column can feed two.
//!
//! ```json
//! {
//!   "kith_mapping": 1,
//!   "party": "police",
//!   "id_column": "URN",
//!   "columns": {
//!     "surname":    {"column": "NAME", "split": ",", "part": 0},
//!     "given_name": {"column": "NAME", "split": ",", "part": 1},
//!     "dob":        {"column": "DOB", "date_formats": ["%d.%m.%Y"]},
//!     "sex":        "SEX",
//!     "nhs_number": null
//!   }
//! }
//! ```
//! `null` says this holder does not have the field: it is missing in every record. Leaving it out
//! says the same (the encode summary lists each one left out), so a mapping names only the
//! columns a holder has.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::datefmt::DateFormat;
use crate::error::{LayoutError, SchemaError};
use crate::jsonpath::{JPath, as_int, as_object, as_str, kind, no_other_keys, required};
use crate::schema::{InputKind, Schema};

/// The version of the mapping format this build reads.
pub const MAPPING_VERSION: i64 = 1;

/// A holder's column mapping.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mapping {
    /// The holder's party name.
    pub party: Option<String>,
    /// The holder's local ID column.
    pub id_column: Option<String>,
    /// Where each feature or exact identifier comes from; `None` means the holder has no such field.
    pub columns: BTreeMap<String, Option<ColumnSource>>,
    /// Extra input date formats per feature or exact identifier.
    pub date_formats: BTreeMap<String, Vec<DateFormat>>,
}

/// One input column, or one part of it, cut as a holder's extract needs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ColumnSource {
    /// The CSV header of the column.
    pub column: String,
    /// Take one part of the value, split at every separator.
    pub split: Option<Split>,
    /// Drop a leading title (Mr, Mrs, Ms, Miss, Mx, Dr, Prof, Rev, Sir, Dame; with or without a
    /// full stop), after splitting.
    pub strip_titles: bool,
    /// Keep the first word only (a `FORENAME MIDDLE` column's forename), after the above.
    pub first_word: bool,
    /// A column holding another value of the same field (a preferred forename beside the legal
    /// one, a previous surname), taken whole: a record matches on either.
    pub alternative: Option<String>,
}

/// Split a value at every occurrence of `separator` and keep part `part` (0 for the first),
/// trimmed; a value with fewer parts gives an empty part (but a value without the separator is
/// all part 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// The separator, such as `","`.
    pub separator: String,
    /// Which part to keep, from 0.
    pub part: usize,
}

/// Titles [`ColumnSource::strip_titles`] drops, lowercase.
const TITLES: [&str; 10] = [
    "mr", "mrs", "ms", "miss", "mx", "dr", "prof", "rev", "sir", "dame",
];

impl Mapping {
    /// Read a mapping from JSON text; errors name the JSON path.
    pub fn from_json_str(text: &str) -> Result<Mapping, SchemaError> {
        let v: Value = serde_json::from_str(text).map_err(|e| {
            SchemaError::new(
                format!("line {} column {}", e.line(), e.column()),
                format!("the mapping is not valid JSON: {e}"),
            )
        })?;
        let root = JPath::root();
        let m = as_object(&v, &root)?;
        no_other_keys(
            m,
            &[
                "kith_mapping",
                "party",
                "id_column",
                "columns",
                "description",
            ],
            &root,
        )?;
        let version = as_int(
            required(m, "kith_mapping", &root)?,
            &root.key("kith_mapping"),
            1,
        )?;
        if version != MAPPING_VERSION {
            return Err(root.key("kith_mapping").err(format!(
                "mapping version {version} is not supported (this kith reads version {MAPPING_VERSION})"
            )));
        }
        let opt_str = |key: &str| -> Result<Option<String>, SchemaError> {
            m.get(key)
                .map(|v| as_str(v, &root.key(key)).map(str::to_owned))
                .transpose()
        };
        let mut mapping = Mapping {
            party: opt_str("party")?,
            id_column: opt_str("id_column")?,
            ..Mapping::default()
        };
        let cp = root.key("columns");
        for (name, spec) in as_object(required(m, "columns", &root)?, &cp)? {
            let p = cp.key(name);
            let source = match spec {
                Value::Null => None,
                Value::String(c) => Some(ColumnSource {
                    column: c.clone(),
                    ..ColumnSource::default()
                }),
                Value::Object(o) => {
                    no_other_keys(
                        o,
                        &[
                            "column",
                            "split",
                            "part",
                            "date_formats",
                            "strip_titles",
                            "first_word",
                            "alternative",
                        ],
                        &p,
                    )?;
                    let column = as_str(required(o, "column", &p)?, &p.key("column"))?.to_owned();
                    let split = match (o.get("split"), o.get("part")) {
                        (None, None) => None,
                        (Some(s), part) => {
                            let separator = as_str(s, &p.key("split"))?.to_owned();
                            if separator.is_empty() {
                                return Err(p.key("split").err("the separator must not be empty"));
                            }
                            let part = match part {
                                Some(v) => as_int(v, &p.key("part"), 0)?,
                                None => 0,
                            };
                            Some(Split {
                                separator,
                                part: part as usize,
                            })
                        }
                        (None, Some(_)) => return Err(p.key("part").err("`part` needs `split`")),
                    };
                    if let Some(list) = o.get("date_formats") {
                        let lp = p.key("date_formats");
                        let arr = list.as_array().ok_or_else(|| {
                            lp.err(format!(
                                "expected an array of strptime formats, found {}",
                                kind(list)
                            ))
                        })?;
                        let formats = arr
                            .iter()
                            .enumerate()
                            .map(|(i, f)| {
                                let s = as_str(f, &lp.idx(i))?;
                                DateFormat::parse(s).map_err(|e| lp.idx(i).err(e))
                            })
                            .collect::<Result<Vec<_>, _>>()?;
                        mapping.date_formats.insert(name.clone(), formats);
                    }
                    let flag = |key: &str| -> Result<bool, SchemaError> {
                        match o.get(key) {
                            None => Ok(false),
                            Some(Value::Bool(b)) => Ok(*b),
                            Some(other) => Err(p
                                .key(key)
                                .err(format!("expected true or false, found {}", kind(other)))),
                        }
                    };
                    let alternative = o
                        .get("alternative")
                        .map(|v| as_str(v, &p.key("alternative")).map(str::to_owned))
                        .transpose()?;
                    Some(ColumnSource {
                        column,
                        split,
                        strip_titles: flag("strip_titles")?,
                        first_word: flag("first_word")?,
                        alternative,
                    })
                }
                other => {
                    return Err(p.err(format!(
                        "expected a column name, an object with `column`, or null, found {}",
                        kind(other)
                    )));
                }
            };
            mapping.columns.insert(name.clone(), source);
        }
        Ok(mapping)
    }
}

#[derive(Debug, Clone)]
struct Extract {
    col: usize,
    /// How the value is cut; `None` for a whole column.
    cut: Option<ColumnSource>,
}

impl Extract {
    /// The value in `record`: a whole column inline (the common case, ten times a row), a cut
    /// one out of line.
    #[inline(always)]
    fn get<'r>(&self, record: &[&'r str]) -> &'r str {
        let v = record.get(self.col).copied().unwrap_or("");
        match &self.cut {
            None => v,
            Some(c) => c.cut(v),
        }
    }
}

impl ColumnSource {
    /// True when the value is taken whole.
    fn whole(&self) -> bool {
        self.split.is_none() && !self.strip_titles && !self.first_word
    }

    /// The part of `v` this source keeps: split, then a title dropped, then the first word.
    #[inline(never)]
    pub fn cut<'r>(&self, v: &'r str) -> &'r str {
        let mut v = match &self.split {
            Some(s) => s.part_of(v),
            None => v.trim(),
        };
        if self.strip_titles {
            v = strip_title(v);
        }
        if self.first_word {
            v = v.split_whitespace().next().unwrap_or("");
        }
        v
    }
}

/// `v` without a leading title (`Mr`, `Dr.`, `MRS`), when a word follows it.
/// True when `v` starts with a title [`ColumnSource::strip_titles`] would drop.
pub(crate) fn has_title(v: &str) -> bool {
    strip_title(v.trim()).len() != v.trim().len()
}

fn strip_title(v: &str) -> &str {
    let Some((first, rest)) = v.split_once(char::is_whitespace) else {
        return v;
    };
    let word = first.trim_end_matches('.');
    if TITLES.iter().any(|t| word.eq_ignore_ascii_case(t)) && !rest.trim().is_empty() {
        rest.trim_start()
    } else {
        v
    }
}

impl Split {
    fn part_of<'r>(&self, v: &'r str) -> &'r str {
        if !v.contains(self.separator.as_str()) {
            return if self.part == 0 { v.trim() } else { "" };
        }
        v.split(self.separator.as_str())
            .nth(self.part)
            .map_or("", str::trim)
    }
}

/// Where each value of a record comes from, resolved against one extract's header.
#[derive(Debug, Clone)]
pub struct Layout {
    features: Vec<Option<Extract>>,
    /// Per feature, the column of its alternative value; empty when no feature has one.
    alternatives: Vec<Option<usize>>,
    exact: Vec<Option<Extract>>,
    id: Option<usize>,
    columns: usize,
    unmentioned: Vec<String>,
}

impl Layout {
    /// Resolve the schema's features and exact identifiers against a CSV header.
    ///
    /// With a mapping, a feature or keyed input the mapping does not mention is missing in every
    /// record, as if mapped to `null` ([`Layout::unmentioned`] lists them); a name the schema does
    /// not have is an error. Without one, a schema with a `kith` section reads each feature from the column of
    /// the same name, and a plain clkhash schema needs the header to be exactly the feature
    /// identifiers in order, as clkhash and anonlink-client require.
    pub fn resolve(
        schema: &Schema,
        mapping: Option<&Mapping>,
        id_column: Option<&str>,
        header: &[&str],
    ) -> Result<Layout, LayoutError> {
        let find = |name: &str| -> Result<usize, LayoutError> {
            let hits: Vec<usize> = header
                .iter()
                .enumerate()
                .filter(|(_, h)| **h == name)
                .map(|(i, _)| i)
                .collect();
            match hits.as_slice() {
                [i] => Ok(*i),
                [] => {
                    let hint = header
                        .iter()
                        .find(|h| h.trim().eq_ignore_ascii_case(name.trim()))
                        .map(|h| format!(" (did you mean {h:?}?)"))
                        .unwrap_or_default();
                    Err(LayoutError(format!(
                        "the header has no column {name:?}{hint}; columns are: {}",
                        header
                            .iter()
                            .map(|h| format!("{h:?}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )))
                }
                many => Err(LayoutError(format!(
                    "column {name:?} appears {} times in the header (columns {})",
                    many.len(),
                    many.iter()
                        .map(|i| (i + 1).to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))),
            }
        };
        let id_column = id_column
            .or(mapping.and_then(|m| m.id_column.as_deref()))
            .or(schema.kith().id_column.as_deref());
        let id = id_column.map(find).transpose()?;

        let features;
        let exact;
        let mut unmentioned = Vec::new();
        let mut alternatives = Vec::new();
        if mapping.is_some() || schema.has_kith_section() {
            if let Some(m) = mapping {
                let known: Vec<&str> = schema
                    .features()
                    .iter()
                    .filter(|f| f.hashing.is_some())
                    .map(|f| f.identifier.as_str())
                    .chain(schema.kith().keyed_inputs().into_iter().map(|(n, _)| n))
                    .collect();
                if let Some(extra) = m.columns.keys().find(|k| !known.contains(&k.as_str())) {
                    return Err(LayoutError(format!(
                        "the mapping names {extra:?}, which is not a feature or input of the schema (they are: {})",
                        known.join(", ")
                    )));
                }
                unmentioned = known
                    .iter()
                    .filter(|k| !m.columns.contains_key(**k))
                    .map(|k| (*k).to_owned())
                    .collect();
            }
            // With a mapping, each name goes where the mapping says; without one, to the column of
            // the same name.
            let resolve = |name: &str| -> Result<Option<Extract>, LayoutError> {
                let source = match mapping {
                    None => {
                        return Ok(Some(Extract {
                            col: find(name)?,
                            cut: None,
                        }));
                    }
                    // Not mentioned: this holder does not have it.
                    Some(m) => m.columns.get(name).cloned().flatten(),
                };
                match source {
                    None => Ok(None),
                    Some(src) => Ok(Some(Extract {
                        col: find(&src.column)?,
                        cut: (!src.whole()).then_some(src),
                    })),
                }
            };
            features = schema
                .features()
                .iter()
                .map(|f| {
                    if f.hashing.is_some() {
                        resolve(&f.identifier)
                    } else {
                        Ok(None)
                    }
                })
                .collect::<Result<Vec<_>, _>>()?;
            if let Some(m) = mapping {
                let alt_of = |name: &str| -> Result<Option<usize>, LayoutError> {
                    m.columns
                        .get(name)
                        .and_then(|s| s.as_ref())
                        .and_then(|s| s.alternative.as_deref())
                        .map(&find)
                        .transpose()
                };
                alternatives = schema
                    .features()
                    .iter()
                    .map(|f| alt_of(&f.identifier))
                    .collect::<Result<Vec<_>, _>>()?;
                if alternatives.iter().all(Option::is_none) {
                    alternatives.clear();
                }
            }
            // Without a mapping, a household input or criterion whose column the header lacks is
            // one this holder does not hold (an exact identifier's column must be there).
            exact = schema
                .kith()
                .keyed_inputs()
                .into_iter()
                .map(|(name, kind)| match resolve(name) {
                    Err(_)
                        if mapping.is_none()
                            && kind != InputKind::Exact
                            && !header.contains(&name) =>
                    {
                        Ok(None)
                    }
                    other => other,
                })
                .collect::<Result<Vec<_>, _>>()?;
        } else {
            let ids: Vec<&str> = schema
                .features()
                .iter()
                .map(|f| f.identifier.as_str())
                .collect();
            if header != ids.as_slice() {
                return Err(LayoutError(format!(
                    "with a plain clkhash schema the header must be the feature identifiers in order, as clkhash requires \
                     (or give a column mapping): expected {ids:?}, found {header:?}"
                )));
            }
            features = (0..ids.len())
                .map(|col| Some(Extract { col, cut: None }))
                .collect();
            exact = Vec::new();
        }
        Ok(Layout {
            features,
            alternatives,
            exact,
            id,
            columns: header.len(),
            unmentioned,
        })
    }

    /// The features and keyed inputs of the schema the mapping does not mention (missing in every
    /// record), in schema order.
    pub fn unmentioned(&self) -> &[String] {
        &self.unmentioned
    }

    /// Number of columns in the header.
    pub fn columns(&self) -> usize {
        self.columns
    }

    /// The input column (0-based) of each schema feature; `None` for ignored or unmapped features.
    pub fn feature_columns(&self) -> Vec<Option<usize>> {
        self.features
            .iter()
            .map(|e| e.as_ref().map(|e| e.col))
            .collect()
    }

    /// The input column (0-based) of each keyed input (exact identifiers, household inputs,
    /// criteria: [`crate::schema::KithSection::keyed_inputs`]); `None` where unmapped.
    pub fn exact_columns(&self) -> Vec<Option<usize>> {
        self.exact
            .iter()
            .map(|e| e.as_ref().map(|e| e.col))
            .collect()
    }

    /// The keyed inputs this holder does not have (mapped to `null`, or, without a mapping, a
    /// household input or criterion whose column the header lacks).
    pub fn not_held<'s>(&self, schema: &'s Schema) -> Vec<&'s str> {
        schema
            .kith()
            .keyed_inputs()
            .into_iter()
            .zip(&self.exact)
            .filter(|(_, e)| e.is_none())
            .map(|((n, _), _)| n)
            .collect()
    }

    /// The input column (0-based) of the local ID, if any.
    pub fn id_column(&self) -> Option<usize> {
        self.id
    }

    /// Pick the values of one record, in schema order.
    #[inline]
    pub fn extract<'r>(
        &self,
        record: &[&'r str],
        features: &mut Vec<&'r str>,
        exact: &mut Vec<&'r str>,
    ) {
        features.clear();
        features.extend(
            self.features
                .iter()
                .map(|e| e.as_ref().map_or("", |e| e.get(record))),
        );
        exact.clear();
        exact.extend(
            self.exact
                .iter()
                .map(|e| e.as_ref().map_or("", |e| e.get(record))),
        );
    }

    /// True when some feature has an alternative value column.
    pub fn has_alternatives(&self) -> bool {
        !self.alternatives.is_empty()
    }

    /// Pick the alternative values of one record, one per schema feature (`""` for none); empty
    /// when no feature has an alternative column.
    pub fn extract_alternatives<'r>(&self, record: &[&'r str], out: &mut Vec<&'r str>) {
        out.clear();
        out.extend(
            self.alternatives
                .iter()
                .map(|c| c.and_then(|c| record.get(c).copied()).map_or("", str::trim)),
        );
    }

    /// The local ID of a record, if an ID column is in use.
    pub fn local_id<'r>(&self, record: &[&'r str]) -> Option<&'r str> {
        self.id.map(|i| record.get(i).copied().unwrap_or(""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEMA: &str = r#"{"version": 3, "clkConfig": {"l": 64, "kdf": {"type": "HKDF"}},
      "features": [
        {"identifier": "surname", "format": {"type": "string"}, "hashing": {"comparison": {"type": "ngram", "n": 2}, "strategy": {"bitsPerToken": 2}}},
        {"identifier": "given_name", "format": {"type": "string"}, "hashing": {"comparison": {"type": "ngram", "n": 2}, "strategy": {"bitsPerToken": 2}}}],
      "kith": {"version": 1, "exact": {"nhs_number": {"normalize": "nhs_number"}}}}"#;

    #[test]
    fn one_column_can_feed_two_features() {
        let schema = Schema::from_json_str(SCHEMA).expect("schema");
        let m = Mapping::from_json_str(
            r#"{"kith_mapping": 1, "id_column": "URN", "columns": {
                "surname": {"column": "NAME", "split": ",", "part": 0},
                "given_name": {"column": "NAME", "split": ",", "part": 1},
                "nhs_number": null}}"#,
        )
        .expect("mapping");
        let layout = Layout::resolve(&schema, Some(&m), None, &["URN", "NAME"]).expect("layout");
        let (mut f, mut e) = (Vec::new(), Vec::new());
        layout.extract(&["7", "SMITH, John"], &mut f, &mut e);
        assert_eq!(f, ["SMITH", "John"]);
        assert_eq!(e, [""]);
        layout.extract(&["8", "SMITH"], &mut f, &mut e);
        assert_eq!(f, ["SMITH", ""]);
        assert_eq!(layout.local_id(&["8", "SMITH"]), Some("8"));
    }

    fn source(json: &str) -> ColumnSource {
        let m = Mapping::from_json_str(&format!(
            r#"{{"kith_mapping": 1, "columns": {{"given_name": {json}}}}}"#
        ))
        .expect("mapping");
        m.columns["given_name"].clone().expect("a column")
    }

    #[test]
    fn a_column_splits_into_any_number_of_parts() {
        let s = source(r#"{"column": "NAME", "split": "|", "part": 2}"#);
        assert_eq!(s.cut("SMITH | John | Paul | Jr"), "Paul");
        assert_eq!(s.cut("SMITH | John"), "");
        // Without the separator the value is all part 0.
        assert_eq!(s.cut("SMITH"), "");
        let first = source(r#"{"column": "NAME", "split": ",", "part": 0}"#);
        assert_eq!(first.cut(" SMITH "), "SMITH");
        let second = source(r#"{"column": "NAME", "split": ",", "part": 1}"#);
        assert_eq!(second.cut("SMITH, John"), "John");
    }

    #[test]
    fn titles_go_and_the_first_word_stays() {
        let s = source(
            r#"{"column": "NAME", "split": ",", "part": 1, "strip_titles": true, "first_word": true}"#,
        );
        assert_eq!(s.cut("SMITH, Mr John Paul"), "John");
        assert_eq!(s.cut("SMITH, DR. Aisha"), "Aisha");
        assert_eq!(
            s.cut("SMITH, Mrs"),
            "Mrs",
            "a title alone is kept: it may be a name"
        );
        assert_eq!(s.cut("SMITH, Mistral"), "Mistral");
        let t = source(r#"{"column": "FORENAME", "strip_titles": true}"#);
        assert_eq!(t.cut("Miss Jo Anne"), "Jo Anne");
        assert_eq!(t.cut("Drew"), "Drew");
        let w = source(r#"{"column": "FORENAME", "first_word": true}"#);
        assert_eq!(w.cut("  Mary Jane "), "Mary");
        assert_eq!(w.cut(""), "");
        let bad = Mapping::from_json_str(
            r#"{"kith_mapping": 1, "columns": {"given_name": {"column": "F", "first_word": "yes"}}}"#,
        );
        assert_eq!(
            bad.expect_err("not a boolean").path,
            "$.columns.given_name.first_word"
        );
    }

    proptest::proptest! {
        /// Whatever the value, a cut is a trimmed piece of it, and the first word has no space.
        #[test]
        fn a_cut_is_a_trimmed_piece_of_the_value(v in "[ ,A-Za-z.|]{0,30}", part in 0usize..4) {
            let s = ColumnSource {
                column: "x".into(),
                split: Some(Split { separator: ",".into(), part }),
                strip_titles: true,
                first_word: true,
                alternative: None,
            };
            let c = s.cut(&v);
            proptest::prop_assert!(v.contains(c));
            proptest::prop_assert_eq!(c, c.trim());
            proptest::prop_assert!(!c.contains(' '));
        }
    }

    #[test]
    fn what_a_mapping_does_not_mention_is_missing_in_every_record() {
        let schema = Schema::from_json_str(SCHEMA).expect("schema");
        let m = Mapping::from_json_str(r#"{"kith_mapping": 1, "columns": {"surname": "S"}}"#)
            .expect("mapping");
        let layout = Layout::resolve(&schema, Some(&m), None, &["S", "G"]).expect("layout");
        assert_eq!(layout.unmentioned(), ["given_name", "nhs_number"]);
        let (mut f, mut e) = (Vec::new(), Vec::new());
        layout.extract(&["Smith", "John"], &mut f, &mut e);
        assert_eq!(f, ["Smith", ""]);
        assert_eq!(e, [""]);
        // `null` says the same, and is not listed as unmentioned.
        let m = Mapping::from_json_str(
            r#"{"kith_mapping": 1, "columns": {"surname": "S", "given_name": null, "nhs_number": null}}"#,
        )
        .expect("mapping");
        let layout = Layout::resolve(&schema, Some(&m), None, &["S", "G"]).expect("layout");
        assert!(layout.unmentioned().is_empty());
    }

    #[test]
    fn unknown_names_and_missing_columns_are_errors() {
        let schema = Schema::from_json_str(SCHEMA).expect("schema");
        let m = Mapping::from_json_str(
            r#"{"kith_mapping": 1, "columns": {"surname": "S", "forename": "G"}}"#,
        )
        .expect("mapping");
        let e = Layout::resolve(&schema, Some(&m), None, &["S", "G"]).expect_err("unknown name");
        assert!(
            e.0.contains("\"forename\"") && e.0.contains("given_name"),
            "{e}"
        );
        let e = Layout::resolve(&schema, None, None, &["surname", "given"])
            .expect_err("missing column");
        assert!(e.0.contains("given_name"), "{e}");
        let e = Layout::resolve(
            &schema,
            None,
            Some("id"),
            &["surname", "given_name", "nhs_number"],
        )
        .expect_err("id");
        assert!(e.0.contains("\"id\""), "{e}");
        let bad = Mapping::from_json_str(
            r#"{"kith_mapping": 1, "columns": {"surname": {"column": "S", "part": 1}}}"#,
        );
        assert_eq!(
            bad.expect_err("part without split").path,
            "$.columns.surname.part"
        );
    }
}
