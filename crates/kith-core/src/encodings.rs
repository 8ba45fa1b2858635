//! The kith encodings file: what a holder sends to the linkage party.
//!
//! ```text
//! {"format":"kith-encodings","version":1,"party":"council","schema_fingerprint":"sha256:…","key_check":"…","clk_bits":1024,"records":2,"columns":["token","clk","exact:nhs_number","block:surname_year","field:surname"],"fields":[{"name":"surname","bits":128,"group":"name"}]}
//! 0c5b…,k5EUAEg…==,7d1f…,5e0a…,AAgQ…==
//! 3a90…,MgNABjh…==,,91c4…,
//! ```
//! Line 1 is a JSON header; every other line is one record: the 32-hex-digit record token, the
//! base64 CLK, then one 32-hex-digit token per exact identifier, then one 16-hex-digit token per
//! keyed blocking key, then one base64 field-level Bloom filter per `fields` entry (each empty
//! when missing). The header's `fields` list gives each filter's length and key group (filters of
//! one group can be compared with each other), and for a filter cut into equal parts compared
//! apart (a date's year and its day and month) the parts' names. Rows are
//! sorted by record token, so their order says nothing about the holder's input order. The header's
//! record count lets a reader detect a truncated file. Nothing in the file is a raw value or a local
//! ID; nothing in it needs or reveals the secret.

use std::io::{BufRead, Write};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};

use crate::error::EncodingsError;
pub use crate::token::parse_token;
use crate::token::{TOKEN_BYTES, Token, push_hex};

/// The format name in the header.
pub const FORMAT_NAME: &str = "kith-encodings";
/// The newest format version this build writes and reads. Version 2 adds household tokens
/// (`house:` columns), criteria flags (`flag:` columns) and coarse areas in clear (`area:`
/// columns); version 3 the street token (`house:street`). A file is written as the oldest version
/// that has its columns, so that older readers still take it.
pub const FORMAT_VERSION: i64 = 3;

/// The longest area value: a postcode district has at most four characters, a postcode area two.
pub const MAX_AREA: usize = 8;

/// Whether `a` can be an area value: 1 to [`MAX_AREA`] ASCII letters and digits.
pub fn is_area(a: &str) -> bool {
    (1..=MAX_AREA).contains(&a.len()) && a.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The most field-level filters a schema (and so an encodings file) may have: the linkage party
/// packs one pair's comparison levels into one word.
pub const MAX_FIELD_FILTERS: usize = 16;

/// One encoded record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EncodedRecord {
    /// The keyed record token (the same local ID and party always give the same token); `None` when
    /// no local ID was given.
    pub token: Option<Token>,
    /// The CLK, MSB-first bytes, `ceil(l / 8)` long.
    pub clk: Vec<u8>,
    /// One token per exact identifier; `None` where the value was missing or invalid.
    pub exact: Vec<Option<Token>>,
    /// One 64-bit keyed token per blocking key of the schema; `None` where a part was missing.
    pub blocks: Vec<Option<u64>>,
    /// One field-level Bloom filter per `kith.fields` entry (MSB-first bytes); `None` where the
    /// value was missing.
    pub fields: Vec<Option<Vec<u8>>>,
    /// The household tokens, in the order of the schema's household inputs (`dwelling` and
    /// `street` from the dwelling, then `register`); `None` where a part was missing.
    pub house: Vec<Option<Token>>,
    /// One flag per criterion this holder holds; `None` where the value could
    /// not be read.
    pub flags: Vec<Option<bool>>,
    /// One coarse area per `kith.areas` entry (a postcode district), in clear; `None` where
    /// missing.
    pub areas: Vec<Option<String>>,
}

/// The header of an encodings file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The holder's party name.
    pub party: String,
    /// Fingerprint of the agreed schema.
    pub schema_fingerprint: String,
    /// Key check: equal for every holder with the same secret and schema.
    pub key_check: String,
    /// CLK length in bits.
    pub clk_bits: u32,
    /// Number of records that follow.
    pub records: u64,
    /// Names of the exact identifiers, in column order.
    pub exact: Vec<String>,
    /// Names of the keyed blocking keys, in column order (after the exact identifiers).
    pub blocks: Vec<String>,
    /// Household tokens (`dwelling`, `register`), in column order (after the blocking keys).
    pub house: Vec<String>,
    /// Criteria flags this holder holds, in column order (after the household tokens).
    pub flags: Vec<String>,
    /// Coarse areas sent in clear (`area:` columns), in column order (after the flags).
    pub areas: Vec<String>,
    /// Field-level Bloom filters, in column order (after the areas).
    pub fields: Vec<FieldSpec>,
    /// The schema's twin rule.
    pub twins: Option<TwinNames>,
}

/// The schema's twin rule, by field filter names (see the schema's `kith.twins`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TwinNames {
    /// The fields that may differ between twins (the forename, the sex).
    pub differ: Vec<String>,
    /// The fields twins share (the date of birth).
    pub agree: Vec<String>,
    /// The fields each person holds a value of their own in (an identity number typed by hand):
    /// when one agrees, the pair is not taken for twins or relatives.
    pub personal: Vec<String>,
}

