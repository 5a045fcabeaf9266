//! Message templates: built-in ones in each of the pages' languages (`builtin/<language>.yaml`),
//! replaced file by file from `courier.template_override_path` and part by part from
//! `courier.templates` in config. A mail is written in the language of the browser that started
//! its flow: an override file with that language's suffix (`email.body.gotmpl.de`) wins, then
//! one without (or the inline config), then the built-in text in that language.
//!
//! Templates are Jinja (minijinja) with the variable names Kratos documents (`RecoveryCode`,
//! `VerificationURL`, `Identity`, ...). Kratos templates are Go templates; their plain variable
//! references (`{{ .RecoveryCode }}`) are accepted as they are, other Go syntax is not.

use std::collections::BTreeMap;

use app::i18n::Lang;
use minijinja::{AutoEscape, Environment};
use serde::Deserialize;
use serde_json::Value;

use crate::config::{Courier, EmailTemplateConfig};

/// The messages Ward sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateType {
    RecoveryValid,
    RecoveryInvalid,
    RecoveryCodeValid,
    RecoveryCodeInvalid,
    VerificationValid,
    VerificationInvalid,
    VerificationCodeValid,
    VerificationCodeInvalid,
    /// To an address that an identity no longer uses (`notify_previous_addresses`).
    VerifiableAddressChanged,
    /// A sign-in code (`code` method).
    LoginCodeValid,
    /// A sign-up code (`code` method).
    RegistrationCodeValid,
}

impl TemplateType {
    pub const ALL: [Self; 11] = [
        Self::RecoveryValid,
        Self::RecoveryInvalid,
        Self::RecoveryCodeValid,
        Self::RecoveryCodeInvalid,
        Self::VerificationValid,
        Self::VerificationInvalid,
        Self::VerificationCodeValid,
        Self::VerificationCodeInvalid,
        Self::VerifiableAddressChanged,
        Self::LoginCodeValid,
        Self::RegistrationCodeValid,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::RecoveryValid => "recovery_valid",
            Self::RecoveryInvalid => "recovery_invalid",
            Self::RecoveryCodeValid => "recovery_code_valid",
            Self::RecoveryCodeInvalid => "recovery_code_invalid",
            Self::VerificationValid => "verification_valid",
            Self::VerificationInvalid => "verification_invalid",
            Self::VerificationCodeValid => "verification_code_valid",
            Self::VerificationCodeInvalid => "verification_code_invalid",
            Self::VerifiableAddressChanged => "verifiable_address_changed",
            Self::LoginCodeValid => "login_code_valid",
            Self::RegistrationCodeValid => "registration_code_valid",
        }
    }

    /// Whether someone is waiting for this mail to go on (a code or link to a flow in
    /// progress): it goes out before older mail that is not.
    pub fn waited_for(self) -> bool {
        matches!(
            self,
            Self::LoginCodeValid
                | Self::RegistrationCodeValid
                | Self::RecoveryCodeValid
                | Self::RecoveryValid
                | Self::VerificationCodeValid
                | Self::VerificationValid
        )
    }

    /// The built-in text it uses: a link and a code to an unknown address say the same.
    fn builtin_name(self) -> &'static str {
        match self {
            Self::RecoveryCodeInvalid => "recovery_invalid",
            Self::VerificationCodeInvalid => "verification_invalid",
            other => other.as_str(),
        }
    }

    /// The folder and config name (`recovery_code`) and the variant (`valid`; none for
    /// `verifiable_address_changed`, which Kratos keeps without variants).
    fn parts(self) -> (&'static str, &'static str) {
        if self == Self::VerifiableAddressChanged {
            return ("verifiable_address_changed", "");
        }
        let name = self.as_str();
        match name.rsplit_once('_') {
            Some((folder, variant)) => (folder, variant),
            None => (name, "valid"),
        }
    }
}

/// A rendered e-mail, ready to queue.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub template_type: &'static str,
    /// `email` or `sms`.
    pub channel: &'static str,
    /// The variables it was rendered with.
    pub template_data: Value,
    pub recipient: String,
    pub subject: String,
    pub plaintext: String,
    pub html: String,
}

const PARTS: [(&str, &str); 4] = [
    ("subject", "email.subject.gotmpl"),
    ("html", "email.body.gotmpl"),
    ("plaintext", "email.body.plaintext.gotmpl"),
    // Text messages, for the templates that have them (codes).
    ("sms", "sms.body.gotmpl"),
];

pub struct Templates {
    env: Environment<'static>,
}

