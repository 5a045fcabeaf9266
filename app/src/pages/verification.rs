use leptos::prelude::*;

use super::flow_page::FlowScreen;
use crate::model::PageFlow;

#[component]
pub fn Verification() -> impl IntoView {
    view! {
        <FlowScreen
            kind=PageFlow::Verification
            title="Verify your email address"
            heading="Verify your email address"
            links=|| view! {
                <span>"Done? "</span>
                <a href="/welcome" rel="external" data-testid="link-welcome">"Back to the start"</a>
            }
        />
    }
}
