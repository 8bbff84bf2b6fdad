//! Unit and property tests of [`Dim`].

use std::cmp::Ordering;

use super::{Dim, DimError, ParseDimError};

fn d(s: &str) -> Dim {
    match Dim::parse(s) {
        Ok(v) => v,
        Err(e) => panic!("{e}"),
    }
}

fn s(name: &str) -> Dim {
    Dim::sym(name)
}

fn n(v: i64) -> Dim {
    Dim::from_i64(v)
}

fn floor(x: &Dim, c: i64) -> Dim {
    x.floor_div(c).unwrap()
}

fn ceil(x: &Dim, c: i64) -> Dim {
    x.ceil_div(c).unwrap()
}

fn bind<'a>(pairs: &'a [(&'a str, i64)]) -> impl Fn(&str) -> Option<i64> + 'a {
    move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| *v)
}

// ---------------------------------------------------------------------------------------------
// Normal form

#[test]
fn constants_are_inline_and_fast() {
    assert_eq!(n(2) + n(3), n(5));
    assert_eq!(n(7) * 6, n(42));
    assert_eq!(10 - n(4), n(6));
    assert_eq!(-n(4), n(-4));
    assert_eq!(Dim::zero(), Dim::ZERO);
    assert_eq!(Dim::one(), Dim::ONE);
    assert_eq!(n(5).as_i64(), Some(5));
    assert!(n(5).is_const());
    assert!(!s("a").is_const());
    assert_eq!(s("a").as_i64(), None);
    assert_eq!(Dim::default(), Dim::ZERO);
}

#[test]
fn commutativity_and_like_terms() {
    let (a, b, c) = (s("a"), s("b"), s("c"));
    assert_eq!(&a * &b + &c, &c + &b * &a);
    assert_eq!(&a + &a, 2 * &a);
    assert_eq!(&a - &a, Dim::ZERO);
    assert_eq!((&a - &a).as_i64(), Some(0));
    assert_eq!(&a * 3 - &a * 2, a.clone());
    assert_eq!((&a + &b) + &c, &a + (&b + &c));
    assert_eq!((&a * &b) * &c, &a * (&b * &c));
}

#[test]
fn products_are_expanded() {
    let (a, b) = (s("a"), s("b"));
    assert_eq!((&a + 1) * (&a - 1), &a * &a - 1);
    assert_eq!((&a + &b) * (&a + &b), &a * &a + 2 * &a * &b + &b * &b);
    assert_eq!(2 * (&a + 1), 2 * &a + 2);
    assert_eq!(d("2*(batch + 1)*3"), d("6*batch + 6"));
    assert_eq!(a.checked_pow(3), &a * &a * &a);
    assert_eq!(a.checked_pow(0), Dim::ONE);
    assert_eq!(n(3).checked_pow(4), n(81));
}

#[test]
fn integer_floor_and_ceil() {
    assert_eq!(n(7).floor_div(2), Ok(n(3)));
    assert_eq!(n(7).ceil_div(2), Ok(n(4)));
    assert_eq!(n(-1).floor_div(2), Ok(n(-1)));
    assert_eq!(n(-1).ceil_div(2), Ok(n(0)));
    assert_eq!(n(-4).ceil_div(2), Ok(n(-2)));
    assert_eq!(n(i64::MIN).floor_div(2), Ok(n(i64::MIN / 2)));
    assert_eq!(n(i64::MAX).ceil_div(2), Ok(n(i64::MAX / 2 + 1)));
    assert_eq!(n(5).floor_div(0), Err(DimError::BadDivisor(0)));
    assert_eq!(s("h").ceil_div(-3), Err(DimError::BadDivisor(-3)));
    assert_eq!(d("floor(7/2)"), n(3));
    assert_eq!(d("ceil(-1/2)"), n(0));
}

#[test]
fn ceil_is_stored_as_floor() {
    let h = s("h");
    assert_eq!(ceil(&h, 2), floor(&(&h + 1), 2));
    assert_eq!(ceil(&h, 3), floor(&(&h + 2), 3));
    assert_eq!(ceil(&h, 1), h);
}

#[test]
fn floor_reductions() {
    let h = s("h");
    assert_eq!(floor(&h, 1), h);
    // floor((2h+3)/2) = h + 1
    assert_eq!(floor(&(2 * &h + 3), 2), &h + 1);
    // floor(3h/2) = h + floor(h/2)
    assert_eq!(floor(&(3 * &h), 2), &h + floor(&h, 2));
    // floor((h-1)/2) + 1 = floor((h+1)/2)
    assert_eq!(floor(&(&h - 1), 2) + 1, floor(&(&h + 1), 2));
    // floor(-h/2) = -h + floor(h/2)
    assert_eq!(floor(&-&h, 2), floor(&h, 2) - &h);
    // A zero numerator after reduction.
    assert_eq!(floor(&(2 * &h + 1), 2), h.clone());
    assert_eq!(floor(&(&h - &h + 1), 2), Dim::ZERO);
}

#[test]
fn floor_gcd_reduction() {
    let h = s("h");
    let w = s("w");
    assert_eq!(floor(&(2 * &h), 4), floor(&h, 2));
    assert_eq!(floor(&(2 * &h + 1), 4), floor(&h, 2));
    assert_eq!(floor(&(2 * &h + 3), 4), floor(&(&h + 1), 2));
    assert_eq!(floor(&(4 * &h + 2), 6), floor(&(2 * &h + 1), 3));
    assert_eq!(floor(&(6 * &h + 3 * &w + 2), 9), floor(&(2 * &h + &w), 3));
    // gcd with the divisor itself: floor((4h + 4w + 3)/4) = h + w.
    assert_eq!(floor(&(4 * &h + 4 * &w + 3), 4), &h + &w);
}

#[test]
fn nested_floors_merge() {
    let h = s("h");
    assert_eq!(floor(&floor(&h, 2), 3), floor(&h, 6));
    assert_eq!(ceil(&ceil(&h, 2), 2), ceil(&h, 4));
    assert_eq!(ceil(&ceil(&ceil(&h, 2), 3), 5), ceil(&h, 30));
    // floor((floor(a/b) + k)/c) = floor((a + b*k)/(b*c))
    assert_eq!(floor(&(floor(&h, 3) + 1), 2), floor(&(&h + 3), 6));
    // floor(floor(2h/3)/2) = floor(2h/6) = floor(h/3)
    assert_eq!(floor(&floor(&(2 * &h), 3), 2), floor(&h, 3));
    // Not mergeable: a coefficient other than 1.
    let f = floor(&(2 * floor(&h, 3) + 1), 5);
    assert_eq!(f.to_string(), "floor((2*floor(h/3) + 1)/5)");
}

#[test]
fn conv_output_height() {
    let h = s("height");
    // floor((height + 2*pad - kernel)/stride) + 1 with pad 1, kernel 3, stride 2.
    let conv = floor(&(&h + 2 - 3), 2) + 1;
    assert_eq!(conv, ceil(&h, 2));
    assert_eq!(conv, floor(&(&h + 1), 2));
    assert_eq!(conv, d("floor((height + 2 - 3)/2) + 1"));
    assert_eq!(conv.to_string(), "ceil(height/2)");
}

#[test]
fn mobilenet_chain() {
    let mut x = s("height");
    for _ in 0..5 {
        // A stride-2 3x3 conv with padding 1 is ceil(x/2).
        x = floor(&(&x + 2 - 3), 2) + 1;
    }
    assert_eq!(x, ceil(&s("height"), 32));
    assert_eq!(x.to_string(), "ceil(height/32)");
    let at = x.substitute(&|name| (name == "height").then(|| n(224)));
    assert_eq!(at, n(7));
    assert_eq!(x.eval(&bind(&[("height", 225)])), Ok(8));
}

/// `Dim::min` (on an owned receiver, `x.min(y)` would be `Ord::min`).
fn min(x: &Dim, y: &Dim) -> Dim {
    Dim::min(x, y)
}

fn max(x: &Dim, y: &Dim) -> Dim {
    Dim::max(x, y)
}

#[test]
fn min_max_rules() {
    let (a, b, c) = (s("a"), s("b"), s("c"));
    assert_eq!(min(&a, &b), min(&b, &a));
    assert_eq!(max(&a, &b), max(&b, &a));
    assert_eq!(min(&a, &a), a);
    assert_eq!(min(&a, &min(&b, &c)), min(&min(&a, &b), &c));
    assert_eq!(max(&a, &max(&b, &c)), max(&max(&a, &b), &c));
    assert_eq!(min(&n(3), &n(5)), n(3));
    assert_eq!(max(&n(3), &n(5)), n(5));
    assert_eq!(min(&min(&a, &n(3)), &n(5)), min(&a, &n(3)));
    // Symbols are >= 0.
    assert_eq!(max(&a, &n(0)), a);
    assert_eq!(min(&a, &n(0)), n(0));
    assert_eq!(min(&a, &n(-2)), n(-2));
    assert_eq!(min(&a, &(&a + &b)), a);
    assert_eq!(max(&a, &(&a + 1)), &a + 1);
    assert_eq!(max(&a, &(&a * &b + &a)), &a * &b + &a);
    assert_eq!(max(&a, &floor(&a, 2)).to_string(), "max(a, floor(a/2))");
    // Common parts are pulled out.
    assert_eq!(min(&(&a + 1), &(&b + 1)), min(&a, &b) + 1);
    assert_eq!(max(&(&a + &c), &(&b + &c)), max(&a, &b) + &c);
    assert_eq!(min(&(&a - 1), &n(3)), min(&a, &n(4)) - 1);
    // ... without breaking associativity.
    assert_eq!(
        min(&min(&(&a + 1), &(&b + 1)), &c),
        min(&(&a + 1), &min(&(&b + 1), &c))
    );
    // -max(a, b) inside a min distributes: min(-max(a, b), c - 5) = min(-a, -b, c - 5).
    assert_eq!(
        min(&-max(&a, &b), &(&c - 5)),
        min(&min(&-&a, &-&b), &(&c - 5))
    );
    // ... but a lone -max(a, b) is not identified with min(-a, -b) = min(a, b) - a - b.
    assert_eq!(min(&-&a, &-&b).to_string(), "-a - b + min(a, b)");
    assert_eq!(min(&-max(&a, &b), &c), -max(&a, &b));
    // Not simplifiable.
    assert_eq!(min(&a, &n(3)).to_string(), "min(a, 3)");
    assert_eq!(min(&a, &(&b - 1)).to_string(), "min(a + 1, b) - 1");
    assert_eq!(max(&(&a - 3), &n(0)).to_string(), "max(a, 3) - 3");
    assert_eq!(min(&(2 * &a), &(&a + 3)), &a + min(&a, &n(3)));
    // min(-a, b) = -a since b >= 0 >= -a.
    assert_eq!(min(&-&a, &b), -&a);
    assert_eq!(d("min(a)"), a);
    assert_eq!(d("max(a, b, a, 0, b)"), max(&a, &b));
    assert_eq!(d("min(a, b, 2*c)"), d("min(2*c, min(b, a))"));
}

#[test]
fn compare_is_sound() {
    let (a, b) = (s("a"), s("b"));
    assert_eq!(n(3).compare(&n(5)), Some(Ordering::Less));
    assert_eq!(n(5).compare(&n(5)), Some(Ordering::Equal));
    assert_eq!((&a + 1).compare(&a), Some(Ordering::Greater));
    assert_eq!(a.compare(&(&a + &b + 1)), Some(Ordering::Less));
    assert_eq!((&a + &b).compare(&(&b + &a)), Some(Ordering::Equal));
    // a >= 0 but may be 0.
    assert_eq!(a.compare(&n(0)), None);
    assert_eq!(a.compare(&b), None);
    assert_eq!(a.compare(&n(1)), None);
    assert_eq!((&a * &a + 1).compare(&n(0)), Some(Ordering::Greater));
    assert_eq!(Dim::overflow().compare(&n(0)), None);
}

#[test]
fn div_exact() {
    let (b, h, w) = (s("b"), s("h"), s("w"));
    assert_eq!((6 * &b * &h * &w).div_exact(&(3 * &b)), Some(2 * &h * &w));
    assert_eq!((&b * &h + &b).div_exact(&b), Some(&h + 1));
    assert_eq!(n(12).div_exact(&n(4)), Some(n(3)));
    assert_eq!(n(12).div_exact(&n(5)), None);
    assert_eq!(n(12).div_exact(&n(0)), None);
    assert_eq!(h.div_exact(&n(0)), None);
    assert_eq!((4 * &h + 2).div_exact(&n(2)), Some(2 * &h + 1));
    assert_eq!((4 * &h + 1).div_exact(&n(2)), None);
    assert_eq!(h.div_exact(&w), None);
    assert_eq!(h.div_exact(&(2 * &h)), None);
    assert_eq!(Dim::ZERO.div_exact(&h), Some(Dim::ZERO));
    // (h*h - w*w)/(h - w) = h + w
    assert_eq!((&h * &h - &w * &w).div_exact(&(&h - &w)), Some(&h + &w));
    assert_eq!((&h * &h + 1).div_exact(&(&h + 1)), None);
    let f = floor(&h, 2);
    assert_eq!((3 * &f * &w).div_exact(&f), Some(3 * &w));
    assert_eq!(n(i64::MIN).div_exact(&n(-1)), Some(Dim::overflow()));
    assert!(
        Dim::overflow()
            .div_exact(&h)
            .is_some_and(|x| x.is_overflow())
    );
}

#[test]
fn symbols_sorted() {
    let x = d("seq*batch + floor((height + batch)/2) + min(width, z.k)");
    let names: Vec<String> = x.symbols().iter().map(|s| s.to_string()).collect();
    assert_eq!(names, ["batch", "height", "seq", "width", "z.k"]);
    assert!(n(3).symbols().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Substitution and evaluation

#[test]
fn substitution() {
    let x = d("batch*height + ceil(height/2) + seq");
    let partial = x.substitute(&|name| (name == "height").then(|| n(224)));
    assert_eq!(partial, d("224*batch + 112 + seq"));
    let by_expr = x.substitute(&|name| (name == "height").then(|| 2 * s("k")));
    assert_eq!(by_expr, d("2*batch*k + k + seq"));
    let full = x.substitute(&|name| match name {
        "batch" => Some(n(2)),
        "height" => Some(n(7)),
        "seq" => Some(n(1)),
        _ => None,
    });
    assert_eq!(full, n(2 * 7 + 4 + 1));
    assert_eq!(x.substitute(&|_| None), x);
    // A min that becomes decidable.
    let m = d("min(a, b)").substitute(&|name| (name == "b").then(|| s("a") + 3));
    assert_eq!(m, s("a"));
}

#[test]
fn eval_and_errors() {
    let x = d("3*b*h + floor((h - 1)/2) + max(w, 2)");
    let v = x.eval(&bind(&[("b", 2), ("h", 5), ("w", 1)]));
    assert_eq!(v, Ok(30 + 2 + 2));
    assert_eq!(
        x.eval(&bind(&[("h", 5)])),
        Err(DimError::Unbound("b".to_string()))
    );
    assert_eq!(
        x.eval(&bind(&[("b", 1), ("h", 5)])),
        Err(DimError::Unbound("w".to_string()))
    );
    assert_eq!(Dim::overflow().eval(&|_| None), Err(DimError::Overflow));
    assert_eq!(
        d("h*h").eval(&bind(&[("h", 1 << 40)])),
        Err(DimError::Overflow)
    );
    // Intermediate terms may be large if the result fits.
    let big = 1i64 << 62;
    let x = n(big) * s("a") - n(big) * s("b");
    assert_eq!(x.eval(&bind(&[("a", 3), ("b", 3)])), Ok(0));
    assert_eq!(n(4).eval(&|_| None), Ok(4));
}

// ---------------------------------------------------------------------------------------------
// Overflow

#[test]
fn overflow_poisons() {
    let big = n(1 << 40);
    assert!((&big * &big).is_overflow());
    assert!((n(i64::MAX) + 1).is_overflow());
    assert!((n(i64::MIN) - 1).is_overflow());
    assert!((-n(i64::MIN)).is_overflow());
    assert!(n(2).checked_pow(63).is_overflow());
    assert!(!n(2).checked_pow(62).is_overflow());
    let p = Dim::overflow();
    assert_eq!(p.as_i64(), None);
    assert!(!p.is_const());
    assert!((&p + 1).is_overflow());
    assert!((&p * n(0)).is_overflow());
    assert!((n(0) * &p).is_overflow());
    assert!((&p * 2).is_overflow());
    assert!((3 + &p).is_overflow());
    assert!((s("a") - &p).is_overflow());
    assert!((-&p).is_overflow());
    assert!(min(&p, &n(0)).is_overflow());
    assert!(max(&s("a"), &p).is_overflow());
    assert!(p.floor_div(2).unwrap().is_overflow());
    assert!(p.ceil_div(2).unwrap().is_overflow());
    assert!(p.checked_pow(0).is_overflow());
    assert!(p.substitute(&|_| Some(n(1))).is_overflow());
    assert!([n(1), p.clone(), n(2)].iter().sum::<Dim>().is_overflow());
    // Coefficients of symbolic expressions overflow too.
    let x = n(1 << 40) * s("a");
    assert!((&x * &x).is_overflow());
    assert!((&x * (1 << 30)).is_overflow());
    assert!((n(i64::MAX) * s("a") + n(i64::MAX) * s("a")).is_overflow());
    assert!((s("a") + i64::MAX + 1).is_overflow());
    // Substitution that overflows.
    let y = d("a*a*b");
    assert!(y.substitute(&|_| Some(n(1 << 30))).is_overflow());
    assert!(
        y.substitute(&|name| (name == "a").then(Dim::overflow))
            .is_overflow()
    );
    assert!(
        !y.substitute(&|name| (name == "c").then(Dim::overflow))
            .is_overflow()
    );
    // Conversions.
    assert!(Dim::from(u64::MAX).is_overflow());
    assert!(Dim::from(usize::MAX).is_overflow());
    assert_eq!(Dim::from(7usize), n(7));
    assert_eq!(Dim::from(7u32), n(7));
    assert_eq!(Dim::from(-7i32), n(-7));
    assert_eq!(Dim::from(7i64), n(7));
}

#[test]
fn operators_and_iterators() {
    let a = s("a");
    let mut x = a.clone();
    x += 1;
    x *= 2;
    x -= &a;
    x += a.clone();
    x *= n(3);
    x -= 6;
    assert_eq!(x, 6 * &a);
    assert_eq!(&a + 1, 1 + &a);
    assert_eq!(a.clone() - 1, -(1 - a.clone()));
    assert_eq!(2 * a.clone(), a.clone() * 2);
    let dims = [n(2), s("a"), n(3)];
    assert_eq!(dims.iter().product::<Dim>(), 6 * &a);
    assert_eq!(dims.iter().sum::<Dim>(), &a + 5);
    assert_eq!(dims.into_iter().sum::<Dim>(), &a + 5);
    assert_eq!(Vec::<Dim>::new().into_iter().product::<Dim>(), Dim::ONE);
}

// ---------------------------------------------------------------------------------------------
// Printing and parsing

#[test]
fn display_forms() {
    let cases: &[(&str, &str)] = &[
        (
            "batch*height*width*3 + 1280000*batch",
            "3*batch*height*width + 1280000*batch",
        ),
        ("seq*seq*batch + 1", "batch*seq*seq + 1"),
        ("seq*batch + 1", "batch*seq + 1"),
        ("height - 1", "height - 1"),
        ("5 - height", "-height + 5"),
        ("-3*a", "-3*a"),
        ("a - 2*b + c - 7", "a - 2*b + c - 7"),
        ("b*a + a*a + a", "a*a + a*b + a"),
        ("ceil(height/2)", "ceil(height/2)"),
        ("floor((height + 1)/2)", "ceil(height/2)"),
        ("floor(height/2)", "floor(height/2)"),
        ("floor((height + 1)/3)", "floor((height + 1)/3)"),
        ("ceil((height + width)/2)", "ceil((height + width)/2)"),
        ("floor(3*height/4)", "floor(3*height/4)"),
        ("floor((h - 5)/2)", "ceil(h/2) - 3"),
        ("floor((h - 4)/2)", "floor(h/2) - 2"),
        ("2*floor(h*w/3)*k", "2*k*floor(h*w/3)"),
        ("min(w, h)", "min(h, w)"),
        ("max(3, h)", "max(h, 3)"),
        ("min(h + 1, w + 1)", "min(h, w) + 1"),
        ("max(h - 1, 0)", "max(h, 1) - 1"),
        ("min(a*b, floor(a/2)) * 2", "2*min(a*b, floor(a/2))"),
        ("x.y_1 + _z", "_z + x.y_1"),
        ("0", "0"),
        ("-0", "0"),
        ("-9223372036854775808", "-9223372036854775808"),
        ("a - 9223372036854775808", "a - 9223372036854775808"),
        ("-9223372036854775807*a - a", "-9223372036854775808*a"),
        ("overflow", "overflow"),
        ("overflow + a", "overflow"),
    ];
    for (input, want) in cases {
        let x = d(input);
        assert_eq!(x.to_string(), *want, "printing {input}");
        assert_eq!(d(want), x, "reparsing {want}");
    }
    assert_eq!(format!("{:?}", d("a + 1")), "Dim(a + 1)");
    assert_eq!(n(i64::MIN).to_string(), "-9223372036854775808");
    assert_eq!(Dim::overflow().to_string(), "overflow");
}

#[test]
fn parse_accepts_the_full_syntax() {
    let h = s("h");
    let batch = s("batch");
    assert_eq!(
        d("2*(batch + 1)*floor((h - 1)/2)"),
        2 * (&batch + 1) * floor(&(&h - 1), 2)
    );
    assert_eq!(d("  ( ( h ) )  "), h);
    assert_eq!(d("--h"), h);
    assert_eq!(d("-(-h)"), h);
    assert_eq!(d("2*-h"), -2 * &h);
    assert_eq!(d("-h*3"), -3 * &h);
    assert_eq!(d("h-1-1"), &h - 2);
    assert_eq!(d("h - (1 - 1)"), h);
    assert_eq!(d("floor(h + 1/2)"), floor(&(&h + 1), 2));
    assert_eq!(d("ceil(h/(1 + 1))"), ceil(&h, 2));
    assert_eq!(d("floor(h/ceil(7/2))"), floor(&h, 4));
    assert_eq!(
        d("max(floor(h/2), min(h, 3))"),
        max(&floor(&h, 2), &min(&h, &n(3)))
    );
    assert_eq!(d("floor"), s("floor"));
    assert_eq!(d("min + 1"), s("min") + 1);
    assert_eq!("h*2".parse::<Dim>(), Ok(2 * &h));
    // A poisoned divisor poisons the result.
    assert!(d("floor(h/overflow)").is_overflow());
}

fn parse_err(input: &str) -> ParseDimError {
    match Dim::parse(input) {
        Ok(v) => panic!("`{input}` parsed as {v}"),
        Err(e) => e,
    }
}

#[test]
fn parse_errors() {
    let cases: &[(&str, usize, &str)] = &[
        ("", 0, "empty expression"),
        ("   ", 3, "empty expression"),
        ("a +", 3, "expected an expression, found end of input"),
        ("a b", 2, "unexpected `b`"),
        ("(a + 1", 6, "expected `)`, found end of input"),
        ("a)", 1, "unexpected `)`"),
        ("floor(a)", 7, "expected `/` in floor(a/b), found `)`"),
        ("ceil(a, 2)", 6, "expected `/` in ceil(a/b), found `,`"),
        (
            "floor(a/b)",
            8,
            "the divisor of floor must be a positive integer constant, not `b`",
        ),
        (
            "floor(a/0)",
            8,
            "the divisor of floor must be a positive integer constant, not `0`",
        ),
        (
            "ceil(a / -2)",
            9,
            "the divisor of ceil must be a positive integer constant, not `-2`",
        ),
        (
            "99999999999999999999",
            0,
            "integer literal does not fit in a 64-bit integer",
        ),
        (
            "1 + 9223372036854775808",
            4,
            "integer literal does not fit in a 64-bit integer",
        ),
        ("min()", 4, "unexpected `)`"),
        ("max(a b)", 6, "expected `,` or `)`, found `b`"),
        ("a / 2", 2, "unexpected `/`"),
        ("a ^ 2", 2, "unexpected `^`"),
        ("h + é", 4, "unexpected `é`"),
        ("f(1)", 1, "unexpected `(`"),
        ("a..b", 0, ""),
    ];
    for (input, offset, message) in cases {
        if message.is_empty() {
            // `a..b` is a valid (if odd) name.
            assert_eq!(d(input), s(input));
            continue;
        }
        let e = parse_err(input);
        assert_eq!(
            (e.offset, e.message.as_str()),
            (*offset, *message),
            "{input}"
        );
        assert_eq!(e.input, *input);
    }
    assert_eq!(
        parse_err("a b").to_string(),
        "cannot parse `a b` as a dimension expression at byte 2: unexpected `b`"
    );
    // Deep nesting is an error, not a stack overflow.
    let deep = format!("{}h{}", "(".repeat(10_000), ")".repeat(10_000));
    assert_eq!(parse_err(&deep).message, "expression nested too deeply");
    let deep = format!("{}h", "-".repeat(10_000));
    assert_eq!(parse_err(&deep).message, "expression nested too deeply");
    let deep = format!("{}h{}", "floor(".repeat(10_000), "/2)".repeat(10_000));
    assert_eq!(parse_err(&deep).message, "expression nested too deeply");
    // Moderate nesting is fine.
    let ok = format!("{}h{}", "(".repeat(50), ")".repeat(50));
    assert_eq!(d(&ok), s("h"));
}

#[test]
fn serde_json_round_trip() {
    let values = [
        n(0),
        n(-5),
        n(i64::MAX),
        d("batch*seq + 1"),
        d("ceil(h/2) + min(a, 3)"),
        Dim::overflow(),
    ];
    for x in &values {
        let json = serde_json::to_string(x).unwrap();
        let back: Dim = serde_json::from_str(&json).unwrap();
        assert_eq!(&back, x, "{json}");
    }
    assert_eq!(serde_json::to_string(&n(42)).unwrap(), "42");
    assert_eq!(
        serde_json::to_string(&d("seq*batch + 1")).unwrap(),
        "\"batch*seq + 1\""
    );
    assert_eq!(
        serde_json::to_string(&Dim::overflow()).unwrap(),
        "\"overflow\""
    );
    assert_eq!(serde_json::from_str::<Dim>("\"3\"").unwrap(), n(3));
    assert_eq!(
        serde_json::from_str::<Vec<Dim>>("[1, \"h + 1\"]").unwrap(),
        vec![n(1), s("h") + 1]
    );
    assert!(serde_json::from_str::<Dim>("\"h +\"").is_err());
    assert!(serde_json::from_str::<Dim>("18446744073709551615").is_err());
    assert!(serde_json::from_str::<Dim>("1.5").is_err());
    assert!(serde_json::from_str::<Dim>("null").is_err());
}

// ---------------------------------------------------------------------------------------------
// Property-style tests over random expression trees

/// xorshift64*: a small deterministic generator, good enough to pick test cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform-ish in `lo..=hi`.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        let span = u64::try_from(hi - lo + 1).unwrap();
        lo + i64::try_from(self.next() % span).unwrap()
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % u64::try_from(n).unwrap()).unwrap()
    }
}

