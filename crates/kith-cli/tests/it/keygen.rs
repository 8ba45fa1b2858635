use crate::util::{Dir, fails, kith, ok};

#[test]
fn keygen_writes_a_private_256_bit_secret_and_never_overwrites() {
    let dir = Dir::new();
    let out = dir.path("team.key");
    ok(kith().arg("keygen").arg("--out").arg(&out));
    let text = dir.read("team.key");
    assert_eq!(text.len(), 65, "64 hex digits and a newline");
    assert!(text[..64].bytes().all(|b| b.is_ascii_hexdigit()) && text.ends_with('\n'));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&out).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let err = fails(kith().arg("keygen").arg("--out").arg(&out));
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(dir.read("team.key"), text, "the secret is unchanged");
    assert_eq!(dir.files(), ["team.key"], "no temporary file left behind");

    ok(kith().arg("keygen").arg("--out").arg(dir.path("other.key")));
    assert_ne!(dir.read("other.key"), text, "two secrets differ");
}
