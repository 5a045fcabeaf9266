//! `/self-service/methods/oidc/callback/{provider}`: where upstreams send the browser back.
//! The answer is checked against the flow that sent the browser away (the `state` parameter
//! names it and must match what the flow kept; the browser must carry the flow's CSRF cookie),
//! the code is exchanged, and the flow's engine runs again with the verified claims.

use std::collections::HashMap;

use crate::http::Query;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use super::upstream::Answer;
use super::{CONTEXT, Pending, Verified, callback_url, keep_verified, refused};
use crate::error::ApiError;
use crate::flow::respond::{respond_api_error, respond_flow_error};
use crate::flow::{FlowError, FlowKind, FlowType, login, registration, see_other, settings};
use crate::http::request::Client;
use crate::session::cookie::csrf_cookie_name;
use crate::session::exchange;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route(
        "/self-service/methods/oidc/callback/{provider}",
        get(callback).post(form_post),
    )
}

/// Apple (`response_mode=form_post`) posts its answer. A cross-site POST carries no SameSite
/// cookies, so the browser is sent to the same address with the answer in the query.
async fn form_post(
    State(state): State<AppState>,
    client: Client,
    Path(provider): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let Ok(fields) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body) else {
        let error = bad_callback("the upstream's answer is not a form");
        return respond_api_error(&state, &client, FlowType::Browser, error).await;
    };
    let mut url = callback_url(&state, &provider);
    url.query_pairs_mut().extend_pairs(fields.iter());
    see_other(url.as_str())
}

fn bad_callback(reason: &str) -> ApiError {
    ApiError::bad_request(format!(
        "Unable to complete the OpenID Connect flow: {reason}"
    ))
}

