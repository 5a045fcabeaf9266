//! WebAuthn and passkey ceremonies, run by the hydrated flow form itself (web-sys).
//!
//! The engine's nodes carry the ceremony options as JSON (a trigger's `value`, or a hidden input)
//! and name the ceremony in `onclickTrigger` / `onloadTrigger`, as Kratos's nodes do. UIs made for
//! Kratos run them with the script served at `/.well-known/ory/webauthn.js`; Ward's own pages
//! run them here instead: read the options, call `navigator.credentials`, write the result as JSON
//! into the hidden result input, submit the form. Without JavaScript the buttons say that they
//! need it, and every other method of the form still works.

use leptos::prelude::*;

/// The ceremonies, by the trigger names Kratos's nodes use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ceremony {
    /// A security key added in settings.
    KeyRegistration,
    /// A security key as the second factor.
    KeyLogin,
    /// Sign-up with a passkey: the user's name comes from the form's traits.
    PasskeyRegistration,
    /// A passkey added in settings.
    PasskeySettingsRegistration,
    /// Sign-in with a passkey, from its button.
    PasskeyLogin,
    /// Sign-in with a passkey offered in the identifier field's autofill.
    PasskeyAutofill,
}

impl Ceremony {
    pub fn from_trigger(trigger: &str) -> Option<Self> {
        Some(match trigger {
            "oryWebAuthnRegistration" => Self::KeyRegistration,
            "oryWebAuthnLogin" => Self::KeyLogin,
            "oryPasskeyRegistration" => Self::PasskeyRegistration,
            "oryPasskeySettingsRegistration" => Self::PasskeySettingsRegistration,
            "oryPasskeyLogin" => Self::PasskeyLogin,
            "oryPasskeyLoginAutocompleteInit" => Self::PasskeyAutofill,
            _ => return None,
        })
    }

    /// The field holding the options, and the field the result goes into.
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    fn fields(self) -> (&'static str, &'static str) {
        match self {
            Self::KeyRegistration => ("webauthn_register_trigger", "webauthn_register"),
            Self::KeyLogin => ("webauthn_login_trigger", "webauthn_login"),
            Self::PasskeyRegistration => ("passkey_create_data", "passkey_register"),
            Self::PasskeySettingsRegistration => {
                ("passkey_create_data", "passkey_settings_register")
            }
            Self::PasskeyLogin | Self::PasskeyAutofill => ("passkey_challenge", "passkey_login"),
        }
    }

    /// Whether the ceremony makes a new credential (`create`) rather than uses one (`get`).
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    fn creates(self) -> bool {
        matches!(
            self,
            Self::KeyRegistration | Self::PasskeyRegistration | Self::PasskeySettingsRegistration
        )
    }
}

