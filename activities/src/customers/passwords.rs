//! Password hashes: argon2id with a fresh random salt each, on a blocking thread, at most one
//! per CPU at a time.
//!
//! Parameters: m = 7 MiB, t = 5, p = 1, the smallest-memory of the five configurations OWASP's
//! Password Storage Cheat Sheet lists as equally strong (the crate's default is its 19 MiB,
//! t = 2 one). Memory per hash is what sizes the API: a burst of sign-ups or logins would
//! otherwise hold 19 MiB per request in flight, so hashes wait for a permit instead, one per
//! CPU, which costs no throughput (a hash is pure CPU). Stored hashes carry their own
//! parameters, so hashes made with the earlier defaults still verify.

use super::CustomersError;
use argon2::password_hash::{
    PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng,
};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::OnceLock;
use tokio::sync::Semaphore;

/// OWASP's m = 7 MiB, t = 5, p = 1.
const MEMORY_KIB: u32 = 7 * 1024;
const ITERATIONS: u32 = 5;
const LANES: u32 = 1;

fn argon2() -> Argon2<'static> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, LANES, None)
        .unwrap_or_else(|_| unreachable!("OWASP's parameters are valid argon2 parameters"));
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// One permit per CPU: hashes beyond that wait rather than each holding its memory.
fn permits() -> &'static Semaphore {
    static PERMITS: OnceLock<Semaphore> = OnceLock::new();
    PERMITS.get_or_init(|| {
        Semaphore::new(std::thread::available_parallelism().map_or(1, std::num::NonZero::get))
    })
}

/// Runs `work` on a blocking thread once a permit is free.
async fn bounded<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, CustomersError> {
    let _permit = permits()
        .acquire()
        .await
        .map_err(|e| CustomersError::Hashing(e.to_string()))?;
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| CustomersError::Hashing(e.to_string()))
}

/// A new hash of `password`, in PHC string format.
pub(super) async fn hash(password: String) -> Result<String, CustomersError> {
    bounded(move || {
        let salt = SaltString::generate(&mut OsRng);
        argon2()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|e| CustomersError::Hashing(e.to_string()))
    })
    .await?
}

/// Whether `password` matches `stored` (with the parameters `stored` was made with).
pub(super) async fn verify(password: String, stored: String) -> bool {
    bounded(move || {
        PasswordHash::new(&stored).is_ok_and(|parsed| {
            argon2()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
    })
    .await
    .unwrap_or(false)
}

/// A hash of nothing, checked against when the email is unknown so that a miss costs the same.
pub(super) async fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    if let Some(decoy) = DECOY.get() {
        return decoy;
    }
    let computed = hash("decoy password".to_owned()).await.unwrap_or_default();
    DECOY.get_or_init(|| computed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_uses_owasps_parameters_and_verifies_only_its_password() {
        let stored = hash("correct horse".to_owned()).await.expect("a hash");
        assert!(
            stored.starts_with("$argon2id$v=19$m=7168,t=5,p=1$"),
            "{stored}"
        );
        assert!(verify("correct horse".to_owned(), stored.clone()).await);
        assert!(!verify("wrong horse".to_owned(), stored).await);
    }

    #[tokio::test]
    async fn a_hash_made_with_the_earlier_defaults_still_verifies() {
        let salt = SaltString::generate(&mut OsRng);
        let earlier = Argon2::default()
            .hash_password(b"kept password", &salt)
            .expect("a hash")
            .to_string();
        assert!(earlier.contains("m=19456,t=2,p=1"), "{earlier}");
        assert!(verify("kept password".to_owned(), earlier).await);
    }
}
