//! Access control by client network: `[[access]]` rules, decided once per connection.
//!
//! Each rule names networks (CIDR, IPv4 and IPv6) and what a client from them may do. At
//! accept the event loop asks [`Access::decide`] for the client's address: the first rule
//! whose networks contain it wins, and gives a [`Grant`], a few bits kept with the
//! connection. A client no rule matches is refused at accept. Without rules everybody may
//! do everything, as on a CPU without protection (the default).
//!
//! After accept nothing is looked up: a request costs a test of the grant's bits, and an
//! item of a connection limited to some DBs one more bit test in its rule's DB set.
//!
//! What a refused operation gets is what a CPU answers:
//! - writes of a read-only connection, items outside its areas or DBs: item code 0x03
//!   (access denied), each item on its own, as for a read-only DB;
//! - PLC control (stop, start, PI services) and download/delete: 0xD241, the code a
//!   password-protected CPU refuses them with; clock set: 0xD0A1 (userdata);
//! - Read Var and Write Var with `put_get = false`: header error 0x8104 in a bare Ack, what
//!   an S7-1200/1500 answers while "Permit access with PUT/GET communication from remote
//!   partner" is off (see the README's Security section for the sources).

use std::net::IpAddr;

use serde::Deserialize;

mod cidr;
pub use cidr::Cidr;

use crate::wire::var::Area;

/// Bits of a [`Grant`]. A set bit permits.
mod bit {
    pub(super) const WRITE: u16 = 1 << 0;
    pub(super) const CONTROL: u16 = 1 << 1;
    pub(super) const CLOCK_SET: u16 = 1 << 2;
    pub(super) const DOWNLOAD: u16 = 1 << 3;
    pub(super) const PUT_GET: u16 = 1 << 4;
    pub(super) const INPUTS: u16 = 1 << 8;
    pub(super) const OUTPUTS: u16 = 1 << 9;
    pub(super) const FLAGS: u16 = 1 << 10;
    pub(super) const DBS: u16 = 1 << 11;
    pub(super) const TIMERS: u16 = 1 << 12;
    pub(super) const COUNTERS: u16 = 1 << 13;
    /// Every DB number allowed (no DB set to consult).
    pub(super) const ALL_DBS: u16 = 1 << 14;
    pub(super) const ALL_AREAS: u16 = INPUTS | OUTPUTS | FLAGS | DBS | TIMERS | COUNTERS;
    pub(super) const ALL: u16 =
        WRITE | CONTROL | CLOCK_SET | DOWNLOAD | PUT_GET | ALL_AREAS | ALL_DBS;
}

/// What one connection may do, decided at accept and kept with it. `Copy`, 4 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    bits: u16,
    /// The rule it came from (index into the DB sets; meaningless with `ALL_DBS`).
    rule: u8,
}

impl Default for Grant {
    /// Everything permitted (no rules configured).
    fn default() -> Grant {
        Grant::OPEN
    }
}

impl Grant {
    /// Everything permitted.
    pub const OPEN: Grant = Grant {
        bits: bit::ALL,
        rule: 0,
    };

    /// Everything permitted: requests take the path they take without rules.
    #[inline]
    pub fn is_open(self) -> bool {
        self.bits == bit::ALL
    }

    /// Write Var may change the image (else every item answers 0x03).
    #[inline]
    pub fn may_write(self) -> bool {
        self.bits & bit::WRITE != 0
    }

    /// Stop, start and PI services (else 0xD241).
    #[inline]
    pub fn may_control(self) -> bool {
        self.bits & bit::CONTROL != 0
    }

    /// Setting the PLC clock (else 0xD0A1).
    #[inline]
    pub fn may_set_clock(self) -> bool {
        self.bits & bit::CLOCK_SET != 0
    }

    /// Block download and delete (else 0xD241).
    #[inline]
    pub fn may_download(self) -> bool {
        self.bits & bit::DOWNLOAD != 0
    }

