//! The state the three listeners share.

use std::sync::Arc;

use crate::clock::Clock;
use crate::config::{BaseUrls, Config};
use crate::courier::Courier;
use crate::hash::Hasher;
use crate::identity::SchemaRegistry;
use crate::metrics::Metrics;
use crate::secrets::SecretKeys;
use crate::store::{ChangeStore, CourierStore, FlowStore, IdentityStore, SessionStore, SqlStore};
use crate::strategy::Strategies;

#[derive(Clone)]
pub struct AppState {
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
    pub courier: Courier,
    pub strategies: Arc<Strategies>,
    pub hasher: Hasher,
    pub secrets: SecretKeys,
    pub clock: Clock,
    pub metrics: Arc<Metrics>,
}

impl AppState {
    /// `<public>/schemas/<id>` for an identity's `schema_url`.
    pub fn schema_url(&self, schema_id: &str) -> String {
        crate::identity::schema::schema_url(&self.urls.public, schema_id)
    }
}
