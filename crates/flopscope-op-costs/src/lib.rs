//! `--op-costs FILE.toml`: custom ops declared in a TOML file, with their output shapes and
//! cost written as expressions, for users who do not write Rust (docs/op-costs.md).
//!
//! A file holds `[[op]]` tables; each becomes a [`TomlOp`], a [`DeclaredOp`] that the engine
//! uses for nodes no linked record covers. Everything that can be checked without a model is
//! checked when the file is loaded (syntax, names, roles, dtypes, duplicates, ops flopscope
//! already counts), and every such error names the file, line and column. What depends on a
//! node (an index out of range, an inexact division by a symbolic dim, an absent input) is an
//! [`OpError`] at profile time, which names the expression and where it is written; the
//! engine adds the node and op.

mod expr;

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use flopscope_counters::{
    Cost, CostCtx, DeclaredOp, InferCtx, OpClass, OpError, Role, UnknownOpClass, registry,
};
use flopscope_ir::{DType, Dim, TensorType, display_domain, domain_key};
use serde::Deserialize;
use toml::Spanned;

use expr::{Declaration, Expr, Item, Name, Operand, Operands, Ref};

/// A position in a file: line and column, both from 1 (the column counts characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// Why an op-costs file was rejected: the file, where in it (when the error has a place), and
/// what is wrong.
#[derive(Debug, thiserror::Error)]
#[error("{}{}: {kind}", .path.display(), .location.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct OpCostsError {
    pub path: PathBuf,
    pub location: Option<Location>,
    pub kind: OpCostsErrorKind,
}

/// What is wrong with an op-costs file.
#[derive(Debug, thiserror::Error)]
pub enum OpCostsErrorKind {
    #[error("cannot read the file: {0}")]
    Read(#[source] std::io::Error),
    /// TOML syntax, an unknown key, a missing field or a value of the wrong type: the `toml`
    /// crate's message.
    #[error("{0}")]
    Toml(String),
    /// An expression that does not parse.
    #[error("in `{expr}`: {message}")]
    Syntax { expr: String, message: String },
    /// A name that the op does not declare.
    #[error("unknown name `{name}` in `{expr}` (the op declares: {known})")]
    UnknownName {
        name: String,
        expr: String,
        known: String,
    },
    /// A name used where it does not fit (a tensor as a number, an output in a shape, ...).
    #[error("in `{expr}`: {message}")]
    Misused { expr: String, message: String },
    #[error("dtype `{0}` is neither an input of the op nor a dtype (float32, float16, int64, ...)")]
    Dtype(String),
    #[error("{op} is declared twice (first at {first})")]
    Duplicate { op: String, first: String },
    #[error(
        "{op} is already counted by flopscope; a declared op never replaces a built-in or linked \
         one, so this declaration would be ignored: remove it"
    )]
    AlreadyCounted { op: String },
    /// Any other rule of the format (names, roles, outputs).
    #[error("{0}")]
    Invalid(String),
}

/// Reads and checks an op-costs file.
pub fn load(path: &Path) -> Result<Vec<Arc<TomlOp>>, OpCostsError> {
    let text = std::fs::read_to_string(path).map_err(|e| OpCostsError {
        path: path.to_owned(),
        location: None,
        kind: OpCostsErrorKind::Read(e),
    })?;
    parse(&text, path)
}

/// Reads several op-costs files (`--op-costs` given more than once): an op declared in two of
/// them is an error.
pub fn load_all<P: AsRef<Path>>(paths: &[P]) -> Result<Vec<Arc<TomlOp>>, OpCostsError> {
    let mut all: Vec<Arc<TomlOp>> = Vec::new();
    for path in paths {
        for op in load(path.as_ref())? {
            if let Some(first) = all.iter().find(|o| o.key() == op.key()) {
                return Err(OpCostsError {
                    path: op.file.clone(),
                    location: Some(op.at),
                    kind: OpCostsErrorKind::Duplicate {
                        op: op.qualified_name(),
                        first: first.place(),
                    },
                });
            }
            all.push(op);
        }
    }
    Ok(all)
}

/// The ops as the engine takes them (`ProfileOptions::declared_ops`).
pub fn declared(ops: &[Arc<TomlOp>]) -> Vec<Arc<dyn DeclaredOp>> {
    ops.iter()
        .map(|op| Arc::clone(op) as Arc<dyn DeclaredOp>)
        .collect()
}

