//! Bad input: a clear error naming file, line and field, exit code 1, and no output left behind.

use crate::util::{Dir, SECRET, demo, encode_cmd, encode_with_schema, fails, first_clk, kith, ok};

const HEADER: &str = "given_name,surname,dob,sex,postcode,nhs_number";

fn plain_schema(dir: &Dir) -> std::path::PathBuf {
    dir.write(
        "plain.json",
        r#"{"version": 3, "clkConfig": {"l": 256, "kdf": {"type": "HKDF"}},
            "features": [
              {"identifier": "name", "format": {"type": "string", "maxLength": 10}, "hashing": {"comparison": {"type": "ngram", "n": 2}, "strategy": {"bitsPerToken": 10}}},
              {"identifier": "dob", "format": {"type": "date", "format": "%Y-%m-%d"}, "hashing": {"comparison": {"type": "ngram", "n": 1}, "strategy": {"bitsPerToken": 5}}}]}"#,
    )
}

fn plain_cmd(dir: &Dir, input: &std::path::Path) -> std::process::Command {
    encode_with_schema(dir, &plain_schema(dir), input, "out.kith")
}

fn assert_no_output(dir: &Dir) {
    for f in dir.files() {
        assert!(
            !f.starts_with("out") && !f.starts_with(".kith") && !f.ends_with(".map"),
            "left behind: {f}"
        );
    }
}

/// Excel and Windows tools write `\r\n` line endings, and extracts have blank lines: the line an
/// error names is still the line the row is on.
#[test]
fn errors_name_the_row_s_own_line_in_crlf_files_and_after_blank_lines() {
    let dir = Dir::new();
    let input = dir.write(
        "crlf.csv",
        "name,dob\r\nann,2001-01-01\r\n\r\nbob,2001-02-30\r\n",
    );
    let err = fails(&mut plain_cmd(&dir, &input));
    assert!(err.contains("crlf.csv: line 4: field `dob`"), "{err}");
    let input = dir.write(
        "blank.csv",
        "name,dob\nann,2001-01-01\n\n\n\"bo\nb\",2001-02-30\n",
    );
    let err = fails(&mut plain_cmd(&dir, &input));
    assert!(err.contains("blank.csv: line 5: field `dob`"), "{err}");
    assert_no_output(&dir);
}

#[test]
fn an_invalid_value_names_file_line_and_field_and_writes_nothing() {
    let dir = Dir::new();
    let input = dir.write("x.csv", "name,dob\nann,2001-01-01\nbob,2001-02-30\n");
    let err = fails(&mut plain_cmd(&dir, &input));
    assert!(err.contains("x.csv: line 3: field `dob`"), "{err}");
    assert!(err.contains("%Y-%m-%d"), "{err}");
    assert!(
        !err.contains("2001-02-30"),
        "values are not repeated in errors: {err}"
    );
    assert_no_output(&dir);
}

#[test]
fn skip_mode_counts_rows_and_lists_them_in_the_rejects_file() {
    let dir = Dir::new();
    let input = dir.write(
        "x.csv",
        "name,dob\nann,2001-01-01\nbob,2001-02-30\nan extremely long name,2001-01-01\ncy\n",
    );
    let o = ok(plain_cmd(&dir, &input)
        .args(["--on-error", "skip", "--rejects"])
        .arg(dir.path("rejects.csv")));
    let err = crate::util::stderr(&o);
    assert!(
        err.contains("1 records") && err.contains("rows skipped: 3"),
        "{err}"
    );
    let rejects = dir.read("rejects.csv");
    let lines: Vec<&str> = rejects.lines().collect();
    assert_eq!(lines[0], "line,field,reason");
    assert!(lines[1].starts_with("3,field `dob`,"), "{rejects}");
    assert!(
        lines[2].starts_with("4,field `name`,") && lines[2].contains("at most 10"),
        "{rejects}"
    );
    assert!(
        lines[3].starts_with("5,,the row has 1 fields but the header has 2"),
        "{rejects}"
    );
    let enc = crate::util::read_encodings(&dir.read("out.kith"));
    assert_eq!(enc.header["records"], 1);
}

