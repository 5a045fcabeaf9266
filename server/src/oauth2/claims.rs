//! What tokens say about the user: `sub` is the identity id; the `email`, `profile` and `phone`
//! scopes add the matching claims from the identity's traits and addresses, in the id_token
//! (many relying parties read only that) and at userinfo.

use chrono::{DateTime, Utc};
use openidconnect::core::{
    CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
};
use openidconnect::{
    AccessToken, AdditionalClaims, Audience, AuthenticationContextClass,
    AuthenticationMethodReference, EndUserEmail, EndUserFamilyName, EndUserGivenName, EndUserName,
    EndUserPhoneNumber, EndUserUsername, IdToken, IdTokenClaims, IssuerUrl, Nonce, StandardClaims,
    SubjectIdentifier,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::error::{OAuthError, OAuthResult};
use super::grant::{Details, has_scope};
use super::keys::{self, ID_TOKEN_SET};
use crate::identity::Identity;
use crate::state::AppState;
use crate::store::Grant;

/// Claims beyond the standard ones: the Ward session the user authorized in, and what the
/// claims mapper adds.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct WardClaims {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    #[serde(flatten)]
    pub custom: Map<String, Value>,
}

impl AdditionalClaims for WardClaims {}

/// Claims a mapper cannot set: those of the protocol, and the standard ones the scopes give.
const RESERVED: [&str; 35] = [
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "nbf",
    "jti",
    "auth_time",
    "nonce",
    "acr",
    "amr",
    "azp",
    "at_hash",
    "c_hash",
    "sid",
    "rat",
    "name",
    "given_name",
    "family_name",
    "middle_name",
    "nickname",
    "preferred_username",
    "profile",
    "picture",
    "website",
    "email",
    "email_verified",
    "gender",
    "birthdate",
    "zoneinfo",
    "locale",
    "phone_number",
    "phone_number_verified",
    "address",
    "updated_at",
];

/// The custom claims of `oauth2_server.claims_mapper_url` for this identity, client and scope:
/// the mapper gets `std.extVar('ctx')` = `{identity: {id, schema_id, traits, metadata_public},
/// client_id, scopes}` and returns an object; reserved claim names in it are ignored.
pub async fn custom_claims(
    state: &AppState,
    identity: &Identity,
    client_id: &str,
    scope: &str,
) -> OAuthResult<Map<String, Value>> {
    let Some(mapper) = &state.claims_mapper else {
        return Ok(Map::new());
    };
    let ctx = json!({
        "identity": {
            "id": identity.id,
            "schema_id": identity.schema_id,
            "traits": identity.traits,
            "metadata_public": identity.metadata_public,
        },
        "client_id": client_id,
        "scopes": scope.split_whitespace().collect::<Vec<_>>(),
    });
    let mapped = mapper.evaluate(vec![("ctx", ctx)]).await.map_err(|error| {
        tracing::error!(%error, client = client_id, "the claims mapper failed");
        OAuthError::server_error()
    })?;
    let Value::Object(mut claims) = mapped else {
        tracing::error!(
            client = client_id,
            "the claims mapper must return an object"
        );
        return Err(OAuthError::server_error());
    };
    claims.retain(|name, _| !RESERVED.contains(&name.as_str()));
    Ok(claims)
}

pub type WardIdToken = IdToken<
    WardClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

fn text_at<'a>(traits: &'a Value, pointers: &[&str]) -> Option<&'a str> {
    pointers
        .iter()
        .find_map(|pointer| traits.pointer(pointer).and_then(Value::as_str))
        .filter(|text| !text.is_empty())
}

/// The standard claims `scope` allows, from `identity`.
pub fn standard_claims(identity: &Identity, scope: &str) -> StandardClaims<CoreGenderClaim> {
    let mut claims = StandardClaims::new(SubjectIdentifier::new(identity.id.to_string()));
    let traits = &identity.traits;
    if has_scope(scope, "email") {
        let address = identity
            .verifiable_addresses
            .iter()
            .find(|address| address.via == crate::identity::Via::Email);
        let email = address
            .map(|address| address.value.as_str())
            .or_else(|| text_at(traits, &["/email"]));
        if let Some(email) = email {
            claims = claims
                .set_email(Some(EndUserEmail::new(email.to_string())))
                .set_email_verified(Some(address.is_some_and(|address| address.verified())));
        }
    }
    if has_scope(scope, "profile") {
        let given = text_at(traits, &["/name/first", "/first_name", "/given_name"]);
        let family = text_at(traits, &["/name/last", "/last_name", "/family_name"]);
        let full = text_at(traits, &["/name"]).map(str::to_string).or_else(|| {
            let parts: Vec<&str> = [given, family].into_iter().flatten().collect();
            (!parts.is_empty()).then(|| parts.join(" "))
        });
        claims = claims
            .set_name(full.map(|name| EndUserName::new(name).into()))
            .set_given_name(given.map(|name| EndUserGivenName::new(name.to_string()).into()))
            .set_family_name(family.map(|name| EndUserFamilyName::new(name.to_string()).into()))
            .set_preferred_username(
                text_at(traits, &["/username"]).map(|name| EndUserUsername::new(name.to_string())),
            )
            .set_updated_at(DateTime::<Utc>::from_timestamp(
                identity.updated_at.unix_timestamp(),
                0,
            ));
    }
    if has_scope(scope, "phone")
        && let Some(phone) = text_at(traits, &["/phone", "/phone_number"])
    {
        claims = claims.set_phone_number(Some(EndUserPhoneNumber::new(phone.to_string())));
    }
    claims
}

