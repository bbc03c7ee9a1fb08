//! App names for `--listen PORT=APP`, and [`BuiltinApp`]: every built-in app in one engine,
//! chosen per connection by its local port.
//!
//! To add a built-in app: write a [`Handler`], add a variant to [`AppKind`], [`BuiltinState`]
//! and the `dispatch!` arms below, and a line to [`APPS`]. A user's own binary does not need
//! any of this: it passes its own `stack::App` to the runtime (see `examples/hello_app.rs`).

use super::discard::Discard;
use super::echo::{Echo, EchoState};
use super::http::{Http, HttpConfig, HttpState};
use super::{AppStats, Handler};
use stack::{App, CloseReason, ConnHandle, Socket};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AppKind {
    Echo,
    Discard,
    Http,
}

/// Name, kind and one-line description of every built-in app.
pub const APPS: &[(&str, AppKind, &str)] = &[
    ("echo", AppKind::Echo, "sends back what it receives"),
    ("discard", AppKind::Discard, "reads and drops everything"),
    (
        "http",
        AppKind::Http,
        "HTTP/1.1 server answering GET/HEAD with a fixed body",
    ),
];

impl AppKind {
    pub fn name(self) -> &'static str {
        APPS.iter().find(|a| a.1 == self).map_or("?", |a| a.0)
    }
}

impl core::str::FromStr for AppKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        APPS.iter().find(|a| a.0 == s).map(|a| a.1).ok_or_else(|| {
            let names: Vec<&str> = APPS.iter().map(|a| a.0).collect();
            format!("unknown app {s:?} (available: {})", names.join(", "))
        })
    }
}

impl core::fmt::Display for AppKind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// Which app serves which local port.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Listeners(pub Vec<(u16, AppKind)>);

impl Listeners {
    /// A short scan: servers listen on a handful of ports, and this runs once per connection.
    #[inline]
    pub fn lookup(&self, port: u16) -> Option<AppKind> {
        self.0.iter().find(|(p, _)| *p == port).map(|(_, k)| *k)
    }
    pub fn ports(&self) -> impl Iterator<Item = u16> + '_ {
        self.0.iter().map(|(p, _)| *p)
    }
}

/// Per-connection state of [`BuiltinApp`].
#[derive(Clone, Copy, Debug, Default)]
pub enum BuiltinState {
    /// Not yet assigned (before `on_open`), or the port has no app (the connection is closed).
    #[default]
    Unassigned,
    Echo(EchoState),
    Discard,
    Http(HttpState),
}

pub struct BuiltinApp {
    listeners: Listeners,
    echo: Echo,
    discard: Discard,
    http: Http,
}

impl BuiltinApp {
    pub fn new(listeners: Listeners, http: &HttpConfig) -> Self {
        BuiltinApp {
            listeners,
            echo: Echo::default(),
            discard: Discard::default(),
            http: Http::new(http),
        }
    }

    pub fn listeners(&self) -> &Listeners {
        &self.listeners
    }

    pub fn stats(&self) -> AppStats {
        let mut s = self.echo.stats();
        s.add(&self.discard.stats());
        s.add(&self.http.stats());
        s
    }

    fn assign(&self, sock: &mut Socket<'_, BuiltinState>) {
        if matches!(sock.state(), BuiltinState::Unassigned) {
            *sock.state() = match self.listeners.lookup(sock.tuple().local_port) {
                Some(AppKind::Echo) => BuiltinState::Echo(EchoState::default()),
                Some(AppKind::Discard) => BuiltinState::Discard,
                Some(AppKind::Http) => BuiltinState::Http(HttpState::default()),
                None => BuiltinState::Unassigned,
            };
        }
    }
}

/// Calls `$method` on the handler the connection's state belongs to, with the state moved out of
/// the socket for the duration (handlers need the socket and their state at once).
macro_rules! dispatch {
    ($self:ident, $sock:ident, $default:expr, |$h:ident, $c:ident, $st:ident| $call:expr) => {{
        let mut state = core::mem::take($sock.state());
        let $c = &mut *$sock;
        let r = match &mut state {
            BuiltinState::Echo($st) => {
                let $h = &mut $self.echo;
                $call
            }
            BuiltinState::Discard => {
                let $st = &mut ();
                let $h = &mut $self.discard;
                $call
            }
            BuiltinState::Http($st) => {
                let $h = &mut $self.http;
                $call
            }
            BuiltinState::Unassigned => $default,
        };
        *$sock.state() = state;
        r
    }};
}

impl App for BuiltinApp {
    type State = BuiltinState;

    fn on_open(&mut self, sock: &mut Socket<'_, BuiltinState>) {
        self.assign(sock);
        if matches!(sock.state(), BuiltinState::Unassigned) {
            // The engine only accepts on ports we listen on, so this means a bug elsewhere;
            // refuse the connection rather than serve it with the wrong app.
            sock.abort();
            return;
        }
        dispatch!(self, sock, (), |h, c, st| h.on_open(c, st))
    }

    fn on_data(&mut self, sock: &mut Socket<'_, BuiltinState>, data: &[u8]) -> usize {
        self.assign(sock);
        dispatch!(self, sock, data.len(), |h, c, st| h.on_data(c, st, data))
    }

    fn on_writable(&mut self, sock: &mut Socket<'_, BuiltinState>) {
        dispatch!(self, sock, (), |h, c, st| h.on_writable(c, st))
    }

    fn on_peer_closed(&mut self, sock: &mut Socket<'_, BuiltinState>) {
        dispatch!(self, sock, sock.close(), |h, c, st| h.on_peer_closed(c, st))
    }

    fn on_closed(&mut self, state: &mut BuiltinState, _handle: ConnHandle, reason: CloseReason) {
        match state {
            BuiltinState::Echo(st) => self.echo.on_closed(st, reason),
            BuiltinState::Discard => self.discard.on_closed(&mut (), reason),
            BuiltinState::Http(st) => self.http.on_closed(st, reason),
            BuiltinState::Unassigned => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_names_parse_and_unknown_ones_list_the_choices() {
        assert_eq!("http".parse::<AppKind>(), Ok(AppKind::Http));
        assert_eq!("echo".parse::<AppKind>(), Ok(AppKind::Echo));
        assert_eq!("discard".parse::<AppKind>(), Ok(AppKind::Discard));
        assert_eq!(
            "ftp".parse::<AppKind>(),
            Err("unknown app \"ftp\" (available: echo, discard, http)".into())
        );
        for (name, kind, _) in APPS {
            assert_eq!(kind.name(), *name);
        }
    }

    #[test]
    fn listeners_map_ports_to_apps() {
        let l = Listeners(vec![(80, AppKind::Http), (7, AppKind::Echo)]);
        assert_eq!(l.lookup(80), Some(AppKind::Http));
        assert_eq!(l.lookup(7), Some(AppKind::Echo));
        assert_eq!(l.lookup(9), None);
    }

    #[test]
    fn builtin_state_is_small() {
        // Stored inline in every connection slot (the engine's per-connection budget is 512 B).
        assert!(
            core::mem::size_of::<BuiltinState>() <= 96,
            "{}",
            core::mem::size_of::<BuiltinState>()
        );
    }
}
