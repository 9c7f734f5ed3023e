//! End-to-end tests: the real wsship binary against a real tungstenite
//! server on loopback, each test with its own server on its own port.

mod pki;
mod server;
mod util;

mod auth;
mod compress;
mod confirm;
mod delivery;
mod events;
mod failover;
mod faults;
mod follow;
mod input;
mod metrics;
mod provenance;
mod proxy;
mod rotation;
mod signals;
mod spool;
mod state;
mod tls;
mod usage;