const SYMS: [&str; 3] = ["a", "b", "c"];

/// An expression as written, before any normalisation.
#[derive(Clone, Debug)]
enum Tree {
    Const(i64),
    Sym(usize),
    Neg(Box<Tree>),
    Add(Box<Tree>, Box<Tree>),
    Sub(Box<Tree>, Box<Tree>),
    Mul(Box<Tree>, Box<Tree>),
    Floor(Box<Tree>, i64),
    Ceil(Box<Tree>, i64),
    Min(Box<Tree>, Box<Tree>),
    Max(Box<Tree>, Box<Tree>),
}

fn gen_tree(rng: &mut Rng, depth: u32) -> Tree {
    if depth == 0 || rng.below(5) == 0 {
        return if rng.below(2) == 0 {
            Tree::Const(rng.range(-5, 5))
        } else {
            Tree::Sym(rng.below(SYMS.len()))
        };
    }
    let mut sub = || Box::new(gen_tree(rng, depth - 1));
    let (x, y) = (sub(), sub());
    match rng.below(10) {
        0 => Tree::Neg(x),
        1 | 2 => Tree::Add(x, y),
        3 => Tree::Sub(x, y),
        4 => Tree::Mul(x, y),
        5 => Tree::Floor(x, rng.range(1, 5)),
        6 => Tree::Ceil(x, rng.range(1, 5)),
        7 => Tree::Min(x, y),
        8 => Tree::Max(x, y),
        _ => Tree::Floor(Box::new(Tree::Add(x, y)), rng.range(1, 5)),
    }
}

