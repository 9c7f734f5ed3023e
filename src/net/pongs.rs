//! Which Pongs prove what, on one connection.
//!
//! A batch counts as sent only when the server answers the Ping written
//! after it: a server answers a Ping only once it has read every frame
//! before it (RFC 6455 section 5.5.2, and one TCP stream's order). That is
//! proof only if the Pong carries what that Ping carried: section 5.5.3
//! lets a server send Pongs nobody asked for (as heartbeats), and a server
//! may answer with a payload of its own. So each confirming Ping carries 8
//! random bytes, which a server can echo only once it has read that Ping,
//! and a Pong confirms only if its payload is one of them. Since a server
//! answers in order, and may answer only the latest of several Pings
//! (section 5.5.3), a Pong answers its own Ping and every one before it.
//! Keepalive Pings carry nothing, and ask only whether the server is there:
//! an empty Pong answers one of them if one is waiting, and confirms
//! nothing. Any other Pong proves nothing: it is counted and ignored.
//!
//! Pure: the connection writes the Pings and reads the Pongs, and tells
//! this what it did and saw.

use std::collections::VecDeque;

/// What a Pong turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pong {
    /// It answers Pings of ours: confirming ones, keepalives, or both.
    Answer,
    /// It answers nothing we sent: not proof of anything.
    Ignored,
}

#[derive(Debug, Default)]
pub struct Pongs {
    /// Pings written and not yet answered, oldest first: the payload, and
    /// for a confirming Ping the sequence number of the write it confirms.
    unanswered: VecDeque<Ping>,
    /// The highest sequence number confirmed.
    pub confirmed: Option<u64>,
    /// Pongs that answered a Ping of ours, confirming or keepalive.
    pub answers: u64,
    /// Pongs that answered none.
    pub ignored: u64,
}

#[derive(Debug, Clone, Copy)]
struct Ping {
    /// Empty for a keepalive.
    payload: Option<[u8; 8]>,
    sequence: Option<u64>,
}

impl Pongs {
    /// A confirming Ping with this payload was written, for the write of
    /// this sequence number.
    pub fn pinged(&mut self, payload: [u8; 8], sequence: u64) {
        self.unanswered.push_back(Ping {
            payload: Some(payload),
            sequence: Some(sequence),
        });
    }

    /// A keepalive Ping (empty) was written.
    pub fn pinged_keepalive(&mut self) {
        self.unanswered.push_back(Ping {
            payload: None,
            sequence: None,
        });
    }

    /// Whether a keepalive Ping still waits for its answer.
    pub fn keepalive_waiting(&self) -> bool {
        self.unanswered.iter().any(|ping| ping.payload.is_none())
    }

    /// Takes in a Pong.
    pub fn record(&mut self, payload: &[u8]) -> Pong {
        let answered = self.unanswered.iter().position(|ping| {
            ping.payload
                .map_or(payload.is_empty(), |sent| payload == sent)
        });
        let Some(answered) = answered else {
            self.ignored += 1;
            return Pong::Ignored;
        };
        match payload.is_empty() {
            // Anyone could send an empty Pong: it answers the keepalive,
            // which asks only whether the server is there, and proves
            // nothing about the Pings before it.
            true => {
                self.unanswered.remove(answered);
            }
            false => {
                for ping in self.unanswered.drain(..=answered) {
                    if let Some(sequence) = ping.sequence {
                        self.confirmed = Some(self.confirmed.map_or(sequence, |c| c.max(sequence)));
                    }
                }
            }
        }
        self.answers += 1;
        Pong::Answer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: [u8; 8] = *b"\x01\x02\x03\x04\x05\x06\x07\x08";
    const B: [u8; 8] = *b"\xf0\x0d\x0a\x11\x00\x00\x00\x01";
    const C: [u8; 8] = *b"zzzzzzzz";

    #[test]
    fn a_pong_confirms_its_own_ping_and_every_one_before_it() {
        let mut pongs = Pongs::default();
        pongs.pinged(A, 7);
        pongs.pinged(B, 8);
        pongs.pinged(C, 9);
        assert_eq!(pongs.record(&B), Pong::Answer);
        assert_eq!(pongs.confirmed, Some(8));
        assert_eq!((pongs.answers, pongs.ignored), (1, 0));
        // A's Pong, late: answered already by B's.
        assert_eq!(pongs.record(&A), Pong::Ignored);
        assert_eq!(pongs.record(&C), Pong::Answer);
        assert_eq!(pongs.confirmed, Some(9));
        assert_eq!((pongs.answers, pongs.ignored), (2, 1));
    }

    #[test]
    fn pongs_nobody_asked_for_or_with_other_payloads_confirm_nothing() {
        let mut pongs = Pongs::default();
        // A heartbeat before any Ping: its payload happens to be the
        // sequence number the first write will have.
        assert_eq!(pongs.record(&0u64.to_be_bytes()), Pong::Ignored);
        pongs.pinged(A, 0);
        let mut near = A;
        near[7] ^= 1;
        for other in [&near[..], &A[..7], &[], &0u64.to_be_bytes(), b"123456789"] {
            assert_eq!(pongs.record(other), Pong::Ignored, "{other:?}");
        }
        assert_eq!(pongs.confirmed, None);
        assert_eq!((pongs.answers, pongs.ignored), (0, 6));
        assert_eq!(pongs.record(&A), Pong::Answer);
        assert_eq!(pongs.confirmed, Some(0));
        // Once answered, the same payload again proves nothing more.
        assert_eq!(pongs.record(&A), Pong::Ignored);
    }

    #[test]
    fn an_empty_pong_answers_a_waiting_keepalive_and_nothing_else() {
        let mut pongs = Pongs::default();
        assert!(!pongs.keepalive_waiting());
        pongs.pinged(A, 3);
        pongs.pinged_keepalive();
        assert!(pongs.keepalive_waiting());
        assert_eq!(pongs.record(&[]), Pong::Answer);
        assert!(!pongs.keepalive_waiting());
        // An empty Pong is anyone's: it confirms no Ping before it.
        assert_eq!(pongs.confirmed, None);
        assert_eq!(pongs.record(&[]), Pong::Ignored);
        assert_eq!(pongs.record(&A), Pong::Answer);
        assert_eq!(pongs.confirmed, Some(3));
        // A confirming Pong answers a keepalive written before it.
        pongs.pinged_keepalive();
        pongs.pinged(B, 4);
        assert_eq!(pongs.record(&B), Pong::Answer);
        assert!(!pongs.keepalive_waiting());
        assert_eq!((pongs.confirmed, pongs.answers), (Some(4), 3));
    }

    #[test]
    fn the_highest_sequence_stays_confirmed() {
        let mut pongs = Pongs::default();
        pongs.pinged(A, 5);
        assert_eq!(pongs.record(&A), Pong::Answer);
        // Sequence numbers only grow, but the record never moves back.
        pongs.pinged(B, 2);
        assert_eq!(pongs.record(&B), Pong::Answer);
        assert_eq!(pongs.confirmed, Some(5));
    }
}
