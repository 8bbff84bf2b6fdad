//! The normal form behind [`Dim`](super::Dim): polynomials with `i64` coefficients over opaque
//! integer-valued atoms (symbols, floor divisions, min and max).
//!
//! Every constructor and operation here returns the normal form, so derived structural equality
//! is semantic equality for the rewrites listed in the module docs of `dim`. All arithmetic is
//! checked: an operation returns `None` when a coefficient, an exponent or a constant does not
//! fit, and the caller turns that into the poisoned `Dim`.

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::sync::Arc;

use super::DimError;

/// An integer-valued factor that the algebra treats as an opaque variable.
///
/// The derived order (symbols first, by name) is the canonical order of factors in a monomial.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) enum Atom {
    /// A named dimension, assumed to be an integer >= 0.
    Sym(Arc<str>),
    /// `floor(num / div)`, always in reduced form (see [`floor_div`]).
    Floor(Arc<FloorAtom>),
    /// `min(args)`: at least two arguments, sorted, deduplicated (see [`min_max`]).
    Min(Arc<[Poly]>),
    /// `max(args)`: at least two arguments, sorted, deduplicated (see [`min_max`]).
    Max(Arc<[Poly]>),
}

/// `floor(num / div)` in reduced form: `div >= 2`; `num` is not constant; every coefficient of
/// `num`, its constant included, lies in `[0, div)`; the gcd of the non-constant coefficients
/// and `div` is 1; and `num` has no term `1 * floor(..)` that could be merged into this floor.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) struct FloorAtom {
    pub(super) num: Poly,
    pub(super) div: i64,
}

/// A product of atoms with positive exponents, sorted by atom without repeats. The empty
/// product is the monomial `1` (the monomial of the constant term).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) struct Mono(pub(super) Vec<(Atom, u32)>);

/// One term of a polynomial: a non-zero coefficient times a monomial.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) struct Term {
    pub(super) mono: Mono,
    pub(super) coeff: i64,
}

/// A sum of terms, sorted strictly by monomial, no zero coefficients. The constant term (the
/// empty monomial) sorts first. Zero is the empty sum.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) struct Poly(pub(super) Vec<Term>);

/// Which of min and max.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Extremum {
    Min,
    Max,
}

/// How many rounds of polynomial long division [`div_exact`] may take before giving up.
const MAX_DIVISION_STEPS: usize = 10_000;

/// Nested extrema are flattened only while the flat argument list stays this short (distributing
/// `min(a, b) + min(c, d)` multiplies the number of arguments).
const MAX_EXTREMUM_ARGS: usize = 64;

/// A product is expanded only while it has at most this many terms before like terms combine:
/// `(a0+b0)*(a1+b1)*...` doubles with every factor, so hostile input could otherwise ask for
/// 2^40 terms. A larger product counts as overflow (real shapes stay far below).
const MAX_PRODUCT_TERMS: usize = 1 << 14;

impl Mono {
    pub(super) fn is_one(&self) -> bool {
        self.0.is_empty()
    }

    /// The total degree (sum of the exponents), saturating.
    pub(super) fn degree(&self) -> u64 {
        self.0
            .iter()
            .fold(0u64, |acc, (_, e)| acc.saturating_add(u64::from(*e)))
    }

    /// The product of two monomials (merging sorted factor lists); `None` if an exponent
    /// overflows `u32`.
    fn mul(&self, other: &Mono) -> Option<Mono> {
        if self.is_one() {
            return Some(other.clone());
        }
        if other.is_one() {
            return Some(self.clone());
        }
        let (a, b) = (&self.0, &other.0);
        let mut out = Vec::with_capacity(a.len() + b.len());
        let (mut i, mut j) = (0, 0);
        while i < a.len() && j < b.len() {
            match a[i].0.cmp(&b[j].0) {
                Ordering::Less => {
                    out.push(a[i].clone());
                    i += 1;
                }
                Ordering::Greater => {
                    out.push(b[j].clone());
                    j += 1;
                }
                Ordering::Equal => {
                    out.push((a[i].0.clone(), a[i].1.checked_add(b[j].1)?));
                    i += 1;
                    j += 1;
                }
            }
        }
        out.extend_from_slice(&a[i..]);
        out.extend_from_slice(&b[j..]);
        Some(Mono(out))
    }

