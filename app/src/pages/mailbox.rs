//! The dev mailbox: in `--dev` without SMTP, queued e-mail is shown here instead of being sent,
//! so recovery and verification can be tried with nothing else running.

use leptos::prelude::*;
use leptos_meta::Title;

use super::NotFound;
use crate::i18n::{t, t_with};
use crate::model::MailView;

#[server]
pub async fn load_mailbox() -> Result<Option<Vec<MailView>>, ServerFnError> {
    let (backend, _) = crate::backend::backend_and_cookies().await?;
    backend
        .mailbox()
        .await
        .map_err(|error| ServerFnError::new(error.to_string()))
}

#[component]
pub fn Mailbox() -> impl IntoView {
    let mails = Resource::new(|| (), |_| load_mailbox());
    view! {
        <Suspense fallback=|| view! { <p>{t("loading")}</p> }>
            {move || {
                mails
                    .get()
                    .map(|result| match result {
                        Ok(Some(mails)) => view! { <MailList mails /> }.into_any(),
                        Ok(None) => view! { <NotFound /> }.into_any(),
                        Err(_) => view! {
                            <p class="ward-message ward-message-error">{t("mailbox-failed")}</p>
                        }
                            .into_any(),
                    })
            }}
        </Suspense>
    }
}

#[component]
fn MailList(mails: Vec<MailView>) -> impl IntoView {
    view! {
        <Title text=t("mailbox-title") />
        <section class="ward-card ward-mailbox" data-testid="mailbox">
            <h1>{t("mailbox-title")}</h1>
            <p>{t_with("mailbox-intro", &[("product", &crate::branding::use_branding().product_name)])}</p>
            {mails.is_empty().then(|| view! { <p data-testid="mailbox-empty">{t("mailbox-empty")}</p> })}
            {mails
                .into_iter()
                .map(|mail| {
                    view! {
                        <article class="ward-mail" data-testid="mail">
                            <h2 data-testid="mail-subject">{mail.subject}</h2>
                            <p class="ward-mail-meta">
                                {t("mailbox-to")} " " <span data-testid="mail-recipient">{mail.recipient}</span>
                                " · " {mail.created_at}
                            </p>
                            <pre data-testid="mail-body">{mail.body}</pre>
                        </article>
                    }
                })
                .collect_view()}
        </section>
    }
}
