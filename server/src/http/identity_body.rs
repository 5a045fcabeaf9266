//! What an administrator sends to create, replace or patch an identity, and how it becomes
//! the stored identity: schema validation, imported credentials, address verification states.

use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use super::openapi;
use crate::error::{ApiError, ApiResult};
use crate::hash::{HashFormat, Password};
use crate::identity::{
    CredentialType, Identity, IdentityState, VerificationStatus, Via, apply_schema,
    credential_entry,
};
use crate::state::AppState;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"schema_id": "default", "traits": {"email": "ada@example.com"}}))]
pub(super) struct CreateIdentityBody {
    schema_id: String,
    traits: Value,
    #[serde(default)]
    state: Option<IdentityState>,
    #[serde(default)]
    metadata_public: Option<Value>,
    #[serde(default)]
    metadata_admin: Option<Value>,
    #[serde(default)]
    verifiable_addresses: Vec<AddressImport>,
    /// Accepted for Kratos compatibility: recovery addresses follow from the traits, so a
    /// listed one adds nothing.
    #[serde(default, rename = "recovery_addresses")]
    #[schema(value_type = Option<Vec<openapi::JsonObject>>)]
    _recovery_addresses: serde::de::IgnoredAny,
    #[serde(default)]
    credentials: Option<CredentialsImport>,
    #[serde(default)]
    organization_id: Option<Uuid>,
    #[serde(default)]
    external_id: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ReplaceIdentityBody {
    schema_id: String,
    traits: Value,
    #[serde(default)]
    state: Option<IdentityState>,
    #[serde(default)]
    metadata_public: Option<Value>,
    #[serde(default)]
    metadata_admin: Option<Value>,
    #[serde(default)]
    credentials: Option<CredentialsImport>,
    #[serde(default)]
    external_id: Option<String>,
}

/// An address as given on import or patch; it only sets the verification state of an address
/// the schema derives from the traits.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct AddressImport {
    value: String,
    #[serde(default)]
    via: Option<Via>,
    #[serde(default)]
    verified: bool,
    #[serde(default)]
    status: Option<VerificationStatus>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<openapi::Timestamp>)]
    verified_at: Option<OffsetDateTime>,
    // Present when an identity read from Ward or Kratos is posted back; ignored.
    #[serde(default)]
    #[allow(dead_code)]
    #[schema(value_type = Option<String>)]
    id: Option<Value>,
    #[serde(default)]
    #[allow(dead_code)]
    #[schema(value_type = Option<String>)]
    created_at: Option<Value>,
    #[serde(default)]
    #[allow(dead_code)]
    #[schema(value_type = Option<String>)]
    updated_at: Option<Value>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct CredentialsImport {
    #[serde(default)]
    password: Option<PasswordImport>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct PasswordImport {
    config: PasswordImportConfig,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct PasswordImportConfig {
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    hashed_password: Option<String>,
    #[serde(default)]
    use_password_migration_hook: bool,
}

/// The identity a create body describes, checked against its schema and not yet stored.
pub(super) async fn new_identity(
    state: &AppState,
    body: CreateIdentityBody,
) -> ApiResult<Identity> {
    let now = state.clock.now();
    let schema = state
        .schemas
        .get(&body.schema_id)
        .ok_or_else(|| unknown_schema(&body.schema_id))?;
    let mut identity = Identity::new(body.schema_id.clone(), body.traits, now);
    identity.state = body.state.unwrap_or(IdentityState::Active);
    identity.metadata_public = body.metadata_public.filter(|value| !value.is_null());
    identity.metadata_admin = body.metadata_admin.filter(|value| !value.is_null());
    identity.organization_id = body.organization_id;
    identity.external_id = body.external_id;
    if let Some(credentials) = body.credentials {
        import_credentials(state, &mut identity, credentials, now).await?;
    }
    apply_schema(&mut identity, schema, now).map_err(violations_error)?;
    require_password_identifier(&identity)?;
    merge_verification(&mut identity, &body.verifiable_addresses, now);
    Ok(identity)
}

/// Replaces `identity`'s schema, traits, state, metadata, external id and (when given)
/// credentials with `body`'s, checked against the schema.
pub(super) async fn replace(
    state: &AppState,
    identity: &mut Identity,
    body: ReplaceIdentityBody,
) -> ApiResult<()> {
    let now = state.clock.now();
    let schema = state
        .schemas
        .get(&body.schema_id)
        .ok_or_else(|| unknown_schema(&body.schema_id))?;
    identity.schema_id = body.schema_id.clone();
    identity.traits = body.traits;
    let new_state = body.state.unwrap_or(identity.state);
    set_state(identity, new_state, now);
    identity.metadata_public = body.metadata_public.filter(|value| !value.is_null());
    identity.metadata_admin = body.metadata_admin.filter(|value| !value.is_null());
    identity.external_id = body.external_id;
    if let Some(credentials) = body.credentials {
        import_credentials(state, identity, credentials, now).await?;
    }
    apply_schema(identity, schema, now).map_err(violations_error)?;
    require_password_identifier(identity)?;
    identity.updated_at = now;
    Ok(())
}

/// Takes over what a JSON Patch left in `document` (the identity as JSON): schema, traits,
/// state, metadata, external id and the verification state of listed addresses.
pub(super) fn apply_patched(
    state: &AppState,
    identity: &mut Identity,
    document: &Value,
) -> ApiResult<()> {
    let now = state.clock.now();
    let field = |name: &str| document.get(name).cloned().unwrap_or(Value::Null);
    let schema_id = field("schema_id")
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| ApiError::bad_request("schema_id must be a string."))?;
    let schema = state
        .schemas
        .get(&schema_id)
        .ok_or_else(|| unknown_schema(&schema_id))?;
    let new_state = field("state")
        .as_str()
        .and_then(IdentityState::parse)
        .ok_or_else(|| ApiError::bad_request("state must be \"active\" or \"inactive\"."))?;
    let addresses: Vec<AddressImport> = match field("verifiable_addresses") {
        Value::Null => Vec::new(),
        listed => serde_json::from_value(listed)
            .map_err(|error| ApiError::bad_request(format!("verifiable_addresses: {error}")))?,
    };
    identity.schema_id = schema_id;
    identity.traits = field("traits");
    set_state(identity, new_state, now);
    identity.metadata_public = Some(field("metadata_public")).filter(|value| !value.is_null());
    identity.metadata_admin = Some(field("metadata_admin")).filter(|value| !value.is_null());
    identity.external_id = field("external_id").as_str().map(str::to_string);
    apply_schema(identity, schema, now).map_err(violations_error)?;
    merge_verification(identity, &addresses, now);
    identity.updated_at = now;
    Ok(())
}

fn set_state(identity: &mut Identity, new_state: IdentityState, now: OffsetDateTime) {
    if identity.state != new_state {
        identity.state = new_state;
        identity.state_changed_at = Some(now);
    }
}

async fn import_credentials(
    state: &AppState,
    identity: &mut Identity,
    credentials: CredentialsImport,
    now: OffsetDateTime,
) -> ApiResult<()> {
    let Some(password) = credentials.password else {
        return Ok(());
    };
    let config = password.config;
    if config.use_password_migration_hook {
        return Err(ApiError::bad_request(
            "credentials.password.config.use_password_migration_hook is not supported by Ward yet.",
        ));
    }
    let hashed = match (config.password, config.hashed_password) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "credentials.password.config: give either password or hashed_password, not both.",
            ));
        }
        (Some(plain), None) => {
            if plain.is_empty() {
                return Err(ApiError::bad_request(
                    "credentials.password.config.password must not be empty.",
                ));
            }
            state.hasher.hash(Password::new(plain)).await?
        }
        (None, Some(hashed)) => {
            HashFormat::validate(&hashed)?;
            hashed
        }
        (None, None) => {
            return Err(ApiError::bad_request(
                "credentials.password.config needs password or hashed_password.",
            ));
        }
    };
    let credential = credential_entry(identity, CredentialType::Password, now);
    credential.config = json!({ "hashed_password": hashed });
    credential.updated_at = now;
    Ok(())
}

