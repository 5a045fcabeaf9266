//! Account protection (`security.brute_force`): budgets for credential checks, mails and
//! sign-ups, kept in the database so every replica shares them.
//!
//! Every attempt is counted *before* it is judged, in one atomic statement that returns the
//! count: concurrent guesses each get their own number, and those past the budget are refused
//! without being judged. A success then resets the counters it proved wrong. Counters are named
//! by keyed hashes, never by the identifier, address or IP itself.

use std::net::IpAddr;
use std::time::Duration;

use app::model::UiText;
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::config::Budget;
use crate::flow::{Flow, FlowError};
use crate::secrets::keyed_hash;
use crate::state::AppState;
use crate::store::{Counter, StoreResult, ThrottleKey};

/// The scopes of counters (the `scope` column and the admin API's `scope`).
pub mod scope {
    /// Password sign-in: one identifier from one client network.
    pub const PASSWORD: &str = "password";
    /// Sign-in attempts for one identifier from any network.
    pub const IDENTIFIER: &str = "identifier";
    /// Sign-in attempts from one client network for any identifier.
    pub const IP: &str = "ip";
    /// Second-factor codes of one identity, across flows.
    pub const SECOND_FACTOR: &str = "second_factor";
    /// Self-service mails to one address.
    pub const MAIL_ADDRESS: &str = "mail_address";
    /// Requests for self-service mails from one client network.
    pub const MAIL_IP: &str = "mail_ip";
    /// Registrations from one client network.
    pub const REGISTRATION: &str = "registration";
    /// Single-use claims of secrets that stay valid for a while (TOTP time steps, backup codes).
    pub const CLAIM: &str = "claim";
    /// Sign-in and sign-up codes to one identifier (`code.config.resend_interval`).
    pub const CODE_MAIL: &str = "code_mail";
}

/// The flow message of a refusal (Ward's id; Kratos defines none).
pub const MESSAGE_TOO_MANY_ATTEMPTS: u32 = 4009001;

/// A budget that was spent: which, and how long until it refills.
#[derive(Debug, Clone, Copy)]
pub struct Refused {
    pub scope: &'static str,
    pub retry_after: Duration,
}

impl Refused {
    /// Answers the refused submission of `flow`: 429 for API and JSON clients, the form with
    /// message 4009001 for browsers.
    pub fn reject(self, flow: &Flow) -> FlowError {
        FlowError::Throttled {
            flow: Box::new(flow.clone()),
            retry_after: self.retry_after,
        }
    }
}

/// The flow message that says how long to wait.
pub fn message(retry_after: Duration) -> UiText {
    let seconds = retry_after.as_secs().max(1);
    UiText::new(
        MESSAGE_TOO_MANY_ATTEMPTS,
        json!({"retry_after_seconds": seconds, "retry_after_minutes": seconds.div_ceil(60)}),
    )
}

/// The client network a limit applies to: the address for IPv4, its /64 for IPv6 (one
/// subscriber usually holds a whole /64).
pub fn network(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let [a, b, c, d, ..] = v6.segments();
            format!("{a:x}:{b:x}:{c:x}:{d:x}::/64")
        }
    }
}

fn subject(state: &AppState, kind: &str, value: &str) -> String {
    keyed_hash(state.secrets.current(), &format!("{kind}\n{value}"))
}

/// Identifiers are compared as sign-in compares them: trimmed and case-insensitively.
fn identifier_subject(state: &AppState, identifier: &str) -> String {
    subject(state, "identifier", &identifier.trim().to_lowercase())
}

fn identity_subject(state: &AppState, identity: Uuid) -> String {
    subject(state, "identity", &identity.to_string())
}

fn network_subject(state: &AppState, ip: IpAddr) -> String {
    subject(state, "network", &network(ip))
}

fn key(scope: &'static str, subject: String, origin: String) -> ThrottleKey {
    ThrottleKey {
        scope,
        subject,
        origin,
    }
}

/// One budget applied to one counter.
struct Limit {
    key: ThrottleKey,
    max: u32,
    window: Duration,
}

impl Limit {
    fn new(key: ThrottleKey, budget: Budget) -> Option<Self> {
        (budget.max_failures > 0).then_some(Self {
            key,
            max: budget.max_failures,
            window: budget.window,
        })
    }
}

fn enabled(state: &AppState) -> bool {
    state.config.security.brute_force.enabled
}

/// Counts one attempt under each limit; returns the counters in the same order.
async fn count(
    state: &AppState,
    limits: &[Limit],
    now: OffsetDateTime,
) -> StoreResult<Vec<Counter>> {
    let hits: Vec<(ThrottleKey, Duration)> = limits
        .iter()
        .map(|limit| (limit.key.clone(), limit.window))
        .collect();
    state.throttles.hit(&hits, now).await
}

