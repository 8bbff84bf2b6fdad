//! The expression language of op-cost files: integer arithmetic over the dims of a node's
//! inputs and outputs and its integer attributes, evaluated to [`Dim`]s so that symbolic shapes
//! give symbolic costs.
//!
//! ```text
//! expr    := term (('+' | '-') term)*
//! term    := unary (('*' | '/') unary)*
//! unary   := '-' unary | primary
//! primary := INT | '(' expr ')' | NAME | NAME '[' expr ']'
//!          | rank(T) | numel(T) | numel(T[slice]) | has(T)
//!          | min(expr, expr, ...) | max(expr, expr, ...)
//!          | ceil(expr / expr) | floor(expr / expr) | ceil_div(expr, expr)
//! slice   := [expr] '..' [expr]          (a shape item may be a whole `T[slice]`)
//! ```
//!
//! Parsing gives an [`Expr`] over [`Name`]s (text and byte offset); the declaration resolves the
//! names to [`Ref`]s (an input, an output, an attribute or one of its `let` definitions), and
//! [`eval`] computes the value for one node.

use std::cell::RefCell;

use flopscope_ir::{Dim, TensorType};

/// Expressions nest at most this deep (parentheses, calls, operators on the right): deeper input
/// is an error rather than a deep recursion.
const MAX_DEPTH: usize = 64;

/// A name as written, with its byte offset in the expression text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Name {
    pub(super) text: String,
    pub(super) at: usize,
}

/// What a name resolves to in one op's declaration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ref {
    Input(usize),
    Output(usize),
    Attr(usize),
    /// A `let` definition, evaluated where it is used.
    Let(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
}

/// `T[lo..hi]`: dims `lo` (included) to `hi` (excluded), negative values counting from the end,
/// an omitted bound meaning the start or the end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Slice<N> {
    pub(super) lo: Option<Box<Expr<N>>>,
    pub(super) hi: Option<Box<Expr<N>>>,
}

/// An expression over names of type `N` ([`Name`] when parsed, [`Ref`] when resolved).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Expr<N> {
    Int(i64),
    /// A bare name: an attribute or a `let`.
    Var(N),
    /// `T[i]`: dim `i` of a tensor.
    Dim(N, Box<Expr<N>>),
    /// `rank(T)`.
    Rank(N),
    /// `numel(T)`, or `numel(T[slice])`: the product of those dims.
    Numel(N, Option<Slice<N>>),
    /// `has(T)`: 1 when the node gives the optional input, else 0.
    Has(N),
    Neg(Box<Expr<N>>),
    Bin(BinOp, Box<Expr<N>>, Box<Expr<N>>),
    /// `ceil(a / b)` and `ceil_div(a, b)`.
    CeilDiv(Box<Expr<N>>, Box<Expr<N>>),
    Min(Vec<Expr<N>>),
    Max(Vec<Expr<N>>),
}

/// One item of an output's shape: a dim, or a slice of a tensor's dims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Item<N> {
    One(Expr<N>),
    Slice(N, Slice<N>),
}

/// Function names, which no declared name may take.
pub(super) const FUNCTIONS: &[&str] = &[
    "rank", "numel", "has", "min", "max", "ceil", "floor", "ceil_div",
];

/// A syntax error at a byte offset of the expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ParseError {
    pub(super) at: usize,
    pub(super) message: String,
}

fn perr<T>(at: usize, message: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError {
        at,
        message: message.into(),
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Int(i64),
    Ident(String),
    Plus,
    Minus,
    Star,
    Slash,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    DotDot,
    End,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Int(v) => format!("`{v}`"),
            Tok::Ident(s) => format!("`{s}`"),
            Tok::Plus => "`+`".into(),
            Tok::Minus => "`-`".into(),
            Tok::Star => "`*`".into(),
            Tok::Slash => "`/`".into(),
            Tok::LParen => "`(`".into(),
            Tok::RParen => "`)`".into(),
            Tok::LBracket => "`[`".into(),
            Tok::RBracket => "`]`".into(),
            Tok::Comma => "`,`".into(),
            Tok::DotDot => "`..`".into(),
            Tok::End => "the end".into(),
        }
    }
}

