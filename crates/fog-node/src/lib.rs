//! The Fog Compute node.
//!
//! The composition root of the core: [`Node::start`] brings up identity, database, event bus
//! and the HTTP API from one [`Config`]; [`NodeApi`] is the one API both shells (the desktop app
//! and the HTTP server) call, each operation defined once. Domain services register here as
//! they are built; the ones not built yet are reported as "not available in this build".
//!
//! Invariants: every event is stored in the event log before it reaches live subscribers; the
//! HTTP API needs the bearer token on every `/api` route and `/metrics`; two nodes never share
//! a data directory (lock file).

pub mod api;
mod bench;
mod betanet;
pub mod bindings;
mod bitchat;
pub mod config;
pub mod error;
pub mod events;
pub mod http;
mod idle;
pub mod logging;
pub mod metrics;
pub mod mix_bench;
mod node;
mod process;
mod sched;
pub mod services;
pub mod token;

pub use api::NodeApi;
pub use config::{Config, Overrides};
pub use error::{ApiError, NodeError};
pub use node::{migrations, Node};