/// One field-level Bloom filter column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldSpec {
    /// The feature it encodes.
    pub name: String,
    /// Its length in bits (a multiple of 64).
    pub bits: u32,
    /// Its key group.
    pub group: String,
    /// The names of the equal parts it is cut into, each compared on its own (a date's year and
    /// its day and month); empty when it is compared whole.
    pub parts: Vec<String>,
}

impl FieldSpec {
    /// The filters the linkage party compares: this one, or one per part, each `bits / parts`
    /// long and named `name.part`, in a key group of its own per part.
    pub fn compared(&self) -> Vec<FieldSpec> {
        if self.parts.is_empty() {
            return vec![self.clone()];
        }
        let bits = self.bits / self.parts.len() as u32;
        self.parts
            .iter()
            .map(|p| FieldSpec {
                name: format!("{}.{p}", self.name),
                bits,
                group: format!("{}.{p}", self.group),
                parts: Vec::new(),
            })
            .collect()
    }
}

impl Header {
    fn columns(&self) -> Vec<String> {
        let mut c = vec!["token".to_owned(), "clk".to_owned()];
        c.extend(self.exact.iter().map(|e| format!("exact:{e}")));
        c.extend(self.blocks.iter().map(|b| format!("block:{b}")));
        c.extend(self.house.iter().map(|h| format!("house:{h}")));
        c.extend(self.flags.iter().map(|f| format!("flag:{f}")));
        c.extend(self.areas.iter().map(|a| format!("area:{a}")));
        c.extend(self.fields.iter().map(|f| format!("field:{}", f.name)));
        c
    }

    /// The oldest format version that has this header's columns.
    pub fn version(&self) -> i64 {
        if self.house.iter().any(|h| h == "street") {
            3
        } else if self.house.is_empty() && self.flags.is_empty() && self.areas.is_empty() {
            1
        } else {
            2
        }
    }

    /// Write the header line.
    pub fn write<W: Write>(&self, w: &mut W) -> std::io::Result<()> {
        let mut v = json!({
            "format": FORMAT_NAME,
            "version": self.version(),
            "party": self.party,
            "schema_fingerprint": self.schema_fingerprint,
            "key_check": self.key_check,
            "clk_bits": self.clk_bits,
            "records": self.records,
            "columns": self.columns(),
        });
        if !self.fields.is_empty() {
            v["fields"] = self
                .fields
                .iter()
                .map(|f| {
                    let mut v = json!({"name": f.name, "bits": f.bits, "group": f.group});
                    if !f.parts.is_empty() {
                        v["parts"] = json!(f.parts);
                    }
                    v
                })
                .collect();
        }
        if let Some(t) = &self.twins {
            // One differing field is written as a string, as before lists were allowed.
            let differ = match t.differ.as_slice() {
                [one] => json!(one),
                many => json!(many),
            };
            v["twins"] = json!({"differ": differ, "agree": t.agree});
            // Written only when named, so that files without it read as before.
            if !t.personal.is_empty() {
                v["twins"]["personal"] = json!(t.personal);
            }
        }
        writeln!(w, "{v}")
    }

    /// Parse and check a header line (without its line end).
    pub fn parse(line: &str) -> Result<Header, EncodingsError> {
        let v: Value = serde_json::from_str(line).map_err(|e| {
            bad(format!(
                "expected a kith encodings header (a JSON object): {e}"
            ))
        })?;
        if v.get("format").and_then(Value::as_str) != Some(FORMAT_NAME) {
            return Err(bad(format!(
                "not a kith encodings file (the header's \"format\" is not {FORMAT_NAME:?})"
            )));
        }
        let version = v.get("version").and_then(Value::as_i64);
        match version {
            Some(1..=FORMAT_VERSION) => {}
            other => {
                return Err(bad(format!(
                    "encodings format version {} is not supported (this kith reads version {FORMAT_VERSION})",
                    other.map_or("missing".to_owned(), |o| o.to_string())
                )));
            }
        }
        let text = |key: &str| -> Result<String, EncodingsError> {
            v.get(key)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| bad(format!("the header has no string field {key:?}")))
        };
        let number = |key: &str| -> Result<u64, EncodingsError> {
            v.get(key)
                .and_then(Value::as_u64)
                .ok_or_else(|| bad(format!("the header has no whole-number field {key:?}")))
        };
        let clk_bits = u32::try_from(number("clk_bits")?)
            .map_err(|_| bad("clk_bits is too large".to_owned()))?;
        if clk_bits == 0 {
            return Err(bad("clk_bits must be at least 1".to_owned()));
        }
        let columns: Vec<String> = v
            .get("columns")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .ok_or_else(|| bad("the header has no \"columns\" list".to_owned()))?;
        if columns.len() < 2 || columns[0] != "token" || columns[1] != "clk" {
            return Err(bad(
                "the header's columns must start with \"token\", \"clk\"".to_owned(),
            ));
        }
        let specs = field_specs(&v)?;
        let Columns {
            exact,
            blocks,
            house,
            flags,
            areas,
            fields,
        } = Columns::classify(&columns[2..], &specs, version)?;
        let twins = twins_of(&v, &fields)?;
        Ok(Header {
            party: text("party")?,
            schema_fingerprint: text("schema_fingerprint")?,
            key_check: text("key_check")?,
            clk_bits,
            records: number("records")?,
            exact,
            blocks,
            house,
            flags,
            areas,
            fields,
            twins,
        })
    }
}

