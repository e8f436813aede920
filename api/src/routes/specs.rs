//! Products' technical specifications in requests: the `specifications` of a product body
//! (each checked as the document says) and the `spec` filter of `GET /products`
//! (`key:value`, `key>=number`, `key<=number`, joined by `;`). The catalog keeps and searches
//! them ([`activities::catalog::specifications`]).

use activities::catalog::specifications::{Comparison, SpecFilter, SpecValue, Specification};
use serde::Deserialize;
use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};

/// The largest number a specification holds, either side of 0 (past it, numbers lose their
/// units' precision anyway).
const MAX_NUMBER: f64 = 1e15;
/// The most filters one `spec` parameter holds.
pub(crate) const MAX_FILTERS: usize = 10;
/// The `spec` parameter's grammar, as the document states it (`ProductParams` repeats it as a
/// literal, which utoipa needs; a test holds the two equal).
#[cfg(test)]
const FILTER_PATTERN: &str = r"^[a-z][a-z0-9_]{0,39}(:[^;\u0000]{1,100}|[<>]=-?[0-9]{1,15}(\.[0-9]{1,6})?)(;[a-z][a-z0-9_]{0,39}(:[^;\u0000]{1,100}|[<>]=-?[0-9]{1,15}(\.[0-9]{1,6})?)){0,9}$";

/// One specification in a product body.
#[derive(Debug, Deserialize, garde::Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SpecificationBody {
    /// A lower-case letter, then up to 39 lower-case letters, digits and `_`.
    #[garde(custom(key_format))]
    #[schema(pattern = "^[a-z][a-z0-9_]{0,39}$")]
    key: String,
    /// A number (at most 10^15 either side of 0), a boolean, or a text of 1 to 200
    /// characters.
    #[garde(custom(value_format))]
    #[schema(schema_with = value_schema)]
    value: serde_json::Value,
    /// The unit of a number, 1 to 16 characters, such as `ml`.
    #[garde(inner(length(chars, min = 1, max = 16)))]
    #[schema(min_length = 1, max_length = 16)]
    unit: Option<String>,
}

fn key_format(key: &str, _: &()) -> garde::Result {
    let mut bytes = key.bytes();
    let ok = key.len() <= 40
        && bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    ok.then_some(())
        .ok_or_else(|| garde::Error::new("a lower-case letter, then up to 39 of a-z, 0-9 and _"))
}

fn value_format(value: &serde_json::Value, _: &()) -> garde::Result {
    match value {
        serde_json::Value::Bool(_) => Ok(()),
        serde_json::Value::Number(n) if n.as_f64().is_some_and(|n| n.abs() <= MAX_NUMBER) => Ok(()),
        serde_json::Value::String(text) if (1..=200).contains(&text.chars().count()) => Ok(()),
        _ => Err(garde::Error::new(
            "a number (at most 10^15 either side of 0), a boolean, or a text of 1 to 200 characters",
        )),
    }
}

fn value_schema() -> Schema {
    OneOfBuilder::new()
        .item(ObjectBuilder::new().schema_type(Type::Boolean))
        .item(
            ObjectBuilder::new()
                .schema_type(Type::Number)
                .minimum(Some(-MAX_NUMBER))
                .maximum(Some(MAX_NUMBER)),
        )
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(200)),
        )
        .description(Some(
            "A number (at most 10^15 either side of 0), a boolean, or a text of 1 to 200 characters.",
        ))
        .into()
}

/// The specifications of a product body, in order; a key given twice keeps its last value
/// (as a category named twice is one category).
pub(crate) fn specifications(bodies: Vec<SpecificationBody>) -> Vec<Specification> {
    let mut specifications: Vec<Specification> = Vec::with_capacity(bodies.len());
    for body in bodies {
        let value = match body.value {
            serde_json::Value::Bool(flag) => SpecValue::Flag(flag),
            serde_json::Value::String(text) => SpecValue::Text(text),
            number => SpecValue::Number(number.as_f64().unwrap_or_default()),
        };
        let specification = Specification {
            key: body.key,
            value,
            unit: body.unit,
        };
        match specifications
            .iter_mut()
            .find(|s| s.key == specification.key)
        {
            Some(earlier) => *earlier = specification,
            None => specifications.push(specification),
        }
    }
    specifications
}

/// The filters of a `spec` parameter, as the documented pattern reads them.
pub(crate) fn parse_filters(spec: &str) -> Result<Vec<SpecFilter>, garde::Error> {
    let wrong = || {
        garde::Error::new(
            "filters `key:value`, `key>=number` or `key<=number`, joined by `;` (at most 10)",
        )
    };
    let parts: Vec<&str> = spec.split(';').collect();
    if parts.len() > MAX_FILTERS {
        return Err(wrong());
    }
    parts
        .into_iter()
        .map(|part| parse_filter(part).ok_or_else(wrong))
        .collect()
}

fn parse_filter(part: &str) -> Option<SpecFilter> {
    let key_len = part
        .bytes()
        .take_while(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_')
        .count();
    let (key, rest) = part.split_at(key_len);
    key_format(key, &()).ok()?;
    let (comparison, value) = if let Some(value) = rest.strip_prefix(':') {
        let length = value.chars().count();
        ((1..=100).contains(&length) && !value.contains('\0'))
            .then_some((Comparison::Equals, value))?
    } else if let Some(value) = rest.strip_prefix(">=") {
        (Comparison::AtLeast, number(value)?)
    } else {
        (Comparison::AtMost, number(rest.strip_prefix("<=")?)?)
    };
    Some(SpecFilter {
        key: key.to_owned(),
        comparison,
        value: value.to_owned(),
    })
}

/// `-?[0-9]{1,15}(\.[0-9]{1,6})?`.
fn number(text: &str) -> Option<&str> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, "1"));
    let all_digits =
        |s: &str, max: usize| (1..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
    (all_digits(whole, 15) && all_digits(fraction, 6)).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_as_the_pattern_says() {
        let schema = serde_json::json!({"type": "string", "pattern": FILTER_PATTERN});
        let validator = jsonschema::validator_for(&schema).expect("the pattern");
        let matches = |text: &str| validator.is_valid(&serde_json::json!(text));
        for good in [
            "material:stoneware",
            "capacity>=300;capacity<=400.5",
            "dishwasher_safe:true;colour:deep blue: matte",
            "a:x;b:y;c:z;d:1;e:2;f:3;g:4;h:5;i:6;j:7",
            "depth<=-2",
        ] {
            assert!(matches(good), "{good} matches");
            assert!(parse_filters(good).is_ok(), "{good} parses");
        }
        for bad in [
            "",
            "Material:x",
            "material:",
            "capacity>=",
            "capacity>=1e3",
            "capacity>=.5",
            "capacity=300",
            ":x",
            "a:x;",
            "a:x;b:y;c:z;d:1;e:2;f:3;g:4;h:5;i:6;j:7;k:8",
        ] {
            assert!(!matches(bad), "{bad} does not match");
            assert!(parse_filters(bad).is_err(), "{bad} is refused");
        }
        let parsed = parse_filters("capacity>=300").expect("parsed");
        use utoipa::IntoParams as _;
        let documented = super::super::products::ProductParams::into_params(|| None)
            .into_iter()
            .find(|p| p.name == "spec")
            .map(|p| serde_json::to_value(p).expect("JSON"));
        assert_eq!(
            documented.as_ref().map(|p| &p["schema"]["pattern"]),
            Some(&serde_json::json!(FILTER_PATTERN))
        );
        assert_eq!(parsed[0].comparison, Comparison::AtLeast);
    }
}
