//! `kith report`: one self-contained HTML file that loads in a real browser (headless Chromium)
//! with no script error and every chart drawn, holds no raw value and no record token, and is the
//! same bytes for the same run folders, apart from the times the runs recorded.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::families::rows;
use crate::pipeline::{Haystack, pipeline};
use crate::util::{Dir, kith, ok};

const AGENCIES: [&str; 4] = ["council", "health", "police", "school"];

/// The charts every full report draws (the `id`s of its `svg.chart` elements).
const CHARTS: [&str; 14] = [
    "scores",
    "calibration",
    "model",
    "records",
    "pairs",
    "overlap",
    "entities",
    "family-sizes",
    "criteria-met",
    "criteria-combinations",
    "missing",
    "data-quality",
    "patterns-agencies",
    "patterns-criteria",
];

/// The synthetic truth in record tokens (source, token, entity) for the run at `t` threads.
fn truth(dir: &Dir, t: &str) -> PathBuf {
    let mut token_of = std::collections::BTreeMap::new();
    for a in AGENCIES {
        for r in rows(&dir.read(&format!("t{t}/{a}-map.csv"))) {
            token_of.insert((a.to_owned(), r["local_id"].clone()), r["token"].clone());
        }
    }
    let mut truth = String::from("source,token,entity\n");
    for r in rows(&dir.read("src/truth-local.csv")) {
        let token = &token_of[&(r["source"].clone(), r["local_id"].clone())];
        truth.push_str(&format!("{},{token},{}\n", r["source"], r["person"]));
    }
    let path = dir.path(&format!("t{t}/truth.csv"));
    std::fs::write(&path, truth).expect("write");
    path
}

/// Each holder's `kith profile --json` of its extract, as it would send it.
fn profile(dir: &Dir, agency: &str) -> PathBuf {
    let src = dir.path("src");
    let out = dir.path(&format!("{agency}.profile.json"));
    let mut c = kith();
    c.arg("profile")
        .arg("--schema")
        .arg(crate::util::demo("schema.json"))
        .arg("--mapping")
        .arg(src.join(format!("{agency}-mapping.json")))
        .arg("--input")
        .arg(src.join(format!("{agency}.csv")))
        .args(["--as-of", "2026-12-05"])
        .arg("--json")
        .arg(&out);
    if agency == "police" {
        c.args(["--encoding", "windows-1252"]);
    }
    ok(&mut c);
    out
}

/// `kith report` of the pipeline run at `t` threads, with every holder's encode manifest and
/// profile, and the truth.
fn report(dir: &Dir, t: &str, out: &str) -> PathBuf {
    let base = dir.path(&format!("t{t}"));
    let mut c = kith();
    c.arg("report")
        .arg("--truth")
        .arg(truth(dir, t))
        .arg(base.join("links"))
        .arg("--families")
        .arg(base.join("run"));
    for a in AGENCIES {
        c.arg("--encode-manifest")
            .arg(base.join(format!("{a}.kith.manifest.json")))
            .arg("--profile")
            .arg(profile(dir, a));
    }
    c.arg("--patterns").arg(base.join("patterns"));
    let path = dir.path(out);
    ok(c.arg("--output").arg(&path));
    path
}