    /// Read Var / Write Var at all: the S7-1500 "PUT/GET" switch (else 0x8104).
    #[inline]
    pub fn may_put_get(self) -> bool {
        self.bits & bit::PUT_GET != 0
    }

    /// Every area and every DB may be addressed: items need no check.
    #[inline]
    pub fn reaches_everything(self) -> bool {
        self.bits & (bit::ALL_AREAS | bit::ALL_DBS) == bit::ALL_AREAS | bit::ALL_DBS
    }

    /// Whether an item in `area` (DB number `db` for DB/DI) may be addressed.
    #[inline]
    pub fn reaches(self, area: Area, db: u16, access: &Access) -> bool {
        let b = match area {
            Area::Inputs => bit::INPUTS,
            Area::Outputs => bit::OUTPUTS,
            Area::Flags => bit::FLAGS,
            Area::Timers => bit::TIMERS,
            Area::Counters => bit::COUNTERS,
            Area::DataBlock | Area::InstanceDataBlock => {
                return self.bits & bit::DBS != 0
                    && (self.bits & bit::ALL_DBS != 0 || access.db_allowed(self.rule, db));
            }
            // The image has no such area: let the image answer 0x0A as for everybody.
            Area::Peripheral | Area::Unknown(_) => return true,
        };
        self.bits & b != 0
    }
}

/// One `[[access]]` entry of the configuration.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// Client networks in CIDR notation (`10.0.0.0/8`, `fd00::/64`, or one address).
    pub networks: Vec<String>,
    /// Clients from these networks may connect at all (false: refused at accept).
    #[serde(default = "yes")]
    pub connect: bool,
    /// Refuse Write Var (every item answers 0x03).
    #[serde(default)]
    pub read_only: bool,
    /// Allow stop, start and PI services (refused with 0xD241 otherwise).
    #[serde(default = "yes")]
    pub control: bool,
    /// Allow setting the PLC clock (refused with 0xD0A1 otherwise).
    #[serde(default = "yes")]
    pub clock_set: bool,
    /// Allow block download and delete (still only if `[cpu] allow_download/allow_delete`).
    #[serde(default = "yes")]
    pub download: bool,
    /// S7-1500 "Permit access with PUT/GET communication": false refuses Read Var and Write
    /// Var with header error 0x8104, as such a CPU does.
    #[serde(default = "yes")]
    pub put_get: bool,
    /// Areas items may address: `I`, `Q`, `M`, `DB`, `T`, `C` (default: all).
    pub areas: Option<Vec<String>>,
    /// DB numbers items may address (`5` or `"10-19"`; default: all). Implies area `DB`.
    pub dbs: Option<Vec<DbRange>>,
}

fn yes() -> bool {
    true
}

impl RuleConfig {
    /// A rule for `networks` with every key at its default: these clients may do everything.
    pub fn for_networks(networks: &[&str]) -> RuleConfig {
        RuleConfig {
            networks: networks.iter().map(|s| s.to_string()).collect(),
            connect: true,
            read_only: false,
            control: true,
            clock_set: true,
            download: true,
            put_get: true,
            areas: None,
            dbs: None,
        }
    }
}

/// A DB number or an inclusive range of them, `7` or `"10-19"`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum DbRange {
    /// One DB.
    One(u16),
    /// `"first-last"` (or one number as text).
    Text(String),
}

impl DbRange {
    fn bounds(&self) -> Result<(u16, u16), String> {
        match self {
            DbRange::One(n) => Ok((*n, *n)),
            DbRange::Text(t) => {
                let num = |s: &str| {
                    s.trim()
                        .parse::<u16>()
                        .map_err(|_| format!("{t:?} is not a DB number or range like \"10-19\""))
                };
                let (a, b) = match t.split_once('-') {
                    Some((a, b)) => (num(a)?, num(b)?),
                    None => (num(t)?, num(t)?),
                };
                if a > b {
                    return Err(format!("{t:?}: range runs backwards"));
                }
                Ok((a, b))
            }
        }
    }
}

/// 65536 bits, one per DB number.
type DbSet = Box<[u64; 1024]>;