fn lex(text: &str) -> Result<Vec<(Tok, usize)>, ParseError> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        let single = match c {
            b' ' | b'\t' | b'\n' | b'\r' => {
                i += 1;
                continue;
            }
            b'+' => Some(Tok::Plus),
            b'-' => Some(Tok::Minus),
            b'*' => Some(Tok::Star),
            b'/' => Some(Tok::Slash),
            b'(' => Some(Tok::LParen),
            b')' => Some(Tok::RParen),
            b'[' => Some(Tok::LBracket),
            b']' => Some(Tok::RBracket),
            b',' => Some(Tok::Comma),
            _ => None,
        };
        if let Some(tok) = single {
            out.push((tok, start));
            i += 1;
        } else if c == b'.' {
            if bytes.get(i + 1) != Some(&b'.') {
                return perr(start, "a single `.`: slices are written `a..b`");
            }
            out.push((Tok::DotDot, start));
            i += 2;
        } else if c.is_ascii_digit() {
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            let digits = &text[start..i];
            let value = digits.parse::<i64>().or_else(|_| {
                perr(
                    start,
                    format!("the integer {digits} does not fit in 64 bits"),
                )
            })?;
            out.push((Tok::Int(value), start));
        } else if c.is_ascii_alphabetic() || c == b'_' {
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            out.push((Tok::Ident(text[start..i].to_owned()), start));
        } else {
            let ch = text[start..].chars().next().unwrap_or('?');
            return perr(start, format!("unexpected character `{ch}`"));
        }
    }
    out.push((Tok::End, text.len()));
    Ok(out)
}

/// `T[i]` or `T[slice]` after the tensor's name.
enum Index {
    At(Expr<Name>),
    Slice(Slice<Name>),
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    pos: usize,
    depth: usize,
}

impl Parser {
    fn new(text: &str) -> Result<Parser, ParseError> {
        Ok(Parser {
            toks: lex(text)?,
            pos: 0,
            depth: 0,
        })
    }

    fn peek(&self) -> &Tok {
        &self.toks[self.pos].0
    }

    fn peek_at(&self, k: usize) -> &Tok {
        let i = (self.pos + k).min(self.toks.len() - 1);
        &self.toks[i].0
    }

    fn offset(&self) -> usize {
        self.toks[self.pos].1
    }

    fn bump(&mut self) -> (Tok, usize) {
        let t = self.toks[self.pos].clone();
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
        t
    }

    fn expect(&mut self, tok: Tok, context: &str) -> Result<(), ParseError> {
        if *self.peek() == tok {
            self.bump();
            Ok(())
        } else {
            perr(
                self.offset(),
                format!(
                    "expected {} {context}, found {}",
                    tok.describe(),
                    self.peek().describe()
                ),
            )
        }
    }

