//! A read-only YAML tree with byte spans, built from `saphyr-parser` events.
//!
//! Every module that reads YAML (discovery, redaction, rules) goes through this one tree, so
//! "where is this value in the file" has one answer. It never edits or re-serializes a document:
//! redaction replaces the byte spans recorded here in the original bytes.
//! Aliases stay leaves (`Node::Alias`): nothing expands them, so an alias bomb costs nothing.
//! What can still grow is bounded and refused with a reason: the copies kept of anchored nodes
//! (nested anchors) and the maps that `<<` merge keys pull in (EMG's loader would expand them).

use std::collections::HashMap;
use std::ops::Range;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

#[derive(Clone, Debug)]
pub(crate) enum Node {
    Scalar(Scalar),
    /// `start`: byte offset of `{` for a flow map, of the first key for a block map.
    Map {
        entries: Vec<(Node, Node)>,
        anchor: usize,
        line: usize,
        start: usize,
    },
    Seq {
        items: Vec<Node>,
        anchor: usize,
        line: usize,
        start: usize,
    },
    Alias {
        id: usize,
        line: usize,
    },
}

#[derive(Clone, Debug)]
pub(crate) struct Scalar {
    /// The parsed value (escapes decoded, folding applied).
    pub(crate) value: String,
    pub(crate) style: ScalarStyle,
    /// Bytes of the value in the source: quotes included, anchor and tag excluded; for block
    /// scalars the body lines (from the first content byte), not the `|`/`>` header.
    pub(crate) span: Range<usize>,
    /// 1-based line of the value.
    pub(crate) line: usize,
    pub(crate) anchor: usize,
}

/// A parse error with the position a human needs (`file:line:column`).
#[derive(Debug, thiserror::Error)]
#[error("{line}:{column}: {message}")]
pub struct ParseError {
    pub(crate) line: usize,
    pub(crate) column: usize,
    pub(crate) message: String,
}

/// Nodes copied for anchors in one document stream: nested anchors copy their subtrees again
/// at every level, and a config holding more than this is built to exhaust memory.
const MAX_ANCHOR_NODES: usize = 4_000_000;
/// Maps one lookup may visit through `<<` merge keys (each `<<: [*a, *b]` multiplies them).
const MAX_MERGED_MAPS: u64 = 10_000;

/// All documents of one YAML stream, plus the nodes that carry anchors.
#[derive(Debug, Default)]
pub struct Yaml {
    pub(crate) docs: Vec<Node>,
    anchors: HashMap<usize, Node>,
}

impl Yaml {
    pub fn parse(text: &str) -> Result<Yaml, ParseError> {
        // saphyr refuses a tab after `key:` (`redisPassword:\tpw`), which js-yaml, EMG's
        // parser, loads. A tab becomes a space for the parse only: byte offsets stay the same,
        // so every span still points into the original text.
        Yaml::parse_exact(text).or_else(|e| match text.contains('\t') {
            true => Yaml::parse_exact(&text.replace('\t', " ")).map_err(|_| e),
            false => Err(e),
        })
    }

    fn parse_exact(text: &str) -> Result<Yaml, ParseError> {
        let offsets = ByteOffsets::new(text);
        let mut yaml = Yaml::default();
        // Each open collection: its node under construction, plus a pending key for maps.
        let mut stack: Vec<(Node, Option<Node>)> = Vec::new();
        let mut parser = Parser::new_from_str(text);
        let mut copied = 0usize;
        while let Some(event) = parser.next_event() {
            let (event, span) = event.map_err(|e| ParseError {
                line: e.marker().line(),
                column: e.marker().col() + 1,
                message: e.info().to_string(),
            })?;
            let line = span.start.line();
            let done = match event {
                Event::Scalar(value, style, anchor, _tag) => Some(Node::Scalar(Scalar {
                    value: value.into_owned(),
                    style,
                    span: quoted_end(text, value_span(text, &offsets, span), style),
                    line: value_line(text, &offsets, span),
                    anchor,
                })),
                Event::Alias(id) => Some(Node::Alias { id, line }),
                Event::MappingStart(anchor, _) => {
                    let start = value_span(text, &offsets, span).start;
                    stack.push((
                        Node::Map {
                            entries: Vec::new(),
                            anchor,
                            line,
                            start,
                        },
                        None,
                    ));
                    None
                }
                Event::SequenceStart(anchor, _) => {
                    let start = value_span(text, &offsets, span).start;
                    stack.push((
                        Node::Seq {
                            items: Vec::new(),
                            anchor,
                            line,
                            start,
                        },
                        None,
                    ));
                    None
                }
                Event::MappingEnd | Event::SequenceEnd => stack.pop().map(|(node, _)| node),
                _ => None,
            };
            let Some(node) = done else { continue };
            if let Some(id) = node.anchor().filter(|id| *id > 0) {
                copied += node.size(MAX_ANCHOR_NODES - copied.min(MAX_ANCHOR_NODES));
                if copied >= MAX_ANCHOR_NODES {
                    return Err(ParseError {
                        line,
                        column: 1,
                        message: format!(
                            "anchors nest so deeply that reading them would copy over {MAX_ANCHOR_NODES} nodes (not read)"
                        ),
                    });
                }
                yaml.anchors.insert(id, node.clone());
            }
            match stack.last_mut() {
                None => yaml.docs.push(node),
                Some((Node::Seq { items, .. }, _)) => items.push(node),
                Some((Node::Map { entries, .. }, pending)) => match pending.take() {
                    None => *pending = Some(node),
                    Some(key) => entries.push((key, node)),
                },
                Some(_) => unreachable!("only collections are pushed"),
            }
        }
        yaml.check_merges()?;
        Ok(yaml)
    }