#[derive(Debug, Clone)]
struct Rule {
    networks: Vec<Cidr>,
    /// `None`: refused at accept.
    grant: Option<Grant>,
}

/// The compiled `[[access]]` rules: built at start-up, read-only afterwards.
#[derive(Debug, Clone, Default)]
pub struct Access {
    rules: Vec<Rule>,
    /// DB sets of the rules that list DBs, indexed by [`Grant::rule`].
    db_sets: Vec<DbSet>,
}

/// Rules beyond this are refused by the configuration check (the rule index is a byte).
pub const MAX_RULES: usize = 64;

impl Access {
    /// No rules: every client may do everything.
    pub fn open() -> Access {
        Access::default()
    }

    /// Compiles the configuration's rules; errors name the rule (`access[2].networks`).
    pub fn compile(rules: &[RuleConfig]) -> Result<Access, (String, String)> {
        if rules.len() > MAX_RULES {
            return Err(("access".into(), format!("at most {MAX_RULES} rules")));
        }
        let mut out = Access::default();
        for (i, r) in rules.iter().enumerate() {
            let key = |k: &str| format!("access[{i}].{k}");
            if r.networks.is_empty() {
                return Err((key("networks"), "names no network".into()));
            }
            let networks = r
                .networks
                .iter()
                .map(|n| Cidr::parse(n))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| (key("networks"), e))?;
            let mut bits = bit::ALL;
            let mut clear = |b: u16, cond: bool| {
                if cond {
                    bits &= !b;
                }
            };
            clear(bit::WRITE, r.read_only);
            clear(bit::CONTROL, !r.control);
            clear(bit::CLOCK_SET, !r.clock_set);
            clear(bit::DOWNLOAD, !r.download);
            clear(bit::PUT_GET, !r.put_get);
            if let Some(areas) = &r.areas {
                let mut allowed = 0;
                for a in areas {
                    allowed |= area_bit(a).ok_or_else(|| {
                        (
                            key("areas"),
                            format!("{a:?} is not one of I, Q, M, DB, T, C"),
                        )
                    })?;
                }
                bits = (bits & !bit::ALL_AREAS) | allowed;
            }
            let mut rule = 0;
            if let Some(dbs) = &r.dbs {
                let mut set: DbSet = Box::new([0; 1024]);
                for d in dbs {
                    let (a, b) = d.bounds().map_err(|e| (key("dbs"), e))?;
                    for n in a..=b {
                        set[usize::from(n) >> 6] |= 1 << (n & 63);
                    }
                }
                if r.areas.is_none() {
                    bits = (bits & !bit::ALL_AREAS) | bit::DBS;
                } else if bits & bit::DBS == 0 {
                    return Err((key("dbs"), "lists DBs but `areas` does not name DB".into()));
                }
                bits &= !bit::ALL_DBS;
                rule = out.db_sets.len() as u8;
                out.db_sets.push(set);
            }
            out.rules.push(Rule {
                networks,
                grant: r.connect.then_some(Grant { bits, rule }),
            });
        }
        Ok(out)
    }

    /// Whether any rule is configured.
    pub fn is_open(&self) -> bool {
        self.rules.is_empty()
    }

    /// What a client at `ip` may do; `None`: refuse the connection. First matching rule wins;
    /// with rules configured, an address none of them names is refused.
    pub fn decide(&self, ip: IpAddr) -> Option<Grant> {
        if self.rules.is_empty() {
            return Some(Grant::OPEN);
        }
        self.rules
            .iter()
            .find(|r| r.networks.iter().any(|n| n.contains(ip)))
            .and_then(|r| r.grant)
    }

    #[inline]
    fn db_allowed(&self, rule: u8, db: u16) -> bool {
        self.db_sets
            .get(usize::from(rule))
            .is_some_and(|s| s[usize::from(db >> 6)] & (1 << (db & 63)) != 0)
    }

    /// Writes to every page of the DB sets (start-up prefault).
    pub fn prefault(&mut self) {
        for s in &mut self.db_sets {
            for i in (0..s.len()).step_by(512) {
                s[i] = std::hint::black_box(s[i]);
            }
        }
    }
}