fn over(limit: &Limit, counter: &Counter) -> bool {
    counter.failures > i64::from(limit.max)
}

fn until(end: OffsetDateTime, now: OffsetDateTime) -> Duration {
    let left = (end - now).max(time::Duration::seconds(1));
    Duration::from_secs(u64::try_from(left.whole_seconds()).unwrap_or(1).max(1))
}

fn refuse(state: &AppState, scope: &'static str, retry_after: Duration) -> Refused {
    state.metrics.throttle_refused(scope);
    tracing::warn!(
        scope,
        retry_after = retry_after.as_secs(),
        "an attempt was refused by a brute-force limit"
    );
    Refused { scope, retry_after }
}

/// The first counter past its limit, as a refusal.
fn first_refusal(
    state: &AppState,
    limits: &[Limit],
    counters: &[Counter],
    now: OffsetDateTime,
) -> Option<Refused> {
    limits
        .iter()
        .zip(counters)
        .find(|(limit, counter)| over(limit, counter))
        .map(|(limit, counter)| refuse(state, limit.key.scope, until(counter.window_ends_at, now)))
}

/// A counted sign-in attempt; tell it when the credential was right.
#[derive(Default)]
pub struct SignIn {
    reset: Vec<ThrottleKey>,
    refund: Option<ThrottleKey>,
}

impl SignIn {
    /// The credential was right: the identifier's counters start again, and the attempt does
    /// not count against the client network.
    pub async fn succeeded(self, state: &AppState) -> StoreResult<()> {
        state
            .throttles
            .settle(&self.reset, self.refund.as_ref())
            .await
    }

    /// The credential could not be checked (the hashers are overloaded): the attempt does not
    /// count at all.
    pub async fn abandoned(self, state: &AppState) -> StoreResult<()> {
        for key in self.reset.iter().chain(&self.refund) {
            state.throttles.refund(key).await?;
        }
        Ok(())
    }
}

/// Counts a sign-in attempt for `identifier` from `ip` before the credential is checked.
///
/// Refused when the client network spent its budget, or this identifier from this network did
/// (the same answer whether the identifier exists or not). Past the identifier's budget across
/// all networks, every answer waits (1 s more per attempt, up to `max_delay`), right or wrong;
/// with `lockout.enabled` it is refused instead.
pub async fn sign_in(
    state: &AppState,
    ip: Option<IpAddr>,
    identifier: &str,
) -> StoreResult<Result<SignIn, Refused>> {
    if !enabled(state) {
        return Ok(Ok(SignIn::default()));
    }
    let config = &state.config.security.brute_force;
    let now = state.clock.now();
    let id_subject = identifier_subject(state, identifier);
    let origin = ip.map(|ip| network_subject(state, ip)).unwrap_or_default();
    // Past these, refused (checked in this order).
    let mut limits: Vec<Limit> = Vec::with_capacity(3);
    if ip.is_some() {
        limits.extend(Limit::new(
            key(scope::IP, origin.clone(), String::new()),
            config.ip,
        ));
    }
    limits.extend(Limit::new(
        key(scope::PASSWORD, id_subject.clone(), origin),
        config.password,
    ));
    let refusing = limits.len();
    // Past this one, slowed (or locked out).
    let identifier_budget = Budget {
        max_failures: config.identifier.max_failures,
        window: config.identifier.window,
    };
    limits.extend(Limit::new(
        key(scope::IDENTIFIER, id_subject, String::new()),
        identifier_budget,
    ));
    let counters = count(state, &limits, now).await?;
    if let Some(refused) = first_refusal(state, &limits[..refusing], &counters, now) {
        return Ok(Err(refused));
    }
    if let (Some(limit), Some(counter)) = (limits.get(refusing), counters.get(refusing))
        && over(limit, counter)
    {
        if config.lockout.enabled {
            let locked_until = counter.window_ends_at.max(now + config.lockout.duration);
            state.throttles.extend(&limit.key, locked_until).await?;
            return Ok(Err(refuse(
                state,
                scope::IDENTIFIER,
                until(locked_until, now),
            )));
        }
        let excess = counter.failures - i64::from(limit.max);
        let delay = Duration::from_secs(u64::try_from(excess).unwrap_or(1))
            .min(config.identifier.max_delay);
        tokio::time::sleep(delay).await;
    }
    let attempt = SignIn {
        reset: limits
            .iter()
            .filter(|limit| limit.key.scope != scope::IP)
            .map(|limit| limit.key.clone())
            .collect(),
        refund: limits
            .iter()
            .find(|limit| limit.key.scope == scope::IP)
            .map(|limit| limit.key.clone()),
    };
    Ok(Ok(attempt))
}

