//! The verification flow: prove that an address is yours (`code` or `link`), in browser, SPA
//! and API variants. Registration and settings start it for new addresses.

use super::{CodeLinkParams, FlowIdParam, InitParams, SubmitParams};
use crate::http::Query;
use crate::http::openapi::{
    ErrorEnvelope, FlowSubmission, GetFlowAnswers, SubmitAnswers, VerificationFlow,
    VerificationFlowOrError,
};
use app::model::{AnchorAttributes, NodeGroup, UiNode, UiText};
use axum::Json;
use axum::extract::State;
use axum::response::Response;
use serde_json::{Value, json};

use super::one_time::SubmitQuery;
use super::respond::{answer_new_flow, respond_flow};
use super::{
    Flow, FlowError, FlowId, FlowKind, FlowType, InitQuery, STATE_PASSED_CHALLENGE, answer_init,
    new_flow, one_time, read_flow, return_url, validate_return_to,
};
use crate::error::ApiError;
use crate::http::request::{Client, Submission};
use crate::identity::{Identity, VerificationStatus};
use crate::state::AppState;
use crate::store::Changes;
use crate::strategy::one_time::OneTimeStrategy;

/// `GET /self-service/verification/browser`
#[utoipa::path(get, path = "/self-service/verification/browser", operation_id = "createBrowserVerificationFlow", tag = "verification",
    params(InitParams),
    responses(
        (status = 200, description = "The new flow, for a client that asked for JSON.", body = VerificationFlow),
        (status = 303, description = "To the flow's page, or where a browser goes instead (already signed in, an error page)."),
        (status = 400, description = "Verification disabled, or a `return_to` that is not allowed.", body = ErrorEnvelope)))]
pub async fn init_browser(
    State(state): State<AppState>,
    client: Client,
    Query(query): Query<InitQuery>,
) -> Response {
    let result = init(&state, &client, &query, FlowType::Browser).await;
    answer_init(&state, &client, FlowType::Browser, result).await
}

/// `GET /self-service/verification/api`
#[utoipa::path(get, path = "/self-service/verification/api", operation_id = "createNativeVerificationFlow", tag = "verification",
    params(InitParams),
    responses(
        (status = 200, description = "The new flow.", body = VerificationFlow, links(
            ("getVerificationFlow" = (operation_id = "getVerificationFlow", parameters(("id" = "$response.body#/id")))),
            ("updateVerificationFlow" = (operation_id = "updateVerificationFlow", parameters(("flow" = "$response.body#/id")))),
        )),
        (status = 400, description = "Verification disabled, or a `return_to` that is not allowed.", body = ErrorEnvelope)))]
pub async fn init_api(
    State(state): State<AppState>,
    client: Client,
    Query(query): Query<InitQuery>,
) -> Response {
    let result = init(&state, &client, &query, FlowType::Api).await;
    answer_init(&state, &client, FlowType::Api, result).await
}

async fn init(
    state: &AppState,
    client: &Client,
    query: &InitQuery,
    flow_type: FlowType,
) -> Result<Response, ApiError> {
    one_time::strategy(state, FlowKind::Verification)?;
    let return_to = validate_return_to(state, query.return_to.as_deref())?;
    let (flow, set_cookie) = new_flow(state, client, FlowKind::Verification, flow_type, return_to);
    let before = &state.config.selfservice.flows.verification.before.hooks;
    crate::hook::before(state, client, before, &flow).await?;
    state.flows.create_flow(&flow).await?;
    Ok(answer_new_flow(state, client, &flow, set_cookie))
}

/// `GET /self-service/verification/flows?id=`
#[utoipa::path(get, path = "/self-service/verification/flows", operation_id = "getVerificationFlow", tag = "verification",
    params(FlowIdParam),
    responses(
        (status = 200, description = "The flow.", body = VerificationFlow),
        GetFlowAnswers))]
pub async fn get_flow(
    State(state): State<AppState>,
    client: Client,
    Query(id): Query<FlowId>,
) -> Result<Json<Value>, ApiError> {
    read_flow(&state, &client, FlowKind::Verification, &id).await
}