/// Checks the text of an op-costs file; `path` names it in errors and in the ops.
pub fn parse(text: &str, path: &Path) -> Result<Vec<Arc<TomlOp>>, OpCostsError> {
    let src = Source { text, path };
    let doc: FileDoc = toml::from_str(text).map_err(|e| {
        src.error(
            e.span().map(|s| src.location(s.start)),
            OpCostsErrorKind::Toml(one_line(e.message())),
        )
    })?;
    if doc.op.is_empty() {
        return Err(src.error(
            Some(Location { line: 1, column: 1 }),
            OpCostsErrorKind::Invalid(
                "the file declares no op: each op is an [[op]] table (docs/op-costs.md)".into(),
            ),
        ));
    }
    let mut ops: Vec<Arc<TomlOp>> = Vec::new();
    for op_doc in doc.op {
        let op = compile(&src, op_doc)?;
        if let Some(first) = ops.iter().find(|o| o.key() == op.key()) {
            return Err(src.error(
                Some(op.at),
                OpCostsErrorKind::Duplicate {
                    op: op.qualified_name(),
                    first: first.place(),
                },
            ));
        }
        ops.push(Arc::new(op));
    }
    Ok(ops)
}

/// Whitespace runs (newlines included) made single spaces.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

// ---- the file as written -----------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDoc {
    #[serde(default)]
    op: Vec<OpDoc>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OpDoc {
    domain: Spanned<String>,
    op_type: Spanned<String>,
    inputs: Vec<Spanned<String>>,
    #[serde(default)]
    optional: Vec<Spanned<String>>,
    #[serde(default)]
    weights: Vec<Spanned<String>>,
    #[serde(default)]
    biases: Vec<Spanned<String>>,
    #[serde(default)]
    buffers: Vec<Spanned<String>>,
    #[serde(default)]
    quant: Vec<Spanned<String>>,
    #[serde(default)]
    config: Vec<Spanned<String>>,
    #[serde(default)]
    attributes: BTreeMap<String, Spanned<i64>>,
    #[serde(default, rename = "let")]
    lets: BTreeMap<String, Spanned<ExprDoc>>,
    outputs: Spanned<Vec<OutputDoc>>,
    cost: CostDoc,
    formula: Option<Spanned<String>>,
    class: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OutputDoc {
    name: Spanned<String>,
    shape: Vec<Spanned<ExprDoc>>,
    dtype: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CostDoc {
    macs: Option<Spanned<ExprDoc>>,
    add: Option<Spanned<ExprDoc>>,
    mul: Option<Spanned<ExprDoc>>,
    div: Option<Spanned<ExprDoc>>,
    cmp: Option<Spanned<ExprDoc>>,
    special: Option<Spanned<ExprDoc>>,
}

/// An expression: a string, or a plain integer.
#[derive(Debug, Clone, Deserialize)]
#[serde(
    untagged,
    expecting = "expected an expression (a string such as \"X[-1] * 2\") or an integer"
)]
enum ExprDoc {
    Int(i64),
    Text(String),
}

impl ExprDoc {
    fn text(&self) -> String {
        match self {
            ExprDoc::Int(v) => v.to_string(),
            ExprDoc::Text(s) => s.clone(),
        }
    }
}

/// The file's text, to turn byte offsets into lines and columns.
struct Source<'a> {
    text: &'a str,
    path: &'a Path,
}

impl Source<'_> {
    fn location(&self, byte: usize) -> Location {
        let mut byte = byte.min(self.text.len());
        while !self.text.is_char_boundary(byte) {
            byte -= 1;
        }
        let before = &self.text[..byte];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        Location {
            line: before.matches('\n').count() + 1,
            column: before[line_start..].chars().count() + 1,
        }
    }

    /// Where byte `offset` of a string value is, the value's literal spanning `span`: exact
    /// for a one-line literal without escapes, else the literal's start.
    fn in_value(&self, span: &Range<usize>, value: &str, offset: usize) -> Location {
        let plain = self.text.get(span.clone()).is_some_and(|raw| {
            raw.len() == value.len() + 2
                && ["\"", "'"]
                    .iter()
                    .any(|q| raw.starts_with(q) && raw.ends_with(q))
                && raw.get(1..raw.len() - 1) == Some(value)
        });
        if plain {
            self.location(span.start + 1 + offset)
        } else {
            self.location(span.start)
        }
    }

    fn error(&self, location: Option<Location>, kind: OpCostsErrorKind) -> OpCostsError {
        OpCostsError {
            path: self.path.to_owned(),
            location,
            kind,
        }
    }
}

// ---- the checked declaration -------------------------------------------------------------------

/// An expression as declared: resolved, with its text and where it is written.
#[derive(Debug)]
struct Written<T> {
    value: T,
    text: String,
    at: Location,
}

