//! The message catalogue: every user-facing text by its stable id (reference §4), in English.
//! The engine fills `text` from here; the pages look texts up here too, so a translation is a
//! second table keyed by the same ids.

use serde_json::Value;

/// Success messages among the 1xxxxxx ids (the rest of that range is informational).
pub fn is_success(id: u32) -> bool {
    matches!(id, 1050001 | 1060001 | 1080002 | 1080005)
}

/// The text to show for a message: the catalogue's, else the one the server sent.
pub fn display(id: u32, context: Option<&Value>, sent: &str) -> String {
    let text = english(id, context.unwrap_or(&Value::Null));
    if text.starts_with("Message ") || text.is_empty() {
        sent.to_string()
    } else {
        text
    }
}

/// The English text of message `id`, with `context` values filled in.
pub fn english(id: u32, context: &Value) -> String {
    let field = |key: &str| -> String {
        match context.get(key) {
            Some(Value::String(text)) => text.clone(),
            Some(other) if !other.is_null() => other.to_string(),
            _ => String::new(),
        }
    };
    match id {
        1010001 => "Sign in".into(),
        1010002 => format!("Sign in with {}", field("provider")),
        1010016 => format!(
            "You tried to sign in with \"{}\", but that email is already used by another account. Sign in to your account with one of the options below to add your account \"{}\" at \"{}\" as another way to sign in.",
            field("duplicate_identifier"),
            field("duplicate_identifier"),
            field("provider")
        ),
        1010017 => "Sign in and link".into(),
        1010018 => format!("Confirm with {}", field("provider")),
        1010003 => "Please confirm this action by verifying that it is you.".into(),
        1010004 => "Please complete the second authentication challenge.".into(),
        1010006 => "Authentication code".into(),
        1010007 => "Backup recovery code".into(),
        1010009 => "Use Authenticator".into(),
        1010010 => "Use backup recovery code".into(),
        1010013 => "Continue".into(),
        1010022 => "Sign in with password".into(),
        1010008 => "Sign in with a hardware key".into(),
        1010021 => "Sign in with passkey".into(),
        1040001 => "Sign up".into(),
        1040002 => format!("Sign up with {}", field("provider")),
        1040007 => "Sign up with passkey".into(),
        1040003 => "Continue".into(),
        1050001 => "Your changes have been saved!".into(),
        1050002 => format!("Link {}", field("provider")),
        1050003 => format!("Unlink {}", field("provider")),
        1050004 => "Unlink TOTP Authenticator App".into(),
        1050005 => "Authenticator app QR code".into(),
        1050006 | 1050009 => field("secret"),
        1050007 => "Reveal backup recovery codes".into(),
        1050008 => "Generate new backup recovery codes".into(),
        1050010 => "These are your back up recovery codes. Please keep them in a safe place!".into(),
        1050011 => "Confirm backup recovery codes".into(),
        1050012 => "Add security key".into(),
        1050013 => "Name of the security key".into(),
        1050014 => format!("Secret was used at {}", field("used_at")),
        1050015 => lookup_codes(context),
        1050016 => "Disable this method".into(),
        1050017 => "This is your authenticator app secret. Use it if you can not scan the QR code.".into(),
        1050018 => format!("Remove security key \"{}\"", field("display_name")),
        1050019 => "Add passkey".into(),
        1050020 => format!("Remove passkey \"{}\"", field("display_name")),
        1059001 => "Your account needs a second factor: set up an authenticator app below to continue.".into(),
        1059002 => format!(
            "Your new address {} takes the place of the old one once you verify it: we sent it a code.",
            field("address")
        ),
        1060001 => "You successfully recovered your account. Please change your password or set up an alternative sign-in method within the next few minutes.".into(),
        1060002 => "An email containing a recovery link has been sent to the email address you provided. If you have not received an email, check the spelling of the address and make sure to use the address you registered with.".into(),
        1060003 => "An email containing a recovery code has been sent to the email address you provided. If you have not received an email, check the spelling of the address and make sure to use the address you registered with.".into(),
        1070006 => "Verify code".into(),
        1070008 => "Resend code".into(),
        1070010 => "Recovery code".into(),
        1070011 => "Verification code".into(),
        1080001 => "An email containing a verification link has been sent to the email address you provided. If you have not received an email, check the spelling of the address and retry.".into(),
        1080002 => "You successfully verified your email address.".into(),
        1080003 => "An email containing a verification code has been sent to the email address you provided. If you have not received an email, check the spelling of the address and retry.".into(),
        1070001 => "Password".into(),
        1070002 => field("title"),
        1070003 => "Save".into(),
        1070004 => "ID".into(),
        1070005 => "Submit".into(),
        1070007 => "Email".into(),
        1070009 => "Continue".into(),
        4000001 => field("reason"),
        4000002 => format!("Property {} is missing.", field("property")),
        4000003 => format!("Length must be >= {}, but got {}.", field("min_length"), field("actual_length")),
        4000004 => format!("Does not match pattern \"{}\".", field("pattern")),
        4000005 => format!("The password can not be used because {}.", field("reason")),
        4000006 => "The provided credentials are invalid, check for spelling mistakes in your password or username, email address, or phone number.".into(),
        4000008 => "The provided authentication code is invalid, please try again.".into(),
        4000011 => "You have no TOTP device set up.".into(),
        4000013 => "You have no WebAuthn device set up.".into(),
        4000015 => "This account does not exist or has no security key set up.".into(),
        4000043 => "The provided web authn login is invalid, please try again.".into(),
        4000012 => "This backup recovery code has already been used.".into(),
        4000014 => "You have no backup recovery codes set up.".into(),
        4000016 => "The backup recovery code is not valid.".into(),
        4000007 => "An account with the same identifier (email, phone, username, ...) exists already.".into(),
        4000017 => format!("Length must be <= {}, but got {}.", field("max_length"), field("actual_length")),
        4000018 => format!("Must be >= {} but found {}.", field("minimum"), field("actual")),
        4000020 => format!("Must be <= {} but found {}.", field("maximum"), field("actual")),
        4000026 => format!("Expected {} but got {}.", field("allowed_types"), field("actual_type")),
        4000031 => "The password can not be used because it is too similar to the identifier.".into(),
        4000032 => format!(
            "The password must be at least {} characters long, but got {}.",
            field("min_length"),
            field("actual_length")
        ),
        4000033 => format!(
            "The password must be at most {} characters long, but got {}.",
            field("max_length"),
            field("actual_length")
        ),
        4000040 => format!("{} is not a valid email address.", quoted(&field("value"))),
        4010001 | 4040001 | 4050001 | 4060005 | 4070005 => {
            "The flow expired, please try again.".into()
        }
        4010002..=4010006 => {
            "Could not find a strategy to handle this request. Please check the submitted method.".into()
        }
        4010007 | 4040002 | 4060001 | 4070002 => {
            "This flow was already completed. Please start again.".into()
        }
        4000010 => "Your account is not active yet. Did you forget to verify your email address?".into(),
        4000039 => "The new password must differ from the current one.".into(),
        4010011 => "This account was disabled.".into(),
        4009001 => match context.get("retry_after_minutes").and_then(Value::as_u64) {
            Some(1) => "Too many attempts. Please wait a minute, then try again.".into(),
            _ => format!("Too many attempts. Please wait {} minutes, then try again.", field("retry_after_minutes")),
        },
        4060004 => "The recovery token is invalid or has already been used. Please retry the flow.".into(),
        4060006 => "The recovery code is invalid or has already been used. Please try again.".into(),
        4070001 => "The verification token is invalid or has already been used. Please retry the flow.".into(),
        4070006 => "The verification code is invalid or has already been used. Please try again.".into(),
        5000001 => field("reason"),
        _ => format!("Message {id}"),
    }
}

/// The backup codes of message 1050015: each code, or "used" for a spent one.
fn lookup_codes(context: &Value) -> String {
    let secrets = context.get("secrets").and_then(Value::as_array);
    secrets
        .into_iter()
        .flatten()
        .map(|secret| match secret.get("id").and_then(Value::as_u64) {
            Some(1050014) => "used".to_string(),
            _ => secret
                .pointer("/context/secret")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn quoted(value: &str) -> String {
    if value.is_empty() {
        "The value".into()
    } else {
        format!("\"{value}\"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn context_fills_the_text() {
        let text = english(4000032, &json!({"min_length": 8, "actual_length": 3}));
        assert_eq!(
            text,
            "The password must be at least 8 characters long, but got 3."
        );
        assert_eq!(english(1070002, &json!({"title": "E-Mail"})), "E-Mail");
        assert!(is_success(1050001));
        assert!(!is_success(1010001));
    }
}
