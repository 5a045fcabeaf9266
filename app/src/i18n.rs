//! The pages' languages. Catalogues are Fluent files under `app/locales/<language>/`: one key
//! per Kratos message id (`msg-<id>`, with the message's `context` as variables) and one per
//! page text. The API keeps Kratos's English `text`, from the English catalogue.
//!
//! The language of a page: `?lang=xx` (remembered in a cookie), else the cookie, else the
//! browser's `Accept-Language`, else English. Islands get their texts as props, already in the
//! page's language, so the wasm bundle carries no catalogue.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The cookie that remembers a language picked with `?lang=`.
pub const LANGUAGE_COOKIE: &str = "ward_lang";

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub enum Lang {
    #[default]
    En,
    De,
    Fr,
    Es,
    Ru,
    ZhCn,
}

impl Lang {
    pub const ALL: [Lang; 6] = [Lang::En, Lang::De, Lang::Fr, Lang::Es, Lang::Ru, Lang::ZhCn];

    /// The BCP 47 tag: `<html lang>`, `?lang=` and the catalogue's folder.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::De => "de",
            Lang::Fr => "fr",
            Lang::Es => "es",
            Lang::Ru => "ru",
            Lang::ZhCn => "zh-CN",
        }
    }

    /// A language tag as a browser or a link gives it (`de-AT`, `zh-Hans`, `FR`); Chinese
    /// of any script reads the Simplified pages rather than English ones.
    pub fn parse(tag: &str) -> Option<Lang> {
        let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        Lang::ALL
            .into_iter()
            .find(|lang| lang.tag().split('-').next() == Some(primary.as_str()))
    }

    /// The best of `Accept-Language`'s entries by their `q`, among those Ward has.
    pub fn from_accept_language(header: &str) -> Option<Lang> {
        let mut best: Option<(f32, Lang)> = None;
        for entry in header.split(',') {
            let mut parts = entry.split(';');
            let Some(lang) = parts.next().and_then(Lang::parse) else {
                continue;
            };
            let quality = parts
                .find_map(|part| part.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if quality > 0.0 && best.is_none_or(|(top, _)| quality > top) {
                best = Some((quality, lang));
            }
        }
        best.map(|(_, lang)| lang)
    }

    /// The language a request asks for when it names none itself: the `ward_lang` cookie
    /// among `cookies` (a `Cookie` header), else `accept_language`, else English.
    pub fn negotiate(cookies: Option<&str>, accept_language: Option<&str>) -> Lang {
        cookies
            .and_then(|cookies| {
                cookies
                    .split(';')
                    .filter_map(|pair| pair.trim().split_once('='))
                    .find(|(name, _)| *name == LANGUAGE_COOKIE)
                    .and_then(|(_, value)| Lang::parse(value))
            })
            .or_else(|| accept_language.and_then(Lang::from_accept_language))
            .unwrap_or_default()
    }
}

/// Texts an island shows, by catalogue key, in the page's language.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Texts(pub BTreeMap<String, String>);

impl Texts {
    pub fn get(&self, key: &str) -> String {
        self.0.get(key).cloned().unwrap_or_else(|| key.to_string())
    }
}

/// The keys the flow form island needs.
pub const FORM_KEYS: &[&str] = &[
    "form-show",
    "form-hide",
    "form-copy",
    "form-copied",
    "form-code-used",
    "form-signing-in-as",
    "form-other-account",
    "form-download-codes",
    "section-profile",
    "section-password",
    "section-oidc",
    "section-totp",
    "section-lookup-secret",
    "section-webauthn",
    "section-passkey",
    "webauthn-needs-javascript",
    "webauthn-data-incomplete",
    "webauthn-data-missing",
    "webauthn-data-malformed",
    "webauthn-answer-unreadable",
    "webauthn-not-sent",
    "webauthn-not-allowed",
    "webauthn-already-registered",
    "webauthn-wrong-address",
    "webauthn-not-supported",
    "webauthn-failed",
];

