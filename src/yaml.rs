//! YAML read from the folder (the manifest, a compose file on disk): untrusted, so it is walked
//! event by event (saphyr-parser) before serde_yaml sees it. The walk refuses a document whose
//! aliases expand it past a bound on nodes or scalar bytes (an alias bomb: one big anchored
//! string and many aliases to it is small on disk and huge deserialized) and a mapping that
//! names a key twice (serde_yaml keeps the last one of a map silently).

use std::collections::HashMap;
use std::fmt;

use saphyr_parser::{Event, Parser, Span};
use serde::de::DeserializeOwned;

/// What a document may expand to, aliases replayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Scalars, sequences and mappings.
    pub nodes: u64,
    /// Bytes of all scalars (keys too).
    pub bytes: u64,
}

/// For a file of the folder other than the manifest (a compose file on disk, which may use
/// anchors of its own): far more than any the tool writes, little memory.
pub const ON_DISK: Limits = Limits {
    nodes: 200_000,
    bytes: 4 << 20,
};

/// Why a document was refused: one line, with the 1-based line (and column) it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

impl Error {
    fn at(span: &Span, message: String) -> Error {
        Error {
            line: Some(span.start.line()),
            column: Some(span.start.col() + 1),
            message,
        }
    }

    /// `:line:column`, `:line` or nothing, to follow a file name.
    pub fn location(&self) -> String {
        match (self.line, self.column) {
            (Some(line), Some(column)) => format!(":{line}:{column}"),
            (Some(line), None) => format!(":{line}"),
            _ => String::new(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // One line, whatever the document's text put into the message.
        for c in self.message.chars() {
            if c.is_control() {
                write!(f, "{}", c.escape_default())?;
            } else {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

/// Deserializes `text` after [`check`] passed it.
pub fn from_str_bounded<T: DeserializeOwned>(text: &str, limits: Limits) -> Result<T, Error> {
    check(text, limits)?;
    serde_yaml::from_str(text).map_err(|e| Error {
        line: e.location().map(|l| l.line()),
        column: e.location().map(|l| l.column()),
        message: e.to_string(),
    })
}

/// The size of a node, its aliases replayed.
#[derive(Debug, Clone, Copy, Default)]
struct Size {
    nodes: u64,
    bytes: u64,
}

/// A sequence or mapping being read.
struct Open {
    /// Its anchor (0: none) and the totals when it started, to size it when it ends.
    anchor: usize,
    start: Size,
    /// Children so far; a mapping's even children are keys.
    children: usize,
    /// A mapping's scalar keys and the line each is on.
    keys: Option<HashMap<String, usize>>,
}

/// Walks every event of `text`: refuses syntax errors, aliases to the node they are in,
/// expansion past `limits`, and a key named twice in one mapping.
pub fn check(text: &str, limits: Limits) -> Result<(), Error> {
    let mut total = Size::default();
    let mut open: Vec<Open> = Vec::new();
    // Finished anchored nodes: their size, and their text when they are scalars (keys).
    let mut anchors: HashMap<usize, (Size, Option<String>)> = HashMap::new();
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| Error {
            line: Some(e.marker().line()),
            column: Some(e.marker().col() + 1),
            message: format!("not YAML: {}", e.info()),
        })?;
        // A node in a mapping's even place is a key: its text is compared with the others'.
        let is_key = !matches!(event, Event::SequenceEnd | Event::MappingEnd)
            && open
                .last()
                .is_some_and(|p| p.keys.is_some() && p.children % 2 == 0);
        let (grows, key, anchor) = match &event {
            Event::Scalar(value, _, anchor, _) => {
                let size = Size {
                    nodes: 1,
                    bytes: value.len() as u64,
                };
                if *anchor != 0 {
                    anchors.insert(*anchor, (size, Some(value.to_string())));
                }
                (size, is_key.then(|| value.to_string()), 0)
            }
            Event::Alias(id) => match anchors.get(id) {
                Some((size, text)) => (*size, text.as_ref().filter(|_| is_key).cloned(), 0),
                None => {
                    return Err(Error::at(
                        &span,
                        "an alias refers to the node that contains it".into(),
                    ));
                }
            },
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                (Size { nodes: 1, bytes: 0 }, None, *anchor)
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let done = open.pop().expect("the parser balances its events");
                if done.anchor != 0 {
                    let size = Size {
                        nodes: total.nodes - done.start.nodes,
                        bytes: total.bytes - done.start.bytes,
                    };
                    anchors.insert(done.anchor, (size, None));
                }
                continue;
            }
            Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart(_)
            | Event::DocumentEnd
            | Event::Nothing => continue,
        };
        // A new node: a child of the innermost open collection, maybe a mapping key.
        if let Some(parent) = open.last_mut() {
            parent.children += 1;
            if let (Some(keys), Some(key)) = (&mut parent.keys, &key) {
                if let Some(first) = keys.get(key.as_str()) {
                    return Err(Error::at(
                        &span,
                        format!(
                            "key {} appears twice in one mapping (first on line {first})",
                            shown_key(key)
                        ),
                    ));
                }
                keys.insert(key.clone(), span.start.line());
            }
        }
        let start = total;
        total.nodes = total.nodes.saturating_add(grows.nodes);
        total.bytes = total.bytes.saturating_add(grows.bytes);
        if total.nodes > limits.nodes {
            return Err(Error::at(
                &span,
                format!(
                    "more than {} YAML nodes once aliases are expanded",
                    limits.nodes
                ),
            ));
        }
        if total.bytes > limits.bytes {
            return Err(Error::at(
                &span,
                format!(
                    "more than {} bytes of YAML values once aliases are expanded",
                    limits.bytes
                ),
            ));
        }
        match event {
            Event::SequenceStart(..) => open.push(Open {
                anchor,
                start,
                children: 0,
                keys: None,
            }),
            Event::MappingStart(..) => open.push(Open {
                anchor,
                start,
                children: 0,
                keys: Some(HashMap::new()),
            }),
            _ => {}
        }
    }
    Ok(())
}

/// A key as an error shows it: quoted, escaped, at most 60 characters.
fn shown_key(key: &str) -> String {
    let cut: String = key.chars().take(60).collect();
    if cut.len() < key.len() {
        format!("{cut:?}…")
    } else {
        format!("{cut:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: Limits = Limits {
        nodes: 1000,
        bytes: 10_000,
    };

    fn refused(text: &str) -> Error {
        check(text, SMALL).expect_err(text)
    }

    #[test]
    fn plain_documents_pass() {
        check("a: 1\nb: [x, y]\nc: {d: e}\n", SMALL).unwrap();
        check("- a: 1\n- a: 1\n", SMALL).unwrap();
        check("a: &x {b: 1}\nc: *x\n", SMALL).unwrap();
        let value: serde_yaml::Value = from_str_bounded("a: &x [1, 2]\nb: *x\n", SMALL).unwrap();
        assert_eq!(value["b"][1], serde_yaml::Value::from(2));
    }

    #[test]
    fn aliases_count_what_they_replay() {
        let big = "x".repeat(1000);
        let text = format!("a: &x {big}\nb: [*x, *x, *x, *x, *x, *x, *x, *x, *x]\n");
        let e = refused(&text);
        assert_eq!(e.line, Some(2), "{e}");
        assert!(e.message.contains("10000 bytes"), "{e}");
        // Nested anchors multiply.
        let mut text = String::from("a0: &a0 [x, x, x, x]\n");
        for i in 1..8 {
            let p = i - 1;
            text.push_str(&format!("a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}]\n"));
        }
        assert!(refused(&text).message.contains("1000 YAML nodes"));
    }

    #[test]
    fn duplicate_keys_name_the_key_and_both_lines() {
        let e = refused("a: 1\nb:\n  c: 1\n  c: 2\n");
        assert_eq!((e.line, e.column), (Some(4), Some(3)));
        assert_eq!(
            e.to_string(),
            "key \"c\" appears twice in one mapping (first on line 3)"
        );
        // Quoting does not make another key; an alias to a scalar key is that key.
        assert!(refused("a: 1\n'a': 2\n").message.contains("\"a\""));
        assert!(
            refused("k: &k a\nx: {a: 1, *k : 2}\n")
                .message
                .contains("\"a\"")
        );
        // The same key in two mappings is fine.
        check("a: {k: 1}\nb: {k: 1}\n", SMALL).unwrap();
    }

    #[test]
    fn errors_are_one_line() {
        let e = refused("\"a\\nb\": 1\n\"a\\nb\": 2\n");
        assert!(!e.to_string().contains('\n'), "{e}");
        assert!(e.to_string().contains("a\\nb"), "{e}");
        let e = refused("a: [\n");
        assert!(e.message.starts_with("not YAML"), "{e}");
        assert!(!e.to_string().contains('\n'));
    }
}
