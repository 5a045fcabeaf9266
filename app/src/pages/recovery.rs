use leptos::prelude::*;

use super::flow_page::FlowScreen;
use crate::model::PageFlow;

#[component]
pub fn Recovery() -> impl IntoView {
    view! {
        <FlowScreen
            kind=PageFlow::Recovery
            title="Recover your account"
            heading="Recover your account"
            links=|| view! {
                <span>"Remembered it? "</span>
                <a href="/login" rel="external" data-testid="link-login">"Sign in"</a>
            }
        />
    }
}