/// The Chromium to test with: `KITH_CHROMIUM`, or `chromium` (Debian's package, which `.ci/run`
/// installs when missing) or `chromium-browser` or `google-chrome` on the PATH.
fn chromium() -> PathBuf {
    if let Some(p) = std::env::var_os("KITH_CHROMIUM") {
        return PathBuf::from(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        for dir in std::env::split_paths(&path) {
            let p = dir.join(name);
            if p.is_file() {
                return p;
            }
        }
    }
    panic!(
        "no Chromium found: install Debian's chromium package (.ci/run does) or set KITH_CHROMIUM"
    );
}

/// Chromium, headless, on `page`, with a profile of its own in `profile`, and `args`.
fn headless(page: &Path, profile: &Path, args: &[&str]) -> std::process::Output {
    Command::new(chromium())
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs")
}

#[test]
fn the_report_loads_in_chromium_with_every_chart_drawn_and_nothing_raw_in_it() {
    let dir = Dir::new();
    pipeline(&dir, "2");
    let page = report(&dir, "2", "report.html");
    let html = std::fs::read_to_string(&page).expect("report");

    // Self-contained: nothing is fetched.
    for external in ["http://", "https://", " src=", "@import", "url("] {
        assert!(
            !html.contains(external),
            "the report refers out: {external}"
        );
    }
    for id in CHARTS {
        assert!(html.contains(&format!("id=\"{id}\"")), "no {id} chart");
    }
    assert!(
        html.contains("Holders&#39; data quality") || html.contains("Holders' data quality"),
        "no data-quality section"
    );
    for a in AGENCIES {
        assert!(html.contains(&format!("<td>{a}</td>")), "{a} has no row");
    }
    let charts = html.matches("<svg class=\"chart\"").count();
    assert_eq!(charts, CHARTS.len());

    // No record token and no raw value of any extract.
    let report = Haystack::new(html.clone());
    // The review band's evidence is there, each pair named by its line in review.csv.
    assert!(html.contains("Pairs for review, pair by pair"));
    let review = dir.read("t2/links/review.csv");
    let shown = review.lines().count().saturating_sub(1).min(200);
    assert!(shown > 0, "the pipeline has a review band");
    let evidence = html
        .split("<table class=\"evidence\">")
        .nth(1)
        .and_then(|t| t.split("</table>").next())
        .expect("the evidence table");
    assert_eq!(
        evidence.matches("<tr><td>").count(),
        shown,
        "a row per review pair"
    );
    let links = dir.read("t2/links/links.csv") + &review;
    for line in links
        .lines()
        .filter(|l| !l.starts_with("source_a"))
        .take(400)
    {
        let fields: Vec<&str> = line.split(',').collect();
        assert!(
            !report.holds(fields[1]) && !report.holds(fields[3]),
            "a token in the report"
        );
    }
    let mut checked = 0;
    for a in AGENCIES {
        let bytes = std::fs::read(dir.path(&format!("src/{a}.csv"))).expect("extract");
        let text: String = bytes.iter().map(|&b| char::from(b)).collect();
        let mut rows = csv::Reader::from_reader(text.as_bytes());
        for row in rows.records() {
            for field in row.expect("row").iter().filter(|f| f.len() >= 8) {
                checked += 1;
                assert!(!report.holds(field), "{a}: {field:?} is in the report");
            }
        }
    }
    assert!(checked > 1000, "only {checked} values checked");

    // In a real browser: no script error, every chart drawn with content.
    let profile = dir.path("chromium-profile");
    let o = headless(&page, &profile, &["--dump-dom"]);
    assert!(
        o.status.success(),
        "chromium: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let dom = String::from_utf8_lossy(&o.stdout);
    assert!(
        dom.contains(&format!("data-charts=\"{}\"", CHARTS.len())),
        "not every chart drawn: {}",
        &dom[..dom.len().min(300)]
    );
    assert!(!dom.contains("data-error"), "a script error: {dom}");
    let log = String::from_utf8_lossy(&o.stderr);
    let console: Vec<&str> = log.lines().filter(|l| l.contains("CONSOLE")).collect();
    assert!(console.is_empty(), "the console said: {console:?}");

    // A screenshot, kept for a look (docs/report.png is one of these).
    let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("report.png");
    let _ = std::fs::remove_file(&shot);
    let o = headless(
        &page,
        &profile,
        &[
            "--window-size=1000,3200",
            &format!("--screenshot={}", shot.display()),
        ],
    );
    assert!(
        o.status.success(),
        "chromium: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 20_000,
        "an empty screenshot"
    );
}

#[test]
fn the_same_run_folders_give_the_same_report_apart_from_recorded_times() {
    let dir = Dir::new();
    pipeline(&dir, "1");
    pipeline(&dir, "2");
    let a = std::fs::read_to_string(report(&dir, "1", "a.html")).expect("report");
    let again = std::fs::read_to_string(report(&dir, "1", "again.html")).expect("report");
    assert!(a == again, "the same folders, another report");
    // A families folder stands for its link: the same report as the link with --families.
    let (by_families, by_link) = (dir.path("f.html"), dir.path("l.html"));
    ok(kith()
        .arg("report")
        .arg(dir.path("t1/run"))
        .arg("--output")
        .arg(&by_families));
    ok(kith()
        .arg("report")
        .arg(dir.path("t1/links"))
        .arg("--families")
        .arg(dir.path("t1/run"))
        .arg("--output")
        .arg(&by_link));
    assert!(
        std::fs::read(&by_families).expect("report") == std::fs::read(&by_link).expect("report")
    );
    // Another run of the same pipeline at another thread count: only its times differ.
    let b = std::fs::read_to_string(report(&dir, "2", "b.html")).expect("report");
    assert_ne!(a, b, "the runs' times differ");
    let (a, b) = (strip_times(&a), strip_times(&b));
    let at = a.bytes().zip(b.bytes()).position(|(x, y)| x != y);
    assert!(
        a == b,
        "the reports differ at byte {at:?}: {:?}",
        at.and_then(|i| a.get(i.saturating_sub(80)..(i + 80).min(a.len())))
    );
}

/// `s` with every RFC 3339 timestamp (`YYYY-MM-DDTHH:MM:SS.fffZ`) replaced by `TIME`.
fn strip_times(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        let is_time = b.len() - i >= 20
            && b[i..i + 4].iter().all(u8::is_ascii_digit)
            && b[i + 4] == b'-'
            && b[i + 10] == b'T'
            && b[i + 13] == b':';
        if is_time {
            let end = b[i..]
                .iter()
                .position(|&c| c == b'Z')
                .map_or(b.len(), |p| i + p + 1);
            out.push_str("TIME");
            i = end;
        } else {
            let c = s[i..].chars().next().expect("a character");
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}
