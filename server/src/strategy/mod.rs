//! Strategies: one per authentication method. A strategy adds its nodes to a flow's form and
//! judges submissions meant for it; it never writes HTTP. The flow engines run them in order.

pub mod code;
pub mod identifier_first;
pub mod lookup_secret;
pub mod oidc;
pub mod one_time;
pub mod passkey;
pub mod password;
pub mod profile;
pub mod totp;
pub mod traits;
pub mod webauthn;

use std::net::IpAddr;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use crate::flow::{Flow, FlowResult};
use crate::identity::Identity;
use crate::session::Aal;
use crate::state::AppState;

/// The identity whose `kind` credential has `identifier`, as typed or in lower case (stored
/// identifiers are normalised; e-mail addresses in lower case).
pub async fn find_by_identifier(
    state: &AppState,
    kind: crate::identity::CredentialType,
    identifier: &str,
) -> crate::store::StoreResult<Option<Identity>> {
    let found = state
        .identities
        .find_by_identifier(kind, identifier)
        .await?;
    let lower = identifier.to_lowercase();
    if found.is_some() || lower == identifier {
        return Ok(found);
    }
    state.identities.find_by_identifier(kind, &lower).await
}

/// What a login strategy made of a submission.
pub enum LoginOutcome {
    /// Another method's form: ask the next strategy.
    NotMine,
    /// The identity proved itself with `method`; the engine issues the session. `changed`:
    /// the strategy changed the identity (a sign counter moved on, a backup code used up), so
    /// the engine stores it together with the session.
    Authenticated {
        identity: Box<Identity>,
        method: &'static str,
        changed: bool,
    },
    /// The form moved on to its next step (a security key after the identifier): the engine
    /// saves the flow and shows it again, answering API clients as for a refusal (400 with the
    /// flow), as Kratos does.
    NextStep,
    /// The browser must go elsewhere to go on (an upstream's sign-in page); the engine saves
    /// the flow first.
    Redirect(String),
    /// The sign-in is a sign-up after all (an upstream account Ward does not know): the engine
    /// stores this registration flow and runs the same submission on it.
    Register(Box<Flow>),
    /// Refused: the flow's form now carries the messages.
    Rejected,
}

/// What a registration strategy made of a submission.
pub enum RegistrationOutcome {
    NotMine,
    /// A new identity, validated and with its credential, not yet stored.
    Registered {
        identity: Box<Identity>,
        method: &'static str,
    },
    /// The browser must go elsewhere to go on; the engine saves the flow first.
    Redirect(String),
    /// The sign-up is a sign-in after all (the upstream account is known): the engine stores
    /// this login flow and runs the same submission on it.
    SignIn(Box<Flow>),
    /// Refused in favour of another flow, stored already, that the user goes on with (a login
    /// flow that links an upstream account to the existing one with the same address).
    Elsewhere(Box<Flow>),
    Rejected,
}

/// A login method. First factors (`aal1`) serve login flows that ask for aal1; second factors
/// (`aal2`) serve the step-up flows of a signed-in identity, which the engine hands them.
#[async_trait]
pub trait LoginStrategy: Send + Sync {
    fn method(&self) -> &'static str;
    /// The assurance level a success with this method proves.
    fn aal(&self) -> Aal {
        Aal::Aal1
    }
    /// Whether `form` is meant for this method: by default, its `method` field names it.
    fn claims(&self, form: &Value) -> bool {
        form.get("method").and_then(Value::as_str) == Some(self.method())
    }
    /// Adds this method's nodes to a new login flow; `identity` (with its credentials) is the
    /// signed-in identity of an aal2 flow, `None` on aal1 flows.
    fn populate_login(&self, state: &AppState, flow: &mut Flow, identity: Option<&Identity>);
    /// Judges a submission from `client_ip`. On aal2 flows `identity` is the signed-in
    /// identity; a strategy that changes it (a backup code used up) returns the changed identity
    /// for the engine to store.
    async fn login(
        &self,
        state: &AppState,
        flow: &mut Flow,
        form: &Value,
        identity: Option<&Identity>,
        client_ip: Option<IpAddr>,
    ) -> FlowResult<LoginOutcome>;
}

#[async_trait]
pub trait RegistrationStrategy: Send + Sync {
    fn method(&self) -> &'static str;
    fn populate_registration(&self, state: &AppState, flow: &mut Flow);
    async fn register(
        &self,
        state: &AppState,
        flow: &mut Flow,
        form: &Value,
    ) -> FlowResult<RegistrationOutcome>;
}

