//! Scenario files: TOML with a list of `[[phase]]` tables, run one after the other.
//!
//! Every field is checked here, once, so the generator's hot path never meets a bad value; each
//! mistake is one line that names the phase and the field (see docs/gen.md for the format).

use crate::cli::prefix_mask;
use core::net::Ipv4Addr;
use core::time::Duration;

/// Spoofed sources must lie in the benchmarking range (RFC 2544), 198.18.0.0/15, so a flood can
/// never pass for someone else's traffic.
pub const SPOOF_RANGE: (Ipv4Addr, u8) = (Ipv4Addr::new(198, 18, 0, 0), 15);

/// What a phase's connections do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Connect, one request and its response, close.
    Short,
    /// `requests_per_conn` requests per connection (0: until the phase ends).
    Persistent { requests_per_conn: u64 },
    /// One transfer of `bytes`: echo sends them and checks them echoed back; http downloads a
    /// body of that length.
    Bulk { bytes: u64 },
    /// Open and hold, without data, until the phase ends.
    Idle,
    /// Raw SYNs from spoofed sources (random addresses in `net/prefix_len`, random ports and
    /// sequence numbers) at `rate` per second; no connection is kept and nothing is answered.
    SynFlood { net: Ipv4Addr, prefix_len: u8 },
}

impl Mode {
    pub fn name(&self) -> &'static str {
        match self {
            Mode::Short => "short",
            Mode::Persistent { .. } => "persistent",
            Mode::Bulk { .. } => "bulk",
            Mode::Idle => "idle",
            Mode::SynFlood { .. } => "syn-flood",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    Echo,
    Http,
}

impl Protocol {
    pub fn name(&self) -> &'static str {
        match self {
            Protocol::Echo => "echo",
            Protocol::Http => "http",
        }
    }
}

/// Which side ends a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Closer {
    /// We close (FIN or RST, per `close_with`) after the last response.
    Client,
    /// We ask the server to close (http `Connection: close`, echo half-close) and wait for it.
    Server,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseWith {
    Fin,
    Rst,
}

/// One checked phase.
#[derive(Clone, Debug, PartialEq)]
pub struct Phase {
    pub name: String,
    pub duration: Duration,
    pub mode: Mode,
    pub protocol: Protocol,
    /// New connections per second (short, bulk, idle) or requests per second (persistent);
    /// `None`: as fast as concurrency allows.
    pub rate: Option<f64>,
    /// Connections of this phase open at once, at most.
    pub concurrency: u32,
    /// Bytes per request (echo payload; http request padded to this size with a header).
    pub request_size: u32,
    /// Expected response size: echo always `request_size`; http the body length
    /// (`Content-Length`), `None` accepts any.
    pub response_size: Option<u64>,
    pub closer: Closer,
    pub close_with: CloseWith,
    /// Pause after each response before the next request (or before closing).
    pub think_time: Duration,
    /// The rate (or, when unlimited, the concurrency) rises linearly from zero over this time.
    pub ramp_up: Duration,
    /// Longest wait for a connect, a response or the server's close.
    pub timeout: Duration,
}

impl Phase {
    /// Whether `rate` paces requests (persistent) rather than connection opens.
    pub fn rate_is_requests(&self) -> bool {
        matches!(self.mode, Mode::Persistent { .. })
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    pub name: String,
    pub phases: Vec<Phase>,
}

impl Scenario {
    pub fn total_duration(&self) -> Duration {
        self.phases.iter().map(|p| p.duration).sum()
    }

