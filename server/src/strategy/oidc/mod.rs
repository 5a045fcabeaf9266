//! The `oidc` method: sign in and sign up through an upstream (Google, GitHub, any OpenID
//! provider), and link or unlink upstream accounts in settings.
//!
//! A submission that names a provider sends the browser to the upstream; the upstream sends it
//! back to `callback`, which checks the answer, stores the verified claims in the flow, and runs
//! the same submission through the flow's engine again. This time the strategy finds the claims
//! and signs the identity in, signs it up (claims → traits through the provider's Jsonnet
//! mapper), or links the account.
//!
//! Linking is never automatic. An upstream account whose address belongs to an identity that
//! does not have this upstream account linked is not signed in to that identity: an upstream
//! that lets anyone claim any address (many do, some without verifying it) would otherwise hand
//! out other people's accounts. The user gets a login flow instead (message 1010016) and proves
//! the existing account first; then the upstream account is linked to it.

pub mod callback;
pub mod preset;
pub mod upstream;

use std::sync::Arc;

use app::model::{InputAttributes, NodeAttributes, NodeGroup, UiNode, UiText};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use self::upstream::{NonceRule, Started, Tokens, Upstream};
use super::traits::{registering_identity, shared_trait_nodes, typed_traits};
use super::{
    LoginOutcome, LoginStrategy, RegistrationOutcome, RegistrationStrategy, SettingsOutcome,
    SettingsStrategy,
};
use crate::config::OidcConfig;
use crate::flow::{Flow, FlowKind, FlowResult, FlowType};
use crate::http::request::field;
use crate::identity::{CredentialType, Identity};
use crate::state::AppState;
use subtle::ConstantTimeEq;

pub const METHOD: &str = "oidc";
/// The flow's internal context: the request under way (`pending`), then the upstream's
/// verified answer (`verified`).
const CONTEXT: &str = "oidc";
/// A login flow's internal context: the upstream account to link once the user signed in.
const LINK: &str = "oidc_link";

pub struct OidcStrategy {
    upstreams: Vec<Arc<Upstream>>,
}

/// An authorization request under way.
#[derive(Debug, Serialize, Deserialize)]
pub struct Pending {
    pub provider: String,
    /// SHA-256 of the `state` parameter: the callback must bring the value back.
    pub state_hash: String,
    pub started: Started,
    /// Traits submitted with a sign-up, which win over the mapper's.
    #[serde(default)]
    pub traits: Option<Value>,
}

/// The upstream's answer, checked: who the user is there.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Verified {
    pub provider: String,
    pub claims: Value,
    /// The upstream's tokens, sealed with `secrets.cipher` (none unless `store_tokens`).
    #[serde(default)]
    pub tokens: Tokens,
    #[serde(default)]
    pub traits: Option<Value>,
    /// Binds the answer to the run of the engine the callback starts (see `upstream_user`).
    #[serde(default)]
    pub key: String,
}

impl Verified {
    fn subject(&self) -> Option<&str> {
        self.claims
            .get("sub")
            .and_then(Value::as_str)
            .filter(|subject| !subject.is_empty())
    }

    /// The credential identifier `<provider>:<subject>`.
    fn identifier(&self) -> Option<String> {
        self.subject()
            .map(|subject| format!("{}:{subject}", self.provider))
    }

    /// The credential's entry for this upstream account (its tokens sealed already).
    fn link(&self) -> Value {
        let sealed = |token: &Option<String>| token.clone().unwrap_or_default();
        json!({
            "provider": self.provider,
            "subject": self.subject().unwrap_or_default(),
            "initial_id_token": sealed(&self.tokens.id_token),
            "initial_access_token": sealed(&self.tokens.access_token),
            "initial_refresh_token": sealed(&self.tokens.refresh_token),
        })
    }
}

/// An upstream account waiting to be linked to `identity_id` once it signs in.
#[derive(Debug, Serialize, Deserialize)]
struct PendingLink {
    identity_id: Uuid,
    verified: Verified,
}

