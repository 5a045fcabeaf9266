use leptos::prelude::*;

use super::flow_page::FlowScreen;
use crate::i18n::t;
use crate::model::PageFlow;

#[component]
pub fn Registration() -> impl IntoView {
    view! {
        <FlowScreen
            kind=PageFlow::Registration
            title="registration-title"
            heading="registration-heading"
            links=|carry| view! {
                <span>{t("registration-have-account")}</span>
                <a href=format!("/login{carry}") rel="external" data-testid="link-login">{t("sign-in")}</a>
            }.into_any()
        />
    }
}
