//! Token buckets: `rate` tokens a second, at most `burst` saved; a charge of `n` tokens is
//! refused, with the seconds until enough have come back, when fewer are saved.
//!
//! One bucket type serves every limit: requests per client and per API key (a token a
//! request), and the anonymous match quota ([`ItemQuota`]): items per client and per `Origin`,
//! each with a per-second bucket and a daily budget (a bucket that holds a day's budget and
//! refills it over 24 hours). Clients are counted by [`client_group`]: an IPv4 address, or an
//! IPv6 address's /64 (one subscriber's usual allocation). Behind a reverse proxy the client's
//! address is taken from `X-Forwarded-For`, but only when the peer is a trusted proxy
//! ([`client_ip`], `--trusted-proxy`).

use std::collections::HashMap;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::Instant;

use axum::http::HeaderMap;

pub struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Buckets kept before idle ones are dropped (a full bucket holds nothing worth keeping).
const MAX_BUCKETS: usize = 100_000;

/// Seconds in the day of a daily budget.
const DAY_SECS: f64 = 86_400.0;

impl RateLimiter {
    pub fn new(rate: f64, burst: f64) -> Self {
        RateLimiter {
            rate,
            burst: burst.max(1.0),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// A budget of `per_day` tokens a day, refilled evenly (0: no limit).
    pub fn daily(per_day: u64) -> Self {
        RateLimiter::new(per_day as f64 / DAY_SECS, per_day as f64)
    }

    fn enabled(&self) -> bool {
        self.rate > 0.0
    }

    /// The largest charge that can ever pass (`None`: no limit).
    pub fn capacity(&self) -> Option<u64> {
        self.enabled().then_some(self.burst as u64)
    }

    /// Takes a token for `key`: `Ok` or `Err(seconds to wait)`. A rate of 0 turns limiting off.
    pub fn take(&self, key: &str) -> Result<(), u64> {
        take_all(&[(self, key)], 1)
    }

    /// Runs `f` on `key`'s bucket, refilled to now (created full).
    fn with_bucket<T>(&self, key: &str, f: impl FnOnce(&mut Bucket, f64) -> T) -> T {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= MAX_BUCKETS && !buckets.contains_key(key) {
            self.evict(&mut buckets, now);
        }
        let bucket = buckets.entry(key.to_string()).or_insert(Bucket {
            tokens: self.burst,
            last: now,
        });
        let refill = now.duration_since(bucket.last).as_secs_f64() * self.rate;
        bucket.tokens = (bucket.tokens + refill).min(self.burst);
        bucket.last = now;
        f(bucket, self.rate)
    }

    /// Drops the full buckets; if that is not enough (many clients mid-budget), the fullest
    /// until a quarter of the room is free: memory stays bounded, and the buckets forgotten
    /// are those of the clients that used the least.
    fn evict(&self, buckets: &mut HashMap<String, Bucket>, now: Instant) {
        let (rate, burst) = (self.rate, self.burst);
        let level = |b: &Bucket| b.tokens + now.duration_since(b.last).as_secs_f64() * rate;
        buckets.retain(|_, b| level(b) < burst);
        if buckets.len() >= MAX_BUCKETS {
            let mut levels: Vec<(f64, String)> =
                buckets.iter().map(|(k, b)| (level(b), k.clone())).collect();
            levels.sort_by(|a, b| b.0.total_cmp(&a.0));
            for (_, k) in levels.into_iter().take(buckets.len() - MAX_BUCKETS * 3 / 4) {
                buckets.remove(&k);
            }
        }
    }
}

/// Charges `n` tokens to every `(limiter, key)`, or to none: `Err(seconds)` until all of them
/// could pay, the longest wait. Disabled limiters are skipped. Two concurrent charges may both
/// pass the check and overdraw a bucket slightly; the overdraft is repaid by waiting.
pub fn take_all(charges: &[(&RateLimiter, &str)], n: u64) -> Result<(), u64> {
    let n = n as f64;
    let mut wait = 0u64;
    for (limiter, key) in charges.iter().filter(|(l, _)| l.enabled()) {
        limiter.with_bucket(key, |b, rate| {
            if b.tokens < n {
                wait = wait.max(((n - b.tokens) / rate).ceil().max(1.0) as u64);
            }
        });
    }
    if wait > 0 {
        return Err(wait);
    }
    for (limiter, key) in charges.iter().filter(|(l, _)| l.enabled()) {
        limiter.with_bucket(key, |b, _| b.tokens -= n);
    }
    Ok(())
}

/// The client a request is counted against: an IPv4 address (also when it reaches an IPv6
/// socket as `::ffff:a.b.c.d`), or the /64 of an IPv6 address.
pub fn client_group(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                format!("{}/64", std::net::Ipv6Addr::from(prefix))
            }
        },
    }
}