fn require_password_identifier(identity: &Identity) -> ApiResult<()> {
    match identity.credentials.get(&CredentialType::Password) {
        Some(credential)
            if credential.identifiers.is_empty()
                && credential.config.get("hashed_password").is_some() =>
        {
            Err(ApiError::bad_request(
                "The identity has a password but its schema marks no trait as password identifier.",
            ))
        }
        _ => Ok(()),
    }
}

/// Carries the verification state of listed addresses over to the derived ones with the same
/// value.
fn merge_verification(identity: &mut Identity, listed: &[AddressImport], now: OffsetDateTime) {
    for address in &mut identity.verifiable_addresses {
        let Some(import) = listed.iter().find(|import| {
            import.value.trim().to_lowercase() == address.value.to_lowercase()
                && import.via.is_none_or(|via| via == address.via)
        }) else {
            continue;
        };
        if import.verified {
            address.verified_at = Some(address.verified_at.or(import.verified_at).unwrap_or(now));
            address.status = VerificationStatus::Completed;
        } else {
            address.verified_at = None;
            address.status = match import.status {
                Some(VerificationStatus::Completed) | None => VerificationStatus::Pending,
                Some(status) => status,
            };
        }
        address.updated_at = now;
    }
}

/// A malformed id cannot name an identity: 404, as for an unknown one.
pub(super) fn parse_id(id: &str) -> ApiResult<Uuid> {
    Uuid::parse_str(id).map_err(|_| ApiError::not_found())
}

fn unknown_schema(id: &str) -> ApiError {
    ApiError::bad_request(format!("Identity schema `{id}` does not exist."))
}

fn violations_error(violations: Vec<crate::identity::Violation>) -> ApiError {
    let errors: Vec<Value> = violations
        .iter()
        .map(|violation| json!({"instance_ptr": violation.instance_ptr, "reason": violation.message}))
        .collect();
    let summary = violations
        .iter()
        .map(|violation| format!("{}: {}", violation.instance_ptr, violation.message))
        .collect::<Vec<_>>()
        .join("; ");
    ApiError::bad_request(format!(
        "The traits do not match the identity schema: {summary}"
    ))
    .with_details(json!({ "errors": errors }))
}
