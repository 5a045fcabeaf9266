//! The password policy: length bounds, similarity to the identifier, and passwords known from
//! breaches (see `breach`), each failure a message with its id.

use app::model::UiText;
use serde_json::json;

use crate::config::{HashAlgorithm, PasswordPolicy};

/// Passwords are never truncated; beyond this many characters they are refused instead.
pub const MAX_PASSWORD_CHARS: usize = 1024;
/// bcrypt reads only the first 72 bytes: longer passwords would be silently cut.
const BCRYPT_MAX_BYTES: usize = 72;

/// Judges a new password of an identity with these identifiers: the rules first, then the
/// breach lists (and HIBP, when enabled).
pub async fn judge(
    state: &crate::state::AppState,
    password: &str,
    identifiers: &[String],
) -> Option<UiText> {
    let config = &state.config;
    match check(
        &config.selfservice.methods.password.config,
        config.hashers.algorithm,
        password,
        identifiers,
    ) {
        Some(message) => Some(message),
        None => state.breached.check(password).await,
    }
}

pub fn check(
    policy: &PasswordPolicy,
    algorithm: HashAlgorithm,
    password: &str,
    identifiers: &[String],
) -> Option<UiText> {
    let length = password.chars().count();
    if length < policy.min_password_length {
        return Some(UiText::new(
            4000032,
            json!({"min_length": policy.min_password_length, "actual_length": length}),
        ));
    }
    let max = match algorithm {
        HashAlgorithm::Bcrypt if password.len() > BCRYPT_MAX_BYTES => Some(BCRYPT_MAX_BYTES),
        _ if length > MAX_PASSWORD_CHARS => Some(MAX_PASSWORD_CHARS),
        _ => None,
    };
    if let Some(max_length) = max {
        return Some(UiText::new(
            4000033,
            json!({"max_length": max_length, "actual_length": length}),
        ));
    }
    if policy.identifier_similarity_check_enabled
        && identifiers.iter().any(|id| too_similar(password, id))
    {
        return Some(UiText::plain(4000031));
    }
    None
}

/// Similar when one contains the other, or they share a run of characters at least half as
/// long as the password (compared case-insensitively; e-mail addresses also by local part).
fn too_similar(password: &str, identifier: &str) -> bool {
    let password = password.to_lowercase();
    let identifier = identifier.to_lowercase();
    let local = identifier.split('@').next().unwrap_or_default().to_string();
    [identifier, local]
        .iter()
        .filter(|candidate| candidate.chars().count() >= 3)
        .any(|candidate| {
            password.contains(candidate.as_str())
                || candidate.contains(password.as_str())
                || longest_common_substring(&password, candidate) * 2 >= password.chars().count()
        })
}

fn longest_common_substring(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut previous = vec![0usize; b.len() + 1];
    let mut best = 0;
    for &left in &a {
        let mut current = vec![0usize; b.len() + 1];
        for (index, &right) in b.iter().enumerate() {
            if left == right {
                current[index + 1] = previous[index] + 1;
                best = best.max(current[index + 1]);
            }
        }
        previous = current;
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> PasswordPolicy {
        PasswordPolicy::default()
    }

    fn id_of(password: &str, identifier: &str) -> Option<u32> {
        check(
            &policy(),
            HashAlgorithm::Argon2,
            password,
            &[identifier.to_string()],
        )
        .map(|message| message.id)
    }

    #[test]
    fn rules() {
        assert_eq!(id_of("short", "ada@example.com"), Some(4000032));
        assert_eq!(id_of("ada@example.com!", "ada@example.com"), Some(4000031));
        assert_eq!(
            id_of("Lovelace-ada!", "ada.lovelace@example.com"),
            Some(4000031)
        );
        assert_eq!(
            id_of("correct horse battery staple", "ada@example.com"),
            None
        );
        let long = "x".repeat(MAX_PASSWORD_CHARS + 1);
        assert_eq!(id_of(&long, "ada@example.com"), Some(4000033));
        let sixty_four: String = "Tr0ub4dor&3-".repeat(6)[..64].to_string();
        assert_eq!(
            id_of(&sixty_four, "ada@example.com"),
            None,
            "64 characters are allowed"
        );
        let bcrypt = check(&policy(), HashAlgorithm::Bcrypt, &"y".repeat(73), &[]);
        assert_eq!(bcrypt.map(|message| message.id), Some(4000033));
    }
}