    /// Reads and checks a scenario file; the error is one line naming the file.
    pub fn from_file(path: &std::path::Path) -> Result<Scenario, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read scenario {}: {e}", path.display()))?;
        let default_name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "scenario".into());
        Scenario::parse(&text, &default_name)
            .map_err(|e| format!("scenario {}: {e}", path.display()))
    }

    /// Parses and checks scenario text.
    pub fn parse(text: &str, default_name: &str) -> Result<Scenario, String> {
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].lines().count().max(1));
            let msg = e.message().trim().replace('\n', " ");
            match line {
                Some(l) => format!("line {l}: {msg}"),
                None => msg,
            }
        })?;
        let mut name = default_name.to_string();
        let mut phases = Vec::new();
        for (key, value) in &table {
            match key.as_str() {
                "name" => {
                    name = value.as_str().ok_or("name: expected a string")?.to_string();
                }
                "phase" => {
                    let arr = value.as_array().ok_or("phase: expected [[phase]] tables")?;
                    for (i, v) in arr.iter().enumerate() {
                        let t = v
                            .as_table()
                            .ok_or_else(|| format!("phase {}: expected a table", i + 1))?;
                        phases.push(parse_phase(i + 1, t)?);
                    }
                }
                other => {
                    return Err(format!(
                        "unknown top-level field {other:?} (expected name and [[phase]] tables)"
                    ))
                }
            }
        }
        if phases.is_empty() {
            return Err("no phases: add at least one [[phase]] table".into());
        }
        Ok(Scenario { name, phases })
    }
}

const FIELDS: &[&str] = &[
    "name",
    "duration",
    "mode",
    "protocol",
    "rate",
    "concurrency",
    "request_size",
    "response_size",
    "requests_per_conn",
    "bytes",
    "closer",
    "close_with",
    "think_time",
    "ramp_up",
    "timeout",
    "sources",
];

/// What a syn-flood phase takes: it opens no connection and checks no response.
const FLOOD_FIELDS: &[&str] = &["name", "duration", "mode", "rate", "ramp_up", "sources"];

/// Fields that only some modes use; giving one elsewhere is a mistake worth reporting.
fn applies(field: &str, mode: &str) -> bool {
    if mode == "syn-flood" {
        return FLOOD_FIELDS.contains(&field);
    }
    match field {
        "sources" => false,
        "requests_per_conn" => mode == "persistent",
        "bytes" => mode == "bulk",
        "request_size" | "response_size" => mode == "short" || mode == "persistent",
        "think_time" => mode != "idle" && mode != "bulk",
        _ => true,
    }
}

/// The smallest HTTP request the generator sends (`request_size` may pad it, never shrink it).
pub const HTTP_MIN_REQUEST: usize = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n".len();