/// The keys the theme switch needs.
pub const THEME_KEYS: &[&str] = &["theme-switch", "theme-light", "theme-dark", "theme-system"];

#[cfg(feature = "ssr")]
pub use catalogue::*;

#[cfg(feature = "ssr")]
mod catalogue {
    use std::borrow::Cow;
    use std::collections::HashMap;

    use fluent_templates::fluent_bundle::FluentValue;
    use fluent_templates::{LanguageIdentifier, Loader};
    use leptos::prelude::*;
    use serde_json::Value;

    use super::{LANGUAGE_COOKIE, Lang, Texts};
    use crate::model::{NodeAttributes, UiContainer, UiText};

    fluent_templates::static_loader! {
        static LOCALES = {
            locales: "./locales",
            fallback_language: "en",
            // Plain text: the pages escape it, and no bidirectional marks around values.
            customise: |bundle| bundle.set_use_isolating(false),
        };
    }

    /// Each language's identifier, parsed once.
    fn identifier(lang: Lang) -> &'static LanguageIdentifier {
        static IDENTIFIERS: std::sync::LazyLock<Vec<LanguageIdentifier>> =
            std::sync::LazyLock::new(|| {
                Lang::ALL
                    .iter()
                    .map(|lang| lang.tag().parse().unwrap_or_default())
                    .collect()
            });
        let index = Lang::ALL
            .iter()
            .position(|known| *known == lang)
            .unwrap_or(0);
        &IDENTIFIERS[index]
    }

    /// The text of `key` in `lang`, `None` when the catalogue lacks it.
    pub fn lookup(lang: Lang, key: &str, args: &[(&str, FluentValue<'static>)]) -> Option<String> {
        if args.is_empty() {
            return LOCALES.try_lookup(identifier(lang), key);
        }
        let args: HashMap<Cow<'static, str>, FluentValue<'static>> = args
            .iter()
            .map(|(name, value)| (Cow::Owned(name.to_string()), value.clone()))
            .collect();
        LOCALES.try_lookup_with_args(identifier(lang), key, &args)
    }

    /// The page's language (English outside a request).
    pub fn use_lang() -> Lang {
        use_context::<Lang>().unwrap_or_default()
    }

    /// The page text `key` in the page's language.
    pub fn t(key: &str) -> String {
        lookup(use_lang(), key, &[]).unwrap_or_else(|| key.to_string())
    }

    /// The page text `key` with `args` filled in.
    pub fn t_with(key: &str, args: &[(&str, &str)]) -> String {
        let args: Vec<(&str, FluentValue<'static>)> = args
            .iter()
            .map(|(name, value)| (*name, FluentValue::from(value.to_string())))
            .collect();
        lookup(use_lang(), key, &args).unwrap_or_else(|| key.to_string())
    }

    /// `keys` in the page's language, for an island.
    pub fn texts(keys: &[&str]) -> Texts {
        Texts(keys.iter().map(|key| (key.to_string(), t(key))).collect())
    }

    /// The catalogue key of message `id`: several ids share one text.
    fn message_key(id: u32, context: &Value) -> String {
        let id = match id {
            4040001 | 4050001 | 4060005 | 4070005 => 4010001,
            4010003..=4010006 => 4010002,
            4040002 | 4060001 | 4070002 => 4010007,
            4000040
                if context
                    .get("value")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .is_empty() =>
            {
                return "msg-4000040-blank".into();
            }
            other => other,
        };
        format!("msg-{id}")
    }

    /// Message `id` in `lang` with `context` filled in; `None` for an id the catalogue lacks.
    pub fn message(lang: Lang, id: u32, context: &Value) -> Option<String> {
        let mut args: Vec<(&str, FluentValue<'static>)> = Vec::new();
        if let Value::Object(fields) = context {
            for (name, value) in fields {
                let value = match value {
                    Value::Number(number) => match number.as_f64() {
                        Some(number) => FluentValue::from(number),
                        None => FluentValue::from(number.to_string()),
                    },
                    Value::String(text) => FluentValue::from(text.clone()),
                    Value::Null => continue,
                    other => FluentValue::from(other.to_string()),
                };
                args.push((name.as_str(), value));
            }
        }
        if id == 1050015 {
            args.push(("codes", FluentValue::from(backup_codes(lang, context))));
        }
        lookup(lang, &message_key(id, context), &args)
    }

    /// The backup codes of message 1050015: each code, or "used" for a spent one.
    fn backup_codes(lang: Lang, context: &Value) -> String {
        let used = lookup(lang, "form-code-used", &[]).unwrap_or_default();
        context
            .get("secrets")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|secret| match secret.get("id").and_then(Value::as_u64) {
                Some(1050014) => used.clone(),
                _ => secret
                    .pointer("/context/secret")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn translate(text: &mut UiText, lang: Lang) {
        if let Some(translated) =
            message(lang, text.id, text.context.as_ref().unwrap_or(&Value::Null))
        {
            text.text = translated;
        }
    }

    /// Every text of a flow's form in the page's language.
    pub fn translate_ui(ui: &mut UiContainer) {
        let lang = use_lang();
        ui.messages
            .iter_mut()
            .for_each(|text| translate(text, lang));
        for node in &mut ui.nodes {
            node.messages
                .iter_mut()
                .for_each(|text| translate(text, lang));
            if let Some(label) = &mut node.meta.label {
                translate(label, lang);
            }
            match &mut node.attributes {
                NodeAttributes::A(anchor) => translate(&mut anchor.title, lang),
                NodeAttributes::Other(attributes) => {
                    let text = attributes
                        .get("text")
                        .cloned()
                        .and_then(|value| serde_json::from_value::<UiText>(value).ok());
                    if let Some(mut text) = text {
                        translate(&mut text, lang);
                        if let (Ok(value), Some(attributes)) =
                            (serde_json::to_value(text), attributes.as_object_mut())
                        {
                            attributes.insert("text".into(), value);
                        }
                    }
                }
                NodeAttributes::Input(_) => {}
            }
        }
    }

    /// For the language picker: each language's own name, and this page's address with
    /// `?lang=` set to it (the other parameters, such as `flow`, kept).
    pub fn language_links() -> Vec<(Lang, String, String)> {
        let parts = use_context::<http::request::Parts>();
        let path = parts
            .as_ref()
            .map(|parts| parts.uri.path().to_string())
            .unwrap_or_else(|| "/".into());
        let kept: Vec<&str> = parts
            .as_ref()
            .and_then(|parts| parts.uri.query())
            .map(|query| {
                query
                    .split('&')
                    .filter(|pair| !pair.is_empty() && !pair.starts_with("lang="))
                    .collect()
            })
            .unwrap_or_default();
        Lang::ALL
            .into_iter()
            .map(|lang| {
                let mut query = kept.clone();
                let chosen = format!("lang={}", lang.tag());
                query.push(&chosen);
                let name = lookup(lang, "language-name", &[]).unwrap_or_default();
                (lang, name, format!("{path}?{}", query.join("&")))
            })
            .collect()
    }

    /// Picks this request's language and provides it to the page; a language chosen with
    /// `?lang=` is remembered in a cookie for a year.
    pub fn provide_request_lang() -> Lang {
        let parts = use_context::<http::request::Parts>();
        let chosen = parts.as_ref().and_then(|parts| {
            parts.uri.query().and_then(|query| {
                query
                    .split('&')
                    .filter_map(|pair| pair.split_once('='))
                    .find(|(key, _)| *key == "lang")
                    .and_then(|(_, value)| Lang::parse(value))
            })
        });
        let header = |name: http::header::HeaderName| {
            parts
                .as_ref()
                .and_then(|parts| parts.headers.get(name))
                .and_then(|value| value.to_str().ok())
                .map(str::to_string)
        };
        let lang = chosen.unwrap_or_else(|| {
            Lang::negotiate(
                header(http::header::COOKIE).as_deref(),
                header(http::header::ACCEPT_LANGUAGE).as_deref(),
            )
        });
        if let (Some(lang), Some(response)) =
            (chosen, use_context::<leptos_axum::ResponseOptions>())
        {
            let cookie = format!(
                "{LANGUAGE_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax",
                lang.tag()
            );
            if let Ok(value) = http::HeaderValue::from_str(&cookie) {
                response.append_header(http::header::SET_COOKIE, value);
            }
        }
        provide_context(lang);
        lang
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_come_from_tags_and_accept_language() {
        assert_eq!(Lang::parse("de-AT"), Some(Lang::De));
        assert_eq!(Lang::parse("zh-Hans"), Some(Lang::ZhCn));
        assert_eq!(Lang::parse("FR"), Some(Lang::Fr));
        assert_eq!(Lang::parse("pt-BR"), None);
        assert_eq!(
            Lang::from_accept_language("pt-BR, ru;q=0.8, de;q=0.9, *;q=0.1"),
            Some(Lang::De)
        );
        assert_eq!(Lang::from_accept_language("es;q=0, nl"), None);
        assert_eq!(
            Lang::negotiate(Some("a=b; ward_lang=ru"), Some("de")),
            Lang::Ru
        );
        assert_eq!(Lang::negotiate(Some("a=b"), Some("de")), Lang::De);
        assert_eq!(Lang::negotiate(None, None), Lang::En);
    }

    /// Every language has every key English has, and no key English lacks.
    #[test]
    fn catalogues_are_complete() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("locales");
        let keys = |lang: Lang| {
            let mut keys = std::collections::BTreeSet::new();
            for file in ["messages.ftl", "pages.ftl"] {
                let path = root.join(lang.tag()).join(file);
                let text = std::fs::read_to_string(&path)
                    .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
                for line in text.lines() {
                    if let Some((key, _)) = line.split_once(" =")
                        && !key.is_empty()
                        && !key.starts_with([' ', '#', '[', '*'])
                    {
                        keys.insert(key.to_string());
                    }
                }
            }
            keys
        };
        let english = keys(Lang::En);
        assert!(english.len() > 150, "{}", english.len());
        for lang in Lang::ALL {
            let theirs = keys(lang);
            let missing: Vec<_> = english.difference(&theirs).collect();
            let extra: Vec<_> = theirs.difference(&english).collect();
            assert!(missing.is_empty(), "{} lacks {missing:?}", lang.tag());
            assert!(
                extra.is_empty(),
                "{} has keys English lacks: {extra:?}",
                lang.tag()
            );
        }
        for key in FORM_KEYS.iter().chain(THEME_KEYS) {
            assert!(english.contains(*key), "{key}");
        }
    }
}

#[cfg(all(test, feature = "ssr"))]
mod catalogue_tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn messages_take_their_context_in_every_language() {
        let context = json!({"min_length": 8, "actual_length": 3});
        assert_eq!(
            message(Lang::En, 4000032, &context).unwrap(),
            "The password must be at least 8 characters long, but got 3."
        );
        assert_eq!(
            message(Lang::De, 4000032, &context).unwrap(),
            "Das Passwort muss mindestens 8 Zeichen lang sein, hat aber 3."
        );
        let wait = |minutes: u64| json!({"retry_after_minutes": minutes});
        assert_eq!(
            message(Lang::En, 4009001, &wait(1)).unwrap(),
            "Too many attempts. Please wait a minute, then try again."
        );
        assert!(
            message(Lang::Ru, 4009001, &wait(3))
                .unwrap()
                .contains("3 минуты")
        );
        assert!(
            message(Lang::Ru, 4009001, &wait(5))
                .unwrap()
                .contains("5 минут")
        );
        assert_eq!(
            message(Lang::Fr, 4060005, &json!(null)),
            message(Lang::Fr, 4010001, &json!(null))
        );
        assert_eq!(
            message(Lang::En, 4000040, &json!({"value": ""})).unwrap(),
            "The value is not a valid email address."
        );
        assert_eq!(message(Lang::ZhCn, 9999999, &json!(null)), None);
    }
}