/// An error in the header (line 1).
fn bad(message: String) -> EncodingsError {
    EncodingsError::Format { line: 1, message }
}

/// The header's `fields`: each field filter's name, bits and key group.
fn field_specs(v: &Value) -> Result<Vec<FieldSpec>, EncodingsError> {
    let mut specs: Vec<FieldSpec> = Vec::new();
    if let Some(list) = v.get("fields") {
        let list = list
            .as_array()
            .ok_or_else(|| bad("the header's \"fields\" is not a list".to_owned()))?;
        for (i, f) in list.iter().enumerate() {
            let what = |m: &str| bad(format!("the header's fields[{i}]: {m}"));
            let name = f
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| what("no string \"name\""))?;
            let bits = f
                .get("bits")
                .and_then(Value::as_u64)
                .filter(|b| (64..=1024).contains(b) && b % 64 == 0)
                .ok_or_else(|| what("\"bits\" must be a multiple of 64 from 64 to 1024"))?;
            let group = f
                .get("group")
                .and_then(Value::as_str)
                .ok_or_else(|| what("no string \"group\""))?;
            let parts: Vec<String> = match f.get("parts") {
                None => Vec::new(),
                Some(p) => p
                    .as_array()
                    .and_then(|a| {
                        a.iter()
                            .map(|x| x.as_str().map(str::to_owned))
                            .collect::<Option<Vec<_>>>()
                    })
                    .filter(|a| (2..=4).contains(&a.len()) && bits % (64 * a.len() as u64) == 0)
                    .ok_or_else(|| {
                        what("\"parts\" must list 2 to 4 names that cut the bits into multiples of 64")
                    })?,
            };
            specs.push(FieldSpec {
                name: name.to_owned(),
                bits: bits as u32,
                group: group.to_owned(),
                parts,
            });
        }
    }
    if specs.len() > MAX_FIELD_FILTERS {
        return Err(bad(format!(
            "the header lists {} field filters; at most {} are allowed",
            specs.len(),
            MAX_FIELD_FILTERS
        )));
    }
    Ok(specs)
}

/// The header's columns after `token` and `clk`, by kind, in the order the format requires:
/// exact tokens, blocking keys, household tokens, flags, areas, field filters.
struct Columns {
    exact: Vec<String>,
    blocks: Vec<String>,
    house: Vec<String>,
    flags: Vec<String>,
    areas: Vec<String>,
    fields: Vec<FieldSpec>,
}

impl Columns {
    fn classify(
        columns: &[String],
        specs: &[FieldSpec],
        version: Option<i64>,
    ) -> Result<Columns, EncodingsError> {
        let mut exact = Vec::new();
        let mut blocks = Vec::new();
        let mut house: Vec<String> = Vec::new();
        let mut flags: Vec<String> = Vec::new();
        let mut areas: Vec<String> = Vec::new();
        let mut fields = Vec::new();
        for c in columns {
            if let Some(f) = c.strip_prefix("field:") {
                let spec = specs.iter().find(|s| s.name == f).ok_or_else(|| {
                    bad(format!(
                        "column {c:?} has no entry in the header's \"fields\""
                    ))
                })?;
                fields.push(spec.clone());
                continue;
            }
            if !fields.is_empty() {
                return Err(bad(format!(
                    "column {c:?} comes after a field filter; field filters come last"
                )));
            }
            if let Some(a) = c.strip_prefix("area:") {
                if version == Some(1) {
                    return Err(bad(format!("column {c:?} needs format version 2")));
                }
                if a.is_empty() || areas.iter().any(|x| x == a) {
                    return Err(bad(format!("column {c:?}: an area needs a name, once")));
                }
                areas.push(a.to_owned());
                continue;
            }
            if !areas.is_empty() {
                return Err(bad(format!(
                    "column {c:?} comes after an area; areas come after the flags"
                )));
            }
            if let Some(h) = c.strip_prefix("house:") {
                if version == Some(1) {
                    return Err(bad(format!("column {c:?} needs format version 2")));
                }
                if h == "street" && version.is_some_and(|v| v < 3) {
                    return Err(bad(format!("column {c:?} needs format version 3")));
                }
                if !matches!(h, "dwelling" | "street" | "register") || house.iter().any(|x| x == h)
                {
                    return Err(bad(format!(
                        "column {c:?}: household columns are house:dwelling, house:street and house:register, once each"
                    )));
                }
                if !flags.is_empty() {
                    return Err(bad(format!(
                        "column {c:?} comes after a flag; household tokens come first"
                    )));
                }
                house.push(h.to_owned());
                continue;
            }
            if let Some(f) = c.strip_prefix("flag:") {
                if version == Some(1) {
                    return Err(bad(format!("column {c:?} needs format version 2")));
                }
                if f.is_empty() || flags.iter().any(|x| x == f) {
                    return Err(bad(format!("column {c:?}: a flag needs a name, once")));
                }
                flags.push(f.to_owned());
                continue;
            }
            if !house.is_empty() || !flags.is_empty() {
                return Err(bad(format!(
                    "column {c:?} comes after a household token or flag; those come after the blocking keys"
                )));
            }
            if let Some(e) = c.strip_prefix("exact:") {
                if !blocks.is_empty() {
                    return Err(bad(format!(
                        "column {c:?} comes after a blocking key; exact tokens come first"
                    )));
                }
                exact.push(e.to_owned());
            } else if let Some(b) = c.strip_prefix("block:") {
                blocks.push(b.to_owned());
            } else {
                return Err(bad(format!("unknown column {c:?}")));
            }
        }
        Ok(Columns {
            exact,
            blocks,
            house,
            flags,
            areas,
            fields,
        })
    }
}