#[test]
fn header_problems_name_the_column() {
    let dir = Dir::new();
    let input = dir.write("x.csv", "name,birth\nann,2001-01-01\n");
    let err = fails(&mut plain_cmd(&dir, &input));
    assert!(
        err.contains("x.csv: line 1 (header)") && err.contains("\"dob\""),
        "{err}"
    );
    let input = dir.write(
        "y.csv",
        "given_name,surname,dob,sex,postcode\nA,B,2001-01-01,m,LS1 1AA\n",
    );
    let err = fails(&mut encode_cmd(&dir, &input, "out.kith"));
    assert!(
        err.contains("y.csv: line 1 (header): the header has no column \"nhs_number\""),
        "{err}"
    );
    let input = dir.write(
        "z.csv",
        format!("{HEADER},id\nA,B,2001-01-01,m,LS1 1AA,,1\n"),
    );
    let err = fails(encode_cmd(&dir, &input, "out.kith").args(["--id-column", "ID"]));
    assert!(err.contains("did you mean \"id\""), "{err}");
    let empty = dir.write("empty.csv", "");
    let err = fails(&mut encode_cmd(&dir, &empty, "out.kith"));
    assert!(err.contains("empty.csv: the file is empty"), "{err}");
    assert_no_output(&dir);
}

#[test]
fn non_utf8_input_gets_a_hint_and_windows_1252_works() {
    let dir = Dir::new();
    let mut bytes = format!("{HEADER}\n").into_bytes();
    bytes.extend_from_slice(b"Zo\xeb,Okafor,05/01/1990,F,M14 5RT,\n");
    let input = dir.write("cp1252.csv", &bytes);
    let err = fails(&mut encode_cmd(&dir, &input, "out.kith"));
    assert!(
        err.contains("cp1252.csv: line 2: column \"given_name\"")
            && err.contains("--encoding windows-1252"),
        "{err}"
    );
    assert_no_output(&dir);
    ok(encode_cmd(&dir, &input, "out.kith").args(["--encoding", "windows-1252"]));
    let utf8 = dir.write(
        "utf8.csv",
        format!("{HEADER}\nZoë,Okafor,05/01/1990,F,M14 5RT,\n"),
    );
    ok(&mut encode_cmd(&dir, &utf8, "utf8.kith"));
    assert_eq!(
        first_clk(&dir, "out.kith"),
        first_clk(&dir, "utf8.kith"),
        "the decoded record encodes like its UTF-8 twin"
    );
}

/// A character cut in two by a comma makes the row's bytes valid UTF-8 back to back, but neither
/// field is: the row is refused, naming the first column.
#[test]
fn a_character_split_across_two_fields_is_refused() {
    let dir = Dir::new();
    let mut bytes = format!("{HEADER}\nZoe,Okafor,05/01/1990,F,M14 5RT,\n").into_bytes();
    bytes.extend_from_slice(b"Zo\xc3,\xabkafor,05/01/1990,F,M14 5RT,\n");
    let input = dir.write("split.csv", &bytes);
    let err = fails(&mut encode_cmd(&dir, &input, "out.kith"));
    assert!(
        err.contains("split.csv: line 3: column \"given_name\": not valid UTF-8"),
        "{err}"
    );
    assert_no_output(&dir);
}

#[test]
fn bom_and_crlf_are_accepted() {
    let dir = Dir::new();
    let plain = dir.write(
        "plain.csv",
        format!("{HEADER}\nAnn,Lee,01/02/2000,F,LS1 1AA,\n"),
    );
    let bom = dir.write(
        "bom.csv",
        format!("\u{feff}{HEADER}\r\nAnn,Lee,01/02/2000,F,LS1 1AA,\r\n"),
    );
    ok(&mut encode_cmd(&dir, &plain, "a.kith"));
    ok(&mut encode_cmd(&dir, &bom, "b.kith"));
    assert_eq!(first_clk(&dir, "a.kith"), first_clk(&dir, "b.kith"));
}

#[test]
fn bad_schemas_name_the_json_path() {
    let dir = Dir::new();
    let schema = dir.write(
        "bad.json",
        r#"{"version": 3, "clkConfig": {"l": 1024, "kdf": {"type": "HKDF"}},
            "features": [{"identifier": "a", "format": {"type": "string"}, "hashing": {"comparison": {"type": "ngram", "n": 0}, "strategy": {"bitsPerToken": 5}}}]}"#,
    );
    let err = fails(&mut encode_with_schema(
        &dir,
        &schema,
        &demo("council.csv"),
        "out.kith",
    ));
    assert!(
        err.contains("bad.json: $.features[0].hashing.comparison.n: must be at least 1"),
        "{err}"
    );
    let broken = dir.write("broken.json", "{\"version\": 3,");
    let err = fails(&mut encode_with_schema(
        &dir,
        &broken,
        &demo("council.csv"),
        "out.kith",
    ));
    assert!(
        err.contains("broken.json: line 1 column") && err.contains("not valid JSON"),
        "{err}"
    );
    assert_no_output(&dir);
}

