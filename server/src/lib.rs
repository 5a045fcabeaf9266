//! Ward: a self-hosted identity server with Kratos-compatible APIs.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod clock;
pub mod config;
pub mod courier;
pub mod error;
pub mod flow;
pub mod hash;
pub mod hook;
pub mod http;
pub mod identity;
pub mod jsonnet;
pub mod metrics;
pub mod oauth2;
pub mod secrets;
pub mod serve;
pub mod session;
pub mod state;
pub mod store;
pub mod strategy;
pub mod throttle;