    /// `self / other` when `other` divides `self` (every exponent at least as large).
    fn div(&self, other: &Mono) -> Option<Mono> {
        let mut out = Vec::with_capacity(self.0.len());
        let mut rest = other.0.iter().peekable();
        for (atom, e) in &self.0 {
            match rest.peek() {
                Some((a, f)) if a == atom => {
                    let left = e.checked_sub(*f)?;
                    if left > 0 {
                        out.push((atom.clone(), left));
                    }
                    rest.next();
                }
                _ => out.push((atom.clone(), *e)),
            }
        }
        // Every factor of `other` must have been matched.
        if rest.next().is_some() {
            return None;
        }
        Some(Mono(out))
    }

    /// Graded lexicographic order: total degree first, then exponent vectors compared
    /// lexicographically with smaller atoms more significant. Unlike the derived order this is
    /// a monomial order (compatible with multiplication), which long division needs.
    fn grlex(&self, other: &Mono) -> Ordering {
        self.degree().cmp(&other.degree()).then_with(|| {
            for (x, y) in self.0.iter().zip(&other.0) {
                match x.0.cmp(&y.0) {
                    // `self` has atom x and `other` has none of it (both lists sorted).
                    Ordering::Less => return Ordering::Greater,
                    Ordering::Greater => return Ordering::Less,
                    Ordering::Equal => match x.1.cmp(&y.1) {
                        Ordering::Equal => {}
                        unequal => return unequal,
                    },
                }
            }
            self.0.len().cmp(&other.0.len())
        })
    }
}

impl Poly {
    pub(super) fn zero() -> Poly {
        Poly(Vec::new())
    }

    pub(super) fn constant(k: i64) -> Poly {
        if k == 0 {
            Poly::zero()
        } else {
            Poly(vec![Term {
                mono: Mono::default(),
                coeff: k,
            }])
        }
    }

    /// The polynomial `1 * atom`.
    pub(super) fn atom(atom: Atom) -> Poly {
        Poly(vec![Term {
            mono: Mono(vec![(atom, 1)]),
            coeff: 1,
        }])
    }

    pub(super) fn symbol(name: &str) -> Poly {
        Poly::atom(Atom::Sym(Arc::from(name)))
    }

    pub(super) fn is_zero(&self) -> bool {
        self.0.is_empty()
    }

    /// The value if this polynomial has no non-constant term.
    pub(super) fn as_const(&self) -> Option<i64> {
        match self.0.as_slice() {
            [] => Some(0),
            [t] if t.mono.is_one() => Some(t.coeff),
            _ => None,
        }
    }

    /// The constant term (0 when absent).
    pub(super) fn constant_term(&self) -> i64 {
        match self.0.first() {
            Some(t) if t.mono.is_one() => t.coeff,
            _ => 0,
        }
    }

    /// The non-constant terms.
    pub(super) fn nonconst_terms(&self) -> &[Term] {
        match self.0.first() {
            Some(t) if t.mono.is_one() => &self.0[1..],
            _ => &self.0,
        }
    }

    /// Builds the normal form of a sum of terms in any order, with repeats and zeros.
    /// Coefficients of like terms are summed in `i128` so that only a final coefficient that
    /// does not fit `i64` counts as overflow.
    fn from_terms(mut terms: Vec<Term>) -> Option<Poly> {
        terms.sort_by(|x, y| x.mono.cmp(&y.mono));
        let mut out: Vec<Term> = Vec::with_capacity(terms.len());
        let mut iter = terms.into_iter().peekable();
        while let Some(first) = iter.next() {
            let mut sum = i128::from(first.coeff);
            while let Some(next) = iter.next_if(|t| t.mono == first.mono) {
                sum = sum.checked_add(i128::from(next.coeff))?;
            }
            let coeff = i64::try_from(sum).ok()?;
            if coeff != 0 {
                out.push(Term {
                    mono: first.mono,
                    coeff,
                });
            }
        }
        Some(Poly(out))
    }