/// A tree of only `+`, `-` and `*` over constants and symbols.
fn gen_polynomial(rng: &mut Rng, depth: u32) -> Tree {
    if depth == 0 || rng.below(4) == 0 {
        return if rng.below(2) == 0 {
            Tree::Const(rng.range(-5, 5))
        } else {
            Tree::Sym(rng.below(SYMS.len()))
        };
    }
    let x = Box::new(gen_polynomial(rng, depth - 1));
    let y = Box::new(gen_polynomial(rng, depth - 1));
    match rng.below(3) {
        0 => Tree::Add(x, y),
        1 => Tree::Sub(x, y),
        _ => Tree::Mul(x, y),
    }
}

/// Builds the `Dim` through the public operations.
fn build(t: &Tree) -> Dim {
    match t {
        Tree::Const(v) => n(*v),
        Tree::Sym(i) => s(SYMS[*i]),
        Tree::Neg(x) => -build(x),
        Tree::Add(x, y) => build(x) + build(y),
        Tree::Sub(x, y) => build(x) - build(y),
        Tree::Mul(x, y) => build(x) * build(y),
        Tree::Floor(x, c) => floor(&build(x), *c),
        Tree::Ceil(x, c) => ceil(&build(x), *c),
        Tree::Min(x, y) => min(&build(x), &build(y)),
        Tree::Max(x, y) => max(&build(x), &build(y)),
    }
}

