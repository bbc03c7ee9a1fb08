//! `tcpterm`: `serve` terminates TCP on a DPDK port; `stat` shows a running server's state;
//! `gen` generates load from a scenario.

use clap::Parser;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;
use tcpterm::cli::{Cli, Command, StatArgs};
use tcpterm::{control, stats};

// The engine allocates little after warm-up, but buffers come and go with connections; mimalloc's
// per-thread heaps keep workers from contending on the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => match args.config() {
            Ok(cfg) => match tcpterm::serve::run_builtin(cfg) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("tcpterm: {e}");
                    ExitCode::FAILURE
                }
            },
            Err(e) => {
                eprintln!("tcpterm: {e}");
                ExitCode::from(2)
            }
        },
        Command::Stat(args) => stat(&args),
        Command::Gen(args) => match args.config() {
            Ok(cfg) => match tcpterm::gen::run::run(cfg) {
                Ok(r) if r.total_errors == 0 => ExitCode::SUCCESS,
                // The run happened but something failed: scripts can tell from the status.
                Ok(_) => ExitCode::from(3),
                Err(e) => {
                    eprintln!("tcpterm gen: {e}");
                    ExitCode::FAILURE
                }
            },
            Err(e) => {
                eprintln!("tcpterm gen: {e}");
                ExitCode::from(2)
            }
        },
    }
}

fn stat(args: &StatArgs) -> ExitCode {
    let interactive = std::io::stdout().is_terminal();
    loop {
        let out = match control::fetch_snapshot(&args.control_socket) {
            Ok((_, raw)) if args.json => raw + "\n",
            Ok((snap, _)) => stats::render::text(&snap),
            Err(e) => {
                eprintln!("tcpterm stat: {e}");
                return ExitCode::FAILURE;
            }
        };
        let mut stdout = std::io::stdout().lock();
        if args.watch.is_some() && interactive && !args.json {
            // Home and clear, so the view refreshes in place like `watch`.
            let _ = stdout.write_all(b"\x1b[H\x1b[2J");
        }
        if stdout
            .write_all(out.as_bytes())
            .and_then(|_| stdout.flush())
            .is_err()
        {
            // The reader went away (e.g. `| head`): not an error.
            return ExitCode::SUCCESS;
        }
        drop(stdout);
        match args.watch {
            Some(secs) if secs.is_finite() && secs > 0.0 => {
                std::thread::sleep(Duration::from_secs_f64(secs.max(0.1)))
            }
            Some(_) => std::thread::sleep(Duration::from_secs(1)),
            None => return ExitCode::SUCCESS,
        }
    }
}