fn area_bit(name: &str) -> Option<u16> {
    Some(match name.to_ascii_uppercase().as_str() {
        "I" | "E" | "INPUTS" => bit::INPUTS,
        "Q" | "A" | "OUTPUTS" => bit::OUTPUTS,
        "M" | "FLAGS" => bit::FLAGS,
        "DB" => bit::DBS,
        "T" | "TIMERS" => bit::TIMERS,
        "C" | "Z" | "COUNTERS" => bit::COUNTERS,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(networks: &[&str]) -> RuleConfig {
        RuleConfig::for_networks(networks)
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn without_rules_everybody_gets_everything() {
        let a = Access::open();
        assert_eq!(a.decide(ip("203.0.113.9")), Some(Grant::OPEN));
        assert!(Grant::OPEN.reaches_everything() && Grant::OPEN.may_write());
    }

    #[test]
    fn first_matching_rule_wins_and_unmatched_clients_are_refused() {
        let mut deny = rule(&["10.1.9.0/24"]);
        deny.connect = false;
        let mut hmi = rule(&["10.1.0.0/16"]);
        hmi.read_only = true;
        hmi.control = false;
        let a = Access::compile(&[deny, hmi, rule(&["10.0.0.5"])]).unwrap();
        assert_eq!(a.decide(ip("10.1.9.4")), None, "deny rule first");
        let g = a.decide(ip("10.1.2.3")).unwrap();
        assert!(!g.may_write() && !g.may_control() && g.may_set_clock() && g.may_put_get());
        assert_eq!(a.decide(ip("10.0.0.5")), Some(Grant::OPEN));
        assert_eq!(a.decide(ip("10.0.0.6")), None, "no rule names it");
    }

    #[test]
    fn areas_and_db_ranges_limit_items() {
        let mut r = rule(&["0.0.0.0/0"]);
        r.areas = Some(vec!["DB".into(), "m".into()]);
        r.dbs = Some(vec![DbRange::One(1), DbRange::Text("10-12".into())]);
        let mut only_q = rule(&["::/0"]);
        only_q.areas = Some(vec!["Q".into()]);
        only_q.put_get = false;
        let a = Access::compile(&[r, only_q]).unwrap();
        let g = a.decide(ip("192.0.2.1")).unwrap();
        assert!(!g.reaches_everything());
        assert!(g.reaches(Area::DataBlock, 1, &a) && g.reaches(Area::InstanceDataBlock, 12, &a));
        assert!(!g.reaches(Area::DataBlock, 2, &a) && !g.reaches(Area::DataBlock, 13, &a));
        assert!(g.reaches(Area::Flags, 0, &a) && !g.reaches(Area::Inputs, 0, &a));
        let q = a.decide(ip("2001:db8::1")).unwrap();
        assert!(q.reaches(Area::Outputs, 0, &a) && !q.reaches(Area::DataBlock, 1, &a));
        assert!(!q.may_put_get());
    }

    #[test]
    fn rule_errors_name_the_key() {
        let mut r = rule(&["10.0.0.0/8"]);
        r.areas = Some(vec!["X".into()]);
        assert_eq!(Access::compile(&[r]).unwrap_err().0, "access[0].areas");
        let mut r = rule(&["10.0.0.0/8"]);
        r.dbs = Some(vec![DbRange::Text("9-3".into())]);
        assert_eq!(Access::compile(&[r]).unwrap_err().0, "access[0].dbs");
        let mut r = rule(&["10.0.0.0/8"]);
        r.areas = Some(vec!["M".into()]);
        r.dbs = Some(vec![DbRange::One(1)]);
        assert_eq!(Access::compile(&[r]).unwrap_err().0, "access[0].dbs");
        let e = Access::compile(&[rule(&["10.0.0.0/8"]), rule(&["10.0.0.300"])]).unwrap_err();
        assert_eq!(e.0, "access[1].networks");
    }
}
