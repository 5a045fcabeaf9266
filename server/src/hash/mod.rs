//! Password hashing: argon2id (default) or bcrypt per `hashers.algorithm`, verification of
//! imported argon2id/argon2i/bcrypt hashes, all on dedicated worker threads.
//!
//! Hashing is deliberately slow and memory-hungry, so it runs on `workers` dedicated threads,
//! never on the async executor, and never queues without bound: at most `max_waiting` requests
//! wait, anything beyond is refused at once (`HashError::Overloaded`, answered 503 with
//! `Retry-After`). A busy worker reuses one argon2 memory buffer from job to job, so memory
//! stays at `workers × hashers.argon2.memory` however many passwords are hashed (allocating
//! 19 MiB per hash fragments the allocator's heap: RSS grew by megabytes per sign-in before),
//! and an idle worker gives its buffer back.

pub mod calibrate;

use std::str::FromStr;
use std::sync::Arc;

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::OnceCell;

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
            .run(move |memory| match config.algorithm {
                HashAlgorithm::Argon2 => hash_argon2(&config, password.expose(), memory),
                HashAlgorithm::Bcrypt => bcrypt::hash(password.expose(), config.bcrypt.cost)
                    .map_err(|error| HashError::Internal(error.to_string())),
            })
            .await
    }

    /// Compares a password with a stored hash in any supported format, in constant time.
    pub async fn verify(&self, password: Password, stored: String) -> Result<bool, HashError> {
        let keep = usize::try_from(self.config.argon2.memory / 1024).unwrap_or(usize::MAX);
        self.pool
            .run(move |memory| {
                let verified = verify_blocking(password.expose(), &stored, memory);
                // An imported hash may have needed more memory than configured: give it back.
                if memory.len() > keep {
                    memory.truncate(keep);
                    memory.shrink_to_fit();
                }
                verified
            })
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
            // Imports that would need more than 1 GiB per verification are refused.
            Self::Argon2 => PasswordHash::new(stored).ok().is_some_and(|parsed| {
                Params::try_from(&parsed).is_ok_and(|params| params.m_cost() <= 1 << 20)
                    && parsed.hash.is_some()
            }),
            Self::Bcrypt => bcrypt::HashParts::from_str(stored).is_ok(),
        };
        if well_formed {
            Ok(format)
        } else {
            Err(HashError::UnsupportedFormat)
        }
    }
}

fn internal(error: impl std::fmt::Display) -> HashError {
    HashError::Internal(error.to_string())
}

/// Runs argon2 over `memory`, grown to what `params` need and kept for the next call.
fn argon2_into(
    algorithm: Algorithm,
    version: Version,
    params: Params,
    password: &str,
    salt: &[u8],
    out: &mut [u8],
    memory: &mut Vec<Block>,
) -> Result<(), HashError> {
    let blocks = params.block_count();
    if memory.len() < blocks {
        memory.resize(blocks, Block::new());
    }
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password.as_bytes(), salt, out, &mut memory[..blocks])
        .map_err(internal)
}

fn hash_argon2(
    config: &Hashers,
    password: &str,
    memory: &mut Vec<Block>,
) -> Result<String, HashError> {
    let argon = &config.argon2;
    let memory_kib =
        u32::try_from(argon.memory / 1024).map_err(|_| internal("argon2 memory too large"))?;
    let params = Params::new(
        memory_kib,
        argon.iterations,
        argon.parallelism,
        Some(argon.key_length as usize),
    )
    .map_err(internal)?;
    let mut salt = vec![0u8; argon.salt_length as usize];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut salt);
    let mut out = vec![0u8; argon.key_length as usize];
    argon2_into(
        Algorithm::Argon2id,
        Version::V0x13,
        params.clone(),
        password,
        &salt,
        &mut out,
        memory,
    )?;
    let salt = SaltString::encode_b64(&salt).map_err(internal)?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(internal)?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(internal)?),
    };
    Ok(phc.to_string())
}