/// The same expression with the operands of every commutative operation swapped.
fn mirror(t: &Tree) -> Tree {
    let m = |x: &Tree| Box::new(mirror(x));
    match t {
        Tree::Const(_) | Tree::Sym(_) => t.clone(),
        Tree::Neg(x) => Tree::Neg(m(x)),
        Tree::Add(x, y) => Tree::Add(m(y), m(x)),
        Tree::Sub(x, y) => Tree::Sub(m(x), m(y)),
        Tree::Mul(x, y) => Tree::Mul(m(y), m(x)),
        Tree::Floor(x, c) => Tree::Floor(m(x), *c),
        Tree::Ceil(x, c) => Tree::Ceil(m(x), *c),
        Tree::Min(x, y) => Tree::Min(m(y), m(x)),
        Tree::Max(x, y) => Tree::Max(m(y), m(x)),
    }
}

/// The expression in the parser's syntax, fully parenthesised.
fn text(t: &Tree) -> String {
    match t {
        Tree::Const(v) => format!("{v}"),
        Tree::Sym(i) => SYMS[*i].to_string(),
        Tree::Neg(x) => format!("-({})", text(x)),
        Tree::Add(x, y) => format!("({} + {})", text(x), text(y)),
        Tree::Sub(x, y) => format!("({} - {})", text(x), text(y)),
        Tree::Mul(x, y) => format!("({})*({})", text(x), text(y)),
        Tree::Floor(x, c) => format!("floor({}/{c})", text(x)),
        Tree::Ceil(x, c) => format!("ceil({}/{c})", text(x)),
        Tree::Min(x, y) => format!("min({}, {})", text(x), text(y)),
        Tree::Max(x, y) => format!("max({}, {})", text(x), text(y)),
    }
}