/// A counted second-factor attempt.
#[derive(Default)]
pub struct SecondFactor {
    key: Option<ThrottleKey>,
}

impl SecondFactor {
    /// The code was right: the identity's second-factor budget starts again.
    pub async fn succeeded(self, state: &AppState) -> StoreResult<()> {
        match &self.key {
            Some(key) => state.throttles.forget(std::slice::from_ref(key)).await,
            None => Ok(()),
        }
    }
}

/// Counts a second-factor attempt of `identity`, across all its flows, before the code is
/// checked; refused once the budget is spent, even for the right code.
pub async fn second_factor(
    state: &AppState,
    identity: Uuid,
) -> StoreResult<Result<SecondFactor, Refused>> {
    let budget = state.config.security.brute_force.second_factor;
    let Some(limit) = Limit::new(
        key(
            scope::SECOND_FACTOR,
            identity_subject(state, identity),
            String::new(),
        ),
        budget,
    )
    .filter(|_| enabled(state)) else {
        return Ok(Ok(SecondFactor::default()));
    };
    let now = state.clock.now();
    let counters = count(state, std::slice::from_ref(&limit), now).await?;
    if let Some(refused) = first_refusal(state, std::slice::from_ref(&limit), &counters, now) {
        return Ok(Err(refused));
    }
    Ok(Ok(SecondFactor {
        key: Some(limit.key),
    }))
}

/// Claims `secret` (already checked) of `identity` for this one use. Only the first of any
/// number of concurrent claims gets `true`: a code accepted once cannot be accepted again by a
/// request that raced it. The claim is remembered for `valid_for`, as long as the secret could
/// otherwise be accepted. Always on: this is replay protection, not a budget.
pub async fn claim(
    state: &AppState,
    identity: Uuid,
    secret: &str,
    valid_for: Duration,
) -> StoreResult<bool> {
    let claim = key(
        scope::CLAIM,
        subject(state, "claim", &format!("{identity}\n{secret}")),
        String::new(),
    );
    let counters = state
        .throttles
        .hit(&[(claim, valid_for)], state.clock.now())
        .await?;
    Ok(counters
        .first()
        .is_some_and(|counter| counter.failures == 1))
}

/// Counts a request for a self-service mail from `ip`; refused past the network's budget.
pub async fn mail_request(
    state: &AppState,
    ip: Option<IpAddr>,
) -> StoreResult<Result<(), Refused>> {
    let mail = state.config.security.brute_force.mail;
    let limit = ip.and_then(|ip| {
        Limit::new(
            key(scope::MAIL_IP, network_subject(state, ip), String::new()),
            Budget {
                max_failures: mail.per_ip,
                window: mail.window,
            },
        )
    });
    let Some(limit) = limit.filter(|_| enabled(state)) else {
        return Ok(Ok(()));
    };
    let now = state.clock.now();
    let counters = count(state, std::slice::from_ref(&limit), now).await?;
    Ok(
        match first_refusal(state, std::slice::from_ref(&limit), &counters, now) {
            Some(refused) => Err(refused),
            None => Ok(()),
        },
    )
}

/// Counts a self-service mail to `address`; `false` when the address's budget is spent and
/// nothing may be sent (the caller answers as if it had been).
pub async fn mail_to(state: &AppState, address: &str) -> StoreResult<bool> {
    let mail = state.config.security.brute_force.mail;
    let limit = Limit::new(
        key(
            scope::MAIL_ADDRESS,
            subject(state, "address", &address.trim().to_lowercase()),
            String::new(),
        ),
        Budget {
            max_failures: mail.per_address,
            window: mail.window,
        },
    );
    let Some(limit) = limit.filter(|_| enabled(state)) else {
        return Ok(true);
    };
    let now = state.clock.now();
    let counters = count(state, std::slice::from_ref(&limit), now).await?;
    if let Some(refused) = first_refusal(state, std::slice::from_ref(&limit), &counters, now) {
        tracing::info!(
            retry_after = refused.retry_after.as_secs(),
            "a self-service mail was not sent: its address received too many"
        );
        return Ok(false);
    }
    Ok(true)
}

/// Counts a code of `kind` (sign-in or sign-up) for `identifier`, whether an account uses it
/// or not; refused when one of that kind went out less than `code.config.resend_interval` ago.
pub async fn code_mail(
    state: &AppState,
    kind: crate::flow::FlowKind,
    identifier: &str,
) -> StoreResult<Result<(), Refused>> {
    let interval = state.config.selfservice.methods.code.config.resend_interval;
    if interval.is_zero() {
        return Ok(Ok(()));
    }
    let limit = Limit {
        key: key(
            scope::CODE_MAIL,
            identifier_subject(state, identifier),
            kind.as_str().to_string(),
        ),
        max: 1,
        window: interval,
    };
    let now = state.clock.now();
    let counters = count(state, std::slice::from_ref(&limit), now).await?;
    Ok(
        match first_refusal(state, std::slice::from_ref(&limit), &counters, now) {
            Some(refused) => Err(refused),
            None => Ok(()),
        },
    )
}