/// A network, `ADDRESS/BITS` (a bare address is one host). IPv4-mapped IPv6 addresses are
/// compared as IPv4.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    bits: u8,
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Cidr, String> {
        let (addr, bits) = s.split_once('/').map_or((s, None), |(a, b)| (a, Some(b)));
        let net = canonical(
            addr.parse::<IpAddr>()
                .map_err(|e| format!("{addr:?} is not an IP address: {e}"))?,
        );
        let max = if net.is_ipv4() { 32 } else { 128 };
        let bits = match bits {
            None => max,
            Some(b) => b
                .parse::<u8>()
                .ok()
                .filter(|b| *b <= max)
                .ok_or_else(|| format!("prefix length is 0..={max}, found {b:?}"))?,
        };
        Ok(Cidr { net, bits })
    }
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        let prefix = |bits: u8, width: u32| -> u128 {
            if bits == 0 {
                0
            } else {
                (!0u128 << (width - u32::from(bits))) & (!0u128 >> (128 - width))
            }
        };
        match (self.net, canonical(ip)) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let m = prefix(self.bits, 32);
                u128::from(u32::from(n)) & m == u128::from(u32::from(a)) & m
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let m = prefix(self.bits, 128);
                u128::from(n) & m == u128::from(a) & m
            }
            _ => false,
        }
    }
}

/// The client's address: the peer's, unless the peer is one of the `trusted` proxies; then the
/// rightmost address of `X-Forwarded-For` that is not a trusted proxy (the hops to its right
/// were appended by proxies we trust; what is left of it the client may have written). The
/// header is never read when the peer is not trusted. A hop that is not an address ends the
/// walk at the last trusted one.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[Cidr]) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        let Ok(ip) = hop.parse::<IpAddr>() else {
            break;
        };
        client = ip;
        if !is_trusted(ip) {
            break;
        }
    }
    client
}

/// The anonymous match quota, charged per item: per client group a per-second bucket and a
/// daily budget, and the same per `Origin` header (a page of another site calling the API from
/// its visitors' browsers).
pub struct ItemQuota {
    pub client: RateLimiter,
    pub client_daily: RateLimiter,
    pub origin: RateLimiter,
    pub origin_daily: RateLimiter,
}

/// Why anonymous items were refused.
#[derive(Debug, PartialEq, Eq)]
pub enum QuotaRefusal {
    /// More items than a bucket can ever hold: at most this many per request.
    TooMany(u64),
    /// Not now: retry after this many seconds.
    Wait(u64),
}

impl ItemQuota {
    /// Most items one anonymous request may hold (`None`: no quota limits it).
    pub fn max_items(&self) -> Option<u64> {
        [
            &self.client,
            &self.client_daily,
            &self.origin,
            &self.origin_daily,
        ]
        .iter()
        .filter_map(|l| l.capacity())
        .min()
    }

