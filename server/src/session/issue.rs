//! Issuing sessions and writing them as JSON (reference §6).

use serde_json::{Value, json};
use uuid::Uuid;

use super::{Device, Session, SessionToken};
use crate::http::request::Client;
use crate::identity::{Identity, View, timestamp};
use crate::state::AppState;

/// A session for `identity` proven by `method`, with a new token from the CSPRNG, not yet
/// stored (for callers that store it together with other changes).
pub fn new_session(
    state: &AppState,
    identity: &Identity,
    method: &str,
    client: &Client,
) -> (Session, SessionToken) {
    let now = state.clock.now();
    let token = SessionToken::generate();
    let lifespan =
        time::Duration::try_from(state.config.session.lifespan).unwrap_or(time::Duration::DAY);
    let mut session = Session::new(identity.id, &token, method, now, lifespan);
    session.devices.push(Device {
        id: Uuid::new_v4(),
        ip_address: client.ip_address.clone(),
        user_agent: client.user_agent.clone(),
        location: None,
    });
    (session, token)
}

/// The session as Kratos returns it: the identity without credentials.
pub fn session_json(state: &AppState, session: &Session, identity: &Identity) -> Value {
    session_json_expanded(state, session, Some(identity), true)
}

/// The session with the identity and devices only where asked for (`expand=`); `null` where
/// not, as Kratos answers `GET /admin/sessions`.
pub fn session_json_expanded(
    state: &AppState,
    session: &Session,
    identity: Option<&Identity>,
    devices: bool,
) -> Value {
    let identity = identity
        .map(|identity| identity.to_json(&state.schema_url(&identity.schema_id), View::default()));
    let devices = devices.then(|| {
        session
            .devices
            .iter()
            .map(|device| {
                json!({
                    "id": device.id,
                    "ip_address": device.ip_address,
                    "user_agent": device.user_agent,
                    "location": device.location.clone().unwrap_or_default(),
                })
            })
            .collect::<Vec<_>>()
    });
    json!({
        "id": session.id,
        "active": session.active,
        "expires_at": timestamp(session.expires_at),
        "authenticated_at": timestamp(session.authenticated_at),
        "authenticator_assurance_level": session.aal.as_str(),
        "authentication_methods": session.authentication_methods.iter().map(|method| {
            let mut entry = json!({
                "method": method.method,
                "aal": method.aal.as_str(),
                "completed_at": timestamp(method.completed_at),
            });
            if let Some(provider) = &method.provider {
                entry["provider"] = json!(provider);
            }
            entry
        }).collect::<Vec<_>>(),
        "issued_at": timestamp(session.issued_at),
        "identity": identity,
        "devices": devices,
    })
}
