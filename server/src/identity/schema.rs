//! Identity schemas: loading (`file://`, `base64://`), validation with `jsonschema`, and the
//! `ory.sh/kratos` extension that marks traits as identifiers and addresses.

use base64::Engine;
use serde_json::{Value, json};

use app::model::UiText;

use super::model::Via;
use crate::config::SchemaRef;

/// The schema `ward serve --dev` uses when none is configured: e-mail as password and code
/// identifier, verified and recovered by e-mail, optional first and last name.
pub const DEV_SCHEMA: &str = include_str!("default.schema.json");

#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("identity schema `{id}`: {message}")]
    Load { id: String, message: String },
    #[error("identity.default_schema_id `{0}` names no configured schema")]
    UnknownDefault(String),
}

/// What the `ory.sh/kratos` extension says about one trait.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TraitExtension {
    /// JSON pointer of the trait inside `traits`, e.g. `/email` or `/name/first`.
    pub pointer: String,
    pub format: Option<String>,
    pub password_identifier: bool,
    pub webauthn_identifier: bool,
    pub totp_account_name: bool,
    pub code_identifier: Option<Via>,
    pub verification_via: Option<Via>,
    pub recovery_via: Option<Via>,
}

impl TraitExtension {
    /// A phone number: formatted as one, or delivered to by SMS.
    pub fn is_phone(&self) -> bool {
        self.format.as_deref() == Some("tel")
            || [
                self.code_identifier,
                self.verification_via,
                self.recovery_via,
            ]
            .contains(&Some(Via::Sms))
    }

    /// An e-mail address: formatted as one, or delivered to by e-mail.
    pub fn is_email(&self) -> bool {
        self.format.as_deref() == Some("email")
            || [
                self.code_identifier,
                self.verification_via,
                self.recovery_via,
            ]
            .contains(&Some(Via::Email))
    }
}

pub struct IdentitySchema {
    pub id: String,
    pub raw: Value,
    validator: jsonschema::Validator,
    pub extensions: Vec<TraitExtension>,
    pub fields: Vec<TraitField>,
}

/// One reason a document failed validation, located by JSON pointer.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    pub instance_ptr: String,
    pub message: String,
    /// The form field it belongs to (`traits.email`), or `None` for the whole form.
    pub field: Option<String>,
    /// The same reason as a flow message with its id (reference §4).
    pub ui: UiText,
}

/// A leaf trait as a form field, in schema order.
#[derive(Debug, Clone, PartialEq)]
pub struct TraitField {
    /// `traits.<dot.path>`
    pub name: String,
    pub json_type: String,
    pub format: Option<String>,
    pub title: Option<String>,
    pub required: bool,
    pub pattern: Option<String>,
    pub max_length: Option<u32>,
    pub options: Vec<Value>,
    pub disabled: bool,
}

impl IdentitySchema {
    pub fn compile(id: &str, raw: Value) -> Result<Self, SchemaError> {
        let load_error = |message: String| SchemaError::Load {
            id: id.to_string(),
            message,
        };
        let validator = jsonschema::options()
            .should_validate_formats(true)
            .build(&raw)
            .map_err(|error| load_error(format!("does not compile: {error}")))?;
        let traits = raw
            .pointer("/properties/traits")
            .ok_or_else(|| load_error("has no `properties.traits` object".into()))?;
        let mut extensions = Vec::new();
        collect_extensions(&raw, traits, String::new(), &mut extensions).map_err(load_error)?;
        let mut fields = Vec::new();
        collect_fields(&raw, traits, "traits", false, &mut fields).map_err(load_error)?;
        Ok(Self {
            id: id.to_string(),
            raw,
            validator,
            extensions,
            fields,
        })
    }

    /// Validates a whole identity document `{"traits": ...}`; every violation is listed.
    pub fn validate_traits(&self, traits: &Value) -> Result<(), Vec<Violation>> {
        let document = json!({ "traits": traits });
        let violations: Vec<Violation> = self
            .validator
            .iter_errors(&document)
            .map(|error| violation(&error))
            .collect();
        if violations.is_empty() {
            Ok(())
        } else {
            Err(violations)
        }
    }