/// Direct evaluation with plain checked `i64` arithmetic; `None` on overflow.
fn eval_tree(t: &Tree, env: &[i64; 3]) -> Option<i64> {
    Some(match t {
        Tree::Const(v) => *v,
        Tree::Sym(i) => env[*i],
        Tree::Neg(x) => eval_tree(x, env)?.checked_neg()?,
        Tree::Add(x, y) => eval_tree(x, env)?.checked_add(eval_tree(y, env)?)?,
        Tree::Sub(x, y) => eval_tree(x, env)?.checked_sub(eval_tree(y, env)?)?,
        Tree::Mul(x, y) => eval_tree(x, env)?.checked_mul(eval_tree(y, env)?)?,
        Tree::Floor(x, c) => eval_tree(x, env)?.div_euclid(*c),
        Tree::Ceil(x, c) => {
            let v = eval_tree(x, env)?;
            v.div_euclid(*c) + i64::from(v.rem_euclid(*c) != 0)
        }
        Tree::Min(x, y) => eval_tree(x, env)?.min(eval_tree(y, env)?),
        Tree::Max(x, y) => eval_tree(x, env)?.max(eval_tree(y, env)?),
    })
}

fn eval_dim(x: &Dim, env: &[i64; 3]) -> Result<i64, DimError> {
    x.eval(&|name| SYMS.iter().position(|s| *s == name).map(|i| env[i]))
}

