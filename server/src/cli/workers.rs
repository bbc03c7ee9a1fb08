//! The port and worker options that `serve` and `gen` share, and their checks.

use super::{parse_core_list, ConfigError, CoreList};
use clap::Args;

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// DPDK port to use, by name (e.g. net_tap0) or id; default: the only port.
    #[arg(long, value_name = "NAME|ID", help_heading = "Workers")]
    pub port: Option<String>,
    /// Worker cores, one worker each: `1,2,3` or `1-3`. Each worker gets its own RX/TX queue
    /// pair while the port has enough; `serve` steers flows among its workers in software
    /// without symmetric RSS (or with more workers than queue pairs), `gen` needs a pair per
    /// worker. Without it, one worker.
    #[arg(long, value_parser = parse_core_list, value_name = "LIST", help_heading = "Workers")]
    pub cores: Option<CoreList>,
    /// RX descriptors per queue.
    #[arg(long, default_value_t = 1024, help_heading = "Workers")]
    pub rx_desc: u16,
    /// TX descriptors per queue.
    #[arg(long, default_value_t = 1024, help_heading = "Workers")]
    pub tx_desc: u16,
}

impl WorkerArgs {
    /// The checked `--cores` (each core once, at least one); the descriptor counts are
    /// checked too.
    pub fn checked_cores(&self) -> Result<Option<Vec<usize>>, ConfigError> {
        let cores = self.cores.as_ref().map(|c| c.0.clone());
        if let Some(cores) = &cores {
            if cores.is_empty() {
                return Err(ConfigError::NoCores);
            }
            for (i, c) in cores.iter().enumerate() {
                if cores[..i].contains(c) {
                    return Err(ConfigError::DuplicateCore(*c));
                }
            }
        }
        for (name, n) in [("rx-desc", self.rx_desc), ("tx-desc", self.tx_desc)] {
            if !n.is_power_of_two() || !(64..=32768).contains(&n) {
                return Err(ConfigError::BadDescriptors(name));
            }
        }
        Ok(cores)
    }
}