impl Templates {
    /// Compiles every template in every language; an override that does not compile names its
    /// file or key.
    pub fn load(config: &Courier) -> anyhow::Result<Self> {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|name| {
            if name.ends_with("/html") {
                AutoEscape::Html
            } else {
                AutoEscape::None
            }
        });
        let builtins = builtins()?;
        for kind in TemplateType::ALL {
            let (folder, variant) = kind.parts();
            let inline = config.templates.get(folder).and_then(|pair| match variant {
                "valid" => pair.valid.as_ref().map(|template| &template.email),
                "invalid" => pair.invalid.as_ref().map(|template| &template.email),
                _ => pair.email.as_ref(),
            });
            // `<folder>/<variant>/email.*`, or `<folder>/email.*` without variants.
            let key = [folder, variant]
                .into_iter()
                .filter(|part| !part.is_empty())
                .collect::<Vec<_>>()
                .join(".");
            for lang in Lang::ALL {
                let builtin = builtins
                    .get(&lang)
                    .and_then(|texts| texts.get(kind.builtin_name()))
                    .ok_or_else(|| {
                        anyhow::anyhow!("no built-in {} in {}", kind.as_str(), lang.tag())
                    })?;
                for (part, file) in PARTS {
                    let Some(mut source) = builtin.part(part) else {
                        continue;
                    };
                    let mut origin = format!("the built-in {} {part}", kind.as_str());
                    let read = |path: &std::path::Path| {
                        std::fs::read_to_string(path)
                            .map_err(|error| anyhow::anyhow!("{}: {error}", path.display()))
                    };
                    let dir = config
                        .template_override_path
                        .as_ref()
                        .map(|dir| dir.join(folder).join(variant));
                    if let Some(path) = dir.as_ref().map(|dir| dir.join(file))
                        && path.exists()
                    {
                        source = read(&path)?;
                        origin = path.display().to_string();
                    }
                    if let Some(text) = inline.and_then(|email| inline_part(email, part)) {
                        origin = format!("courier.templates.{key}.email.{part}");
                        source =
                            resolve(text).map_err(|error| anyhow::anyhow!("{origin}: {error}"))?;
                    }
                    if let Some(path) = dir.map(|dir| dir.join(format!("{file}.{}", lang.tag())))
                        && path.exists()
                    {
                        source = read(&path)?;
                        origin = path.display().to_string();
                    }
                    env.add_template_owned(name(kind, lang, part), go_references(&source))
                        .map_err(|error| anyhow::anyhow!("{origin}: {error}"))?;
                }
            }
        }
        Ok(Self { env })
    }

    /// Renders `kind` in `lang` for `to`; `vars` holds the template's variables besides `To`.
    pub fn render(
        &self,
        kind: TemplateType,
        lang: Lang,
        to: &str,
        vars: Value,
    ) -> anyhow::Result<Rendered> {
        let vars = with_recipient(vars, to);
        let render = |part: &str| -> anyhow::Result<String> {
            Ok(self
                .env
                .get_template(&name(kind, lang, part))?
                .render(&vars)?)
        };
        Ok(Rendered {
            template_type: kind.as_str(),
            channel: "email",
            recipient: to.to_string(),
            subject: render("subject")?.trim().to_string(),
            plaintext: render("plaintext")?,
            html: render("html")?,
            template_data: vars,
        })
    }

    /// Renders the text message of `kind` in `lang` for the phone number `to`; an error when
    /// `kind` has none.
    pub fn render_sms(
        &self,
        kind: TemplateType,
        lang: Lang,
        to: &str,
        vars: Value,
    ) -> anyhow::Result<Rendered> {
        let vars = with_recipient(vars, to);
        let text = self
            .env
            .get_template(&name(kind, lang, "sms"))?
            .render(&vars)?;
        Ok(Rendered {
            template_type: kind.as_str(),
            channel: "sms",
            recipient: to.to_string(),
            subject: String::new(),
            plaintext: text.trim().to_string(),
            html: String::new(),
            template_data: vars,
        })
    }
}

/// A template's variables with Kratos's `To` and an empty `TransientPayload` added.
fn with_recipient(mut vars: Value, to: &str) -> Value {
    if let Some(object) = vars.as_object_mut() {
        object.insert("To".into(), Value::String(to.to_string()));
        object
            .entry("TransientPayload")
            .or_insert_with(|| Value::Object(Default::default()));
    }
    vars
}

fn name(kind: TemplateType, lang: Lang, part: &str) -> String {
    format!("{}/{}/{part}", kind.as_str(), lang.tag())
}