fn parse_phase(n: usize, t: &toml::Table) -> Result<Phase, String> {
    let name = match t.get("name") {
        Some(v) => v
            .as_str()
            .ok_or_else(|| format!("phase {n}: name: expected a string"))?
            .to_string(),
        None => format!("phase {n}"),
    };
    let err = |field: &str, msg: String| format!("phase {n} ({name}): {field}: {msg}");
    for key in t.keys() {
        if !FIELDS.contains(&key.as_str()) {
            return Err(err(
                key,
                format!("unknown field (known: {})", FIELDS.join(", ")),
            ));
        }
    }
    let mode_s = match t.get("mode") {
        Some(v) => v
            .as_str()
            .ok_or_else(|| err("mode", "expected a string".into()))?,
        None => {
            return Err(err(
                "mode",
                "missing (short, persistent, bulk, idle or syn-flood)".into(),
            ))
        }
    };
    if !["short", "persistent", "bulk", "idle", "syn-flood"].contains(&mode_s) {
        return Err(err(
            "mode",
            format!("{mode_s:?} is not short, persistent, bulk, idle or syn-flood"),
        ));
    }
    for key in t.keys() {
        if !applies(key, mode_s) {
            return Err(err(key, format!("does not apply to mode {mode_s:?}")));
        }
    }
    let get_str = |field: &str| -> Result<Option<&str>, String> {
        t.get(field)
            .map(|v| {
                v.as_str()
                    .ok_or_else(|| err(field, "expected a string".into()))
            })
            .transpose()
    };
    let get_dur = |field: &str| -> Result<Option<Duration>, String> {
        t.get(field)
            .map(|v| parse_duration(v).map_err(|m| err(field, m)))
            .transpose()
    };
    let get_size = |field: &str| -> Result<Option<u64>, String> {
        t.get(field)
            .map(|v| parse_size_value(v).map_err(|m| err(field, m)))
            .transpose()
    };

    let duration = get_dur("duration")?.ok_or_else(|| err("duration", "missing".into()))?;
    if duration.is_zero() {
        return Err(err("duration", "must be greater than zero".into()));
    }
    let protocol = match get_str("protocol")?.unwrap_or("echo") {
        "echo" => Protocol::Echo,
        "http" => Protocol::Http,
        p => return Err(err("protocol", format!("{p:?} is not echo or http"))),
    };
    let rate = match t.get("rate") {
        None => None,
        Some(toml::Value::String(s)) if s == "unlimited" => None,
        Some(v) => {
            let r = v
                .as_float()
                .or_else(|| v.as_integer().map(|i| i as f64))
                .ok_or_else(|| {
                    err(
                        "rate",
                        "expected a number per second or \"unlimited\"".into(),
                    )
                })?;
            if !(r.is_finite() && r > 0.0 && r <= 1e9) {
                return Err(err(
                    "rate",
                    format!("{r} must be > 0 and at most 1e9 per second"),
                ));
            }
            Some(r)
        }
    };
    let concurrency = match t.get("concurrency") {
        None => 64,
        Some(v) => v
            .as_integer()
            .filter(|c| (1..=16_000_000).contains(c))
            .ok_or_else(|| {
                err(
                    "concurrency",
                    "expected an integer from 1 to 16000000".into(),
                )
            })? as u32,
    };
    let mode = match mode_s {
        "short" => Mode::Short,
        "persistent" => {
            let n = match t.get("requests_per_conn") {
                None => 0,
                Some(v) => v.as_integer().filter(|n| *n >= 0).ok_or_else(|| {
                    err(
                        "requests_per_conn",
                        "expected an integer >= 0 (0: until the phase ends)".into(),
                    )
                })? as u64,
            };
            Mode::Persistent {
                requests_per_conn: n,
            }
        }
        "bulk" => {
            let bytes = get_size("bytes")?.ok_or_else(|| err("bytes", "missing".into()))?;
            if bytes == 0 {
                return Err(err("bytes", "must be greater than zero".into()));
            }
            Mode::Bulk { bytes }
        }
        "syn-flood" => {
            let v = get_str("sources")?.ok_or_else(|| {
                err(
                    "sources",
                    "missing (the spoofed source prefix, e.g. \"198.18.128.0/17\")".into(),
                )
            })?;
            let (net, prefix_len) = parse_sources(v).map_err(|m| err("sources", m))?;
            Mode::SynFlood { net, prefix_len }
        }
        _ => Mode::Idle,
    };
    let request_size = match get_size("request_size")? {
        None => match protocol {
            Protocol::Echo => 64,
            Protocol::Http => HTTP_MIN_REQUEST as u64,
        },
        Some(s) => s,
    };
    if request_size > 16 << 20 {
        return Err(err("request_size", "must be at most 16 MiB".into()));
    }
    let request_size = request_size as u32;
    if protocol == Protocol::Echo
        && request_size == 0
        && matches!(mode, Mode::Short | Mode::Persistent { .. })
    {
        return Err(err(
            "request_size",
            "an echo request needs at least 1 byte".into(),
        ));
    }
    if protocol == Protocol::Http && (request_size as usize) < HTTP_MIN_REQUEST {
        return Err(err(
            "request_size",
            format!("{request_size} is smaller than the smallest HTTP request ({HTTP_MIN_REQUEST} bytes)"),
        ));
    }
    let mut response_size = get_size("response_size")?;
    if protocol == Protocol::Echo {
        if let Some(r) = response_size {
            if r != request_size as u64 {
                return Err(err(
                    "response_size",
                    format!("echo answers with the request, so it must equal request_size ({request_size})"),
                ));
            }
        }
    }
    if let Mode::Bulk { bytes } = mode {
        if protocol == Protocol::Http {
            response_size = Some(bytes);
        }
    }
    let closer = match get_str("closer")?.unwrap_or("client") {
        "client" => Closer::Client,
        "server" => Closer::Server,
        c => return Err(err("closer", format!("{c:?} is not client or server"))),
    };
    let close_with = match get_str("close_with")?.unwrap_or("fin") {
        "fin" => CloseWith::Fin,
        "rst" => CloseWith::Rst,
        c => return Err(err("close_with", format!("{c:?} is not fin or rst"))),
    };
    if closer == Closer::Server && close_with == CloseWith::Rst {
        return Err(err(
            "close_with",
            "rst needs closer = \"client\" (the server closes its own way)".into(),
        ));
    }
    let think_time = get_dur("think_time")?.unwrap_or(Duration::ZERO);
    let ramp_up = get_dur("ramp_up")?.unwrap_or(Duration::ZERO);
    if ramp_up > duration {
        return Err(err("ramp_up", "must not be longer than duration".into()));
    }
    let timeout = get_dur("timeout")?.unwrap_or(Duration::from_secs(5));
    if timeout < Duration::from_millis(1) {
        return Err(err("timeout", "must be at least 1ms".into()));
    }
    Ok(Phase {
        name,
        duration,
        mode,
        protocol,
        rate,
        concurrency,
        request_size,
        response_size,
        closer,
        close_with,
        think_time,
        ramp_up,
        timeout,
    })
}