/// The header's `twins` rule, if any: the differing fields, the shared ones and the personal ones
/// (none when the key is absent), all of them field filters.
fn twins_of(v: &Value, fields: &[FieldSpec]) -> Result<Option<TwinNames>, EncodingsError> {
    let twins = match v.get("twins") {
        None => None,
        Some(t) => {
            // A list of names (or, for "differ", one name); every name a field filter's.
            let names = |v: Option<&Value>, one: bool| -> Option<Vec<String>> {
                match v? {
                    Value::String(s) if one => Some(vec![s.clone()]),
                    Value::Array(a) => a.iter().map(|x| x.as_str().map(str::to_owned)).collect(),
                    _ => None,
                }
            };
            let known = |v: &[String]| {
                v.iter()
                    .all(|x| fields.iter().any(|f: &FieldSpec| &f.name == x))
            };
            let personal = match t.get("personal") {
                None => Some(Vec::new()),
                p => names(p, false),
            };
            match (
                names(t.get("differ"), true),
                names(t.get("agree"), false),
                personal,
            ) {
                (Some(differ), Some(agree), Some(personal))
                    if !differ.is_empty()
                        && known(&differ)
                        && known(&agree)
                        && known(&personal) =>
                {
                    Some(TwinNames {
                        differ,
                        agree,
                        personal,
                    })
                }
                _ => {
                    return Err(bad(
                        "the header's \"twins\" must name a differing field and lists of shared and personal fields, all with field filters".to_owned(),
                    ));
                }
            }
        }
    };
    Ok(twins)
}

/// One row of an encodings file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The record token.
    pub token: Token,
    /// The CLK bytes.
    pub clk: Vec<u8>,
    /// One token per exact identifier; `None` where the value was missing.
    pub exact: Vec<Option<Token>>,
    /// One 64-bit token per blocking key; `None` where a part was missing.
    pub blocks: Vec<Option<u64>>,
    /// One household token per header `house` entry; `None` where missing.
    pub house: Vec<Option<Token>>,
    /// One flag per header `flags` entry; `None` where the holder could not read it.
    pub flags: Vec<Option<bool>>,
    /// One area per header `areas` entry; `None` where missing.
    pub areas: Vec<Option<String>>,
    /// One field-level filter per header `fields` entry; `None` where the value was missing.
    pub fields: Vec<Option<Vec<u8>>>,
}

/// Write one record line.
pub fn write_record<W: Write>(w: &mut W, token: &Token, r: &EncodedRecord) -> std::io::Result<()> {
    let mut line =
        String::with_capacity(40 + r.clk.len() * 4 / 3 + 34 * r.exact.len() + 18 * r.blocks.len());
    record_line(token, r, &mut line);
    w.write_all(line.as_bytes())
}

/// Append `bytes` in standard base64 (with padding) to `out`: the text `base64`'s `encode_string`
/// writes, by a SIMD encoder.
pub fn push_base64(bytes: &[u8], out: &mut String) {
    base64_simd::STANDARD.encode_append(bytes, out);
}

/// Append one record line (with its newline) to `out`.
pub fn record_line(token: &Token, r: &EncodedRecord, out: &mut String) {
    push_hex(token, out);
    out.push(',');
    push_base64(&r.clk, out);
    for e in &r.exact {
        out.push(',');
        if let Some(t) = e {
            push_hex(t, out);
        }
    }
    for b in &r.blocks {
        out.push(',');
        if let Some(t) = b {
            push_hex(&t.to_be_bytes(), out);
        }
    }
    for h in &r.house {
        out.push(',');
        if let Some(t) = h {
            push_hex(t, out);
        }
    }
    for f in &r.flags {
        out.push_str(match f {
            Some(true) => ",1",
            Some(false) => ",0",
            None => ",",
        });
    }
    for a in &r.areas {
        out.push(',');
        if let Some(a) = a {
            out.push_str(a);
        }
    }
    for f in &r.fields {
        out.push(',');
        if let Some(bytes) = f {
            push_base64(bytes, out);
        }
    }
    out.push('\n');
}

/// Reads an encodings file record by record, checking every line.
#[derive(Debug)]
pub struct Reader<R> {
    input: R,
    header: Header,
    line: u64,
    seen: u64,
    buf: String,
}

