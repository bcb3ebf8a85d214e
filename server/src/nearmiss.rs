//! Near misses of anonymous queries, counted per client: an item that matched nothing but lies
//! within twice the threshold of an entry. An honest client's images rarely land there; a
//! client probing where the threshold lies (perturbing a hash until the verdict flips) lands
//! there again and again. Each client group ([`crate::ratelimit::client_group`]) has a count per
//! fixed window; when it exceeds the limit, the caller logs it once for that window.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Clients tracked before those whose window has ended are dropped.
const MAX_CLIENTS: usize = 100_000;

pub struct NearMissWatch {
    window: Duration,
    /// Near misses in a window above which a client is reported (0: detection off).
    limit: u64,
    clients: Mutex<HashMap<String, Window>>,
}

struct Window {
    start: Instant,
    count: u64,
}

/// A client that just went over the limit in its window.
#[derive(Debug, PartialEq, Eq)]
pub struct Flagged {
    pub count: u64,
}

impl NearMissWatch {
    pub fn new(window: Duration, limit: u64) -> Self {
        NearMissWatch {
            window: window.max(Duration::from_secs(1)),
            limit,
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// Whether near misses are looked for at all (they cost a wider search).
    pub fn enabled(&self) -> bool {
        self.limit > 0
    }

    pub fn window(&self) -> Duration {
        self.window
    }

    /// Counts `n` near misses of `client`; `Some` once per window, when the count first
    /// exceeds the limit.
    pub fn record(&self, client: &str, n: u64) -> Option<Flagged> {
        if n == 0 || !self.enabled() {
            return None;
        }
        let now = Instant::now();
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        if clients.len() >= MAX_CLIENTS && !clients.contains_key(client) {
            let window = self.window;
            clients.retain(|_, w| now.duration_since(w.start) < window);
            if clients.len() >= MAX_CLIENTS {
                // Every window is live: forget the quietest clients.
                let mut counts: Vec<(u64, String)> =
                    clients.iter().map(|(k, w)| (w.count, k.clone())).collect();
                counts.sort();
                for (_, k) in counts.into_iter().take(MAX_CLIENTS / 4) {
                    clients.remove(&k);
                }
            }
        }
        let w = clients.entry(client.to_string()).or_insert(Window {
            start: now,
            count: 0,
        });
        if now.duration_since(w.start) >= self.window {
            *w = Window {
                start: now,
                count: 0,
            };
        }
        let before = w.count;
        w.count += n;
        (before <= self.limit && w.count > self.limit).then_some(Flagged { count: w.count })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_is_flagged_once_per_window_above_the_limit() {
        let watch = NearMissWatch::new(Duration::from_secs(3600), 3);
        assert_eq!(watch.record("a", 3), None);
        assert_eq!(watch.record("a", 2), Some(Flagged { count: 5 }));
        assert_eq!(watch.record("a", 10), None);
        assert_eq!(watch.record("b", 4), Some(Flagged { count: 4 }));
        assert_eq!(watch.record("c", 0), None);
        let off = NearMissWatch::new(Duration::from_secs(1), 0);
        assert_eq!(off.record("a", 100), None);
    }

    #[test]
    fn a_new_window_starts_the_count_again() {
        let watch = NearMissWatch::new(Duration::from_secs(1), 1);
        assert!(watch.record("a", 2).is_some());
        std::thread::sleep(Duration::from_millis(1100));
        assert_eq!(watch.record("a", 1), None);
        assert!(watch.record("a", 1).is_some());
    }
}
