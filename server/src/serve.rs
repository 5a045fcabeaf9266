//! Starting Ward: state from config, then the three listeners in one process.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::clock::Clock;
use crate::config::Config;
use crate::hash::Hasher;
use crate::http::site::Site;
use crate::identity::SchemaRegistry;
use crate::metrics::Metrics;
use crate::secrets::{Cipher, SecretKeys};
use crate::state::{AppState, Shared};
use crate::store::{DatabaseUrl, SqlStore};

/// Options that are not configuration: where the site assets come from.
pub struct ServeOptions {
    pub site: Site,
}

/// Builds the shared state: schemas compiled, database connected and (in dev) migrated.
pub async fn build_state(config: Config) -> anyhow::Result<AppState> {
    let urls = config.base_urls()?;
    let schemas =
        SchemaRegistry::load(&config.identity.schemas, &config.identity.default_schema_id)?;
    let dsn = DatabaseUrl::parse(config.dsn()).context("dsn")?;
    let database = SqlStore::connect_to(&dsn)
        .await
        .with_context(|| format!("could not connect to the database {} (dsn)", dsn.redacted()))?
        .with_session_cache(config.session.cache.max_size);
    if dsn.in_memory {
        tracing::warn!(
            "dsn names an in-memory SQLite database: nothing persists when Ward stops \
             (identities, sessions and flows are lost)"
        );
    }
    // An in-memory database starts empty every time: migrate it, as Kratos does.
    if config.dev || dsn.in_memory {
        let applied = database
            .migrate()
            .await
            .context("could not migrate the database")?;
        if !applied.is_empty() {
            tracing::info!(?applied, "applied database migrations");
        }
    } else {
        let pending = database.pending_migrations().await?;
        if !pending.is_empty() {
            anyhow::bail!(
                "the database has {} pending migration(s); run `ward migrate sql -e --yes` first",
                pending.len()
            );
        }
    }
    let secrets = match SecretKeys::new(config.secrets.default.clone()) {
        Some(keys) => keys,
        None if config.dev => SecretKeys::load_or_create(&PathBuf::from("ward.secrets"))
            .context("could not read or create ward.secrets")?,
        None => {
            tracing::warn!(
                "secrets.default is not set: using a random key, so sessions end when Ward restarts"
            );
            SecretKeys::generate()
        }
    };
    let templates = crate::courier::Templates::load(&config.courier)
        .context("could not load the courier's templates")?;
    let workers = std::thread::available_parallelism().map_or(2, usize::from);
    let hasher = Hasher::new(config.hashers.clone(), workers, workers * 32);
    let state =
        AppState::new(Shared {
            urls: Arc::new(urls),
            schemas: Arc::new(schemas),
            identities: Arc::new(database.clone()),
            sessions: Arc::new(database.clone()),
            flows: Arc::new(database.clone()),
            courier_queue: Arc::new(database.clone()),
            changes: Arc::new(database.clone()),
            throttles: Arc::new(database.clone()),
            oauth2: Arc::new(database.clone()),
            oauth2_keys: Arc::default(),
            oauth2_clients: Arc::default(),
            claims_mapper: match &config.oauth2_server.claims_mapper_url {
                Some(url) => Some(crate::jsonnet::Mapper::fetch(url).await.map_err(|error| {
                    anyhow::anyhow!("oauth2_server.claims_mapper_url: {error}")
                })?),
                None => None,
            },
            courier: crate::courier::Courier::new(templates),
            web_hooks: Arc::new(
                crate::hook::web_hook::WebHooks::from_config(&config)
                    .await
                    .map_err(|error| anyhow::anyhow!(error))?,
            ),
            deliveries: Arc::new(database.clone()),
            delivery_wake: Arc::default(),
            strategies: Arc::new(
                crate::strategy::Strategies::from_config(&config)
                    .await
                    .map_err(|error| anyhow::anyhow!(error))?,
            ),
            database,
            hasher,
            breached: Arc::new(crate::strategy::password::breach::BreachCheck::from_config(
                &config.selfservice.methods.password.config,
            )?),
            cipher: if config.secrets.cipher.is_empty() {
                Cipher::new(secrets.all())
            } else {
                Cipher::new(&config.secrets.cipher)
            },
            secrets,
            clock: Clock::default(),
            metrics: Arc::new(Metrics::default()),
            config: Arc::new(config),
        });
    if state.config.oauth2_server.enabled {
        crate::oauth2::keys::ensure(&state).await.map_err(|error| {
            anyhow::anyhow!(
                "could not make the OpenID Connect signing keys: {}",
                error.description
            )
        })?;
    }
    Ok(state)
}

/// The three listeners, bound and ready to serve.
pub struct Server {
    state: AppState,
    site: Site,
    theme: Arc<crate::http::theme::Theme>,
    public: TcpListener,
    admin: TcpListener,
    ui: TcpListener,
}