impl OidcStrategy {
    pub async fn from_config(config: &OidcConfig) -> Result<Self, String> {
        let mut upstreams: Vec<Arc<Upstream>> = Vec::new();
        for (index, provider) in config.providers.iter().enumerate() {
            let key =
                |name: &str| format!("selfservice.methods.oidc.config.providers.{index}.{name}");
            let valid_id = !provider.id.is_empty()
                && provider
                    .id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            if !valid_id {
                return Err(format!(
                    "{}: must be letters, digits, '-', '_' or '.'",
                    key("id")
                ));
            }
            if upstreams.iter().any(|known| known.id() == provider.id) {
                return Err(format!("{}: {:?} is used twice", key("id"), provider.id));
            }
            let preset = preset::find(&provider.provider).ok_or_else(|| {
                format!(
                    "{}: {:?} is not a provider Ward knows ({})",
                    key("provider"),
                    provider.provider,
                    preset::names()
                )
            })?;
            if provider.client_id.is_empty() {
                return Err(format!("{}: is required", key("client_id")));
            }
            let needs_issuer = preset.issuer.is_none() && preset.auth_url.is_none();
            match &provider.issuer_url {
                None if needs_issuer => {
                    return Err(format!(
                        "{}: is required for provider {}",
                        key("issuer_url"),
                        preset.name
                    ));
                }
                Some(issuer) if url::Url::parse(issuer).is_err() => {
                    return Err(format!("{}: {issuer:?} is not a URL", key("issuer_url")));
                }
                _ => {}
            }
            if preset.name == "microsoft" && provider.microsoft_tenant.is_none() {
                return Err(format!("{}: is required", key("microsoft_tenant")));
            }
            if preset.name == "apple"
                && (provider.apple_team_id.is_none()
                    || provider.apple_private_key_id.is_none()
                    || provider.apple_private_key.is_none())
            {
                return Err(format!(
                    "{}: apple_team_id, apple_private_key_id and apple_private_key are required",
                    key("provider")
                ));
            }
            let mapper_url = provider
                .mapper_url
                .as_ref()
                .ok_or_else(|| format!("{}: is required", key("mapper_url")))?;
            let mapper = crate::jsonnet::Mapper::fetch(mapper_url)
                .await
                .map_err(|error| format!("{}: {error}", key("mapper_url")))?;
            upstreams.push(Arc::new(Upstream::new(provider.clone(), preset, mapper)));
        }
        Ok(Self { upstreams })
    }

    pub fn upstream(&self, id: &str) -> Option<&Arc<Upstream>> {
        self.upstreams.iter().find(|upstream| upstream.id() == id)
    }

    fn button(upstream: &Upstream, name: &str, label: u32) -> UiNode {
        let mut attributes = InputAttributes::new(name, "submit");
        attributes.value = Some(json!(upstream.id()));
        let context = match label {
            // Settings labels name the provider only, as in Kratos.
            1050002 | 1050003 => json!({"provider": upstream.label()}),
            _ => json!({"provider": upstream.label(), "provider_id": upstream.id()}),
        };
        UiNode::input(
            NodeGroup::Oidc,
            attributes,
            Some(UiText::new(label, context)),
        )
    }