/// What a settings strategy made of a submission.
pub enum SettingsOutcome {
    NotMine,
    /// The identity was changed in place; `privileged` says whether the change needs a recent
    /// sign-in (credentials, addresses); `second_factor` that it set up a second factor, which
    /// the submission just proved, so the session gains aal2 (as in Kratos).
    Changed {
        method: &'static str,
        privileged: bool,
        second_factor: bool,
    },
    /// Nothing stored: the form now shows something to act on (new backup codes to confirm).
    Shown,
    /// The browser must go elsewhere to go on; the engine saves the flow first.
    Redirect(String),
    Rejected,
}

#[async_trait]
pub trait SettingsStrategy: Send + Sync {
    fn method(&self) -> &'static str;
    /// Adds this method's nodes, showing `identity`'s current values.
    fn populate_settings(&self, state: &AppState, flow: &mut Flow, identity: &Identity);
    async fn update_settings(
        &self,
        state: &AppState,
        flow: &mut Flow,
        identity: &mut Identity,
        form: &Value,
    ) -> FlowResult<SettingsOutcome>;
}

/// The enabled strategies, in the order their nodes appear and their turn comes.
#[derive(Clone, Default)]
pub struct Strategies {
    pub login: Vec<Arc<dyn LoginStrategy>>,
    pub registration: Vec<Arc<dyn RegistrationStrategy>>,
    pub settings: Vec<Arc<dyn SettingsStrategy>>,
    /// Social sign-in, which the upstreams' callback needs by name.
    pub oidc: Option<Arc<oidc::OidcStrategy>>,
    /// Recovery and verification each use one method (`selfservice.flows.<flow>.use`).
    pub recovery: Option<one_time::OneTimeStrategy>,
    pub verification: Option<one_time::OneTimeStrategy>,
}

impl Strategies {
    /// The strategies the configuration enables; an error names a configuration key.
    pub async fn from_config(config: &crate::config::Config) -> Result<Self, String> {
        let mut strategies = Self::default();
        let methods = &config.selfservice.methods;
        if config.selfservice.flows.login.style == crate::config::LoginStyle::IdentifierFirst {
            strategies
                .login
                .push(Arc::new(identifier_first::IdentifierFirstStrategy));
        }
        if methods.profile.enabled {
            strategies.settings.push(Arc::new(profile::ProfileStrategy));
        }
        if config.selfservice.flows.registration.two_steps() {
            strategies
                .registration
                .push(Arc::new(profile::ProfileRegistration));
        }
        if methods.password.enabled {
            let password = Arc::new(password::PasswordStrategy);
            strategies.login.push(password.clone());
            strategies.registration.push(password.clone());
            strategies.settings.push(password);
        }
        if methods.code.enabled && methods.code.passwordless_enabled {
            let code = Arc::new(code::CodeStrategy::passwordless());
            strategies.login.push(code.clone());
            strategies.registration.push(code);
        }
        if methods.code.enabled && methods.code.mfa_enabled {
            strategies
                .login
                .push(Arc::new(code::CodeStrategy::second_factor()));
        }
        if methods.totp.enabled {
            let totp = Arc::new(totp::TotpStrategy);
            strategies.login.push(totp.clone());
            strategies.settings.push(totp);
        }
        if methods.lookup_secret.enabled {
            let lookup = Arc::new(lookup_secret::LookupSecretStrategy);
            strategies.login.push(lookup.clone());
            strategies.settings.push(lookup);
        }
        if methods.webauthn.enabled {
            let passwordless = methods.webauthn.config.passwordless;
            let webauthn = Arc::new(webauthn::WebauthnStrategy { passwordless });
            if passwordless {
                let first_factor = Arc::new(webauthn::passwordless::PasswordlessStrategy);
                strategies.login.push(first_factor.clone());
                strategies.registration.push(first_factor);
            } else {
                strategies.login.push(webauthn.clone());
            }
            strategies.settings.push(webauthn);
        }
        if methods.passkey.enabled {
            let passkey = Arc::new(passkey::PasskeyStrategy);
            strategies.login.push(passkey.clone());
            strategies.registration.push(passkey.clone());
            strategies.settings.push(passkey);
        }
        if methods.oidc.enabled {
            let oidc = Arc::new(oidc::OidcStrategy::from_config(&methods.oidc.config).await?);
            strategies.login.push(oidc.clone());
            strategies.registration.push(oidc.clone());
            strategies.settings.push(oidc.clone());
            strategies.oidc = Some(oidc);
        }

        let flows = &config.selfservice.flows;
        let one_time =
            |enabled: bool, method| enabled.then_some(one_time::OneTimeStrategy { method });
        strategies.recovery = one_time(flows.recovery.enabled, flows.recovery.method);
        strategies.verification = one_time(flows.verification.enabled, flows.verification.method);
        Ok(strategies)
    }
}
