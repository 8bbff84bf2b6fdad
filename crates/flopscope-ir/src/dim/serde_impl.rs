//! Serde support: a constant is a JSON integer, anything else its [`Dim::factored`] text (the
//! same expression as `Display`, shared factors pulled out for reading; the poisoned value is
//! the string `"overflow"`). Deserialising accepts an integer or a string for
//! [`Dim::parse`].

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde::ser::{Serialize, Serializer};

use super::{Dim, Repr};

impl Serialize for Dim {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.0 {
            Repr::Int(v) => serializer.serialize_i64(*v),
            Repr::Expr(_) => serializer.serialize_str(&self.factored()),
            Repr::Overflow => serializer.collect_str(self),
        }
    }
}

impl<'de> Deserialize<'de> for Dim {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Dim, D::Error> {
        deserializer.deserialize_any(DimVisitor)
    }
}

struct DimVisitor;

impl Visitor<'_> for DimVisitor {
    type Value = Dim;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an integer or a dimension expression string")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Dim, E> {
        Ok(Dim::from_i64(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Dim, E> {
        i64::try_from(v)
            .map(Dim::from_i64)
            .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Dim, E> {
        Dim::parse(v).map_err(E::custom)
    }
}
