//! Message templates: built-in ones, replaced file by file from `courier.template_override_path`
//! and part by part from `courier.templates` in config.
//!
//! Templates are Jinja (minijinja) with the variable names Kratos documents (`RecoveryCode`,
//! `VerificationURL`, `Identity`, ...). Kratos templates are Go templates; their plain variable
//! references (`{{ .RecoveryCode }}`) are accepted as they are, other Go syntax is not.

use minijinja::{AutoEscape, Environment};
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
}

impl TemplateType {
    pub const ALL: [Self; 9] = [
        Self::RecoveryValid,
        Self::RecoveryInvalid,
        Self::RecoveryCodeValid,
        Self::RecoveryCodeInvalid,
        Self::VerificationValid,
        Self::VerificationInvalid,
        Self::VerificationCodeValid,
        Self::VerificationCodeInvalid,
        Self::VerifiableAddressChanged,
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
    pub recipient: String,
    pub subject: String,
    pub plaintext: String,
    pub html: String,
}

const PARTS: [(&str, &str); 3] = [
    ("subject", "email.subject.gotmpl"),
    ("html", "email.body.gotmpl"),
    ("plaintext", "email.body.plaintext.gotmpl"),
];

pub struct Templates {
    env: Environment<'static>,
}

impl Templates {
    /// Compiles every template; an override that does not compile names its file or key.
    pub fn load(config: &Courier) -> anyhow::Result<Self> {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|name| {
            if name.ends_with("/html") {
                AutoEscape::Html
            } else {
                AutoEscape::None
            }
        });
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
            for (part, file) in PARTS {
                let mut source = builtin(kind, part).to_string();
                let mut origin = format!("the built-in {} {part}", kind.as_str());
                if let Some(dir) = &config.template_override_path {
                    let path = dir.join(folder).join(variant).join(file);
                    if path.exists() {
                        source = std::fs::read_to_string(&path)
                            .map_err(|error| anyhow::anyhow!("{}: {error}", path.display()))?;
                        origin = path.display().to_string();
                    }
                }
                if let Some(text) = inline.and_then(|email| inline_part(email, part)) {
                    origin = format!("courier.templates.{key}.email.{part}");
                    source = resolve(text).map_err(|error| anyhow::anyhow!("{origin}: {error}"))?;
                }
                env.add_template_owned(name(kind, part), go_references(&source))
                    .map_err(|error| anyhow::anyhow!("{origin}: {error}"))?;
            }
        }
        Ok(Self { env })
    }

    /// Renders `kind` for `to`; `vars` holds the template's variables besides `To`.
    pub fn render(
        &self,
        kind: TemplateType,
        to: &str,
        mut vars: Value,
    ) -> anyhow::Result<Rendered> {
        if let Some(object) = vars.as_object_mut() {
            object.insert("To".into(), Value::String(to.to_string()));
            object
                .entry("TransientPayload")
                .or_insert_with(|| Value::Object(Default::default()));
        }
        let render = |part: &str| -> anyhow::Result<String> {
            Ok(self.env.get_template(&name(kind, part))?.render(&vars)?)
        };
        Ok(Rendered {
            template_type: kind.as_str(),
            recipient: to.to_string(),
            subject: render("subject")?.trim().to_string(),
            plaintext: render("plaintext")?,
            html: render("html")?,
        })
    }
}

fn name(kind: TemplateType, part: &str) -> String {
    format!("{}/{part}", kind.as_str())
}