    /// Refuses a stream whose `<<` merge keys make any map pull in more than
    /// `MAX_MERGED_MAPS` maps (a merge bomb: each level merges the one below several times).
    fn check_merges(&self) -> Result<(), ParseError> {
        let mut memo: HashMap<usize, u64> = HashMap::new();
        let mut stack: Vec<&Node> = self.docs.iter().collect();
        while let Some(node) = stack.pop() {
            match node {
                Node::Map { entries, line, .. } => {
                    if self.merged_maps(node, &mut memo, 0) > MAX_MERGED_MAPS {
                        return Err(ParseError {
                            line: *line,
                            column: 1,
                            message: format!(
                                "merge keys (<<) here pull in more than {MAX_MERGED_MAPS} maps (not read)"
                            ),
                        });
                    }
                    stack.extend(entries.iter().map(|(_, v)| v));
                }
                Node::Seq { items, .. } => stack.extend(items.iter()),
                _ => {}
            }
        }
        Ok(())
    }

    /// How many maps a lookup in `node` may visit through merge keys (memoized per anchor, so
    /// this costs one visit per merge entry however deep the fan-out).
    fn merged_maps(&self, node: &Node, memo: &mut HashMap<usize, u64>, depth: usize) -> u64 {
        if let Node::Alias { id, .. } = node {
            if let Some(n) = memo.get(id) {
                return *n;
            }
            let n = self
                .anchored(*id)
                .map_or(0, |a| self.merged_maps(a, memo, depth));
            memo.insert(*id, n);
            return n;
        }
        let Node::Map { entries, .. } = node else {
            return 0;
        };
        if depth > 16 {
            return 1;
        }
        let mut total = 1u64;
        for (_, merged) in entries.iter().filter(|(k, _)| k.as_str() == Some("<<")) {
            let sources: Vec<&Node> = match merged {
                Node::Seq { items, .. } => items.iter().collect(),
                other => vec![other],
            };
            for source in sources {
                total = total.saturating_add(self.merged_maps(source, memo, depth + 1));
                if total > MAX_MERGED_MAPS {
                    return total;
                }
            }
        }
        total
    }

    /// The node an alias refers to (the anchored node itself, with its own spans).
    pub(crate) fn anchored(&self, id: usize) -> Option<&Node> {
        self.anchors.get(&id)
    }

    /// Follows an alias to its anchor; any other node is returned as is.
    pub(crate) fn resolve<'a>(&'a self, node: &'a Node) -> &'a Node {
        match node {
            Node::Alias { id, .. } => self.anchored(*id).unwrap_or(node),
            _ => node,
        }
    }

    /// The value at a dotted path of map keys in the first document (`edgemicro.logging.dir`),
    /// looking through aliases and `<<` merge keys as EMG's YAML loader does.
    pub(crate) fn get(&self, path: &str) -> Option<&Node> {
        let mut node = self.docs.first()?;
        for key in path.split('.') {
            node = self.child(self.resolve(node), key, 0)?;
        }
        Some(self.resolve(node))
    }

    /// A scalar at a dotted path, as text.
    pub(crate) fn get_str(&self, path: &str) -> Option<&str> {
        match self.get(path)? {
            Node::Scalar(s) => Some(s.value.as_str()),
            _ => None,
        }
    }

