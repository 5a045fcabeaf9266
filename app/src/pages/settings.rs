use leptos::prelude::*;

use super::flow_page::FlowScreen;
use crate::model::PageFlow;

#[component]
pub fn Settings() -> impl IntoView {
    view! {
        <FlowScreen
            kind=PageFlow::Settings
            sections=true
            title="Account settings"
            heading="Account settings"
            links=|| view! {
                <a href="/sessions" rel="external" data-testid="link-sessions">"Your sessions"</a>
                <a href="/welcome" rel="external" data-testid="link-welcome">"Back to the start"</a>
            }
        />
    }
}