#[derive(Debug)]
struct InputDecl {
    name: String,
    role: Role,
    optional: bool,
}

#[derive(Debug)]
enum DtypeRule {
    /// The dtype of this input.
    Input(usize),
    Fixed(DType),
}

#[derive(Debug)]
struct OutputDecl {
    name: String,
    shape: Vec<Written<Item<Ref>>>,
    dtype: DtypeRule,
}

/// One op declared in an op-costs file.
#[derive(Debug)]
pub struct TomlOp {
    file: PathBuf,
    /// Where its `op_type` is written.
    at: Location,
    domain: String,
    op_type: String,
    inputs: Vec<InputDecl>,
    /// Integer attributes and their defaults.
    attrs: Vec<(String, i64)>,
    outputs: Vec<OutputDecl>,
    /// `let` definitions, in file order.
    lets: Vec<(String, Written<Expr<Ref>>)>,
    /// By kind (`macs`, `add`, `mul`, `div`, `cmp`, `special`); absent kinds cost 0.
    cost: Vec<(&'static str, Written<Expr<Ref>>)>,
    formula: String,
    class: OpClass,
}

impl TomlOp {
    /// The file that declares it.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// Where in the file (its `op_type`).
    pub fn location(&self) -> Location {
        self.at
    }

    /// `domain::op_type`, the default domain written `ai.onnx`.
    pub fn qualified_name(&self) -> String {
        format!("{}::{}", display_domain(&self.domain), self.op_type)
    }

    fn key(&self) -> (&str, &str) {
        (domain_key(&self.domain), &self.op_type)
    }

    fn place(&self) -> String {
        format!("{}:{}", self.file.display(), self.at)
    }
}

impl Declaration for TomlOp {
    fn name(&self, r: Ref) -> &str {
        match r {
            Ref::Input(i) => &self.inputs[i].name,
            Ref::Output(i) => &self.outputs[i].name,
            Ref::Attr(i) => &self.attrs[i].0,
            Ref::Let(i) => &self.lets[i].0,
        }
    }

    fn eval_let(&self, i: usize, ops: &Operands<'_>) -> Result<Dim, String> {
        let (name, w) = &self.lets[i];
        expr::eval(&w.value, ops, self).map_err(|m| {
            format!(
                "`{name}` = `{}` ({}:{}): {m}",
                one_line(&w.text),
                self.file.display(),
                w.at
            )
        })
    }
}

/// What a declared name stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Meaning {
    Input(usize),
    Output(usize),
    Attr(usize),
    Let(usize),
}

impl Meaning {
    fn describe(self) -> &'static str {
        match self {
            Meaning::Input(_) => "an input",
            Meaning::Output(_) => "an output",
            Meaning::Attr(_) => "an attribute",
            Meaning::Let(_) => "a `let`",
        }
    }
}

/// A `let` definition while the op is checked.
struct LetDef {
    name: String,
    text: String,
    span: Range<usize>,
    parsed: Expr<Name>,
}

/// Resolves names in one op's expressions.
struct Resolver<'s> {
    src: &'s Source<'s>,
    names: BTreeMap<String, (Meaning, Location)>,
    lets: Vec<LetDef>,
    /// Resolved lets, and whether they read an output.
    done: Vec<Option<(Expr<Ref>, bool)>>,
    /// The lets being resolved, innermost last (to report cycles).
    stack: Vec<usize>,
}

/// Where an expression is written: its literal's span and its text.
#[derive(Clone, Copy)]
struct Place<'a> {
    span: &'a Range<usize>,
    text: &'a str,
}

