//! Ward's one integration-test binary: the real server on port 0, SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod harness;

mod account;
mod admin_identities;
mod api_description;
mod authenticator;
mod browser_flows;
mod cli;
mod courier;
mod flow_styles;
mod flows;
mod kratos_compat;
mod listeners;
mod mail;
mod oauth2;
mod passwordless;
mod passwords;
mod second_factor;
mod sessions;
mod social;
mod store_contract;
mod throttle;
mod web_hooks;
mod webauthn;