    /// The upstream a login or sign-up submission picks: `provider`, with `method` `oidc` or
    /// none (a plain HTML form sends only the button it was submitted with).
    fn chosen<'a>(&'a self, form: &Value) -> Option<Result<&'a Arc<Upstream>, String>> {
        let method = field(form, "method").unwrap_or_default();
        if !(method.is_empty() || method.eq_ignore_ascii_case(METHOD)) {
            return None;
        }
        let provider = field(form, "provider").filter(|provider| !provider.is_empty())?;
        Some(self.upstream(provider).ok_or_else(|| {
            format!("OpenID Connect provider \"{provider}\" is unknown or has not been configured")
        }))
    }

    /// Sends the browser to `upstream`; the flow keeps what the callback must check.
    async fn begin(
        &self,
        state: &AppState,
        flow: &mut Flow,
        upstream: &Upstream,
        form: &Value,
    ) -> Option<String> {
        let secret = crate::oauth2::grant::random_token("");
        let state_param = format!("{}.{}.{secret}", flow.kind.as_str(), flow.id);
        let parameters = form
            .get("upstream_parameters")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let redirect_uri = callback_url(state, upstream.id());
        let started = upstream
            .authorization_url(
                &redirect_uri,
                state_param.clone(),
                flow.refresh,
                &parameters,
            )
            .await;
        let (url, started) = match started {
            Ok(started) => started,
            Err(error) => {
                tracing::warn!(provider = upstream.id(), %error, "could not start an upstream sign-in");
                refused(
                    flow,
                    &format!("{} is not reachable: {error}", upstream.label()),
                );
                return None;
            }
        };
        let pending = Pending {
            provider: upstream.id().to_string(),
            state_hash: crate::oauth2::grant::signature(&state_param),
            started,
            traits: form
                .get("traits")
                .filter(|traits| traits.is_object())
                .cloned(),
        };
        flow.internal
            .insert(CONTEXT.into(), json!({ "pending": pending }));
        Some(url.to_string())
    }

    /// A native app's `id_token` (Sign in with Google or Apple on the device), verified as
    /// the callback would verify the upstream's.
    async fn native(
        &self,
        state: &AppState,
        flow: &mut Flow,
        upstream: &Upstream,
        form: &Value,
    ) -> Option<Verified> {
        let id_token = field(form, "id_token")?;
        let rule = NonceRule::Native {
            submitted: field(form, "id_token_nonce").map(str::to_string),
            // Apple's native sign-in may leave the nonce out; elsewhere it is required.
            required: upstream.preset.name != "apple",
        };
        let now = state.clock.now().unix_timestamp();
        let audiences = &upstream.config.additional_id_token_audiences;
        match upstream.verify(id_token, audiences, now, &rule).await {
            Ok(claims) => Some(Verified {
                provider: upstream.id().to_string(),
                claims,
                tokens: Tokens::default(),
                traits: form
                    .get("traits")
                    .filter(|traits| traits.is_object())
                    .cloned(),
                key: crate::oauth2::grant::random_token(""),
            }),
            Err(error) => {
                tracing::info!(provider = upstream.id(), %error, "a submitted id_token did not verify");
                refused(
                    flow,
                    &format!("The id_token could not be verified: {error}"),
                );
                None
            }
        }
    }

    /// What the strategy knows of the user at the upstream: the callback's answer in the
    /// flow, or a native app's id_token. `Err(())`: refused, the flow says why.
    async fn upstream_user(
        &self,
        state: &AppState,
        flow: &mut Flow,
        upstream: &Upstream,
        form: &Value,
    ) -> Result<Option<Verified>, ()> {
        if field(form, "id_token").is_some() {
            return self
                .native(state, flow, upstream, form)
                .await
                .map(Some)
                .ok_or(());
        }
        let Some(answer) = verified(flow).filter(|answer| answer.provider == upstream.id()) else {
            return Ok(None);
        };
        // The answer serves the browser whose sign-in fetched it (the flow's CSRF token binds
        // every later submission to that browser). A native app's flow has no such binding:
        // there the answer serves only the run the callback starts, which knows its key, and
        // is spent by it; a later submission goes to the upstream again.
        if flow.flow_type == FlowType::Api {
            let key = field(form, ANSWER_KEY).unwrap_or_default();
            if answer.key.is_empty() || !bool::from(key.as_bytes().ct_eq(answer.key.as_bytes())) {
                return Ok(None);
            }
            forget_answer(flow);
        }
        Ok(Some(answer))
    }

    /// Maps the upstream's claims to a new identity through the provider's mapper; the
    /// submitted traits win over the mapped ones. `Ok(None)`: refused, the flow says why.
    async fn new_identity(
        &self,
        state: &AppState,
        flow: &mut Flow,
        upstream: &Upstream,
        verified: &Verified,
        form: &Value,
    ) -> FlowResult<Option<Identity>> {
        let input = json!({"traits": {}, "metadata_public": {}, "metadata_admin": {}});
        let mapped = upstream
            .mapper
            .evaluate(vec![
                ("claims", verified.claims.clone()),
                ("identity", input),
            ])
            .await;
        let mapped = match mapped.map(|mut value| value["identity"].take()) {
            Ok(identity) if identity.get("traits").is_some_and(Value::is_object) => identity,
            Ok(_) => {
                tracing::error!(
                    provider = upstream.id(),
                    "the mapper did not return identity.traits as an object"
                );
                refused(flow, &mapper_failed(upstream));
                return Ok(None);
            }
            Err(error) => {
                tracing::error!(provider = upstream.id(), %error, "the claims mapper failed");
                refused(flow, &mapper_failed(upstream));
                return Ok(None);
            }
        };
        let mut traits = mapped["traits"].clone();
        if let Some(schema) = state.schemas.get(state.schemas.default_id()) {
            for submitted in [verified.traits.as_ref(), form.get("traits")]
                .into_iter()
                .flatten()
            {
                // Typed, and without the empty fields, which would erase mapped values.
                crate::config::merge_json(&mut traits, typed_traits(schema, submitted));
            }
        }
        let (mut identity, valid) = registering_identity(state, flow, &json!({"traits": traits}))?;
        if !valid {
            continue_with_traits(state, flow, upstream, &identity.traits);
            return Ok(None);
        }
        for key in ["metadata_public", "metadata_admin"] {
            if let Some(metadata) = mapped.get(key).filter(|value| value.is_object()) {
                let slot = if key == "metadata_public" {
                    &mut identity.metadata_public
                } else {
                    &mut identity.metadata_admin
                };
                *slot = Some(metadata.clone());
            }
        }
        // Addresses the mapper vouches for (the upstream verified them) count as verified.
        let now = state.clock.now();
        for vouched in mapped["verified_addresses"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let value = vouched["value"]
                .as_str()
                .unwrap_or_default()
                .trim()
                .to_lowercase();
            let via = vouched["via"].as_str().unwrap_or("email");
            for address in &mut identity.verifiable_addresses {
                if address.value.to_lowercase() == value && address.via.as_str() == via {
                    address.status = crate::identity::VerificationStatus::Completed;
                    address.verified_at = Some(now);
                }
            }
        }
        Ok(Some(identity))
    }

    /// The existing identity that already holds one of `identity`'s identifiers or addresses,
    /// with the value they share.
    async fn owner_of_same_address(
        state: &AppState,
        identity: &Identity,
    ) -> FlowResult<Option<(Identity, String)>> {
        for kind in [CredentialType::Password, CredentialType::Code] {
            let identifiers = identity
                .credentials
                .get(&kind)
                .map(|credential| credential.identifiers.clone())
                .unwrap_or_default();
            for identifier in identifiers {
                if let Some(owner) = state
                    .identities
                    .find_by_identifier(kind, &identifier)
                    .await?
                {
                    return Ok(Some((owner, identifier)));
                }
            }
        }
        let addresses = identity
            .verifiable_addresses
            .iter()
            .map(|address| (true, address.value.clone()))
            .chain(
                identity
                    .recovery_addresses
                    .iter()
                    .map(|address| (false, address.value.clone())),
            );
        for (verifiable, value) in addresses {
            if let Some(owner) = state.identities.find_by_address(verifiable, &value).await? {
                return Ok(Some((owner, value)));
            }
        }
        Ok(None)
    }

    /// The login flow that links the upstream account to `owner` once it signs in.
    async fn linking_flow(
        state: &AppState,
        from: &Flow,
        upstream: &Upstream,
        verified: Verified,
        owner: &Identity,
        shared: &str,
    ) -> FlowResult<Flow> {
        let mut login = crate::flow::derive_flow(state, from, FlowKind::Login);
        crate::flow::login::populate(state, &mut login, None);
        // The upstream just used cannot prove the account: it is what is being linked.
        login.ui.nodes.retain(|node| {
            !(node.group == NodeGroup::Oidc
                && matches!(&node.attributes, NodeAttributes::Input(input)
                    if input.value.as_ref().and_then(Value::as_str) == Some(upstream.id())))
        });
        // The account to sign in to is the one with the shared address.
        if let Some(NodeAttributes::Input(input)) = login
            .ui
            .input_mut("identifier")
            .map(|node| &mut node.attributes)
        {
            input.value = Some(json!(shared));
            input.input_type = "hidden".into();
        }
        // The buttons say that signing in links the account (Kratos's labels).
        for label in login
            .ui
            .nodes
            .iter_mut()
            .filter_map(|node| node.meta.label.as_mut())
        {
            match label.id {
                1010001 | 1010022 => *label = UiText::plain(1010017),
                1010002 => *label = UiText::new(1010018, label.context.clone().unwrap_or_default()),
                _ => {}
            }
        }
        let types: Vec<&str> = owner.credentials.keys().map(|kind| kind.as_str()).collect();
        let providers: Vec<Value> = owner
            .credentials
            .get(&CredentialType::Oidc)
            .and_then(|credential| credential.config.get("providers"))
            .and_then(Value::as_array)
            .map(|links| links.iter().map(|link| link["provider"].clone()).collect())
            .unwrap_or_default();
        let login_url = crate::flow::ui_url(state, FlowKind::Login);
        login.ui.messages.push(UiText::new(
            1010016,
            json!({
                "duplicateIdentifier": shared,
                "duplicate_identifier": shared,
                "provider": upstream.label(),
                "newLoginUrl": login_url.as_str(),
                "new_login_url": login_url.as_str(),
                "available_credential_types": types,
                "available_providers": providers,
            }),
        ));
        let link = PendingLink {
            identity_id: owner.id,
            verified,
        };
        login
            .internal
            .insert(LINK.into(), serde_json::to_value(&link).unwrap_or_default());
        state.flows.create_flow(&login).await?;
        Ok(login)
    }
}

