//! Whether a seed file on disk has the shape kneo-otel gives it, judged against a fresh
//! render of the same file: an env file holds exactly the rendered keys, a secret is at
//! least as long as the one kneo-otel generates and of its alphabet, a PEM block is a PEM
//! block of the same label. Seeds are never shown: the answers name keys, never values.

use std::collections::BTreeMap;

/// What is wrong with `on_disk` as the seed `rendered` stands for, if anything.
pub fn problem(rendered: &str, on_disk: &str) -> Option<String> {
    match (env_values(rendered), env_values(on_disk)) {
        (Some(want), Some(have)) => env_problem(&want, &have),
        (Some(want), None) => Some(format!(
            "is not an env file of KEY=value lines (it holds {})",
            keys(&want)
        )),
        (None, _) => {
            value_problem(rendered.trim(), on_disk.trim()).map(|p| format!("its value {p}"))
        }
    }
}

fn keys(values: &BTreeMap<String, String>) -> String {
    values.keys().cloned().collect::<Vec<_>>().join(", ")
}

fn env_problem(want: &BTreeMap<String, String>, have: &BTreeMap<String, String>) -> Option<String> {
    if let Some(extra) = have.keys().find(|k| !want.contains_key(*k)) {
        return Some(format!(
            "holds {extra}, which kneo-otel never writes there (it holds exactly {})",
            keys(want)
        ));
    }
    if let Some(missing) = want.keys().find(|k| !have.contains_key(*k)) {
        return Some(format!("lacks {missing}"));
    }
    want.iter()
        .find_map(|(key, value)| value_problem(value, &have[key]).map(|p| format!("{key} {p}")))
}

/// A generated value's shape: a PEM block keeps its label; a secret (letters and digits, as
/// `random_secret` makes them) keeps its length at least and its alphabet; anything else is
/// what kneo-otel wrote.
fn value_problem(want: &str, have: &str) -> Option<String> {
    if let Some(label) = pem_label(want) {
        let ok = pem_label(have) == Some(label) && have.contains("-----END ");
        return (!ok).then(|| format!("is not a PEM {label}"));
    }
    if !want.is_empty() && want.chars().all(|c| c.is_ascii_alphanumeric()) {
        if have.chars().count() < want.len() {
            return Some(format!(
                "is shorter than the {} characters kneo-otel generates: a short secret can be guessed",
                want.len()
            ));
        }
        if !have.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Some("has characters other than letters and digits".into());
        }
        return None;
    }
    (want != have).then(|| "is not what kneo-otel writes there".into())
}

fn pem_label(text: &str) -> Option<&str> {
    let rest = text.trim_start().strip_prefix("-----BEGIN ")?;
    rest.split_once("-----").map(|(label, _)| label)
}

/// `KEY=value` lines (comments and blank lines skipped; a double-quoted value may span
/// lines, as compose's env files allow), or `None` when the text is not such a file.
fn env_values(text: &str) -> Option<BTreeMap<String, String>> {
    let mut values = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = line.split_once('=')?;
        let key = key.trim().strip_prefix("export ").unwrap_or(key.trim());
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return None;
        }
        let mut value = value.to_string();
        if let Some(open) = value.strip_prefix('"') {
            let mut quoted = open.to_string();
            while !quoted.ends_with('"') {
                quoted.push('\n');
                quoted.push_str(lines.next()?);
            }
            quoted.pop();
            value = quoted;
        }
        values.insert(key.to_string(), value.trim().to_string());
    }
    (!values.is_empty()).then_some(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENV: &str = "# c\nTOKEN=abcdEFGH12345678abcdEFGH12345678\nCERT=\"-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n\"\n";

    #[test]
    fn a_seed_of_the_rendered_shape_passes() {
        let other = ENV.replace("abcdEFGH", "zyxwVUTS");
        assert_eq!(problem(ENV, &other), None);
        assert_eq!(
            problem("tok3n0000000000000000", "Another0Token0Longer0Than0That"),
            None
        );
    }

    #[test]
    fn keys_values_and_alphabets_are_checked_and_values_never_shown() {
        let extra = format!("{ENV}HTTP_PROXY=http://attacker:3128\n");
        let why = problem(ENV, &extra).unwrap();
        assert!(
            why.contains("HTTP_PROXY") && !why.contains("attacker"),
            "{why}"
        );
        let short = ENV.replace("abcdEFGH12345678abcdEFGH12345678", "a");
        assert!(problem(ENV, &short).unwrap().contains("shorter"));
        let odd = ENV.replace(
            "abcdEFGH12345678abcdEFGH12345678",
            "abcdEFGH12345678abcdEFGH1234567$",
        );
        assert!(problem(ENV, &odd).unwrap().contains("letters and digits"));
        let no_pem = ENV.replace("-----BEGIN CERTIFICATE-----", "x");
        assert!(problem(ENV, &no_pem).unwrap().contains("PEM CERTIFICATE"));
        assert!(
            problem(ENV, "TOKEN=abcdEFGH12345678abcdEFGH12345678\n")
                .unwrap()
                .contains("lacks CERT")
        );
        assert!(
            problem("abcdEFGH12345678", "a")
                .unwrap()
                .contains("shorter")
        );
    }
}