    /// `self + other` (or `self - other` when `subtract`), merging the sorted term lists.
    fn merge(&self, other: &Poly, subtract: bool) -> Option<Poly> {
        let (a, b) = (&self.0, &other.0);
        let mut out = Vec::with_capacity(a.len() + b.len());
        let (mut i, mut j) = (0, 0);
        while i < a.len() || j < b.len() {
            let order = match (a.get(i), b.get(j)) {
                (Some(x), Some(y)) => x.mono.cmp(&y.mono),
                (Some(_), None) => Ordering::Less,
                _ => Ordering::Greater,
            };
            match order {
                Ordering::Less => {
                    out.push(a[i].clone());
                    i += 1;
                }
                Ordering::Greater => {
                    let coeff = if subtract {
                        b[j].coeff.checked_neg()?
                    } else {
                        b[j].coeff
                    };
                    out.push(Term {
                        mono: b[j].mono.clone(),
                        coeff,
                    });
                    j += 1;
                }
                Ordering::Equal => {
                    let coeff = if subtract {
                        a[i].coeff.checked_sub(b[j].coeff)?
                    } else {
                        a[i].coeff.checked_add(b[j].coeff)?
                    };
                    if coeff != 0 {
                        out.push(Term {
                            mono: a[i].mono.clone(),
                            coeff,
                        });
                    }
                    i += 1;
                    j += 1;
                }
            }
        }
        Some(Poly(out))
    }

    pub(super) fn add(&self, other: &Poly) -> Option<Poly> {
        self.merge(other, false)
    }

    pub(super) fn sub(&self, other: &Poly) -> Option<Poly> {
        self.merge(other, true)
    }

    pub(super) fn add_const(&self, k: i64) -> Option<Poly> {
        self.add(&Poly::constant(k))
    }

