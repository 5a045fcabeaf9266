//! Identities: the model, identity schemas, and how traits become identifiers and addresses.

mod model;
pub mod schema;

use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

pub use model::{
    Credential, CredentialType, Identity, IdentityState, RecoveryAddress, VerifiableAddress,
    VerificationStatus, Via, View, timestamp,
};
pub use schema::{IdentitySchema, SchemaRegistry, Violation};

/// Validates the identity's traits against its schema and brings everything the schema
/// derives from traits up to date: credential identifiers (password, code, webauthn) and the
/// verifiable and recovery addresses. Existing addresses keep their id and verification state.
pub fn apply_schema(
    identity: &mut Identity,
    schema: &IdentitySchema,
    now: OffsetDateTime,
) -> Result<(), Vec<Violation>> {
    schema.validate_traits(&identity.traits)?;
    let traits = identity.traits.clone();

    let password: Vec<String> = schema
        .values_where(&traits, |extension| extension.password_identifier)
        .into_iter()
        .map(|(value, _)| value)
        .collect();
    // Like Kratos, a schema with password identifiers gives every identity a password
    // credential entry, even before a password is set.
    if !password.is_empty() || identity.credentials.contains_key(&CredentialType::Password) {
        credential_entry(identity, CredentialType::Password, now).identifiers = password;
    }

    let code = schema.values_where(&traits, |extension| extension.code_identifier.is_some());
    if !code.is_empty() || identity.credentials.contains_key(&CredentialType::Code) {
        let addresses: Vec<Value> = code
            .iter()
            .map(|(value, extension)| {
                let via = extension.code_identifier.unwrap_or(Via::Email);
                json!({"channel": via.as_str(), "address": value})
            })
            .collect();
        let credential = credential_entry(identity, CredentialType::Code, now);
        credential.identifiers = code.into_iter().map(|(value, _)| value).collect();
        credential.config = json!({ "addresses": addresses });
    }

    if let Some(credential) = identity.credentials.get_mut(&CredentialType::Webauthn) {
        credential.identifiers = schema
            .values_where(&traits, |extension| extension.webauthn_identifier)
            .into_iter()
            .map(|(value, _)| value)
            .collect();
    }

    let verifiable = schema.values_where(&traits, |extension| extension.verification_via.is_some());
    let previous = std::mem::take(&mut identity.verifiable_addresses);
    identity.verifiable_addresses = verifiable
        .into_iter()
        .map(|(value, extension)| {
            let via = extension.verification_via.unwrap_or(Via::Email);
            previous
                .iter()
                .find(|address| address.value == value && address.via == via)
                .cloned()
                .unwrap_or_else(|| VerifiableAddress {
                    id: Uuid::new_v4(),
                    value,
                    via,
                    status: VerificationStatus::Pending,
                    verified_at: None,
                    created_at: now,
                    updated_at: now,
                })
        })
        .collect();

    let recovery = schema.values_where(&traits, |extension| extension.recovery_via.is_some());
    let previous = std::mem::take(&mut identity.recovery_addresses);
    identity.recovery_addresses = recovery
        .into_iter()
        .map(|(value, extension)| {
            let via = extension.recovery_via.unwrap_or(Via::Email);
            previous
                .iter()
                .find(|address| address.value == value && address.via == via)
                .cloned()
                .unwrap_or_else(|| RecoveryAddress {
                    id: Uuid::new_v4(),
                    value,
                    via,
                    created_at: now,
                    updated_at: now,
                })
        })
        .collect();
    Ok(())
}

/// The identity's credential of `kind`, created empty if missing.
pub fn credential_entry(
    identity: &mut Identity,
    kind: CredentialType,
    now: OffsetDateTime,
) -> &mut Credential {
    identity
        .credentials
        .entry(kind)
        .or_insert_with(|| Credential {
            id: Uuid::new_v4(),
            kind,
            identifiers: Vec::new(),
            config: json!({}),
            version: 0,
            created_at: now,
            updated_at: now,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> IdentitySchema {
        IdentitySchema::compile("default", serde_json::from_str(schema::DEV_SCHEMA).unwrap())
            .unwrap()
    }

    #[test]
    fn traits_become_identifiers_and_addresses() {
        let now = OffsetDateTime::now_utc();
        let mut identity =
            Identity::new("default".into(), json!({"email": "Ada@Example.com"}), now);
        apply_schema(&mut identity, &schema(), now).unwrap();
        let password = &identity.credentials[&CredentialType::Password];
        assert_eq!(password.identifiers, vec!["ada@example.com"]);
        let code = &identity.credentials[&CredentialType::Code];
        assert_eq!(
            code.config,
            json!({"addresses": [{"channel": "email", "address": "ada@example.com"}]})
        );
        assert_eq!(identity.verifiable_addresses.len(), 1);
        assert_eq!(
            identity.verifiable_addresses[0].status,
            VerificationStatus::Pending
        );
        assert_eq!(identity.recovery_addresses[0].value, "ada@example.com");
        assert!(!identity.credentials.contains_key(&CredentialType::Webauthn));
    }

    #[test]
    fn unchanged_addresses_keep_their_state() {
        let now = OffsetDateTime::now_utc();
        let mut identity =
            Identity::new("default".into(), json!({"email": "ada@example.com"}), now);
        apply_schema(&mut identity, &schema(), now).unwrap();
        identity.verifiable_addresses[0].verified_at = Some(now);
        identity.verifiable_addresses[0].status = VerificationStatus::Completed;
        let id = identity.verifiable_addresses[0].id;

        identity.traits["name"] = json!({"first": "Ada"});
        apply_schema(&mut identity, &schema(), now).unwrap();
        assert_eq!(identity.verifiable_addresses[0].id, id);
        assert!(identity.verifiable_addresses[0].verified());

        identity.traits["email"] = json!("grace@example.com");
        apply_schema(&mut identity, &schema(), now).unwrap();
        assert_ne!(identity.verifiable_addresses[0].id, id);
        assert!(!identity.verifiable_addresses[0].verified());
        assert_eq!(
            identity.credentials[&CredentialType::Password].identifiers,
            vec!["grace@example.com"]
        );
    }
}