impl Server {
    pub async fn bind(state: AppState, options: ServeOptions) -> anyhow::Result<Self> {
        let config = state.config.clone();
        let serve = &config.serve;
        let bind = |address: String, name: &'static str| async move {
            TcpListener::bind(&address)
                .await
                .with_context(|| format!("could not listen on {address} (serve.{name})"))
        };
        let public = bind(serve.public.bind_address(), "public").await?;
        let admin = bind(serve.admin.bind_address(), "admin").await?;
        let ui = bind(serve.ui.bind_address(), "ui").await?;
        let theme = Arc::new(crate::http::theme::Theme::load(&config.ui)?);
        let mut state = state;
        // A listener on port 0 gets its port from the OS; derived base URLs must carry it.
        let mut urls = (*state.urls).clone();
        for (listener, configured, url) in [
            (&public, &serve.public, &mut urls.public),
            (&admin, &serve.admin, &mut urls.admin),
            (&ui, &serve.ui, &mut urls.ui),
        ] {
            if configured.base_url.is_none() && configured.port == 0 {
                let _ = url.set_port(Some(listener.local_addr()?.port()));
            }
        }
        state.set_urls(urls);
        Ok(Self {
            public,
            admin,
            ui,
            site: options.site,
            theme,
            state,
        })
    }

    pub fn addresses(&self) -> anyhow::Result<(SocketAddr, SocketAddr, SocketAddr)> {
        Ok((
            self.public.local_addr()?,
            self.admin.local_addr()?,
            self.ui.local_addr()?,
        ))
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` turns true, then lets in-flight requests finish.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) -> anyhow::Result<()> {
        let https = |url: &url::Url| url.scheme() == "https";
        let public = crate::http::public::router(self.state.clone()).layer(
            axum::middleware::from_fn_with_state(
                crate::http::BrowserHeaders {
                    https: https(&self.state.urls.public),
                    pages: false,
                    frameable: true,
                },
                crate::http::browser_headers,
            ),
        );
        let public = crate::http::api_service(public);
        let admin = crate::http::api_service(crate::http::admin::router(self.state.clone()));
        let ui = crate::http::ui::router(self.state.clone(), self.site.clone(), self.theme.clone())
            .layer(axum::middleware::from_fn_with_state(
                crate::http::BrowserHeaders {
                    https: https(&self.state.urls.ui),
                    pages: true,
                    frameable: !self.state.config.ui.frame_ancestors.is_empty(),
                },
                crate::http::browser_headers,
            ));
        let (public_addr, admin_addr, ui_addr) = self.addresses()?;
        tracing::info!(%public_addr, %admin_addr, %ui_addr, "Ward is listening");

        let stop = shutdown.clone();
        let signal = move || {
            let mut shutdown = stop.clone();
            async move {
                let _ = shutdown.wait_for(|stop| *stop).await;
            }
        };
        // Peer addresses let sessions record the device they were created from.
        let public = axum::serve(
            self.public,
            axum::ServiceExt::<axum::extract::Request>::into_make_service_with_connect_info::<
                SocketAddr,
            >(public),
        )
        .with_graceful_shutdown(signal());
        let admin = axum::serve(
            self.admin,
            axum::ServiceExt::<axum::extract::Request>::into_make_service(admin),
        )
        .with_graceful_shutdown(signal());
        let ui = axum::serve(self.ui, ui).with_graceful_shutdown(signal());
        let courier = match crate::courier::Delivery::from_config(&self.state.config).await? {
            Some(delivery) => Some(tokio::spawn(
                crate::courier::worker::Worker::new(self.state.clone(), delivery)
                    .run(shutdown.clone()),
            )),
            None => {
                tracing::warn!(
                    "courier.smtp.connection_uri is not set: e-mail stays queued (see \
                     GET /admin/courier/messages) until a courier with SMTP delivers it"
                );
                None
            }
        };
        let web_hooks = (!self.state.web_hooks.is_empty()).then(|| {
            if self.state.config.clients.web_hook.allowed_hosts.is_empty() {
                tracing::warn!(
                    "clients.web_hook.allowed_hosts is empty: web hooks may call any address, \
                     private and internal ones included"
                );
            }
            tokio::spawn(crate::hook::deliveries::run(
                self.state.clone(),
                shutdown.clone(),
            ))
        });
        let database = self.state.database.clone();
        let changes = tokio::spawn(async move { database.listen_for_changes().await });
        let cleanup = tokio::spawn(crate::throttle::clean_up(
            self.state.clone(),
            shutdown.clone(),
        ));
        let oauth2_cleanup = self.state.config.oauth2_server.enabled.then(|| {
            tokio::spawn(crate::oauth2::clean_up(
                self.state.clone(),
                shutdown.clone(),
            ))
        });
        let result = tokio::try_join!(public.into_future(), admin.into_future(), ui.into_future());
        let _ = shutdown.borrow_and_update();
        changes.abort();
        cleanup.abort();
        if let Some(task) = web_hooks {
            // The worker saw the shutdown and finishes the delivery in progress (within the
            // hooks' timeout); one cut off keeps its lease and falls due again after it.
            let abort = task.abort_handle();
            let grace =
                self.state.config.clients.web_hook.timeout + std::time::Duration::from_secs(1);
            if tokio::time::timeout(grace, task).await.is_err() {
                abort.abort();
            }
        }
        if let Some(task) = oauth2_cleanup {
            task.abort();
        }
        if let Some(courier) = courier {
            // The worker saw the shutdown too and finishes its batch; a batch stuck on a slow
            // SMTP server is cut off, and its lease makes it due again for the next worker.
            let abort = courier.abort_handle();
            let grace = if result.is_ok() { 5 } else { 0 };
            if tokio::time::timeout(std::time::Duration::from_secs(grace), courier)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
        self.state.database.close().await;
        result.map(|_| ()).context("a listener failed")
    }
}
