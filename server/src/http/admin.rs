//! The admin listener: identities (reference §1b), health, version and metrics. Every route is
//! served under `/admin` and, as Kratos does on its admin port, without the prefix too.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use uuid::Uuid;

use super::JsonBody;
use super::identity_body::{
    CreateIdentityBody, ReplaceIdentityBody, apply_patched, new_identity, parse_id, replace,
};
use super::pagination::{Page, Params};
use crate::error::{ApiError, ApiResult};
use crate::http::openapi::{
    self, ErrorEnvelope, Identity as IdentitySchema, JsonPatchOperation, Version,
};
use crate::http::pagination::PageParams;
use crate::identity::{CredentialType, Identity, View};
use crate::state::AppState;
use crate::store::IdentityQuery;

#[derive(utoipa::OpenApi)]
#[openapi(paths(
    list_identities,
    create_identity,
    get_identity,
    get_identity_by_external_id,
    replace_identity,
    patch_identity,
    delete_identity,
    version,
    metrics
))]
struct Api;

/// The admin listener's API description.
pub fn description() -> &'static Value {
    use utoipa::OpenApi;
    static DOC: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    DOC.get_or_init(|| {
        openapi::document(
            "Ward admin API",
            "Identities, sessions, recovery and the courier, as Ory Kratos serves them on its \
             admin port. Every path is also served without its `/admin` prefix.",
            [
                Api::openapi(),
                super::admin_identities::Api::openapi(),
                super::admin_sessions::Api::openapi(),
                super::admin_courier::Api::openapi(),
                crate::hook::deliveries::Api::openapi(),
                crate::flow::recovery::AdminApi::openapi(),
                super::public::HealthApi::openapi(),
            ],
        )
    })
}

const DEFAULT_PAGE_SIZE: u32 = 250;
const MAX_PAGE_SIZE: u32 = 500;
const MAX_IDS_FILTER: usize = 500;

pub fn router(state: AppState) -> Router {
    let admin = Router::new()
        .route(
            "/identities",
            get(list_identities)
                .post(create_identity)
                .patch(super::admin_identities::batch_patch_identities),
        )
        .route(
            "/identities/by/external/{external_id}",
            get(get_identity_by_external_id),
        )
        .route(
            "/identities/{id}/throttle",
            get(super::admin_identities::get_throttle)
                .delete(super::admin_identities::delete_throttle),
        )
        .route(
            "/identities/{id}/credentials/{kind}",
            axum::routing::delete(super::admin_identities::delete_credential),
        )
        .route(
            "/identities/{id}",
            get(get_identity)
                .put(replace_identity)
                .patch(patch_identity)
                .delete(delete_identity),
        )
        .merge(super::admin_sessions::routes())
        .merge(super::admin_courier::routes())
        .merge(crate::hook::deliveries::admin_routes())
        .merge(crate::flow::recovery::admin_routes())
        .merge(crate::oauth2::admin_routes(&state))
        .merge(super::public::health_routes());
    let routes = Router::new()
        .nest("/admin", admin.clone())
        .merge(admin)
        .route("/version", get(version))
        .route("/metrics/prometheus", get(metrics))
        .route(
            openapi::PATH,
            get(|| async { openapi::answer(description()) }),
        );
    super::api_layers(routes.with_state(state.clone()), &state, "admin")
}

/// Ward's version.
#[utoipa::path(get, path = "/version", operation_id = "getVersion", tag = "metadata",
    responses((status = 200, description = "The version.", body = Version)))]
async fn version() -> Json<Value> {
    Json(json!({"version": env!("CARGO_PKG_VERSION")}))
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics/prometheus", operation_id = "prometheus", tag = "metadata", responses((status = 200,
    description = "The metrics, in the OpenMetrics text format.",
    content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8", body = String)))]
async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

// ---------------------------------------------------------------------------------------------
// Handlers

/// Query parameters of `GET /admin/identities`, for the API description.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct ListIdentitiesParams {
    /// Only these identities (repeat the parameter; at most 500).
    ids: Option<Vec<Uuid>>,
    /// Only the identity with this credential identifier.
    credentials_identifier: Option<String>,
    /// Include these credentials' configuration (repeatable: `password`, `oidc`, ...).
    include_credential: Option<Vec<String>>,
}

#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct IncludeCredentialParams {
    /// Include these credentials' configuration (repeatable: `password`, `oidc`, ...).
    include_credential: Option<Vec<String>>,
}

/// Identities, oldest first, a page at a time.
#[utoipa::path(get, path = "/admin/identities", operation_id = "listIdentities", tag = "identity",
    params(ListIdentitiesParams, PageParams), responses(
    (status = 200, description = "One page of identities.", body = Vec<IdentitySchema>,
        headers(("Link" = String, description = "The first and next pages."))),
    (status = 400, description = "A bad filter or page parameter.", body = ErrorEnvelope)))]
