//! [`Dim`]: the symbolic integer algebra that tensor shapes and operation costs are written in.
//!
//! A `Dim` is an integer expression over named symbols (`batch`, `height`, ...), which are
//! assumed to be integers >= 0, built from integers, `+`, `-`, `*`, floor and ceil division by a
//! positive integer constant, `min` and `max`. Arithmetic is exact over `i64` and checked: any
//! overflow gives a poisoned `Dim` ([`Dim::is_overflow`]) that every operation propagates.
//!
//! # Normal form
//!
//! Every `Dim` is kept in a canonical form so that the derived `Eq`/`Hash` compare
//! expressions semantically for the rewrites below:
//!
//! - a polynomial: a sorted list of (monomial, non-zero `i64` coefficient), products expanded,
//!   like terms combined; a monomial is a sorted list of (atom, exponent); an atom is a symbol,
//!   a `floor`, a `min` or a `max`, each treated as an opaque integer-valued variable;
//! - `ceil(a/c)` is stored as `floor((a + c - 1)/c)`;
//! - `floor(a/c)`: coefficients reduced into `[0, c)` with the integer parts pulled out
//!   (`floor((2h + 3)/2) = h + 1`, `floor((h - 1)/2) + 1 = floor((h + 1)/2)`), common factors of
//!   the coefficients and `c` cancelled (`floor((2h + 1)/4) = floor(h/2)`), nested floors merged
//!   (`floor(floor(a/b)/c) = floor(a/(b*c))`), constants folded;
//! - `min`/`max`: flattened, common terms pulled out (`min(a + 1, b + 1) = min(a, b) + 1`),
//!   sorted, deduplicated, and arguments that provably cannot be the result dropped
//!   (`max(h, 0) = h`, `min(h, h + w) = h`).
//!
//! What it cannot prove (such expressions stay correct, just not identified):
//! - identities between *different* floor atoms: `h - floor(h/2)` is `ceil(h/2)` but stays as is;
//! - `floor((x + y)/c)` when the numerator has several terms `1*floor(..)`: only the first is
//!   merged, so `floor(floor(x/k)/c) = floor(x/(k*c))` is only guaranteed when the inner floor is
//!   the whole numerator (up to a constant);
//! - a negated extremum on its own: `-max(a, b)` and `min(-a, -b)` (printed
//!   `-a - b + min(a, b)`) are equal but kept apart (inside a `min`/`max` they are identified);
//! - `min`/`max` facts beyond the rules above (e.g. `min(a, b) + max(a, b) = a + b`), and
//!   `>=` facts beyond "every term has a positive coefficient and a non-negative monomial".
//!
//! The rules assume that symbols are >= 0: substituting a negative value (or an expression that
//! may be negative) for a symbol gives the value under that assumption, not the raw formula's.
//!
//! Integer constants are stored inline without allocation; everything else sits behind an
//! `Arc`, so cloning a `Dim` is always cheap.

mod fmt;
mod growth;
mod parse;
mod poly;
mod serde_impl;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::iter::{Product, Sum};
use std::ops::{Add, AddAssign, Mul, MulAssign, Neg, Sub, SubAssign};
use std::sync::Arc;

pub use growth::GrowthTerm;
use poly::{Binding, Extremum, Poly};

/// A symbolic integer expression in normal form; see the [module docs](self).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Dim(Repr);

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Repr {
    /// A constant. Never stored as `Expr`.
    Int(i64),
    /// A polynomial with at least one non-constant term.
    Expr(Arc<Poly>),
    /// The poisoned result of an overflow.
    Overflow,
}

/// Errors of [`Dim`] operations.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DimError {
    #[error("division by {0}: the divisor must be a positive integer")]
    BadDivisor(i64),
    #[error("symbol `{0}` is not bound")]
    Unbound(String),
    #[error("integer overflow")]
    Overflow,
}

/// A string that [`Dim::parse`] could not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot parse `{input}` as a dimension expression at byte {offset}: {message}")]
pub struct ParseDimError {
    pub input: String,
    pub offset: usize,
    pub message: String,
}

impl Dim {
    pub const ZERO: Dim = Dim(Repr::Int(0));
    pub const ONE: Dim = Dim(Repr::Int(1));

    pub fn zero() -> Dim {
        Dim::ZERO
    }

