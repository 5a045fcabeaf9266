//! The dev mailbox: in `--dev` without SMTP, queued e-mail is shown here instead of being sent,
//! so recovery and verification can be tried with nothing else running.

use leptos::prelude::*;
use leptos_meta::Title;

use super::NotFound;
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
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || {
                mails
                    .get()
                    .map(|result| match result {
                        Ok(Some(mails)) => view! { <MailList mails /> }.into_any(),
                        Ok(None) => view! { <NotFound /> }.into_any(),
                        Err(_) => view! {
                            <p class="ward-message ward-message-error">"The mailbox could not be loaded."</p>
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
        <Title text="Dev mailbox" />
        <section class="ward-card ward-mailbox" data-testid="mailbox">
            <h1>"Dev mailbox"</h1>
            <p>"Messages Ward would have sent, newest first. Only development mode shows this page."</p>
            {mails.is_empty().then(|| view! { <p data-testid="mailbox-empty">"No messages yet."</p> })}
            {mails
                .into_iter()
                .map(|mail| {
                    view! {
                        <article class="ward-mail" data-testid="mail">
                            <h2 data-testid="mail-subject">{mail.subject}</h2>
                            <p class="ward-mail-meta">
                                "To " <span data-testid="mail-recipient">{mail.recipient}</span>
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
