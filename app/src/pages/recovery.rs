use leptos::prelude::*;

use super::flow_page::FlowScreen;
use crate::i18n::t;
use crate::model::PageFlow;

#[component]
pub fn Recovery() -> impl IntoView {
    view! {
        <FlowScreen
            kind=PageFlow::Recovery
            title="recovery-title"
            heading="recovery-title"
            links=|_| view! {
                <span>{t("recovery-remembered")}</span>
                <a href="/login" rel="external" data-testid="link-login">{t("sign-in")}</a>
            }.into_any()
        />
    }
}
