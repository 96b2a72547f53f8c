//! Configuration errors stop the process with a one-line message naming the setting.
use std::collections::HashMap;

use crate::helpers::run_cli;

fn run_with(env: &[(&str, &str)], args: &[&str]) -> crate::helpers::CliOutput {
    let dir = tempfile::tempdir().unwrap();
    let mut vars: HashMap<String, String> = HashMap::from([(
        "TESSERA_DATABASE_URL".to_owned(),
        format!("sqlite://{}", dir.path().join("t.db").display()),
    )]);
    for (k, v) in env {
        vars.insert((*k).to_owned(), (*v).to_owned());
    }
    let out = run_cli(&vars, args, None, dir.path());
    // A refused configuration writes nothing.
    assert!(!dir.path().join("t.db").exists());
    assert!(!dir.path().join("keys").exists());
    out
}

#[test]
fn each_bad_setting_is_named() {
    let cases = [
        ("TESSERA_LISTEN", "localhost", "invalid TESSERA_LISTEN:"),
        ("TESSERA_ISSUER", "not a url", "invalid TESSERA_ISSUER:"),
        (
            "TESSERA_ISSUER",
            "https://id.example.com/?x=1",
            "invalid TESSERA_ISSUER:",
        ),
        (
            "TESSERA_DATABASE_URL",
            "mysql://db",
            "invalid TESSERA_DATABASE_URL:",
        ),
        (
            "TESSERA_ACCESS_TOKEN_TTL",
            "-5",
            "invalid TESSERA_ACCESS_TOKEN_TTL:",
        ),
        (
            "TESSERA_REFRESH_TOKEN_TTL",
            "1d",
            "invalid TESSERA_REFRESH_TOKEN_TTL:",
        ),
        ("TESSERA_WORKERS", "0", "invalid TESSERA_WORKERS:"),
        (
            "TESSERA_TRUSTED_PROXIES",
            "10.0.0.1,nope",
            "invalid TESSERA_TRUSTED_PROXIES:",
        ),
        (
            "TESSERA_AUTHORIZATION_CODE_TTL",
            "600",
            "invalid TESSERA_AUTHORIZATION_CODE_TTL:",
        ),
        ("TESSERA_LOG_FORMAT", "xml", "invalid TESSERA_LOG_FORMAT:"),
        (
            "TESSERA_SIMPLEJWT_ACCESS_TOKEN_LIFETIME",
            "0",
            "invalid TESSERA_SIMPLEJWT_ACCESS_TOKEN_LIFETIME:",
        ),
        (
            "TESSERA_SIMPLEJWT_ACCESS_TOKEN_LIFETIME",
            "5m",
            "invalid TESSERA_SIMPLEJWT_ACCESS_TOKEN_LIFETIME:",
        ),
        (
            "TESSERA_SIMPLEJWT_REFRESH_TOKEN_LIFETIME",
            "-86400",
            "invalid TESSERA_SIMPLEJWT_REFRESH_TOKEN_LIFETIME:",
        ),
        (
            "TESSERA_SIMPLEJWT_REFRESH_TOKEN_LIFETIME",
            "99999999999999999999",
            "invalid TESSERA_SIMPLEJWT_REFRESH_TOKEN_LIFETIME:",
        ),
        (
            "TESSERA_SIMPLEJWT_AUTH_HEADER_TYPES",
            " , ",
            "invalid TESSERA_SIMPLEJWT_AUTH_HEADER_TYPES:",
        ),
        (
            "TESSERA_SIMPLEJWT_AUTH_HEADER_TYPES",
            "Bearer JWT",
            "invalid TESSERA_SIMPLEJWT_AUTH_HEADER_TYPES:",
        ),
        (
            "TESSERA_DATABASE_TIMEOUT",
            "0",
            "invalid TESSERA_DATABASE_TIMEOUT:",
        ),
        (
            "TESSERA_CLIENT_REQUEST_TIMEOUT",
            "forever",
            "invalid TESSERA_CLIENT_REQUEST_TIMEOUT:",
        ),
        ("TESSERA_KEEP_ALIVE", "-1", "invalid TESSERA_KEEP_ALIVE:"),
    ];
    for (var, value, expected) in cases {
        for args in [&["serve"][..], &["migrate"][..]] {
            let out = run_with(&[(var, value)], args);
            assert_ne!(out.code, 0, "{var}={value} accepted");
            let err = out.stderr.trim();
            assert_eq!(err.lines().count(), 1, "{err}");
            assert!(
                err.starts_with(&format!("error: {expected}")),
                "{var}: {err}"
            );
        }
    }
}

#[test]
fn smtp_settings_are_checked_and_the_password_never_echoed() {
    const FROM: (&str, &str) = ("TESSERA_SMTP_FROM", "Tessera <noreply@example.com>");
    let cases: [(&[(&str, &str)], &str); 6] = [
        (
            &[("TESSERA_SMTP_URL", "http://mail.example.com"), FROM],
            "invalid TESSERA_SMTP_URL:",
        ),
        (
            &[
                ("TESSERA_SMTP_URL", "smtp://u:hunter2@mail.example.com"),
                FROM,
            ],
            "invalid TESSERA_SMTP_URL:",
        ),
        (
            &[
                ("TESSERA_SMTP_URL", "smtp://mail.example.com?tls=perhaps"),
                FROM,
            ],
            "invalid TESSERA_SMTP_URL:",
        ),
        (
            &[("TESSERA_SMTP_URL", "smtps://u:hunter2@mail.example.com")],
            "invalid TESSERA_SMTP_FROM:",
        ),
        (
            &[
                ("TESSERA_SMTP_URL", "smtps://u:hunter2@mail.example.com"),
                ("TESSERA_SMTP_FROM", "not an address"),
            ],
            "invalid TESSERA_SMTP_FROM:",
        ),
        (
            &[
                ("TESSERA_SMTP_URL", "smtps://u:hunter2@mail.example.com"),
                FROM,
                ("TESSERA_SMTP_TIMEOUT", "0"),
            ],
            "invalid TESSERA_SMTP_TIMEOUT:",
        ),
    ];
    for (env, expected) in cases {
        let out = run_with(env, &["migrate"]);
        assert_ne!(out.code, 0, "{env:?} accepted");
        let err = out.stderr.trim();
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with(&format!("error: {expected}")),
            "{env:?}: {err}"
        );
        assert!(!err.contains("hunter2"), "{err}");
    }
}

#[test]
fn config_file_errors_name_the_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tessera.toml");
    std::fs::write(&file, "listen = \"127.0.0.1:0\"\nacess_token_ttl = 5\n").unwrap();
    let out = run_with(&[], &["--config", file.to_str().unwrap(), "migrate"]);
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("tessera.toml"), "{}", out.stderr);
    assert!(out.stderr.contains("acess_token_ttl"), "{}", out.stderr);

    std::fs::write(&file, "workers = \"many\"\n").unwrap();
    let out = run_with(&[], &["--config", file.to_str().unwrap(), "migrate"]);
    assert!(
        out.stderr.trim().starts_with("error: invalid workers in "),
        "{}",
        out.stderr
    );

    let out = run_with(
        &[("TESSERA_CONFIG", "/nonexistent/tessera.toml")],
        &["migrate"],
    );
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("/nonexistent/tessera.toml"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_short_admin_password_is_refused() {
    let out = run_with(&[("TESSERA_ADMIN_PASSWORD", "short")], &["serve"]);
    assert_ne!(out.code, 0);
    assert!(
        out.stderr
            .trim()
            .starts_with("error: invalid TESSERA_ADMIN_PASSWORD:"),
        "{}",
        out.stderr
    );
}
