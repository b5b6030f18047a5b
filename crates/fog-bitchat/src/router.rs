//! The mesh's relay rules as a pure function of a packet, this peer and its links (iOS's, the
//! stricter of the two apps where they differ): who gets a packet delivered, and whether, with
//! which TTL, after which delay and over which links it goes on. The service applies the
//! decision, cancelling a pending relay when a duplicate arrives first.

use std::collections::{HashMap, VecDeque};

use sha2::{Digest, Sha256};

use crate::packet::{kind, Packet, PeerId, ORIGIN_TTL};

/// Packets remembered for duplicate suppression, and for how long.
pub const DEDUP_CAPACITY: usize = 1000;
pub const DEDUP_MS: u64 = 5 * 60 * 1000;
/// Largest clock difference accepted, except on packets replayed for a sync request.
pub const MAX_SKEW_MS: u64 = 120_000;

/// The id duplicate suppression keys on: sender, timestamp, type and the start of the payload's
/// hash, as iOS forms it.
pub fn message_id(packet: &Packet) -> String {
    let digest = Sha256::digest(&packet.payload);
    format!("{}-{}-{}-{}", hex::encode(packet.sender), packet.timestamp_ms, packet.kind, hex::encode(&digest[..4]))
}

/// Recently seen message ids, oldest first out.
#[derive(Debug, Default)]
pub struct SeenIds {
    order: VecDeque<(String, u64)>,
    at: HashMap<String, u64>,
}