impl Resolver<'_> {
    fn at(&self, place: Place<'_>, offset: usize) -> Location {
        self.src.in_value(place.span, place.text, offset)
    }

    fn declare(&mut self, name: &Spanned<String>, meaning: Meaning) -> Result<(), OpCostsError> {
        let at = self.src.location(name.span().start);
        let text = name.get_ref();
        let valid = text
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(self.src.error(
                Some(at),
                OpCostsErrorKind::Invalid(format!(
                    "`{text}` is not a name: names are letters, digits and `_`, not starting \
                     with a digit"
                )),
            ));
        }
        if expr::FUNCTIONS.contains(&text.as_str()) {
            return Err(self.src.error(
                Some(at),
                OpCostsErrorKind::Invalid(format!(
                    "`{text}` is a function of the expression language, not a name to declare"
                )),
            ));
        }
        if let Some((old, old_at)) = self.names.get(text) {
            return Err(self.src.error(
                Some(at),
                OpCostsErrorKind::Invalid(format!(
                    "`{text}` is declared twice in this op (it is already {} at {old_at})",
                    old.describe()
                )),
            ));
        }
        self.names.insert(text.clone(), (meaning, at));
        Ok(())
    }

    fn known(&self) -> String {
        let mut by_kind: Vec<(Meaning, &str)> = self
            .names
            .iter()
            .map(|(n, (m, _))| (*m, n.as_str()))
            .collect();
        by_kind.sort_by_key(|(m, _)| match m {
            Meaning::Input(i) => (0, *i),
            Meaning::Output(i) => (1, *i),
            Meaning::Attr(i) => (2, *i),
            Meaning::Let(i) => (3, *i),
        });
        by_kind
            .iter()
            .map(|(_, n)| *n)
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn unknown(&self, place: Place<'_>, name: &Name) -> OpCostsError {
        self.src.error(
            Some(self.at(place, name.at)),
            OpCostsErrorKind::UnknownName {
                name: name.text.clone(),
                expr: place.text.to_owned(),
                known: self.known(),
            },
        )
    }

    fn misused(&self, place: Place<'_>, name: &Name, message: String) -> OpCostsError {
        self.src.error(
            Some(self.at(place, name.at)),
            OpCostsErrorKind::Misused {
                expr: place.text.to_owned(),
                message,
            },
        )
    }

    /// A name used as a tensor (`X[i]`, `rank(X)`, `numel(X)`, `has(X)`).
    fn tensor(&self, name: &Name, place: Place<'_>, outputs: bool) -> Result<Ref, OpCostsError> {
        match self.names.get(&name.text).map(|(m, _)| *m) {
            Some(Meaning::Input(i)) => Ok(Ref::Input(i)),
            Some(Meaning::Output(i)) if outputs => Ok(Ref::Output(i)),
            Some(Meaning::Output(_)) => Err(self.misused(
                place,
                name,
                format!(
                    "output `{}` is not known while shapes are inferred: shapes read inputs \
                     and attributes",
                    name.text
                ),
            )),
            Some(m @ (Meaning::Attr(_) | Meaning::Let(_))) => Err(self.misused(
                place,
                name,
                format!(
                    "`{}` is {}, a number, not a tensor",
                    name.text,
                    m.describe()
                ),
            )),
            None => Err(self.unknown(place, name)),
        }
    }

    /// Resolves an expression; `outputs` says whether it may read outputs (costs may, shapes
    /// may not).
    fn expr(
        &mut self,
        e: &Expr<Name>,
        place: Place<'_>,
        outputs: bool,
    ) -> Result<Expr<Ref>, OpCostsError> {
        let sub = |r: &mut Self, e: &Expr<Name>| r.expr(e, place, outputs).map(Box::new);
        Ok(match e {
            Expr::Int(v) => Expr::Int(*v),
            Expr::Var(name) => match self.names.get(&name.text).map(|(m, _)| *m) {
                Some(Meaning::Attr(i)) => Expr::Var(Ref::Attr(i)),
                Some(Meaning::Let(i)) => {
                    let reads_outputs = self.let_value(i, place, name)?;
                    if reads_outputs && !outputs {
                        return Err(self.misused(
                            place,
                            name,
                            format!(
                                "`{}` reads an output, which a shape cannot (outputs are known \
                                 only after the shapes)",
                                name.text
                            ),
                        ));
                    }
                    Expr::Var(Ref::Let(i))
                }
                Some(Meaning::Input(_) | Meaning::Output(_)) => {
                    return Err(self.misused(
                        place,
                        name,
                        format!(
                            "`{0}` is a tensor: use one of its dims `{0}[i]`, `rank({0})` or \
                             `numel({0})`",
                            name.text
                        ),
                    ));
                }
                None => return Err(self.unknown(place, name)),
            },
            Expr::Dim(name, i) => Expr::Dim(self.tensor(name, place, outputs)?, sub(self, i)?),
            Expr::Rank(name) => Expr::Rank(self.tensor(name, place, outputs)?),
            Expr::Numel(name, s) => {
                let t = self.tensor(name, place, outputs)?;
                let s = match s {
                    None => None,
                    Some(s) => Some(self.slice(s, place, outputs)?),
                };
                Expr::Numel(t, s)
            }
            Expr::Has(name) => match self.tensor(name, place, outputs)? {
                r @ Ref::Input(_) => Expr::Has(r),
                _ => {
                    return Err(self.misused(
                        place,
                        name,
                        format!("has() takes an input, and `{}` is an output", name.text),
                    ));
                }
            },
            Expr::Neg(a) => Expr::Neg(sub(self, a)?),
            Expr::Bin(op, a, b) => Expr::Bin(*op, sub(self, a)?, sub(self, b)?),
            Expr::CeilDiv(a, b) => Expr::CeilDiv(sub(self, a)?, sub(self, b)?),
            Expr::Min(args) | Expr::Max(args) => {
                let args = args
                    .iter()
                    .map(|a| self.expr(a, place, outputs))
                    .collect::<Result<Vec<_>, _>>()?;
                if matches!(e, Expr::Min(_)) {
                    Expr::Min(args)
                } else {
                    Expr::Max(args)
                }
            }
        })
    }

    fn slice(
        &mut self,
        s: &expr::Slice<Name>,
        place: Place<'_>,
        outputs: bool,
    ) -> Result<expr::Slice<Ref>, OpCostsError> {
        let mut bound = |b: &Option<Box<Expr<Name>>>| -> Result<_, OpCostsError> {
            b.as_ref()
                .map(|e| self.expr(e, place, outputs).map(Box::new))
                .transpose()
        };
        Ok(expr::Slice {
            lo: bound(&s.lo)?,
            hi: bound(&s.hi)?,
        })
    }

    /// Resolves `let` number `i` (once), used at `name` in `place`; whether it reads an
    /// output, itself or through other lets.
    fn let_value(&mut self, i: usize, place: Place<'_>, name: &Name) -> Result<bool, OpCostsError> {
        if let Some((_, reads_outputs)) = &self.done[i] {
            return Ok(*reads_outputs);
        }
        if let Some(pos) = self.stack.iter().position(|&j| j == i) {
            let cycle: Vec<&str> = self.stack[pos..]
                .iter()
                .chain([&i])
                .map(|&j| self.lets[j].name.as_str())
                .collect();
            return Err(self.misused(
                place,
                name,
                format!(
                    "`{}` is defined in terms of itself ({})",
                    name.text,
                    cycle.join(" → ")
                ),
            ));
        }
        self.stack.push(i);
        let parsed = self.lets[i].parsed.clone();
        let span = self.lets[i].span.clone();
        let text = self.lets[i].text.clone();
        let value = self.expr(
            &parsed,
            Place {
                span: &span,
                text: &text,
            },
            true,
        )?;
        self.stack.pop();
        let mut reads_outputs = false;
        value.visit_names(&mut |r| {
            reads_outputs |= match r {
                Ref::Output(_) => true,
                Ref::Let(j) => self.done[*j].as_ref().is_some_and(|(_, o)| *o),
                Ref::Input(_) | Ref::Attr(_) => false,
            }
        });
        self.done[i] = Some((value, reads_outputs));
        Ok(reads_outputs)
    }
}