fn inline_part<'a>(email: &'a EmailTemplateConfig, part: &str) -> Option<&'a str> {
    match part {
        "subject" => email.subject.as_deref(),
        "html" => email.body.html.as_deref(),
        _ => email.body.plaintext.as_deref(),
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

/// Ward's own wording of the built-in messages.
fn builtin(kind: TemplateType, part: &str) -> &'static str {
    use TemplateType::*;
    match (kind, part) {
        (RecoveryValid, "subject") => "Recover access to your account",
        (RecoveryValid, "plaintext") => {
            "Hi,\n\nsomeone asked to recover access to the account of {{ To }}. \
             If it was you, open this link within {{ ExpiresInMinutes }} minutes:\n\n{{ RecoveryURL }}\n\n\
             If it was not you, ignore this message.\n"
        }
        (RecoveryValid, _) => {
            "<p>Hi,</p><p>someone asked to recover access to the account of {{ To }}. \
             If it was you, open this link within {{ ExpiresInMinutes }} minutes:</p>\
             <p><a href=\"{{ RecoveryURL }}\">{{ RecoveryURL }}</a></p>\
             <p>If it was not you, ignore this message.</p>"
        }
        (RecoveryCodeValid, "subject") => "Your recovery code is {{ RecoveryCode }}",
        (RecoveryCodeValid, "plaintext") => {
            "Hi,\n\nenter this code to recover access to the account of {{ To }}:\n\n{{ RecoveryCode }}\n\n\
             It expires in {{ ExpiresInMinutes }} minutes. If you did not ask for it, ignore this message.\n"
        }
        (RecoveryCodeValid, _) => {
            "<p>Hi,</p><p>enter this code to recover access to the account of {{ To }}:</p>\
             <p><strong>{{ RecoveryCode }}</strong></p>\
             <p>It expires in {{ ExpiresInMinutes }} minutes. If you did not ask for it, ignore this message.</p>"
        }
        (RecoveryInvalid | RecoveryCodeInvalid, "subject") => "Account recovery",
        (RecoveryInvalid | RecoveryCodeInvalid, "plaintext") => {
            "Hi,\n\nsomeone asked to recover an account with this address ({{ To }}), \
             but no account uses it. If it was you, check whether you signed up with another address.\n\n\
             If it was not you, ignore this message.\n"
        }
        (RecoveryInvalid | RecoveryCodeInvalid, _) => {
            "<p>Hi,</p><p>someone asked to recover an account with this address ({{ To }}), \
             but no account uses it. If it was you, check whether you signed up with another address.</p>\
             <p>If it was not you, ignore this message.</p>"
        }
        (VerificationValid, "subject") => "Please verify your email address",
        (VerificationValid, "plaintext") => {
            "Hi,\n\nplease confirm that {{ To }} is your address by opening this link:\n\n{{ VerificationURL }}\n"
        }
        (VerificationValid, _) => {
            "<p>Hi,</p><p>please confirm that {{ To }} is your address by opening this link:</p>\
             <p><a href=\"{{ VerificationURL }}\">{{ VerificationURL }}</a></p>"
        }
        (VerificationCodeValid, "subject") => "Your verification code is {{ VerificationCode }}",
        (VerificationCodeValid, "plaintext") => {
            "Hi,\n\nplease confirm that {{ To }} is your address by entering this code:\n\n{{ VerificationCode }}\n\n\
             or by opening this link:\n\n{{ VerificationURL }}\n"
        }
        (VerificationCodeValid, _) => {
            "<p>Hi,</p><p>please confirm that {{ To }} is your address by entering this code:</p>\
             <p><strong>{{ VerificationCode }}</strong></p>\
             <p>or by opening this link: <a href=\"{{ VerificationURL }}\">{{ VerificationURL }}</a></p>"
        }
        (VerificationInvalid | VerificationCodeInvalid, "subject") => "Email verification",
        (VerificationInvalid | VerificationCodeInvalid, "plaintext") => {
            "Hi,\n\nsomeone asked to verify this address ({{ To }}), but no account uses it. \
             If it was not you, ignore this message.\n"
        }
        (VerifiableAddressChanged, "subject") => "Your account's address was changed",
        (VerifiableAddressChanged, "plaintext") => {
            "Hi,\n\nthe account that used {{ To }} now uses {{ NewAddress }} instead. \
             If you made this change, there is nothing to do.\n\n\
             If you did not, someone else may have access to your account: contact the site's \
             support.\n"
        }
        (VerifiableAddressChanged, _) => {
            "<p>Hi,</p><p>the account that used {{ To }} now uses {{ NewAddress }} instead. \
             If you made this change, there is nothing to do.</p>\
             <p>If you did not, someone else may have access to your account: contact the \
             site's support.</p>"
        }
        (VerificationInvalid | VerificationCodeInvalid, _) => {
            "<p>Hi,</p><p>someone asked to verify this address ({{ To }}), but no account uses it. \
             If it was not you, ignore this message.</p>"
        }
    }
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
}
