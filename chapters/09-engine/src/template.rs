//! `--format`: the part of Go's text/template that docker users type.
//!
//! docker's CLI formats with Go templates plus a few functions of its own
//! (`json`, `join`, `split`, `upper`, `lower`, `title`, `truncate`, `pad`) and a
//! `table` prefix that aligns columns with a tab writer and adds a header row.
//! The `gtmpl` crate was tried first and fell short on docker's own examples:
//! it prints `{{.RootFS.Layers}}` as `[String("sha256:...")]` where Go prints
//! `[sha256:...]`, and its objects are hash maps, so `{{json .Config}}` loses
//! docker's field order. So this module implements the subset: literal text,
//! `{{.Field.Sub}}`, `{{.}}`, pipelines (`{{.Names | upper}}`), function calls
//! with string and number arguments, `range`/`if`/`with` ... `else` ... `end`,
//! and `{{-`/`-}}` trimming.

use std::fmt::Write as _;

use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq, Serializer};

/// Data a template reads: JSON-like, but objects keep their fields in order
/// (as Go structs do), so `{{json .}}` prints them as docker does.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    Str(String),
    List(Vec<Value>),
    Object(Vec<(String, Value)>),
}

impl Value {
    fn field(&self, name: &str) -> Option<&Value> {
        match self {
            Value::Object(fields) => fields.iter().find(|(k, _)| k == name).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Go's truth: false, 0, "", nil and empty lists/objects are false.
    fn truthy(&self) -> bool {
        match self {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Int(n) => *n != 0,
            Value::Uint(n) => *n != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::List(l) => !l.is_empty(),
            Value::Object(o) => !o.is_empty(),
        }
    }

    /// Compact JSON, as docker's `json` function writes it (no HTML escaping).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("values serialize")
    }
}

/// How Go's `fmt` prints a value with `%v`: lists as `[a b]`, structs as `{a b}`.
impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let join = |f: &mut std::fmt::Formatter<'_>, items: &mut dyn Iterator<Item = &Value>| {
            for (i, item) in items.enumerate() {
                if i > 0 {
                    f.write_char(' ')?;
                }
                write!(f, "{item}")?;
            }
            Ok(())
        };
        match self {
            Value::Null => f.write_str("<nil>"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(n) => write!(f, "{n}"),
            Value::Uint(n) => write!(f, "{n}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Str(s) => f.write_str(s),
            Value::List(items) => {
                f.write_char('[')?;
                join(f, &mut items.iter())?;
                f.write_char(']')
            }
            Value::Object(fields) => {
                f.write_char('{')?;
                join(f, &mut fields.iter().map(|(_, v)| v))?;
                f.write_char('}')
            }
        }
    }
}