/// The field of the engine's run that the callback starts with the answer's key.
pub const ANSWER_KEY: &str = "oidc_answer";

/// The claims the callback stored in the flow.
fn verified(flow: &Flow) -> Option<Verified> {
    flow.internal
        .get(CONTEXT)
        .and_then(|context| context.get("verified"))
        .and_then(|verified| serde_json::from_value(verified.clone()).ok())
}

fn keep_verified(flow: &mut Flow, verified: &Verified) {
    flow.internal.insert(
        CONTEXT.into(),
        json!({ "provider": verified.provider, "verified": verified }),
    );
}

/// Drops the answer from a flow (spent, or handed on to another flow); the provider stays
/// for the session's record.
fn forget_answer(flow: &mut Flow) {
    if let Some(Value::Object(context)) = flow.internal.get_mut(CONTEXT) {
        context.remove("verified");
    }
}

/// The provider a session's `authentication_methods` entry names: the upstream of an `oidc`
/// sign-in, none for other methods.
pub fn provider_for(method: &str, flow: &Flow) -> Option<String> {
    if method != METHOD {
        return None;
    }
    let provider = flow.internal.get(CONTEXT)?.get("provider")?.as_str()?;
    Some(provider.to_string())
}

/// Where `provider` sends browsers back.
pub fn callback_url(state: &AppState, provider: &str) -> url::Url {
    let base = state
        .config
        .selfservice
        .methods
        .oidc
        .config
        .base_redirect_uri
        .clone()
        .unwrap_or_else(|| state.urls.public.clone());
    let base = base.as_str().trim_end_matches('/');
    url::Url::parse(&format!(
        "{base}/self-service/methods/oidc/callback/{provider}"
    ))
    .unwrap_or_else(|_| state.urls.public.clone())
}