async fn list_identities(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let params = Params::parse(raw);
    let page_request = Page::parse(&params, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)?;
    let include = parse_include(&params.all("include_credential"))?;
    let credentials_identifier = params
        .single("credentials_identifier")
        .map(|value| value.trim().to_string())
        .filter(|value| !value.is_empty());
    let ids = params
        .all("ids")
        .iter()
        .map(|id| {
            Uuid::parse_str(id)
                .map_err(|_| ApiError::bad_request(format!("ids: {id:?} is not a UUID.")))
        })
        .collect::<ApiResult<Vec<Uuid>>>()?;
    if ids.len() > MAX_IDS_FILTER {
        return Err(ApiError::bad_request(format!(
            "ids: at most {MAX_IDS_FILTER} ids per request."
        )));
    }
    if !ids.is_empty() && credentials_identifier.is_some() {
        return Err(ApiError::bad_request(
            "The filters ids and credentials_identifier cannot be combined.",
        ));
    }

    let page = state
        .identities
        .list_identities(&IdentityQuery {
            page_size: page_request.size,
            after: page_request.after,
            credentials_identifier,
            ids,
        })
        .await?;

    let body: Vec<Value> = page
        .identities
        .iter()
        .map(|identity| identity_json(&state, identity, &include))
        .collect();
    let mut headers = HeaderMap::new();
    if let Some(link) = page_request.link_header("/admin/identities", page.next_after, &params) {
        headers.insert(header::LINK, link);
    }
    Ok((headers, Json(body)).into_response())
}

/// Creates (imports) an identity.
#[utoipa::path(post, path = "/admin/identities", operation_id = "createIdentity", tag = "identity",
    request_body = CreateIdentityBody, responses(
    (status = 201, description = "Created; `Location` names it.", body = IdentitySchema,
        headers(("Location" = String, description = "The new identity's URL.")),
        links(
            ("getIdentity" = (operation_id = "getIdentity", parameters(("id" = "$response.body#/id")))),
            ("updateIdentity" = (operation_id = "updateIdentity", parameters(("id" = "$response.body#/id")))),
            ("patchIdentity" = (operation_id = "patchIdentity", parameters(("id" = "$response.body#/id")))),
            ("deleteIdentity" = (operation_id = "deleteIdentity", parameters(("id" = "$response.body#/id")))),
            ("listIdentitySessions" = (operation_id = "listIdentitySessions",
                parameters(("id" = "$response.body#/id")))),
        )),
    (status = 400, description = "The body or the traits are not valid.", body = ErrorEnvelope),
    (status = 409, description = "An identifier or address is taken.", body = ErrorEnvelope)))]
async fn create_identity(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<CreateIdentityBody>,
) -> ApiResult<Response> {
    let identity = new_identity(&state, body).await?;
    state.identities.create_identity(&identity).await?;
    let location = state
        .urls
        .admin
        .join(&format!("admin/identities/{}", identity.id))
        .map(String::from)
        .unwrap_or_default();
    let mut response = (
        StatusCode::CREATED,
        Json(identity_json(&state, &identity, &[])),
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

/// One identity.
#[utoipa::path(get, path = "/admin/identities/{id}", operation_id = "getIdentity", tag = "identity",
    params(("id" = Uuid, Path, description = "The identity's id."), IncludeCredentialParams),
    responses(
    (status = 200, description = "The identity.", body = IdentitySchema),
    (status = 400, description = "An unknown credential type.", body = ErrorEnvelope),
    (status = 404, description = "No such identity.", body = ErrorEnvelope)))]
async fn get_identity(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let include = parse_include(&Params::parse(raw).all("include_credential"))?;
    let identity = state.identities.get_identity(parse_id(&id)?).await?;
    Ok(Json(identity_json(&state, &identity, &include)))
}

/// `GET /admin/identities/by/external/{external_id}`
#[utoipa::path(get, path = "/admin/identities/by/external/{external_id}", operation_id = "getIdentityByExternalID", tag = "identity",
    params(("external_id" = String, Path, description = "The identity's external id."),
        IncludeCredentialParams),
    responses(
    (status = 200, description = "The identity.", body = IdentitySchema),
    (status = 400, description = "An unknown credential type.", body = ErrorEnvelope),
    (status = 404, description = "No identity has that external id.", body = ErrorEnvelope)))]
