//! The login side of an authorization request: Kratos's `login_challenge`. A login or
//! registration flow started for a parked request shows it as `oauth2_login_request`, in the
//! shape Hydra gives Kratos, and returns to it when done.

use serde_json::{Value, json};
use url::Url;

use super::authorize;
use crate::error::ApiError;
use crate::http::request::Client as HttpClient;
use crate::state::AppState;

/// Kratos's `oauth2_login_request` for a login or registration flow started with
/// `?login_challenge=`: the parked request `challenge` of the browser that sent `http`, in
/// Hydra's shape, with the address the flow returns to when done (the request's resumption).
pub async fn find(
    state: &AppState,
    http: &HttpClient,
    challenge: &str,
) -> Result<(Value, Url), ApiError> {
    if !state.config.oauth2_server.enabled {
        return Err(ApiError::bad_request(
            "login_challenge was sent, but this Ward is not an OAuth2 provider (oauth2_server.enabled is false).",
        ));
    }
    let sessions = crate::store::BrowserSessions::new(state.database.clone());
    let found = match http.cookie(super::BROWSER_COOKIE) {
        Some(browser) => authorize::find_parked(state, &sessions, browser, challenge).await,
        None => None,
    };
    let Some((client, parked)) = found else {
        return Err(ApiError::not_found().with_reason(
            "The OAuth2 request of this login_challenge is unknown to this browser, completed or expired; go back to the application and start again.",
        ));
    };
    let context = Url::parse(&parked.request_url).ok();
    let context_value = |name: &str| {
        context.as_ref().and_then(|url| {
            url.query_pairs()
                .find(|(key, value)| key == name && !value.is_empty())
                .map(|(_, value)| value.into_owned())
        })
    };
    let words = |name: &str| {
        context_value(name)
            .map(|value| value.split_whitespace().map(str::to_string).collect())
            .unwrap_or_else(Vec::new)
    };
    let mut oidc_context = json!({
        "acr_values": words("acr_values"),
        "ui_locales": words("ui_locales"),
    });
    for name in ["display", "login_hint"] {
        if let Some(value) = context_value(name) {
            oidc_context[name] = json!(value);
        }
    }
    let request = json!({
        "challenge": challenge,
        "client": client,
        "request_url": parked.request_url,
        "requested_scope": parked.scope.split_whitespace().collect::<Vec<_>>(),
        "requested_access_token_audience": parked.audience,
        "skip": false,
        "subject": "",
        "oidc_context": oidc_context,
    });
    Ok((request, authorize::resume_url(state, challenge)))
}
