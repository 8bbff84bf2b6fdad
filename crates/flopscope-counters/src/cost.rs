//! The arithmetic cost of a node.

use std::ops::{Add, AddAssign};

use flopscope_ir::Dim;

/// FLOPs other than those of multiply-accumulates, one per element per elementary operation,
/// by kind (README.md, "What is counted").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlopsByKind {
    /// Additions and subtractions (bias adds included).
    pub add: Dim,
    pub mul: Dim,
    pub div: Dim,
    /// Comparisons: max, min, relu, clip, equality.
    pub cmp: Dim,
    /// Transcendental and other special functions: exp, log, tanh, erf, sqrt, pow, sin, ...
    pub special: Dim,
}

impl FlopsByKind {
    /// Sum over all kinds.
    pub fn total(&self) -> Dim {
        &self.add + &self.mul + &self.div + &self.cmp + &self.special
    }

    /// The kinds with their report names, in report order.
    pub fn named(&self) -> [(&'static str, &Dim); 5] {
        [
            ("add", &self.add),
            ("mul", &self.mul),
            ("div", &self.div),
            ("cmp", &self.cmp),
            ("special", &self.special),
        ]
    }

    fn any_overflow(&self) -> bool {
        self.named().iter().any(|(_, d)| d.is_overflow())
    }
}

impl Add for FlopsByKind {
    type Output = FlopsByKind;
    fn add(mut self, rhs: FlopsByKind) -> FlopsByKind {
        self += &rhs;
        self
    }
}

impl AddAssign<&FlopsByKind> for FlopsByKind {
    fn add_assign(&mut self, rhs: &FlopsByKind) {
        self.add += &rhs.add;
        self.mul += &rhs.mul;
        self.div += &rhs.div;
        self.cmp += &rhs.cmp;
        self.special += &rhs.special;
    }
}

/// What one node costs in arithmetic. Memory traffic is not here: the engine computes it the
/// same way for every op (each input read once, each output written once).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cost {
    /// Multiply-accumulates of contractions (one MAC = 2 FLOPs).
    pub macs: Dim,
    /// Every other arithmetic operation, by kind.
    pub flops: FlopsByKind,
}

impl Cost {
    /// No arithmetic: data movement and metadata ops.
    pub fn zero() -> Cost {
        Cost::default()
    }

    pub fn macs(macs: Dim) -> Cost {
        Cost {
            macs,
            ..Cost::default()
        }
    }

    pub fn with_add(mut self, n: Dim) -> Cost {
        self.flops.add += n;
        self
    }

    pub fn with_mul(mut self, n: Dim) -> Cost {
        self.flops.mul += n;
        self
    }

    pub fn with_div(mut self, n: Dim) -> Cost {
        self.flops.div += n;
        self
    }

    pub fn with_cmp(mut self, n: Dim) -> Cost {
        self.flops.cmp += n;
        self
    }

    pub fn with_special(mut self, n: Dim) -> Cost {
        self.flops.special += n;
        self
    }

    /// This cost `times` over (a loop body run `times` times).
    pub fn scaled(&self, times: &Dim) -> Cost {
        Cost {
            macs: &self.macs * times,
            flops: FlopsByKind {
                add: &self.flops.add * times,
                mul: &self.flops.mul * times,
                div: &self.flops.div * times,
                cmp: &self.flops.cmp * times,
                special: &self.flops.special * times,
            },
        }
    }

    /// Per field, the larger of two costs (where a comparison is not provable, their max
    /// expression): what either of two alternatives costs at most.
    pub fn max(&self, other: &Cost) -> Cost {
        Cost {
            macs: self.macs.max(&other.macs),
            flops: FlopsByKind {
                add: self.flops.add.max(&other.flops.add),
                mul: self.flops.mul.max(&other.flops.mul),
                div: self.flops.div.max(&other.flops.div),
                cmp: self.flops.cmp.max(&other.flops.cmp),
                special: self.flops.special.max(&other.flops.special),
            },
        }
    }

    /// All FLOPs: 2 per MAC plus every other kind.
    pub fn total_flops(&self) -> Dim {
        &self.macs * 2 + self.flops.total()
    }

    pub fn is_overflow(&self) -> bool {
        self.macs.is_overflow() || self.flops.any_overflow()
    }
}

impl AddAssign<&Cost> for Cost {
    fn add_assign(&mut self, rhs: &Cost) {
        self.macs += &rhs.macs;
        self.flops += &rhs.flops;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn total_flops_is_two_per_mac_plus_the_rest() {
        let c = Cost::macs(Dim::from_i64(10))
            .with_add(Dim::from_i64(3))
            .with_special(Dim::from_i64(1));
        assert_eq!(c.total_flops(), Dim::from_i64(24));
        let mut sum = Cost::zero();
        sum += &c;
        sum += &c;
        assert_eq!(sum.macs, Dim::from_i64(20));
        assert_eq!(sum.flops.add, Dim::from_i64(6));
    }
}