async fn callback(
    State(state): State<AppState>,
    client: Client,
    Path(provider): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    // (`Query` answers malformed query strings in Kratos's envelope.)
    let fail = |error: ApiError| respond_api_error(&state, &client, FlowType::Browser, error);
    let Some(strategy) = state.strategies.oidc.clone() else {
        return fail(ApiError::not_found().with_reason("Social sign-in is not enabled.")).await;
    };
    let Some(upstream) = strategy.upstream(&provider).cloned() else {
        return fail(ApiError::not_found().with_reason(format!(
            "OpenID Connect provider \"{provider}\" is unknown or has not been configured"
        )))
        .await;
    };
    let Some(state_param) = query.get("state") else {
        return fail(bad_callback(
            "the upstream did not return the state parameter",
        ))
        .await;
    };
    // `<kind>.<flow id>.<secret>`
    let mut parts = state_param.splitn(3, '.');
    let (kind, id) = match (parts.next(), parts.next().map(uuid::Uuid::parse_str)) {
        (Some(kind), Some(Ok(id))) => (FlowKind::parse(kind), id),
        _ => (None, uuid::Uuid::nil()),
    };
    let Some(kind @ (FlowKind::Login | FlowKind::Registration | FlowKind::Settings)) = kind else {
        return fail(bad_callback("the state parameter is invalid")).await;
    };
    let native = match state.flows.get_flow(kind, id).await {
        Ok(flow) => flow.flow_type == FlowType::Api,
        Err(error) => return fail(error.into()).await,
    };
    // A browser flow must belong to this browser: its CSRF cookie is the flow's token. A
    // native app's flow is bound to the app by the token exchange's two codes, and its engine
    // answers the app, not this browser (whose cookies are not the app's).
    let (engine_client, csrf) = if native {
        let app = Client {
            wants_json: true,
            cookies: None,
            origin: None,
            header_token: None,
            ..client.clone()
        };
        (app, None)
    } else {
        let csrf = client.cookie(&csrf_cookie_name(&state)).map(str::to_string);
        (client.clone(), csrf)
    };
    let mut flow =
        match crate::flow::load_for_submit(&state, &engine_client, kind, id, csrf.as_deref()).await
        {
            Ok(flow) => flow,
            Err(error) => return respond_flow_error(&state, &client, error).await,
        };
    if native && !exchange::expected(&flow) {
        return fail(bad_callback(
            "this flow belongs to a native app that did not ask for a session token exchange",
        ))
        .await;
    }
    let pending: Option<Pending> = flow
        .internal
        .get(CONTEXT)
        .and_then(|context| context.get("pending"))
        .and_then(|pending| serde_json::from_value(pending.clone()).ok());
    let expected = crate::oauth2::grant::signature(state_param);
    let Some(pending) = pending.filter(|pending| {
        pending.provider == provider
            && bool::from(pending.state_hash.as_bytes().ct_eq(expected.as_bytes()))
    }) else {
        let reason = "the state parameter does not match the sign-in this browser started";
        if native {
            refused(
                &mut flow,
                &format!("Unable to complete the sign-in: {reason}."),
            );
            return back_to_app(&state, &client, flow).await;
        }
        return fail(bad_callback(reason)).await;
    };
    // One answer per request: a replayed callback finds nothing pending.
    flow.internal.remove(CONTEXT);
    flow.ui.clear_messages();
    let answer = match (query.get("error"), query.get("code")) {
        (Some(error), _) => Err(format!(
            "{} refused the sign-in ({error}{})",
            upstream.label(),
            query
                .get("error_description")
                .map(|text| format!(": {text}"))
                .unwrap_or_default()
        )),
        (None, None) => Err(format!("{} returned no code.", upstream.label())),
        (None, Some(code)) => upstream
            .finish(
                &Answer {
                    code,
                    iss: query.get("iss").map(String::as_str),
                    apple_user: query.get("user").map(String::as_str),
                },
                &pending.started,
                &callback_url(&state, &provider),
                state.clock.now().unix_timestamp(),
            )
            .await
            .map_err(|error| {
                tracing::warn!(provider, %error, "an upstream sign-in did not complete");
                format!(
                    "The sign-in with {} did not complete: {error}",
                    upstream.label()
                )
            }),
    };
    let (claims, tokens) = match answer {
        Ok(answer) => answer,
        Err(reason) => {
            refused(&mut flow, &reason);
            if native {
                return back_to_app(&state, &client, flow).await;
            }
            return respond_flow_error(&state, &client, FlowError::Rejected(Box::new(flow))).await;
        }
    };
    // Tokens are kept only sealed, in the flow as in the credential.
    let seal = |token: Option<String>| token.and_then(|token| state.cipher.encrypt(&token));
    let tokens = super::upstream::Tokens {
        id_token: seal(tokens.id_token),
        access_token: seal(tokens.access_token),
        refresh_token: seal(tokens.refresh_token),
    };
    let key = crate::oauth2::grant::random_token("");
    let verified = Verified {
        provider: provider.clone(),
        claims,
        tokens,
        traits: pending.traits,
        key: key.clone(),
    };
    keep_verified(&mut flow, &verified);
    flow.updated_at = state.clock.now();
    if let Err(error) = state.flows.update_flow(&flow).await {
        return fail(error.into()).await;
    }
    // The same submission as the one that sent the browser away, now with the answer.
    let csrf = csrf.as_deref();
    let mut form = match kind {
        FlowKind::Settings => json!({"method": super::METHOD, "link": provider}),
        _ => json!({"method": super::METHOD, "provider": provider}),
    };
    form[super::ANSWER_KEY] = json!(key);
    let answer = match kind {
        FlowKind::Settings => settings::handle(&state, &engine_client, id, csrf, &form).await,
        FlowKind::Registration => {
            registration::handle(&state, &engine_client, id, csrf, &form).await
        }
        _ => login::handle(&state, &engine_client, id, csrf, &form).await,
    };
    if !native {
        return answer;
    }
    // The app learns the outcome at the exchange; the browser goes back to the app.
    let status = answer.status();
    let body = axum::body::to_bytes(answer.into_body(), 4 << 20)
        .await
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        .unwrap_or_default();
    let id_in = |value: &Value| value.as_str().and_then(|id| uuid::Uuid::parse_str(id).ok());
    let session = status
        .is_success()
        .then(|| id_in(&body["session"]["id"]))
        .flatten();
    let failed = (!status.is_success()).then(|| id_in(&body["id"])).flatten();
    match to_app(&state, &flow, session, failed).await {
        Ok(response) => response,
        Err(error) => fail(error).await,
    }
}

/// A native app's sign-in that ended in the browser without a session: the flow, saved with
/// its message, is what the app gets at the exchange.
async fn back_to_app(state: &AppState, client: &Client, mut flow: crate::flow::Flow) -> Response {
    flow.updated_at = state.clock.now();
    let result = match state.flows.update_flow(&flow).await {
        Ok(()) => to_app(state, &flow, None, Some(flow.id)).await,
        Err(error) => Err(error.into()),
    };
    match result {
        Ok(response) => response,
        Err(error) => respond_api_error(state, client, FlowType::Browser, error).await,
    }
}

/// Sends the browser back to the app's `return_to` with the exchange's `code`.
async fn to_app(
    state: &AppState,
    flow: &crate::flow::Flow,
    session: Option<uuid::Uuid>,
    failed: Option<uuid::Uuid>,
) -> Result<Response, ApiError> {
    let code = exchange::finish(state, flow.kind, flow.id, session, failed).await?;
    let return_to = crate::flow::return_url(state, Some(flow), &[]);
    let mut target = url::Url::parse(&return_to)
        .map_err(|_| bad_callback("the flow's return_to is not a URL"))?;
    target.query_pairs_mut().append_pair("code", &code);
    Ok(see_other(target.as_str()))
}
