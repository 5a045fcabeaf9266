//! The registration flow (one step: traits and credentials in one submission).

use super::{FlowIdParam, RegistrationInitParams, SubmitParams};
use crate::http::Query;
use crate::http::openapi::{
    ErrorEnvelope, FlowSubmission, GetFlowAnswers, RegistrationFlow, RegistrationFlowOrError,
    SubmitAnswers, SuccessfulRegistration,
};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::respond::push_continue_with;
use super::respond::{
    SignedIn, answer_new_flow, init_url, is_browser_navigation, location_change, respond_api_error,
    respond_flow_error, signed_in_response,
};
use super::verification;
use super::{
    FlowError, FlowId, FlowKind, FlowType, InitQuery, STATE_PASSED_CHALLENGE, answer_init,
    load_for_submit, new_flow, read_flow, return_url, see_other, session_already_available,
    validate_return_to,
};
use crate::config::HookName;
use crate::error::ApiError;
use crate::flow::Flow;
use crate::hook;
use crate::http::request::{Client, Submission, field};
use crate::identity::{Identity, View};
use crate::session::handlers::current_session;
use crate::state::AppState;
use crate::store::{Changes, StoreError};
use crate::strategy::RegistrationOutcome;

fn disabled() -> ApiError {
    ApiError::bad_request("Registration is not allowed because it was disabled.")
        .with_id("self_service_flow_disabled")
}

/// `GET /self-service/registration/browser`
#[utoipa::path(get, path = "/self-service/registration/browser", operation_id = "createBrowserRegistrationFlow", tag = "registration",
    params(RegistrationInitParams),
    responses(
        (status = 200, description = "The new flow, for a client that asked for JSON.", body = RegistrationFlow),
        (status = 303, description = "To the flow's page, or where a browser goes instead (already signed in, an error page)."),
        (status = 400, description = "Already signed in (`session_already_available`), registration disabled, or a `return_to` that is not allowed.", body = ErrorEnvelope)))]
pub async fn init_browser(
    State(state): State<AppState>,
    client: Client,
    Query(query): Query<InitQuery>,
) -> Response {
    let result = init(&state, &client, &query, FlowType::Browser).await;
    answer_init(&state, &client, FlowType::Browser, result).await
}

/// `GET /self-service/registration/api`
#[utoipa::path(get, path = "/self-service/registration/api", operation_id = "createNativeRegistrationFlow", tag = "registration",
    params(RegistrationInitParams),
    responses(
        (status = 200, description = "The new flow.", body = RegistrationFlow, links(
            ("getRegistrationFlow" = (operation_id = "getRegistrationFlow", parameters(("id" = "$response.body#/id")))),
            ("updateRegistrationFlow" = (operation_id = "updateRegistrationFlow", parameters(("flow" = "$response.body#/id")))),
        )),
        (status = 400, description = "Already signed in (`session_already_available`), registration disabled, or a `return_to` that is not allowed.", body = ErrorEnvelope)))]
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
    let config = &state.config.selfservice.flows.registration;
    if !config.enabled {
        return Err(disabled());
    }
    let oauth2 = query.oauth2_login(state, client, flow_type).await?;
    let return_to = match &oauth2 {
        Some((_, resume)) => Some(resume.to_string()),
        None => validate_return_to(state, query.return_to.as_deref())?,
    };
    if current_session(state, client).await?.is_some() {
        if is_browser_navigation(client, flow_type) {
            let target = return_to.unwrap_or_else(|| after_url(state, None));
            return Ok(see_other(&target));
        }
        return Err(session_already_available());
    }
    let (mut flow, set_cookie) =
        new_flow(state, client, FlowKind::Registration, flow_type, return_to);
    if let Some((request, _)) = oauth2 {
        flow.internal
            .insert(super::model::OAUTH2_LOGIN_REQUEST.into(), request);
    }
    let exchange = crate::session::exchange::open(&mut flow, query);
    let before = &state.config.selfservice.flows.registration.before.hooks;
    crate::hook::before(state, client, before, &flow).await?;
    state.flows.create_flow(&flow).await?;
    Ok(match exchange {
        Some(code) => crate::session::exchange::answer_new_flow(&flow, &code),
        None => answer_new_flow(state, client, &flow, set_cookie),
    })
}

/// Where a browser goes after signing up: the flow's `return_to`, else the configured defaults.
fn after_url(state: &AppState, flow: Option<&Flow>) -> String {
    let after = &state.config.selfservice.flows.registration.after;
    let defaults = [
        after.password.default_browser_return_url.as_ref(),
        after.default_browser_return_url.as_ref(),
    ];
    return_url(state, flow, &defaults)
}

