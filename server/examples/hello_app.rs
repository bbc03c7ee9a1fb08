//! A user's own server on tcpterm's runtime: greets every client, echoes what it sends in upper
//! case, and closes after the first line.
//!
//! ```sh
//! cargo run --release --example hello_app -- --ip 198.18.0.1/24 --hello-port 7000 \
//!     -- --no-huge --no-pci -m 512 --vdev net_tap0,iface=tt0
//! ```
//!
//! All of `tcpterm serve`'s options (TCP tunables, `--cores`, `--control-socket`, ...) work
//! here too, and `tcpterm stat` shows this server like any other.

use clap::Parser;
use stack::{App, Socket};
use tcpterm::cli::ServeArgs;
use tcpterm::worker::ServeApp;

#[derive(Parser)]
struct Opts {
    /// Port the hello app listens on.
    #[arg(long, default_value_t = 7000)]
    hello_port: u16,
    #[command(flatten)]
    serve: ServeArgs,
}

/// One instance per worker; `State` lives inline in each connection.
#[derive(Default)]
struct Hello {
    greeted: u64,
}

impl App for Hello {
    /// Per-connection state, stored inline in the connection slot (none needed here).
    type State = ();

    fn on_open(&mut self, sock: &mut Socket<'_, ()>) {
        self.greeted += 1;
        sock.send(b"hello from tcpterm; type a line\n");
    }

    fn on_data(&mut self, sock: &mut Socket<'_, ()>, data: &[u8]) -> usize {
        sock.send(&data.to_ascii_uppercase());
        if data.contains(&b'\n') {
            // Takes effect when the callback returns, after `data` counts as consumed: a FIN.
            sock.close();
        }
        data.len()
    }

    fn on_peer_closed(&mut self, sock: &mut Socket<'_, ()>) {
        sock.close();
    }
}

impl ServeApp for Hello {
    fn app_stats(&self) -> tcpterm::apps::AppStats {
        tcpterm::apps::AppStats {
            requests: self.greeted,
            ..Default::default()
        }
    }
}

fn main() {
    let opts = Opts::parse();
    let cfg = match opts.serve.config_for_custom_app() {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("hello_app: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = tcpterm::serve::run(cfg, vec![opts.hello_port], |_worker| Hello::default()) {
        eprintln!("hello_app: {e}");
        std::process::exit(1);
    }
}