/// A button that runs `ceremony`; a failure shows beneath it. It is disabled until the page is
/// hydrated: before that, a click would do nothing.
#[component]
pub fn CeremonyButton(
    ceremony: Ceremony,
    name: String,
    value: Option<String>,
    label: Option<String>,
    test_id: String,
    hydrated: ReadSignal<bool>,
) -> impl IntoView {
    // A failure is the catalogue key of its text (see `i18n::FORM_KEYS`).
    let (failure, set_failure) = signal(None::<&'static str>);
    let texts = use_context::<crate::i18n::Texts>().unwrap_or_default();
    view! {
        <button
            class="ward-button ward-button-secondary"
            type="button"
            name=name
            value=value
            data-testid=test_id
            disabled=move || !hydrated.get()
            on:click=move |event| {
                set_failure.set(None);
                browser::start(ceremony, &event, set_failure);
            }
        >
            {label}
        </button>
        <noscript>
            <p class="ward-note">{texts.get("webauthn-needs-javascript")}</p>
        </noscript>
        {move || {
            failure
                .get()
                .map(|text| {
                    view! {
                        <p class="ward-message ward-message-error" role="alert" data-testid="webauthn-failure">
                            {texts.get(text)}
                        </p>
                    }
                })
        }}
    }
}

/// Offers the form's passkeys in the identifier field's autofill once the page is hydrated,
/// where the browser can (conditional mediation).
pub fn offer_passkey_autofill() {
    Effect::new(move |_| browser::autofill());
}

#[cfg(feature = "hydrate")]
mod browser {
    use std::cell::RefCell;

    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use js_sys::{Array, JSON, Object, Promise, Reflect, Uint8Array};
    use leptos::prelude::{Set, WriteSignal};
    use wasm_bindgen::{JsCast, JsValue};
    use wasm_bindgen_futures::JsFuture;

    use super::Ceremony;

    thread_local! {
        /// The pending autofill request: a button's ceremony cancels it first, since a browser
        /// runs one WebAuthn request at a time.
        static AUTOFILL: RefCell<Option<web_sys::AbortController>> = const { RefCell::new(None) };
    }

    #[derive(Clone, Copy)]
    enum Failure {
        /// The page cancelled the request itself (autofill replaced): nothing to tell.
        Aborted,
        /// The catalogue key of the text to show.
        Shown(&'static str),
    }

    pub fn start(
        ceremony: Ceremony,
        event: &web_sys::MouseEvent,
        report: WriteSignal<Option<&'static str>>,
    ) {
        let form = event
            .target()
            .and_then(|target| target.dyn_into::<web_sys::Element>().ok())
            .and_then(|button| button.closest("form").ok().flatten());
        let Some(form) = form else { return };
        cancel_autofill();
        wasm_bindgen_futures::spawn_local(async move {
            if let Err(Failure::Shown(text)) = run(ceremony, &form).await {
                report.set(Some(text));
            }
            if ceremony == Ceremony::PasskeyLogin {
                // The button did not sign in: autofill stays on offer.
                autofill();
            }
        });
    }

    pub fn autofill() {
        let Some(document) = web_sys::window().and_then(|window| window.document()) else {
            return;
        };
        let Ok(Some(challenge)) = document.query_selector("[name=\"passkey_challenge\"]") else {
            return;
        };
        let Ok(Some(form)) = challenge.closest("form") else {
            return;
        };
        wasm_bindgen_futures::spawn_local(async move {
            if conditional_mediation_available().await {
                let _ = run(Ceremony::PasskeyAutofill, &form).await;
            }
        });
    }

    fn cancel_autofill() {
        if let Some(controller) = AUTOFILL.with(|pending| pending.borrow_mut().take()) {
            controller.abort();
        }
    }

    async fn conditional_mediation_available() -> bool {
        let Some(window) = web_sys::window() else {
            return false;
        };
        let Ok(class) = Reflect::get(&window, &"PublicKeyCredential".into()) else {
            return false;
        };
        let Ok(check) = Reflect::get(&class, &"isConditionalMediationAvailable".into()) else {
            return false;
        };
        let Ok(check) = check.dyn_into::<js_sys::Function>() else {
            return false;
        };
        let Ok(promise) = check
            .call0(&class)
            .and_then(|value| value.dyn_into::<Promise>())
        else {
            return false;
        };
        JsFuture::from(promise)
            .await
            .is_ok_and(|answer| answer.is_truthy())
    }

    async fn run(ceremony: Ceremony, form: &web_sys::Element) -> Result<(), Failure> {
        let (options_field, result_field) = ceremony.fields();
        let broken = Failure::Shown("webauthn-data-incomplete");
        let options = field(form, options_field)
            .and_then(|field| Reflect::get(&field, &"value".into()).ok())
            .and_then(|value| value.as_string())
            .and_then(|text| JSON::parse(&text).ok())
            .ok_or(Failure::Shown("webauthn-data-missing"))?;
        let public_key = match ceremony {
            Ceremony::PasskeyRegistration => {
                let public_key =
                    path(&options, &["credentialOptions", "publicKey"]).ok_or(broken)?;
                name_user(form, &options, &public_key);
                public_key
            }
            _ => path(&options, &["publicKey"]).ok_or(broken)?,
        };
        decode_options(&public_key, ceremony.creates())
            .map_err(|_| Failure::Shown("webauthn-data-malformed"))?;

        let request = Object::new();
        set(&request, "publicKey", &public_key);
        if ceremony == Ceremony::PasskeyAutofill {
            let controller = web_sys::AbortController::new().map_err(|_| Failure::Aborted)?;
            set(&request, "mediation", &"conditional".into());
            set(&request, "signal", &controller.signal());
            cancel_autofill();
            AUTOFILL.with(|pending| *pending.borrow_mut() = Some(controller));
        }
        let credentials = web_sys::window()
            .ok_or(Failure::Aborted)?
            .navigator()
            .credentials();
        let promise = if ceremony.creates() {
            credentials.create_with_options(request.unchecked_ref())
        } else {
            credentials.get_with_options(request.unchecked_ref())
        }
        .map_err(failure)?;
        let credential = JsFuture::from(promise).await.map_err(failure)?;
        let result = if ceremony.creates() {
            created(&credential)
        } else {
            asserted(&credential)
        }
        .ok_or(Failure::Shown("webauthn-answer-unreadable"))?;

        let target = field(form, result_field).ok_or(broken)?;
        set(&target, "value", &result.into());
        form.unchecked_ref::<web_sys::HtmlFormElement>()
            .submit()
            .map_err(|_| Failure::Shown("webauthn-not-sent"))
    }

    /// The message for a refused or failed ceremony (the DOMException's name says which).
    fn failure(error: JsValue) -> Failure {
        let name = Reflect::get(&error, &"name".into())
            .ok()
            .and_then(|name| name.as_string())
            .unwrap_or_default();
        Failure::Shown(match name.as_str() {
            "AbortError" => return Failure::Aborted,
            "NotAllowedError" => "webauthn-not-allowed",
            "InvalidStateError" => "webauthn-already-registered",
            "SecurityError" => "webauthn-wrong-address",
            "NotSupportedError" => "webauthn-not-supported",
            _ => "webauthn-failed",
        })
    }

    fn field(form: &web_sys::Element, name: &str) -> Option<web_sys::Element> {
        form.query_selector(&format!("[name=\"{name}\"]"))
            .ok()
            .flatten()
    }

    fn path(value: &JsValue, keys: &[&str]) -> Option<JsValue> {
        keys.iter().try_fold(value.clone(), |value, key| {
            Reflect::get(&value, &(*key).into())
                .ok()
                .filter(|found| found.is_object())
        })
    }

    fn set(target: &JsValue, key: &str, value: &JsValue) {
        // Setting a property on a plain object or an input cannot fail.
        let _ = Reflect::set(target, &key.into(), value);
    }

    /// A new passkey is named after the first filled field the server lists (the e-mail).
    fn name_user(form: &web_sys::Element, data: &JsValue, public_key: &JsValue) {
        let names = Reflect::get(data, &"displayNameFieldNames".into())
            .ok()
            .filter(Array::is_array)
            .map(|names| Array::from(&names).iter().collect::<Vec<_>>())
            .or_else(|| {
                Reflect::get(data, &"displayNameFieldName".into())
                    .ok()
                    .map(|name| vec![name])
            })
            .unwrap_or_default();
        let typed = names
            .iter()
            .filter_map(JsValue::as_string)
            .filter_map(|name| field(form, &name))
            .filter_map(|input| Reflect::get(&input, &"value".into()).ok())
            .find(|value| value.as_string().is_some_and(|text| !text.is_empty()));
        if let (Some(typed), Ok(user)) = (typed, Reflect::get(public_key, &"user".into())) {
            set(&user, "name", &typed);
            set(&user, "displayName", &typed);
        }
    }

    /// The server sends binary fields as base64url; the browser wants bytes.
    fn decode_options(public_key: &JsValue, creates: bool) -> Result<(), ()> {
        to_bytes(public_key, "challenge")?;
        let descriptors = if creates {
            to_bytes(
                &Reflect::get(public_key, &"user".into()).map_err(drop)?,
                "id",
            )?;
            "excludeCredentials"
        } else {
            "allowCredentials"
        };
        if let Ok(list) = Reflect::get(public_key, &descriptors.into())
            && Array::is_array(&list)
        {
            for descriptor in Array::from(&list).iter() {
                to_bytes(&descriptor, "id")?;
            }
        }
        Ok(())
    }

    fn to_bytes(object: &JsValue, key: &str) -> Result<(), ()> {
        let text = Reflect::get(object, &key.into())
            .map_err(drop)?
            .as_string()
            .ok_or(())?;
        let bytes = URL_SAFE_NO_PAD
            .decode(text.trim_end_matches('='))
            .map_err(drop)?;
        set(object, key, &Uint8Array::from(bytes.as_slice()).into());
        Ok(())
    }

    /// An `ArrayBuffer` field as base64url; `None` where the browser gave none.
    fn text_of(object: &JsValue, key: &str) -> Option<String> {
        let buffer = Reflect::get(object, &key.into()).ok()?;
        if buffer.is_null() || buffer.is_undefined() {
            return None;
        }
        Some(URL_SAFE_NO_PAD.encode(Uint8Array::new(&buffer).to_vec()))
    }

    fn created(credential: &JsValue) -> Option<String> {
        let response = Reflect::get(credential, &"response".into()).ok()?;
        let json = serde_json::json!({
            "id": Reflect::get(credential, &"id".into()).ok()?.as_string()?,
            "rawId": text_of(credential, "rawId")?,
            "type": Reflect::get(credential, &"type".into()).ok()?.as_string()?,
            "response": {
                "attestationObject": text_of(&response, "attestationObject")?,
                "clientDataJSON": text_of(&response, "clientDataJSON")?,
            },
        });
        Some(json.to_string())
    }

    fn asserted(credential: &JsValue) -> Option<String> {
        let response = Reflect::get(credential, &"response".into()).ok()?;
        let json = serde_json::json!({
            "id": Reflect::get(credential, &"id".into()).ok()?.as_string()?,
            "rawId": text_of(credential, "rawId")?,
            "type": Reflect::get(credential, &"type".into()).ok()?.as_string()?,
            "response": {
                "authenticatorData": text_of(&response, "authenticatorData")?,
                "clientDataJSON": text_of(&response, "clientDataJSON")?,
                "signature": text_of(&response, "signature")?,
                "userHandle": text_of(&response, "userHandle"),
            },
        });
        Some(json.to_string())
    }
}

// On the server nothing of this runs: event handlers and effects exist only in the browser.
#[cfg(not(feature = "hydrate"))]
mod browser {
    use leptos::prelude::WriteSignal;

    use super::Ceremony;

    pub fn start(_: Ceremony, _: &leptos::ev::MouseEvent, _: WriteSignal<Option<&'static str>>) {}

    pub fn autofill() {}
}
