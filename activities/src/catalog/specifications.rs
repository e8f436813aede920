//! A product's technical specifications: typed `key`/`value` pairs with an optional unit
//! (`{"key": "capacity", "value": 350, "unit": "ml"}`), stored as a JSON array on the product
//! and indexed (GIN), so that `GET /products` can filter on them.
//!
//! A filter names a key and a value (`capacity:350`): it matches a product with that key whose
//! value is that number, that boolean (`true`/`false`) or that text (exactly). `min`/`max`
//! filters match a numeric value at least or at most the bound.

use serde::{Deserialize, Serialize};

/// The most specifications a product carries.
pub const MAX_SPECIFICATIONS: usize = 50;

/// A specification's value: a number, a yes/no or a text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum SpecValue {
    /// A yes/no, such as `dishwasher_safe: true`.
    Flag(bool),
    /// A number, such as `capacity: 350` (with its unit beside it).
    Number(f64),
    /// A text, such as `material: "stoneware"`.
    Text(String),
}

/// One technical specification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Specification {
    /// Lower-case letters, digits and `_`, such as `capacity`.
    pub key: String,
    /// Its value.
    pub value: SpecValue,
    /// The unit of a number, such as `ml`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

/// How a filter compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// The value is the one given.
    Equals,
    /// A number at least the one given.
    AtLeast,
    /// A number at most the one given.
    AtMost,
}

/// One filter on specifications.
#[derive(Debug, Clone, PartialEq)]
pub struct SpecFilter {
    /// The key.
    pub key: String,
    /// How.
    pub comparison: Comparison,
    /// The value as given.
    pub value: String,
}

impl SpecFilter {
    /// The SQL/JSON path condition and its variables, for `jsonb_path_exists(specifications,
    /// path, vars)`.
    pub fn path_and_vars(&self) -> (&'static str, serde_json::Value) {
        let number = self.value.parse::<f64>().ok().filter(|n| n.is_finite());
        match self.comparison {
            Comparison::Equals => (
                "$[*] ? (@.key == $k && (@.value == $s || @.value == $n || @.value == $b))",
                serde_json::json!({
                    "k": self.key,
                    "s": self.value,
                    "n": number,
                    "b": self.value.parse::<bool>().ok(),
                }),
            ),
            Comparison::AtLeast => (
                "$[*] ? (@.key == $k && @.value.type() == \"number\" && @.value >= $n)",
                serde_json::json!({"k": self.key, "n": number}),
            ),
            Comparison::AtMost => (
                "$[*] ? (@.key == $k && @.value.type() == \"number\" && @.value <= $n)",
                serde_json::json!({"k": self.key, "n": number}),
            ),
        }
    }
}