    fn finish(&self) -> Result<(), ParseError> {
        match self.peek() {
            Tok::End => Ok(()),
            t => perr(
                self.offset(),
                format!("unexpected {} after a complete expression", t.describe()),
            ),
        }
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return perr(
                self.offset(),
                format!("the expression nests more than {MAX_DEPTH} deep"),
            );
        }
        Ok(())
    }

    fn expr(&mut self) -> Result<Expr<Name>, ParseError> {
        self.enter()?;
        let mut lhs = self.term()?;
        loop {
            let op = match self.peek() {
                Tok::Plus => BinOp::Add,
                Tok::Minus => BinOp::Sub,
                _ => break,
            };
            self.bump();
            let rhs = self.term()?;
            lhs = Expr::Bin(op, Box::new(lhs), Box::new(rhs));
        }
        self.depth -= 1;
        Ok(lhs)
    }

    fn term(&mut self) -> Result<Expr<Name>, ParseError> {
        let mut lhs = self.unary()?;
        loop {
            let op = match self.peek() {
                Tok::Star => BinOp::Mul,
                Tok::Slash => BinOp::Div,
                _ => break,
            };
            self.bump();
            let rhs = self.unary()?;
            lhs = Expr::Bin(op, Box::new(lhs), Box::new(rhs));
        }
        Ok(lhs)
    }

    fn unary(&mut self) -> Result<Expr<Name>, ParseError> {
        if *self.peek() == Tok::Minus {
            self.bump();
            self.enter()?;
            let inner = self.unary()?;
            self.depth -= 1;
            return Ok(match inner {
                // A literal stays a literal (`-1` in `X[-1]`); i64::MIN is not reachable since
                // literals are at most i64::MAX.
                Expr::Int(v) => Expr::Int(-v),
                e => Expr::Neg(Box::new(e)),
            });
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr<Name>, ParseError> {
        let (tok, at) = self.bump();
        match tok {
            Tok::Int(v) => Ok(Expr::Int(v)),
            Tok::LParen => {
                let e = self.expr()?;
                self.expect(Tok::RParen, "to close `(`")?;
                Ok(e)
            }
            Tok::Ident(text) => {
                let name = Name { text, at };
                match self.peek() {
                    Tok::LParen => self.call(name),
                    Tok::LBracket => match self.index()? {
                        Index::At(i) => Ok(Expr::Dim(name, Box::new(i))),
                        Index::Slice(_) => perr(
                            at,
                            format!(
                                "a slice `{}[a..b]` stands for several dims: use it as a whole \
                                 shape item or inside numel()",
                                name.text
                            ),
                        ),
                    },
                    _ => Ok(Expr::Var(name)),
                }
            }
            Tok::End => perr(at, "the expression is incomplete"),
            t => perr(at, format!("unexpected {}", t.describe())),
        }
    }

    /// After `[`: `i]` or `lo..hi]`.
    fn index(&mut self) -> Result<Index, ParseError> {
        self.expect(Tok::LBracket, "")?;
        self.enter()?;
        if *self.peek() == Tok::RBracket {
            return perr(self.offset(), "expected an index or a slice");
        }
        let lo = if *self.peek() == Tok::DotDot {
            None
        } else {
            Some(Box::new(self.expr()?))
        };
        let index = if *self.peek() == Tok::DotDot {
            self.bump();
            let hi = if *self.peek() == Tok::RBracket {
                None
            } else {
                Some(Box::new(self.expr()?))
            };
            Index::Slice(Slice { lo, hi })
        } else {
            match lo {
                Some(i) => Index::At(*i),
                // `lo` is only omitted before `..`.
                None => return perr(self.offset(), "expected an index or a slice"),
            }
        };
        self.expect(Tok::RBracket, "to close `[`")?;
        self.depth -= 1;
        Ok(index)
    }

    /// A tensor name as a function's argument.
    fn tensor_arg(&mut self, function: &str) -> Result<Name, ParseError> {
        match self.bump() {
            (Tok::Ident(text), at) => Ok(Name { text, at }),
            (t, at) => perr(
                at,
                format!(
                    "{function}() takes the name of an input or output, found {}",
                    t.describe()
                ),
            ),
        }
    }

    fn call(&mut self, function: Name) -> Result<Expr<Name>, ParseError> {
        self.expect(Tok::LParen, "")?;
        self.enter()?;
        let f = function.text.as_str();
        let e = match f {
            "rank" => Expr::Rank(self.tensor_arg(f)?),
            "has" => Expr::Has(self.tensor_arg(f)?),
            "numel" => {
                let t = self.tensor_arg(f)?;
                if *self.peek() == Tok::LBracket {
                    match self.index()? {
                        Index::Slice(s) => Expr::Numel(t, Some(s)),
                        Index::At(_) => {
                            return perr(
                                t.at,
                                format!(
                                    "numel() takes a tensor or a slice of its dims (`{0}` or \
                                     `{0}[a..b]`), not one dim",
                                    t.text
                                ),
                            );
                        }
                    }
                } else {
                    Expr::Numel(t, None)
                }
            }
            "min" | "max" => {
                let mut args = vec![self.expr()?];
                while *self.peek() == Tok::Comma {
                    self.bump();
                    args.push(self.expr()?);
                }
                if args.len() < 2 {
                    return perr(function.at, format!("{f}() takes at least two arguments"));
                }
                if f == "min" {
                    Expr::Min(args)
                } else {
                    Expr::Max(args)
                }
            }
            "ceil_div" => {
                let a = self.expr()?;
                self.expect(Tok::Comma, "between ceil_div's two arguments")?;
                let b = self.expr()?;
                Expr::CeilDiv(Box::new(a), Box::new(b))
            }
            "ceil" | "floor" => match self.expr()? {
                Expr::Bin(BinOp::Div, a, b) if f == "ceil" => Expr::CeilDiv(a, b),
                // `/` already rounds down when it is not exact.
                e @ Expr::Bin(BinOp::Div, ..) => e,
                _ => return perr(function.at, format!("{f}() takes a division: {f}(a / b)")),
            },
            _ => {
                return perr(
                    function.at,
                    format!(
                        "unknown function `{f}` (there are {})",
                        FUNCTIONS.join(", ")
                    ),
                );
            }
        };
        self.expect(Tok::RParen, &format!("to close {f}("))?;
        self.depth -= 1;
        Ok(e)
    }
}

/// Parses one expression.
pub(super) fn parse_expr(text: &str) -> Result<Expr<Name>, ParseError> {
    let mut p = Parser::new(text)?;
    if *p.peek() == Tok::End {
        return perr(0, "the expression is empty");
    }
    let e = p.expr()?;
    p.finish()?;
    Ok(e)
}

/// Parses one item of a shape: an expression, or a whole `T[lo..hi]`.
pub(super) fn parse_item(text: &str) -> Result<Item<Name>, ParseError> {
    let mut p = Parser::new(text)?;
    if let (Tok::Ident(name), Tok::LBracket) = (p.peek().clone(), p.peek_at(1)) {
        let at = p.offset();
        p.bump();
        if let Index::Slice(s) = p.index()? {
            p.finish().or_else(|e| {
                perr(
                    e.at,
                    format!("a slice `{name}[a..b]` must be a whole shape item"),
                )
            })?;
            return Ok(Item::Slice(Name { text: name, at }, s));
        }
    }
    parse_expr(text).map(Item::One)
}

impl<N> Expr<N> {
    /// Calls `f` on every name, in reading order.
    pub(super) fn visit_names(&self, f: &mut impl FnMut(&N)) {
        match self {
            Expr::Int(_) => {}
            Expr::Var(n) | Expr::Rank(n) | Expr::Has(n) => f(n),
            Expr::Dim(n, i) => {
                f(n);
                i.visit_names(f);
            }
            Expr::Numel(n, s) => {
                f(n);
                if let Some(s) = s {
                    s.visit_names(f);
                }
            }
            Expr::Neg(e) => e.visit_names(f),
            Expr::Bin(_, a, b) | Expr::CeilDiv(a, b) => {
                a.visit_names(f);
                b.visit_names(f);
            }
            Expr::Min(args) | Expr::Max(args) => args.iter().for_each(|a| a.visit_names(f)),
        }
    }
}

impl<N> Slice<N> {
    fn visit_names(&self, f: &mut impl FnMut(&N)) {
        for bound in [&self.lo, &self.hi].into_iter().flatten() {
            bound.visit_names(f);
        }
    }
}

// ---- evaluation ------------------------------------------------------------------------------

/// A node's operand as an expression sees it.
#[derive(Debug, Clone, Copy)]
pub(super) enum Operand<'t> {
    Tensor(&'t TensorType),
    /// An optional input the node does not give, or an output it does not list.
    Absent,
}

/// What expressions read for one node: its operands by position, its attributes' values, and
/// the values of the `let`s evaluated so far.
#[derive(Debug)]
pub(super) struct Operands<'t> {
    pub(super) inputs: Vec<Operand<'t>>,
    pub(super) outputs: Vec<Operand<'t>>,
    pub(super) attrs: Vec<Dim>,
    /// By `let`, its value once computed (each is computed once per node, however often used).
    pub(super) lets: RefCell<Vec<Option<Dim>>>,
}

