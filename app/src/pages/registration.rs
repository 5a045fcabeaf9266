use leptos::prelude::*;

use super::flow_page::FlowScreen;
use crate::model::PageFlow;

#[component]
pub fn Registration() -> impl IntoView {
    view! {
        <FlowScreen
            kind=PageFlow::Registration
            title="Sign up"
            heading="Create an account"
            links=|| view! {
                <span>"Already have an account? "</span>
                <a href="/login" rel="external" data-testid="link-login">"Sign in"</a>
            }
        />
    }
}
