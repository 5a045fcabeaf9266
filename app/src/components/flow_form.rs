//! The one renderer of the engine's forms: a plain `<form>` that works without JavaScript.
//! Once hydrated it adds show/hide for passwords and guards against double submission.

use leptos::prelude::*;

use super::webauthn::{Ceremony, CeremonyButton, offer_passkey_autofill};
use crate::i18n::Texts;
use crate::model::{
    InputAttributes, MessageType, NodeAttributes, NodeGroup, UiContainer, UiNode, UiText,
};

/// Renders `ui` as one form; with `sections`, as one form per node group (settings: profile
/// and password are saved separately, so one section's required fields never block another).
/// `ui`'s texts come in the page's language, and so do `texts`, the form's own words.
#[island]
pub fn FlowForm(ui: UiContainer, sections: bool, texts: Texts) -> impl IntoView {
    provide_context(texts.clone());
    let (submitting, set_submitting) = signal(false);
    // Only the browser runs effects: this flips once the page is hydrated.
    let (hydrated, set_hydrated) = signal(false);
    Effect::new(move |_| set_hydrated.set(true));

    let on_submit = move |event: leptos::ev::SubmitEvent| {
        if submitting.get_untracked() {
            event.prevent_default();
        } else {
            set_submitting.set(true);
        }
    };
    // After a failed submit the first field with an error has the focus (its message is read
    // out through `aria-describedby`), else the form's own error messages; no script needed.
    let focused_field = ui
        .nodes
        .iter()
        .find(|node| is_field(node) && node.messages.iter().any(is_error))
        .map(UiNode::test_id);
    let focus_messages = focused_field.is_none() && ui.messages.iter().any(is_error);
    let render = move |nodes: Vec<UiNode>| {
        nodes
            .into_iter()
            .map(|node| {
                let focus = focused_field.as_deref() == Some(node.test_id().as_str());
                view! { <Node node submitting hydrated focus /> }
            })
            .collect_view()
    };
    let form = move |action: String, method: String, section: Option<NodeGroup>, body: AnyView| {
        view! {
            <form
                class="ward-form"
                action=action
                method=method
                on:submit=on_submit
                data-section=section.map(group_name)
                data-submitting=move || submitting.get().to_string()
            >
                {body}
            </form>
        }
    };

    let groups = group_nodes(&ui.nodes);
    if sections {
        let defaults: Vec<UiNode> = groups
            .iter()
            .filter(|(group, _)| *group == NodeGroup::Default)
            .flat_map(|(_, nodes)| nodes.clone())
            .collect();
        let forms = groups
            .into_iter()
            .filter(|(group, _)| *group != NodeGroup::Default)
            .map(|(group, nodes)| {
                let body = view! {
                    <h2 class="ward-section-title">{texts.get(section_key(group))}</h2>
                    <div class="ward-group ward-group-default">{render(defaults.clone())}</div>
                    <fieldset class="ward-group" data-group=group_name(group)>{render(nodes)}</fieldset>
                }
                .into_any();
                form(ui.action.clone(), ui.method.clone(), Some(group), body)
            })
            .collect_view();
        return view! {
            <div class="ward-sections">
                <Messages messages=ui.messages.clone() test_id="ui-messages".to_string() focus=focus_messages />
                {forms}
            </div>
        }
        .into_any();
    }
    let body = view! {
        <Messages messages=ui.messages.clone() test_id="ui-messages".to_string() focus=focus_messages />
        {groups
            .into_iter()
            .map(|(group, nodes)| {
                if group == NodeGroup::Default {
                    view! { <div class="ward-group ward-group-default">{render(nodes)}</div> }
                        .into_any()
                } else {
                    view! {
                        <fieldset class="ward-group" data-group=group_name(group)>
                            {render(nodes)}
                        </fieldset>
                    }
                        .into_any()
                }
            })
            .collect_view()}
    }
    .into_any();
    form(ui.action, ui.method, None, body).into_any()
}

/// The heading of a settings section (page chrome, not a flow message).
fn section_key(group: NodeGroup) -> &'static str {
    match group {
        NodeGroup::Profile => "section-profile",
        NodeGroup::Password => "section-password",
        NodeGroup::Oidc => "section-oidc",
        NodeGroup::Totp => "section-totp",
        NodeGroup::LookupSecret => "section-lookup-secret",
        NodeGroup::Webauthn => "section-webauthn",
        NodeGroup::Passkey => "section-passkey",
        _ => "",
    }
}