/// `"A.B.C.D/N"` inside [`SPOOF_RANGE`]; host bits must be zero.
pub fn parse_sources(v: &str) -> Result<(Ipv4Addr, u8), String> {
    let (a, n) = v
        .split_once('/')
        .ok_or_else(|| format!("{v:?} is not a prefix such as \"198.18.128.0/17\""))?;
    let net: Ipv4Addr = a
        .trim()
        .parse()
        .map_err(|_| format!("{a:?} is not an IPv4 address"))?;
    let len: u8 = n
        .trim()
        .parse()
        .ok()
        .filter(|l| *l <= 32)
        .ok_or_else(|| format!("{n:?} is not a prefix length from 0 to 32"))?;
    if u32::from(net) & !prefix_mask(len) != 0 {
        return Err(format!("{v} has host bits set"));
    }
    let (range, rlen) = SPOOF_RANGE;
    if len < rlen || u32::from(net) & prefix_mask(rlen) != u32::from(range) {
        return Err(format!(
            "{v} is not inside {range}/{rlen}: spoofed sources must stay in the benchmarking range"
        ));
    }
    Ok((net, len))
}

/// `"10s"`, `"250ms"`, `"100us"`, `"2m"`, `"1.5s"`, or a number of seconds.
pub fn parse_duration(v: &toml::Value) -> Result<Duration, String> {
    let secs = match v {
        toml::Value::Integer(i) if *i >= 0 => *i as f64,
        toml::Value::Float(f) if *f >= 0.0 && f.is_finite() => *f,
        toml::Value::String(s) => {
            let s = s.trim();
            let split = s
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(s.len());
            let (num, unit) = s.split_at(split);
            let n: f64 = num
                .parse()
                .map_err(|_| format!("{s:?} is not a duration (e.g. \"10s\", \"250ms\")"))?;
            let scale = match unit.trim() {
                "" | "s" => 1.0,
                "ms" => 1e-3,
                "us" => 1e-6,
                "m" | "min" => 60.0,
                "h" => 3600.0,
                u => {
                    return Err(format!(
                        "unknown unit {u:?} in {s:?} (use us, ms, s, m or h)"
                    ))
                }
            };
            n * scale
        }
        _ => return Err("expected a duration such as \"10s\" or \"250ms\"".into()),
    };
    if secs > 1e7 {
        return Err("is too long".into());
    }
    Ok(Duration::from_secs_f64(secs))
}

