//! Stage one of argument handling: the raw flags exactly as clap parses them. `config.rs` turns
//! them into a checked configuration (files read, paths compared, secret loaded).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const ABOUT: &str = "Privacy-preserving record linkage: encode extracts locally, link encodings, return pseudonymous links.";

const LONG_ABOUT: &str = "\
kith lets data holders (councils, health services, police, schools) encode their own extracts
locally with a shared secret, so that a linkage party that never holds the secret can match the
encodings and return only pseudonymous links.

The secret is never given on the command line: it is read from --secret-file or from the
environment variable KITH_SECRET.";

const EXAMPLES: &str = "\
Examples:
  # Once, by one holder, shared with the other holders over a secure channel:
  kith keygen --out secret.key

  # Each holder encodes its own extract:
  kith encode --schema schema.json --secret-file secret.key \\
      --input council.csv --output council.kith --keep-map council-map.csv

  # A holder whose column names differ from the agreed features gives a mapping:
  kith encode --schema schema.json --mapping health-columns.json --secret-file secret.key \\
      --input health.csv --output health.kith --party health --id-column patient_id

  # Output for anonlink/clkhash tools:
  KITH_SECRET=... kith encode --schema schema.json --input people.csv \\
      --output clks.json --format clkhash-json";

/// Raw command-line flags.
#[derive(Debug, Parser)]
#[command(name = "kith", version, about = ABOUT, long_about = LONG_ABOUT, after_help = EXAMPLES)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,

    /// Print nothing but errors and warnings (no progress bar, no summary).
    #[arg(long, short, global = true)]
    pub(crate) quiet: bool,

    /// Worker threads (default: one per core). Output is identical for any number.
    #[arg(long, global = true, value_name = "N")]
    pub(crate) threads: Option<usize>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Make a new random 256-bit secret, written as 64 hex digits to a file only you can read.
    #[command(after_help = "Example:\n  kith keygen --out secret.key")]
    Keygen(KeygenArgs),
    /// Encode one holder's CSV extract into CLKs and keyed tokens.
    #[command(after_help = EXAMPLES)]
    Encode(Box<EncodeArgs>),
    /// Check a linkage schema and print its features and fingerprint (holders compare fingerprints
    /// to be sure they agreed the same schema).
    #[command(after_help = "Example:\n  kith schema schema.json")]
    Schema(SchemaArgs),
    /// Propose a column mapping for an extract from its header and a sample of its values, for
    /// the holder to check: what each agreed name reads from, on what evidence, and what is left
    /// out. Needs no secret.
    #[command(after_help = "Example:
  kith mapping --schema schema.json --input police.csv --encoding windows-1252 \\
      --output police-mapping.json")]
    Mapping(MappingArgs),
    /// A holder's look at its own extract before it encodes: per field the share present,
    /// missing, unreadable and suspicious (placeholder dates, test NHS numbers, ZZ99 and partial
    /// postcodes, stand-in names, names in the wrong column), duplicate IDs and likely duplicate
    /// people, what that does to linkage, and a verdict with what to fix first. Needs no secret;
    /// nothing leaves the machine.
    #[command(after_help = "Examples:
  kith profile --schema schema.json --mapping police-mapping.json --input police.csv
  kith profile --schema schema.json --input council.csv --json council.profile.json")]
    Profile(ProfileArgs),
    /// Link encodings from two or more holders: the linkage party's job. Needs no secret.
    #[command(after_help = LINK_EXAMPLES)]
    Link(Box<LinkArgs>),
    /// Group linked people into families by the household tokens holders encoded, and say which
    /// criteria each family meets and how many holders know it: the linkage party's job.
    #[command(after_help = FAMILIES_EXAMPLES)]
    Families(FamiliesArgs),
    /// Cut the linkage party's results into one file per holder, holding only that holder's
    /// record tokens.
    #[command(after_help = SPLIT_EXAMPLES)]
    Split(SplitArgs),
    /// A holder joins its results file back to its own local IDs through the map it kept when
    /// encoding, on its own machine.
    #[command(after_help = "Example:
  kith reveal --map council-map.csv --input results/council.csv --output council-families.csv")]
    Reveal(RevealArgs),
    /// Pairwise precision, recall and F1 of links or clusters against a labelled sample.
    #[command(after_help = EVALUATE_EXAMPLES)]
    Evaluate(EvaluateArgs),
    /// Write a synthetic population's extracts (council, health, police, school), their column
    /// mappings and the truth, to try kith where the answer is known.
    #[command(after_help = SYNTH_EXAMPLES)]
    Synth(SynthArgs),
    /// Attack encodings made with a schema, as a linkage party could, on synthetic data: the share
    /// of records each attack names, token group sizes, and a verdict against kith's targets.
    #[command(after_help = AUDIT_EXAMPLES)]
    Audit(AuditArgs),
    /// Run the whole protocol on a synthetic population in a temporary folder: four agencies
    /// encode with a fresh secret, the linkage party links, each holder maps back, and the links
    /// are scored against the truth; with an account of what each party sees.
    #[command(after_help = "Examples:\n  kith demo\n  kith demo --people 100000 --keep demo/")]
    Demo(DemoArgs),
    /// Re-check a finished run against its manifest: every output, and every input still where
    /// it was, must have the SHA-256 the run recorded. Exits non-zero if one differs.
    #[command(
        name = "verify-run",
        after_help = "Examples:\n  kith verify-run results/\n  kith verify-run council.kith.manifest.json"
    )]
    VerifyRun(VerifyRunArgs),
    /// Write an HTML report of a finished run from its output folders: the score histogram with
    /// the threshold and review band, the field model, links per pair of sources and their
    /// overlap, entity and family sizes, blocking, holders' counts, and what was run. One
    /// self-contained file with no record data; readable on screen and in print.
    #[command(after_help = "Examples:
  kith report links/ --output report.html
  kith report links/ --families families/ --encode-manifest council.kith.manifest.json \\
      --encode-manifest health.kith.manifest.json --output report.html")]
    Report(ReportArgs),
    /// Aggregate counts for commissioners from a families run (the linkage party): people and
    /// families known to each combination of agencies, families by the criteria they meet, and
    /// by area where the schema encodes one. Counts under the threshold are suppressed, and
    /// more cells with them so that no total gives one back; optionally rounded.
    #[command(after_help = "Examples:
  kith patterns families/ --output patterns/
  kith patterns families/ --output patterns/ --threshold 5 --round 5")]
    Patterns(PatternsArgs),
    /// Why two records scored as they did: each field's agreement level and weight, the
    /// term-frequency adjustment, the prior, exact identifiers, the twin rule and the match
    /// probability, from the run's own model and encodings (the linkage party). A holder first
    /// turns its local IDs into record tokens with --map.
    #[command(after_help = "Examples:
  kith explain --links links/ 1c452a845656a6d269d3563aafee03da 65964286b1a8267c224f9efc1d7fc1d7
  kith explain --links links/ --row \"council,1c45...,health,6596...,0.93\"
  kith explain --map council-map.csv C-000123        # a holder: the token of its record")]
    Explain(ExplainArgs),
}