#[test]
fn secrets_come_only_from_a_file_or_the_environment() {
    let dir = Dir::new();
    let mut c = encode_cmd(&dir, &demo("council.csv"), "out.kith");
    c.env_remove("KITH_SECRET");
    let err = fails(&mut c);
    assert!(
        err.contains("no secret") && err.contains("KITH_SECRET"),
        "{err}"
    );
    let empty = dir.write("empty.key", "\n");
    let err = fails(
        encode_cmd(&dir, &demo("council.csv"), "out.kith")
            .arg("--secret-file")
            .arg(&empty),
    );
    assert!(err.contains("empty"), "{err}");
    // A short, world-readable secret works but draws warnings.
    let short = dir.write("short.key", "abc\n");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&short, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    }
    let mut c = encode_cmd(&dir, &demo("council.csv"), "out.kith");
    c.arg("--secret-file").arg(&short);
    let o = ok(&mut c);
    let err = crate::util::stderr(&o);
    assert!(err.contains("only 3 bytes"), "{err}");
    #[cfg(unix)]
    assert!(err.contains("chmod 600"), "{err}");
    assert!(!err.contains("abc\n") && !err.contains("\"abc\""), "{err}");
    // There is no flag that takes the secret itself.
    let o = crate::util::run(
        encode_cmd(&dir, &demo("council.csv"), "x.kith").args(["--secret", SECRET]),
    );
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn outputs_never_overwrite_inputs() {
    let dir = Dir::new();
    let input = dir.write(
        "in.csv",
        format!("{HEADER}\nAnn,Lee,01/02/2000,F,LS1 1AA,\n"),
    );
    let before = dir.read("in.csv");
    let mut c = kith();
    c.arg("encode")
        .arg("--schema")
        .arg(demo("schema.json"))
        .arg("--input")
        .arg(&input)
        .arg("--output")
        .arg(&input)
        .env("KITH_SECRET", SECRET);
    let err = fails(&mut c);
    assert!(err.contains("same file as --input"), "{err}");
    assert_eq!(dir.read("in.csv"), before);
    let err = fails(
        encode_cmd(&dir, &input, "o.kith")
            .arg("--keep-map")
            .arg(dir.path("o.kith")),
    );
    assert!(
        err.contains("--keep-map") && err.contains("same file as --output"),
        "{err}"
    );
}

#[test]
fn duplicate_local_ids_are_reported() {
    let dir = Dir::new();
    let input = dir.write(
        "dup.csv",
        format!("{HEADER},id\nAnn,Lee,01/02/2000,F,LS1 1AA,,7\nBo,Lee,01/02/2001,M,LS1 1AA,,8\nCy,Lee,01/02/2002,M,LS1 1AA,,7\n"),
    );
    let err = fails(encode_cmd(&dir, &input, "out.kith").args(["--id-column", "id"]));
    assert!(
        err.contains("dup.csv: line 4: duplicate local ID in column \"id\" (first at line 2)"),
        "{err}"
    );
    assert_no_output(&dir);
    ok(encode_cmd(&dir, &input, "out.kith").args(["--id-column", "id", "--on-error", "skip"]));
    let enc = crate::util::read_encodings(&dir.read("out.kith"));
    assert_eq!(enc.header["records"], 2);
    let empty_id = dir.write(
        "noid.csv",
        format!("{HEADER},id\nAnn,Lee,01/02/2000,F,LS1 1AA,, \n"),
    );
    let err = fails(encode_cmd(&dir, &empty_id, "out2.kith").args(["--id-column", "id"]));
    assert!(
        err.contains("line 2: column \"id\": the local ID is empty"),
        "{err}"
    );
}

#[test]
fn bad_mappings_name_the_file_and_json_path() {
    let dir = Dir::new();
    let mapping = dir.write(
        "map.json",
        r#"{"kith_mapping": 1, "columns": {"surname": {"column": "NAME", "split": ",", "part": -1}}}"#,
    );
    let err = fails(
        encode_cmd(&dir, &demo("police.csv"), "out.kith")
            .arg("--mapping")
            .arg(&mapping),
    );
    assert!(err.contains("map.json: $.columns.surname.part: "), "{err}");
    let unknown = dir.write(
        "unknown.json",
        r#"{"kith_mapping": 1, "columns": {"surnmae": "NAME"}}"#,
    );
    let err = fails(
        encode_cmd(&dir, &demo("police.csv"), "out.kith")
            .arg("--mapping")
            .arg(&unknown),
    );
    assert!(
        err.contains("police.csv: line 1 (header): the mapping names \"surnmae\""),
        "{err}"
    );
    assert_no_output(&dir);
}