/// An integer, or a string with a binary suffix (`"4k"`, `"1m"`, `"16KiB"`).
pub fn parse_size_value(v: &toml::Value) -> Result<u64, String> {
    match v {
        toml::Value::Integer(i) if *i >= 0 => Ok(*i as u64),
        toml::Value::String(s) => crate::cli::parse_size(s).map(|n| n as u64),
        _ => Err("expected a byte count such as 1024 or \"4k\"".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(phase: &str) -> Result<Phase, String> {
        Scenario::parse(&format!("[[phase]]\n{phase}"), "t").map(|s| s.phases[0].clone())
    }

    #[test]
    fn minimal_short_phase_gets_the_documented_defaults() {
        let p = one("duration = \"10s\"\nmode = \"short\"").unwrap();
        assert_eq!(
            p,
            Phase {
                name: "phase 1".into(),
                duration: Duration::from_secs(10),
                mode: Mode::Short,
                protocol: Protocol::Echo,
                rate: None,
                concurrency: 64,
                request_size: 64,
                response_size: None,
                closer: Closer::Client,
                close_with: CloseWith::Fin,
                think_time: Duration::ZERO,
                ramp_up: Duration::ZERO,
                timeout: Duration::from_secs(5),
            }
        );
    }

    #[test]
    fn full_phase_parses_every_field() {
        let s = Scenario::parse(
            r#"
name = "mixed"
[[phase]]
name = "warm"
duration = "1.5s"
mode = "persistent"
protocol = "http"
rate = 2500
concurrency = 10
request_size = "1k"
response_size = 256
requests_per_conn = 7
closer = "server"
think_time = "2ms"
ramp_up = "500ms"
timeout = 2
[[phase]]
duration = 3
mode = "bulk"
protocol = "http"
bytes = "1m"
close_with = "rst"
rate = 1.5
"#,
            "x",
        )
        .unwrap();
        assert_eq!(s.name, "mixed");
        let p = &s.phases[0];
        assert_eq!(p.duration, Duration::from_millis(1500));
        assert_eq!(
            p.mode,
            Mode::Persistent {
                requests_per_conn: 7
            }
        );
        assert_eq!(p.protocol, Protocol::Http);
        assert_eq!(p.rate, Some(2500.0));
        assert_eq!(
            (p.concurrency, p.request_size, p.response_size),
            (10, 1024, Some(256))
        );
        assert_eq!(p.closer, Closer::Server);
        assert_eq!(p.think_time, Duration::from_millis(2));
        assert_eq!(p.ramp_up, Duration::from_millis(500));
        assert_eq!(p.timeout, Duration::from_secs(2));
        let b = &s.phases[1];
        assert_eq!(b.mode, Mode::Bulk { bytes: 1 << 20 });
        // A download's body length is what bulk http checks.
        assert_eq!(b.response_size, Some(1 << 20));
        assert_eq!(b.close_with, CloseWith::Rst);
        assert_eq!(b.rate, Some(1.5));
        assert_eq!(s.total_duration(), Duration::from_millis(4500));
    }

    #[test]
    fn errors_name_the_phase_and_the_field() {
        let cases = [
            ("mode = \"short\"", "phase 1 (phase 1): duration: missing"),
            ("duration = \"1s\"", "phase 1 (phase 1): mode: missing (short, persistent, bulk, idle or syn-flood)"),
            ("duration = \"1s\"\nmode = \"long\"", "phase 1 (phase 1): mode: \"long\" is not short, persistent, bulk, idle or syn-flood"),
            ("duration = \"1x\"\nmode = \"short\"", "phase 1 (phase 1): duration: unknown unit \"x\" in \"1x\" (use us, ms, s, m or h)"),
            ("duration = \"0s\"\nmode = \"short\"", "phase 1 (phase 1): duration: must be greater than zero"),
            ("name = \"a\"\nduration = 1\nmode = \"short\"\nrate = -3", "phase 1 (a): rate: -3 must be > 0 and at most 1e9 per second"),
            ("duration = 1\nmode = \"short\"\nrate = \"fast\"", "phase 1 (phase 1): rate: expected a number per second or \"unlimited\""),
            ("duration = 1\nmode = \"short\"\nconcurrency = 0", "phase 1 (phase 1): concurrency: expected an integer from 1 to 16000000"),
            ("duration = 1\nmode = \"short\"\nprotocol = \"ftp\"", "phase 1 (phase 1): protocol: \"ftp\" is not echo or http"),
            ("duration = 1\nmode = \"short\"\nrequests_per_conn = 3", "phase 1 (phase 1): requests_per_conn: does not apply to mode \"short\""),
            ("duration = 1\nmode = \"bulk\"", "phase 1 (phase 1): bytes: missing"),
            ("duration = 1\nmode = \"idle\"\nbytes = 5", "phase 1 (phase 1): bytes: does not apply to mode \"idle\""),
            ("duration = 1\nmode = \"short\"\nrequest_size = 10\nresponse_size = 11", "phase 1 (phase 1): response_size: echo answers with the request, so it must equal request_size (10)"),
            ("duration = 1\nmode = \"short\"\nprotocol = \"http\"\nrequest_size = 5", "phase 1 (phase 1): request_size: 5 is smaller than the smallest HTTP request (27 bytes)"),
            ("duration = 1\nmode = \"short\"\ncloser = \"server\"\nclose_with = \"rst\"", "phase 1 (phase 1): close_with: rst needs closer = \"client\" (the server closes its own way)"),
            ("duration = 1\nmode = \"short\"\nramp_up = 2", "phase 1 (phase 1): ramp_up: must not be longer than duration"),
            ("duration = 1\nmode = \"short\"\nclosr = \"server\"", "phase 1 (phase 1): closr: unknown field (known: name, duration, mode, protocol, rate, concurrency, request_size, response_size, requests_per_conn, bytes, closer, close_with, think_time, ramp_up, timeout, sources)"),
        ];
        for (text, want) in cases {
            assert_eq!(one(text).unwrap_err(), want, "for {text:?}");
        }
    }

    #[test]
    fn file_level_errors() {
        assert_eq!(
            Scenario::parse("name = \"x\"", "t").unwrap_err(),
            "no phases: add at least one [[phase]] table"
        );
        assert_eq!(
            Scenario::parse("phases = 3", "t").unwrap_err(),
            "unknown top-level field \"phases\" (expected name and [[phase]] tables)"
        );
        let e = Scenario::parse("[[phase]]\nduration = \n", "t").unwrap_err();
        assert!(e.starts_with("line 2: "), "{e}");
        assert!(!e.contains('\n'));
    }

    #[test]
    fn rate_unlimited_is_none() {
        let p = one("duration = 1\nmode = \"idle\"\nrate = \"unlimited\"").unwrap();
        assert_eq!(p.rate, None);
    }

    #[test]
    fn example_scenarios_parse() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/scenarios");
        for f in [
            "short-http",
            "persistent-echo",
            "bulk",
            "idle-conns",
            "syn-flood",
        ] {
            let s = Scenario::from_file(&dir.join(format!("{f}.toml"))).unwrap();
            assert!(!s.phases.is_empty(), "{f}");
        }
    }

    #[test]
    fn syn_flood_takes_a_source_prefix_inside_the_benchmarking_range() {
        let p = one(
            "duration = \"2s\"\nmode = \"syn-flood\"\nrate = 50000\nsources = \"198.18.128.0/17\"",
        )
        .unwrap();
        assert_eq!(
            p.mode,
            Mode::SynFlood {
                net: Ipv4Addr::new(198, 18, 128, 0),
                prefix_len: 17
            }
        );
        assert_eq!(p.mode.name(), "syn-flood");
        assert_eq!(p.rate, Some(50000.0));
        let base = "duration = 1\nmode = \"syn-flood\"\n";
        let bad = |extra: &str| one(&format!("{base}{extra}")).unwrap_err();
        assert!(bad("").contains("sources: missing"), "{}", bad(""));
        for (v, why) in [
            ("10.0.0.0/8", "not inside 198.18.0.0/15"),
            ("198.16.0.0/14", "not inside 198.18.0.0/15"),
            ("198.20.0.0/24", "not inside 198.18.0.0/15"),
            ("198.18.128.1/17", "host bits set"),
            ("198.18.128.0/33", "prefix length"),
            ("198.18.128.0", "not a prefix"),
        ] {
            let e = bad(&format!("sources = \"{v}\""));
            assert!(e.contains(why), "{v}: {e}");
            assert!(e.starts_with("phase 1 (phase 1): sources: "), "{e}");
        }
        // The whole range, and a single address, are fine.
        assert!(one(&format!("{base}sources = \"198.18.0.0/15\"")).is_ok());
        assert!(one(&format!("{base}sources = \"198.19.0.7/32\"")).is_ok());
        // Connection fields do not apply to a flood, and sources only to a flood.
        let e = bad("sources = \"198.18.128.0/17\"\nconcurrency = 5");
        assert!(e.contains("concurrency: does not apply"), "{e}");
        let e = one("duration = 1\nmode = \"short\"\nsources = \"198.18.128.0/17\"").unwrap_err();
        assert!(e.contains("sources: does not apply"), "{e}");
    }
}