/// Recomputes an argon2 PHC hash with its own algorithm and parameters; compares in constant
/// time (`Output`'s equality is).
fn verify_argon2(password: &str, stored: &str, memory: &mut Vec<Block>) -> Result<bool, HashError> {
    let parsed = PasswordHash::new(stored).map_err(|_| HashError::UnsupportedFormat)?;
    let algorithm =
        Algorithm::try_from(parsed.algorithm).map_err(|_| HashError::UnsupportedFormat)?;
    let version = parsed
        .version
        .map(Version::try_from)
        .transpose()
        .map_err(|_| HashError::UnsupportedFormat)?
        .unwrap_or(Version::V0x13);
    let expected = parsed.hash.ok_or(HashError::UnsupportedFormat)?;
    let params = Params::try_from(&parsed).map_err(|_| HashError::UnsupportedFormat)?;
    let mut salt = [0u8; 64];
    let salt = parsed
        .salt
        .ok_or(HashError::UnsupportedFormat)?
        .decode_b64(&mut salt)
        .map_err(|_| HashError::UnsupportedFormat)?;
    let mut out = vec![0u8; expected.len()];
    argon2_into(algorithm, version, params, password, salt, &mut out, memory)?;
    Ok(Output::new(&out).map_err(internal)? == expected)
}

fn verify_blocking(
    password: &str,
    stored: &str,
    memory: &mut Vec<Block>,
) -> Result<bool, HashError> {
    match HashFormat::detect(stored) {
        Some(HashFormat::Argon2) => verify_argon2(password, stored, memory),
        Some(HashFormat::Bcrypt) => {
            bcrypt::verify(password, stored).map_err(|_| HashError::UnsupportedFormat)
        }
        None => Err(HashError::UnsupportedFormat),
    }
}

/// A job for a worker: it gets the worker's reusable argon2 memory.
type Job = Box<dyn FnOnce(&mut Vec<Block>) + Send>;

/// A worker's next job; `None` once the hasher is dropped. The worker keeps its argon2
/// memory only while jobs are waiting, and gives it back before it sleeps, so an idle Ward
/// holds no hashing memory while a busy one reuses the buffer from job to job (`main` makes
/// the allocator return such large blocks to the system at once).
fn next_job(
    jobs: &std::sync::Mutex<std::sync::mpsc::Receiver<Job>>,
    memory: &mut Vec<Block>,
) -> Option<Job> {
    use std::sync::TryLockError;
    use std::sync::mpsc::TryRecvError;
    let waiting = match jobs.try_lock() {
        Ok(receiver) => match receiver.try_recv() {
            Ok(job) => Some(job),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => return None,
        },
        // Another worker holds the receiver while it waits: the queue is empty.
        Err(TryLockError::WouldBlock) => None,
        Err(TryLockError::Poisoned(_)) => return None,
    };
    if waiting.is_some() {
        return waiting;
    }
    drop(std::mem::take(memory));
    // The lock is held only while waiting for a job, not while hashing.
    jobs.lock().ok()?.recv().ok()
}

/// Dedicated hashing threads fed through a bounded queue.
struct BlockingPool {
    queue: std::sync::mpsc::SyncSender<Job>,
}