/// A refusal as a flow message (4000001, the reason in its context).
fn refused(flow: &mut Flow, reason: &str) {
    flow.ui
        .messages
        .push(UiText::new(4000001, json!({ "reason": reason })));
}

fn mapper_failed(upstream: &Upstream) -> String {
    format!(
        "The information from {} could not be used to create an account. Please contact the site's administrators.",
        upstream.label()
    )
}

/// Traits the schema refused: the form shows them filled in, with a button that carries on
/// with the same upstream (Kratos's 1040003 "Continue").
fn continue_with_traits(state: &AppState, flow: &mut Flow, upstream: &Upstream, traits: &Value) {
    if let Some(schema) = state.schemas.get(state.schemas.default_id()) {
        shared_trait_nodes(schema, flow);
    }
    flow.ui.nodes.retain(|node| {
        node.group == NodeGroup::Default
            && node
                .name()
                .is_some_and(|name| name == "csrf_token" || name.starts_with("traits."))
    });
    flow.ui.keep_values(|name| {
        let pointer = format!("/{}", name.trim_start_matches("traits.").replace('.', "/"));
        traits
            .pointer(&pointer)
            .filter(|value| !value.is_object())
            .cloned()
    });
    flow.ui
        .nodes
        .push(OidcStrategy::button(upstream, "provider", 1040003));
}