/// Parses an expression value, syntax errors placed in the file.
fn parse_value<T>(
    src: &Source<'_>,
    value: &Spanned<ExprDoc>,
    parse: impl Fn(&str) -> Result<T, expr::ParseError>,
) -> Result<(T, String), OpCostsError> {
    let text = value.get_ref().text();
    match parse(&text) {
        Ok(e) => Ok((e, text)),
        Err(e) => Err(src.error(
            Some(src.in_value(&value.span(), &text, e.at)),
            OpCostsErrorKind::Syntax {
                expr: text.clone(),
                message: e.message,
            },
        )),
    }
}

/// The dtype named `name`, if it is one (`float32`, `int64`, ... as reports print them).
fn dtype_named(name: &str) -> Option<DType> {
    (1..=64)
        .filter_map(DType::from_code)
        .find(|d| d.name() == name)
}

const COST_KINDS: [&str; 6] = ["macs", "add", "mul", "div", "cmp", "special"];

/// Checks one `[[op]]` table.
fn compile(src: &Source<'_>, doc: OpDoc) -> Result<TomlOp, OpCostsError> {
    let at = src.location(doc.op_type.span().start);
    let domain = doc.domain.get_ref().trim().to_owned();
    let op_type = doc.op_type.get_ref().trim().to_owned();
    if op_type.is_empty() || op_type.contains(char::is_whitespace) {
        return Err(src.error(
            Some(at),
            OpCostsErrorKind::Invalid(format!(
                "`{op_type}` is not an op type: it must be one word, as models name the op"
            )),
        ));
    }
    let qualified = format!("{}::{op_type}", display_domain(domain_key(&domain)));
    if registry().knows(&domain, &op_type) {
        return Err(src.error(Some(at), OpCostsErrorKind::AlreadyCounted { op: qualified }));
    }

    let mut r = Resolver {
        src,
        names: BTreeMap::new(),
        lets: Vec::new(),
        done: Vec::new(),
        stack: Vec::new(),
    };

    // Inputs, roles and optional inputs.
    let mut inputs = Vec::new();
    for (i, name) in doc.inputs.iter().enumerate() {
        r.declare(name, Meaning::Input(i))?;
        inputs.push(InputDecl {
            name: name.get_ref().clone(),
            role: Role::Data,
            optional: false,
        });
    }
    let input_of = |r: &Resolver<'_>, name: &Spanned<String>, list: &str| match r
        .names
        .get(name.get_ref())
        .map(|(m, _)| *m)
    {
        Some(Meaning::Input(i)) => Ok(i),
        _ => Err(src.error(
            Some(src.location(name.span().start)),
            OpCostsErrorKind::UnknownName {
                name: name.get_ref().clone(),
                expr: list.to_owned(),
                known: inputs_list(&doc.inputs),
            },
        )),
    };
    let role_lists = [
        ("weights", Role::Weight, &doc.weights),
        ("biases", Role::Bias, &doc.biases),
        ("buffers", Role::Buffer, &doc.buffers),
        ("quant", Role::Quant, &doc.quant),
        ("config", Role::Config, &doc.config),
    ];
    let mut role_of: BTreeMap<usize, &str> = BTreeMap::new();
    for (list, role, names) in role_lists {
        for name in names {
            let i = input_of(&r, name, list)?;
            if let Some(other) = role_of.insert(i, list) {
                return Err(src.error(
                    Some(src.location(name.span().start)),
                    OpCostsErrorKind::Invalid(format!(
                        "input `{}` is listed in both `{other}` and `{list}`: an input has one role",
                        name.get_ref()
                    )),
                ));
            }
            inputs[i].role = role;
        }
    }
    for name in &doc.optional {
        let i = input_of(&r, name, "optional")?;
        inputs[i].optional = true;
    }

    // Attributes, outputs and lets share the name space with the inputs.
    let mut attrs = Vec::new();
    for (i, (name, default)) in doc.attributes.iter().enumerate() {
        let spanned = Spanned::new(default.span(), name.clone());
        r.declare(&spanned, Meaning::Attr(i))?;
        attrs.push((name.clone(), *default.get_ref()));
    }
    if doc.outputs.get_ref().is_empty() {
        return Err(src.error(
            Some(src.location(doc.outputs.span().start)),
            OpCostsErrorKind::Invalid(
                "the op declares no output: add an [[op.outputs]] table".into(),
            ),
        ));
    }
    for (j, out) in doc.outputs.get_ref().iter().enumerate() {
        r.declare(&out.name, Meaning::Output(j))?;
    }
    // Lets in the order they are written, so that errors come in reading order.
    let mut let_docs: Vec<(&String, &Spanned<ExprDoc>)> = doc.lets.iter().collect();
    let_docs.sort_by_key(|(_, v)| v.span().start);
    for (i, (name, value)) in let_docs.iter().enumerate() {
        r.declare(
            &Spanned::new(value.span(), (*name).clone()),
            Meaning::Let(i),
        )?;
        let (parsed, text) = parse_value(src, value, expr::parse_expr)?;
        r.lets.push(LetDef {
            name: (*name).clone(),
            text,
            span: value.span(),
            parsed,
        });
        r.done.push(None);
    }
    for i in 0..r.lets.len() {
        let name = Name {
            text: r.lets[i].name.clone(),
            at: 0,
        };
        let span = r.lets[i].span.clone();
        let text = r.lets[i].text.clone();
        r.let_value(
            i,
            Place {
                span: &span,
                text: &text,
            },
            &name,
        )?;
    }

    // Outputs: shapes and dtypes.
    let mut outputs = Vec::new();
    for out in doc.outputs.get_ref() {
        let mut shape = Vec::new();
        for item in &out.shape {
            let (parsed, text) = parse_value(src, item, expr::parse_item)?;
            let span = item.span();
            let place = Place {
                span: &span,
                text: &text,
            };
            let value = match parsed {
                Item::One(e) => Item::One(r.expr(&e, place, false)?),
                Item::Slice(name, s) => {
                    Item::Slice(r.tensor(&name, place, false)?, r.slice(&s, place, false)?)
                }
            };
            shape.push(Written {
                value,
                at: src.in_value(&span, &text, 0),
                text,
            });
        }
        let dtype = match &out.dtype {
            Some(d) => match r.names.get(d.get_ref().trim()).map(|(m, _)| *m) {
                Some(Meaning::Input(i)) => DtypeRule::Input(i),
                _ => match dtype_named(d.get_ref().trim()) {
                    Some(t) => DtypeRule::Fixed(t),
                    None => {
                        return Err(src.error(
                            Some(src.location(d.span().start)),
                            OpCostsErrorKind::Dtype(d.get_ref().clone()),
                        ));
                    }
                },
            },
            None if !inputs.is_empty() => DtypeRule::Input(0),
            None => {
                return Err(src.error(
                    Some(src.location(out.name.span().start)),
                    OpCostsErrorKind::Invalid(format!(
                        "output `{}` needs a dtype: the op has no input to take it from",
                        out.name.get_ref()
                    )),
                ));
            }
        };
        outputs.push(OutputDecl {
            name: out.name.get_ref().clone(),
            shape,
            dtype,
        });
    }

    // Costs.
    let c = &doc.cost;
    let mut cost = Vec::new();
    for (kind, value) in COST_KINDS
        .into_iter()
        .zip([&c.macs, &c.add, &c.mul, &c.div, &c.cmp, &c.special])
    {
        let Some(value) = value else { continue };
        let (parsed, text) = parse_value(src, value, expr::parse_expr)?;
        let span = value.span();
        let resolved = r.expr(
            &parsed,
            Place {
                span: &span,
                text: &text,
            },
            true,
        )?;
        cost.push((
            kind,
            Written {
                value: resolved,
                at: src.in_value(&span, &text, 0),
                text,
            },
        ));
    }

    let formula = match &doc.formula {
        Some(f) if !f.get_ref().trim().is_empty() => one_line(f.get_ref()),
        Some(f) => {
            return Err(src.error(
                Some(src.location(f.span().start)),
                OpCostsErrorKind::Invalid(
                    "the formula is empty: leave it out to have one derived from the costs".into(),
                ),
            ));
        }
        None => derived_formula(&cost, &r.lets),
    };
    let class = match &doc.class {
        None => OpClass::Other,
        Some(c) => c.get_ref().parse().map_err(|e: UnknownOpClass| {
            src.error(
                Some(src.location(c.span().start)),
                OpCostsErrorKind::Invalid(e.to_string()),
            )
        })?,
    };
    let mut lets = Vec::new();
    for (def, done) in r.lets.into_iter().zip(r.done) {
        let Some((value, _)) = done else {
            // Every let was resolved above.
            continue;
        };
        lets.push((
            def.name,
            Written {
                value,
                at: src.in_value(&def.span, &def.text, 0),
                text: def.text,
            },
        ));
    }

    Ok(TomlOp {
        file: src.path.to_owned(),
        at,
        domain,
        op_type,
        inputs,
        attrs,
        outputs,
        lets,
        cost,
        formula,
        class,
    })
}