impl<R: BufRead> Reader<R> {
    /// Read and check the header.
    pub fn new(mut input: R) -> Result<Reader<R>, EncodingsError> {
        let mut buf = String::new();
        if input.read_line(&mut buf)? == 0 {
            return Err(EncodingsError::Format {
                line: 1,
                message: "the file is empty".to_owned(),
            });
        }
        let header = Header::parse(buf.trim_end_matches(['\n', '\r']))?;
        Ok(Reader {
            input,
            header,
            line: 1,
            seen: 0,
            buf,
        })
    }

    /// The header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Read the next line into the buffer, checking the file's shape (line ends, record count);
    /// `false` at the end.
    fn next_line(&mut self) -> Result<bool, EncodingsError> {
        self.buf.clear();
        let n = self.input.read_line(&mut self.buf)?;
        if n == 0 {
            if self.seen != self.header.records {
                return Err(EncodingsError::Format {
                    line: self.line + 1,
                    message: format!(
                        "the file ends after {} records but its header says {}: it is truncated",
                        self.seen, self.header.records
                    ),
                });
            }
            return Ok(false);
        }
        self.line += 1;
        let line = self.line;
        let bad = |message: String| EncodingsError::Format { line, message };
        if !self.buf.ends_with('\n') {
            return Err(bad(
                "the last line has no line end: the file is truncated".to_owned()
            ));
        }
        if self.seen == self.header.records {
            return Err(bad(format!(
                "more rows than the {} the header announces",
                self.header.records
            )));
        }
        Ok(true)
    }

    /// The next record's token only, `None` at the end, for a second pass over a file whose
    /// records were checked on the first: the rest of each line is not read. The file's shape is
    /// checked as by [`Reader::next_record`].
    pub fn next_token(&mut self) -> Result<Option<Token>, EncodingsError> {
        if !self.next_line()? {
            return Ok(None);
        }
        let line = self.line;
        let first = self.buf.split([',', '\n', '\r']).next().unwrap_or("");
        let token = parse_token(first).ok_or_else(|| EncodingsError::Format {
            line,
            message: "field 1 (token): expected 32 hexadecimal digits".to_owned(),
        })?;
        self.seen += 1;
        Ok(Some(token))
    }

    /// The next record, `None` at the end. A file with fewer or more rows than its header says is an
    /// error (a truncated copy, or two files joined).
    pub fn next_record(&mut self) -> Result<Option<Row>, EncodingsError> {
        if !self.next_line()? {
            return Ok(None);
        }
        let line = self.line;
        let bad = |message: String| EncodingsError::Format { line, message };
        let text = self.buf.trim_end_matches(['\n', '\r']);
        let mut parts = text.split(',');
        let n_exact = self.header.exact.len();
        let n_blocks = self.header.blocks.len();
        let (n_house, n_flags) = (self.header.house.len(), self.header.flags.len());
        let n_areas = self.header.areas.len();
        let want = 2 + n_exact + n_blocks + n_house + n_flags + n_areas + self.header.fields.len();
        let fields: Vec<&str> = parts.by_ref().take(want + 1).collect();
        if fields.len() != want {
            return Err(bad(format!(
                "expected {want} comma-separated fields, found {}",
                fields.len()
            )));
        }
        let token = parse_token(fields[0])
            .ok_or_else(|| bad("field 1 (token): expected 32 hexadecimal digits".to_owned()))?;
        let clk = B64
            .decode(fields[1])
            .map_err(|e| bad(format!("field 2 (clk): not valid base64: {e}")))?;
        let bits = self.header.clk_bits as usize;
        if crate::bits::BitVec::from_bytes(&clk, bits).is_none() {
            return Err(bad(format!(
                "field 2 (clk): expected {} bytes for {bits} bits, found {}",
                bits.div_ceil(8),
                clk.len()
            )));
        }
        let exact = optional_columns(
            &fields[2..2 + n_exact],
            3,
            &self.header.exact,
            "exact",
            2 * TOKEN_BYTES,
            parse_token,
            line,
        )?;
        let blocks = optional_columns(
            &fields[2 + n_exact..2 + n_exact + n_blocks],
            3 + n_exact,
            &self.header.blocks,
            "block",
            16,
            parse_block,
            line,
        )?;
        let at = 2 + n_exact + n_blocks;
        let house = optional_columns(
            &fields[at..at + n_house],
            at + 1,
            &self.header.house,
            "house",
            2 * TOKEN_BYTES,
            parse_token,
            line,
        )?;
        let mut flags = Vec::with_capacity(n_flags);
        for (i, (f, name)) in fields[at + n_house..at + n_house + n_flags]
            .iter()
            .zip(&self.header.flags)
            .enumerate()
        {
            flags.push(match *f {
                "1" => Some(true),
                "0" => Some(false),
                "" => None,
                _ => {
                    return Err(bad(format!(
                        "field {} (flag:{name}): expected 1, 0 or nothing",
                        at + n_house + i + 1
                    )));
                }
            });
        }
        let at_areas = at + n_house + n_flags;
        let mut areas = Vec::with_capacity(n_areas);
        for (i, (a, name)) in fields[at_areas..at_areas + n_areas]
            .iter()
            .zip(&self.header.areas)
            .enumerate()
        {
            areas.push(match *a {
                "" => None,
                a if is_area(a) => Some(a.to_owned()),
                _ => {
                    return Err(bad(format!(
                        "field {} (area:{name}): expected up to {MAX_AREA} ASCII letters and digits, or nothing",
                        at_areas + i + 1
                    )));
                }
            });
        }
        let n_before = n_exact + n_blocks + n_house + n_flags + n_areas;
        let mut filters = Vec::with_capacity(self.header.fields.len());
        for (i, (f, spec)) in fields[2 + n_before..]
            .iter()
            .zip(&self.header.fields)
            .enumerate()
        {
            if f.is_empty() {
                filters.push(None);
                continue;
            }
            let at = 3 + n_before + i;
            let bytes = B64.decode(f).map_err(|e| {
                bad(format!(
                    "field {at} (field:{}): not valid base64: {e}",
                    spec.name
                ))
            })?;
            if bytes.len() * 8 != spec.bits as usize {
                return Err(bad(format!(
                    "field {at} (field:{}): expected {} bytes for {} bits, found {}",
                    spec.name,
                    spec.bits / 8,
                    spec.bits,
                    bytes.len()
                )));
            }
            filters.push(Some(bytes));
        }
        self.seen += 1;
        Ok(Some(Row {
            token,
            clk,
            exact,
            blocks,
            house,
            flags,
            areas,
            fields: filters,
        }))
    }
}

