//! Strategies: one per authentication method. A strategy adds its nodes to a flow's form and
//! judges submissions meant for it; it never writes HTTP. The flow engines run them in order.

pub mod password;
pub mod traits;

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use crate::flow::{Flow, FlowResult};
use crate::identity::Identity;
use crate::state::AppState;

/// What a login strategy made of a submission.
pub enum LoginOutcome {
    /// Another method's form: ask the next strategy.
    NotMine,
    /// The identity proved itself with `method`; the engine issues the session.
    Authenticated {
        identity: Box<Identity>,
        method: &'static str,
    },
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
    Rejected,
}

#[async_trait]
pub trait LoginStrategy: Send + Sync {
    fn method(&self) -> &'static str;
    /// Adds this method's nodes to a new login flow.
    fn populate_login(&self, state: &AppState, flow: &mut Flow);
    async fn login(
        &self,
        state: &AppState,
        flow: &mut Flow,
        form: &Value,
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

/// The enabled strategies, in the order their nodes appear and their turn comes.
#[derive(Clone, Default)]
pub struct Strategies {
    pub login: Vec<Arc<dyn LoginStrategy>>,
    pub registration: Vec<Arc<dyn RegistrationStrategy>>,
}

impl Strategies {
    pub fn from_config(config: &crate::config::Config) -> Self {
        let mut strategies = Self::default();
        if config.selfservice.methods.password.enabled {
            let password = Arc::new(password::PasswordStrategy);
            strategies.login.push(password.clone());
            strategies.registration.push(password);
        }
        strategies
    }
}