const AUDIT_EXAMPLES: &str = "\
Examples:
  # How much would a linkage party learn from encodings made with this schema?
  kith audit --schema schema.json

  # A holder's own encodings, before they are sent:
  kith audit --schema schema.json --encodings council.kith

  # A larger extract, a JSON record of the findings, and exit 1 if the schema fails:
  kith audit --schema schema.json --people 100000 --json audit.json --strict";

#[derive(Debug, Args)]
pub(crate) struct AuditArgs {
    /// The linkage schema to audit.
    #[arg(long, value_name = "FILE")]
    pub(crate) schema: PathBuf,

    /// Column mapping from the synthetic agency's columns to the schema's features (default: the
    /// agency's own mapping, which fits schemas that use kith's demo feature names).
    #[arg(long, value_name = "FILE")]
    pub(crate) mapping: Option<PathBuf>,

    /// Also attack this encodings file (a holder's own before it is sent, or what a linkage party
    /// received): no truth, so the report counts what the attacks decode, and gives its group sizes.
    #[arg(long, value_name = "FILE")]
    pub(crate) encodings: Option<PathBuf>,

    /// The attacker's frequency table: CSV with the columns feature,value,count (raw values, as a
    /// holder's extract would hold them; features named as in the schema). Default: another
    /// synthetic population of the same size.
    #[arg(long, value_name = "FILE")]
    pub(crate) frequencies: Option<PathBuf>,