    fn child<'a>(&'a self, map: &'a Node, key: &str, depth: usize) -> Option<&'a Node> {
        let Node::Map { entries, .. } = map else {
            return None;
        };
        let direct = entries
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v);
        if direct.is_some() || depth > 16 {
            return direct;
        }
        // `<<: *base` or `<<: [*a, *b]`: the merged maps supply keys the map itself lacks.
        let merges = entries
            .iter()
            .filter(|(k, _)| k.as_str() == Some("<<"))
            .map(|(_, v)| v);
        for merged in merges {
            let sources: Vec<&Node> = match self.resolve(merged) {
                Node::Seq { items, .. } => items.iter().collect(),
                other => vec![other],
            };
            if let Some(found) = sources
                .into_iter()
                .find_map(|m| self.child(self.resolve(m), key, depth + 1))
            {
                return Some(found);
            }
        }
        None
    }

    /// Every scalar leaf by path (`#0.a.list[1].b`), aliases as `*`: what must not change when
    /// a tool edits one value.
    pub(crate) fn leaves(&self) -> std::collections::BTreeMap<String, String> {
        fn walk(node: &Node, path: String, out: &mut std::collections::BTreeMap<String, String>) {
            match node {
                Node::Scalar(s) => {
                    out.insert(path, s.value.clone());
                }
                Node::Alias { id, .. } => {
                    out.insert(path, format!("*{id}"));
                }
                Node::Map { entries, .. } => {
                    for (k, v) in entries {
                        walk(v, format!("{path}.{}", k.as_str().unwrap_or("?")), out);
                    }
                }
                Node::Seq { items, .. } => {
                    for (i, item) in items.iter().enumerate() {
                        walk(item, format!("{path}[{i}]"), out);
                    }
                }
            }
        }
        let mut out = std::collections::BTreeMap::new();
        for (i, doc) in self.docs.iter().enumerate() {
            walk(doc, format!("#{i}"), &mut out);
        }
        out
    }

    /// Every map key path in all documents (`a.b`, `a.list[]`), with `&` after a path whose value
    /// carries an anchor and `*` after one whose value is an alias: redaction may change values,
    /// never this shape.
    pub(crate) fn key_paths(&self) -> Vec<String> {
        fn walk(node: &Node, prefix: &str, out: &mut Vec<String>) {
            match node {
                Node::Map { entries, .. } => {
                    for (k, v) in entries {
                        let name = k.as_str().map(str::to_string).unwrap_or_else(|| "?".into());
                        let path = if prefix.is_empty() {
                            name
                        } else {
                            format!("{prefix}.{name}")
                        };
                        let mark = match v {
                            Node::Alias { .. } => "*",
                            _ if v.anchor().is_some_and(|a| a > 0) => "&",
                            _ => "",
                        };
                        out.push(format!("{path}{mark}"));
                        walk(v, &path, out);
                    }
                }
                Node::Seq { items, .. } => {
                    for item in items {
                        walk(item, &format!("{prefix}[]"), out);
                    }
                }
                _ => {}
            }
        }
        let mut out = Vec::new();
        for (i, doc) in self.docs.iter().enumerate() {
            walk(doc, &format!("#{i}"), &mut out);
        }
        out
    }
}

impl Node {
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Node::Scalar(s) => Some(&s.value),
            _ => None,
        }
    }

    pub(crate) fn line(&self) -> usize {
        match self {
            Node::Scalar(s) => s.line,
            Node::Map { line, .. } | Node::Seq { line, .. } | Node::Alias { line, .. } => *line,
        }
    }

    /// The entry of a map with this key (no merges), as (key, value).
    pub(crate) fn entry(&self, key: &str) -> Option<(&Node, &Node)> {
        match self {
            Node::Map { entries, .. } => entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(k, v)| (k, v)),
            _ => None,
        }
    }

    /// Nodes in this subtree, counting up to `limit` (and stopping there).
    fn size(&self, limit: usize) -> usize {
        let mut count = 0;
        let mut stack = vec![self];
        while let Some(node) = stack.pop() {
            count += 1;
            if count >= limit {
                return count;
            }
            match node {
                Node::Map { entries, .. } => {
                    for (k, v) in entries {
                        stack.push(k);
                        stack.push(v);
                    }
                }
                Node::Seq { items, .. } => stack.extend(items.iter()),
                _ => {}
            }
        }
        count
    }

    pub(crate) fn anchor(&self) -> Option<usize> {
        match self {
            Node::Scalar(s) => Some(s.anchor),
            Node::Map { anchor, .. } | Node::Seq { anchor, .. } => Some(*anchor),
            Node::Alias { .. } => None,
        }
    }
}

