//! Admin identity endpoints beyond one identity's CRUD: batch creation, removing one
//! credential, and the identity's brute-force counters.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use super::identity_body::{CreateIdentityBody, new_identity, parse_id};
use super::{JsonBody, Query};
use crate::error::{ApiError, ApiResult};
use crate::http::openapi::{BatchPatchResult, ErrorEnvelope};
use crate::identity::{CredentialType, Identity};
use crate::state::AppState;

#[derive(utoipa::OpenApi)]
#[openapi(paths(
    batch_patch_identities,
    delete_credential,
    get_throttle,
    delete_throttle
))]
pub struct Api;

/// Kratos's limits on one batch: entries, and entries with a plaintext password to hash.
const BATCH_LIMIT: usize = 1000;
const BATCH_PLAINTEXT_PASSWORD_LIMIT: usize = 200;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchPatchBody {
    identities: Vec<Option<BatchEntry>>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct BatchEntry {
    /// The identity, as `POST /admin/identities` takes it. Kept raw: a bad entry is that
    /// entry's error (`action: "error"`), not the whole request's.
    #[schema(value_type = Value, required = false)]
    create: Option<Value>,
    #[serde(default)]
    patch_id: Option<Uuid>,
}

#[derive(Serialize)]
struct BatchResult {
    action: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    identity: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    patch_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<Value>,
}

/// `PATCH /admin/identities`: creates up to 1,000 identities. Each entry succeeds or fails on
/// its own (`action: "create"` or `"error"` with the Kratos error object), in request order;
/// the answer is 200 even when every entry failed, as in Kratos.
#[utoipa::path(patch, path = "/admin/identities", operation_id = "batchPatchIdentities", tag = "identity",
    request_body = BatchPatchBody, responses(
    (status = 200, description = "One result per entry, in request order.", body = BatchPatchResult),
    (status = 400, description = "The body is not valid, or too many entries.", body = ErrorEnvelope)))]
pub async fn batch_patch_identities(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<BatchPatchBody>,
) -> ApiResult<Json<Value>> {
    if body.identities.len() > BATCH_LIMIT {
        return Err(ApiError::bad_request(format!(
            "The request contains more than {BATCH_LIMIT} identities; send at most {BATCH_LIMIT} per request."
        )));
    }
    let plaintext = body
        .identities
        .iter()
        .flatten()
        .filter(|entry| {
            entry
                .create
                .as_ref()
                .and_then(|create| create.pointer("/credentials/password/config/password"))
                .and_then(Value::as_str)
                .is_some_and(|password| !password.is_empty())
        })
        .count();
    if plaintext > BATCH_PLAINTEXT_PASSWORD_LIMIT {
        return Err(ApiError::bad_request(format!(
            "The request contains more than {BATCH_PLAINTEXT_PASSWORD_LIMIT} identities with plaintext passwords; \
             send at most {BATCH_PLAINTEXT_PASSWORD_LIMIT} per request, or import hashed passwords."
        )));
    }
    let mut results = Vec::with_capacity(body.identities.len());
    for entry in body.identities {
        let Some(entry) = entry else {
            results.push(Value::Null);
            continue;
        };
        let result = match create_one(&state, entry.create).await {
            Ok(id) => BatchResult {
                action: "create",
                identity: Some(id),
                patch_id: entry.patch_id,
                error: None,
            },
            Err(error) => BatchResult {
                action: "error",
                identity: None,
                patch_id: entry.patch_id,
                error: error.body().get("error").cloned(),
            },
        };
        results.push(json!(result));
    }
    Ok(Json(json!({ "identities": results })))
}

async fn create_one(state: &AppState, create: Option<Value>) -> ApiResult<Uuid> {
    let create = create.ok_or_else(|| ApiError::bad_request("The entry has no `create`."))?;
    let body: CreateIdentityBody = serde_json::from_value(create)
        .map_err(|error| ApiError::bad_request(format!("The entry is not valid: {error}")))?;
    let identity = new_identity(state, body).await?;
    state.identities.create_identity(&identity).await?;
    Ok(identity.id)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CredentialQuery {
    /// Which social sign-in link to remove: `<provider>:<subject>`.
    identifier: Option<String>,
}

/// `DELETE /admin/identities/{id}/credentials/{type}`: removes a second factor, a password or
/// one social sign-in link (`?identifier=<provider>:<subject>`), but never the identity's
/// last way to sign in.
#[utoipa::path(delete, path = "/admin/identities/{id}/credentials/{type}", operation_id = "deleteIdentityCredentials", tag = "identity",
    params(("id" = Uuid, Path, description = "The identity's id."),
        ("type" = String, Path, description = "The credential type."), CredentialQuery),
    responses(
    (status = 204, description = "Removed."),
    (status = 400, description = "The identity's last way to sign in, or a type that cannot be removed here.",
        body = ErrorEnvelope),
    (status = 404, description = "No such identity, or no such credential.", body = ErrorEnvelope)))]