    pub fn one() -> Dim {
        Dim::ONE
    }

    pub const fn from_i64(v: i64) -> Dim {
        Dim(Repr::Int(v))
    }

    /// A named symbol (an integer >= 0). Any name is accepted and printed as is, but only names
    /// matching `[A-Za-z_][A-Za-z0-9_.]*` (other than `overflow`) parse back.
    pub fn sym(name: &str) -> Dim {
        Dim(Repr::Expr(Arc::new(Poly::symbol(name))))
    }

    /// `raw` made into a name the expression syntax can hold (`[A-Za-z_][A-Za-z0-9_.]*`): other
    /// characters become `_`, and a name that would start with a digit or a dot gets a leading
    /// `_`. Use it for symbols named after model values (`input/0` → `input_0`).
    pub fn symbol_name(raw: &str) -> String {
        let mut name: String = raw
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        if !name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
            name.insert(0, '_');
        }
        name
    }

    /// The poisoned value that overflowing operations produce.
    pub const fn overflow() -> Dim {
        Dim(Repr::Overflow)
    }

    pub fn is_overflow(&self) -> bool {
        matches!(self.0, Repr::Overflow)
    }

    /// The value if this is a constant (not for the poisoned value).
    pub fn as_i64(&self) -> Option<i64> {
        match self.0 {
            Repr::Int(v) => Some(v),
            _ => None,
        }
    }

    pub fn is_const(&self) -> bool {
        matches!(self.0, Repr::Int(_))
    }

    /// Wraps a normalised polynomial (`None` = overflow), keeping constants inline.
    fn from_poly(p: Option<Poly>) -> Dim {
        match p {
            None => Dim::overflow(),
            Some(p) => match p.as_const() {
                Some(v) => Dim::from_i64(v),
                None => Dim(Repr::Expr(Arc::new(p))),
            },
        }
    }

    /// The polynomial of this value, `None` for the poisoned value.
    fn poly(&self) -> Option<Cow<'_, Poly>> {
        match &self.0 {
            Repr::Int(v) => Some(Cow::Owned(Poly::constant(*v))),
            Repr::Expr(p) => Some(Cow::Borrowed(p)),
            Repr::Overflow => None,
        }
    }

    /// `floor(self / c)` (mathematical floor, also for negative values).
    pub fn floor_div(&self, c: i64) -> Result<Dim, DimError> {
        if c <= 0 {
            return Err(DimError::BadDivisor(c));
        }
        Ok(match &self.0 {
            // c > 0, so this cannot overflow.
            Repr::Int(v) => Dim::from_i64(v.div_euclid(c)),
            Repr::Expr(p) => Dim::from_poly(poly::floor_div(p, c)),
            Repr::Overflow => Dim::overflow(),
        })
    }

    /// `ceil(self / c)`, stored as `floor((self + c - 1)/c)`.
    pub fn ceil_div(&self, c: i64) -> Result<Dim, DimError> {
        if c <= 0 {
            return Err(DimError::BadDivisor(c));
        }
        Ok(match &self.0 {
            Repr::Int(v) => {
                // A remainder implies c >= 2, so q <= i64::MAX / 2 and q + 1 cannot overflow.
                let q = v.div_euclid(c);
                Dim::from_i64(if v.rem_euclid(c) == 0 { q } else { q + 1 })
            }
            Repr::Expr(p) => Dim::from_poly(poly::ceil_div(p, c)),
            Repr::Overflow => Dim::overflow(),
        })
    }

    /// Exact division by another `Dim` when it divides evenly as polynomials, e.g.
    /// `(6*b*h*w)/(3*b) = 2*h*w`, `(b*h + b)/b = h + 1`, `12/4 = 3`. `None` when the division is
    /// not exact (or not provably so), or the divisor is 0. A poisoned operand gives poison.
    pub fn div_exact(&self, d: &Dim) -> Option<Dim> {
        match (&self.0, &d.0) {
            (Repr::Overflow, _) | (_, Repr::Overflow) => Some(Dim::overflow()),
            (Repr::Int(a), Repr::Int(b)) => match (a.checked_rem(*b), a.checked_div(*b)) {
                (Some(0), Some(q)) => Some(Dim::from_i64(q)),
                // i64::MIN / -1: exact, but the quotient does not fit.
                (None, None) if *b == -1 => Some(Dim::overflow()),
                _ => None,
            },
            _ => {
                let (n, d) = (self.poly()?, d.poly()?);
                poly::div_exact(&n, &d).map(|q| Dim::from_poly(Some(q)))
            }
        }
    }

    /// The smaller of the two, normalised (see the module docs for the rules).
    ///
    /// `Dim` deliberately does not implement [`Ord`]: a structural order would make `a.min(b)`
    /// on an owned `a` resolve to `Ord::min` and silently compare structure, not values.
    pub fn min(&self, other: &Dim) -> Dim {
        self.extremum(other, Extremum::Min)
    }

    /// The larger of the two, normalised (see the module docs for the rules).
    pub fn max(&self, other: &Dim) -> Dim {
        self.extremum(other, Extremum::Max)
    }

    fn extremum(&self, other: &Dim, kind: Extremum) -> Dim {
        match (&self.0, &other.0, kind) {
            (Repr::Int(a), Repr::Int(b), Extremum::Min) => Dim::from_i64(*a.min(b)),
            (Repr::Int(a), Repr::Int(b), Extremum::Max) => Dim::from_i64(*a.max(b)),
            _ => match (self.poly(), other.poly()) {
                (Some(a), Some(b)) => {
                    Dim::from_poly(poly::min_max(kind, vec![a.into_owned(), b.into_owned()]))
                }
                _ => Dim::overflow(),
            },
        }
    }

    /// `self^e` (with `x^0 = 1`); poison on overflow.
    pub fn checked_pow(&self, e: u32) -> Dim {
        match &self.0 {
            Repr::Int(v) => v.checked_pow(e).map_or(Dim::overflow(), Dim::from_i64),
            Repr::Expr(p) => Dim::from_poly(p.pow(e)),
            Repr::Overflow => Dim::overflow(),
        }
    }

    /// All symbol names, sorted and deduplicated.
    pub fn symbols(&self) -> Vec<Arc<str>> {
        let mut out = BTreeSet::new();
        if let Repr::Expr(p) = &self.0 {
            poly::collect_symbols(p, &mut out);
        }
        out.into_iter().collect()
    }

    /// The degree of the formula as a polynomial in `symbol`: `Some(0)` when it does not
    /// appear, `None` when it appears inside a `floor`, `ceil`, `min` or `max` (or the value
    /// overflowed). `batch*seq*(past + 2)` has degree 1 in `past` and 1 in `seq`.
    pub fn degree_in(&self, symbol: &str) -> Option<u32> {
        let p = match &self.0 {
            Repr::Int(_) => return Some(0),
            Repr::Overflow => return None,
            Repr::Expr(p) => p,
        };
        let mut degree = 0u32;
        for term in &p.0 {
            let mut d = 0u32;
            for (atom, e) in &term.mono.0 {
                match atom {
                    poly::Atom::Sym(s) if &**s == symbol => d = d.checked_add(*e)?,
                    poly::Atom::Sym(_) => {}
                    _ => {
                        let mut inner = BTreeSet::new();
                        match atom {
                            poly::Atom::Floor(f) => poly::collect_symbols(&f.num, &mut inner),
                            poly::Atom::Min(args) | poly::Atom::Max(args) => {
                                for a in args.iter() {
                                    poly::collect_symbols(a, &mut inner);
                                }
                            }
                            poly::Atom::Sym(_) => {}
                        }
                        if inner.iter().any(|s: &Arc<str>| &**s == symbol) {
                            return None;
                        }
                    }
                }
            }
            degree = degree.max(d);
        }
        Some(degree)
    }

    /// Replaces the symbols that `lookup` knows by their values and renormalises; the others
    /// stay. Poison in a replacement, or an overflow on the way, poisons the result.
    pub fn substitute(&self, lookup: &dyn Fn(&str) -> Option<Dim>) -> Dim {
        match &self.0 {
            Repr::Int(_) | Repr::Overflow => self.clone(),
            Repr::Expr(p) => {
                let binding = |name: &str| match lookup(name) {
                    None => Binding::Keep,
                    Some(d) => match d.poly() {
                        Some(p) => Binding::Poly(p.into_owned()),
                        None => Binding::Overflow,
                    },
                };
                Dim::from_poly(poly::substitute(p, &binding))
            }
        }
    }

    /// The integer value under `lookup`. Errors: [`DimError::Overflow`] for the poisoned value
    /// or an overflow during evaluation, [`DimError::Unbound`] naming the first (in sorted order)
    /// symbol that `lookup` does not know.
    pub fn eval(&self, lookup: &dyn Fn(&str) -> Option<i64>) -> Result<i64, DimError> {
        match &self.0 {
            Repr::Int(v) => Ok(*v),
            Repr::Overflow => Err(DimError::Overflow),
            Repr::Expr(p) => {
                if let Some(name) = self.symbols().into_iter().find(|s| lookup(s).is_none()) {
                    return Err(DimError::Unbound(name.to_string()));
                }
                poly::eval(p, lookup)
            }
        }
    }

    /// `Some(ordering)` only when it holds for every value of the symbols (all >= 0); always
    /// `Some` for two constants, `None` for poison.
    pub fn compare(&self, other: &Dim) -> Option<Ordering> {
        match (&self.0, &other.0) {
            (Repr::Int(a), Repr::Int(b)) => Some(a.cmp(b)),
            (Repr::Overflow, _) | (_, Repr::Overflow) => None,
            _ => {
                let diff = self - other;
                match &diff.0 {
                    Repr::Int(v) => Some(v.cmp(&0)),
                    Repr::Overflow => None,
                    Repr::Expr(p) => {
                        if poly::is_nonneg(p) && p.constant_term() > 0 {
                            return Some(Ordering::Greater);
                        }
                        let n = p.neg()?;
                        (poly::is_nonneg(&n) && n.constant_term() > 0).then_some(Ordering::Less)
                    }
                }
            }
        }
    }

    /// Parses the syntax that `Display` prints: integers, symbols, `+ - *`, unary minus,
    /// `floor(a/b)`, `ceil(a/b)`, `min(a, ...)`, `max(a, ...)` and parentheses. The divisor of
    /// `floor`/`ceil` must be a positive constant. The word `overflow` is the poisoned value.
    pub fn parse(s: &str) -> Result<Dim, ParseDimError> {
        parse::parse(s)
    }
}