/// saphyr-parser counts characters; the redactor edits bytes.
struct ByteOffsets(Option<Vec<usize>>);

impl ByteOffsets {
    fn new(text: &str) -> Self {
        if text.is_ascii() {
            return ByteOffsets(None);
        }
        let mut v: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
        v.push(text.len());
        ByteOffsets(Some(v))
    }

    fn byte(&self, char_index: usize) -> usize {
        match &self.0 {
            None => char_index,
            Some(v) => v[char_index.min(v.len() - 1)],
        }
    }
}

/// The scalar's own bytes: the event span starts at its properties (`&anchor`, `!!tag`), which
/// are kept; the value starts after them.
fn value_span(text: &str, offsets: &ByteOffsets, span: Span) -> Range<usize> {
    let (mut start, end) = (
        offsets.byte(span.start.index()),
        offsets.byte(span.end.index()),
    );
    let bytes = text.as_bytes();
    while start < end && (bytes[start] == b'&' || bytes[start] == b'!') {
        while start < end && !bytes[start].is_ascii_whitespace() {
            start += 1;
        }
        while start < end && bytes[start].is_ascii_whitespace() {
            start += 1;
        }
    }
    start..end.max(start)
}

/// saphyr-parser's span of a quoted scalar runs on over trailing blanks and a comment
/// (`'x'  # note`); the value ends at its closing quote.
fn quoted_end(text: &str, span: Range<usize>, style: ScalarStyle) -> Range<usize> {
    let bytes = &text.as_bytes()[span.clone()];
    let mut i = 1;
    let end = match style {
        ScalarStyle::SingleQuoted => loop {
            match bytes.get(i) {
                Some(b'\'') if bytes.get(i + 1) == Some(&b'\'') => i += 2,
                Some(b'\'') => break i + 1,
                Some(_) => i += 1,
                None => break bytes.len(),
            }
        },
        ScalarStyle::DoubleQuoted => loop {
            match bytes.get(i) {
                Some(b'\\') => i += 2,
                Some(b'"') => break i + 1,
                Some(_) => i += 1,
                None => break bytes.len(),
            }
        },
        _ => bytes.len(),
    };
    span.start..span.start + end.min(bytes.len())
}

fn value_line(text: &str, offsets: &ByteOffsets, span: Span) -> usize {
    let start = offsets.byte(span.start.index());
    let value = value_span(text, offsets, span).start;
    span.start.line()
        + text.as_bytes()[start..value]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span_text<'a>(text: &'a str, yaml: &Yaml, path: &str) -> &'a str {
        match yaml.get(path).unwrap() {
            Node::Scalar(s) => &text[s.span.clone()],
            other => panic!("not a scalar: {other:?}"),
        }
    }

    #[test]
    fn spans_cover_values_not_properties() {
        let text =
            "a: &x 'q''s'\t# c\nb: *x\nc: !!binary czNj\nd: |\n  l1\n  l2\ne: pässwört\nf: \"x\\\"y\"  # c\n";
        let y = Yaml::parse(text).unwrap();
        assert_eq!(span_text(text, &y, "a"), "'q''s'");
        assert_eq!(
            y.get_str("b"),
            Some("q's"),
            "alias resolves to the anchored scalar"
        );
        assert_eq!(span_text(text, &y, "c"), "czNj");
        assert_eq!(span_text(text, &y, "d"), "l1\n  l2\n");
        assert_eq!(span_text(text, &y, "e"), "pässwört");
        assert_eq!(span_text(text, &y, "f"), "\"x\\\"y\"");
    }

    #[test]
    fn dotted_paths_follow_merges() {
        let y = Yaml::parse(
            "base: &b {dir: /logs}\nedgemicro:\n  logging:\n    <<: *b\n    level: info\n",
        )
        .unwrap();
        assert_eq!(y.get_str("edgemicro.logging.dir"), Some("/logs"));
        assert_eq!(y.get_str("edgemicro.logging.level"), Some("info"));
        assert!(y.get("edgemicro.nope").is_none());
    }

    #[test]
    fn errors_have_line_and_column() {
        let err = Yaml::parse("a: b\n c: [unclosed\n").unwrap_err();
        assert!(err.line >= 2, "{err}");
    }

    #[test]
    fn key_paths_list_structure() {
        let y = Yaml::parse("a:\n  b: &x 1\n  c: [1, {d: *x}]\n").unwrap();
        assert_eq!(
            y.key_paths(),
            vec!["#0.a", "#0.a.b&", "#0.a.c", "#0.a.c[].d*"]
        );
    }
}