async fn get_identity_by_external_id(
    State(state): State<AppState>,
    Path(external_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let include = parse_include(&Params::parse(raw).all("include_credential"))?;
    let identity = state
        .identities
        .find_by_external_id(&external_id)
        .await?
        .ok_or_else(|| ApiError::not_found().with_reason("No identity has this external_id."))?;
    Ok(Json(identity_json(&state, &identity, &include)))
}

/// Replaces an identity's schema, traits, state, metadata and (optionally) credentials.
#[utoipa::path(put, path = "/admin/identities/{id}", operation_id = "updateIdentity", tag = "identity",
    params(("id" = Uuid, Path, description = "The identity's id.")),
    request_body = ReplaceIdentityBody, responses(
    (status = 200, description = "The identity as stored.", body = IdentitySchema),
    (status = 400, description = "The body or the traits are not valid.", body = ErrorEnvelope),
    (status = 404, description = "No such identity.", body = ErrorEnvelope),
    (status = 409, description = "An identifier or address is taken.", body = ErrorEnvelope)))]
async fn replace_identity(
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<ReplaceIdentityBody>,
) -> ApiResult<Json<Value>> {
    let mut identity = state.identities.get_identity(parse_id(&id)?).await?;
    replace(&state, &mut identity, body).await?;
    state.identities.update_identity(&identity).await?;
    Ok(Json(identity_json(&state, &identity, &[])))
}

/// Paths a JSON Patch may not touch.
const IMMUTABLE_PATHS: [&str; 6] = [
    "/id",
    "/credentials",
    "/state_changed_at",
    "/schema_url",
    "/created_at",
    "/updated_at",
];

/// Changes an identity with an RFC 6902 JSON Patch; `/id`, `/credentials` and
/// `/state_changed_at` cannot be changed.
#[utoipa::path(patch, path = "/admin/identities/{id}", operation_id = "patchIdentity", tag = "identity",
    params(("id" = Uuid, Path, description = "The identity's id.")),
    request_body = Vec<JsonPatchOperation>, responses(
    (status = 200, description = "The identity as stored.", body = IdentitySchema),
    (status = 400, description = "The patch is not valid or touches an immutable path.", body = ErrorEnvelope),
    (status = 404, description = "No such identity.", body = ErrorEnvelope),
    (status = 409, description = "An identifier or address is taken.", body = ErrorEnvelope)))]
async fn patch_identity(
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(patch): JsonBody<json_patch::Patch>,
) -> ApiResult<Json<Value>> {
    let mut identity = state.identities.get_identity(parse_id(&id)?).await?;
    for operation in &patch.0 {
        let path = operation.path().to_string();
        if IMMUTABLE_PATHS
            .iter()
            .any(|immutable| path == *immutable || path.starts_with(&format!("{immutable}/")))
        {
            return Err(ApiError::bad_request(format!(
                "The JSON Patch may not change {path}."
            )));
        }
    }
    let mut document = identity_json(&state, &identity, &[]);
    json_patch::patch(&mut document, &patch).map_err(|error| {
        ApiError::bad_request(format!("The JSON Patch could not be applied: {error}"))
    })?;
    apply_patched(&state, &mut identity, &document)?;
    state.identities.update_identity(&identity).await?;
    Ok(Json(identity_json(&state, &identity, &[])))
}

/// Deletes an identity with its sessions and credentials.
#[utoipa::path(delete, path = "/admin/identities/{id}", operation_id = "deleteIdentity", tag = "identity",
    params(("id" = Uuid, Path, description = "The identity's id.")), responses(
    (status = 204, description = "Deleted."),
    (status = 404, description = "No such identity.", body = ErrorEnvelope)))]
async fn delete_identity(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state.identities.delete_identity(parse_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------------------------------------
// Helpers

pub(super) fn identity_json(
    state: &AppState,
    identity: &Identity,
    include: &[CredentialType],
) -> Value {
    let mut json = identity.to_json(
        &state.schema_url(&identity.schema_id),
        View {
            admin: true,
            include_credentials: include,
        },
    );
    // Upstream tokens are stored sealed with `secrets.cipher`; the admin API shows them
    // opened, as Kratos does.
    if let Some(links) = json
        .pointer_mut("/credentials/oidc/config/providers")
        .and_then(Value::as_array_mut)
    {
        for link in links {
            for key in [
                "initial_id_token",
                "initial_access_token",
                "initial_refresh_token",
            ] {
                if let Some(sealed) = link[key].as_str().filter(|sealed| !sealed.is_empty()) {
                    link[key] = Value::String(state.cipher.decrypt(sealed).unwrap_or_default());
                }
            }
        }
    }
    json
}

pub(super) fn parse_include(values: &[String]) -> ApiResult<Vec<CredentialType>> {
    values
        .iter()
        .map(|value| {
            CredentialType::parse(value).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "include_credential: unknown credential type {value:?}."
                ))
            })
        })
        .collect()
}