/// The upstream accounts linked to `identity`: `(provider, subject)`.
fn links(identity: &Identity) -> Vec<(String, String)> {
    identity
        .credentials
        .get(&CredentialType::Oidc)
        .and_then(|credential| credential.config.get("providers"))
        .and_then(Value::as_array)
        .map(|links| {
            links
                .iter()
                .map(|link| {
                    let text = |key: &str| link[key].as_str().unwrap_or_default().to_string();
                    (text("provider"), text("subject"))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Adds the upstream account to `identity`'s `oidc` credential.
fn add_link(state: &AppState, identity: &mut Identity, verified: &Verified) {
    let Some(identifier) = verified.identifier() else {
        return;
    };
    let now = state.clock.now();
    let credential = crate::identity::credential_entry(identity, CredentialType::Oidc, now);
    if !credential.identifiers.contains(&identifier) {
        credential.identifiers.push(identifier);
    }
    let mut providers = credential
        .config
        .get("providers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    providers.push(verified.link());
    credential.config = json!({ "providers": providers });
    credential.updated_at = now;
}

/// After a sign-in on a linking flow: the upstream account is added to the identity that
/// signed in, if it is the one whose address the upstream account shares. Returns whether
/// the identity changed.
pub fn link_after_login(state: &AppState, flow: &Flow, identity: &mut Identity) -> bool {
    let Some(link) = flow
        .internal
        .get(LINK)
        .and_then(|link| serde_json::from_value::<PendingLink>(link.clone()).ok())
    else {
        return false;
    };
    if link.identity_id != identity.id {
        tracing::info!("a linking sign-in signed in to another identity; nothing was linked");
        return false;
    }
    let already = links(identity).iter().any(|(provider, subject)| {
        *provider == link.verified.provider && Some(subject.as_str()) == link.verified.subject()
    });
    if !already {
        add_link(state, identity, &link.verified);
    }
    !already
}

#[async_trait]
impl LoginStrategy for OidcStrategy {
    fn method(&self) -> &'static str {
        METHOD
    }

    fn claims(&self, form: &Value) -> bool {
        self.chosen(form).is_some()
    }

    fn populate_login(&self, _state: &AppState, flow: &mut Flow, identity: Option<&Identity>) {
        // Re-authentication offers only the upstreams the identity has linked.
        let linked: Option<Vec<String>> =
            identity.map(|identity| links(identity).into_iter().map(|(p, _)| p).collect());
        for upstream in &self.upstreams {
            if linked
                .as_ref()
                .is_none_or(|linked| linked.iter().any(|p| p == upstream.id()))
            {
                flow.ui
                    .nodes
                    .push(Self::button(upstream, "provider", 1010002));
            }
        }
    }

    async fn login(
        &self,
        state: &AppState,
        flow: &mut Flow,
        form: &Value,
        _identity: Option<&Identity>,
        _client_ip: Option<std::net::IpAddr>,
    ) -> FlowResult<LoginOutcome> {
        let upstream = match self.chosen(form) {
            None => return Ok(LoginOutcome::NotMine),
            Some(Err(reason)) => {
                refused(flow, &reason);
                return Ok(LoginOutcome::Rejected);
            }
            Some(Ok(upstream)) => upstream,
        };
        let Ok(user) = self.upstream_user(state, flow, upstream, form).await else {
            return Ok(LoginOutcome::Rejected);
        };
        let Some(user) = user else {
            return Ok(match self.begin(state, flow, upstream, form).await {
                Some(url) => LoginOutcome::Redirect(url),
                None => LoginOutcome::Rejected,
            });
        };
        let Some(identifier) = user.identifier() else {
            refused(
                flow,
                &format!("{} did not say who you are (no subject).", upstream.label()),
            );
            return Ok(LoginOutcome::Rejected);
        };
        keep_verified(flow, &user);
        match state
            .identities
            .find_by_identifier(CredentialType::Oidc, &identifier)
            .await?
        {
            Some(identity) if identity.state != crate::identity::IdentityState::Active => {
                flow.ui.messages.push(UiText::plain(4010011));
                Ok(LoginOutcome::Rejected)
            }
            Some(identity) => Ok(LoginOutcome::Authenticated {
                identity: Box::new(identity),
                method: METHOD,
                changed: false,
            }),
            None if !state.config.selfservice.flows.registration.enabled => {
                refused(flow, "Registration is not allowed because it was disabled.");
                Ok(LoginOutcome::Rejected)
            }
            None => {
                // A first sign-in through this upstream: it is a sign-up.
                let mut registration =
                    crate::flow::derive_flow(state, flow, FlowKind::Registration);
                keep_verified(&mut registration, &user);
                forget_answer(flow);
                Ok(LoginOutcome::Register(Box::new(registration)))
            }
        }
    }
}

#[async_trait]
impl RegistrationStrategy for OidcStrategy {
    fn method(&self) -> &'static str {
        METHOD
    }

    fn populate_registration(&self, _state: &AppState, flow: &mut Flow) {
        for upstream in &self.upstreams {
            flow.ui
                .nodes
                .push(Self::button(upstream, "provider", 1040002));
        }
    }

    async fn register(
        &self,
        state: &AppState,
        flow: &mut Flow,
        form: &Value,
    ) -> FlowResult<RegistrationOutcome> {
        let upstream = match self.chosen(form) {
            None => return Ok(RegistrationOutcome::NotMine),
            Some(Err(reason)) => {
                refused(flow, &reason);
                return Ok(RegistrationOutcome::Rejected);
            }
            Some(Ok(upstream)) => upstream,
        };
        let Ok(user) = self.upstream_user(state, flow, upstream, form).await else {
            return Ok(RegistrationOutcome::Rejected);
        };
        let Some(user) = user else {
            return Ok(match self.begin(state, flow, upstream, form).await {
                Some(url) => RegistrationOutcome::Redirect(url),
                None => RegistrationOutcome::Rejected,
            });
        };
        let Some(identifier) = user.identifier() else {
            refused(
                flow,
                &format!("{} did not say who you are (no subject).", upstream.label()),
            );
            return Ok(RegistrationOutcome::Rejected);
        };
        keep_verified(flow, &user);
        if state
            .identities
            .find_by_identifier(CredentialType::Oidc, &identifier)
            .await?
            .is_some()
        {
            // Signed up before: this is a sign-in.
            let mut login = crate::flow::derive_flow(state, flow, FlowKind::Login);
            crate::flow::login::populate(state, &mut login, None);
            keep_verified(&mut login, &user);
            forget_answer(flow);
            return Ok(RegistrationOutcome::SignIn(Box::new(login)));
        }
        let Some(mut identity) = self
            .new_identity(state, flow, upstream, &user, form)
            .await?
        else {
            return Ok(RegistrationOutcome::Rejected);
        };
        if let Some((owner, shared)) = Self::owner_of_same_address(state, &identity).await? {
            forget_answer(flow);
            // An account that never proved the shared address may have been set up by someone
            // waiting for its owner to arrive (pre-hijacking): it is not offered for linking.
            let proven = owner
                .verifiable_addresses
                .iter()
                .any(|address| address.value == shared && address.verified());
            if !proven {
                tracing::info!(
                    "an upstream sign-up met an account with the same unverified address"
                );
                flow.ui.messages.push(UiText::plain(4000007));
                return Ok(RegistrationOutcome::Rejected);
            }
            let login = Self::linking_flow(state, flow, upstream, user, &owner, &shared).await?;
            return Ok(RegistrationOutcome::Elsewhere(Box::new(login)));
        }
        add_link(state, &mut identity, &user);
        Ok(RegistrationOutcome::Registered {
            identity: Box::new(identity),
            method: METHOD,
        })
    }
}

#[async_trait]
impl SettingsStrategy for OidcStrategy {
    fn method(&self) -> &'static str {
        METHOD
    }

    fn populate_settings(&self, _state: &AppState, flow: &mut Flow, identity: &Identity) {
        let linked = links(identity);
        for upstream in &self.upstreams {
            let removed = linked
                .iter()
                .filter(|(provider, _)| provider == upstream.id())
                .count();
            if removed > 0 {
                let mut node = Self::button(upstream, "unlink", 1050003);
                if let NodeAttributes::Input(input) = &mut node.attributes {
                    input.disabled = identity.first_factors() <= removed;
                }
                flow.ui.nodes.push(node);
            } else {
                flow.ui.nodes.push(Self::button(upstream, "link", 1050002));
            }
        }
    }

    async fn update_settings(
        &self,
        state: &AppState,
        flow: &mut Flow,
        identity: &mut Identity,
        form: &Value,
    ) -> FlowResult<SettingsOutcome> {
        let link = field(form, "link").filter(|value| !value.is_empty());
        let unlink = field(form, "unlink").filter(|value| !value.is_empty());
        let method = field(form, "method").unwrap_or_default();
        if (link.is_none() && unlink.is_none())
            || !(method.is_empty() || method.eq_ignore_ascii_case(METHOD))
        {
            return Ok(SettingsOutcome::NotMine);
        }
        if link.is_some() && unlink.is_some() {
            refused(
                flow,
                "Linking and unlinking providers in the same request is not possible.",
            );
            return Ok(SettingsOutcome::Rejected);
        }
        let linked = links(identity);
        if let Some(provider) = unlink {
            if !linked.iter().any(|(known, _)| known == provider) {
                refused(
                    flow,
                    "This OpenID Connect connection does not exist and cannot be unlinked.",
                );
                return Ok(SettingsOutcome::Rejected);
            }
            // Every link to the provider goes: the identity must keep a way in without them.
            let removed = linked.iter().filter(|(known, _)| known == provider).count();
            if identity.first_factors() <= removed {
                refused(
                    flow,
                    "This OpenID Connect connection cannot be unlinked: it is your last way to sign in.",
                );
                return Ok(SettingsOutcome::Rejected);
            }
            remove_links(identity, provider);
            return Ok(SettingsOutcome::Changed {
                method: METHOD,
                privileged: true,
                second_factor: false,
            });
        }
        let provider = link.unwrap_or_default();
        let Some(upstream) = self
            .upstream(provider)
            .filter(|_| !linked.iter().any(|(known, _)| known == provider))
        else {
            refused(
                flow,
                "This OpenID Connect connection is unknown or linked already.",
            );
            return Ok(SettingsOutcome::Rejected);
        };
        let Some(user) = verified(flow).filter(|user| user.provider == upstream.id()) else {
            return Ok(match self.begin(state, flow, upstream, form).await {
                Some(url) => SettingsOutcome::Redirect(url),
                None => SettingsOutcome::Rejected,
            });
        };
        flow.internal.remove(CONTEXT);
        let Some(identifier) = user.identifier() else {
            refused(
                flow,
                &format!("{} did not say who you are (no subject).", upstream.label()),
            );
            return Ok(SettingsOutcome::Rejected);
        };
        if let Some(owner) = state
            .identities
            .find_by_identifier(CredentialType::Oidc, &identifier)
            .await?
            && owner.id != identity.id
        {
            flow.ui.messages.push(UiText::plain(4000007));
            return Ok(SettingsOutcome::Rejected);
        }
        add_link(state, identity, &user);
        Ok(SettingsOutcome::Changed {
            method: METHOD,
            privileged: true,
            second_factor: false,
        })
    }
}

/// Removes every link to `provider` (one per upstream account), and the credential with its
/// last link.
fn remove_links(identity: &mut Identity, provider: &str) {
    let Some(credential) = identity.credentials.get_mut(&CredentialType::Oidc) else {
        return;
    };
    let prefix = format!("{provider}:");
    credential
        .identifiers
        .retain(|identifier| !identifier.starts_with(&prefix));
    let remaining: Vec<Value> = credential
        .config
        .get("providers")
        .and_then(Value::as_array)
        .map(|links| {
            links
                .iter()
                .filter(|link| link["provider"].as_str() != Some(provider))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    if remaining.is_empty() {
        identity.credentials.remove(&CredentialType::Oidc);
    } else {
        credential.config = json!({ "providers": remaining });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn unknown_presets_and_missing_mappers_are_configuration_errors() {
        let provider = |kind: &str, mapper: Option<&str>| crate::config::ProviderConfig {
            id: "up".into(),
            provider: kind.into(),
            client_id: "ward".into(),
            issuer_url: Some("https://issuer.example".into()),
            mapper_url: mapper.map(|url| url::Url::parse(url).unwrap()),
            ..Default::default()
        };
        let config = |providers| OidcConfig {
            base_redirect_uri: None,
            providers,
        };
        let build = |providers| async move { OidcStrategy::from_config(&config(providers)).await };
        let error = build(vec![provider("myspace", Some("base64://e30K"))])
            .await
            .err()
            .unwrap();
        assert!(error.contains("providers.0.provider"), "{error}");
        let error = build(vec![provider("generic", None)]).await.err().unwrap();
        assert!(error.contains("providers.0.mapper_url"), "{error}");
        let generic = build(vec![provider("generic", Some("base64://e30K"))]).await;
        assert!(generic.is_ok());
    }
}
