//! Money: integer minor units with a currency, never floats.

use serde::{Deserialize, Serialize};
use std::fmt;

/// An ISO 4217 currency code: three ASCII upper-case letters, such as `EUR`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String, pattern = "^[A-Z]{3}$", example = "EUR")]
pub struct Currency(String);

impl Currency {
    /// Parses a currency code, refusing anything but three upper-case ASCII letters.
    pub fn new(code: &str) -> Result<Self, MoneyError> {
        if code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()) {
            Ok(Self(code.to_owned()))
        } else {
            Err(MoneyError::InvalidCurrency(code.to_owned()))
        }
    }

    /// The three-letter code.
    pub fn code(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Currency {
    type Error = MoneyError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(&value)
    }
}

impl From<Currency> for String {
    fn from(value: Currency) -> Self {
        value.0
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An amount of money in the currency's minor unit (cents for EUR and USD).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Money {
    /// Amount in minor units. Negative amounts are allowed only where a ledger needs them.
    pub amount_minor: i64,
    /// The currency the amount is in.
    pub currency: Currency,
}

/// Why a money operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// The code is not three upper-case letters.
    #[error("`{0}` is not an ISO 4217 currency code")]
    InvalidCurrency(String),
    /// Two amounts in different currencies were combined.
    #[error("cannot combine {0} with {1}")]
    CurrencyMismatch(Currency, Currency),
    /// The result does not fit in 64 bits.
    #[error("amount overflows")]
    Overflow,
}

impl Money {
    /// An amount in minor units.
    pub fn new(amount_minor: i64, currency: Currency) -> Self {
        Self {
            amount_minor,
            currency,
        }
    }

    /// Zero in the given currency.
    pub fn zero(currency: Currency) -> Self {
        Self::new(0, currency)
    }

    /// `self + other`, refusing mixed currencies and overflow.
    pub fn checked_add(&self, other: &Money) -> Result<Money, MoneyError> {
        if self.currency != other.currency {
            return Err(MoneyError::CurrencyMismatch(
                self.currency.clone(),
                other.currency.clone(),
            ));
        }
        self.amount_minor
            .checked_add(other.amount_minor)
            .map(|amount| Money::new(amount, self.currency.clone()))
            .ok_or(MoneyError::Overflow)
    }

    /// `self * quantity`, refusing overflow.
    pub fn checked_mul(&self, quantity: u32) -> Result<Money, MoneyError> {
        self.amount_minor
            .checked_mul(i64::from(quantity))
            .map(|amount| Money::new(amount, self.currency.clone()))
            .ok_or(MoneyError::Overflow)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.amount_minor < 0 { "-" } else { "" };
        let abs = self.amount_minor.unsigned_abs();
        write!(f, "{sign}{}.{:02} {}", abs / 100, abs % 100, self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur() -> Currency {
        Currency::new("EUR").expect("valid")
    }

    #[test]
    fn currency_codes_must_be_three_upper_case_letters() {
        assert!(Currency::new("EUR").is_ok());
        for bad in ["eur", "EU", "EURO", "E1R", ""] {
            assert_eq!(
                Currency::new(bad),
                Err(MoneyError::InvalidCurrency(bad.to_owned()))
            );
        }
    }

    #[test]
    fn adding_different_currencies_is_refused() {
        let usd = Currency::new("USD").expect("valid");
        let err = Money::new(1, eur()).checked_add(&Money::new(1, usd));
        assert!(matches!(err, Err(MoneyError::CurrencyMismatch(_, _))));
    }

    #[test]
    fn overflow_is_an_error_not_a_wrap() {
        let max = Money::new(i64::MAX, eur());
        assert_eq!(
            max.checked_add(&Money::new(1, eur())),
            Err(MoneyError::Overflow)
        );
        assert_eq!(max.checked_mul(2), Err(MoneyError::Overflow));
        assert_eq!(
            Money::new(250, eur()).checked_mul(3),
            Ok(Money::new(750, eur()))
        );
    }

    #[test]
    fn money_serializes_as_minor_units_and_code() {
        let json = serde_json::to_value(Money::new(1999, eur())).expect("serializes");
        assert_eq!(
            json,
            serde_json::json!({"amount_minor": 1999, "currency": "EUR"})
        );
        let bad: Result<Money, _> =
            serde_json::from_value(serde_json::json!({"amount_minor": 1, "currency": "eur"}));
        assert!(bad.is_err());
    }

    #[test]
    fn display_is_human_readable() {
        assert_eq!(Money::new(1999, eur()).to_string(), "19.99 EUR");
        assert_eq!(Money::new(-5, eur()).to_string(), "-0.05 EUR");
    }
}
