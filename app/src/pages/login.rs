use leptos::prelude::*;

use super::flow_page::FlowScreen;
use crate::model::PageFlow;

#[component]
pub fn Login() -> impl IntoView {
    view! {
        <FlowScreen
            kind=PageFlow::Login
            title="Sign in"
            heading="Sign in"
            links=|| view! {
                <span>"No account yet? "</span>
                <a href="/registration" rel="external" data-testid="link-registration">"Sign up"</a>
                <a href="/recovery" rel="external" data-testid="link-recovery">"Forgot your password?"</a>
            }
        />
    }
}
