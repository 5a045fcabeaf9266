//! Message ids (reference §4): which are successes, and the English text the API sends as
//! Kratos's `text`, from the English catalogue (see `i18n`).

/// Success messages among the 1xxxxxx ids (the rest of that range is informational).
pub fn is_success(id: u32) -> bool {
    matches!(id, 1050001 | 1060001 | 1080002 | 1080005)
}

/// The English text of message `id`, with `context` values filled in.
#[cfg(feature = "ssr")]
pub fn english(id: u32, context: &serde_json::Value) -> String {
    crate::i18n::message(crate::i18n::Lang::En, id, context)
        .unwrap_or_else(|| format!("Message {id}"))
}

#[cfg(all(test, feature = "ssr"))]
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
        assert_eq!(
            english(4010005, &json!(null)),
            english(4010002, &json!(null))
        );
        assert_eq!(english(1234567, &json!(null)), "Message 1234567");
        assert!(is_success(1050001));
        assert!(!is_success(1010001));
    }
}