#[test]
fn a_header_without_rows_gives_an_empty_but_valid_file() {
    let dir = Dir::new();
    let input = dir.write("empty.csv", format!("{HEADER}\n"));
    ok(&mut encode_cmd(&dir, &input, "out.kith"));
    let enc = crate::util::read_encodings(&dir.read("out.kith"));
    assert_eq!(enc.header["records"], 0);
    assert!(enc.rows.is_empty());
    ok(&mut crate::util::clkhash_cmd(&dir, &input, "out.json"));
    assert_eq!(dir.read("out.json"), "{\"clks\": []}");
}

#[test]
fn windows_1252_rows_around_bad_rows_keep_their_own_values() {
    // Good, ragged, bad-date and good rows in one batch: each good row must encode exactly as it
    // does alone, so no value may leak from one row into another.
    let dir = Dir::new();
    let mut bytes = format!("{HEADER},id\n").into_bytes();
    bytes.extend_from_slice(b"Zo\xeb,Okafor,05/01/1990,F,M14 5RT,,1\n");
    bytes.extend_from_slice(b"Ren\xe9e,Smith\n");
    bytes.extend_from_slice(b"Ana,Lee,31/02/1990,F,LS1 1AA,943 476 5919,3\n");
    bytes.extend_from_slice(b"Chlo\xe9,Brown,07/07/2007,F,LS6 2AB,,4\n");
    let input = dir.write("mixed.csv", &bytes);
    let o = ok(encode_cmd(&dir, &input, "out.kith")
        .args([
            "--encoding",
            "windows-1252",
            "--id-column",
            "id",
            "--party",
            "p",
            "--on-error",
            "skip",
            "--keep-map",
        ])
        .arg(dir.path("map.csv")));
    assert!(o.status.success());
    let all = crate::util::read_encodings(&dir.read("out.kith"));
    assert_eq!(
        all.header["records"], 3,
        "the ragged row is skipped; the invalid date is only missing"
    );
    for (line, id) in [(2usize, "1"), (4, "3"), (5, "4")] {
        let one = dir.write(
            &format!("one{id}.csv"),
            [
                format!("{HEADER},id\n").into_bytes(),
                bytes
                    .split(|&b| b == b'\n')
                    .nth(line - 1)
                    .expect("line")
                    .to_vec(),
                b"\n".to_vec(),
            ]
            .concat(),
        );
        ok(encode_cmd(&dir, &one, &format!("one{id}.kith")).args([
            "--encoding",
            "windows-1252",
            "--id-column",
            "id",
            "--party",
            "p",
        ]));
        let single = crate::util::read_encodings(&dir.read(&format!("one{id}.kith")));
        assert!(
            all.rows.contains(&single.rows[0]),
            "row with id {id} differs when encoded in a batch: {:?} not in {:?}",
            single.rows,
            all.rows
        );
    }
}

/// A field over 64 KiB (here 10 MB: a closing quote gone missing makes the rest of a file one
/// field) is an error on its row, with file, line and column, and nothing written; with
/// `--on-error skip` the row is skipped and counted. A quoted newline is part of its field, and
/// later rows keep their own line numbers.
#[test]
fn a_huge_field_is_refused_and_quoted_newlines_keep_line_numbers() {
    let dir = Dir::new();
    let huge = dir.write(
        "huge.csv",
        format!(
            "{HEADER}\nAnn,Smith,14/03/1984,F,LS6 2AB,\n{},Smith,14/03/1984,F,LS6 2AB,\n",
            "A".repeat(10 << 20)
        ),
    );
    let err = fails(&mut encode_cmd(&dir, &huge, "out.kith"));
    assert!(
        err.contains("huge.csv: line 3: column \"given_name\": the value is 10485760 bytes long"),
        "{err}"
    );
    assert_no_output(&dir);
    let o = ok(encode_cmd(&dir, &huge, "out.kith").args(["--on-error", "skip"]));
    assert!(crate::util::stderr(&o).is_empty(), "quiet");
    let enc = crate::util::read_encodings(&dir.read("out.kith"));
    assert_eq!(enc.rows.len(), 1, "the huge row skipped, the other kept");

    let quoted = dir.write(
        "quoted.csv",
        format!("{HEADER}\n\"Ann\nMarie\",Smith,14/03/1984,F,LS6 2AB,\nJo\u{0},Smith,14/03/1984,F,LS6 2AB,\n"),
    );
    let err = fails(&mut encode_cmd(&dir, &quoted, "q.kith"));
    assert!(
        err.contains("quoted.csv: line 4: column \"given_name\": contains a NUL byte"),
        "the second record starts on line 4: {err}"
    );
}