    /// Which synthetic agency's extract is encoded: council, health, police or school.
    #[arg(long, value_name = "NAME", default_value = "health")]
    pub(crate) agency: String,

    /// People in the victim's population (and in the attacker's, drawn apart).
    #[arg(long, value_name = "N", default_value_t = 60_000)]
    pub(crate) people: usize,

    /// Seed of the victim's population and of the throwaway secret it is encoded with: one seed
    /// gives one set of findings (how well the attacks do varies from key to key; try several).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub(crate) seed: u64,

    /// Also write the findings to this file as JSON.
    #[arg(long, value_name = "FILE")]
    pub(crate) json: Option<PathBuf>,

    /// Exit with status 1 when the schema fails the audit.
    #[arg(long)]
    pub(crate) strict: bool,
}

#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// People in the synthetic population.
    #[arg(long, value_name = "N", default_value_t = 20_000)]
    pub(crate) people: usize,

    /// Seed of the population.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub(crate) seed: u64,

    /// Keep every file in this folder instead of a temporary one removed at the end.
    #[arg(long, value_name = "DIR")]
    pub(crate) keep: Option<PathBuf>,
}

const SYNTH_EXAMPLES: &str = "\
Examples:
  # 20,000 people: council.csv, health.csv, police.csv (Windows-1252), school.csv, a column
  # mapping for each, truth-local.csv (source, local_id, person, household, criteria,
  # multiple_birth) and households.csv:
  kith synth --people 20000 --output synthetic/

  # Another population of the same size:
  kith synth --people 20000 --seed 2 --output other/";

#[derive(Debug, Args)]
pub(crate) struct SynthArgs {
    /// People in the population (the last household may add a few).
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub(crate) people: usize,

    /// Seed: the same seed and size give byte-identical files.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub(crate) seed: u64,

    /// Folder to write into (created if missing; files in it are replaced).
    #[arg(long, value_name = "DIR")]
    pub(crate) output: PathBuf,

    /// Name tables: england (England and Wales names by era, what kith is tuned on) or cities (a
    /// mixed city's names, with Kaur, Singh and Begum used beside family names).
    #[arg(long, value_name = "LIST", default_value = "england", value_parser = ["england", "cities"])]
    pub(crate) names: String,

    /// Multiply every per-row error rate (typing errors, nicknames, middle names, date slips,
    /// missing values, old postcodes, alternative surnames) by this.
    #[arg(long, value_name = "X", default_value_t = 1.0)]
    pub(crate) errors: f64,

    /// Which extracts carry an address line: agencies (the council, health and the police) or
    /// council (the council only; the others a postcode at most, as many real extracts).
    #[arg(long, value_name = "WHO", default_value = "agencies", value_parser = ["agencies", "council"])]
    pub(crate) addresses: String,
}

const LINK_EXAMPLES: &str = "\
Examples:
  # Link three holders' encodings; kith suggests the threshold from the scores:
  kith link council.kith health.kith police.kith --output links/

  # Encodings with field filters (kith.fields in the schema) are scored field by field and
  # thresholds are match probabilities: a stricter threshold, a clerical-review band, and
  # duplicates within each holder (possible twins go to review, never merged):
  kith link council.kith health.kith --output links/ --threshold 0.9 \\
      --review-threshold 0.1 --dedupe

  # anonlink/clkhash CLKs (CLK Dice scoring), every pair compared:
  kith link a.json b.json --output out/ --blocking none --threshold 0.9

Outputs: DIR/links.csv (source_a,token_a,source_b,token_b,score), DIR/clusters.csv
(source,token,entity_id) and, with --review-threshold, DIR/review.csv.";

const EVALUATE_EXAMPLES: &str = "\
Examples:
  kith evaluate --truth truth.csv --links out/links.csv
  kith evaluate --truth truth.csv --clusters out/clusters.csv