/// A text of the form itself, in the page's language.
fn form_text(key: &str) -> String {
    use_context::<Texts>().unwrap_or_default().get(key)
}

/// Nodes by group, groups in order of first appearance.
fn group_nodes(nodes: &[UiNode]) -> Vec<(NodeGroup, Vec<UiNode>)> {
    let mut groups: Vec<(NodeGroup, Vec<UiNode>)> = Vec::new();
    for node in nodes {
        match groups.iter_mut().find(|(group, _)| *group == node.group) {
            Some((_, members)) => members.push(node.clone()),
            None => groups.push((node.group, vec![node.clone()])),
        }
    }
    groups
}

fn group_name(group: NodeGroup) -> &'static str {
    match group {
        NodeGroup::Default => "default",
        NodeGroup::Password => "password",
        NodeGroup::Oidc => "oidc",
        NodeGroup::Profile => "profile",
        NodeGroup::Link => "link",
        NodeGroup::Code => "code",
        NodeGroup::Totp => "totp",
        NodeGroup::LookupSecret => "lookup_secret",
        NodeGroup::Webauthn => "webauthn",
        NodeGroup::Passkey => "passkey",
        NodeGroup::IdentifierFirst => "identifier_first",
    }
}

fn is_error(message: &UiText) -> bool {
    message.kind == MessageType::Error
}

/// A node the user types into or ticks.
fn is_field(node: &UiNode) -> bool {
    matches!(&node.attributes, NodeAttributes::Input(input)
        if !matches!(input.input_type.as_str(), "hidden" | "submit" | "button"))
}

fn text_of(message: &UiText) -> String {
    message.text.clone()
}