/// An encodings file cut short, mid-line or between lines, is refused by name.
#[test]
fn truncated_encodings_are_refused() {
    let dir = Dir::new();
    ok(encode_cmd(&dir, &demo("council.csv"), "council.kith").args(["--id-column", "person_id"]));
    ok(encode_cmd(&dir, &demo("health.csv"), "health.kith")
        .arg("--mapping")
        .arg(demo("health-mapping.json")));
    let whole = dir.read("council.kith");
    let lines: Vec<&str> = whole.lines().collect();
    let between = format!("{}\n{}\n", lines[0], lines[1]);
    let within = &whole[..whole.len() - 20];
    for (cut, says) in [
        (between.as_str(), "ends after 1 records but its header says"),
        (
            within,
            "the last line has no line end: the file is truncated",
        ),
    ] {
        let f = dir.write("cut.kith", cut);
        let err = fails(
            kith()
                .arg("link")
                .arg(dir.path("health.kith"))
                .arg(&f)
                .arg("--output")
                .arg(dir.path("links")),
        );
        assert!(
            err.contains("cut.kith: line") && err.contains(says),
            "{err}"
        );
        assert!(!dir.path("links/links.csv").exists());
    }
}

/// The secret appears in no summary, warning or error, from the file or the environment.
#[test]
fn summaries_warnings_and_errors_never_show_the_secret() {
    let dir = Dir::new();
    let secret = "distinctive-secret-value-7f3a9c";
    let file = dir.secret_file(secret);
    let bad = dir.write(
        "bad.csv",
        format!("{HEADER},person_id\nAnn,Smith,14/03/1984,F,LS6 2AB,,1\nJo\u{0},Smith,,F,,,2\n"),
    );
    let mut outputs = Vec::new();
    for from_file in [true, false] {
        for (input, good) in [(demo("council.csv"), true), (bad.clone(), false)] {
            let mut c = kith();
            c.args(["encode", "--schema"])
                .arg(demo("schema.json"))
                .arg("--input")
                .arg(&input)
                .arg("--output")
                .arg(dir.path("out.kith"))
                .args(["--id-column", "person_id"]);
            if from_file {
                c.arg("--secret-file").arg(&file);
            } else {
                c.env("KITH_SECRET", secret);
            }
            let o = crate::util::run(&mut c);
            assert_eq!(
                o.status.code(),
                Some(if good { 0 } else { 1 }),
                "{}",
                crate::util::stderr(&o)
            );
            outputs.push(crate::util::stderr(&o) + &String::from_utf8_lossy(&o.stdout));
        }
    }
    for out in outputs {
        assert!(!out.is_empty());
        for w in secret.as_bytes().windows(8) {
            let w = std::str::from_utf8(w).expect("ascii");
            assert!(!out.contains(w), "{w:?} of the secret in: {out}");
        }
    }
}

/// clkhash-json stays one valid JSON array when the first rows are skipped: it is exactly the file
/// the good rows alone give.
#[test]
fn clkhash_json_skipping_the_first_rows_is_the_good_rows_file() {
    let dir = Dir::new();
    let good = "ann,2001-01-01\nbob,2002-02-02\n";
    let with_bad = dir.write("bad.csv", format!("name,dob\nann,2001-02-30\ncid\n{good}"));
    let only_good = dir.write("good.csv", format!("name,dob\n{good}"));
    let schema = plain_schema(&dir);
    ok(
        encode_with_schema(&dir, &schema, &with_bad, "skipped.json").args([
            "--format",
            "clkhash-json",
            "--on-error",
            "skip",
        ]),
    );
    ok(encode_with_schema(&dir, &schema, &only_good, "good.json")
        .args(["--format", "clkhash-json"]));
    let skipped = dir.read("skipped.json");
    assert_eq!(skipped, dir.read("good.json"));
    assert!(skipped.starts_with("{\"clks\": [\""), "{skipped}");
}
