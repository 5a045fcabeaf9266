//! Password hashing: argon2id (default) or bcrypt per `hashers.algorithm`, verification of
//! imported argon2id/argon2i/bcrypt hashes, all on a bounded blocking pool.
//!
//! Hashing is deliberately slow and memory-hungry, so it never runs on the async executor and
//! never queues without bound: at most `workers` hashes run at once, at most `max_waiting` more
//! wait, and anything beyond is refused at once (`HashError::Overloaded`, answered 503 with
//! `Retry-After`) instead of piling up memory.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::{OnceCell, Semaphore};

use crate::config::{HashAlgorithm, Hashers};

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("too many password hashes in progress")]
    Overloaded,
    #[error("unsupported password hash format")]
    UnsupportedFormat,
    #[error("password hashing failed: {0}")]
    Internal(String),
}

/// A plaintext password. It has no `Debug`, `Display` or `Serialize`, so it cannot reach a log.
pub struct Password(String);

impl Password {
    pub fn new(text: String) -> Self {
        Self(text)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

#[derive(Clone)]
pub struct Hasher {
    config: Arc<Hashers>,
    pool: Arc<BlockingPool>,
    dummy: Arc<OnceCell<String>>,
}

impl Hasher {
    pub fn new(config: Hashers, workers: usize, max_waiting: usize) -> Self {
        Self {
            config: Arc::new(config),
            pool: Arc::new(BlockingPool::new(workers, max_waiting)),
            dummy: Arc::new(OnceCell::new()),
        }
    }

    /// Hashes with the configured algorithm and parameters.
    pub async fn hash(&self, password: Password) -> Result<String, HashError> {
        let config = self.config.clone();
        self.pool
            .run(move || match config.algorithm {
                HashAlgorithm::Argon2 => hash_argon2(&config, password.expose()),
                HashAlgorithm::Bcrypt => bcrypt::hash(password.expose(), config.bcrypt.cost)
                    .map_err(|error| HashError::Internal(error.to_string())),
            })
            .await
    }

    /// Compares a password with a stored hash in any supported format, in constant time.
    pub async fn verify(&self, password: Password, stored: String) -> Result<bool, HashError> {
        self.pool
            .run(move || verify_blocking(password.expose(), &stored))
            .await
    }

    /// Spends one verification on a hash of the configured kind, for identifiers that have no
    /// password: the answer then takes as long as for a real account.
    pub async fn verify_dummy(&self, password: Password) -> Result<(), HashError> {
        let dummy = self
            .dummy
            .get_or_try_init(|| self.hash(Password::new("ward-dummy-password".into())))
            .await?
            .clone();
        self.verify(password, dummy).await.map(|_| ())
    }

    /// Whether a stored hash was made by another algorithm or other parameters than configured
    /// (used to upgrade imported hashes after a successful login).
    pub fn needs_rehash(&self, stored: &str) -> bool {
        match (self.config.algorithm, HashFormat::detect(stored)) {
            (HashAlgorithm::Argon2, Some(HashFormat::Argon2)) => {
                let Ok(parsed) = PasswordHash::new(stored) else {
                    return true;
                };
                let Ok(params) = Params::try_from(&parsed) else {
                    return true;
                };
                let wanted = &self.config.argon2;
                parsed.algorithm.as_str() != "argon2id"
                    || u64::from(params.m_cost()) * 1024 != wanted.memory
                    || params.t_cost() != wanted.iterations
                    || params.p_cost() != wanted.parallelism
            }
            (HashAlgorithm::Bcrypt, Some(HashFormat::Bcrypt)) => {
                bcrypt::HashParts::from_str(stored)
                    .map(|parts| parts.get_cost() != self.config.bcrypt.cost)
                    .unwrap_or(true)
            }
            _ => true,
        }
    }
}

/// The hash formats Ward can verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashFormat {
    Argon2,
    Bcrypt,
}

impl HashFormat {
    pub fn detect(stored: &str) -> Option<Self> {
        if stored.starts_with("$argon2id$") || stored.starts_with("$argon2i$") {
            Some(Self::Argon2)
        } else if ["$2a$", "$2b$", "$2y$", "$2x$"]
            .iter()
            .any(|prefix| stored.starts_with(prefix))
        {
            Some(Self::Bcrypt)
        } else {
            None
        }
    }

    /// Checks an imported hash is well-formed before it is stored.
    pub fn validate(stored: &str) -> Result<Self, HashError> {
        let format = Self::detect(stored).ok_or(HashError::UnsupportedFormat)?;
        let well_formed = match format {
            Self::Argon2 => PasswordHash::new(stored)
                .ok()
                .is_some_and(|parsed| Params::try_from(&parsed).is_ok() && parsed.hash.is_some()),
            Self::Bcrypt => bcrypt::HashParts::from_str(stored).is_ok(),
        };
        if well_formed {
            Ok(format)
        } else {
            Err(HashError::UnsupportedFormat)
        }
    }
}

fn hash_argon2(config: &Hashers, password: &str) -> Result<String, HashError> {
    let argon = &config.argon2;
    let memory_kib = u32::try_from(argon.memory / 1024)
        .map_err(|_| HashError::Internal("argon2 memory too large".into()))?;
    let params = Params::new(
        memory_kib,
        argon.iterations,
        argon.parallelism,
        Some(argon.key_length as usize),
    )
    .map_err(|error| HashError::Internal(error.to_string()))?;
    let mut salt = vec![0u8; argon.salt_length as usize];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut salt);
    let salt =
        SaltString::encode_b64(&salt).map_err(|error| HashError::Internal(error.to_string()))?;
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|error| HashError::Internal(error.to_string()))
}