/// `POST /self-service/verification?flow=`, and `GET` with `&code=`/`&token=` from a message.
#[utoipa::path(post, path = "/self-service/verification", operation_id = "updateVerificationFlow", tag = "verification",
    params(SubmitParams),
    request_body(content((FlowSubmission = "application/json"), (FlowSubmission = "application/x-www-form-urlencoded"))),
    responses(
        (status = 200, description = "Done: the flow in its new state.", body = VerificationFlow),
        (status = 400, description = "The form has errors (the flow with messages), or the request is not usable (the envelope).", body = VerificationFlowOrError),
        SubmitAnswers))]
pub async fn submit(
    State(state): State<AppState>,
    client: Client,
    method: axum::http::Method,
    Query(query): Query<SubmitQuery>,
    Submission(form): Submission,
) -> Response {
    one_time::submit(
        &state,
        &client,
        &method,
        &query,
        &form,
        FlowKind::Verification,
    )
    .await
}

/// `GET /self-service/verification?flow=&...`: a verification link opened from a message.
#[utoipa::path(get, path = "/self-service/verification", operation_id = "openVerificationLink", tag = "verification",
    params(SubmitParams, CodeLinkParams),
    responses(
        (status = 200, description = "Done: the flow in its new state (clients that asked for JSON).", body = VerificationFlow),
        (status = 400, description = "The link is not valid (the flow with a message), or the request is not usable (the envelope).", body = VerificationFlowOrError),
        SubmitAnswers))]
pub async fn open_link(
    state: State<AppState>,
    client: Client,
    method: axum::http::Method,
    query: Query<SubmitQuery>,
    submission: Submission,
) -> Response {
    submit(state, client, method, query, submission).await
}

/// Marks the identity's pending `addresses` as `sent`; returns whether any changed.
pub(super) fn mark_sent(
    identity: &mut Identity,
    addresses: &[String],
    now: time::OffsetDateTime,
) -> bool {
    let mut changed = false;
    for address in &mut identity.verifiable_addresses {
        if addresses.contains(&address.value) && address.status == VerificationStatus::Pending {
            address.status = VerificationStatus::Sent;
            address.updated_at = now;
            changed = true;
        }
    }
    changed
}

/// Checks the secret; on success the address is verified and the flow shows where to go on.
pub(super) async fn finish(
    state: &AppState,
    client: &Client,
    strategy: &OneTimeStrategy,
    mut flow: Flow,
    secret: &str,
    is_link: bool,
) -> Result<Response, FlowError> {
    let code = one_time::check(state, strategy, &mut flow, secret, is_link).await?;
    let now = state.clock.now();
    let mut identity = state.identities.get_identity(code.identity_id).await?;
    let mut notices = Changes::default();
    // A changed address that waited for this verification takes its place now.
    let before = identity.clone();
    if !crate::hook::address_change::still_wanted(state, &flow).await? {
        flow.ui.clear_messages();
        flow.ui.messages.push(UiText::new(
            4000001,
            json!({"reason": "This address change was cancelled: the session that asked for it has ended."}),
        ));
        return Err(FlowError::Rejected(Box::new(flow)));
    }
    if crate::hook::address_change::apply(&flow, &mut identity, &code.address) {
        if !crate::strategy::traits::check_against_schema(state, &mut flow, &mut identity) {
            return Err(FlowError::Rejected(Box::new(flow)));
        }
        let hooks = crate::hook::settings_hooks(state, "profile");
        crate::hook::address_change::notify_previous(
            state,
            flow.language(),
            hooks,
            &before,
            &identity,
            &mut notices,
        );
    }
    for address in &mut identity.verifiable_addresses {
        if address.value == code.address {
            address.status = VerificationStatus::Completed;
            address.verified_at = Some(now);
            address.updated_at = now;
        }
    }
    let destination = return_url(
        state,
        Some(&flow),
        &[state
            .config
            .selfservice
            .flows
            .verification
            .after
            .default_browser_return_url
            .as_ref()],
    );
    // The flow as it will be once the code is spent; `flow` stays as it was for a lost race.
    let mut done = flow.clone();
    done.state = STATE_PASSED_CHALLENGE.into();
    done.updated_at = now;
    done.ui.clear_messages();
    done.ui
        .nodes
        .retain(|node| node.name() == Some("csrf_token"));
    done.ui.nodes.push(UiNode::anchor(
        NodeGroup::Code,
        AnchorAttributes {
            href: destination.clone(),
            title: UiText::plain(1070009),
            id: "continue".into(),
        },
    ));
    done.ui.messages.push(UiText::plain(1080002));
    done.ui.method = "GET".into();
    done.ui.action = destination;
    let changes = Changes {
        update_identity: Some(identity.clone()),
        update_flows: vec![done.clone()],
        use_codes: vec![code.id],
        messages: notices.messages,
        ..Changes::default()
    };
    match state.changes.commit(changes, now).await {
        Ok(()) => {
            let context = crate::hook::HookContext {
                client,
                flow: &done,
                identity: Some(&identity),
                session: None,
            };
            let hooks = &state.config.selfservice.flows.verification.after.hooks;
            crate::hook::after_storing(state, hooks, &context).await;
            Ok(respond_flow(
                state,
                client,
                &done,
                axum::http::StatusCode::OK,
            ))
        }
        // Another request spent the code first.
        Err(crate::store::StoreError::Conflict) => {
            flow.ui.clear_messages();
            flow.ui.messages.push(UiText::plain(4070006));
            Err(FlowError::Rejected(Box::new(flow)))
        }
        Err(error) => Err(error.into()),
    }
}

