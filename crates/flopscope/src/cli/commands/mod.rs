//! One module per command: its arguments (`Args`) and its body (`run`).

pub(crate) mod bench;
pub(crate) mod compare;
pub(crate) mod diff;
pub(crate) mod generate;
pub(crate) mod ops;
pub(crate) mod profile;
pub(crate) mod sweep;