fn inline_part<'a>(email: &'a EmailTemplateConfig, part: &str) -> Option<&'a str> {
    match part {
        "subject" => email.subject.as_deref(),
        "html" => email.body.html.as_deref(),
        "plaintext" => email.body.plaintext.as_deref(),
        _ => None,
    }
}

/// A template in config: text, or a `base64://` or `file://` URL holding it.
fn resolve(text: &str) -> anyhow::Result<String> {
    match crate::config::read_local_url(text) {
        Some(bytes) => Ok(String::from_utf8(bytes.map_err(anyhow::Error::msg)?)?),
        None => Ok(text.to_string()),
    }
}

/// Go templates refer to variables as `.Name`; Jinja as `Name`.
fn go_references(source: &str) -> String {
    source
        .replace("{{ .", "{{ ")
        .replace("{{.", "{{")
        .replace("{{- .", "{{- ")
}

/// One built-in message in one language.
#[derive(Deserialize)]
struct Builtin {
    subject: String,
    /// Plain text; the HTML part is made from it (see [`Builtin::html`]).
    body: String,
    /// The text message, for messages that can go by SMS.
    sms: Option<String>,
}

impl Builtin {
    fn part(&self, part: &str) -> Option<String> {
        match part {
            "subject" => Some(self.subject.clone()),
            "html" => Some(self.html()),
            "sms" => self.sms.clone(),
            _ => Some(self.body.clone()),
        }
    }

    /// The body as HTML: a paragraph per block of lines; a block that is only a variable
    /// becomes a link when it holds a URL, else bold (a code to type).
    fn html(&self) -> String {
        self.body
            .split("\n\n")
            .map(str::trim)
            .filter(|block| !block.is_empty())
            .map(|block| {
                let variable = block
                    .strip_prefix("{{")
                    .and_then(|rest| rest.strip_suffix("}}"))
                    .map(str::trim)
                    .filter(|name| name.chars().all(|c| c.is_ascii_alphanumeric()));
                match variable {
                    Some(name) if name.ends_with("URL") => {
                        format!("<p><a href=\"{block}\">{block}</a></p>")
                    }
                    Some(_) => format!("<p><strong>{block}</strong></p>"),
                    None => format!(
                        "<p>{}</p>",
                        block
                            .replace('&', "&amp;")
                            .replace('<', "&lt;")
                            .replace('>', "&gt;")
                            .replace('\n', "<br>")
                    ),
                }
            })
            .collect()
    }
}

