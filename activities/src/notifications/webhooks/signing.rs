//! Standard Webhooks signatures (<https://www.standardwebhooks.com>): what a receiver's
//! existing library verifies.
//!
//! A secret is `whsec_` and the base64 of 32 random bytes. A delivery carries `webhook-id` (the
//! event id, the same on every attempt, so a receiver can drop a repeat), `webhook-timestamp`
//! (Unix seconds of this attempt) and `webhook-signature`: `v1,` and the base64 of
//! HMAC-SHA256, keyed with the secret's bytes, over `<id>.<timestamp>.<body>`.

use argon2::password_hash::rand_core::{OsRng, RngCore as _};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac as _};
use sha2::Sha256;

/// What every secret starts with.
pub const SECRET_PREFIX: &str = "whsec_";

/// A new secret.
pub fn new_secret() -> String {
    let mut bytes = [0_u8; 32];
    OsRng.fill_bytes(&mut bytes);
    format!("{SECRET_PREFIX}{}", STANDARD.encode(bytes))
}

/// The stored secret is not `whsec_<base64>`.
#[derive(Debug, thiserror::Error)]
#[error("a webhook secret is `whsec_` and base64")]
pub struct MalformedSecret;

/// The `webhook-signature` header of `body`, sent as message `id` at `timestamp`.
pub fn signature(
    secret: &str,
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<String, MalformedSecret> {
    let key = secret
        .strip_prefix(SECRET_PREFIX)
        .and_then(|encoded| STANDARD.decode(encoded).ok())
        .ok_or(MalformedSecret)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).map_err(|_| MalformedSecret)?;
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    Ok(format!(
        "v1,{}",
        STANDARD.encode(mac.finalize().into_bytes())
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the specification's reference libraries.
    #[test]
    fn signs_as_the_specification_example() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = br#"{"test": 2432232314}"#;
        let signed = signature(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
        assert_eq!(
            signed.expect("a good secret"),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn a_secret_without_its_prefix_signs_nothing() {
        assert!(signature("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "id", 1, b"{}").is_err());
        assert!(new_secret().starts_with(SECRET_PREFIX));
    }
}