The truth is a CSV with the columns source, token and entity: records with the same entity are
the same person. Records it does not list are left out of the figures.";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ScoringArg {
    /// Field by field when every input carries the same field-level filters, else CLK Dice.
    Auto,
    /// CLK Dice only.
    Clk,
    /// Field by field (an error when the inputs carry no field-level filters).
    Fields,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum SolverArg {
    /// Groups join when at least half the pairs across them are candidates.
    Evidence,
    /// Groups join only when every pair across them is a candidate.
    Anonlink,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum BlockingArg {
    /// Every pair when there are at most 30 million (about a second); otherwise keyed blocking
    /// keys when the encodings carry them (plus LSH without field filters), else LSH, widened
    /// (more LSH, then every pair up to 300 million) while the estimated pairs completeness is
    /// under 0.995 and a wider step would find some of the pairs missed at a bounded cost.
    Auto,
    /// Compare every pair.
    None,
    /// Only the holders' keyed blocking keys.
    Keys,
    /// Only LSH on the CLKs.
    Lsh,
    /// Keyed blocking keys and LSH (a pair is compared when either matches).
    #[value(name = "keys+lsh")]
    KeysLsh,
}

#[derive(Debug, Args)]
pub(crate) struct LinkArgs {
    /// Encodings files: kith encodings, or clkhash-json (`{"clks": [...]}`).
    #[arg(value_name = "ENCODINGS", required = true)]
    pub(crate) inputs: Vec<PathBuf>,

    /// Folder for links.csv, clusters.csv and review.csv (created if missing).
    #[arg(long, value_name = "DIR")]
    pub(crate) output: PathBuf,

    /// Match threshold (default: the one kith suggests). With field scoring it is a match
    /// probability; with CLK scoring, a Dice coefficient.
    #[arg(long, value_name = "T")]
    pub(crate) threshold: Option<f64>,

    /// With --dedupe: the threshold for pairs within one source (never below the threshold used,
    /// given or suggested; the run says when it raises it). By default the threshold, or with CLK
    /// scoring the one kith suggests from each record's best score within its own source.
    #[arg(long, value_name = "T")]
    pub(crate) within_threshold: Option<f64>,

    /// Pairs scoring from R up to the threshold go to review.csv for clerical review, with the
    /// possible twins from R up and the pairs above the threshold that the solver did not link.
    #[arg(long, value_name = "R")]
    pub(crate) review_threshold: Option<f64>,

    /// Which pairs to compare.
    #[arg(long, value_enum, default_value_t = BlockingArg::Auto)]
    pub(crate) blocking: BlockingArg,

    /// How to score pairs: field by field when the encodings carry field-level filters (auto),
    /// or by CLK Dice only.
    #[arg(long, value_enum, default_value_t = ScoringArg::Auto)]
    pub(crate) scoring: ScoringArg,

    /// With field scoring: pairs whose CLK Dice is below this are not considered.
    #[arg(long, default_value_t = 0.3, value_name = "D")]
    pub(crate) candidate_floor: f64,

    /// With field scoring: score with this model (the model.json of an earlier run, or of the
    /// Spark job) instead of fitting one on these inputs. The same model on the same inputs gives
    /// the same links; a model fitted on a sample links a chunked or national run as one.
    #[arg(long, value_name = "FILE")]
    pub(crate) model: Option<PathBuf>,

    /// LSH tables.
    #[arg(long, default_value_t = 32, value_name = "N")]
    pub(crate) lsh_tables: u32,

    /// CLK bits sampled per LSH table (1 to 64).
    #[arg(long, default_value_t = 16, value_name = "N")]
    pub(crate) lsh_bits: u32,

    /// Blocking buckets larger than this are skipped (and counted in the summary).
    #[arg(long, default_value_t = 20_000, value_name = "N")]
    pub(crate) max_bucket: usize,

    /// Also find duplicates within each holder's records and let them share an entity.
    #[arg(long)]
    pub(crate) dedupe: bool,

    /// When two groups of records join: when most pairs across them are candidates (evidence),
    /// or only when every pair is, as anonlink's greedy solver asks (anonlink: its groups
    /// exactly). Pairs within one holder's records must be candidates either way.
    #[arg(long, value_enum, default_value_t = SolverArg::Evidence)]
    pub(crate) solver: SolverArg,

    /// Do not let two different exact tokens (e.g. NHS numbers) veto a CLK match.
    #[arg(long)]
    pub(crate) no_exact_veto: bool,

    /// Also compare this many sampled records with every record, and report the share of the
    /// pairs all-pairs scoring makes each other's best from the threshold up that blocking found
    /// (pairs completeness).
    #[arg(long, value_name = "N")]
    pub(crate) check_blocking: Option<usize>,

    /// Popcount kernel (default: the fastest this CPU has).
    #[arg(long, value_name = "NAME", value_parser = ["avx512", "avx2", "popcnt", "portable"])]
    pub(crate) kernel: Option<String>,

    /// Read the first encodings file N records at a time and link each chunk against the others
    /// (held in memory), so that memory does not grow with the first file: for an extract larger
    /// than memory. Needs --threshold with CLK scoring; not with --dedupe or --check-blocking.
    /// With CLK scoring the links are those of an ordinary run; with field scoring each chunk
    /// fits its own model unless --model gives one.
    #[arg(long, value_name = "N")]
    pub(crate) chunk: Option<usize>,

    /// Also write an HTML report of the run (scores, the field model, sources and their overlap,
    /// blocking, settings): one self-contained file, as `kith report` makes.
    #[arg(long, value_name = "FILE")]
    pub(crate) report: Option<PathBuf>,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("predicted").required(true).multiple(true).args(["links", "clusters", "families"])))]
