use leptos::prelude::*;

use super::flow_page::FlowScreen;
use crate::i18n::t;
use crate::model::PageFlow;

#[component]
pub fn Login() -> impl IntoView {
    view! {
        <FlowScreen
            kind=PageFlow::Login
            title="login-title"
            heading="login-title"
            links=|carry| view! {
                <span>{t("login-no-account")}</span>
                <a href=format!("/registration{carry}") rel="external" data-testid="link-registration">{t("login-sign-up")}</a>
                <a href="/recovery" rel="external" data-testid="link-recovery">{t("login-forgot")}</a>
            }.into_any()
        />
    }
}