impl BlockingPool {
    fn new(workers: usize, max_waiting: usize) -> Self {
        let (queue, jobs) = std::sync::mpsc::sync_channel::<Job>(max_waiting);
        let jobs = Arc::new(std::sync::Mutex::new(jobs));
        for index in 0..workers.max(1) {
            let jobs = jobs.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("ward-hash-{index}"))
                .spawn(move || {
                    let mut memory = Vec::new();
                    while let Some(job) = next_job(&jobs, &mut memory) {
                        job(&mut memory);
                    }
                });
            if let Err(error) = spawned {
                tracing::error!(%error, "could not start a password hashing thread");
            }
        }
        Self { queue }
    }

    async fn run<T, F>(&self, work: F) -> Result<T, HashError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Vec<Block>) -> Result<T, HashError> + Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |memory| {
            let _ = reply.send(work(memory));
        });
        self.queue.try_send(job).map_err(|error| match error {
            std::sync::mpsc::TrySendError::Full(_) => HashError::Overloaded,
            std::sync::mpsc::TrySendError::Disconnected(_) => {
                HashError::Internal("the hashing threads are gone".into())
            }
        })?;
        answer
            .await
            .map_err(|_| HashError::Internal("a hashing thread stopped".into()))?
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
        let huge = "$argon2id$v=19$m=2097152,t=1,p=1$c29tZXNhbHQ$wWKIMhR9lyDFvRz9YTZweHKfbftvj+qf+YFY4NeBbtA";
        assert!(
            matches!(
                HashFormat::validate(huge),
                Err(HashError::UnsupportedFormat)
            ),
            "2 GiB per check is refused"
        );
        assert!(matches!(
            HashFormat::validate("$argon2id$garbage"),
            Err(HashError::UnsupportedFormat)
        ));
        assert!(matches!(
            HashFormat::validate("$2a$10$short"),
            Err(HashError::UnsupportedFormat)
        ));
    }

    #[test]
    fn a_worker_keeps_its_memory_while_jobs_wait_and_returns_it_when_idle() {
        let (queue, jobs) = std::sync::mpsc::sync_channel::<Job>(4);
        let jobs = std::sync::Mutex::new(jobs);
        let mut memory = vec![Block::new(); 64];
        queue.send(Box::new(|_| {})).unwrap();
        assert!(next_job(&jobs, &mut memory).is_some());
        assert_eq!(memory.len(), 64, "a job was waiting: the buffer is reused");
        let later = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(50));
            queue.send(Box::new(|_| {})).unwrap();
        });
        assert!(next_job(&jobs, &mut memory).is_some());
        assert!(
            memory.is_empty() && memory.capacity() == 0,
            "idle: the buffer is freed"
        );
        later.join().unwrap();
    }

    #[tokio::test]
    async fn overload_is_refused_not_queued() {
        // One worker, one place in the queue.
        let pool = Arc::new(BlockingPool::new(1, 1));
        let (started_tx, started_rx) = std::sync::mpsc::channel::<()>();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let busy = {
            let pool = pool.clone();
            tokio::spawn(async move {
                pool.run(move |_| {
                    started_tx.send(()).ok();
                    release_rx.recv().ok();
                    Ok(1)
                })
                .await
            })
        };
        tokio::task::spawn_blocking(move || started_rx.recv())
            .await
            .unwrap()
            .unwrap();
        // Fill the one place in the queue; the next request is refused at once.
        let filler: Job = Box::new(|_| {});
        pool.queue
            .try_send(filler)
            .map_err(|_| "queue full")
            .unwrap();
        assert!(matches!(
            pool.run(|_| Ok(3)).await,
            Err(HashError::Overloaded)
        ));
        release_tx.send(()).unwrap();
        assert_eq!(busy.await.unwrap().unwrap(), 1);
        // Once the worker has taken the filler, the queue has room again.
        let mut answer = Err(HashError::Overloaded);
        for _ in 0..200 {
            answer = pool.run(|_| Ok(4)).await;
            if answer.is_ok() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        assert_eq!(answer.unwrap(), 4);
    }

    #[tokio::test]
    async fn memory_is_reused_across_hashes() {
        let hasher = Hasher::new(hashers(HashAlgorithm::Argon2), 1, 4);
        let first = hasher
            .hash(Password::new("one password".into()))
            .await
            .unwrap();
        let second = hasher
            .hash(Password::new("one password".into()))
            .await
            .unwrap();
        assert_ne!(first, second, "fresh salts");
        assert!(
            hasher
                .verify(Password::new("one password".into()), first)
                .await
                .unwrap()
        );
        // An imported hash with more memory than configured grows the buffer and still verifies.
        let argon2i =
            "$argon2i$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$wWKIMhR9lyDFvRz9YTZweHKfbftvj+qf+YFY4NeBbtA";
        assert!(
            hasher
                .verify(Password::new("password".into()), argon2i.into())
                .await
                .unwrap()
        );
        assert!(
            !hasher
                .verify(Password::new("Password".into()), argon2i.into())
                .await
                .unwrap()
        );
    }
}
