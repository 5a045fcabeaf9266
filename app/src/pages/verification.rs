use leptos::prelude::*;

use super::flow_page::FlowScreen;
use crate::i18n::t;
use crate::model::PageFlow;

#[component]
pub fn Verification() -> impl IntoView {
    view! {
        <FlowScreen
            kind=PageFlow::Verification
            title="verification-title"
            heading="verification-title"
            links=|_| view! {
                <span>{t("verification-done")}</span>
                <a href="/welcome" rel="external" data-testid="link-welcome">{t("back-to-start")}</a>
            }.into_any()
        />
    }
}