/// Parse optional token columns (empty when missing); an error names the line, the 1-based field
/// number (`first` is that of `fields[0]`) and the column.
fn optional_columns<T>(
    fields: &[&str],
    first: usize,
    names: &[String],
    kind: &str,
    digits: usize,
    parse: fn(&str) -> Option<T>,
    line: u64,
) -> Result<Vec<Option<T>>, EncodingsError> {
    fields
        .iter()
        .enumerate()
        .map(|(i, f)| {
            if f.is_empty() {
                return Ok(None);
            }
            parse(f).map(Some).ok_or_else(|| EncodingsError::Format {
                line,
                message: format!(
                    "field {} ({kind}:{}): expected {} hexadecimal digits or nothing",
                    first + i,
                    names[i],
                    digits
                ),
            })
        })
        .collect()
}

fn parse_block(s: &str) -> Option<u64> {
    if s.len() != 16 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(s, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// `push_base64` writes what the base64 crate writes, after whatever the string held.
        #[test]
        fn push_base64_is_standard_base64(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..700), before in "[a-z,]{0,5}") {
            let mut out = before.clone();
            push_base64(&bytes, &mut out);
            proptest::prop_assert_eq!(out, format!("{before}{}", B64.encode(&bytes)));
        }
    }

    fn header(records: u64) -> Header {
        Header {
            party: "council".into(),
            schema_fingerprint: "sha256:00".into(),
            key_check: "abcd".into(),
            clk_bits: 12,
            records,
            exact: vec!["nhs".into()],
            blocks: vec!["sx_year".into()],
            house: vec![],
            flags: vec![],
            areas: vec![],
            fields: vec![FieldSpec {
                name: "surname".into(),
                bits: 64,
                group: "name".into(),
                parts: Vec::new(),
            }],
            twins: None,
        }
    }

    fn record(t: u8) -> Row {
        let exact = if t.is_multiple_of(2) {
            Some([9; 16])
        } else {
            None
        };
        Row {
            token: [t; 16],
            clk: vec![0xab, 0xc0],
            exact: vec![exact],
            blocks: vec![(!t.is_multiple_of(3)).then_some(0x0123_4567_89ab_cdef ^ u64::from(t))],
            house: vec![],
            flags: vec![],
            areas: vec![],
            fields: vec![(!t.is_multiple_of(5)).then(|| vec![t; 8])],
        }
    }

    fn write(h: &Header, rows: &[Row]) -> Vec<u8> {
        let mut out = Vec::new();
        h.write(&mut out).expect("write");
        for r in rows {
            let rec = EncodedRecord {
                token: None,
                clk: r.clk.clone(),
                exact: r.exact.clone(),
                blocks: r.blocks.clone(),
                fields: r.fields.clone(),
                house: r.house.clone(),
                flags: r.flags.clone(),
                areas: r.areas.clone(),
            };
            write_record(&mut out, &r.token, &rec).expect("write");
        }
        out
    }

    fn read_all(bytes: &[u8]) -> Result<Vec<Row>, EncodingsError> {
        let mut r = Reader::new(bytes)?;
        let mut out = Vec::new();
        while let Some(rec) = r.next_record()? {
            out.push(rec);
        }
        Ok(out)
    }

    /// Areas travel in clear after the flags, need version 2, and must be short letters and
    /// digits.
    #[test]
    fn areas_round_trip_and_refuse_anything_but_a_short_code() {
        let mut h = header(3);
        h.flags = vec!["absence".into()];
        h.areas = vec!["district".into()];
        let rows: Vec<Row> = (1..=3u8)
            .map(|t| {
                let mut r = record(t);
                r.flags = vec![Some(t == 1)];
                r.areas = vec![(t != 2).then(|| format!("LS{t}"))];
                r
            })
            .collect();
        let bytes = write(&h, &rows);
        let text = String::from_utf8(bytes.clone()).expect("utf8");
        assert!(
            text.contains(r#""flag:absence","area:district","field:surname""#),
            "{text}"
        );
        assert!(text.contains(",1,LS1,"), "{text}");
        assert_eq!(read_all(&bytes).expect("read"), rows);
        assert_eq!(Reader::new(bytes.as_slice()).expect("header").header(), &h);
        for bad in ["LS1 2AB", "LS1-2", "ABCDEFGHIJ", "Zoë"] {
            let e =
                read_all(text.replacen(",LS1,", &format!(",{bad},"), 1).as_bytes()).expect_err(bad);
            assert!(e.to_string().contains("area:district"), "{e}");
        }
        let e = Reader::new(
            text.replacen(
                r#""flag:absence","area:district""#,
                r#""area:district","flag:absence""#,
                1,
            )
            .as_bytes(),
        )
        .expect_err("an area before a flag");
        assert!(e.to_string().contains("areas come after the flags"), "{e}");
    }

    /// Household tokens and flags make a version 2 file; without them a file stays version 1.
    #[test]
    fn household_tokens_and_flags_round_trip_as_version_2() {
        let v1 = String::from_utf8(write(&header(0), &[])).expect("utf8");
        assert!(v1.contains(r#""version":1"#), "{v1}");
        let mut h = header(3);
        h.house = vec!["dwelling".into(), "register".into()];
        h.flags = vec!["absence".into(), "offending".into()];
        let rows: Vec<Row> = (1..=3u8)
            .map(|t| {
                let mut r = record(t);
                r.house = vec![(t != 2).then_some([t; 16]), (t == 3).then_some([7; 16])];
                r.flags = vec![Some(t == 1), (t != 3).then_some(false)];
                r
            })
            .collect();
        let bytes = write(&h, &rows);
        let text = String::from_utf8(bytes.clone()).expect("utf8");
        assert!(text.contains(r#""version":2"#), "{text}");
        assert!(text.contains(r#""house:dwelling","house:register","flag:absence","flag:offending","field:surname""#), "{text}");
        assert_eq!(read_all(&bytes).expect("read"), rows);
        assert_eq!(Reader::new(bytes.as_slice()).expect("header").header(), &h);
        // A flag other than 1, 0 or nothing, a house column in a version 1 file, and a flag
        // before a household token are refused.
        let bad_flag = text.replacen(",1,0,", ",yes,0,", 1);
        assert_ne!(bad_flag, text);
        let e = read_all(bad_flag.as_bytes()).expect_err("flag");
        assert!(e.to_string().contains("flag:absence"), "{e}");
        let e = read_all(
            text.replacen(r#""version":2"#, r#""version":1"#, 1)
                .as_bytes(),
        )
        .expect_err("v1");
        assert!(e.to_string().contains("version 2"), "{e}");
        let swapped = text.replacen(
            r#""house:register","flag:absence""#,
            r#""flag:absence","house:register""#,
            1,
        );
        let e = read_all(swapped.as_bytes()).expect_err("order");
        assert!(e.to_string().contains("household tokens come first"), "{e}");
    }

    /// A street token makes a version 3 file, and is refused in an older one.
    #[test]
    fn a_street_token_round_trips_as_version_3() {
        let mut h = header(1);
        h.house = vec!["dwelling".into(), "street".into(), "register".into()];
        let mut r = record(1);
        r.house = vec![Some([1; 16]), Some([2; 16]), None];
        let bytes = write(&h, std::slice::from_ref(&r));
        let text = String::from_utf8(bytes.clone()).expect("utf8");
        assert!(text.contains(r#""version":3"#), "{text}");
        assert_eq!(read_all(&bytes).expect("read"), [r]);
        let e = read_all(
            text.replacen(r#""version":3"#, r#""version":2"#, 1)
                .as_bytes(),
        )
        .expect_err("v2");
        assert!(
            e.to_string().contains("house:street") && e.to_string().contains("version 3"),
            "{e}"
        );
    }

    /// A second pass by token gives the tokens in order and still catches a truncated file.
    #[test]
    fn tokens_alone_are_read_in_order_and_truncation_is_caught() {
        let rows = [record(1), record(2), record(3)];
        let bytes = write(&header(3), &rows);
        let mut r = Reader::new(bytes.as_slice()).expect("header");
        let mut got = Vec::new();
        while let Some(t) = r.next_token().expect("token") {
            got.push(t);
        }
        assert_eq!(got, rows.iter().map(|r| r.token).collect::<Vec<_>>());
        let cut = write(&header(4), &rows);
        let mut r = Reader::new(cut.as_slice()).expect("header");
        let e = std::iter::from_fn(|| r.next_token().transpose())
            .find_map(Result::err)
            .expect("truncated");
        assert!(e.to_string().contains("truncated"), "{e}");
    }

    #[test]
    fn round_trips() {
        let rows = [record(1), record(2)];
        let bytes = write(&header(2), &rows);
        assert_eq!(read_all(&bytes).expect("read"), rows);
        let r = Reader::new(bytes.as_slice()).expect("header");
        assert_eq!(r.header(), &header(2));
    }

    /// Field filter columns need a `fields` entry of a valid length; the twin rule must name
    /// filters the file has. Each mistake is an error on line 1 that says what is wrong.
    #[test]
    fn field_filter_headers_are_checked() {
        let good = String::from_utf8(write(&header(0), &[])).expect("utf8");
        assert!(read_all(good.as_bytes()).is_ok());
        for (from, to, says) in [
            (r#""bits":64"#, r#""bits":100"#, "multiple of 64"),
            (
                r#""name":"surname""#,
                r#""name":"forename""#,
                "has no entry",
            ),
            (r#""group":"name""#, r#""group":7"#, r#"no string "group""#),
            (
                r#""format":"#,
                r#""twins":{"differ":"nope","agree":["surname"]},"format":"#,
                "twins",
            ),
            (
                r#""format":"#,
                r#""twins":{"differ":"surname","agree":[],"personal":["nope"]},"format":"#,
                "personal",
            ),
        ] {
            assert!(good.contains(from), "{good}");
            let bad = good.replacen(from, to, 1);
            let e = read_all(bad.as_bytes()).expect_err(says);
            let m = e.to_string();
            assert!(m.starts_with("line 1") && m.contains(says), "{m}");
        }
        let mut with_twins = header(0);
        with_twins.fields.push(FieldSpec {
            name: "forename".into(),
            bits: 64,
            group: "name".into(),
            parts: Vec::new(),
        });
        for (differ, personal) in [
            (vec!["surname".to_owned()], vec![]),
            (vec!["surname".into(), "forename".into()], vec![]),
            (vec!["surname".into()], vec!["forename".to_owned()]),
        ] {
            let plain = personal.is_empty();
            with_twins.twins = Some(TwinNames {
                differ,
                agree: vec![],
                personal,
            });
            let bytes = write(&with_twins, &[]);
            // A rule without personal fields is written as before they were known.
            assert_eq!(String::from_utf8_lossy(&bytes).contains("personal"), !plain);
            let r = Reader::new(bytes.as_slice()).expect("header");
            assert_eq!(r.header().twins, with_twins.twins);
        }
    }

    /// A filter cut into parts keeps its part names through a file, and is compared as one
    /// filter per part in a key group of its own; parts that do not cut it into whole words are
    /// refused.
    #[test]
    fn field_filter_parts_round_trip_and_are_compared_apart() {
        let mut h = header(0);
        h.fields[0] = FieldSpec {
            name: "dob".into(),
            bits: 256,
            group: "dob".into(),
            parts: vec!["year".into(), "day_month".into()],
        };
        let bytes = write(&h, &[]);
        let r = Reader::new(bytes.as_slice()).expect("header");
        assert_eq!(r.header().fields, h.fields);
        let compared = h.fields[0].compared();
        assert_eq!(
            compared
                .iter()
                .map(|f| (f.name.as_str(), f.bits, f.group.as_str()))
                .collect::<Vec<_>>(),
            [
                ("dob.year", 128, "dob.year"),
                ("dob.day_month", 128, "dob.day_month")
            ]
        );
        let text = String::from_utf8(bytes).expect("utf8");
        for bad in [r#""parts":["year"]"#, r#""parts":["a","b","c"]"#] {
            let e = read_all(
                text.replacen(r#""parts":["year","day_month"]"#, bad, 1)
                    .as_bytes(),
            )
            .expect_err(bad);
            assert!(e.to_string().contains("\"parts\""), "{e}");
        }
    }

    #[test]
    fn truncation_and_bad_rows_are_caught_with_line_numbers() {
        let bytes = write(&header(3), &[record(1), record(2)]);
        let e = read_all(&bytes).expect_err("truncated");
        assert!(e.to_string().contains("truncated"), "{e}");
        let full = write(&header(2), &[record(1), record(2)]);
        let cut = &full[..full.len() - 5];
        assert!(read_all(cut).is_err());
        let text = String::from_utf8(full)
            .expect("utf8")
            .replace("q8A=", "q8D=");
        let e = read_all(text.as_bytes()).expect_err("padding bits");
        assert!(e.to_string().starts_with("line 2"), "{e}");
        let good = String::from_utf8(write(&header(1), &[record(1)])).expect("utf8");
        assert!(good.contains(",0123456789abcdee,"), "{good}");
        let cut_block = good.replace(",0123456789abcdee,", ",0123456789abcd,");
        let e = read_all(cut_block.as_bytes()).expect_err("short block token");
        assert!(
            e.to_string()
                .contains("field 4 (block:sx_year): expected 16 hexadecimal digits"),
            "{e}"
        );
        let cut_field = good.replace(&B64.encode([1u8; 8]), &B64.encode([1u8; 7]));
        let e = read_all(cut_field.as_bytes()).expect_err("short field filter");
        assert!(
            e.to_string()
                .contains("field 5 (field:surname): expected 8 bytes for 64 bits"),
            "{e}"
        );
        let e = read_all(b"not json\n").expect_err("header");
        assert!(e.to_string().starts_with("line 1"), "{e}");
    }
}