impl<'t> Operands<'t> {
    pub(super) fn new(inputs: Vec<Operand<'t>>, attrs: Vec<Dim>, lets: usize) -> Self {
        Operands {
            inputs,
            outputs: Vec::new(),
            attrs,
            lets: RefCell::new(vec![None; lets]),
        }
    }
}

/// The declaration an expression belongs to: the names of its inputs, outputs, attributes and
/// lets by position (for messages), and its lets' definitions.
pub(super) trait Declaration {
    fn name(&self, r: Ref) -> &str;
    /// Evaluates `let` number `i` (its errors placed at its definition).
    fn eval_let(&self, i: usize, ops: &Operands<'_>) -> Result<Dim, String>;
}

/// Evaluates an expression for one node; errors are plain messages that the caller places.
pub(super) fn eval(
    e: &Expr<Ref>,
    ops: &Operands<'_>,
    names: &dyn Declaration,
) -> Result<Dim, String> {
    Ok(match e {
        Expr::Int(v) => Dim::from_i64(*v),
        Expr::Var(r) => match r {
            Ref::Attr(i) => ops
                .attrs
                .get(*i)
                .cloned()
                .ok_or_else(|| format!("attribute `{}` has no value", names.name(*r)))?,
            Ref::Let(i) => {
                if let Some(v) = ops.lets.borrow().get(*i).cloned().flatten() {
                    return Ok(v);
                }
                let v = names.eval_let(*i, ops)?;
                if let Some(slot) = ops.lets.borrow_mut().get_mut(*i) {
                    *slot = Some(v.clone());
                }
                v
            }
            // Resolution leaves only attributes and lets as bare names.
            Ref::Input(_) | Ref::Output(_) => {
                return Err(format!("`{}` is a tensor, not a number", names.name(*r)));
            }
        },
        Expr::Dim(r, i) => {
            let t = tensor(*r, ops, names)?;
            let i = constant(&eval(i, ops, names)?, "an index")?;
            let rank = t.rank() as i64;
            let k = if i < 0 { i + rank } else { i };
            if !(0..rank).contains(&k) {
                return Err(format!(
                    "index {i} is out of range for `{}`, of rank {rank} ({t})",
                    names.name(*r)
                ));
            }
            t.shape[k as usize].clone()
        }
        Expr::Rank(r) => Dim::from(tensor(*r, ops, names)?.rank()),
        Expr::Numel(r, None) => tensor(*r, ops, names)?.numel(),
        Expr::Numel(r, Some(s)) => slice(*r, s, ops, names)?.iter().product(),
        Expr::Has(r) => match r {
            Ref::Input(i) => {
                Dim::from(matches!(ops.inputs.get(*i), Some(Operand::Tensor(_))) as i64)
            }
            _ => return Err(format!("has() takes an input, not `{}`", names.name(*r))),
        },
        Expr::Neg(a) => -eval(a, ops, names)?,
        Expr::Bin(op, a, b) => {
            let (a, b) = (eval(a, ops, names)?, eval(b, ops, names)?);
            match op {
                BinOp::Add => a + b,
                BinOp::Sub => a - b,
                BinOp::Mul => a * b,
                BinOp::Div => divide(&a, &b, false)?,
            }
        }
        Expr::CeilDiv(a, b) => divide(&eval(a, ops, names)?, &eval(b, ops, names)?, true)?,
        Expr::Min(args) | Expr::Max(args) => {
            let mut values = args.iter().map(|a| eval(a, ops, names));
            let mut acc = values.next().ok_or("min() and max() need arguments")??;
            for v in values {
                let v = v?;
                acc = if matches!(e, Expr::Min(_)) {
                    acc.min(&v)
                } else {
                    acc.max(&v)
                };
            }
            acc
        }
    })
}

/// The dims of `T[lo..hi]`.
pub(super) fn slice<'t>(
    r: Ref,
    s: &Slice<Ref>,
    ops: &Operands<'t>,
    names: &dyn Declaration,
) -> Result<&'t [Dim], String> {
    let t = tensor(r, ops, names)?;
    let rank = t.rank() as i64;
    let bound = |b: &Option<Box<Expr<Ref>>>, default: i64| -> Result<i64, String> {
        match b {
            None => Ok(default),
            Some(e) => {
                let v = constant(&eval(e, ops, names)?, "a slice bound")?;
                Ok(if v < 0 { v + rank } else { v })
            }
        }
    };
    let (lo, hi) = (bound(&s.lo, 0)?, bound(&s.hi, rank)?);
    if !(0..=rank).contains(&lo) || !(0..=rank).contains(&hi) || lo > hi {
        return Err(format!(
            "the slice does not fit `{}`, of rank {rank} ({t}): it selects dims {lo} to {hi}",
            names.name(r)
        ));
    }
    Ok(&t.shape[lo as usize..hi as usize])
}