/// A list of messages. `id` lets a field point at it (`aria-describedby`); with `focus` it
/// takes the focus when the page loads, so the first thing read out is what went wrong.
#[component]
pub fn Messages(
    messages: Vec<UiText>,
    test_id: String,
    #[prop(optional)] id: Option<String>,
    #[prop(optional)] focus: bool,
) -> impl IntoView {
    (!messages.is_empty()).then(|| {
        view! {
            <ul
                class="ward-messages"
                id=id
                data-testid=test_id
                tabindex=focus.then_some("-1")
                autofocus=focus
            >
                {messages
                    .into_iter()
                    .map(|message| {
                        let kind = format!("{:?}", message.kind).to_lowercase();
                        view! {
                            <li
                                class=format!("ward-message ward-message-{kind}")
                                data-testid=format!("message-{}", message.id)
                                data-message-id=message.id
                            >
                                {text_of(&message)}
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        }
    })
}

#[component]
fn Node(
    node: UiNode,
    submitting: ReadSignal<bool>,
    hydrated: ReadSignal<bool>,
    focus: bool,
) -> impl IntoView {
    let test_id = node.test_id();
    let label = node.meta.label.as_ref().map(text_of);
    match node.attributes {
        NodeAttributes::Input(input) => {
            let messages = node.messages;
            // An upstream's button leaves for the upstream, a code's buttons ask for a code or
            // check one, and "back" leaves the screen: the fields of the other methods in the
            // same form are not their business (their `required` would block them; the server
            // checks its own).
            let novalidate =
                matches!(node.group, NodeGroup::Oidc | NodeGroup::Code) || input.name == "screen";
            view! { <Input input label test_id messages submitting hydrated novalidate focus /> }
                .into_any()
        }
        NodeAttributes::A(anchor) => {
            let title = text_of(&anchor.title);
            view! {
                <a class="ward-link" href=anchor.href data-testid=test_id>
                    {title}
                </a>
            }
            .into_any()
        }
        NodeAttributes::Other(attributes) => {
            // A plain string, not an `Option`: the hydrated island must meet the same nodes.
            let label = label.unwrap_or_default();
            let text = |key: &str| {
                attributes
                    .get(key)
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            match text("node_type").as_str() {
                // A QR code to scan.
                "img" => {
                    let size = |key: &str| attributes.get(key).and_then(serde_json::Value::as_u64);
                    view! {
                        <figure class="ward-image" data-testid=text("id")>
                            <img
                                src=text("src")
                                width=size("width")
                                height=size("height")
                                alt=label.clone()
                            />
                            <figcaption>{label}</figcaption>
                        </figure>
                    }
                    .into_any()
                }
                // A secret to type in by hand, or codes to keep.
                "text" => {
                    let message = attributes
                        .get("text")
                        .cloned()
                        .and_then(|value| serde_json::from_value::<UiText>(value).ok());
                    let codes = message.as_ref().and_then(backup_codes);
                    let (shown, copied_text) = match codes {
                        Some(codes) => {
                            let all: Vec<String> = codes.iter().flatten().cloned().collect();
                            (view! { <BackupCodes codes /> }.into_any(), all.join("\n"))
                        }
                        None => {
                            let shown = message.as_ref().map(text_of).unwrap_or_default();
                            let view = view! { <code class="ward-secret">{shown.clone()}</code> };
                            (view.into_any(), shown)
                        }
                    };
                    view! {
                        <div class="ward-text" data-testid=text("id")>
                            <p class="ward-label">{label}</p>
                            {shown}
                            <CopyButton text=copied_text test_id=format!("copy-{}", text("id")) hydrated />
                        </div>
                    }
                    .into_any()
                }
                // Kratos's WebAuthn script, for UIs that run the nodes' `onclick`: this form
                // runs the ceremonies itself (see `webauthn`).
                _ => ().into_any(),
            }
        }
    }
}

/// The backup codes of message 1050015 (`None` for any other text): each code, or `None` for
/// one already used.
fn backup_codes(message: &UiText) -> Option<Vec<Option<String>>> {
    if message.id != 1050015 {
        return None;
    }
    let secrets = message.context.as_ref()?.get("secrets")?.as_array()?;
    Some(
        secrets
            .iter()
            .map(|secret| {
                secret
                    .pointer("/context/secret")
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_string)
            })
            .collect(),
    )
}

/// Copies `text` to the clipboard. It needs JavaScript, so it stays hidden until the page is
/// hydrated, as the password toggle does.
#[component]
fn CopyButton(text: String, test_id: String, hydrated: ReadSignal<bool>) -> impl IntoView {
    let (copied, set_copied) = signal(false);
    view! {
        <button
            type="button"
            class="ward-reveal ward-copy"
            data-testid=test_id
            hidden=move || !hydrated.get()
            on:click=move |_| {
                copy_to_clipboard(&text);
                set_copied.set(true);
            }
        >
            {move || if copied.get() { form_text("form-copied") } else { form_text("form-copy") }}
        </button>
    }
}

#[cfg(feature = "hydrate")]
fn copy_to_clipboard(text: &str) {
    if let Some(window) = web_sys::window() {
        // The promise settles on its own; a refusal leaves the text selectable by hand.
        let _ = window.navigator().clipboard().write_text(text);
    }
}

#[cfg(not(feature = "hydrate"))]
fn copy_to_clipboard(_text: &str) {}

/// Backup codes as a plain list (it prints as it is) and a text file to download; both work
/// without JavaScript.
#[component]
fn BackupCodes(codes: Vec<Option<String>>) -> impl IntoView {
    let file: String = codes
        .iter()
        .flatten()
        .map(|code| format!("{code}%0A"))
        .collect();
    view! {
        <ol class="ward-codes">
            {codes
                .into_iter()
                .map(|code| match code {
                    Some(code) => view! { <li><code>{code}</code></li> }.into_any(),
                    None => view! { <li class="ward-code-used">{form_text("form-code-used")}</li> }.into_any(),
                })
                .collect_view()}
        </ol>
        <a
            class="ward-link"
            href=format!("data:text/plain;charset=utf-8,{file}")
            download="backup-codes.txt"
            data-testid="download-backup-codes"
        >
            {form_text("form-download-codes")}
        </a>
    }
}

#[component]
fn Input(
    input: InputAttributes,
    label: Option<String>,
    test_id: String,
    messages: Vec<UiText>,
    submitting: ReadSignal<bool>,
    hydrated: ReadSignal<bool>,
    /// A submit button that skips the browser's checks of the form's fields.
    novalidate: bool,
    /// The first field with an error: it has the focus when the page loads.
    focus: bool,
) -> impl IntoView {
    let value = input.value.as_ref().map(|value| match value {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    });
    let invalid = messages.iter().any(is_error).then_some("true");
    let messages_id = format!("input-{test_id}-messages");
    let described_by = (!messages.is_empty()).then(|| messages_id.clone());
    let node_messages = (!messages.is_empty()).then(|| {
        view! { <Messages messages test_id=format!("{test_id}-messages") id=messages_id /> }
    });
    match input.input_type.as_str() {
        "hidden" => {
            if input
                .onload_trigger
                .as_deref()
                .and_then(Ceremony::from_trigger)
                == Some(Ceremony::PasskeyAutofill)
            {
                offer_passkey_autofill();
            }
            // Identifier-first sign-in: the identifier is fixed now; say whose account it is.
            let fixed = value
                .clone()
                .filter(|identifier| input.name == "identifier" && !identifier.is_empty());
            let texts = expect_context::<Texts>();
            // A fixed field can still be at fault (a trait a hook refused, on the credentials
            // screen of two-step sign-up): its messages show, and "back" leads to it.
            view! {
                <input type="hidden" name=input.name value=value data-testid=test_id />
                {node_messages}
                {fixed.map(|identifier| view! {
                    <p class="ward-identifier" data-testid="signing-in-as">
                        {texts.get("form-signing-in-as")} " " <strong>{identifier}</strong> " "
                        <a href="/login">{texts.get("form-other-account")}</a>
                    </p>
                })}
            }
            .into_any()
        }
        "button" if input.onclick_trigger.is_some() => {
            match input
                .onclick_trigger
                .as_deref()
                .and_then(Ceremony::from_trigger)
            {
                Some(ceremony) => view! {
                    <CeremonyButton ceremony name=input.name value label test_id hydrated />
                    {node_messages}
                }
                .into_any(),
                // Not a ceremony this page knows: nothing it could run.
                None => ().into_any(),
            }
        }
        "submit" | "button" => {
            // Going back and asking again are the quieter choices beside a step's main button.
            let secondary = matches!(input.name.as_str(), "resend" | "screen");
            view! {
            <button
                class=if secondary { "ward-button ward-button-secondary" } else { "ward-button" }
                type=input.input_type
                name=input.name
                value=value
                formnovalidate=novalidate
                data-testid=test_id
                aria-disabled=move || submitting.get().to_string()
            >
                {label}
            </button>
            {node_messages}
        }
        .into_any()
        }
        "checkbox" => {
            let checked = value.as_deref() == Some("true");
            view! {
                <label class="ward-checkbox">
                    <input
                        type="checkbox"
                        name=input.name
                        value="true"
                        checked=checked
                        required=input.required
                        autofocus=focus
                        aria-invalid=invalid
                        aria-describedby=described_by
                        data-testid=test_id
                    />
                    <span>{label}</span>
                </label>
                {node_messages}
            }
            .into_any()
        }
        input_type => {
            let is_password = input_type == "password";
            let (revealed, set_revealed) = signal(false);
            let shown_type = input_type.to_string();
            let id = format!("input-{test_id}");
            view! {
                <div class="ward-field">
                    <label class="ward-label" for=id.clone()>{label}</label>
                    <div class="ward-input-row">
                        <input
                            class="ward-input"
                            id=id
                            type=move || if is_password && revealed.get() { "text".to_string() } else { shown_type.clone() }
                            name=input.name
                            value=value
                            required=input.required
                            disabled=input.disabled
                            autocomplete=input.autocomplete
                            pattern=input.pattern
                            maxlength=input.maxlength
                            autofocus=focus
                            aria-invalid=invalid
                            aria-describedby=described_by
                            data-testid=test_id.clone()
                        />
                        {is_password.then(|| view! {
                            <button
                                type="button"
                                class="ward-reveal"
                                data-testid=format!("{test_id}-reveal")
                                hidden=move || !hydrated.get()
                                aria-pressed=move || revealed.get().to_string()
                                on:click=move |_| set_revealed.update(|shown| *shown = !*shown)
                            >
                                {move || if revealed.get() { form_text("form-hide") } else { form_text("form-show") }}
                            </button>
                        })}
                    </div>
                    {node_messages}
                </div>
            }
                .into_any()
        }
    }
}