impl SeenIds {
    /// Records `id`; false if it was already seen within the window.
    pub fn first_time(&mut self, id: String, now_ms: u64) -> bool {
        while let Some((oldest, seen)) = self.order.front() {
            if self.order.len() < DEDUP_CAPACITY && now_ms.saturating_sub(*seen) < DEDUP_MS {
                break;
            }
            if self.at.get(oldest) == Some(seen) {
                self.at.remove(oldest);
            }
            self.order.pop_front();
        }
        if self.at.contains_key(&id) {
            return false;
        }
        self.at.insert(id.clone(), now_ms);
        self.order.push_back((id, now_ms));
        true
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Drop {
    Duplicate,
    /// We sent it.
    Own,
    /// Its timestamp is too far from our clock.
    Skewed,
}

/// Where a relay goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// To these links (a subset for ordinary broadcasts, never back where it came from).
    Links(Vec<PeerId>),
    /// Along its source route, to this neighbour.
    Hop(PeerId),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relay {
    pub ttl: u8,
    /// Wait a random time in this range (ms), so neighbours do not all send at once.
    pub jitter_ms: (u64, u64),
    pub next: Next,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Drop(Drop),
    Accept {
        /// For this peer (broadcast, or addressed to us).
        deliver: bool,
        relay: Option<Relay>,
    },
}

/// What the router knows of where it stands.
pub struct Neighbourhood<'a> {
    pub me: PeerId,
    /// Peers with a direct link now.
    pub links: &'a [PeerId],
    /// The link the packet came in on, if it came over one.
    pub ingress: Option<PeerId>,
    pub now_ms: u64,
}

pub fn decide(packet: &Packet, seen: &mut SeenIds, at: &Neighbourhood) -> Decision {
    if packet.sender == at.me {
        return Decision::Drop(Drop::Own);
    }
    if !packet.is_rsr && at.now_ms.abs_diff(packet.timestamp_ms) > MAX_SKEW_MS {
        return Decision::Drop(Drop::Skewed);
    }
    let id = message_id(packet);
    if !seen.first_time(id.clone(), at.now_ms) {
        return Decision::Drop(Drop::Duplicate);
    }
    let for_me = packet.recipient == Some(at.me);
    let deliver = for_me || packet.is_broadcast();
    let ttl = packet.ttl.min(ORIGIN_TTL);
    if for_me || ttl <= 1 || packet.kind == kind::REQUEST_SYNC {
        return Decision::Accept { deliver, relay: None };
    }
    let relay =
        if packet.is_broadcast() { broadcast_relay(packet, &id, ttl, at) } else { directed_relay(packet, ttl, at) };
    Decision::Accept { deliver, relay }
}

fn directed_relay(packet: &Packet, ttl: u8, at: &Neighbourhood) -> Option<Relay> {
    let jitter_ms = if packet.kind == kind::NOISE_HANDSHAKE { (10, 35) } else { (20, 60) };
    let recipient = packet.recipient.expect("directed");
    // Along the route when we are on it: the next hop, or the recipient after the last.
    let next =
        match packet.route.as_ref().and_then(|route| route.iter().position(|hop| *hop == at.me).map(|i| (route, i))) {
            Some((route, i)) => {
                let hop = route.get(i + 1).copied().unwrap_or(recipient);
                if at.links.contains(&hop) {
                    Next::Hop(hop)
                } else {
                    flood(at)
                }
            }
            None if at.links.contains(&recipient) => Next::Hop(recipient),
            None => flood(at),
        };
    Some(Relay { ttl: ttl - 1, jitter_ms, next })
}

fn flood(at: &Neighbourhood) -> Next {
    Next::Links(at.links.iter().copied().filter(|l| Some(*l) != at.ingress).collect())
}

fn broadcast_relay(packet: &Packet, id: &str, ttl: u8, at: &Neighbourhood) -> Option<Relay> {
    let degree = at.links.len();
    let (cap, jitter_ms) = match packet.kind {
        kind::FRAGMENT | kind::VOICE_FRAME => (if degree >= 6 { 5 } else { 7 }, (8, 25)),
        _ => {
            let cap = match degree {
                0..=2 => ORIGIN_TTL,
                3..=5 if packet.kind == kind::ANNOUNCE => 7,
                3..=5 => 6,
                _ => 5,
            };
            let jitter = match degree {
                0..=2 => (10, 40),
                3..=5 => (60, 150),
                6..=9 => (80, 180),
                _ => (100, 220),
            };
            (cap, jitter)
        }
    };
    let new_ttl = ttl.min(cap) - 1;
    if new_ttl == 0 {
        return None;
    }
    let candidates: Vec<PeerId> = at.links.iter().copied().filter(|l| Some(*l) != at.ingress).collect();
    let links =
        if matches!(packet.kind, kind::ANNOUNCE | kind::FRAGMENT) { candidates } else { fanout(id, candidates) };
    Some(Relay { ttl: new_ttl, jitter_ms, next: Next::Links(links) })
}

/// ⌈log₂ n⌉ + 1 of `links`, ranked by SHA-256("messageID::linkID"): every peer picks the same
/// for a given message, and different ones for different messages.
pub fn fanout(message_id: &str, mut links: Vec<PeerId>) -> Vec<PeerId> {
    let n = links.len();
    if n <= 2 {
        return links;
    }
    let keep = (usize::BITS - (n - 1).leading_zeros()) as usize + 1;
    links.sort_by_cached_key(|link| Sha256::digest(format!("{message_id}::{}", hex::encode(link))));
    links.truncate(keep.min(n));
    links
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::BROADCAST;

    const ME: PeerId = [1; 8];
    const NOW: u64 = 1_800_000_000_000;

    fn at(links: &[PeerId], ingress: Option<PeerId>) -> Neighbourhood<'_> {
        Neighbourhood { me: ME, links, ingress, now_ms: NOW }
    }

    fn message(sender: u8, ttl: u8) -> Packet {
        let mut p = Packet::new(kind::MESSAGE, [sender; 8], NOW - 1000, b"hi".to_vec());
        p.ttl = ttl;
        p
    }

    #[test]
    fn broadcasts_are_delivered_and_relayed_once() {
        let links = [[2; 8], [3; 8]];
        let mut seen = SeenIds::default();
        let p = message(2, 7);
        let d = decide(&p, &mut seen, &at(&links, Some([2; 8])));
        assert_eq!(
            d,
            Decision::Accept {
                deliver: true,
                relay: Some(Relay { ttl: 6, jitter_ms: (10, 40), next: Next::Links(vec![[3; 8]]) })
            },
            "not back to the link it came from"
        );
        assert_eq!(decide(&p, &mut seen, &at(&links, Some([3; 8]))), Decision::Drop(Drop::Duplicate));
        let mut android = message(4, 7);
        android.recipient = Some(BROADCAST);
        assert!(matches!(decide(&android, &mut seen, &at(&links, None)), Decision::Accept { deliver: true, .. }));
    }