pub(crate) struct EvaluateArgs {
    /// The labelled sample: CSV with columns source, token, entity.
    #[arg(long, value_name = "FILE")]
    pub(crate) truth: PathBuf,

    /// links.csv from `kith link`.
    #[arg(long, value_name = "FILE", conflicts_with = "clusters")]
    pub(crate) links: Option<PathBuf>,

    /// clusters.csv from `kith link`.
    #[arg(long, value_name = "FILE")]
    pub(crate) clusters: Option<PathBuf>,

    /// The output folder of `kith families` (run with no --min-criteria, so that it holds every
    /// family); the truth then needs the columns household and criteria (names joined by ';').
    #[arg(long, value_name = "DIR")]
    pub(crate) families: Option<PathBuf>,

    /// With --families: score the families meeting at least this many criteria.
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub(crate) min_criteria: usize,
}

const FAMILIES_EXAMPLES: &str = "\
Examples:
  # After `kith link council.kith health.kith police.kith school.kith --output links/`:
  kith families --links links/ council.kith health.kith police.kith school.kith --output families/

  # An identification run: only families meeting two or more criteria:
  kith families --links links/ *.kith --min-criteria 2 --output run/

  # Households of everyone, placing people without an address line by postcode and surname
  # whether or not they carry a criterion (more people in their family, more neighbours joined):
  kith families --links links/ *.kith --by-postcode everyone --output households/";

const SPLIT_EXAMPLES: &str = "\
Examples:
  # One results file per holder from a families run; the lead (the council) also learns which
  # criteria each family meets, the others only how many:
  kith split --families run/ --criteria-to council --output results/

  # From person-level links only:
  kith split --links links/ --output results/";

#[derive(Debug, Args)]
pub(crate) struct FamiliesArgs {
    /// The encodings files that were linked (every one of them).
    #[arg(value_name = "ENCODINGS", required = true)]
    pub(crate) inputs: Vec<PathBuf>,

    /// The output folder of `kith link` (its clusters.csv), or that clusters.csv itself.
    #[arg(long, value_name = "DIR")]
    pub(crate) links: PathBuf,

    /// Write only families meeting at least this many criteria (an identification run).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub(crate) min_criteria: usize,

    /// Group people even when no encodings file carries household tokens (each person is then a
    /// family of one, unless a holder's register groups them): a warning instead of an error.
    #[arg(long)]
    pub(crate) allow_no_households: bool,

    /// The field filter holding the postcode, which places people known only to holders without
    /// an address line (with the surname's).
    #[arg(long, value_name = "FIELD", default_value = "postcode")]
    pub(crate) area_field: String,