impl serde::Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Int(n) => s.serialize_i64(*n),
            Value::Uint(n) => s.serialize_u64(*n),
            Value::Float(x) => s.serialize_f64(*x),
            Value::Str(v) => s.serialize_str(v),
            Value::List(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Value::Object(fields) => {
                let mut map = s.serialize_map(Some(fields.len()))?;
                for (k, v) in fields {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

impl<'de> serde::Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        struct ValueVisitor;
        impl<'de> Visitor<'de> for ValueVisitor {
            type Value = Value;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_unit<E>(self) -> Result<Value, E> {
                Ok(Value::Null)
            }
            fn visit_none<E>(self) -> Result<Value, E> {
                Ok(Value::Null)
            }
            fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
                Ok(Value::Bool(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
                Ok(Value::Int(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
                Ok(Value::Uint(v))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
                Ok(Value::Float(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Value, E> {
                Ok(Value::Str(v.to_string()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Value::List(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
                let mut fields = Vec::new();
                while let Some((k, v)) = map.next_entry()? {
                    fields.push((k, v));
                }
                Ok(Value::Object(fields))
            }
        }
        d.deserialize_any(ValueVisitor)
    }
}

/// Why a template could not be parsed or run; the message reads like Go's.
#[derive(Debug, thiserror::Error)]
#[error("template: {0}")]
pub struct TemplateError(String);

fn err<T>(message: impl Into<String>) -> Result<T, TemplateError> {
    Err(TemplateError(message.into()))
}

/// One argument of a command in a pipeline.
#[derive(Debug, Clone, PartialEq)]
enum Arg {
    /// `.A.B` (empty: `.` itself).
    Field(Vec<String>),
    Str(String),
    Num(i64),
    Func(String),
    Pipe(Pipeline),
}

type Pipeline = Vec<Vec<Arg>>;

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Text(String),
    Print(Pipeline),
    /// `range`, `if` or `with`: the pipeline, the body, the `else` body.
    Block(Keyword, Pipeline, Vec<Node>, Vec<Node>),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Keyword {
    Range,
    If,
    With,
}

/// A parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    nodes: Vec<Node>,
}

impl Template {
    /// Parses `text` (Go template syntax).
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let tokens = lex(text)?;
        let mut pos = 0;
        let (nodes, end) = parse_nodes(&tokens, &mut pos)?;
        if let Some(end) = end {
            return err(format!("unexpected {{{{{end}}}}}"));
        }
        Ok(Template { nodes })
    }

    /// Runs the template with `dot` as `.`.
    pub fn render(&self, dot: &Value) -> Result<String, TemplateError> {
        let mut out = String::new();
        exec(&self.nodes, dot, &mut out)?;
        Ok(out)
    }
}

/// Literal text or the inside of an action.
enum Token {
    Text(String),
    Action(String),
}

fn lex(text: &str) -> Result<Vec<Token>, TemplateError> {
    let mut tokens = Vec::new();
    let mut rest = text;
    let mut trim_next = false;
    while let Some(start) = rest.find("{{") {
        let mut literal = &rest[..start];
        if trim_next {
            literal = literal.trim_start();
        }
        let after = &rest[start + 2..];
        let trim_before = after.starts_with("- ");
        if trim_before {
            literal = literal.trim_end();
        }
        if !literal.is_empty() {
            tokens.push(Token::Text(literal.to_string()));
        }
        let Some(end) = find_close(after) else {
            return err("unclosed action");
        };
        let mut inner = &after[..end];
        trim_next = inner.ends_with(" -");
        if trim_before {
            inner = &inner[1..];
        }
        if trim_next {
            inner = &inner[..inner.len() - 1];
        }
        tokens.push(Token::Action(inner.trim().to_string()));
        rest = &after[end + 2..];
    }
    let literal = if trim_next { rest.trim_start() } else { rest };
    if !literal.is_empty() {
        tokens.push(Token::Text(literal.to_string()));
    }
    Ok(tokens)
}

/// Where the action's `}}` is, skipping any inside string literals.
fn find_close(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut quote = None;
    let mut i = 0;
    while i < bytes.len() {
        match (quote, bytes[i]) {
            (Some(b'"'), b'\\') => i += 1,
            (Some(q), c) if c == q => quote = None,
            (None, b'"' | b'`') => quote = Some(bytes[i]),
            (None, b'}') if bytes.get(i + 1) == Some(&b'}') => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

/// Parses nodes up to `end` or `else` (returned) or the end of input.
fn parse_nodes(
    tokens: &[Token],
    pos: &mut usize,
) -> Result<(Vec<Node>, Option<&'static str>), TemplateError> {
    let mut nodes = Vec::new();
    while let Some(token) = tokens.get(*pos) {
        *pos += 1;
        match token {
            Token::Text(text) => nodes.push(Node::Text(text.clone())),
            Token::Action(action) => {
                let (word, rest) = action
                    .split_once(char::is_whitespace)
                    .unwrap_or((action.as_str(), ""));
                let keyword = match word {
                    "end" => return Ok((nodes, Some("end"))),
                    "else" => return Ok((nodes, Some("else"))),
                    "range" => Keyword::Range,
                    "if" => Keyword::If,
                    "with" => Keyword::With,
                    _ if action.starts_with("/*") => continue,
                    _ => {
                        nodes.push(Node::Print(parse_pipeline(action)?));
                        continue;
                    }
                };
                let pipeline = parse_pipeline(rest)?;
                let (body, end) = parse_nodes(tokens, pos)?;
                let otherwise = match end {
                    Some("else") => match parse_nodes(tokens, pos)? {
                        (nodes, Some("end")) => nodes,
                        _ => return err(format!("unexpected EOF in {word}")),
                    },
                    Some(_) => Vec::new(),
                    None => return err(format!("unexpected EOF in {word}")),
                };
                nodes.push(Node::Block(keyword, pipeline, body, otherwise));
            }
        }
    }
    Ok((nodes, None))
}

fn parse_pipeline(text: &str) -> Result<Pipeline, TemplateError> {
    let words = split_words(text)?;
    if words.is_empty() {
        return err("missing value for command");
    }
    let mut pipeline = vec![Vec::new()];
    for word in words {
        if word == "|" {
            pipeline.push(Vec::new());
            continue;
        }
        let arg = if let Some(inner) = word.strip_prefix('(').and_then(|w| w.strip_suffix(')')) {
            Arg::Pipe(parse_pipeline(inner)?)
        } else if word == "." {
            Arg::Field(Vec::new())
        } else if let Some(path) = word.strip_prefix('.') {
            Arg::Field(path.split('.').map(str::to_string).collect())
        } else if let Some(s) = word.strip_prefix('"') {
            Arg::Str(unquote(s.strip_suffix('"').unwrap_or(s)))
        } else if let Some(s) = word.strip_prefix('`') {
            Arg::Str(s.strip_suffix('`').unwrap_or(s).to_string())
        } else if let Ok(n) = word.parse() {
            Arg::Num(n)
        } else if word.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            Arg::Func(word)
        } else {
            return err(format!("unexpected {word:?} in command"));
        };
        pipeline.last_mut().expect("one command at least").push(arg);
    }
    if pipeline.iter().any(Vec::is_empty) {
        return err("missing command in pipeline");
    }
    Ok(pipeline)
}

fn unquote(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match (c, c == '\\') {
            (_, true) => match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(other) => out.push(other),
                None => {}
            },
            _ => out.push(c),
        }
    }
    out
}

/// Splits an action into words: strings, `(...)` groups and `|` stay whole.
fn split_words(text: &str) -> Result<Vec<String>, TemplateError> {
    let mut words = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        match c {
            '"' | '`' => {
                i += 1;
                while i < chars.len() && chars[i] != c {
                    i += if c == '"' && chars[i] == '\\' { 2 } else { 1 };
                }
                if i >= chars.len() {
                    return err("unterminated quoted string");
                }
                i += 1;
            }
            '(' => {
                let mut depth = 0;
                while i < chars.len() {
                    depth += match chars[i] {
                        '(' => 1,
                        ')' => -1,
                        _ => 0,
                    };
                    i += 1;
                    if depth == 0 {
                        break;
                    }
                }
                if depth != 0 {
                    return err("unclosed left paren");
                }
            }
            '|' => i += 1,
            _ => {
                while i < chars.len() && !chars[i].is_whitespace() && !"|()".contains(chars[i]) {
                    i += 1;
                }
            }
        }
        words.push(chars[start..i].iter().collect());
    }
    Ok(words)
}

fn exec(nodes: &[Node], dot: &Value, out: &mut String) -> Result<(), TemplateError> {
    for node in nodes {
        match node {
            Node::Text(text) => out.push_str(text),
            Node::Print(pipeline) => {
                let value = eval_pipeline(pipeline, dot)?;
                write!(out, "{value}").expect("writing to a String");
            }
            Node::Block(keyword, pipeline, body, otherwise) => {
                let value = eval_pipeline(pipeline, dot)?;
                match keyword {
                    Keyword::If if value.truthy() => exec(body, dot, out)?,
                    Keyword::With if value.truthy() => exec(body, &value, out)?,
                    Keyword::Range if value.truthy() => match &value {
                        Value::List(items) => {
                            for item in items {
                                exec(body, item, out)?;
                            }
                        }
                        Value::Object(fields) => {
                            for (_, item) in fields {
                                exec(body, item, out)?;
                            }
                        }
                        other => return err(format!("range can't iterate over {other}")),
                    },
                    _ => exec(otherwise, dot, out)?,
                }
            }
        }
    }
    Ok(())
}

fn eval_pipeline(pipeline: &Pipeline, dot: &Value) -> Result<Value, TemplateError> {
    let mut previous = None;
    for command in pipeline {
        let mut args = Vec::new();
        for arg in &command[1..] {
            args.push(eval_arg(arg, dot)?);
        }
        args.extend(previous.take());
        previous = Some(match &command[0] {
            Arg::Func(name) => call(name, args)?,
            first if args.is_empty() => eval_arg(first, dot)?,
            first => return err(format!("can't give argument to non-function {first:?}")),
        });
    }
    Ok(previous.expect("a pipeline has a command"))
}

fn eval_arg(arg: &Arg, dot: &Value) -> Result<Value, TemplateError> {
    match arg {
        Arg::Field(path) => {
            let mut value = dot;
            for name in path {
                value = value.field(name).ok_or_else(|| {
                    TemplateError(format!(
                        "executing \"\" at <.{}>: can't evaluate field {name}",
                        path.join(".")
                    ))
                })?;
            }
            Ok(value.clone())
        }
        Arg::Str(s) => Ok(Value::Str(s.clone())),
        Arg::Num(n) => Ok(Value::Int(*n)),
        Arg::Func(name) => call(name, Vec::new()),
        Arg::Pipe(pipeline) => eval_pipeline(pipeline, dot),
    }
}

/// Go's builtins that docker users reach for, and docker's own functions.
fn call(name: &str, args: Vec<Value>) -> Result<Value, TemplateError> {
    let text = |i: usize| args.get(i).map(ToString::to_string).unwrap_or_default();
    let number = |i: usize| match args.get(i) {
        Some(Value::Int(n)) => Ok(*n),
        Some(Value::Uint(n)) => Ok(*n as i64),
        _ => err(format!("{name}: expected a number as argument {}", i + 1)),
    };
    let want = |n: usize| {
        if args.len() == n {
            Ok(())
        } else {
            err(format!(
                "wrong number of args for {name}: want {n} got {}",
                args.len()
            ))
        }
    };
    Ok(match name {
        "json" => {
            want(1)?;
            Value::Str(args[0].to_json())
        }
        "join" => {
            want(2)?;
            let items: Vec<String> = match &args[0] {
                Value::List(items) => items.iter().map(ToString::to_string).collect(),
                other => vec![other.to_string()],
            };
            Value::Str(items.join(&text(1)))
        }
        "split" => {
            want(2)?;
            Value::List(
                text(0)
                    .split(&text(1))
                    .map(|s| Value::Str(s.into()))
                    .collect(),
            )
        }
        "upper" => Value::Str(text(0).to_uppercase()),
        "lower" => Value::Str(text(0).to_lowercase()),
        "title" => Value::Str(
            text(0)
                .split(' ')
                .map(|w| {
                    let mut c = w.chars();
                    c.next()
                        .map(|f| f.to_uppercase().chain(c).collect())
                        .unwrap_or_default()
                })
                .collect::<Vec<String>>()
                .join(" "),
        ),
        "truncate" => {
            want(2)?;
            Value::Str(text(0).chars().take(number(1)?.max(0) as usize).collect())
        }
        "pad" => {
            want(3)?;
            let pad = |n: i64| " ".repeat(n.max(0) as usize);
            Value::Str(format!("{}{}{}", pad(number(1)?), text(0), pad(number(2)?)))
        }
        "len" => {
            want(1)?;
            Value::Int(match &args[0] {
                Value::List(items) => items.len(),
                Value::Object(fields) => fields.len(),
                other => other.to_string().len(),
            } as i64)
        }
        "index" => {
            want(2)?;
            match (&args[0], &args[1]) {
                (Value::List(items), Value::Int(i)) => {
                    items.get(*i as usize).cloned().unwrap_or(Value::Null)
                }
                (object, key) => object
                    .field(&key.to_string())
                    .cloned()
                    .unwrap_or(Value::Null),
            }
        }
        "println" => Value::Str(format!(
            "{}\n",
            args.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" ")
        )),
        _ => return err(format!("function {name:?} not defined")),
    })
}

/// A `--format` value: `table` (with an optional template after it) or a plain template.
#[derive(Debug)]
pub struct Format {
    template: Template,
    table: bool,
}

impl Format {
    /// Parses `--format` as docker does: `table` rows get a header and aligned
    /// columns; a literal `\t` or `\n` typed in the shell means a tab or newline;
    /// `table` alone means the command's `default` table.
    pub fn parse(format: &str, default: &str) -> Result<Format, TemplateError> {
        let (table, text) = match format.strip_prefix("table") {
            Some(rest) if rest.trim().is_empty() => (true, default),
            Some(rest) => (true, rest),
            None => (false, format),
        };
        let text = text
            .trim_matches(' ')
            .replace(r"\t", "\t")
            .replace(r"\n", "\n");
        Ok(Format {
            template: Template::parse(&text)?,
            table,
        })
    }

    /// Formats `rows`, one line each; a table gets the header (the template run
    /// on `header`, which maps each field to its column name) and aligned columns.
    pub fn render(&self, header: &Value, rows: &[Value]) -> Result<String, TemplateError> {
        let mut text = String::new();
        if self.table {
            text.push_str(&self.template.render(header)?);
            text.push('\n');
        }
        for row in rows {
            text.push_str(&self.template.render(row)?);
            text.push('\n');
        }
        Ok(if self.table { tabwrite(&text) } else { text })
    }
}

/// Go's `tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)`, as docker's tables use:
/// each tab-terminated cell is padded to its column's widest cell plus 3 (at
/// least 10); a column spans consecutive lines that have a cell in it.
pub fn tabwrite(text: &str) -> String {
    tabwrite_min(text, 10)
}

/// [`tabwrite`] with columns at least `min` wide (`docker top` uses 20).
pub fn tabwrite_min(text: &str, min: usize) -> String {
    let lines: Vec<Vec<&str>> = text.split('\n').map(|l| l.split('\t').collect()).collect();
    let mut out = String::new();
    let mut widths = Vec::new();
    format_block(&lines, 0, lines.len(), min, &mut widths, &mut out);
    out
}

fn format_block(
    lines: &[Vec<&str>],
    mut line0: usize,
    line1: usize,
    min: usize,
    widths: &mut Vec<usize>,
    out: &mut String,
) {
    let column = widths.len();
    let mut this = line0;
    while this < line1 {
        if column + 1 >= lines[this].len() {
            this += 1;
            continue;
        }
        write_lines(lines, line0, this, widths, out);
        line0 = this;
        let mut width = min;
        while this < line1 && column + 1 < lines[this].len() {
            width = width.max(lines[this][column].chars().count() + 3);
            this += 1;
        }
        widths.push(width);
        format_block(lines, line0, this, min, widths, out);
        widths.pop();
        line0 = this;
    }
    write_lines(lines, line0, line1, widths, out);
}

fn write_lines(lines: &[Vec<&str>], from: usize, to: usize, widths: &[usize], out: &mut String) {
    for (i, line) in lines.iter().enumerate().take(to).skip(from) {
        for (j, cell) in line.iter().enumerate() {
            out.push_str(cell);
            if j < widths.len() && j + 1 < line.len() {
                out.push_str(&" ".repeat(widths[j] - cell.chars().count()));
            }
        }
        if i + 1 < lines.len() {
            out.push('\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container() -> Value {
        serde_json::from_str(
            r#"{"Names":"web","Status":"Exited (0) 3 seconds ago",
                "State":{"Status":"exited","ExitCode":0},
                "Config":{"Env":["PATH=/bin","A=1"],"Cmd":["sh"],"Entrypoint":null},
                "RootFS":{"Type":"layers","Layers":["sha256:aa","sha256:bb"]}}"#,
        )
        .unwrap()
    }

    fn render(template: &str) -> String {
        Template::parse(template)
            .unwrap()
            .render(&container())
            .unwrap()
    }

    #[test]
    fn fields_nested_fields_and_go_printing() {
        assert_eq!(
            render("{{.Names}}: {{.Status}}"),
            "web: Exited (0) 3 seconds ago"
        );
        assert_eq!(render("{{.State.Status}} {{.State.ExitCode}}"), "exited 0");
        assert_eq!(render("{{.RootFS.Layers}}"), "[sha256:aa sha256:bb]");
        assert_eq!(render("{{.Config.Entrypoint}}"), "<nil>");
    }

    #[test]
    fn json_keeps_field_order() {
        assert_eq!(
            render("{{json .Config}}"),
            r#"{"Env":["PATH=/bin","A=1"],"Cmd":["sh"],"Entrypoint":null}"#
        );
        assert_eq!(render("{{json .Config.Env}}"), r#"["PATH=/bin","A=1"]"#);
        assert!(render("{{json .}}").starts_with(r#"{"Names":"web","#));
    }

    #[test]
    fn functions_pipelines_and_blocks() {
        assert_eq!(render(r#"{{join .Config.Env ","}}"#), "PATH=/bin,A=1");
        assert_eq!(
            render("{{range .Config.Env}}[{{.}}]{{end}}"),
            "[PATH=/bin][A=1]"
        );
        assert_eq!(render("{{.Names | upper}}"), "WEB");
        assert_eq!(render(r#"{{index (split .Status " ") 0}}"#), "Exited");
        assert_eq!(
            render("{{if .Config.Entrypoint}}yes{{else}}no{{end}}"),
            "no"
        );
        assert_eq!(render("{{with .State}}{{.Status}}{{end}}"), "exited");
        assert_eq!(render("a {{- .Names -}} b"), "awebb");
        assert_eq!(
            render(r#"{{range .Config.Env}}{{println .}}{{end}}"#),
            "PATH=/bin\nA=1\n"
        );
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let e = Template::parse("{{.Nope}}").unwrap().render(&container());
        assert_eq!(
            e.unwrap_err().to_string(),
            "template: executing \"\" at <.Nope>: can't evaluate field Nope"
        );
        assert!(Template::parse("{{range .X}}").is_err());
        assert!(
            Template::parse("{{nosuch .X}}")
                .unwrap()
                .render(&container())
                .is_err()
        );
    }

    #[test]
    fn tables_align_like_docker() {
        let format = Format::parse(r"table {{.Names}}\t{{.Status}}", "").unwrap();
        let header: Value = serde_json::from_str(r#"{"Names":"NAMES","Status":"STATUS"}"#).unwrap();
        let text = format.render(&header, &[container()]).unwrap();
        assert_eq!(
            text,
            "NAMES     STATUS\nweb       Exited (0) 3 seconds ago\n"
        );
        assert_eq!(
            tabwrite("CONTAINER ID\tIMAGE\tNAMES\nabc\tbusybox:latest\tx\n"),
            "CONTAINER ID   IMAGE            NAMES\nabc            busybox:latest   x\n"
        );
        let plain = Format::parse("{{.Names}}: {{.Status}}", "").unwrap();
        assert_eq!(
            plain.render(&header, &[container()]).unwrap(),
            "web: Exited (0) 3 seconds ago\n"
        );
    }
}