pub async fn delete_credential(
    State(state): State<AppState>,
    Path((id, kind)): Path<(String, String)>,
    Query(query): Query<CredentialQuery>,
) -> ApiResult<StatusCode> {
    let mut identity = state.identities.get_identity(parse_id(&id)?).await?;
    let not_set_up = || {
        ApiError::not_found().with_reason(format!(
            "You tried to remove a {kind} credential, but this identity has none."
        ))
    };
    let kind_value = CredentialType::parse(&kind)
        .filter(|kind| identity.credentials.contains_key(kind))
        .ok_or_else(not_set_up)?;
    match kind_value {
        CredentialType::Totp | CredentialType::LookupSecret | CredentialType::Webauthn => {
            identity.credentials.remove(&kind_value);
        }
        CredentialType::Password => {
            refuse_last_first_factor(&identity)?;
            identity.credentials.remove(&kind_value);
        }
        CredentialType::Oidc => {
            let identifier = query.identifier.ok_or_else(|| {
                ApiError::bad_request(
                    "Give the link to remove as ?identifier=<provider>:<subject>.",
                )
            })?;
            refuse_last_first_factor(&identity)?;
            remove_oidc_link(&mut identity, &identifier)?;
        }
        CredentialType::Code | CredentialType::Passkey => {
            return Err(ApiError::bad_request(format!(
                "Credentials of type {kind} cannot be deleted."
            )));
        }
    }
    identity.updated_at = state.clock.now();
    state.identities.update_identity(&identity).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn refuse_last_first_factor(identity: &Identity) -> ApiResult<()> {
    if identity.first_factors() < 2 {
        return Err(ApiError::bad_request(
            "You cannot remove the identity's last first-factor credential.",
        ));
    }
    Ok(())
}

fn providers(config: &Value) -> Vec<Value> {
    config
        .get("providers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// Removes the link `<provider>:<subject>`, and the credential with its last link.
fn remove_oidc_link(identity: &mut Identity, identifier: &str) -> ApiResult<()> {
    let not_found = || {
        ApiError::not_found().with_reason(format!(
            "The identifier `{identifier}` is not among the identity's OIDC credentials."
        ))
    };
    let credential = identity
        .credentials
        .get_mut(&CredentialType::Oidc)
        .ok_or_else(not_found)?;
    let links = providers(&credential.config);
    let remaining: Vec<Value> = links
        .iter()
        .filter(|link| {
            let provider = link.get("provider").and_then(Value::as_str).unwrap_or("");
            let subject = link.get("subject").and_then(Value::as_str).unwrap_or("");
            format!("{provider}:{subject}") != identifier
        })
        .cloned()
        .collect();
    if remaining.len() == links.len() {
        return Err(not_found());
    }
    credential.identifiers.retain(|known| known != identifier);
    if remaining.is_empty() {
        identity.credentials.remove(&CredentialType::Oidc);
    } else {
        credential.config["providers"] = Value::Array(remaining);
    }
    Ok(())
}

/// One brute-force counter of an identity, as the admin API shows it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ThrottleCounter {
    /// `password` (one identifier from one client network), `identifier` (from any network)
    /// or `second_factor`.
    scope: String,
    /// Attempts counted in the current window.
    failures: i64,
    window_ends_at: String,
    /// Until when attempts of this scope are refused, when they are.
    blocked_until: Option<String>,
}

/// `GET /admin/identities/{id}/throttle` (Ward only)
#[utoipa::path(get, path = "/admin/identities/{id}/throttle", operation_id = "getIdentityThrottle", tag = "identity",
    params(("id" = Uuid, Path, description = "The identity's id.")),
    responses(
    (status = 200, description = "The identity's live counters; empty when nothing counts against it.", body = Vec<ThrottleCounter>),
    (status = 404, description = "No such identity.", body = ErrorEnvelope)))]
pub async fn get_throttle(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<ThrottleCounter>>> {
    let identity = state.identities.get_identity(parse_id(&id)?).await?;
    let now = state.clock.now();
    let counters = state
        .throttles
        .counters(&crate::throttle::subjects_of(&state, &identity), now)
        .await?;
    let answer = counters
        .into_iter()
        .map(|counter| {
            let blocked = crate::throttle::max_failures(&state, &counter.scope)
                .is_some_and(|max| counter.failures >= i64::from(max));
            let window_ends_at = crate::identity::timestamp(counter.window_ends_at);
            ThrottleCounter {
                scope: counter.scope,
                failures: counter.failures,
                blocked_until: blocked.then(|| window_ends_at.clone()),
                window_ends_at,
            }
        })
        .collect();
    Ok(Json(answer))
}

/// `DELETE /admin/identities/{id}/throttle` (Ward only): unblocks the identity.
#[utoipa::path(delete, path = "/admin/identities/{id}/throttle", operation_id = "deleteIdentityThrottle", tag = "identity",
    params(("id" = Uuid, Path, description = "The identity's id.")),
    responses(
    (status = 204, description = "The identity's counters are cleared."),
    (status = 404, description = "No such identity.", body = ErrorEnvelope)))]
pub async fn delete_throttle(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let identity = state.identities.get_identity(parse_id(&id)?).await?;
    state
        .throttles
        .clear(&crate::throttle::subjects_of(&state, &identity))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