fn tensor<'t>(
    r: Ref,
    ops: &Operands<'t>,
    names: &dyn Declaration,
) -> Result<&'t TensorType, String> {
    // Outputs are only there when costing (shapes cannot read them): absent otherwise.
    let operand = match r {
        Ref::Input(i) => ops.inputs.get(i).copied().unwrap_or(Operand::Absent),
        Ref::Output(i) => ops.outputs.get(i).copied().unwrap_or(Operand::Absent),
        Ref::Attr(_) | Ref::Let(_) => {
            return Err(format!("`{}` is a number, not a tensor", names.name(r)));
        }
    };
    match operand {
        Operand::Tensor(t) => Ok(t),
        Operand::Absent => Err(format!(
            "`{}` is not given at this node (guard optional inputs with has())",
            names.name(r)
        )),
    }
}

fn constant(d: &Dim, what: &str) -> Result<i64, String> {
    d.as_i64()
        .ok_or_else(|| format!("{what} must be a constant, got `{d}`"))
}

/// `a / b`: exact when `b` divides `a` (also symbolically), else rounded by a positive
/// constant `b` (down, or up for `ceil`), else an error.
pub(super) fn divide(a: &Dim, b: &Dim, ceil: bool) -> Result<Dim, String> {
    if b.as_i64() == Some(0) {
        return Err(format!("`{a} / 0`: division by zero"));
    }
    if let Some(q) = a.div_exact(b) {
        return Ok(q);
    }
    match b.as_i64() {
        Some(c) if c > 0 => {
            let q = if ceil { a.ceil_div(c) } else { a.floor_div(c) };
            q.map_err(|e| e.to_string())
        }
        Some(c) => Err(format!(
            "`{a} / {c}` is not exact, and rounding needs a positive divisor"
        )),
        None => Err(format!(
            "`({a}) / ({b})` is not exact, and rounding needs a constant divisor"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flopscope_ir::DType;

    fn n(text: &str, at: usize) -> Name {
        Name {
            text: text.into(),
            at,
        }
    }

    #[test]
    fn precedence_and_associativity() {
        // a - b - c is (a - b) - c; * binds tighter than +.
        let e = parse_expr("10 - 3 - 2 * 2").unwrap();
        let ops = Operands::new(vec![], vec![], 0);
        let e = e_to_ref(e);
        assert_eq!(eval(&e, &ops, &NoNames).unwrap(), Dim::from_i64(3));
        let e = e_to_ref(parse_expr("-(2 + 3) * -2").unwrap());
        assert_eq!(eval(&e, &ops, &NoNames).unwrap(), Dim::from_i64(10));
        let e = e_to_ref(parse_expr("100 / 7 / 2").unwrap());
        assert_eq!(
            eval(&e, &ops, &NoNames).unwrap(),
            Dim::from_i64(100 / 7 / 2)
        );
    }

    /// Converts a name-free expression (literals only) to a resolved one.
    fn e_to_ref(e: Expr<Name>) -> Expr<Ref> {
        match e {
            Expr::Int(v) => Expr::Int(v),
            Expr::Neg(a) => Expr::Neg(Box::new(e_to_ref(*a))),
            Expr::Bin(op, a, b) => Expr::Bin(op, Box::new(e_to_ref(*a)), Box::new(e_to_ref(*b))),
            Expr::CeilDiv(a, b) => Expr::CeilDiv(Box::new(e_to_ref(*a)), Box::new(e_to_ref(*b))),
            Expr::Min(v) => Expr::Min(v.into_iter().map(e_to_ref).collect()),
            Expr::Max(v) => Expr::Max(v.into_iter().map(e_to_ref).collect()),
            other => panic!("not a literal expression: {other:?}"),
        }
    }

    struct NoNames;
    impl Declaration for NoNames {
        fn name(&self, _: Ref) -> &str {
            "?"
        }
        fn eval_let(&self, _: usize, _: &Operands<'_>) -> Result<Dim, String> {
            Err("no lets".into())
        }
    }

    #[test]
    fn names_and_offsets() {
        assert_eq!(
            parse_expr("numel(X) / X[-1]").unwrap(),
            Expr::Bin(
                BinOp::Div,
                Box::new(Expr::Numel(n("X", 6), None)),
                Box::new(Expr::Dim(n("X", 11), Box::new(Expr::Int(-1)))),
            )
        );
        assert_eq!(
            parse_expr("ceil(h / s)").unwrap(),
            Expr::CeilDiv(
                Box::new(Expr::Var(n("h", 5))),
                Box::new(Expr::Var(n("s", 9)))
            )
        );
        assert_eq!(
            parse_expr("ceil_div(h, 2)").unwrap(),
            Expr::CeilDiv(Box::new(Expr::Var(n("h", 9))), Box::new(Expr::Int(2)))
        );
        assert_eq!(
            parse_item("X[..-1]").unwrap(),
            Item::Slice(
                n("X", 0),
                Slice {
                    lo: None,
                    hi: Some(Box::new(Expr::Int(-1)))
                }
            )
        );
        assert_eq!(
            parse_item(" X[1..] ").unwrap(),
            Item::Slice(
                n("X", 1),
                Slice {
                    lo: Some(Box::new(Expr::Int(1))),
                    hi: None
                }
            )
        );
        // An item that starts like a slice but is one dim.
        assert!(matches!(parse_item("X[0] * 2").unwrap(), Item::One(_)));
    }

    #[test]
    fn syntax_errors_point_at_the_offending_byte() {
        let cases = [
            ("", 0, "empty"),
            ("1 +", 3, "incomplete"),
            ("(1 + 2", 6, "`)`"),
            ("1 2", 2, "unexpected `2`"),
            ("a ? b", 2, "unexpected character `?`"),
            ("X[1.2]", 3, "single `.`"),
            ("pow(2, 3)", 0, "unknown function `pow`"),
            ("min(1)", 0, "at least two"),
            ("ceil(7)", 0, "takes a division"),
            ("rank(3)", 5, "takes the name"),
            ("numel(X[0])", 6, "not one dim"),
            ("X[1..2] + 1", 0, "whole shape item"),
            ("99999999999999999999", 0, "64 bits"),
            ("X[]", 2, "expected an index"),
        ];
        for (text, at, needle) in cases {
            let e = parse_expr(text).expect_err(text);
            assert_eq!(e.at, at, "{text}: {e:?}");
            assert!(e.message.contains(needle), "{text}: {e:?}");
        }
        let e = parse_item("X[1..] + 1").unwrap_err();
        assert!(e.message.contains("whole shape item"), "{e:?}");
        assert_eq!(e.at, 7);
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = format!("{}1{}", "(".repeat(10_000), ")".repeat(10_000));
        let e = parse_expr(&deep).unwrap_err();
        assert!(e.message.contains("nests more than"), "{e:?}");
        let negs = format!("{}1", "-".repeat(10_000));
        assert!(parse_expr(&negs).is_err());
        let ok = format!("{}1{}", "(".repeat(30), ")".repeat(30));
        assert!(parse_expr(&ok).is_ok());
    }

    /// Inputs X and B, output Y, attribute `groups`, and `L = X[1] * 2`.
    struct Three;
    impl Declaration for Three {
        fn name(&self, r: Ref) -> &str {
            match r {
                Ref::Input(0) => "X",
                Ref::Input(_) => "B",
                Ref::Output(_) => "Y",
                Ref::Attr(_) => "groups",
                Ref::Let(_) => "L",
            }
        }
        fn eval_let(&self, _: usize, ops: &Operands<'_>) -> Result<Dim, String> {
            let e = Expr::Bin(
                BinOp::Mul,
                x(Expr::Dim(Ref::Input(0), x(Expr::Int(1)))),
                x(Expr::Int(2)),
            );
            eval(&e, ops, self)
        }
    }

    fn x(e: Expr<Ref>) -> Box<Expr<Ref>> {
        Box::new(e)
    }

    #[test]
    fn evaluation_over_symbolic_and_concrete_shapes() {
        let b = Dim::sym("batch");
        let xt = TensorType::new(
            DType::Float32,
            vec![b.clone(), Dim::from_i64(16), Dim::from_i64(64)],
        );
        let ops = Operands::new(
            vec![Operand::Tensor(&xt), Operand::Absent],
            vec![Dim::from_i64(4)],
            1,
        );
        let xi = Ref::Input(0);
        // numel(X) / X[-1] = batch·16, exact symbolic division.
        let m = Expr::Bin(
            BinOp::Div,
            x(Expr::Numel(xi, None)),
            x(Expr::Dim(xi, x(Expr::Int(-1)))),
        );
        assert_eq!(eval(&m, &ops, &Three).unwrap(), &b * 16);
        // numel(X[..-1]) is the same product.
        let m2 = Expr::Numel(
            xi,
            Some(Slice {
                lo: None,
                hi: Some(x(Expr::Int(-1))),
            }),
        );
        assert_eq!(eval(&m2, &ops, &Three).unwrap(), &b * 16);
        assert_eq!(
            eval(&Expr::Rank(xi), &ops, &Three).unwrap(),
            Dim::from_i64(3)
        );
        // X[1] / groups with groups = 4 from the attribute.
        let per_group = Expr::Bin(
            BinOp::Div,
            x(Expr::Dim(xi, x(Expr::Int(1)))),
            x(Expr::Var(Ref::Attr(0))),
        );
        assert_eq!(eval(&per_group, &ops, &Three).unwrap(), Dim::from_i64(4));
        // has() of a given and an absent input.
        assert_eq!(
            eval(&Expr::Has(Ref::Input(0)), &ops, &Three).unwrap(),
            Dim::one()
        );
        assert_eq!(
            eval(&Expr::Has(Ref::Input(1)), &ops, &Three).unwrap(),
            Dim::zero()
        );
        // Reading an absent input is an error that says so.
        let err = eval(&Expr::Rank(Ref::Input(1)), &ops, &Three).unwrap_err();
        assert!(err.contains("`B` is not given"), "{err}");
        // Index out of range, both ways.
        for i in [3, -4] {
            let err = eval(&Expr::Dim(xi, x(Expr::Int(i))), &ops, &Three).unwrap_err();
            assert!(err.contains(&format!("index {i} is out of range for `X`, of rank 3")));
        }
        // An index must be a constant.
        let err = eval(
            &Expr::Dim(xi, x(Expr::Dim(xi, x(Expr::Int(0))))),
            &ops,
            &Three,
        )
        .unwrap_err();
        assert!(
            err.contains("an index must be a constant, got `batch`"),
            "{err}"
        );
        // min/max keep symbols: min(batch, 8) stays an expression, max(16, 64) is 64.
        let mn = Expr::Min(vec![Expr::Dim(xi, x(Expr::Int(0))), Expr::Int(8)]);
        assert_eq!(eval(&mn, &ops, &Three).unwrap(), b.min(&Dim::from_i64(8)));
        let mx = Expr::Max(vec![
            Expr::Dim(xi, x(Expr::Int(1))),
            Expr::Dim(xi, x(Expr::Int(2))),
            Expr::Int(3),
        ]);
        assert_eq!(eval(&mx, &ops, &Three).unwrap(), Dim::from_i64(64));
        // A let, computed once and then read from the node's cache.
        let twice = Expr::Bin(
            BinOp::Add,
            x(Expr::Var(Ref::Let(0))),
            x(Expr::Var(Ref::Let(0))),
        );
        assert_eq!(eval(&twice, &ops, &Three).unwrap(), Dim::from_i64(64));
        assert_eq!(*ops.lets.borrow(), vec![Some(Dim::from_i64(32))]);
        let err = eval(&Expr::Rank(Ref::Let(0)), &ops, &Three).unwrap_err();
        assert!(err.contains("`L` is a number, not a tensor"), "{err}");
    }

    #[test]
    fn slices() {
        let dims: Vec<Dim> = [2, 3, 5, 7].into_iter().map(Dim::from_i64).collect();
        let t = TensorType::new(DType::Float32, dims.clone());
        let ops = Operands::new(vec![Operand::Tensor(&t)], vec![], 0);
        let s = |lo: Option<i64>, hi: Option<i64>| Slice {
            lo: lo.map(|v| x(Expr::Int(v))),
            hi: hi.map(|v| x(Expr::Int(v))),
        };
        let r = Ref::Input(0);
        assert_eq!(slice(r, &s(None, None), &ops, &Three).unwrap(), &dims[..]);
        assert_eq!(
            slice(r, &s(None, Some(-1)), &ops, &Three).unwrap(),
            &dims[..3]
        );
        assert_eq!(
            slice(r, &s(Some(1), None), &ops, &Three).unwrap(),
            &dims[1..]
        );
        assert_eq!(
            slice(r, &s(Some(-3), Some(-1)), &ops, &Three).unwrap(),
            &dims[1..3]
        );
        assert_eq!(
            slice(r, &s(Some(4), None), &ops, &Three).unwrap(),
            &dims[4..]
        );
        for (lo, hi) in [(Some(5), None), (Some(3), Some(1)), (None, Some(-5))] {
            let err = slice(r, &s(lo, hi), &ops, &Three).unwrap_err();
            assert!(err.contains("does not fit `X`, of rank 4"), "{err}");
        }
    }

    #[test]
    fn division_rules() {
        let b = Dim::sym("batch");
        let h = Dim::sym("h");
        // Exact, concrete and symbolic.
        assert_eq!(
            divide(&Dim::from_i64(12), &Dim::from_i64(4), false),
            Ok(Dim::from_i64(3))
        );
        assert_eq!(divide(&(&b * 6), &Dim::from_i64(3), false), Ok(&b * 2));
        assert_eq!(divide(&(&b * &h + &b), &b, false), Ok(&h + 1));
        // Not exact by a positive constant: floor, or ceil.
        assert_eq!(
            divide(&Dim::from_i64(7), &Dim::from_i64(2), false),
            Ok(Dim::from_i64(3))
        );
        assert_eq!(
            divide(&Dim::from_i64(7), &Dim::from_i64(2), true),
            Ok(Dim::from_i64(4))
        );
        assert_eq!(
            divide(&h, &Dim::from_i64(2), false),
            Ok(h.floor_div(2).unwrap())
        );
        assert_eq!(
            divide(&h, &Dim::from_i64(2), true),
            Ok(h.ceil_div(2).unwrap())
        );
        // Errors: by zero, by a symbol that does not divide, inexact by a negative constant.
        assert!(
            divide(&h, &Dim::zero(), false)
                .unwrap_err()
                .contains("division by zero")
        );
        let err = divide(&h, &b, false).unwrap_err();
        assert!(
            err.contains("not exact") && err.contains("constant divisor"),
            "{err}"
        );
        assert!(divide(&Dim::from_i64(7), &Dim::from_i64(-2), false).is_err());
        assert_eq!(
            divide(&Dim::from_i64(8), &Dim::from_i64(-2), false),
            Ok(Dim::from_i64(-4))
        );
    }
}