    pub(super) fn scale(&self, k: i64) -> Option<Poly> {
        if k == 0 {
            return Some(Poly::zero());
        }
        let terms = self
            .0
            .iter()
            .map(|t| {
                Some(Term {
                    mono: t.mono.clone(),
                    coeff: t.coeff.checked_mul(k)?,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Poly(terms))
    }

    pub(super) fn neg(&self) -> Option<Poly> {
        self.scale(-1)
    }

    /// The product, fully expanded (distributivity), like terms combined.
    pub(super) fn mul(&self, other: &Poly) -> Option<Poly> {
        if let Some(k) = other.as_const() {
            return self.scale(k);
        }
        if let Some(k) = self.as_const() {
            return other.scale(k);
        }
        let size = self.0.len().saturating_mul(other.0.len());
        if size > MAX_PRODUCT_TERMS {
            return None;
        }
        let mut terms = Vec::with_capacity(size);
        for x in &self.0 {
            for y in &other.0 {
                terms.push(Term {
                    mono: x.mono.mul(&y.mono)?,
                    coeff: x.coeff.checked_mul(y.coeff)?,
                });
            }
        }
        Poly::from_terms(terms)
    }

    /// `self^e` by repeated squaring (`self^0 = 1`).
    pub(super) fn pow(&self, mut e: u32) -> Option<Poly> {
        let mut result = Poly::constant(1);
        let mut base = self.clone();
        while e > 0 {
            if e & 1 == 1 {
                result = result.mul(&base)?;
            }
            e >>= 1;
            if e > 0 {
                base = base.mul(&base)?;
            }
        }
        Some(result)
    }

    /// The leading term under [`Mono::grlex`].
    fn leading(&self) -> Option<&Term> {
        self.0.iter().max_by(|x, y| x.mono.grlex(&y.mono))
    }
}

fn gcd(mut a: i64, mut b: i64) -> i64 {
    // Only called with non-negative arguments, so `%` cannot overflow.
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// `floor(num / c)` in normal form, for `c >= 1` (callers reject other divisors).
///
/// Rewrites, each valid for integer-valued monomials (every atom is an integer):
/// 1. `floor(a/1) = a`.
/// 2. Split every coefficient `k = c*q + r` with `0 <= r < c` (Euclidean division, so this is
///    also right for negative `k`): `floor((c*Q + R)/c) = Q + floor(R/c)` because `Q` is an
///    integer. Hence `floor((h-1)/2) = -1 + floor((h+1)/2)`.
/// 3. The rest is [`floor_reduced`].
pub(super) fn floor_div(num: &Poly, c: i64) -> Option<Poly> {
    if c == 1 {
        return Some(num.clone());
    }
    let (quot, rem) = split_mod(num, c);
    quot.add(&floor_reduced(rem, c)?)
}

/// `ceil(num / c)` for `c >= 1`, stored as `floor((num + c - 1)/c)`.
///
/// The coefficients are first reduced into `[0, c)` (rewrite 2 of [`floor_div`]; valid for
/// ceil too), so adding `c - 1` can only overflow for divisors near `i64::MAX`.
pub(super) fn ceil_div(num: &Poly, c: i64) -> Option<Poly> {
    if c == 1 {
        return Some(num.clone());
    }
    let (quot, rem) = split_mod(num, c);
    quot.add(&floor_div(&rem.add_const(c - 1)?, c)?)
}

/// Splits `num = c*quot + rem` with every coefficient of `rem` in `[0, c)`, for `c >= 1`.
fn split_mod(num: &Poly, c: i64) -> (Poly, Poly) {
    let mut quot = Vec::new();
    let mut rem = Vec::new();
    for t in &num.0 {
        // `c > 0`, so Euclidean division cannot overflow.
        let (q, r) = (t.coeff.div_euclid(c), t.coeff.rem_euclid(c));
        if q != 0 {
            quot.push(Term {
                mono: t.mono.clone(),
                coeff: q,
            });
        }
        if r != 0 {
            rem.push(Term {
                mono: t.mono.clone(),
                coeff: r,
            });
        }
    }
    // Both are subsequences of a sorted list, so they are sorted too.
    (Poly(quot), Poly(rem))
}

/// `floor(rem / c)` for `c >= 2` and every coefficient of `rem` in `[0, c)`.
fn floor_reduced(rem: Poly, c: i64) -> Option<Poly> {
    // A constant in [0, c) floors to 0.
    if rem.as_const().is_some() {
        return Some(Poly::zero());
    }
    let r0 = rem.constant_term();

    // gcd reduction: with g = gcd(non-constant coefficients, c) and rem = g*q + r0,
    // floor((g*q + r0)/(g*c')) = floor((q + r0/g)/c') = floor(floor(q + r0/g)/c')
    //                          = floor((q + floor(r0/g))/c'),
    // using floor(x/n) = floor(floor(x)/n) for integers n > 0, and that q is integer-valued.
    // The new coefficients stay in [0, c') and are coprime to c' as a whole.
    let g = rem
        .nonconst_terms()
        .iter()
        .fold(c, |acc, t| gcd(acc, t.coeff));
    if g > 1 {
        let c2 = c / g;
        let mut terms = Vec::with_capacity(rem.0.len());
        if r0 / g != 0 {
            terms.push(Term {
                mono: Mono::default(),
                coeff: r0 / g,
            });
        }
        terms.extend(rem.nonconst_terms().iter().map(|t| Term {
            mono: t.mono.clone(),
            coeff: t.coeff / g,
        }));
        let reduced = Poly(terms);
        return if c2 == 1 {
            Some(reduced)
        } else {
            floor_reduced(reduced, c2)
        };
    }

    // Nested floors: for rem = floor(a/b) + s with s integer-valued,
    // floor((floor(a/b) + s)/c) = floor(floor((a + b*s)/b)/c) = floor((a + b*s)/(b*c)),
    // again by floor(floor(x)/n) = floor(x/n). The first such term in canonical order is merged,
    // so floor(floor(a/b)/c) = floor(a/(b*c)) and floor((floor(a/b) + k)/c) are caught.
    let nested = rem
        .0
        .iter()
        .position(|t| t.coeff == 1 && matches!(t.mono.0.as_slice(), [(Atom::Floor(_), 1)]));
    if let Some(i) = nested {
        let Some((Atom::Floor(inner), _)) = rem.0[i].mono.0.first() else {
            return None; // unreachable: the position above matched a floor atom
        };
        let inner = Arc::clone(inner);
        let mut rest = rem;
        rest.0.remove(i);
        let num = inner.num.add(&rest.scale(inner.div)?)?;
        return floor_div(&num, inner.div.checked_mul(c)?);
    }

    Some(Poly::atom(Atom::Floor(Arc::new(FloorAtom {
        num: rem,
        div: c,
    }))))
}

/// `min(args)` or `max(args)` in normal form (`args` must not be empty; `None` only on overflow).
///
/// Rewrites (for min; max is symmetric):
/// - flatten: `min(min(a, b), c) = min(a, b, c)`, also through sums and scaling (see
///   [`distribute`]);
/// - pull out the common part (see [`common_part`]): `min(a + p, b + p) = min(a, b) + p`;
/// - sort and deduplicate (commutativity, idempotence);
/// - drop an argument that is provably >= another one (see [`is_nonneg`]); this also folds
///   constants, since `5 - 3 >= 0`;
/// - a single argument is the result.
pub(super) fn min_max(kind: Extremum, mut args: Vec<Poly>) -> Option<Poly> {
    // First on the arguments as given, so that `min(x, x) = x` and `min(x, x + 1) = x` for every
    // `x`, even one that the flattening below would rewrite (such as `x = -max(a, b)`).
    args.sort();
    args.dedup();
    drop_dominated(kind, &mut args);
    if args.len() == 1 {
        return args.pop();
    }

    let mut common = Poly::zero();
    // Each round that changes something either flattens a nested atom, drops an argument, or
    // pulls out a common part that later rounds cannot find again; the cap is only a guard.
    for _ in 0..64 {
        let mut changed = false;

        // Flatten nested extrema into this one.
        let mut flat = Vec::with_capacity(args.len());
        for arg in args {
            match distribute(kind, &arg) {
                Some(parts) if flat.len() + parts.len() <= MAX_EXTREMUM_ARGS => {
                    flat.extend(parts);
                    changed = true;
                }
                _ => flat.push(arg),
            }
        }
        args = flat;

        // Pull out the common part (skipped if that would overflow: it is only a normalisation).
        let part = common_part(&args);
        if !part.is_zero()
            && let Some(pulled) = args
                .iter()
                .map(|a| a.sub(&part))
                .collect::<Option<Vec<_>>>()
            && let Some(total) = common.add(&part)
        {
            args = pulled;
            common = total;
            changed = true;
        }

        args.sort();
        args.dedup();
        changed |= drop_dominated(kind, &mut args);

        if !changed {
            break;
        }
    }
    let body = match args.len() {
        0 => Poly::zero(), // not reachable from the public API, which always passes arguments
        1 => args.pop().unwrap_or_default(),
        _ => Poly::atom(match kind {
            Extremum::Min => Atom::Min(args.into()),
            Extremum::Max => Atom::Max(args.into()),
        }),
    };
    common.add(&body)
}

/// Drops every argument that provably cannot be the result (for min: one that is provably >=
/// another), and says whether it dropped any. Provable `>=` is transitive, so every dropped
/// argument has a kept one below it, and checking against all others (dropped or not) is fine.
/// Distinct arguments never dominate each other both ways (their difference would be 0).
fn drop_dominated(kind: Extremum, args: &mut Vec<Poly>) -> bool {
    let dominated: Vec<bool> = (0..args.len())
        .map(|i| {
            (0..args.len()).any(|j| {
                j != i
                    && match kind {
                        Extremum::Min => provably_le(&args[j], &args[i], 3),
                        Extremum::Max => provably_le(&args[i], &args[j], 3),
                    }
            })
        })
        .collect();
    if !dominated.contains(&true) {
        return false;
    }
    let mut keep = dominated.iter().map(|&d| !d);
    args.retain(|_| keep.next().unwrap_or(true));
    true
}

/// Whether `x <= y` provably: `y - x` is provably >= 0, or one side holds an extremum that
/// settles it (absorption): `r + min(e1, e2, ..) <= y` when some `r + ei <= y`, and
/// `x <= r + max(e1, e2, ..)` when some `x <= r + ei`. So `max(min(s, 512), s) = s`. `depth`
/// bounds the search through nested extrema.
fn provably_le(x: &Poly, y: &Poly, depth: u32) -> bool {
    if y.sub(x).is_some_and(|d| is_nonneg(&d)) {
        return true;
    }
    if depth == 0 {
        return false;
    }
    let split = |p: &Poly, want_min: bool| -> Option<(Poly, Arc<[Poly]>)> {
        p.0.iter().enumerate().find_map(|(i, t)| {
            let [(atom, 1)] = t.mono.0.as_slice() else {
                return None;
            };
            let inner = match (atom, want_min) {
                (Atom::Min(inner), true) | (Atom::Max(inner), false) if t.coeff == 1 => inner,
                _ => return None,
            };
            let mut rest = p.clone();
            rest.0.remove(i);
            Some((rest, inner.clone()))
        })
    };
    if let Some((rest, inner)) = split(x, true)
        && inner
            .iter()
            .any(|e| rest.add(e).is_some_and(|xe| provably_le(&xe, y, depth - 1)))
    {
        return true;
    }
    if let Some((rest, inner)) = split(y, false)
        && inner
            .iter()
            .any(|e| rest.add(e).is_some_and(|ye| provably_le(x, &ye, depth - 1)))
    {
        return true;
    }
    false
}

/// Splits an argument of `min` (or `max`) that contains a nested extremum into the arguments
/// it stands for, or `None` if it has none that can be distributed.
///
/// For `k > 0`: `r + k*min(x1, x2, ..) = min(r + k*x1, r + k*x2, ..)`, and for `k < 0`:
/// `r + k*max(x1, ..) = min(r + k*x1, ..)`, since multiplying by a negative number swaps min and
/// max. So `min(min(a, b) + 1, c) = min(a + 1, b + 1, c)`, which keeps min and max associative
/// even though common parts are pulled out of them.
fn distribute(kind: Extremum, arg: &Poly) -> Option<Vec<Poly>> {
    let (i, k, inner) = arg.0.iter().enumerate().find_map(|(i, t)| {
        let [(atom, 1)] = t.mono.0.as_slice() else {
            return None;
        };
        let inner = match (kind, atom, t.coeff > 0) {
            (Extremum::Min, Atom::Min(inner), true)
            | (Extremum::Min, Atom::Max(inner), false)
            | (Extremum::Max, Atom::Max(inner), true)
            | (Extremum::Max, Atom::Min(inner), false) => inner,
            _ => return None,
        };
        Some((i, t.coeff, inner))
    })?;
    let mut rest = arg.clone();
    rest.0.remove(i);
    inner
        .iter()
        .map(|x| rest.add(&x.scale(k)?))
        .collect::<Option<Vec<_>>>()
}

/// The part common to all `args`: for every monomial, the smallest of its coefficients over the
/// arguments (0 where an argument lacks it).
///
/// `min(x1, x2, ..) = p + min(x1 - p, x2 - p, ..)` for any `p`; this choice of `p` shifts along
/// with the arguments (the common part of `{x + q}` is that of `{x}` plus `q`), so shifted forms
/// of the same extremum get the same normal form: `min(2a, a + 3) = a + min(a, 3)`,
/// `min(a + 1, b + 1) = min(a, b) + 1`. After pulling, every monomial has coefficient 0 in some
/// argument.
fn common_part(args: &[Poly]) -> Poly {
    if args.len() < 2 {
        return Poly::zero();
    }
    let monos: BTreeSet<&Mono> = args
        .iter()
        .flat_map(|p| p.0.iter().map(|t| &t.mono))
        .collect();
    let terms = monos
        .into_iter()
        .filter_map(|m| {
            let coeff = args
                .iter()
                .map(|p| {
                    p.0.binary_search_by(|u| u.mono.cmp(m))
                        .map_or(0, |k| p.0[k].coeff)
                })
                .min()
                .unwrap_or(0);
            (coeff != 0).then(|| Term {
                mono: m.clone(),
                coeff,
            })
        })
        .collect();
    // The set iterates in monomial order, so the terms are sorted.
    Poly(terms)
}

/// Whether `p >= 0` holds provably for all symbol values >= 0: the constant term is >= 0 and
/// every other term has a positive coefficient and a monomial that is >= 0. Conservative:
/// `false` means "not proven", not "negative".
pub(super) fn is_nonneg(p: &Poly) -> bool {
    p.0.iter().all(|t| {
        if t.mono.is_one() {
            t.coeff >= 0
        } else {
            t.coeff > 0 && mono_nonneg(&t.mono)
        }
    })
}

/// A product is >= 0 if every factor with an odd exponent is.
fn mono_nonneg(m: &Mono) -> bool {
    m.0.iter().all(|(a, e)| e % 2 == 0 || atom_nonneg(a))
}

fn atom_nonneg(a: &Atom) -> bool {
    match a {
        Atom::Sym(_) => true,
        // floor(x/c) >= 0 when x >= 0 (c > 0).
        Atom::Floor(f) => is_nonneg(&f.num),
        Atom::Min(args) => args.iter().all(is_nonneg),
        Atom::Max(args) => args.iter().any(is_nonneg),
    }
}

/// `n / d` when `d` divides `n` exactly as polynomials over the atoms.
pub(super) fn div_exact(n: &Poly, d: &Poly) -> Option<Poly> {
    if d.is_zero() {
        return None;
    }
    if n.is_zero() {
        return Some(Poly::zero());
    }
    if let Some(k) = d.as_const() {
        let terms =
            n.0.iter()
                .map(|t| {
                    (t.coeff.checked_rem(k)? == 0).then_some(())?;
                    Some(Term {
                        mono: t.mono.clone(),
                        coeff: t.coeff.checked_div(k)?,
                    })
                })
                .collect::<Option<Vec<_>>>()?;
        return Some(Poly(terms));
    }
    // Multivariate long division under a monomial order: cancel the leading term of the
    // remainder with a multiple of the divisor's leading term until nothing is left.
    let lead = d.leading()?.clone();
    let mut rem = n.clone();
    let mut quot = Vec::new();
    for _ in 0..MAX_DIVISION_STEPS {
        let Some(top) = rem.leading() else {
            break;
        };
        if top.coeff.checked_rem(lead.coeff)? != 0 {
            return None;
        }
        let q = Term {
            mono: top.mono.div(&lead.mono)?,
            coeff: top.coeff.checked_div(lead.coeff)?,
        };
        rem = rem.sub(&d.mul(&Poly(vec![q.clone()]))?)?;
        quot.push(q);
    }
    if !rem.is_zero() {
        return None;
    }
    let quot = Poly::from_terms(quot)?;
    // The order argument guarantees this, but a direct check is cheap and certain.
    (quot.mul(d)? == *n).then_some(quot)
}

/// Collects every symbol name in `p` (recursively) into `out`.
pub(super) fn collect_symbols(p: &Poly, out: &mut BTreeSet<Arc<str>>) {
    for t in &p.0 {
        for (a, _) in &t.mono.0 {
            match a {
                Atom::Sym(name) => {
                    out.insert(Arc::clone(name));
                }
                Atom::Floor(f) => collect_symbols(&f.num, out),
                Atom::Min(args) | Atom::Max(args) => {
                    args.iter().for_each(|x| collect_symbols(x, out));
                }
            }
        }
    }
}

/// What a substitution lookup says about one symbol.
pub(super) enum Binding {
    /// Leave the symbol in place.
    Keep,
    /// Replace it by this polynomial.
    Poly(Poly),
    /// Replace it by the poisoned value.
    Overflow,
}

/// Replaces symbols and renormalises bottom-up. `None` on overflow.
pub(super) fn substitute(p: &Poly, lookup: &dyn Fn(&str) -> Binding) -> Option<Poly> {
    let mut acc = Poly::zero();
    for t in &p.0 {
        let mut prod = Poly::constant(t.coeff);
        for (a, e) in &t.mono.0 {
            prod = prod.mul(&substitute_atom(a, lookup)?.pow(*e)?)?;
        }
        acc = acc.add(&prod)?;
    }
    Some(acc)
}

fn substitute_atom(a: &Atom, lookup: &dyn Fn(&str) -> Binding) -> Option<Poly> {
    match a {
        Atom::Sym(name) => match lookup(name) {
            Binding::Keep => Some(Poly::atom(a.clone())),
            Binding::Poly(p) => Some(p),
            Binding::Overflow => None,
        },
        Atom::Floor(f) => floor_div(&substitute(&f.num, lookup)?, f.div),
        Atom::Min(args) => min_max(Extremum::Min, substitute_all(args, lookup)?),
        Atom::Max(args) => min_max(Extremum::Max, substitute_all(args, lookup)?),
    }
}

fn substitute_all(args: &[Poly], lookup: &dyn Fn(&str) -> Binding) -> Option<Vec<Poly>> {
    args.iter().map(|x| substitute(x, lookup)).collect()
}

/// Evaluates `p` with checked arithmetic. Sums are accumulated in `i128`, so only a monomial or
/// a final value outside `i64` is an overflow.
pub(super) fn eval(p: &Poly, lookup: &dyn Fn(&str) -> Option<i64>) -> Result<i64, DimError> {
    let mut acc: i128 = 0;
    for t in &p.0 {
        let mut m: i64 = 1;
        for (a, e) in &t.mono.0 {
            let v = eval_atom(a, lookup)?
                .checked_pow(*e)
                .ok_or(DimError::Overflow)?;
            m = m.checked_mul(v).ok_or(DimError::Overflow)?;
        }
        // |coeff * m| <= 2^126, and a sum of terms cannot overflow i128 in practice; check anyway.
        acc = acc
            .checked_add(i128::from(t.coeff) * i128::from(m))
            .ok_or(DimError::Overflow)?;
    }
    i64::try_from(acc).map_err(|_| DimError::Overflow)
}

fn eval_atom(a: &Atom, lookup: &dyn Fn(&str) -> Option<i64>) -> Result<i64, DimError> {
    match a {
        Atom::Sym(name) => lookup(name).ok_or_else(|| DimError::Unbound(name.to_string())),
        // div >= 2, so Euclidean division (= floor for a positive divisor) cannot overflow.
        Atom::Floor(f) => Ok(eval(&f.num, lookup)?.div_euclid(f.div)),
        Atom::Min(args) => eval_extremum(args, lookup, Iterator::min),
        Atom::Max(args) => eval_extremum(args, lookup, Iterator::max),
    }
}

fn eval_extremum(
    args: &[Poly],
    lookup: &dyn Fn(&str) -> Option<i64>,
    pick: fn(std::vec::IntoIter<i64>) -> Option<i64>,
) -> Result<i64, DimError> {
    let values = args
        .iter()
        .map(|x| eval(x, lookup))
        .collect::<Result<Vec<_>, _>>()?;
    // Arguments are never empty; an empty list would be a bug, reported as overflow rather
    // than a panic.
    pick(values.into_iter()).ok_or(DimError::Overflow)
}