    /// The values of traits marked with `select`, normalised, in schema order. Array traits
    /// contribute each element.
    pub fn values_where(
        &self,
        traits: &Value,
        select: impl Fn(&TraitExtension) -> bool,
    ) -> Vec<(String, &TraitExtension)> {
        let mut out: Vec<(String, &TraitExtension)> = Vec::new();
        for extension in self.extensions.iter().filter(|extension| select(extension)) {
            let values = match traits.pointer(&extension.pointer) {
                Some(Value::String(text)) => vec![text.as_str()],
                Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            for value in values {
                let normalized = if extension.is_phone() {
                    normalize_phone(value)
                } else {
                    normalize(value, extension.is_email())
                };
                if !normalized.is_empty() && !out.iter().any(|(seen, _)| *seen == normalized) {
                    out.push((normalized, extension));
                }
            }
        }
        out
    }
}

/// Trim, and lower-case e-mail addresses (Kratos's identifier normalisation).
pub fn normalize(value: &str, is_email: bool) -> String {
    let trimmed = value.trim();
    if is_email {
        trimmed.to_lowercase()
    } else {
        trimmed.to_string()
    }
}

/// A phone number in E.164 (`+4915112345678`) when it parses as one, else as typed (trimmed).
pub fn normalize_phone(value: &str) -> String {
    let trimmed = value.trim();
    match phonenumber::parse(None, trimmed) {
        Ok(number) if phonenumber::is_valid(&number) => {
            number.format().mode(phonenumber::Mode::E164).to_string()
        }
        _ => trimmed.to_string(),
    }
}

fn violation(error: &jsonschema::ValidationError<'_>) -> Violation {
    use jsonschema::error::ValidationErrorKind as Kind;
    let pointer = error.instance_path().as_str().to_string();
    let instance: &Value = error.instance();
    let length = |value: &Value| value.as_str().map_or(0, |text| text.chars().count());
    let (field, id, context) = match error.kind() {
        Kind::Required { property } => {
            let property = property.as_str().unwrap_or_default();
            let escaped = property.replace('~', "~0").replace('/', "~1");
            (
                field_of(&format!("{pointer}/{escaped}")),
                4000002,
                json!({"property": property}),
            )
        }
        Kind::MinLength { limit } => (
            field_of(&pointer),
            4000003,
            json!({"min_length": limit, "actual_length": length(instance)}),
        ),
        Kind::MaxLength { limit } => (
            field_of(&pointer),
            4000017,
            json!({"max_length": limit, "actual_length": length(instance)}),
        ),
        Kind::Pattern { pattern } => (field_of(&pointer), 4000004, json!({"pattern": pattern})),
        Kind::Format { format } if format == "email" => {
            (field_of(&pointer), 4000040, json!({"value": instance}))
        }
        Kind::Minimum { limit } => (
            field_of(&pointer),
            4000018,
            json!({"minimum": limit, "actual": instance}),
        ),
        Kind::Maximum { limit } => (
            field_of(&pointer),
            4000020,
            json!({"maximum": limit, "actual": instance}),
        ),
        Kind::Type { kind } => (
            field_of(&pointer),
            4000026,
            json!({"allowed_types": format!("{kind:?}").to_lowercase(), "actual_type": json_type(instance)}),
        ),
        _ => (
            field_of(&pointer),
            4000001,
            json!({"reason": error.to_string()}),
        ),
    };
    Violation {
        instance_ptr: format!("#{pointer}"),
        message: error.to_string(),
        ui: UiText::new(id, context),
        field,
    }
}

/// `/traits/name/first` -> `traits.name.first`; the document root has no field.
fn field_of(pointer: &str) -> Option<String> {
    let path: Vec<String> = pointer
        .split('/')
        .skip(1)
        .map(|segment| segment.replace("~1", "/").replace("~0", "~"))
        .collect();
    (!path.is_empty()).then(|| path.join("."))
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Leaf properties below `traits` as form fields, in schema order.
fn collect_fields(
    root: &Value,
    node: &Value,
    name: &str,
    required: bool,
    out: &mut Vec<TraitField>,
) -> Result<(), String> {
    let node = resolve_local_ref(root, node)?;
    if let Some(properties) = node.get("properties").and_then(Value::as_object) {
        let required_names: Vec<&str> = node
            .get("required")
            .and_then(Value::as_array)
            .map(|names| names.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        for (child_name, child) in properties {
            let is_required = required_names.contains(&child_name.as_str());
            collect_fields(
                root,
                child,
                &format!("{name}.{child_name}"),
                is_required,
                out,
            )?;
        }
        return Ok(());
    }
    let text = |key: &str| node.get(key).and_then(Value::as_str).map(str::to_string);
    out.push(TraitField {
        name: name.to_string(),
        json_type: text("type").unwrap_or_else(|| "string".into()),
        format: text("format"),
        title: text("title"),
        required,
        pattern: text("pattern"),
        max_length: node
            .get("maxLength")
            .and_then(Value::as_u64)
            .and_then(|max| u32::try_from(max).ok()),
        options: node
            .get("enum")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
        disabled: node
            .get("disableFormField")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    });
    Ok(())
}

fn collect_extensions(
    root: &Value,
    node: &Value,
    pointer: String,
    out: &mut Vec<TraitExtension>,
) -> Result<(), String> {
    let node = resolve_local_ref(root, node)?;
    if let Some(properties) = node.get("properties").and_then(Value::as_object) {
        for (name, child) in properties {
            let escaped = name.replace('~', "~0").replace('/', "~1");
            collect_extensions(root, child, format!("{pointer}/{escaped}"), out)?;
        }
        return Ok(());
    }
    let items = node
        .get("items")
        .map(|items| resolve_local_ref(root, items))
        .transpose()?;
    let leaf = items.unwrap_or(node);
    if let Some(extension) = leaf
        .get("ory.sh/kratos")
        .or_else(|| node.get("ory.sh/kratos"))
    {
        out.push(parse_extension(pointer, leaf, extension)?);
    }
    Ok(())
}

fn resolve_local_ref<'a>(root: &'a Value, node: &'a Value) -> Result<&'a Value, String> {
    match node.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let pointer = reference
                .strip_prefix('#')
                .ok_or_else(|| format!("only local `$ref`s are supported, found {reference:?}"))?;
            root.pointer(pointer)
                .ok_or_else(|| format!("`$ref` {reference:?} points nowhere"))
        }
        None => Ok(node),
    }
}

fn parse_extension(
    pointer: String,
    leaf: &Value,
    extension: &Value,
) -> Result<TraitExtension, String> {
    let flag = |path: &str| {
        extension
            .pointer(path)
            .and_then(Value::as_bool)
            .unwrap_or(false)
    };
    let via = |path: &str| -> Result<Option<Via>, String> {
        match extension.pointer(path) {
            None => Ok(None),
            Some(Value::String(text)) => Via::parse(text).map(Some).ok_or_else(|| {
                format!("trait {pointer}: `{path}` must be \"email\" or \"sms\", got {text:?}")
            }),
            Some(other) => Err(format!(
                "trait {pointer}: `{path}` must be a string, got {other}"
            )),
        }
    };
    let code_identifier = if flag("/credentials/code/identifier") {
        Some(via("/credentials/code/via")?.unwrap_or(Via::Email))
    } else {
        None
    };
    Ok(TraitExtension {
        format: leaf
            .get("format")
            .and_then(Value::as_str)
            .map(str::to_string),
        password_identifier: flag("/credentials/password/identifier"),
        webauthn_identifier: flag("/credentials/webauthn/identifier"),
        totp_account_name: flag("/credentials/totp/account_name"),
        code_identifier,
        verification_via: via("/verification/via")?,
        recovery_via: via("/recovery/via")?,
        pointer,
    })
}

/// All configured schemas, in configuration order.
pub struct SchemaRegistry {
    default_id: String,
    schemas: Vec<IdentitySchema>,
}

impl SchemaRegistry {
    /// Loads every configured schema; relative `file://` paths are relative to the working
    /// directory, as in Kratos. With no schemas configured (only allowed in dev), the built-in one.
    pub fn load(refs: &[SchemaRef], default_id: &str) -> Result<Self, SchemaError> {
        let mut schemas = Vec::new();
        if refs.is_empty() {
            let raw = parse_json("default", DEV_SCHEMA.as_bytes())?;
            schemas.push(IdentitySchema::compile("default", raw)?);
        }
        for schema_ref in refs {
            let bytes = fetch(schema_ref)?;
            let raw = parse_json(&schema_ref.id, &bytes)?;
            schemas.push(IdentitySchema::compile(&schema_ref.id, raw)?);
        }
        if !schemas.iter().any(|schema| schema.id == default_id) {
            return Err(SchemaError::UnknownDefault(default_id.to_string()));
        }
        Ok(Self {
            default_id: default_id.to_string(),
            schemas,
        })
    }

