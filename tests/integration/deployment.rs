//! The deployment files (`Dockerfile`, `docker-compose.yml`, `fly.toml`) set only settings the
//! server reads: a misspelt variable would otherwise be ignored in silence and the default
//! (a local database, mail to files) used in production.

use std::collections::BTreeSet;
use std::path::Path;

/// Every environment variable name the server reads: the quoted names in `src/config.rs` and
/// `src/main.rs`, and `RUST_LOG` (read by tracing's `EnvFilter`).
fn names_the_server_reads() -> BTreeSet<String> {
    let mut names: BTreeSet<String> = ["RUST_LOG".to_owned()].into();
    for file in ["src/config.rs", "src/main.rs"] {
        let text = read(file);
        for quoted in text.split('"').skip(1).step_by(2) {
            if !quoted.is_empty()
                && quoted.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
                && quoted.contains('_')
            {
                names.insert(quoted.to_owned());
            }
        }
    }
    names
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)).unwrap()
}

fn is_read(name: &str, known: &BTreeSet<String>) -> bool {
    // OpenID providers are read by pattern: OIDC_<NAME>_ISSUER / _CLIENT_ID / _CLIENT_SECRET.
    let provider = name.strip_prefix("OIDC_").is_some_and(|rest| {
        ["_ISSUER", "_CLIENT_ID", "_CLIENT_SECRET"].iter().any(|s| rest.len() > s.len() && rest.ends_with(s))
    });
    known.contains(name) || provider
}

/// The app's environment in the compose file: every service built from this repository.
fn compose_app_variables() -> BTreeSet<String> {
    // `<<: *app` merge keys, as docker-compose reads them.
    let mut yaml: serde_norway::Value = serde_norway::from_str(&read("docker-compose.yml")).unwrap();
    yaml.apply_merge().unwrap();
    let compose: serde_json::Value = serde_norway::from_value(yaml).unwrap();
    let services = compose["services"].as_object().unwrap();
    let mut names = BTreeSet::new();
    let mut app_services = 0;
    for service in services.values() {
        if service["image"] != "ticketing:latest" {
            continue;
        }
        app_services += 1;
        names.extend(service["environment"].as_object().unwrap().keys().cloned());
    }
    assert!(app_services >= 3, "migrate and two instances run the app image");
    names
}

fn dockerfile_env_variables() -> BTreeSet<String> {
    let dockerfile = read("Dockerfile");
    let mut names = BTreeSet::new();
    let mut in_env = false;
    for line in dockerfile.lines() {
        let line = line.trim();
        let rest = if let Some(rest) = line.strip_prefix("ENV ") {
            rest
        } else if in_env {
            line
        } else {
            continue;
        };
        for pair in rest.trim_end_matches('\\').split_whitespace() {
            if let Some((name, _)) = pair.split_once('=') {
                names.insert(name.to_owned());
            }
        }
        in_env = line.ends_with('\\');
    }
    names
}

#[test]
fn deployment_files_set_only_variables_the_server_reads() {
    let known = names_the_server_reads();
    assert!(known.contains("DATABASE_URL_EVENTS") && known.contains("TRUSTED_PROXIES"), "{known:?}");
    let fly: toml::Table = read("fly.toml").parse().unwrap();
    let fly_env: BTreeSet<String> = fly["env"].as_table().unwrap().keys().cloned().collect();
    for (file, names) in [
        ("docker-compose.yml", compose_app_variables()),
        ("fly.toml", fly_env),
        ("Dockerfile", dockerfile_env_variables()),
    ] {
        assert!(!names.is_empty(), "{file} sets no variables: the parser is wrong");
        let unknown: Vec<_> = names.iter().filter(|n| !is_read(n, &known)).collect();
        assert!(unknown.is_empty(), "{file} sets variables the server never reads: {unknown:?}");
    }
    // The check itself can fail: a misspelt name is caught.
    assert!(!is_read("DATABASE_URL_EVENT", &known));
    assert!(is_read("OIDC_GOOGLE_CLIENT_ID", &known));
}

#[test]
fn fly_migrates_before_release_and_stops_gracefully() {
    let fly: toml::Table = read("fly.toml").parse().unwrap();
    assert_eq!(fly["deploy"]["release_command"].as_str(), Some("ticketing migrate"));
    assert_eq!(fly["kill_signal"].as_str(), Some("SIGTERM"));
    let request_deadline = 30;
    assert!(fly["kill_timeout"].as_integer().unwrap() > request_deadline, "longer than a request may run");
    let checks = fly["http_service"]["checks"].as_array().unwrap();
    assert!(checks.iter().any(|c| c["path"].as_str() == Some("/health")));
}
