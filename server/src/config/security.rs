//! `security.brute_force` (Ward only): limits on credential checks, mails and sign-ups. A
//! limit of 0 switches that limit off.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::units::duration;

/// `security`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Security {
    pub brute_force: BruteForce,
    pub account_enumeration: AccountEnumeration,
}

/// `security.account_enumeration` (Kratos's key; on by default in Ward, off in Kratos).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct AccountEnumeration {
    /// Answer an unknown identifier as a known one until the credential is checked (sign-in
    /// by code: the same "code sent" step, then the same invalid-code message).
    pub mitigate: bool,
}

impl Default for AccountEnumeration {
    fn default() -> Self {
        Self { mitigate: true }
    }
}

/// `security.brute_force`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct BruteForce {
    pub enabled: bool,
    /// Password (and passwordless) sign-in per identifier and client network: refused past it.
    pub password: Budget,
    /// Per identifier from any network: answers are slowed past it (or locked, see `lockout`).
    pub identifier: IdentifierBudget,
    /// Per client network across identifiers: refused past it.
    pub ip: Budget,
    /// Second-factor codes per identity across flows: refused past it.
    pub second_factor: Budget,
    pub mail: MailBudget,
    pub registration: RegistrationBudget,
    pub lockout: Lockout,
}

impl Default for BruteForce {
    fn default() -> Self {
        Self {
            enabled: true,
            password: Budget::new(5, 15 * 60),
            identifier: IdentifierBudget {
                max_failures: 20,
                window: Duration::from_secs(3600),
                max_delay: Duration::from_secs(10),
            },
            ip: Budget::new(100, 15 * 60),
            second_factor: Budget::new(10, 3600),
            mail: MailBudget {
                per_address: 5,
                per_ip: 60,
                window: Duration::from_secs(15 * 60),
            },
            registration: RegistrationBudget {
                per_ip: 0,
                window: Duration::from_secs(3600),
            },
            lockout: Lockout {
                enabled: false,
                duration: Duration::from_secs(3600),
            },
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Budget {
    pub max_failures: u32,
    #[serde(with = "duration")]
    pub window: Duration,
}

impl Budget {
    const fn new(max_failures: u32, window_secs: u64) -> Self {
        Self {
            max_failures,
            window: Duration::from_secs(window_secs),
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct IdentifierBudget {
    pub max_failures: u32,
    #[serde(with = "duration")]
    pub window: Duration,
    /// The longest wait before an answer once the budget is spent.
    #[serde(with = "duration")]
    pub max_delay: Duration,
}

/// Self-service mails: per recipient address (refused requests look accepted) and requests per
/// client network.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct MailBudget {
    pub per_address: u32,
    pub per_ip: u32,
    #[serde(with = "duration")]
    pub window: Duration,
}

/// Registrations per client network; 0 (the default) is no limit, as many people can share one
/// address behind a NAT.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct RegistrationBudget {
    pub per_ip: u32,
    #[serde(with = "duration")]
    pub window: Duration,
}

/// Opt-in: an identifier whose budget is spent is refused for `duration` instead of slowed.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Lockout {
    pub enabled: bool,
    #[serde(with = "duration")]
    pub duration: Duration,
}