    /// The field filter holding the surname (see --area-field).
    #[arg(long, value_name = "FIELD", default_value = "surname")]
    pub(crate) surname_field: String,

    /// Place people by dwelling and register only, never by postcode and surname.
    #[arg(long, conflicts_with_all = ["area_chance", "by_postcode"])]
    pub(crate) dwellings_only: bool,

    /// The highest chance that another household of the postcode carries the shared surname at
    /// which a person is placed by postcode and surname (from 0 to 1). Lower keeps more
    /// neighbours apart and places fewer people (docs/design.md, Families).
    #[arg(long, value_name = "P", default_value_t = kith_link::families::AREA_CHANCE)]
    pub(crate) area_chance: f64,

    /// Whom the postcode and surname place: only people one of whose records carries a
    /// criterion (weak evidence joins people only where an identification hangs on it), or
    /// everyone without a dwelling (more people in their family, about 3 in 10,000 pairs of
    /// neighbours joined where only one holder has address lines; docs/design.md, Families).
    #[arg(long, value_enum, value_name = "WHO", default_value_t = ByPostcode::Flagged)]
    pub(crate) by_postcode: ByPostcode,

    /// Output folder: families.csv (one row per family) and members.csv (its record tokens per
    /// holder).
    #[arg(long, value_name = "DIR")]
    pub(crate) output: PathBuf,

    /// Also write an HTML report of the link and the families (as `kith report --families`).
    #[arg(long, value_name = "FILE")]
    pub(crate) report: Option<PathBuf>,
}

/// Whom `kith families --by-postcode` places.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ByPostcode {
    /// Everyone without a dwelling.
    Everyone,
    /// Only people one of whose records carries a criterion.
    Flagged,
}