impl Default for Dim {
    fn default() -> Dim {
        Dim::ZERO
    }
}

fn add(a: &Dim, b: &Dim) -> Dim {
    match (&a.0, &b.0) {
        (Repr::Int(x), Repr::Int(y)) => x.checked_add(*y).map_or(Dim::overflow(), Dim::from_i64),
        _ => match (a.poly(), b.poly()) {
            (Some(x), Some(y)) => Dim::from_poly(x.add(&y)),
            _ => Dim::overflow(),
        },
    }
}

fn sub(a: &Dim, b: &Dim) -> Dim {
    match (&a.0, &b.0) {
        (Repr::Int(x), Repr::Int(y)) => x.checked_sub(*y).map_or(Dim::overflow(), Dim::from_i64),
        _ => match (a.poly(), b.poly()) {
            (Some(x), Some(y)) => Dim::from_poly(x.sub(&y)),
            _ => Dim::overflow(),
        },
    }
}

fn mul(a: &Dim, b: &Dim) -> Dim {
    match (&a.0, &b.0) {
        (Repr::Int(x), Repr::Int(y)) => x.checked_mul(*y).map_or(Dim::overflow(), Dim::from_i64),
        _ => match (a.poly(), b.poly()) {
            (Some(x), Some(y)) => Dim::from_poly(x.mul(&y)),
            _ => Dim::overflow(),
        },
    }
}

