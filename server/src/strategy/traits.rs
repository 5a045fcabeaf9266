//! Traits as form fields: nodes from the identity schema, and submitted values typed by it.

use app::model::{InputAttributes, NodeGroup, UiNode, UiText};
use serde_json::{Value, json};

use crate::flow::{Flow, FlowResult};
use crate::identity::schema::TraitField;
use crate::identity::{Identity, IdentitySchema, apply_schema};
use crate::state::AppState;
use crate::store::StoreError;

/// One input per leaf trait, in schema order: type from the JSON type and format, `required`,
/// `pattern` and options copied, the title as label (message 1070002).
pub fn trait_nodes(schema: &IdentitySchema, group: NodeGroup) -> Vec<UiNode> {
    schema
        .fields
        .iter()
        .map(|field| {
            let (input_type, autocomplete) = input_type(field);
            let mut attributes = InputAttributes::new(field.name.clone(), input_type);
            attributes.required = field.required;
            attributes.pattern = field.pattern.clone();
            attributes.maxlength = field.max_length;
            attributes.disabled = field.disabled;
            attributes.autocomplete = autocomplete.map(str::to_string);
            let label = field
                .title
                .as_ref()
                .map(|title| UiText::new(1070002, json!({"title": title, "name": field.name})));
            UiNode::input(group, attributes, label)
        })
        .collect()
}

/// The traits for a registration form that more than one method can submit: as in Kratos, they
/// are in the `default` group then (UIs made for Kratos render one form per group, plus the
/// default nodes), whichever method put them there first.
pub fn shared_trait_nodes(schema: &IdentitySchema, flow: &mut crate::flow::Flow) {
    let is_trait = |node: &UiNode| {
        matches!(&node.attributes, app::model::NodeAttributes::Input(input)
            if input.name.starts_with("traits."))
    };
    if flow.ui.nodes.iter().any(is_trait) {
        for node in flow.ui.nodes.iter_mut().filter(|node| is_trait(node)) {
            node.group = NodeGroup::Default;
        }
    } else {
        let traits = trait_nodes(schema, NodeGroup::Default);
        flow.ui.nodes.splice(0..0, traits);
    }
}

/// The identity a registration form describes: its traits, typed and checked against the
/// default schema, with the identifiers the schema marks. The flag says whether the traits are
/// valid; where not, each violation is on its field of the form.
pub fn registering_identity(
    state: &AppState,
    flow: &mut Flow,
    form: &Value,
) -> FlowResult<(Identity, bool)> {
    let schema_id = state.schemas.default_id().to_string();
    let Some(schema) = state.schemas.get(&schema_id) else {
        return Err(StoreError::Corrupt(format!("default schema {schema_id} is missing")).into());
    };
    let traits = typed_traits(schema, form.get("traits").unwrap_or(&Value::Null));
    let mut identity = Identity::new(schema_id, traits, state.clock.now());
    let valid = check_against_schema(state, flow, &mut identity);
    Ok((identity, valid))
}

/// Checks `identity`'s traits against its schema and derives its identifiers and addresses
/// from them; each violation goes on its field of the form. Whether they were valid.
pub fn check_against_schema(state: &AppState, flow: &mut Flow, identity: &mut Identity) -> bool {
    let Some(schema) = state.schemas.get(&identity.schema_id) else {
        return false;
    };
    match apply_schema(identity, schema, state.clock.now()) {
        Ok(()) => true,
        Err(violations) => {
            for violation in violations {
                flow.ui
                    .add_message(violation.field.as_deref(), violation.ui);
            }
            false
        }
    }
}

fn input_type(field: &TraitField) -> (&'static str, Option<&'static str>) {
    match (field.json_type.as_str(), field.format.as_deref()) {
        ("number" | "integer", _) => ("number", None),
        ("boolean", _) => ("checkbox", None),
        (_, Some("email")) => ("email", Some("email")),
        (_, Some("tel")) => ("tel", Some("tel")),
        (_, Some("date")) => ("date", None),
        (_, Some("date-time")) => ("datetime-local", None),
        (_, Some("uri")) => ("url", Some("url")),
        _ => ("text", None),
    }
}

/// Form fields arrive as strings; the schema says which are numbers or booleans. Empty
/// optional fields are dropped, as an empty input means "not given".
pub fn typed_traits(schema: &IdentitySchema, submitted: &Value) -> Value {
    let mut traits = submitted.clone();
    if !traits.is_object() {
        return json!({});
    }
    for field in &schema.fields {
        let pointer = format!(
            "/{}",
            field.name.trim_start_matches("traits.").replace('.', "/")
        );
        let Some(value) = traits.pointer_mut(&pointer) else {
            continue;
        };
        let Value::String(text) = value else { continue };
        let typed = match field.json_type.as_str() {
            "number" => text
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number),
            "integer" => text.trim().parse::<i64>().ok().map(Value::from),
            "boolean" => match text.as_str() {
                "true" | "on" | "1" => Some(Value::Bool(true)),
                "false" | "off" | "0" => Some(Value::Bool(false)),
                _ => None,
            },
            _ => None,
        };
        if let Some(typed) = typed {
            *value = typed;
        }
    }
    remove_empty_strings(&mut traits);
    traits
}

fn remove_empty_strings(value: &mut Value) {
    if let Value::Object(map) = value {
        map.retain(|_, child| !matches!(child, Value::String(text) if text.is_empty()));
        for child in map.values_mut() {
            remove_empty_strings(child);
        }
        map.retain(|_, child| !matches!(child, Value::Object(inner) if inner.is_empty()));
    }
}

/// The submitted value of field `name` (`traits.email`) for writing back into the form.
pub fn submitted_value(form: &Value, name: &str) -> Option<Value> {
    let pointer = format!("/{}", name.replace('.', "/"));
    form.pointer(&pointer)
        .filter(|value| !value.is_object())
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::schema::DEV_SCHEMA;

    fn schema() -> IdentitySchema {
        IdentitySchema::compile("default", serde_json::from_str(DEV_SCHEMA).unwrap()).unwrap()
    }

    #[test]
    fn nodes_follow_the_schema() {
        let nodes = trait_nodes(&schema(), NodeGroup::Password);
        let names: Vec<&str> = nodes.iter().filter_map(UiNode::name).collect();
        assert_eq!(
            names,
            ["traits.email", "traits.name.first", "traits.name.last"]
        );
        let app::model::NodeAttributes::Input(email) = &nodes[0].attributes else {
            panic!()
        };
        assert_eq!(email.input_type, "email");
        assert!(email.required);
        assert_eq!(nodes[0].meta.label.as_ref().unwrap().text, "E-Mail");
    }

    #[test]
    fn empty_optional_fields_are_dropped() {
        let traits = typed_traits(
            &schema(),
            &json!({"email": "a@b.co", "name": {"first": "", "last": ""}}),
        );
        assert_eq!(traits, json!({"email": "a@b.co"}));
    }
}
