//! Gossip and request counters, written by the swarm task and read by anyone.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// Gossip counts of one topic since start.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TopicTraffic {
    pub topic: String,
    /// Messages from other nodes that passed validation.
    pub messages_in: u64,
    pub bytes_in: u64,
    /// Messages this node published.
    pub messages_out: u64,
    pub bytes_out: u64,
    /// Messages dropped as oversized or refused by the topic's validator.
    pub rejected: u64,
}

/// Everything the mesh counted since start.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Sorted by topic.
    pub topics: Vec<TopicTraffic>,
    pub requests_sent: u64,
    pub requests_received: u64,
    pub requests_failed: u64,
}

#[derive(Default)]
pub(crate) struct Counters(Mutex<Totals>);

#[derive(Default)]
struct Totals {
    topics: BTreeMap<String, TopicTraffic>,
    requests_sent: u64,
    requests_received: u64,
    requests_failed: u64,
}

pub(crate) enum Count<'a> {
    In(&'a str, usize),
    Out(&'a str, usize),
    Rejected(&'a str),
    RequestSent,
    RequestReceived,
    RequestFailed,
}

impl Counters {
    pub fn count(&self, count: Count<'_>) {
        let mut totals = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let totals = &mut *totals;
        fn topic<'t>(topics: &'t mut BTreeMap<String, TopicTraffic>, name: &str) -> &'t mut TopicTraffic {
            topics
                .entry(name.to_owned())
                .or_insert_with(|| TopicTraffic { topic: name.to_owned(), ..Default::default() })
        }
        match count {
            Count::In(name, bytes) => {
                let t = topic(&mut totals.topics, name);
                t.messages_in += 1;
                t.bytes_in += bytes as u64;
            }
            Count::Out(name, bytes) => {
                let t = topic(&mut totals.topics, name);
                t.messages_out += 1;
                t.bytes_out += bytes as u64;
            }
            Count::Rejected(name) => topic(&mut totals.topics, name).rejected += 1,
            Count::RequestSent => totals.requests_sent += 1,
            Count::RequestReceived => totals.requests_received += 1,
            Count::RequestFailed => totals.requests_failed += 1,
        }
    }

    pub fn snapshot(&self) -> Traffic {
        let totals = self.0.lock().unwrap_or_else(|p| p.into_inner());
        Traffic {
            topics: totals.topics.values().cloned().collect(),
            requests_sent: totals.requests_sent,
            requests_received: totals.requests_received,
            requests_failed: totals.requests_failed,
        }
    }
}
