//! The `secrets.default` keys: configured, or in `--dev` generated once and kept in a file so a
//! restart keeps sessions valid.

use std::path::Path;

use base64::Engine;
use rand::RngCore;

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
}