fn verify_blocking(password: &str, stored: &str) -> Result<bool, HashError> {
    match HashFormat::detect(stored) {
        // The verifier reads algorithm and parameters from the PHC string itself.
        Some(HashFormat::Argon2) => {
            let parsed = PasswordHash::new(stored).map_err(|_| HashError::UnsupportedFormat)?;
            Ok(Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok())
        }
        Some(HashFormat::Bcrypt) => {
            bcrypt::verify(password, stored).map_err(|_| HashError::UnsupportedFormat)
        }
        None => Err(HashError::UnsupportedFormat),
    }
}

/// A semaphore in front of `spawn_blocking` with a bounded number of waiters.
struct BlockingPool {
    permits: Semaphore,
    admitted: AtomicUsize,
    limit: usize,
}

impl BlockingPool {
    fn new(workers: usize, max_waiting: usize) -> Self {
        let workers = workers.max(1);
        Self {
            permits: Semaphore::new(workers),
            admitted: AtomicUsize::new(0),
            limit: workers + max_waiting,
        }
    }

    async fn run<T, F>(&self, work: F) -> Result<T, HashError>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T, HashError> + Send + 'static,
    {
        if self.admitted.fetch_add(1, Ordering::AcqRel) >= self.limit {
            self.admitted.fetch_sub(1, Ordering::AcqRel);
            return Err(HashError::Overloaded);
        }
        let _admission = Admission(&self.admitted);
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|error| HashError::Internal(error.to_string()))?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|error| HashError::Internal(error.to_string()))?
    }
}

/// Gives the admission back when the request finishes or is cancelled.
struct Admission<'a>(&'a AtomicUsize);

impl Drop for Admission<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Argon2Config, BcryptConfig};

    fn hashers(algorithm: HashAlgorithm) -> Hashers {
        Hashers {
            algorithm,
            argon2: Argon2Config {
                memory: 64 * 1024,
                iterations: 1,
                parallelism: 1,
                salt_length: 16,
                key_length: 32,
            },
            bcrypt: BcryptConfig { cost: 4 },
        }
    }

    #[tokio::test]
    async fn argon2_round_trip() {
        let hasher = Hasher::new(hashers(HashAlgorithm::Argon2), 2, 4);
        let hash = hasher
            .hash(Password::new("correct horse".into()))
            .await
            .unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{hash}");
        assert!(
            hasher
                .verify(Password::new("correct horse".into()), hash.clone())
                .await
                .unwrap()
        );
        assert!(
            !hasher
                .verify(Password::new("wrong horse".into()), hash.clone())
                .await
                .unwrap()
        );
        assert!(!hasher.needs_rehash(&hash));
    }

    #[tokio::test]
    async fn bcrypt_round_trip_and_rehash() {
        let bcrypt_hasher = Hasher::new(hashers(HashAlgorithm::Bcrypt), 2, 4);
        let hash = bcrypt_hasher
            .hash(Password::new("pw-123456".into()))
            .await
            .unwrap();
        assert!(hash.starts_with("$2b$04$"), "{hash}");
        let argon_hasher = Hasher::new(hashers(HashAlgorithm::Argon2), 2, 4);
        assert!(
            argon_hasher
                .verify(Password::new("pw-123456".into()), hash.clone())
                .await
                .unwrap()
        );
        assert!(argon_hasher.needs_rehash(&hash));
        assert!(!bcrypt_hasher.needs_rehash(&hash));
    }

    #[test]
    fn import_formats() {
        // argon2i hash of "password" from the reference implementation's test vectors.
        let argon2i =
            "$argon2i$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$wWKIMhR9lyDFvRz9YTZweHKfbftvj+qf+YFY4NeBbtA";
        assert_eq!(HashFormat::validate(argon2i).unwrap(), HashFormat::Argon2);
        let bcrypt = "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy";
        assert_eq!(HashFormat::validate(bcrypt).unwrap(), HashFormat::Bcrypt);
        assert!(matches!(
            HashFormat::validate("$md5$abc"),
            Err(HashError::UnsupportedFormat)
        ));
        assert!(matches!(
            HashFormat::validate("$argon2id$garbage"),
            Err(HashError::UnsupportedFormat)
        ));
        assert!(matches!(
            HashFormat::validate("$2a$10$short"),
            Err(HashError::UnsupportedFormat)
        ));
    }

    #[tokio::test]
    async fn overload_is_refused_not_queued() {
        let pool = Arc::new(BlockingPool::new(1, 0));
        let (started_tx, started_rx) = std::sync::mpsc::channel::<()>();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let busy = {
            let pool = pool.clone();
            tokio::spawn(async move {
                pool.run(move || {
                    started_tx.send(()).ok();
                    release_rx.recv().ok();
                    Ok(())
                })
                .await
            })
        };
        tokio::task::spawn_blocking(move || started_rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert!(matches!(
            pool.run(|| Ok(())).await,
            Err(HashError::Overloaded)
        ));
        release_tx.send(()).unwrap();
        busy.await.unwrap().unwrap();
        pool.run(|| Ok(())).await.unwrap();
    }
}
