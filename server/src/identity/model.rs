//! The identity aggregate and its wire form (reference §5).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum IdentityState {
    Active,
    Inactive,
}

impl IdentityState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Inactive => "inactive",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "active" => Some(Self::Active),
            "inactive" => Some(Self::Inactive),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialType {
    Password,
    Oidc,
    Totp,
    LookupSecret,
    Webauthn,
    Code,
    Passkey,
}

impl CredentialType {
    /// The credentials that are second factors: TOTP, backup codes and security keys, unless
    /// the keys sign in on their own (`webauthn.config.passwordless`, where they are a first
    /// factor, as in Kratos); and with `codes`, the addresses that receive codes.
    pub fn second_factors(keys_are_passwordless: bool, codes: bool) -> &'static [CredentialType] {
        match (keys_are_passwordless, codes) {
            (true, false) => &[Self::Totp, Self::LookupSecret],
            (false, false) => &[Self::Totp, Self::LookupSecret, Self::Webauthn],
            (true, true) => &[Self::Totp, Self::LookupSecret, Self::Code],
            (false, true) => &[Self::Totp, Self::LookupSecret, Self::Webauthn, Self::Code],
        }
    }

    pub const ALL: [CredentialType; 7] = [
        Self::Password,
        Self::Oidc,
        Self::Totp,
        Self::LookupSecret,
        Self::Webauthn,
        Self::Code,
        Self::Passkey,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Password => "password",
            Self::Oidc => "oidc",
            Self::Totp => "totp",
            Self::LookupSecret => "lookup_secret",
            Self::Webauthn => "webauthn",
            Self::Code => "code",
            Self::Passkey => "passkey",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Via {
    Email,
    Sms,
}

impl Via {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Sms => "sms",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "email" => Some(Self::Email),
            "sms" => Some(Self::Sms),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum VerificationStatus {
    Pending,
    Sent,
    Completed,
}

impl VerificationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sent => "sent",
            Self::Completed => "completed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "pending" => Some(Self::Pending),
            "sent" => Some(Self::Sent),
            "completed" => Some(Self::Completed),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct VerifiableAddress {
    pub id: Uuid,
    pub value: String,
    pub via: Via,
    pub status: VerificationStatus,
    pub verified_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl VerifiableAddress {
    pub fn verified(&self) -> bool {
        self.verified_at.is_some()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct RecoveryAddress {
    pub id: Uuid,
    pub value: String,
    pub via: Via,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// One credential of an identity. `config` holds method data such as the password hash, so the
/// type has no `Serialize`: it reaches the wire only through `Identity::to_json` on request.
#[derive(Clone, PartialEq)]
pub struct Credential {
    pub id: Uuid,
    pub kind: CredentialType,
    pub identifiers: Vec<String>,
    pub config: Value,
    pub version: i64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("identifiers", &self.identifiers)
            .field("config", &"[redacted]")
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    pub id: Uuid,
    pub schema_id: String,
    pub state: IdentityState,
    pub state_changed_at: Option<OffsetDateTime>,
    pub traits: Value,
    pub verifiable_addresses: Vec<VerifiableAddress>,
    pub recovery_addresses: Vec<RecoveryAddress>,
    pub metadata_public: Option<Value>,
    pub metadata_admin: Option<Value>,
    pub credentials: BTreeMap<CredentialType, Credential>,
    pub external_id: Option<String>,
    pub organization_id: Option<Uuid>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// Who reads an identity decides which fields it carries.
#[derive(Debug, Clone, Copy, Default)]
pub struct View<'a> {
    /// Admin reads carry `metadata_admin` and the credentials list.
    pub admin: bool,
    /// Credential types whose `config` is included (`include_credential`).
    pub include_credentials: &'a [CredentialType],
}

impl Identity {
    /// Whether a second factor of `kinds` (see [`CredentialType::second_factors`]) is set up,
    /// so that the highest level available to the identity is aal2. Needs the credentials loaded.
    pub fn has_second_factor(&self, kinds: &[CredentialType]) -> bool {
        let configured = |kind: &CredentialType, key: &str| {
            self.credentials
                .get(kind)
                .is_some_and(|credential| match credential.config.get(key) {
                    Some(Value::String(text)) => !text.is_empty(),
                    Some(Value::Array(items)) => !items.is_empty(),
                    _ => false,
                })
        };
        kinds.iter().any(|kind| match kind {
            CredentialType::Totp => configured(kind, "totp_url"),
            CredentialType::LookupSecret => configured(kind, "recovery_codes"),
            CredentialType::Webauthn => configured(kind, "credentials"),
            CredentialType::Code => configured(kind, "addresses"),
            _ => false,
        })
    }

    /// How many ways the identity has to sign in on its own: its password, each social
    /// sign-in link, each passkey and each passwordless security key. The last one cannot be
    /// removed.
    pub fn first_factors(&self) -> usize {
        let list = |kind: CredentialType, key: &str| -> Vec<&Value> {
            self.credentials
                .get(&kind)
                .and_then(|credential| credential.config.get(key))
                .and_then(Value::as_array)
                .map(|items| items.iter().collect())
                .unwrap_or_default()
        };
        let password = self
            .credentials
            .get(&CredentialType::Password)
            .and_then(|credential| credential.config.get("hashed_password"))
            .and_then(Value::as_str)
            .is_some_and(|hash| !hash.is_empty());
        let passwordless = |kind| {
            list(kind, "credentials")
                .into_iter()
                .filter(|key| key.get("is_passwordless") == Some(&Value::Bool(true)))
                .count()
        };
        usize::from(password)
            + list(CredentialType::Oidc, "providers").len()
            + passwordless(CredentialType::Passkey)
            + passwordless(CredentialType::Webauthn)
    }

    /// Whether the identity can sign in on its own with a credential of `kind`: a password
    /// set, a linked upstream account, a passwordless key, an address for codes.
    pub fn signs_in_with(&self, kind: CredentialType) -> bool {
        let Some(config) = self
            .credentials
            .get(&kind)
            .map(|credential| &credential.config)
        else {
            return false;
        };
        let listed = |key: &str| config.get(key).and_then(Value::as_array);
        match kind {
            CredentialType::Password => config
                .get("hashed_password")
                .and_then(Value::as_str)
                .is_some_and(|hash| !hash.is_empty()),
            CredentialType::Oidc => listed("providers").is_some_and(|items| !items.is_empty()),
            CredentialType::Code => listed("addresses").is_some_and(|items| !items.is_empty()),
            CredentialType::Passkey | CredentialType::Webauthn => listed("credentials")
                .is_some_and(|keys| {
                    keys.iter()
                        .any(|key| key.get("is_passwordless") == Some(&Value::Bool(true)))
                }),
            CredentialType::Totp | CredentialType::LookupSecret => false,
        }
    }

    pub fn new(schema_id: String, traits: Value, now: OffsetDateTime) -> Self {
        Self {
            id: Uuid::new_v4(),
            schema_id,
            state: IdentityState::Active,
            state_changed_at: Some(now),
            traits,
            verifiable_addresses: Vec::new(),
            recovery_addresses: Vec::new(),
            metadata_public: None,
            metadata_admin: None,
            credentials: BTreeMap::new(),
            external_id: None,
            organization_id: None,
            created_at: now,
            updated_at: now,
        }
    }

    /// The JSON Kratos returns for an identity; `schema_url` points at the public listener.
    pub fn to_json(&self, schema_url: &str, view: View<'_>) -> Value {
        let mut out = json!({
            "id": self.id,
            "schema_id": self.schema_id,
            "schema_url": schema_url,
            "state": self.state.as_str(),
            "traits": self.traits,
            "verifiable_addresses": self.verifiable_addresses.iter().map(verifiable_json).collect::<Vec<_>>(),
            "recovery_addresses": self.recovery_addresses.iter().map(recovery_json).collect::<Vec<_>>(),
            "metadata_public": self.metadata_public,
            "created_at": timestamp(self.created_at),
            "updated_at": timestamp(self.updated_at),
            "organization_id": self.organization_id,
        });
        if let Some(changed) = self.state_changed_at {
            out["state_changed_at"] = json!(timestamp(changed));
        }
        if let Some(external_id) = &self.external_id {
            out["external_id"] = json!(external_id);
        }
        if view.admin {
            out["metadata_admin"] = json!(self.metadata_admin);
            let credentials: serde_json::Map<String, Value> = self
                .credentials
                .values()
                .map(|credential| {
                    let mut entry = json!({
                        "type": credential.kind.as_str(),
                        "identifiers": credential.identifiers,
                        "version": credential.version,
                        "created_at": timestamp(credential.created_at),
                        "updated_at": timestamp(credential.updated_at),
                    });
                    if view.include_credentials.contains(&credential.kind) {
                        entry["config"] = credential.config.clone();
                    }
                    (credential.kind.as_str().to_string(), entry)
                })
                .collect();
            out["credentials"] = Value::Object(credentials);
        }
        out
    }
}

fn verifiable_json(address: &VerifiableAddress) -> Value {
    let mut out = json!({
        "id": address.id,
        "value": address.value,
        "verified": address.verified(),
        "via": address.via.as_str(),
        "status": address.status.as_str(),
        "created_at": timestamp(address.created_at),
        "updated_at": timestamp(address.updated_at),
    });
    if let Some(verified_at) = address.verified_at {
        out["verified_at"] = json!(timestamp(verified_at));
    }
    out
}

fn recovery_json(address: &RecoveryAddress) -> Value {
    json!({
        "id": address.id,
        "value": address.value,
        "via": address.via.as_str(),
        "created_at": timestamp(address.created_at),
        "updated_at": timestamp(address.updated_at),
    })
}

/// RFC 3339 in UTC, as Kratos writes times.
pub fn timestamp(at: OffsetDateTime) -> String {
    at.to_offset(time::UtcOffset::UTC)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
