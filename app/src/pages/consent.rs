//! `/consent?consent_challenge=`: an application asks to sign the user in and to read what its
//! scopes name. A plain form (Allow / Deny, remember the choice) that works without JavaScript.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::model::ConsentView;

#[server]
pub async fn load_consent(challenge: String) -> Result<Option<ConsentView>, ServerFnError> {
    let (backend, cookies) = crate::backend::backend_and_cookies().await?;
    backend
        .consent(&challenge, cookies.as_deref())
        .await
        .map_err(|error| ServerFnError::new(error.to_string()))
}

#[component]
pub fn Consent() -> impl IntoView {
    let query = use_query_map();
    let request = Resource::new(
        move || query.get().get("consent_challenge").unwrap_or_default(),
        |challenge| async move {
            if challenge.is_empty() {
                Ok(None)
            } else {
                load_consent(challenge).await
            }
        },
    );
    view! {
        <Title text="Allow access" />
        <section class="ward-card" data-testid="consent-page">
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || request.get().map(|result| match result {
                    Ok(Some(request)) => view! { <ConsentForm request /> }.into_any(),
                    Ok(None) => view! {
                        <h1>"Allow access"</h1>
                        <p class="ward-message ward-message-error" data-testid="consent-missing">
                            "This request expired or was already answered. Go back to the application and start again."
                        </p>
                    }.into_any(),
                    Err(_) => view! {
                        <h1>"Allow access"</h1>
                        <p class="ward-message ward-message-error" data-testid="flow-error">
                            "This request could not be loaded. Please try again."
                        </p>
                    }.into_any(),
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn ConsentForm(request: ConsentView) -> impl IntoView {
    let name = request.client_name.clone();
    view! {
        <h1>{format!("Allow {name} to use your account?")}</h1>
        {request.logo_uri.map(|logo| {
            if let Some(origin) = web_origin(&logo) {
                crate::branding::allow_image_origin(origin);
            }
            view! {
            <img class="ward-client-logo" src=logo alt=format!("{name} logo") width="64" height="64" />
        }})}
        <p data-testid="consent-account">
            {format!("You are signed in as {}. ", request.account)}
            {request.client_uri.map(|uri| {
                let shown = uri.clone();
                view! { <a class="ward-link" href=uri rel="external noopener">{shown}</a> }
            })}
        </p>
        <p>{format!("{name} asks to:")}</p>
        <ul class="ward-scopes" data-testid="consent-scopes">
            {request.scopes.into_iter().map(|(scope, text)| view! {
                <li data-scope=scope>{text}</li>
            }).collect_view()}
        </ul>
        <form class="ward-form" action=request.action method="post">
            <input type="hidden" name="consent_challenge" value=request.challenge />
            <input type="hidden" name="csrf_token" value=request.csrf_token />
            <label class="ward-checkbox">
                <input type="checkbox" name="remember" value="true" data-testid="consent-remember" />
                <span>"Remember my choice for this application"</span>
            </label>
            <button class="ward-button" type="submit" name="consent_action" value="accept" data-testid="consent-accept">
                "Allow"
            </button>
            <button class="ward-button ward-button-secondary" type="submit" name="consent_action" value="reject" data-testid="consent-reject">
                "Deny"
            </button>
        </form>
    }
}

/// `scheme://host[:port]` of an http(s) URL: the client's logo is the one image the consent
/// page loads from elsewhere, so the page's policy names its origin.
fn web_origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    if !matches!(scheme, "https" | "http") {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit('@').next()?;
    (!host.is_empty()).then(|| format!("{scheme}://{host}"))
}
