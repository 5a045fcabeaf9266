//! The state the three listeners share.

use std::sync::Arc;

use crate::clock::Clock;
use crate::config::{BaseUrls, Config};
use crate::courier::Courier;
use crate::hash::Hasher;
use crate::identity::SchemaRegistry;
use crate::metrics::Metrics;
use crate::secrets::{Cipher, SecretKeys};
use crate::store::{
    ChangeStore, CourierStore, FlowStore, IdentityStore, OAuth2Store, SessionStore, SqlStore,
    ThrottleStore,
};
use crate::strategy::Strategies;

/// Cheap to clone (one reference count), as axum clones it for every extractor.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }

    /// The credential types that count as second factors under this configuration.
    pub fn second_factors(&self) -> &'static [crate::identity::CredentialType] {
        let methods = &self.config.selfservice.methods;
        // With `code.mfa_enabled`, an address for codes is a second factor (as in Kratos).
        crate::identity::CredentialType::second_factors(
            methods.webauthn.config.passwordless,
            methods.code.enabled && methods.code.mfa_enabled,
        )
    }

    /// Replaces the base URLs (once the listeners know their ports).
    pub fn set_urls(&mut self, urls: BaseUrls) {
        Arc::make_mut(&mut self.0).urls = Arc::new(urls);
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

#[derive(Clone)]
pub struct Shared {
    pub config: Arc<Config>,
    pub urls: Arc<BaseUrls>,
    pub schemas: Arc<SchemaRegistry>,
    pub database: SqlStore,
    pub identities: Arc<dyn IdentityStore>,
    pub sessions: Arc<dyn SessionStore>,
    pub flows: Arc<dyn FlowStore>,
    pub courier_queue: Arc<dyn CourierStore>,
    /// Multi-part writes in one transaction.
    pub changes: Arc<dyn ChangeStore>,
    /// Brute-force counters (see `throttle`).
    pub throttles: Arc<dyn ThrottleStore>,
    /// The OpenID Connect provider's clients, keys, grants and consents.
    pub oauth2: Arc<dyn OAuth2Store>,
    /// The OAuth2 clients last read (see `oauth2::client`).
    pub oauth2_clients: Arc<crate::oauth2::client::ClientCache>,
    /// The signing keys last read (see `oauth2::keys`).
    pub oauth2_keys: Arc<crate::oauth2::keys::KeyCache>,
    /// `oauth2_server.claims_mapper_url`, loaded.
    pub claims_mapper: Option<crate::jsonnet::Mapper>,
    pub courier: Courier,
    pub strategies: Arc<Strategies>,
    /// The configured web hooks, built at start.
    pub web_hooks: Arc<crate::hook::web_hook::WebHooks>,
    /// Queued web hook requests (`response.ignore`).
    pub deliveries: Arc<dyn crate::store::DeliveryStore>,
    /// Wakes this replica's delivery worker when a request is queued.
    pub delivery_wake: Arc<tokio::sync::Notify>,
    pub hasher: Hasher,
    /// Lists of breached passwords (and HIBP) the password policy checks.
    pub breached: Arc<crate::strategy::password::breach::BreachCheck>,
    pub secrets: SecretKeys,
    pub cipher: Cipher,
    pub clock: Clock,
    pub metrics: Arc<Metrics>,
}

impl Shared {
    /// `<public>/schemas/<id>` for an identity's `schema_url`.
    pub fn schema_url(&self, schema_id: &str) -> String {
        crate::identity::schema::schema_url(&self.urls.public, schema_id)
    }
}
