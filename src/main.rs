//! wsship: ship log lines to a WebSocket server.
//!
//! Parse, validate, run, and turn the outcome into an exit status, here and
//! only here (but for a second Ctrl-C, which exits from the signal handler).

mod cli;
mod config;
mod deliver;
mod dry_run;
mod encode;
mod error;
mod gauges;
#[cfg(test)]
mod generate;
mod input;
mod ledger;
mod messages;
mod metrics;
mod net;
mod ping;
mod run;
mod shutdown;
mod spool;
mod stats;
mod ticker;
mod units;

use crate::cli::Args;
use crate::config::Config;
use crate::shutdown::Shutdown;
use crate::stats::Report;

fn main() {
    std::process::exit(wsship());
}

fn wsship() -> i32 {
    let config = match Config::from_args(Args::from_command_line()) {
        Ok(config) => config,
        Err(err) => err.exit(),
    };
    messages::set_verbosity(config.verbosity);
    if config.insecure {
        messages::error!("warning: --insecure: the server's certificate is not verified");
    }

    let shutdown = match Shutdown::new(config.drain_timeout) {
        Ok(shutdown) => shutdown,
        Err(err) => {
            messages::error!("cannot start: {}", messages::io_reason(&err));
            return 1;
        }
    };
    if let Err(err) = shutdown.handle_signals() {
        messages::error!("cannot handle signals: {err}");
        return 1;
    }
    match run::run(&config, &shutdown) {
        Ok(outcome) => {
            if config.endpoints.len() > 1 {
                for (endpoint, sent) in config.endpoints.iter().zip(&outcome.per_server) {
                    messages::info!("{endpoint}: sent={sent}");
                }
            }
            outcome.summary.report(Report::Summary, config.stats_format);
            outcome.exit_code()
        }
        Err(err) => {
            messages::error!("{err}");
            1
        }
    }
}
