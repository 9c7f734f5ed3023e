//! The network: one WebSocket connection per worker, and what it takes to
//! open one (TLS, an HTTP proxy's tunnel, the handshake's headers). Workers
//! hand it batches of frames the reader already built; it hands back Pongs.

pub mod connection;
pub mod deflate;
pub mod framer;
pub mod incoming;
pub mod pongs;
pub mod proxy;
pub mod request;
pub mod tls;
