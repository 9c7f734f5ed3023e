//! Delivery: batches formed by count and age, handed to a pool of workers,
//! each of which writes them on its own connection, confirms them, and
//! retries with backoff when the connection fails.

pub mod backoff;
pub mod batch;
pub mod worker;