fn neg(a: &Dim) -> Dim {
    match &a.0 {
        Repr::Int(x) => x.checked_neg().map_or(Dim::overflow(), Dim::from_i64),
        Repr::Expr(p) => Dim::from_poly(p.neg()),
        Repr::Overflow => Dim::overflow(),
    }
}

/// Implements a binary operator for every combination of `Dim`, `&Dim` and `i64`, and its
/// assigning form, through one function on references.
macro_rules! binop {
    ($Op:ident, $op:ident, $OpAssign:ident, $op_assign:ident, $f:ident) => {
        impl $Op<Dim> for Dim {
            type Output = Dim;
            fn $op(self, rhs: Dim) -> Dim {
                $f(&self, &rhs)
            }
        }
        impl $Op<&Dim> for Dim {
            type Output = Dim;
            fn $op(self, rhs: &Dim) -> Dim {
                $f(&self, rhs)
            }
        }
        impl $Op<Dim> for &Dim {
            type Output = Dim;
            fn $op(self, rhs: Dim) -> Dim {
                $f(self, &rhs)
            }
        }
        impl $Op<&Dim> for &Dim {
            type Output = Dim;
            fn $op(self, rhs: &Dim) -> Dim {
                $f(self, rhs)
            }
        }
        impl $Op<i64> for Dim {
            type Output = Dim;
            fn $op(self, rhs: i64) -> Dim {
                $f(&self, &Dim::from_i64(rhs))
            }
        }
        impl $Op<i64> for &Dim {
            type Output = Dim;
            fn $op(self, rhs: i64) -> Dim {
                $f(self, &Dim::from_i64(rhs))
            }
        }
        impl $Op<Dim> for i64 {
            type Output = Dim;
            fn $op(self, rhs: Dim) -> Dim {
                $f(&Dim::from_i64(self), &rhs)
            }
        }
        impl $Op<&Dim> for i64 {
            type Output = Dim;
            fn $op(self, rhs: &Dim) -> Dim {
                $f(&Dim::from_i64(self), rhs)
            }
        }
        impl $OpAssign<Dim> for Dim {
            fn $op_assign(&mut self, rhs: Dim) {
                *self = $f(self, &rhs);
            }
        }
        impl $OpAssign<&Dim> for Dim {
            fn $op_assign(&mut self, rhs: &Dim) {
                *self = $f(self, rhs);
            }
        }
        impl $OpAssign<i64> for Dim {
            fn $op_assign(&mut self, rhs: i64) {
                *self = $f(self, &Dim::from_i64(rhs));
            }
        }
    };
}