fn inputs_list(inputs: &[Spanned<String>]) -> String {
    inputs
        .iter()
        .map(|n| n.get_ref().as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `macs = ...; add = ...; where M = ..., K = ...` from the costs as written.
fn derived_formula(cost: &[(&str, Written<Expr<Ref>>)], lets: &[LetDef]) -> String {
    let mut out = if cost.is_empty() {
        "no arithmetic".to_owned()
    } else {
        cost.iter()
            .map(|(kind, w)| format!("{kind} = {}", one_line(&w.text)))
            .collect::<Vec<_>>()
            .join("; ")
    };
    if !lets.is_empty() {
        let defs: Vec<String> = lets
            .iter()
            .map(|l| format!("{} = {}", l.name, one_line(&l.text)))
            .collect();
        out.push_str("; where ");
        out.push_str(&defs.join(", "));
    }
    out
}

// ---- the op at work ----------------------------------------------------------------------------

impl TomlOp {
    /// The node's inputs and attributes as expressions read them; checks the inputs against
    /// the declaration.
    fn operands<'t>(
        &self,
        given: usize,
        tensor: impl Fn(usize) -> Result<Option<&'t TensorType>, OpError>,
        attr: impl Fn(&str) -> Result<Option<i64>, OpError>,
    ) -> Result<Operands<'t>, OpError> {
        if given > self.inputs.len() {
            return Err(OpError::Invalid(format!(
                "the node has {given} inputs, but {} declares {} ({}) in {}",
                self.qualified_name(),
                self.inputs.len(),
                self.inputs
                    .iter()
                    .map(|i| i.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                self.place()
            )));
        }
        let mut inputs = Vec::with_capacity(self.inputs.len());
        for (i, decl) in self.inputs.iter().enumerate() {
            match tensor(i)? {
                Some(t) => inputs.push(Operand::Tensor(t)),
                None if decl.optional => inputs.push(Operand::Absent),
                None => {
                    return Err(OpError::Invalid(format!(
                        "input {i} (`{}`) is missing, and {} does not declare it optional",
                        decl.name,
                        self.place()
                    )));
                }
            }
        }
        let attrs = self
            .attrs
            .iter()
            .map(|(name, default)| Ok(Dim::from_i64(attr(name)?.unwrap_or(*default))))
            .collect::<Result<Vec<_>, OpError>>()?;
        Ok(Operands::new(inputs, attrs, self.lets.len()))
    }

    /// An evaluation error, with what was evaluated and where it is written.
    fn eval_error<T>(&self, what: &str, w: &Written<T>, message: String) -> OpError {
        OpError::Invalid(format!(
            "{what} `{}` ({}:{}): {message}",
            one_line(&w.text),
            self.file.display(),
            w.at
        ))
    }

    /// A value that must not be negative: a dim, or a cost.
    fn non_negative<T>(&self, what: &str, w: &Written<T>, d: Dim) -> Result<Dim, OpError> {
        match d.as_i64() {
            Some(v) if v < 0 => Err(self.eval_error(what, w, format!("the value is {v}"))),
            _ => Ok(d),
        }
    }
}

impl DeclaredOp for TomlOp {
    fn domain(&self) -> &str {
        &self.domain
    }

    fn op_type(&self) -> &str {
        &self.op_type
    }

    fn role(&self, index: usize) -> Role {
        self.inputs.get(index).map_or(Role::Data, |i| i.role)
    }

    fn infer(&self, cx: &mut InferCtx<'_>) -> Result<(), OpError> {
        let ops = self.operands(
            cx.input_count(),
            |i| cx.opt_tensor(i),
            |name| cx.attr::<i64>(name),
        )?;
        if cx.output_count() > self.outputs.len() {
            return Err(OpError::Invalid(format!(
                "the node has {} outputs, but {} declares {} in {}",
                cx.output_count(),
                self.qualified_name(),
                self.outputs.len(),
                self.place()
            )));
        }
        for (j, out) in self.outputs.iter().enumerate().take(cx.output_count()) {
            if !cx.has_output(j) {
                continue;
            }
            let what = format!("the shape of output `{}`", out.name);
            let mut shape = Vec::new();
            for item in &out.shape {
                match &item.value {
                    Item::One(e) => {
                        let d = expr::eval(e, &ops, self)
                            .map_err(|m| self.eval_error(&what, item, m))?;
                        shape.push(self.non_negative(&what, item, d)?);
                    }
                    Item::Slice(t, s) => shape.extend_from_slice(
                        expr::slice(*t, s, &ops, self)
                            .map_err(|m| self.eval_error(&what, item, m))?,
                    ),
                }
            }
            let dtype = match out.dtype {
                DtypeRule::Fixed(d) => d,
                DtypeRule::Input(i) => match ops.inputs[i] {
                    Operand::Tensor(t) => t.dtype,
                    Operand::Absent => {
                        return Err(OpError::Invalid(format!(
                            "output `{}` takes the dtype of input `{}`, which this node does \
                             not give ({})",
                            out.name,
                            self.inputs[i].name,
                            self.place()
                        )));
                    }
                },
            };
            cx.set(j, TensorType::new(dtype, shape));
        }
        Ok(())
    }

    fn cost(&self, cx: &CostCtx<'_>) -> Result<Cost, OpError> {
        let mut ops = self.operands(
            cx.input_count(),
            |i| cx.opt_tensor(i),
            |name| cx.attr::<i64>(name),
        )?;
        ops.outputs = (0..self.outputs.len())
            .map(|j| cx.output(j).map_or(Operand::Absent, Operand::Tensor))
            .collect();
        let mut cost = Cost::zero();
        for (kind, w) in &self.cost {
            let what = format!("cost `{kind}`");
            let v = expr::eval(&w.value, &ops, self).map_err(|m| self.eval_error(&what, w, m))?;
            let v = self.non_negative(&what, w, v)?;
            let slot = match *kind {
                "macs" => &mut cost.macs,
                "add" => &mut cost.flops.add,
                "mul" => &mut cost.flops.mul,
                "div" => &mut cost.flops.div,
                "cmp" => &mut cost.flops.cmp,
                _ => &mut cost.flops.special,
            };
            *slot = v;
        }
        Ok(cost)
    }

    fn formula(&self) -> String {
        self.formula.clone()
    }

    fn class(&self) -> OpClass {
        self.class
    }
}

#[cfg(test)]
mod tests;