    /// Charges `items` to `client` and, when given, to `origin`: all or nothing.
    pub fn charge(
        &self,
        client: &str,
        origin: Option<&str>,
        items: u64,
    ) -> Result<(), QuotaRefusal> {
        if let Some(max) = self.max_items().filter(|m| items > *m) {
            return Err(QuotaRefusal::TooMany(max));
        }
        let mut charges = vec![(&self.client, client), (&self.client_daily, client)];
        if let Some(o) = origin {
            charges.extend([(&self.origin, o), (&self.origin_daily, o)]);
        }
        take_all(&charges, items).map_err(QuotaRefusal::Wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_is_the_rightmost_untrusted_forwarded_hop_behind_a_trusted_proxy() {
        let trusted: Vec<Cidr> = ["10.0.0.0/8", "::1"]
            .iter()
            .map(|c| c.parse().unwrap())
            .collect();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let with = |xff: &[&str]| {
            let mut h = HeaderMap::new();
            for v in xff {
                h.append("x-forwarded-for", v.parse().unwrap());
            }
            h
        };
        let spoofed = with(&["6.6.6.6, 203.0.113.7, 10.1.2.3"]);
        assert_eq!(
            client_ip(ip("10.0.0.1"), &spoofed, &trusted),
            ip("203.0.113.7")
        );
        // Two header lines read as one list, in order.
        let split = with(&["6.6.6.6", "203.0.113.7, 10.1.2.3"]);
        assert_eq!(client_ip(ip("::1"), &split, &trusted), ip("203.0.113.7"));
        // An untrusted peer: the header is not read.
        assert_eq!(
            client_ip(ip("192.0.2.1"), &spoofed, &trusted),
            ip("192.0.2.1")
        );
        // No header, or garbage at the right: the last trusted address.
        assert_eq!(
            client_ip(ip("10.0.0.1"), &with(&[]), &trusted),
            ip("10.0.0.1")
        );
        let garbage = with(&["203.0.113.7, unknown"]);
        assert_eq!(
            client_ip(ip("10.0.0.1"), &garbage, &trusted),
            ip("10.0.0.1")
        );
        // An IPv4-mapped peer is an IPv4 address.
        assert_eq!(
            client_ip(ip("::ffff:10.0.0.1"), &spoofed, &trusted),
            ip("203.0.113.7")
        );
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
        assert!("0.0.0.0/0".parse::<Cidr>().unwrap().contains(ip("1.2.3.4")));
    }

    #[test]
    fn a_burst_is_allowed_then_refused() {
        let l = RateLimiter::new(1.0, 3.0);
        for _ in 0..3 {
            assert!(l.take("a").is_ok());
        }
        assert_eq!(l.take("a"), Err(1));
        assert!(l.take("b").is_ok());
    }

    #[test]
    fn zero_rate_means_no_limit() {
        let l = RateLimiter::new(0.0, 1.0);
        for _ in 0..100 {
            assert!(l.take("a").is_ok());
        }
        assert_eq!(l.capacity(), None);
    }

    #[test]
    fn charges_are_all_or_nothing() {
        let small = RateLimiter::new(1.0, 5.0);
        let large = RateLimiter::new(1.0, 50.0);
        assert!(take_all(&[(&small, "a"), (&large, "a")], 4).is_ok());
        // The small bucket holds 1: refused, and the large one is not charged.
        assert_eq!(take_all(&[(&small, "a"), (&large, "a")], 3), Err(2));
        assert!(take_all(&[(&large, "a")], 46).is_ok());
        assert!(take_all(&[(&large, "a")], 1).is_err());
    }

    #[test]
    fn a_daily_budget_waits_for_the_day_to_refill_it() {
        let day = RateLimiter::daily(100);
        assert!(take_all(&[(&day, "a")], 100).is_ok());
        // One item comes back every 864 s.
        assert_eq!(take_all(&[(&day, "a")], 1), Err(864));
        assert_eq!(take_all(&[(&day, "a")], 2), Err(1728));
        assert_eq!(day.capacity(), Some(100));
        assert_eq!(RateLimiter::daily(0).capacity(), None);
    }

    #[test]
    fn ipv6_clients_are_grouped_by_64_and_ipv4_alone() {
        let g = |s: &str| client_group(s.parse().unwrap());
        assert_eq!(g("2001:db8:1:2::1"), "2001:db8:1:2::/64");
        assert_eq!(g("2001:db8:1:2:ffff:ffff:ffff:ffff"), "2001:db8:1:2::/64");
        assert_ne!(g("2001:db8:1:3::1"), g("2001:db8:1:2::1"));
        assert_eq!(g("192.0.2.7"), "192.0.2.7");
        assert_ne!(g("192.0.2.8"), g("192.0.2.7"));
        // Mapped IPv4 addresses are IPv4 clients, not one shared /64.
        assert_eq!(g("::ffff:192.0.2.7"), "192.0.2.7");
        assert_ne!(g("::ffff:192.0.2.8"), g("::ffff:192.0.2.7"));
    }

    #[test]
    fn the_quota_bounds_a_request_and_charges_the_origin_too() {
        let quota = ItemQuota {
            client: RateLimiter::new(10.0, 20.0),
            client_daily: RateLimiter::daily(30),
            origin: RateLimiter::new(10.0, 25.0),
            origin_daily: RateLimiter::daily(0),
        };
        assert_eq!(quota.max_items(), Some(20));
        assert_eq!(quota.charge("c", None, 21), Err(QuotaRefusal::TooMany(20)));
        assert!(quota.charge("c", Some("https://a.example"), 20).is_ok());
        // Another client through the same origin: the origin's 5 left refuse 6.
        assert!(matches!(
            quota.charge("d", Some("https://a.example"), 6),
            Err(QuotaRefusal::Wait(_))
        ));
        assert!(quota.charge("d", None, 6).is_ok());
    }

    #[test]
    fn memory_stays_bounded_when_every_client_is_mid_budget() {
        let day = RateLimiter::daily(10);
        for i in 0..MAX_BUCKETS + 10 {
            take_all(&[(&day, &i.to_string())], 1).unwrap();
        }
        let kept = day.buckets.lock().unwrap().len();
        assert!(kept <= MAX_BUCKETS, "{kept} buckets");
    }
}