fn at(seconds: i64) -> OAuthResult<DateTime<Utc>> {
    DateTime::<Utc>::from_timestamp(seconds, 0).ok_or_else(OAuthError::server_error)
}

/// The identity a grant is for (the subject of a user's grant is its identity id).
pub async fn identity_of(state: &AppState, grant: &Grant) -> OAuthResult<Option<Identity>> {
    let Ok(id) = uuid::Uuid::parse_str(&grant.subject) else {
        return Ok(None);
    };
    match state.identities.get_identity(id).await {
        Ok(identity) => Ok(Some(identity)),
        Err(crate::store::StoreError::NotFound) => Ok(None),
        Err(error) => Err(error.into()),
    }
}

/// What tokens say about the user under a grant's scope: the standard claims and the mapper's.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserClaims {
    pub standard: StandardClaims<CoreGenderClaim>,
    #[serde(default)]
    pub custom: Map<String, Value>,
}

/// The claims `identity` gives `client_id` under `scope`.
pub async fn user_claims(
    state: &AppState,
    identity: &Identity,
    client_id: &str,
    scope: &str,
) -> OAuthResult<UserClaims> {
    Ok(UserClaims {
        standard: standard_claims(identity, scope),
        custom: custom_claims(state, identity, client_id, scope).await?,
    })
}

/// A signed id_token for `grant` with `user`'s claims, its `at_hash` bound to `access_token`.
pub async fn id_token(
    state: &AppState,
    grant: &Grant,
    details: &Details,
    user: UserClaims,
    access_token: &str,
) -> OAuthResult<String> {
    let now = state.clock.now().unix_timestamp();
    let lifespan = state.config.oauth2_server.ttl.id_token.as_secs();
    let issuer =
        IssuerUrl::new(super::issuer(state).to_string()).map_err(|_| OAuthError::server_error())?;
    let mut claims = IdTokenClaims::new(
        issuer,
        vec![Audience::new(grant.client_id.clone())],
        at(now + i64::try_from(lifespan).unwrap_or(i64::MAX / 2))?,
        at(now)?,
        user.standard,
        WardClaims {
            sid: grant.session_id.map(|id| id.to_string()),
            custom: user.custom,
        },
    )
    .set_nonce(details.nonce.clone().map(Nonce::new))
    .set_auth_context_ref(details.acr.clone().map(AuthenticationContextClass::new));
    if let Some(auth_time) = details.auth_time {
        claims = claims.set_auth_time(Some(at(auth_time)?));
    }
    if !details.amr.is_empty() {
        claims = claims.set_auth_method_refs(Some(
            details
                .amr
                .iter()
                .cloned()
                .map(AuthenticationMethodReference::new)
                .collect(),
        ));
    }
    let signer = keys::signer(state, ID_TOKEN_SET).await?;
    let token = WardIdToken::new(
        claims,
        &signer.key,
        signer.algorithm(),
        Some(&AccessToken::new(access_token.to_string())),
        None,
    )
    .map_err(|error| {
        tracing::error!(%error, "could not sign an id_token");
        OAuthError::server_error()
    })?;
    Ok(token.to_string())
}

/// The userinfo answer: `sub`, the claims the grant's scopes allow and the mapper's.
pub async fn userinfo(state: &AppState, identity: &Identity, grant: &Grant) -> OAuthResult<Value> {
    let custom = WardClaims {
        sid: None,
        custom: custom_claims(state, identity, &grant.client_id, &grant.scope).await?,
    };
    let claims = openidconnect::UserInfoClaims::<WardClaims, CoreGenderClaim>::new(
        standard_claims(identity, &grant.scope),
        custom,
    );
    serde_json::to_value(claims).map_err(|_| OAuthError::server_error())
}