    #[test]
    fn what_is_never_relayed() {
        let links = [[2; 8], [3; 8]];
        let mut seen = SeenIds::default();
        assert_eq!(decide(&message(1, 7), &mut seen, &at(&links, None)), Decision::Drop(Drop::Own));
        let old = Packet { timestamp_ms: NOW - 121_000, ..message(2, 7) };
        assert_eq!(decide(&old, &mut seen, &at(&links, None)), Decision::Drop(Drop::Skewed));
        assert!(matches!(
            decide(&Packet { is_rsr: true, ..old }, &mut seen, &at(&links, None)),
            Decision::Accept { .. }
        ));
        assert_eq!(
            decide(&message(5, 1), &mut seen, &at(&links, None)),
            Decision::Accept { deliver: true, relay: None }
        );
        let mut to_me = message(6, 7);
        to_me.recipient = Some(ME);
        assert_eq!(decide(&to_me, &mut seen, &at(&links, None)), Decision::Accept { deliver: true, relay: None });
        let sync = Packet { kind: kind::REQUEST_SYNC, ..message(7, 7) };
        assert_eq!(decide(&sync, &mut seen, &at(&links, None)), Decision::Accept { deliver: true, relay: None });
    }

    #[test]
    fn directed_packets_go_to_the_recipient_or_along_the_route() {
        let links = [[2; 8], [3; 8], [9; 8]];
        let mut seen = SeenIds::default();
        let mut dm = Packet::new(kind::NOISE_ENCRYPTED, [2; 8], NOW, vec![0; 40]);
        dm.recipient = Some([9; 8]);
        let d = decide(&dm, &mut seen, &at(&links, Some([2; 8])));
        assert_eq!(
            d,
            Decision::Accept {
                deliver: false,
                relay: Some(Relay { ttl: 6, jitter_ms: (20, 60), next: Next::Hop([9; 8]) })
            }
        );
        let mut routed = Packet::new(kind::NOISE_HANDSHAKE, [2; 8], NOW, vec![0; 32]);
        routed.version = 2;
        routed.recipient = Some([8; 8]);
        routed.route = Some(vec![ME, [3; 8]]);
        let d = decide(&routed, &mut seen, &at(&links, Some([2; 8])));
        assert_eq!(
            d,
            Decision::Accept {
                deliver: false,
                relay: Some(Relay { ttl: 6, jitter_ms: (10, 35), next: Next::Hop([3; 8]) })
            }
        );
        let mut unknown = dm.clone();
        unknown.recipient = Some([7; 8]);
        unknown.timestamp_ms += 1;
        let Decision::Accept { relay: Some(Relay { next, .. }), .. } =
            decide(&unknown, &mut seen, &at(&links, Some([2; 8])))
        else {
            panic!()
        };
        assert_eq!(next, Next::Links(vec![[3; 8], [9; 8]]), "no route and no link to it: flood");
    }

    #[test]
    fn busy_neighbourhoods_cap_the_ttl_and_thin_the_fanout() {
        let links: Vec<PeerId> = (10..22).map(|i| [i; 8]).collect();
        let mut seen = SeenIds::default();
        let Decision::Accept { relay: Some(relay), .. } = decide(&message(2, 7), &mut seen, &at(&links, None)) else {
            panic!()
        };
        assert_eq!((relay.ttl, relay.jitter_ms), (4, (100, 220)));
        let Next::Links(chosen) = &relay.next else { panic!() };
        assert_eq!(chosen.len(), 5, "⌈log₂ 12⌉ + 1");
        assert_eq!(fanout("same", links.clone()), fanout("same", links.clone()), "deterministic");
        let announce = Packet { kind: kind::ANNOUNCE, ..message(3, 7) };
        let Decision::Accept { relay: Some(relay), .. } = decide(&announce, &mut seen, &at(&links, None)) else {
            panic!()
        };
        assert_eq!(relay.next, Next::Links(links.clone()), "announces go to every link");
    }

    #[test]
    fn seen_ids_expire_and_stay_bounded() {
        let mut seen = SeenIds::default();
        assert!(seen.first_time("a".into(), 0));
        assert!(!seen.first_time("a".into(), DEDUP_MS - 1));
        assert!(seen.first_time("a".into(), DEDUP_MS + 1), "forgotten after 5 minutes");
        for i in 0..3000 {
            seen.first_time(i.to_string(), DEDUP_MS + 2);
        }
        assert!(seen.order.len() <= DEDUP_CAPACITY && seen.at.len() <= DEDUP_CAPACITY);
    }
}