/// `GET /self-service/registration/flows?id=`
#[utoipa::path(get, path = "/self-service/registration/flows", operation_id = "getRegistrationFlow", tag = "registration",
    params(FlowIdParam),
    responses(
        (status = 200, description = "The flow.", body = RegistrationFlow),
        GetFlowAnswers))]
pub async fn get_flow(
    State(state): State<AppState>,
    client: Client,
    Query(id): Query<FlowId>,
) -> Result<Json<Value>, ApiError> {
    read_flow(&state, &client, FlowKind::Registration, &id).await
}

/// `POST /self-service/registration?flow=`
#[utoipa::path(post, path = "/self-service/registration", operation_id = "updateRegistrationFlow", tag = "registration",
    params(SubmitParams),
    request_body(content((FlowSubmission = "application/json"), (FlowSubmission = "application/x-www-form-urlencoded"))),
    responses(
        (status = 200, description = "Done: the identity (and, with the `session` hook, a session).", body = SuccessfulRegistration),
        (status = 302, description = "A browser that is signed in already: to the return address."),
        (status = 400, description = "The form has errors (the flow with messages), or the request is not usable (the envelope).", body = RegistrationFlowOrError),
        SubmitAnswers))]
pub async fn submit(
    State(state): State<AppState>,
    client: Client,
    Query(id): Query<FlowId>,
    Submission(form): Submission,
) -> Response {
    if !state.config.selfservice.flows.registration.enabled {
        return respond_api_error(&state, &client, FlowType::Browser, disabled()).await;
    }
    let id = match id.parse("flow") {
        Ok(id) => id,
        Err(_) if !client.wants_json => {
            return see_other(&init_url(&state, FlowKind::Registration));
        }
        Err(error) => return error.into_response(),
    };
    handle(&state, &client, id, field(&form, "csrf_token"), &form).await
}

/// Loads flow `id` and runs `form` on it: a submission, or an upstream's answer.
pub(crate) async fn handle(
    state: &AppState,
    client: &Client,
    id: uuid::Uuid,
    csrf: Option<&str>,
    form: &Value,
) -> Response {
    let result = async {
        let flow = load_for_submit(state, client, FlowKind::Registration, id, csrf).await?;
        run(state, client, flow, form).await
    }
    .await;
    match result {
        Ok(response) => response,
        Err(error) => respond_flow_error(state, client, error).await,
    }
}

pub(crate) async fn run(
    state: &AppState,
    client: &Client,
    mut flow: Flow,
    form: &Value,
) -> Result<Response, FlowError> {
    if current_session(state, client).await?.is_some() {
        if is_browser_navigation(client, flow.flow_type) {
            // Kratos answers a signed-in browser's sign-up with 302, not 303.
            let mut response = see_other(&after_url(state, Some(&flow)));
            *response.status_mut() = StatusCode::FOUND;
            return Ok(response);
        }
        return Err(session_already_available().into());
    }
    flow.ui.clear_messages();
    flow.active = field(form, "method").map(str::to_string);
    // Two-step sign-up: a credential sent with the traits in one request (native apps may) is
    // judged on the credentials screen, where its fields and their messages are.
    if flow
        .active
        .as_deref()
        .is_some_and(|method| crate::strategy::profile::needs_credentials_screen(&flow, method))
    {
        let schema = state.schemas.get(state.schemas.default_id());
        let traits = schema.map_or(json!({}), |schema| {
            crate::strategy::traits::typed_traits(
                schema,
                form.get("traits").unwrap_or(&Value::Null),
            )
        });
        crate::strategy::profile::show_credentials(state, &mut flow, &traits);
    }
    // Counted before it is made; a registration that does not happen is taken back.
    let counted = match crate::throttle::registration(state, client.ip).await? {
        Ok(counted) => counted,
        Err(refused) => return Err(refused.reject(&flow)),
    };
    for strategy in &state.strategies.registration {
        let outcome = strategy.register(state, &mut flow, form).await;
        if matches!(outcome, Ok(RegistrationOutcome::NotMine)) {
            continue;
        }
        let mut registered = false;
        let result = match outcome {
            Err(error) => Err(error),
            Ok(RegistrationOutcome::Registered { identity, method }) => {
                registered = true;
                finish(state, client, flow, *identity, method).await
            }
            Ok(RegistrationOutcome::Redirect(url)) => {
                flow.updated_at = state.clock.now();
                state.flows.update_flow(&flow).await?;
                Ok(location_change(client, flow.flow_type, &url))
            }
            Ok(RegistrationOutcome::SignIn(login)) => {
                // This flow hands over: it is stored as the strategy left it.
                state.flows.update_flow(&flow).await?;
                state.flows.create_flow(&login).await?;
                Box::pin(super::login::run(state, client, *login, form)).await
            }
            Ok(RegistrationOutcome::Elsewhere(login)) => Err(FlowError::Rejected(login)),
            Ok(RegistrationOutcome::Rejected | RegistrationOutcome::NotMine) => {
                Err(FlowError::Rejected(Box::new(flow)))
            }
        };
        // Nothing was registered: the count is taken back.
        if !(registered && result.is_ok()) {
            counted.refund(state).await?;
        }
        return result;
    }
    counted.refund(state).await?;
    flow.ui.messages.push(app::model::UiText::plain(
        FlowKind::Registration.no_strategy_message(),
    ));
    Err(FlowError::Rejected(Box::new(flow)))
}

