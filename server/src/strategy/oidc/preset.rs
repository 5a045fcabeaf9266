//! What Ward knows about each upstream kind (`provider` in the provider's configuration): where
//! its endpoints are, which scopes it needs, and where its claims come from. A new upstream is a
//! new row here, not a new strategy.

/// Where the claims about the user come from once the code is exchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimsFrom {
    /// The id_token, verified against the upstream's keys (OpenID Connect upstreams).
    IdToken,
    /// GitHub's REST API: `/user`, and `/user/emails` for the verified primary address.
    GitHub,
    /// Discord's `/users/@me`.
    Discord,
}

/// How the subject, issuer and endpoints of an upstream are found.
#[derive(Debug, Clone, Copy)]
pub struct Preset {
    pub name: &'static str,
    /// The name on the buttons when the configuration gives no `label`.
    pub label: &'static str,
    /// The issuer whose discovery document names the endpoints; `None`: the configuration's
    /// `issuer_url` (generic, auth0, self-hosted GitLab), or fixed endpoints below.
    pub issuer: Option<&'static str>,
    pub auth_url: Option<&'static str>,
    pub token_url: Option<&'static str>,
    pub claims: ClaimsFrom,
    /// Scopes always asked for, before the configured ones.
    pub scopes: &'static [&'static str],
    /// The token endpoint wants the client's credentials in the body (not HTTP Basic).
    pub secret_in_body: bool,
}

const OPENID: &[&str] = &["openid"];

pub const PRESETS: &[Preset] = &[
    Preset {
        name: "generic",
        label: "",
        issuer: None,
        auth_url: None,
        token_url: None,
        claims: ClaimsFrom::IdToken,
        scopes: OPENID,
        secret_in_body: false,
    },
    Preset {
        name: "google",
        label: "Google",
        issuer: Some("https://accounts.google.com"),
        auth_url: None,
        token_url: None,
        claims: ClaimsFrom::IdToken,
        scopes: OPENID,
        secret_in_body: false,
    },
    Preset {
        name: "microsoft",
        label: "Microsoft",
        // The tenant goes in: https://login.microsoftonline.com/<tenant>/v2.0.
        issuer: Some("https://login.microsoftonline.com/{tenant}/v2.0"),
        auth_url: None,
        token_url: None,
        claims: ClaimsFrom::IdToken,
        scopes: OPENID,
        secret_in_body: false,
    },
    Preset {
        name: "gitlab",
        label: "GitLab",
        issuer: Some("https://gitlab.com"),
        auth_url: None,
        token_url: None,
        claims: ClaimsFrom::IdToken,
        scopes: OPENID,
        secret_in_body: false,
    },
    Preset {
        name: "auth0",
        label: "Auth0",
        issuer: None,
        auth_url: None,
        token_url: None,
        claims: ClaimsFrom::IdToken,
        scopes: OPENID,
        secret_in_body: false,
    },
    Preset {
        name: "apple",
        label: "Apple",
        issuer: Some("https://appleid.apple.com"),
        auth_url: None,
        token_url: None,
        claims: ClaimsFrom::IdToken,
        scopes: OPENID,
        // Apple's client secret is a JWT Ward signs; Apple reads it from the body.
        secret_in_body: true,
    },
    Preset {
        name: "slack",
        label: "Slack",
        issuer: Some("https://slack.com"),
        auth_url: None,
        token_url: None,
        claims: ClaimsFrom::IdToken,
        scopes: OPENID,
        secret_in_body: true,
    },
    Preset {
        name: "twitch",
        label: "Twitch",
        issuer: Some("https://id.twitch.tv/oauth2"),
        auth_url: None,
        token_url: None,
        claims: ClaimsFrom::IdToken,
        scopes: OPENID,
        secret_in_body: true,
    },
    Preset {
        name: "github",
        label: "GitHub",
        issuer: None,
        auth_url: Some("https://github.com/login/oauth/authorize"),
        token_url: Some("https://github.com/login/oauth/access_token"),
        claims: ClaimsFrom::GitHub,
        scopes: &["read:user", "user:email"],
        secret_in_body: true,
    },
    Preset {
        name: "discord",
        label: "Discord",
        issuer: None,
        auth_url: Some("https://discord.com/oauth2/authorize"),
        token_url: Some("https://discord.com/api/oauth2/token"),
        claims: ClaimsFrom::Discord,
        scopes: &["identify", "email"],
        secret_in_body: true,
    },
];

pub fn find(name: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|preset| preset.name == name)
}

/// The preset names, for configuration errors.
pub fn names() -> String {
    PRESETS
        .iter()
        .map(|preset| preset.name)
        .collect::<Vec<_>>()
        .join(", ")
}
