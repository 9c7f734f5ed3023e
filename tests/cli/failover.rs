//! Several servers: workers are spread over them, and a worker whose
//! server fails moves to the next, so one server down loses nothing.

use std::collections::HashSet;

use crate::server::{Behaviour, Server};
use crate::util::{assert_every_line_arrived, messages_of, numbered, wsship};

#[test]
fn two_servers_one_dies_mid_stream_and_every_line_reaches_the_union() {
    let dying = Server::start(Behaviour {
        die_after: Some(3000),
        ..Behaviour::default()
    });
    let healthy = Server::start(Behaviour::default());
    let input = numbered(20_000);
    // One worker: it starts on the first server, so the failover is
    // certain, not left to which worker takes the first batch.
    let done = wsship(&[
        "--url",
        &dying.url(),
        "--url",
        &healthy.url(),
        "--batch-size",
        "100",
        "--backoff-init",
        "10ms",
        "-v",
    ])
    .run(input.clone());
    done.expect_code(0);
    assert_eq!(done.summary()["sent"], 20_000);
    assert_eq!(dying.messages().len(), 3000, "it died after 3000");
    let mut union: HashSet<String> = messages_of(&dying.messages()).into_iter().collect();
    union.extend(messages_of(&healthy.messages()));
    assert_every_line_arrived(&input, |line| union.contains(line));
    // Everything the dying server did not get, the healthy one got.
    assert!(healthy.messages().len() >= 17_000);
    // -v names what each server got.
    for server in [&dying, &healthy] {
        done.expect_stderr(&format!("{}: sent=", server.url()));
    }
    assert_eq!(healthy.targets(), ["/ingest"]);
}

#[test]
fn a_black_hole_is_abandoned_for_the_next_server() {
    let hole = Server::start(Behaviour {
        black_hole: true,
        ..Behaviour::default()
    });
    let healthy = Server::start(Behaviour::default());
    let input = numbered(2000);
    let done = wsship(&[
        "--url",
        &hole.url(),
        "--url",
        &healthy.url(),
        "--ping-timeout",
        "300ms",
    ])
    .run(input.clone());
    done.expect_code(0);
    assert_eq!(
        messages_of(&healthy.messages()),
        input.lines().collect::<Vec<_>>()
    );
    assert_eq!(hole.connections(), 1);
}

#[test]
fn several_addrs_spread_the_workers() {
    let a = Server::start(Behaviour::default());
    let b = Server::start(Behaviour::default());
    let done = wsship(&[
        "--addr",
        &a.addr(),
        "--addr",
        &b.addr(),
        "--path",
        "/ingest",
        "-w",
        "2",
        "-v",
    ])
    .run(numbered(100_000));
    done.expect_code(0);
    assert_eq!(a.messages().len() + b.messages().len(), 100_000);
    // Workers connect when they first have a batch, so which of them
    // connects is scheduling; where each one goes is the design: worker
    // i to server i modulo the servers.
    for (worker, server) in [(0, &a), (1, &b)] {
        let first = done
            .stderr
            .lines()
            .find_map(|line| line.strip_prefix(&format!("wsship: worker {worker}: connected to ")));
        if let Some(first) = first {
            assert_eq!(
                first,
                format!("ws://{}/ingest", server.addr()),
                "worker {worker}"
            );
        }
    }
    for server in [&a, &b] {
        assert!(server.targets().iter().all(|target| target == "/ingest"));
    }
}