/// Starts verification of `identity`'s unverified addresses after a flow of `flow_type` (the
/// `verification` hook): a new verification flow with a message per address, all written in
/// `changes`. Returns the `continue_with` item that points at it. `csrf_token` replaces the
/// browser's current token when the same answer gives the browser a new one.
pub async fn start_for(
    state: &AppState,
    client: &Client,
    identity: &mut Identity,
    flow_type: FlowType,
    csrf_token: Option<&str>,
    changes: &mut Changes,
) -> Option<Value> {
    let pending: Vec<String> = identity
        .verifiable_addresses
        .iter()
        .filter(|address| !address.verified())
        .map(|address| address.value.clone())
        .collect();
    let (flow, item) = send_codes(
        state, client, identity, &pending, flow_type, csrf_token, changes,
    )
    .await?;
    mark_sent(identity, &pending, state.clock.now());
    changes.create_flows.push(flow);
    Some(item)
}

/// Sends codes to new `addresses` that `identity` takes on once one is verified
/// (`verify_new_address`): the changed traits wait in the verification flow.
pub async fn start_for_change(
    state: &AppState,
    client: &Client,
    identity: &Identity,
    pending: serde_json::Map<String, Value>,
    session: uuid::Uuid,
    flow_type: FlowType,
    changes: &mut Changes,
) -> Option<Value> {
    let addresses = crate::hook::address_change::addresses(&pending);
    let (mut flow, item) = send_codes(
        state, client, identity, &addresses, flow_type, None, changes,
    )
    .await?;
    crate::hook::address_change::keep(&mut flow, pending, session);
    changes.create_flows.push(flow);
    Some(item)
}

/// A new verification flow with a code sent to each of `addresses`, and the `continue_with`
/// item that points at it.
async fn send_codes(
    state: &AppState,
    client: &Client,
    identity: &Identity,
    addresses: &[String],
    flow_type: FlowType,
    csrf_token: Option<&str>,
    changes: &mut Changes,
) -> Option<(Flow, Value)> {
    let strategy = state.strategies.verification.as_ref()?;
    let first = addresses.first()?.clone();
    let (mut flow, _) = new_flow(state, client, FlowKind::Verification, flow_type, None);
    if let Some(token) = csrf_token.filter(|_| flow_type == FlowType::Browser) {
        flow.set_csrf_token(token);
    }
    for address in addresses {
        let result =
            one_time::send(state, strategy, &mut flow, address, Some(identity), changes).await;
        if result.is_err() {
            // The cause is logged where it happened.
            tracing::error!("could not queue a verification message");
            return None;
        }
    }
    let mut url = super::ui_url(state, FlowKind::Verification);
    url.query_pairs_mut()
        .append_pair("flow", &flow.id.to_string());
    let item = json!({
        "action": "show_verification_ui",
        "flow": {"id": flow.id, "verifiable_address": first, "url": url.to_string()},
    });
    Some((flow, item))
}