#[test]
fn random_expressions_normalise_correctly() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut compared = 0usize;
    let mut skipped = 0usize;
    let mut previous = Dim::ZERO;
    for case in 0..2000 {
        let tree = gen_tree(&mut rng, 1 + u32::try_from(case % 5).unwrap());
        let x = build(&tree);
        assert!(!x.is_overflow(), "{tree:?} overflowed");
        let shown = x.to_string();

        // (1) printing round-trips, and so does the raw tree's text.
        assert_eq!(d(&shown), x, "round trip of `{shown}` from {}", text(&tree));
        assert_eq!(d(&text(&tree)), x, "parsing {}", text(&tree));
        // Canonical: swapping commutative operands changes nothing.
        assert_eq!(build(&mirror(&tree)), x, "mirror of {}", text(&tree));
        // Renormalising a normal form changes nothing.
        assert_eq!(x.substitute(&|_| None), x, "renormalising `{shown}`");

        // (3) x - x = 0.
        assert_eq!(&x - &x, Dim::ZERO, "`{shown}` - itself");

        // (2) the normal form evaluates like the raw tree.
        for _ in 0..30 {
            let env = [rng.range(0, 49), rng.range(0, 49), rng.range(0, 49)];
            match eval_tree(&tree, &env) {
                Some(want) => {
                    assert_eq!(
                        eval_dim(&x, &env),
                        Ok(want),
                        "`{}` normalised to `{shown}` at {env:?}",
                        text(&tree)
                    );
                    compared += 1;
                }
                None => skipped += 1,
            }
        }

        // compare() only claims what holds.
        if let Some(ord) = x.compare(&previous) {
            for _ in 0..10 {
                let env = [rng.range(0, 49), rng.range(0, 49), rng.range(0, 49)];
                if let (Ok(u), Ok(v)) = (eval_dim(&x, &env), eval_dim(&previous, &env)) {
                    assert_eq!(
                        u.cmp(&v),
                        ord,
                        "compare(`{shown}`, `{previous}`) at {env:?}"
                    );
                }
            }
        }

        // Substitution commutes with evaluation: a := b + c.
        let sub = x.substitute(&|name| (name == "a").then(|| s("b") + s("c")));
        let env = [rng.range(0, 24), rng.range(0, 24), rng.range(0, 24)];
        let env_sub = [env[1] + env[2], env[1], env[2]];
        if let Some(want) = eval_tree(&tree, &env_sub) {
            assert_eq!(eval_dim(&sub, &env), Ok(want), "`{shown}` with a := b + c");
        }

        previous = x;
    }
    // Almost every evaluation fits in i64.
    assert!(
        compared > 50 * skipped,
        "compared {compared}, skipped {skipped}"
    );
}

