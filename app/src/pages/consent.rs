//! `/consent?consent_challenge=`: an application asks to sign the user in and to read what its
//! scopes name. A plain form (Allow / Deny, remember the choice) that works without JavaScript.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::i18n::{t, t_with};
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
        <Title text=t("consent-title") />
        <section class="ward-card" data-testid="consent-page">
            <Suspense fallback=|| view! { <p>{t("loading")}</p> }>
                {move || request.get().map(|result| match result {
                    Ok(Some(request)) => view! { <ConsentForm request /> }.into_any(),
                    Ok(None) => view! {
                        <h1>{t("consent-title")}</h1>
                        <p class="ward-message ward-message-error" data-testid="consent-missing">
                            {t("consent-missing")}
                        </p>
                    }.into_any(),
                    Err(_) => view! {
                        <h1>{t("consent-title")}</h1>
                        <p class="ward-message ward-message-error" data-testid="flow-error">
                            {t("consent-failed")}
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
        <h1>{t_with("consent-heading", &[("client", &name)])}</h1>
        {request.logo_uri.map(|logo| {
            if let Some(origin) = web_origin(&logo) {
                crate::branding::allow_image_origin(origin);
            }
            view! {
            <img class="ward-client-logo" src=logo alt=t_with("consent-logo", &[("client", &name)]) width="64" height="64" />
        }})}
        <p data-testid="consent-account">
            {t_with("consent-account", &[("account", &request.account)])} " "
            {request.client_uri.map(|uri| {
                let shown = uri.clone();
                view! { <a class="ward-link" href=uri rel="external noopener">{shown}</a> }
            })}
        </p>
        <p>{t_with("consent-asks", &[("client", &name)])}</p>
        <ul class="ward-scopes" data-testid="consent-scopes">
            {request.scopes.into_iter().map(|scope| view! {
                <li data-scope=scope.clone()>{describe_scope(&scope)}</li>
            }).collect_view()}
        </ul>
        <form class="ward-form" action=request.action method="post">
            <input type="hidden" name="consent_challenge" value=request.challenge />
            <input type="hidden" name="csrf_token" value=request.csrf_token />
            <label class="ward-checkbox">
                <input type="checkbox" name="remember" value="true" data-testid="consent-remember" />
                <span>{t("consent-remember")}</span>
            </label>
            <button class="ward-button" type="submit" name="consent_action" value="accept" data-testid="consent-accept">
                {t("consent-allow")}
            </button>
            <button class="ward-button ward-button-secondary" type="submit" name="consent_action" value="reject" data-testid="consent-reject">
                {t("consent-deny")}
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

/// What a scope lets an application do, in plain words.
fn describe_scope(scope: &str) -> String {
    match scope {
        "openid" => t("scope-openid"),
        "email" => t("scope-email"),
        "profile" => t("scope-profile"),
        "phone" => t("scope-phone"),
        "offline" | "offline_access" => t("scope-offline"),
        other => t_with("scope-other", &[("scope", other)]),
    }
}
