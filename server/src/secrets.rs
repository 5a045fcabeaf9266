//! The `secrets.default` keys: configured, or in `--dev` generated once and kept in a file so a
//! restart keeps sessions valid; and the cipher (`secrets.cipher`) for stored values that must be
//! read back, such as TOTP keys.

use std::path::Path;

use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

/// HMAC-SHA256 of `value` under `key`, in hex: how secrets and identifiers are kept where they
/// only need to be recognised.
pub fn keyed_hash(key: &str, secret: &str) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(key.as_bytes()) {
        Ok(mac) => mac,
        // HMAC takes keys of any length; this arm is unreachable in practice.
        Err(_) => return String::new(),
    };
    mac.update(secret.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Keys that sign cookies and tokens; the first signs, all verify. No `Debug`: never printed.
#[derive(Clone)]
pub struct SecretKeys(Vec<String>);

impl SecretKeys {
    pub fn new(keys: Vec<String>) -> Option<Self> {
        (!keys.is_empty()).then_some(Self(keys))
    }

    pub fn current(&self) -> &str {
        self.0.first().map(String::as_str).unwrap_or_default()
    }

    pub fn all(&self) -> &[String] {
        &self.0
    }

    /// A fresh random key (32 bytes, base64url).
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(vec![
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes),
        ])
    }

    /// Reads the key file, or creates it (mode 0600) with a fresh key.
    pub fn load_or_create(path: &Path) -> std::io::Result<Self> {
        if let Ok(text) = std::fs::read_to_string(path) {
            let keys: Vec<String> = text
                .lines()
                .map(str::trim)
                .filter(|line| !line.is_empty())
                .map(str::to_string)
                .collect();
            if let Some(keys) = Self::new(keys) {
                return Ok(keys);
            }
        }
        let keys = Self::generate();
        write_private(path, &format!("{}\n", keys.current()))?;
        Ok(keys)
    }
}

/// XChaCha20-Poly1305 under `secrets.cipher` (else `secrets.default`): the first key encrypts,
/// every key decrypts, so keys can be rotated. A key is any text; SHA-256 makes it 32 bytes.
/// Ciphertexts are `v1.` and the unpadded base64url of the 24-byte nonce and the sealed value.
/// No `Debug`: never printed.
#[derive(Clone)]
pub struct Cipher(Vec<chacha20poly1305::XChaCha20Poly1305>);

const CIPHER_PREFIX: &str = "v1.";

impl Cipher {
    pub fn new(keys: &[String]) -> Self {
        use chacha20poly1305::KeyInit;
        use sha2::{Digest, Sha256};
        Self(
            keys.iter()
                .map(|key| {
                    let digest = Sha256::digest(key.as_bytes());
                    chacha20poly1305::XChaCha20Poly1305::new(&digest)
                })
                .collect(),
        )
    }

    /// `plain` sealed under the first key; `None` without keys.
    pub fn encrypt(&self, plain: &str) -> Option<String> {
        use chacha20poly1305::aead::{Aead, AeadCore, OsRng};
        let cipher = self.0.first()?;
        let nonce = chacha20poly1305::XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let sealed = cipher.encrypt(&nonce, plain.as_bytes()).ok()?;
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        Some(format!(
            "{CIPHER_PREFIX}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
        ))
    }

    /// The value `text` seals, under any key; `None` when it is not one of ours or was altered.
    pub fn decrypt(&self, text: &str) -> Option<String> {
        use chacha20poly1305::aead::Aead;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text.strip_prefix(CIPHER_PREFIX)?)
            .ok()?;
        if bytes.len() < 24 {
            return None;
        }
        let (nonce, sealed) = bytes.split_at(24);
        let nonce = chacha20poly1305::XNonce::from_slice(nonce);
        self.0
            .iter()
            .find_map(|cipher| cipher.decrypt(nonce, sealed).ok())
            .and_then(|plain| String::from_utf8(plain).ok())
    }
}

#[cfg(unix)]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    std::fs::write(path, contents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_persist() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ward.secrets");
        let first = SecretKeys::load_or_create(&path).unwrap();
        let second = SecretKeys::load_or_create(&path).unwrap();
        assert_eq!(first.current(), second.current());
        assert!(first.current().len() >= 32);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
    }

    #[test]
    fn the_cipher_round_trips_rotates_and_refuses_tampering() {
        let old = Cipher::new(&["old key".to_string()]);
        let sealed = old.encrypt("otpauth://totp/x?secret=ABC").unwrap();
        assert!(sealed.starts_with("v1.") && !sealed.contains("ABC"));
        assert_ne!(old.encrypt("same").unwrap(), old.encrypt("same").unwrap());
        let rotated = Cipher::new(&["new key".to_string(), "old key".to_string()]);
        assert_eq!(
            rotated.decrypt(&sealed).as_deref(),
            Some("otpauth://totp/x?secret=ABC")
        );
        assert_eq!(Cipher::new(&["other".to_string()]).decrypt(&sealed), None);
        let mut tampered = sealed.clone();
        tampered.pop();
        tampered.push(if sealed.ends_with('A') { 'B' } else { 'A' });
        assert_eq!(old.decrypt(&tampered), None);
        assert_eq!(old.decrypt("otpauth://plain"), None);
        assert_eq!(Cipher::new(&[]).encrypt("x"), None);
    }
}