/// Identities that hold semantically and that the normal form must identify.
#[test]
fn random_identities() {
    let mut rng = Rng(12345);
    for _ in 0..500 {
        let x = build(&gen_tree(&mut rng, 3));
        let y = build(&gen_tree(&mut rng, 2));
        let k = rng.range(1, 6);
        let c = rng.range(1, 6);
        // floor((k*c*x + y)/c) = k*x + floor(y/c)
        assert_eq!(floor(&(k * c * &x + &y), c), k * &x + floor(&y, c));
        // ceil(x/c) = floor((x + c - 1)/c)
        assert_eq!(ceil(&x, c), floor(&(&x + (c - 1)), c));
        // floor(floor(p/k)/c) = floor(p/(k*c)) when the inner floor is the whole numerator.
        let p = build(&gen_polynomial(&mut rng, 3));
        assert_eq!(floor(&floor(&p, k), c), floor(&p, k * c));
        assert_eq!(ceil(&ceil(&p, k), c), ceil(&p, k * c));
        assert_eq!(floor(&(floor(&p, k) + 3), c), floor(&(&p + 3 * k), k * c));
        // min/max are commutative, idempotent and absorb a common summand.
        assert_eq!(min(&x, &y), min(&y, &x));
        assert_eq!(max(&x, &x), x);
        // A shared polynomial summand comes out of min and max.
        let p = build(&gen_polynomial(&mut rng, 2));
        assert_eq!(min(&(&x + &p), &(&p + 3)), min(&x, &n(3)) + &p);
        assert_eq!(max(&(&x + &p), &(&y + &p)), max(&x, &y) + &p);
        // Distributivity.
        assert_eq!((&x + &y) * k, &x * k + &y * k);
        // Exact division undoes multiplication.
        if !y.is_const() || y.as_i64() != Some(0) {
            assert_eq!(
                (&x * &y).div_exact(&y),
                Some(x.clone()),
                "({x})*({y}) / ({y})"
            );
        }
    }
}