/// A counted registration; refund it when the registration did not happen.
#[derive(Default)]
pub struct Registration {
    key: Option<ThrottleKey>,
}

impl Registration {
    /// The submission was refused (its traits did not validate, …): it does not count.
    pub async fn refund(self, state: &AppState) -> StoreResult<()> {
        match &self.key {
            Some(key) => state.throttles.refund(key).await,
            None => Ok(()),
        }
    }
}

/// Counts a registration from `ip` before it is made; refused past the network's budget
/// (`registration.per_ip`, off by default).
pub async fn registration(
    state: &AppState,
    ip: Option<IpAddr>,
) -> StoreResult<Result<Registration, Refused>> {
    let budget = state.config.security.brute_force.registration;
    let limit = ip.and_then(|ip| {
        Limit::new(
            key(
                scope::REGISTRATION,
                network_subject(state, ip),
                String::new(),
            ),
            Budget {
                max_failures: budget.per_ip,
                window: budget.window,
            },
        )
    });
    let Some(limit) = limit.filter(|_| enabled(state)) else {
        return Ok(Ok(Registration::default()));
    };
    let now = state.clock.now();
    let counters = count(state, std::slice::from_ref(&limit), now).await?;
    if let Some(refused) = first_refusal(state, std::slice::from_ref(&limit), &counters, now) {
        return Ok(Err(refused));
    }
    Ok(Ok(Registration {
        key: Some(limit.key),
    }))
}

/// The `(scope, subject)` pairs of an identity's counters: its identifiers' sign-in counters
/// (from any network) and its second-factor counter.
pub fn subjects_of(
    state: &AppState,
    identity: &crate::identity::Identity,
) -> Vec<(&'static str, String)> {
    let mut subjects = vec![(scope::SECOND_FACTOR, identity_subject(state, identity.id))];
    for credential in identity.credentials.values() {
        for identifier in &credential.identifiers {
            let subject = identifier_subject(state, identifier);
            subjects.push((scope::PASSWORD, subject.clone()));
            subjects.push((scope::IDENTIFIER, subject));
        }
    }
    subjects.sort();
    subjects.dedup();
    subjects
}

/// The budget of `scope` from the configuration, for the admin API's `blocked_until`.
pub fn max_failures(state: &AppState, scope_name: &str) -> Option<u32> {
    let config = &state.config.security.brute_force;
    let max = match scope_name {
        scope::PASSWORD => config.password.max_failures,
        scope::IDENTIFIER if config.lockout.enabled => config.identifier.max_failures,
        scope::SECOND_FACTOR => config.second_factor.max_failures,
        _ => return None,
    };
    (max > 0).then_some(max)
}

/// Deletes counters whose window ended, every few minutes, until `shutdown`.
pub async fn clean_up(state: AppState, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let mut interval = tokio::time::interval(Duration::from_secs(300));
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        match state.throttles.purge_expired(state.clock.now()).await {
            Ok(0) => {}
            Ok(deleted) => tracing::debug!(deleted, "deleted expired brute-force counters"),
            Err(error) => tracing::warn!(%error, "could not delete expired brute-force counters"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks() {
        assert_eq!(network("192.0.2.7".parse().unwrap()), "192.0.2.7");
        assert_eq!(network("::ffff:192.0.2.7".parse().unwrap()), "192.0.2.7");
        assert_eq!(
            network("2001:db8:1:2:aaaa::1".parse().unwrap()),
            "2001:db8:1:2::/64"
        );
        assert_eq!(
            network("2001:db8:1:2:bbbb::9".parse().unwrap()),
            network("2001:db8:1:2::1".parse().unwrap())
        );
    }

    #[test]
    fn waits_are_whole_seconds_and_at_least_one() {
        let now = OffsetDateTime::UNIX_EPOCH;
        assert_eq!(until(now, now), Duration::from_secs(1));
        assert_eq!(
            until(now + time::Duration::minutes(15), now),
            Duration::from_secs(900)
        );
        let text = message(Duration::from_secs(61));
        assert_eq!(text.id, MESSAGE_TOO_MANY_ATTEMPTS);
        assert_eq!(text.context.as_ref().unwrap()["retry_after_minutes"], 2);
    }
}