/// Ward's own wording of the built-in messages, by language.
fn builtins() -> anyhow::Result<BTreeMap<Lang, BTreeMap<String, Builtin>>> {
    let sources = [
        (Lang::En, include_str!("builtin/en.yaml")),
        (Lang::De, include_str!("builtin/de.yaml")),
        (Lang::Fr, include_str!("builtin/fr.yaml")),
        (Lang::Es, include_str!("builtin/es.yaml")),
        (Lang::Ru, include_str!("builtin/ru.yaml")),
        (Lang::ZhCn, include_str!("builtin/zh-CN.yaml")),
    ];
    sources
        .into_iter()
        .map(|(lang, source)| {
            let texts = serde_norway::from_str(source)
                .map_err(|error| anyhow::anyhow!("the built-in {} e-mails: {error}", lang.tag()))?;
            Ok((lang, texts))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Courier, TemplateConfig};
    use serde_json::json;

    #[test]
    fn builtins_render_with_their_variables() {
        let templates = Templates::load(&Courier::default()).unwrap();
        let mail = templates
            .render(
                TemplateType::RecoveryCodeValid,
                Lang::En,
                "a@example.com",
                json!({"RecoveryCode": "123456", "ExpiresInMinutes": 60}),
            )
            .unwrap();
        assert_eq!(mail.subject, "Your recovery code is 123456");
        assert!(mail.plaintext.contains("123456") && mail.plaintext.contains("a@example.com"));
        assert_eq!(mail.template_type, "recovery_code_valid");
    }

    #[test]
    fn html_escapes_and_overrides_apply() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("verification_code").join("valid");
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(
            folder.join("email.body.gotmpl"),
            "<b>{{ .VerificationCode }}</b> {{ To }}",
        )
        .unwrap();
        let mut config = Courier {
            template_override_path: Some(dir.path().into()),
            ..Courier::default()
        };
        let mut inline = TemplateConfig::default();
        inline.email.subject = Some("base64://Q29kZToge3sgVmVyaWZpY2F0aW9uQ29kZSB9fQ==".into());
        config.templates.insert(
            "verification_code".into(),
            crate::config::TemplatePair {
                valid: Some(inline),
                ..Default::default()
            },
        );
        let templates = Templates::load(&config).unwrap();
        let mail = templates
            .render(
                TemplateType::VerificationCodeValid,
                Lang::En,
                "<x@example.com>",
                json!({"VerificationCode": "654321", "VerificationURL": "http://x"}),
            )
            .unwrap();
        assert_eq!(mail.html, "<b>654321</b> &lt;x@example.com&gt;");
        assert_eq!(mail.subject, "Code: 654321");
        assert!(
            mail.plaintext.contains("654321"),
            "built-in plaintext stays"
        );

        // Kratos keeps `verifiable_address_changed` without variants: a file in its folder,
        // and `courier.templates.verifiable_address_changed.email` inline.
        let changed = dir.path().join("verifiable_address_changed");
        std::fs::create_dir_all(&changed).unwrap();
        std::fs::write(
            changed.join("email.body.plaintext.gotmpl"),
            "moved at {{ .ChangedAt }}",
        )
        .unwrap();
        let email = crate::config::EmailTemplateConfig {
            subject: Some("Changed for {{ To }}".into()),
            ..Default::default()
        };
        config.templates.insert(
            "verifiable_address_changed".into(),
            crate::config::TemplatePair {
                email: Some(email),
                ..Default::default()
            },
        );
        let mail = Templates::load(&config)
            .unwrap()
            .render(
                TemplateType::VerifiableAddressChanged,
                Lang::En,
                "old@example.com",
                json!({"ChangedAt": "2026-11-30T12:00:00Z", "NewAddress": "new@example.com"}),
            )
            .unwrap();
        assert_eq!(mail.subject, "Changed for old@example.com");
        assert_eq!(mail.plaintext, "moved at 2026-11-30T12:00:00Z");

        config.templates.clear();
        std::fs::write(folder.join("email.subject.gotmpl"), "{{ broken").unwrap();
        let error = Templates::load(&config).err().unwrap().to_string();
        assert!(error.contains("email.subject.gotmpl"), "{error}");
    }

    #[test]
    fn mails_come_in_the_flow_language_and_overrides_can_be_per_language() {
        let templates = Templates::load(&Courier::default()).unwrap();
        let vars = json!({"RecoveryCode": "123456", "ExpiresInMinutes": 15});
        for lang in Lang::ALL {
            for kind in TemplateType::ALL {
                let mail = templates
                    .render(kind, lang, "a@example.com", vars.clone())
                    .unwrap();
                assert!(!mail.subject.is_empty(), "{kind:?} {lang:?}");
                assert!(mail.html.starts_with("<p>"), "{}", mail.html);
            }
        }
        let german = templates
            .render(
                TemplateType::RecoveryCodeValid,
                Lang::De,
                "a@example.com",
                vars.clone(),
            )
            .unwrap();
        assert_eq!(german.subject, "Ihr Wiederherstellungscode lautet 123456");
        assert!(
            german.plaintext.contains("15 Minuten gültig"),
            "{}",
            german.plaintext
        );
        assert!(
            german.html.contains("<p><strong>123456</strong></p>"),
            "{}",
            german.html
        );
        let link = templates
            .render(
                TemplateType::VerificationValid,
                Lang::Fr,
                "a@example.com",
                json!({"VerificationURL": "https://id.example/v?a=1&b=2"}),
            )
            .unwrap();
        assert!(
            link.html
                .contains(r#"<a href="https:&#x2f;&#x2f;id.example&#x2f;v?a=1&amp;b=2">"#),
            "{}",
            link.html
        );

        // A file with a language's suffix beats the one without, for that language only.
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("recovery_code").join("valid");
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(
            folder.join("email.subject.gotmpl"),
            "Code {{ RecoveryCode }}",
        )
        .unwrap();
        std::fs::write(
            folder.join("email.subject.gotmpl.de"),
            "Kode {{ RecoveryCode }}",
        )
        .unwrap();
        let config = Courier {
            template_override_path: Some(dir.path().into()),
            ..Courier::default()
        };
        let templates = Templates::load(&config).unwrap();
        let subject = |lang| {
            templates
                .render(
                    TemplateType::RecoveryCodeValid,
                    lang,
                    "a@example.com",
                    vars.clone(),
                )
                .unwrap()
                .subject
        };
        assert_eq!(subject(Lang::De), "Kode 123456");
        assert_eq!(subject(Lang::Ru), "Code 123456");
        assert_eq!(subject(Lang::En), "Code 123456");
    }
}