binop!(Add, add, AddAssign, add_assign, add);
binop!(Sub, sub, SubAssign, sub_assign, sub);
binop!(Mul, mul, MulAssign, mul_assign, mul);

impl Neg for Dim {
    type Output = Dim;
    fn neg(self) -> Dim {
        neg(&self)
    }
}

impl Neg for &Dim {
    type Output = Dim;
    fn neg(self) -> Dim {
        neg(self)
    }
}

impl Sum for Dim {
    fn sum<I: Iterator<Item = Dim>>(iter: I) -> Dim {
        iter.fold(Dim::ZERO, |acc, x| add(&acc, &x))
    }
}

impl<'a> Sum<&'a Dim> for Dim {
    fn sum<I: Iterator<Item = &'a Dim>>(iter: I) -> Dim {
        iter.fold(Dim::ZERO, |acc, x| add(&acc, x))
    }
}

impl Product for Dim {
    fn product<I: Iterator<Item = Dim>>(iter: I) -> Dim {
        iter.fold(Dim::ONE, |acc, x| mul(&acc, &x))
    }
}

impl<'a> Product<&'a Dim> for Dim {
    fn product<I: Iterator<Item = &'a Dim>>(iter: I) -> Dim {
        iter.fold(Dim::ONE, |acc, x| mul(&acc, x))
    }
}

impl From<i64> for Dim {
    fn from(v: i64) -> Dim {
        Dim::from_i64(v)
    }
}

impl From<i32> for Dim {
    fn from(v: i32) -> Dim {
        Dim::from_i64(i64::from(v))
    }
}

impl From<u32> for Dim {
    fn from(v: u32) -> Dim {
        Dim::from_i64(i64::from(v))
    }
}

/// Values above `i64::MAX` give the poisoned value.
impl From<u64> for Dim {
    fn from(v: u64) -> Dim {
        i64::try_from(v).map_or(Dim::overflow(), Dim::from_i64)
    }
}

/// Values above `i64::MAX` give the poisoned value.
impl From<usize> for Dim {
    fn from(v: usize) -> Dim {
        i64::try_from(v).map_or(Dim::overflow(), Dim::from_i64)
    }
}

impl std::str::FromStr for Dim {
    type Err = ParseDimError;
    fn from_str(s: &str) -> Result<Dim, ParseDimError> {
        Dim::parse(s)
    }
}
