use leptos::prelude::*;

use super::flow_page::FlowScreen;
use crate::i18n::t;
use crate::model::PageFlow;

#[component]
pub fn Settings() -> impl IntoView {
    view! {
        <FlowScreen
            kind=PageFlow::Settings
            sections=true
            title="settings-title"
            heading="settings-title"
            links=|_| view! {
                <a href="/sessions" rel="external" data-testid="link-sessions">{t("your-sessions")}</a>
                <a href="/welcome" rel="external" data-testid="link-welcome">{t("back-to-start")}</a>
            }.into_any()
        />
    }
}