#[test]
fn symbol_names_are_made_parseable() {
    assert_eq!(Dim::symbol_name("batch"), "batch");
    assert_eq!(Dim::symbol_name("input/0"), "input_0");
    assert_eq!(Dim::symbol_name("0abc"), "_0abc");
    assert_eq!(Dim::symbol_name(""), "_");
    assert_eq!(Dim::symbol_name("gpu_0/data_0_d1"), "gpu_0_data_0_d1");
    for raw in ["a b", "x-y", "Min(512, seq)", "é"] {
        let name = Dim::symbol_name(raw);
        assert_eq!(Dim::parse(&name), Ok(Dim::sym(&name)), "{raw} -> {name}");
    }
}

#[test]
fn absorption_of_nested_extrema() {
    let s = Dim::sym("seq");
    let c = Dim::from_i64(512);
    // max(min(s, 512), s) = s and min(max(s, 512), s) = s.
    assert_eq!(s.min(&c).max(&s), s);
    assert_eq!(s.max(&c).min(&s), s);
    // With an offset on both sides: max(min(s, 512) + 1, s + 1) = s + 1.
    assert_eq!((s.min(&c) + 1).max(&(&s + 1)), &s + 1);
    // Not absorbed when nothing settles it.
    let t = Dim::sym("t");
    assert_eq!(s.min(&c).max(&t).to_string(), "max(min(seq, 512), t)");
}

#[test]
fn factored_pulls_out_shared_factors_and_parses_back() {
    let b = Dim::sym("batch");
    let h = Dim::sym("height");
    let d = &b * 3200 * h.ceil_div(2).unwrap() * h.ceil_div(2).unwrap() + &b * 1_280_000;
    assert_eq!(
        d.factored(),
        "batch*(3200*ceil(height/2)*ceil(height/2) + 1280000)"
    );
    assert_eq!(Dim::parse(&d.factored()), Ok(d));
    // Nothing shared, a single term, a constant: as Display.
    let e = &b + &h;
    assert_eq!(e.factored(), e.to_string());
    assert_eq!((&b * 4).factored(), "4*batch");
    assert_eq!(Dim::from_i64(7).factored(), "7");
    // Shared powers: seq*seq*batch + seq*batch = batch*seq*(seq + 1).
    let s = Dim::sym("seq");
    let g = &b * &s * &s + &b * &s;
    assert_eq!(Dim::parse(&g.factored()), Ok(g.clone()));
    assert!(g.factored().starts_with("batch*seq*("), "{}", g.factored());
}

#[test]
fn growth_reads_floors_as_divisions_and_groups_power_products() {
    let b = Dim::sym("batch");
    let s = Dim::sym("seq");
    // 2·b·s² + 3·b·s + 5
    let d = &b * &s * &s * 2 + &b * &s * 3 + 5;
    let g = d.growth();
    let shown: Vec<(String, f64)> = g.iter().map(|t| (t.to_string(), t.coefficient)).collect();
    assert_eq!(
        shown,
        vec![
            ("batch·seq²".into(), 2.0),
            ("batch·seq".into(), 3.0),
            ("1".into(), 5.0)
        ]
    );
    // ceil(h/2)·ceil(w/2) grows like h·w/4.
    let h = Dim::sym("h");
    let w = Dim::sym("w");
    let conv = h.ceil_div(2).unwrap() * w.ceil_div(2).unwrap() * 8;
    let g = conv.growth();
    assert_eq!(g[0].to_string(), "h·w");
    assert!((g[0].coefficient - 2.0).abs() < 1e-9, "{g:?}");
    // min(seq, 512) grows like a constant, max(seq, 512) like seq.
    let c = Dim::from_i64(512);
    assert_eq!(s.min(&c).growth()[0].to_string(), "1");
    assert_eq!(s.max(&c).growth()[0].to_string(), "seq");
}

#[test]
fn degree_in_a_symbol() {
    let f = d("batch*seq*(1024*past + 1024*seq + 1896448)");
    assert_eq!(f.degree_in("past"), Some(1));
    assert_eq!(f.degree_in("seq"), Some(2));
    assert_eq!(f.degree_in("width"), Some(0));
    assert_eq!(n(7).degree_in("past"), Some(0));
    assert_eq!((ceil(&s("past"), 64) * s("batch")).degree_in("past"), None);
    assert_eq!(
        (ceil(&s("past"), 64) * s("batch")).degree_in("batch"),
        Some(1)
    );
    assert_eq!(s("past").max(&s("seq")).degree_in("seq"), None);
}
