//! Reading what holders send: kith encodings files, and clkhash-json files from anonlink tools.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use crate::{Dataset, LinkError};

/// Read one encodings file: a kith encodings file (whose first line, its header, names the format)
/// or clkhash-json (`{"clks": [base64, ...]}`, whose records are named by row number and whose
/// party is the file's stem).
pub fn read_dataset(path: &Path) -> Result<Dataset, LinkError> {
    let file = File::open(path)
        .map_err(|e| LinkError::io(format!("cannot open {}", path.display()), e))?;
    let mut input = BufReader::with_capacity(1 << 20, file);
    let start = input
        .fill_buf()
        .map_err(|e| LinkError::io(format!("cannot read {}", path.display()), e))?;
    let first_line = start.split(|&b| b == b'\n').next().unwrap_or(&[]);
    let is_kith = first_line
        .windows(b"\"kith-encodings\"".len())
        .any(|w| w == b"\"kith-encodings\"");
    if is_kith {
        return Dataset::from_encodings(input).map_err(|e| e.in_file(path));
    }
    let text_start = String::from_utf8_lossy(&start[..start.len().min(200)]).into_owned();
    if !text_start.trim_start().starts_with('{') {
        return Err(LinkError::Input(format!(
            "{}: not an encodings file (expected a kith encodings header or clkhash-json {{\"clks\": [...]}})",
            path.display()
        )));
    }
    let mut text = String::new();
    input.read_to_string(&mut text).map_err(|e| {
        LinkError::io(
            format!("cannot read {} (it must be UTF-8 JSON)", path.display()),
            e,
        )
    })?;
    let source = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "input".to_owned());
    from_clkhash_json(&text, &source)
        .map_err(|m| LinkError::Input(format!("{}: {m}", path.display())))
}

/// A dataset from the text of a clkhash-json file; errors name the entry (`clks[3]`).
pub fn from_clkhash_json(text: &str, source: &str) -> Result<Dataset, String> {
    #[derive(serde::Deserialize)]
    struct ClkFile {
        clks: Vec<String>,
    }
    let parsed: ClkFile = serde_json::from_str(text).map_err(|e| {
        format!(
            "line {} column {}: not clkhash-json ({{\"clks\": [base64, ...]}}): {e}",
            e.line(),
            e.column()
        )
    })?;
    let mut d: Option<Dataset> = None;
    for (i, c) in parsed.clks.iter().enumerate() {
        let bytes = B64
            .decode(c)
            .map_err(|e| format!("clks[{i}] is not valid base64: {e}"))?;
        if bytes.is_empty() {
            return Err(format!("clks[{i}] is empty"));
        }
        let ds = d.get_or_insert_with(|| {
            Dataset::new(
                source,
                (bytes.len() * 8) as u32,
                false,
                Vec::new(),
                Vec::new(),
            )
        });
        if ds.push(None, &bytes, &[], &[]).is_err() {
            return Err(format!(
                "clks[{i}] has {} bytes but clks[0] has {}",
                bytes.len(),
                ds.bits() / 8
            ));
        }
    }
    d.ok_or_else(|| "the file holds no CLKs".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clkhash_json_records_are_named_by_row_and_errors_name_the_entry() {
        let d = from_clkhash_json(r#"{"clks": ["AAE=", "//8="]}"#, "anon").expect("reads");
        assert_eq!((d.len(), d.bits(), d.source.as_str()), (2, 16, "anon"));
        assert_eq!(d.id(1), "1");
        let bad = |t: &str| from_clkhash_json(t, "x").expect_err("refused");
        assert!(bad(r#"{"clks": ["AAE=", "!!"]}"#).starts_with("clks[1] is not valid base64"));
        assert_eq!(
            bad(r#"{"clks": ["AAE=", "AAEC"]}"#),
            "clks[1] has 3 bytes but clks[0] has 2"
        );
        assert_eq!(bad(r#"{"clks": []}"#), "the file holds no CLKs");
        assert_eq!(bad(r#"{"clks": [""]}"#), "clks[0] is empty");
        assert!(bad("[1]").contains("not clkhash-json"));
    }
}