#[derive(Debug, Args)]
pub(crate) struct SplitArgs {
    /// The output folder of `kith families`.
    #[arg(
        long,
        value_name = "DIR",
        conflicts_with = "links",
        required_unless_present = "links"
    )]
    pub(crate) families: Option<PathBuf>,

    /// The output folder of `kith link` (person-level results only).
    #[arg(long, value_name = "DIR")]
    pub(crate) links: Option<PathBuf>,

    /// A holder whose file also says which criteria its families meet (repeatable); the others
    /// learn only how many.
    #[arg(long, value_name = "PARTY", requires = "families")]
    pub(crate) criteria_to: Vec<String>,

    /// Output folder: one <party>.csv per holder.
    #[arg(long, value_name = "DIR")]
    pub(crate) output: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct ExplainArgs {
    /// The output folder of the `kith link` run (field scoring): its manifest names the
    /// encodings, which must be unchanged, and model.json holds the model.
    #[arg(long, value_name = "DIR", conflicts_with = "map")]
    pub(crate) links: Option<PathBuf>,

    /// A row of links.csv or review.csv (source_a,token_a,source_b,token_b,score).
    #[arg(long, value_name = "ROW", requires = "links")]
    pub(crate) row: Option<String>,

    /// A holder's map (token,local_id): print the record tokens of the local IDs given.
    #[arg(long, value_name = "FILE")]
    pub(crate) map: Option<PathBuf>,

    /// Two record tokens (with --links), or local IDs (with --map).
    #[arg(value_name = "TOKEN|LOCAL_ID")]
    pub(crate) ids: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct ReportArgs {
    /// The output folder of a `kith link` run (or of a `kith families` run, whose link is then
    /// the one it read).
    #[arg(value_name = "RUN_DIR")]
    pub(crate) links: PathBuf,

    /// The output folder of a `kith families` run on those links.
    #[arg(long, value_name = "DIR")]
    pub(crate) families: Option<PathBuf>,

    /// A holder's encode manifest (`FILE.manifest.json`), for its counts and missing values;
    /// once per holder that chose to send it.
    #[arg(long = "encode-manifest", value_name = "FILE")]
    pub(crate) encode_manifests: Vec<PathBuf>,

    /// A holder's profile of its extract (`kith profile --json`), for its data quality and
    /// verdict; once per holder that chose to send it.
    #[arg(long = "profile", value_name = "FILE")]
    pub(crate) profiles: Vec<PathBuf>,

    /// A `kith patterns` output folder: its tables as published, suppressed cells marked.
    #[arg(long, value_name = "DIR")]
    pub(crate) patterns: Option<PathBuf>,

    /// A labelled sample (CSV: source, token, entity), as `kith evaluate` reads: the report then
    /// shows how well the scores are calibrated against it.
    #[arg(long, value_name = "FILE")]
    pub(crate) truth: Option<PathBuf>,

    /// Where to write the report.
    #[arg(long, value_name = "FILE")]
    pub(crate) output: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct VerifyRunArgs {
    /// A run's output folder (holding manifest.json) or a manifest file
    /// (`FILE.manifest.json` beside an encodings file).
    #[arg(value_name = "DIR|MANIFEST")]
    pub(crate) path: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct RevealArgs {
    /// The map this holder kept when encoding (`kith encode --keep-map`): token,local_id.
    #[arg(long, value_name = "FILE")]
    pub(crate) map: PathBuf,

    /// This holder's results file from `kith split`.
    #[arg(long, value_name = "FILE")]
    pub(crate) input: PathBuf,

    /// Where to write the results with local IDs.
    #[arg(long, value_name = "FILE")]
    pub(crate) output: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct SchemaArgs {
    /// The schema file.
    #[arg(value_name = "FILE")]
    pub(crate) schema: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct MappingArgs {
    /// The agreed schema.
    #[arg(long, value_name = "FILE")]
    pub(crate) schema: PathBuf,

    /// The holder's CSV extract (its header and first rows are read).
    #[arg(long, value_name = "FILE")]
    pub(crate) input: PathBuf,

    /// Character encoding of the input.
    #[arg(long, value_enum, default_value_t = InputEncoding::Utf8)]
    pub(crate) encoding: InputEncoding,

    /// The holder's party name (default: the input file's stem).
    #[arg(long)]
    pub(crate) party: Option<String>,

    /// Rows sampled from the start of the input.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub(crate) sample: usize,

    /// Write the mapping here (never over an existing file) instead of to standard output.
    #[arg(long, value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct PatternsArgs {
    /// The output folder of a `kith families` run (its link is the one its manifest read).
    #[arg(value_name = "FAMILIES_DIR")]
    pub(crate) families: PathBuf,

    /// The folder to write the tables (CSV) and their manifest to.
    #[arg(long, value_name = "DIR")]
    pub(crate) output: PathBuf,

    /// Counts from 1 to one under this are suppressed (the UK's usual rule: under 10).
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub(crate) threshold: u64,

    /// Round every published count to the nearest multiple of this (totals are rounded on their
    /// own, so rounded rows may not add up to them).
    #[arg(long, value_name = "N")]
    pub(crate) round: Option<u64>,

    /// Suppress zero counts too (a zero can say that nobody in a group has a need).
    #[arg(long)]
    pub(crate) suppress_zeros: bool,

    /// Which of the schema's areas (kith.areas) to count families by (default: the first).
    #[arg(long, value_name = "NAME")]
    pub(crate) area: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct ProfileArgs {
    /// The agreed schema.
    #[arg(long, value_name = "FILE")]
    pub(crate) schema: PathBuf,

    /// The holder's column mapping, as for kith encode.
    #[arg(long, value_name = "FILE")]
    pub(crate) mapping: Option<PathBuf>,

    /// The holder's CSV extract.
    #[arg(long, value_name = "FILE")]
    pub(crate) input: PathBuf,

    /// Column holding each row's local ID (default: the mapping's or schema's).
    #[arg(long, value_name = "NAME")]
    pub(crate) id_column: Option<String>,

    /// The holder's party name (default: the mapping's, else the input file's stem).
    #[arg(long)]
    pub(crate) party: Option<String>,

    /// Character encoding of the input.
    #[arg(long, value_enum, default_value_t = InputEncoding::Utf8)]
    pub(crate) encoding: InputEncoding,

    /// Also write the profile's counts (no values, lines or IDs) to this file as JSON, for the
    /// holder to send for the run report if it chooses (kith report --profile).
    #[arg(long, value_name = "FILE")]
    pub(crate) json: Option<PathBuf>,

    /// Judge dates of birth in the future against this day (YYYY-MM-DD; default: today), so that
    /// a profile can be repeated exactly.
    #[arg(long, value_name = "DATE")]
    pub(crate) as_of: Option<String>,

    /// Exit with status 1 when the verdict is "not fit".
    #[arg(long)]
    pub(crate) strict: bool,
}

#[derive(Debug, Args)]
pub(crate) struct KeygenArgs {
    /// Where to write the secret (mode 0600). An existing file is never overwritten.
    #[arg(long, value_name = "FILE")]
    pub(crate) out: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum OutputFormat {
    /// kith encodings: header with schema fingerprint, then token, CLK and exact tokens per record.
    Kith,
    /// `{"clks": [...]}` as anonlink-client writes it, in input order.
    #[value(name = "clkhash-json")]
    ClkhashJson,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum InputEncoding {
    /// UTF-8 (a byte-order mark is allowed).
    #[value(name = "utf-8")]
    Utf8,
    /// Windows-1252, as Excel and many older systems export "CSV".
    #[value(name = "windows-1252")]
    Windows1252,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum OnError {
    /// Stop at the first bad row; write nothing.
    Fail,
    /// Skip bad rows, count them in the summary and list them in --rejects.
    Skip,
}

#[derive(Debug, Args)]
pub(crate) struct EncodeArgs {
    /// The agreed linkage schema (clkhash v1/v2/v3, optionally with a `kith` section).
    #[arg(long, value_name = "FILE")]
    pub(crate) schema: PathBuf,

    /// This holder's column mapping (JSON), when its CSV headers differ from the feature names.
    #[arg(long, value_name = "FILE")]
    pub(crate) mapping: Option<PathBuf>,

    /// File holding the shared secret (one trailing newline is ignored). Otherwise KITH_SECRET is read.
    #[arg(long, value_name = "FILE")]
    pub(crate) secret_file: Option<PathBuf>,

    /// The holder's CSV extract, with a header row.
    #[arg(long, value_name = "FILE")]
    pub(crate) input: PathBuf,

    /// Where to write the encodings (written to a temporary file and renamed when complete).
    #[arg(long, value_name = "FILE")]
    pub(crate) output: PathBuf,

    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Kith)]
    pub(crate) format: OutputFormat,

    /// This holder's name in the output (default: the mapping's `party`, else the input file's stem).
    #[arg(long, value_name = "NAME")]
    pub(crate) party: Option<String>,

    /// The column holding this holder's local record ID (default: from the mapping or schema; else
    /// the record number).
    #[arg(long, value_name = "COL")]
    pub(crate) id_column: Option<String>,

    /// Write this holder's own map from record token to local ID (CSV `token,local_id`). Keep it: it
    /// never leaves the holder.
    #[arg(long, value_name = "MAP")]
    pub(crate) keep_map: Option<PathBuf>,

    /// Make this run's record tokens unlike any other run's: the salt is read from FILE, or made
    /// (32 random bytes, mode 0600) when FILE does not exist. Keep it with the map; a new salt each
    /// run stops a linkage party following a record from one run to the next by its token.
    #[arg(long, value_name = "FILE")]
    pub(crate) run_salt: Option<PathBuf>,

    /// Character encoding of the input.
    #[arg(long, value_enum, default_value_t = InputEncoding::Utf8)]
    pub(crate) encoding: InputEncoding,

    /// What to do with a row the schema refuses.
    #[arg(long, value_enum, default_value_t = OnError::Fail)]
    pub(crate) on_error: OnError,

    /// With --on-error skip: write each skipped row's line number, field and reason here (CSV).
    #[arg(long, value_name = "FILE")]
    pub(crate) rejects: Option<PathBuf>,

    /// Rows sorted in memory before spilling to a temporary file (tests use small runs to exercise
    /// the merge).
    #[arg(long, hide = true, default_value_t = 256 * 1024, value_name = "N")]
    pub(crate) sort_run_rows: usize,
}