/// Stores the new identity, runs the after-registration hooks, and answers.
async fn finish(
    state: &AppState,
    client: &Client,
    mut flow: Flow,
    identity: Identity,
    method: &'static str,
) -> Result<Response, FlowError> {
    let mut identity = identity;
    let mut changes = Changes::default();
    let hooks = hook::registration_hooks(state, method);
    // Hooks that read their answer run before anything is stored: they may change the new
    // identity, or refuse it.
    let context = hook::HookContext {
        client,
        flow: &flow,
        identity: Some(&identity),
        session: None,
    };
    match hook::run_web_hooks(state, hooks, hook::Stage::BeforeStoring, &context).await {
        Ok(None) => {}
        Ok(Some(patch)) => {
            hook::apply_patch(&mut identity, &patch);
            if !crate::strategy::traits::check_against_schema(state, &mut flow, &mut identity) {
                return Err(FlowError::Rejected(Box::new(flow)));
            }
        }
        Err(error) => return Err(hook::refusal(flow, error)),
    }
    // Signing the new identity in gives the browser a new CSRF token; the verification flow
    // made for this browser below must carry that one, or the browser could not read it.
    let csrf_token = crate::session::cookie::new_csrf_token();
    let signs_in = hook::configured(hooks, HookName::Session);
    // With verification on, every new address gets its message in the same transaction.
    let verification = verification::start_for(
        state,
        client,
        &mut identity,
        flow.flow_type,
        signs_in.then_some(csrf_token.as_str()),
        &mut changes,
    )
    .await;
    flow.state = STATE_PASSED_CHALLENGE.into();
    flow.updated_at = state.clock.now();
    changes.create_identity = Some(identity.clone());
    changes.update_flows.push(flow.clone());
    match state.changes.commit(changes, state.clock.now()).await {
        Ok(()) => {}
        Err(StoreError::Conflict) => {
            flow.state = super::STATE_CHOOSE_METHOD.into();
            flow.ui.messages.push(app::model::UiText::plain(4000007));
            return Err(FlowError::Rejected(Box::new(flow)));
        }
        Err(error) => return Err(error.into()),
    }

    let provider = crate::strategy::oidc::provider_for(method, &flow);
    let signed_in = hook::after_registration(state, client, &identity, method, provider).await?;
    let context = hook::HookContext {
        client,
        flow: &flow,
        identity: Some(&identity),
        session: signed_in.as_ref().map(|(session, _)| session),
    };
    hook::after_storing(state, hooks, &context).await;
    let mut body = json!({
        "identity": identity.to_json(&state.schema_url(&identity.schema_id), View::default()),
        "continue_with": verification.iter().collect::<Vec<_>>(),
    });
    // `show_verification_ui` sends browsers to the verification page instead.
    let show_verification = verification
        .as_ref()
        .and_then(|item| item["flow"]["url"].as_str())
        .filter(|_| hook::configured(hooks, HookName::ShowVerificationUi));
    let destination = show_verification
        .map(str::to_string)
        .unwrap_or_else(|| after_url(state, Some(&flow)));
    match signed_in {
        Some((session, token)) => {
            body["session"] = crate::session::issue::session_json(state, &session, &identity);
            Ok(signed_in_response(
                state,
                client,
                &flow,
                body,
                SignedIn {
                    session: &session,
                    token: Some(token.expose()),
                    csrf_token,
                },
                &destination,
            ))
        }
        None if flow.flow_type == FlowType::Api => Ok(Json(body).into_response()),
        None if client.wants_json => {
            push_continue_with(
                &mut body,
                json!({"action": "redirect_browser_to", "redirect_browser_to": destination}),
            );
            Ok(Json(body).into_response())
        }
        None => Ok(see_other(&destination)),
    }
}