    pub fn default_id(&self) -> &str {
        &self.default_id
    }

    pub fn get(&self, id: &str) -> Option<&IdentitySchema> {
        self.schemas.iter().find(|schema| schema.id == id)
    }

    pub fn all(&self) -> &[IdentitySchema] {
        &self.schemas
    }

    /// Looks a schema up by its plain id or by the unpadded base64url form used in URLs.
    pub fn find_by_url_id(&self, id: &str) -> Option<&IdentitySchema> {
        self.get(id).or_else(|| {
            let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(id)
                .ok()?;
            self.get(std::str::from_utf8(&decoded).ok()?)
        })
    }
}

/// `<public>/schemas/<unpadded base64url(id)>`.
pub fn schema_url(public_base: &url::Url, schema_id: &str) -> String {
    let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(schema_id);
    public_base
        .join(&format!("schemas/{encoded}"))
        .map(String::from)
        .unwrap_or_default()
}

fn fetch(schema_ref: &SchemaRef) -> Result<Vec<u8>, SchemaError> {
    let load_error = |message: String| SchemaError::Load {
        id: schema_ref.id.clone(),
        message,
    };
    match crate::config::read_local_url(&schema_ref.url) {
        Some(bytes) => bytes.map_err(load_error),
        None => Err(load_error(format!(
            "url {:?} is not supported; use file:// or base64://",
            schema_ref.url
        ))),
    }
}

fn parse_json(id: &str, bytes: &[u8]) -> Result<Value, SchemaError> {
    serde_json::from_slice(bytes).map_err(|error| SchemaError::Load {
        id: id.to_string(),
        message: format!("is not valid JSON: {error}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev_schema() -> IdentitySchema {
        IdentitySchema::compile("default", serde_json::from_str(DEV_SCHEMA).unwrap()).unwrap()
    }

    #[test]
    fn dev_schema_marks_email() {
        let schema = dev_schema();
        let email = schema
            .extensions
            .iter()
            .find(|e| e.pointer == "/email")
            .unwrap();
        assert!(email.password_identifier);
        assert_eq!(email.code_identifier, Some(Via::Email));
        assert_eq!(email.verification_via, Some(Via::Email));
        assert_eq!(email.recovery_via, Some(Via::Email));
        assert_eq!(email.format.as_deref(), Some("email"));
    }

    #[test]
    fn identifiers_are_normalised() {
        let schema = dev_schema();
        let traits = json!({"email": "  Ada@Example.COM "});
        let values = schema.values_where(&traits, |e| e.password_identifier);
        assert_eq!(values.len(), 1);
        assert_eq!(values[0].0, "ada@example.com");
    }

    #[test]
    fn violations_name_pointers() {
        let schema = dev_schema();
        let violations = schema
            .validate_traits(&json!({"email": "not-an-email", "name": {"first": 5}}))
            .unwrap_err();
        let pointers: Vec<&str> = violations.iter().map(|v| v.instance_ptr.as_str()).collect();
        assert!(pointers.contains(&"#/traits/email"), "{pointers:?}");
        assert!(pointers.contains(&"#/traits/name/first"), "{pointers:?}");
        assert!(schema.validate_traits(&json!({"email": "a@b.co"})).is_ok());
        let missing = schema.validate_traits(&json!({})).unwrap_err();
        assert_eq!(missing[0].instance_ptr, "#/traits");
    }

    #[test]
    fn nested_refs_and_arrays_are_walked() {
        let raw = json!({
            "definitions": {"mail": {"type": "string", "format": "email", "ory.sh/kratos": {"recovery": {"via": "email"}}}},
            "type": "object",
            "properties": {"traits": {"type": "object", "properties": {
                "emails": {"type": "array", "items": {"$ref": "#/definitions/mail"}},
                "user": {"type": "object", "properties": {"name": {"type": "string", "ory.sh/kratos": {"credentials": {"password": {"identifier": true}}}}}}
            }}}
        });
        let schema = IdentitySchema::compile("x", raw).unwrap();
        let traits = json!({"emails": ["A@x.io", "b@x.io", "a@x.io"], "user": {"name": "Ada"}});
        let recovery: Vec<String> = schema
            .values_where(&traits, |e| e.recovery_via.is_some())
            .into_iter()
            .map(|v| v.0)
            .collect();
        assert_eq!(recovery, vec!["a@x.io", "b@x.io"]);
        let ids: Vec<String> = schema
            .values_where(&traits, |e| e.password_identifier)
            .into_iter()
            .map(|v| v.0)
            .collect();
        assert_eq!(ids, vec!["Ada"]);
    }

    #[test]
    fn bad_schemas_fail_clearly() {
        let error = IdentitySchema::compile("x", json!({"type": 12}))
            .err()
            .unwrap()
            .to_string();
        assert!(
            error.contains("`x`") && error.contains("compile"),
            "{error}"
        );
        let error = IdentitySchema::compile("x", json!({"type": "object"}))
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("traits"), "{error}");
        let bad_via = json!({"properties": {"traits": {"properties": {"e": {"type": "string", "ory.sh/kratos": {"verification": {"via": "pigeon"}}}}}}});
        let error = IdentitySchema::compile("x", bad_via)
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("pigeon"), "{error}");
    }

    #[test]
    fn registry_finds_base64_ids() {
        let registry = SchemaRegistry::load(&[], "default").unwrap();
        assert!(registry.find_by_url_id("default").is_some());
        assert!(registry.find_by_url_id("ZGVmYXVsdA").is_some());
        assert!(registry.find_by_url_id("nope").is_none());
        assert!(matches!(
            SchemaRegistry::load(&[], "other"),
            Err(SchemaError::UnknownDefault(_))
        ));
    }
}
