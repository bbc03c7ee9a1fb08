//! EAL, the port a command runs on, and opening it with its queues, RSS and mempool.

use super::{cores, pool, RuntimeError};
use crate::port::{Eal, Mempool, Port, PortConfig, PortError, PortInfo, RxQueue, TxBatch};

/// What the command line asks for.
pub struct DeviceRequest<'a> {
    pub eal_args: &'a [String],
    /// `--port`: a device name or id.
    pub port: Option<&'a str>,
    /// `--cores`.
    pub cores: Option<&'a [usize]>,
    /// The vdev to suggest when there is no port.
    pub vdev_hint: &'static str,
}

/// EAL up, the port chosen (not yet opened) and the cores workers will run on.
pub struct Device {
    pub eal: Eal,
    pub info: PortInfo,
    pub cores: Vec<usize>,
}

/// How to open the port.
pub struct PortPlan<'a> {
    pub pool_name: &'a str,
    /// RX/TX queue pairs; at most [`Device::queue_pairs`].
    pub queues: usize,
    pub rx_desc: u16,
    pub tx_desc: u16,
    pub mtu: u16,
    /// Frames that rings between workers may hold on top of the queues (software RSS).
    pub ring_frames: usize,
}

impl Device {
    pub fn bring_up(req: &DeviceRequest<'_>) -> Result<Device, RuntimeError> {
        let allowed = cores::allowed();
        let eal = Eal::init(req.eal_args).map_err(|e| RuntimeError::Eal(e.to_string()))?;
        let info = pick_port(&eal, req.port, req.vdev_hint)?;
        let cores = cores::for_workers(req.cores, &allowed);
        Ok(Device { eal, info, cores })
    }

    pub fn workers(&self) -> usize {
        self.cores.len()
    }

    /// Queue pairs the device offers (RX and TX counted together).
    pub fn queue_pairs(&self) -> usize {
        self.info.max_rx_queues.min(self.info.max_tx_queues).max(1) as usize
    }

    /// The mempool, sized for `plan`, and the port opened on it with symmetric RSS where the
    /// device can and its checksum offloads.
    pub fn open(&self, plan: &PortPlan<'_>) -> Result<(Mempool, Port), RuntimeError> {
        let info = &self.info;
        let mtu = plan.mtu;
        if mtu != 1500 && !(info.min_mtu..=info.max_mtu).contains(&mtu) {
            return Err(RuntimeError::Mtu {
                mtu,
                name: info.name.clone(),
                min: info.min_mtu,
                max: info.max_mtu,
            });
        }
        let n = pool::size(
            self.workers(),
            plan.queues,
            plan.rx_desc,
            plan.tx_desc,
            plan.ring_frames,
        );
        let pool = Mempool::with_data_room(&self.eal, plan.pool_name, n, 256, pool::data_room(mtu))
            .map_err(|e| self.port_error(e))?;
        let cfg = PortConfig {
            queues: plan.queues as u16,
            rx_desc: plan.rx_desc,
            tx_desc: plan.tx_desc,
            mtu: (mtu != 1500).then_some(mtu),
            ..PortConfig::default()
        };
        let port = Port::open(&self.eal, info.id, &cfg, &pool).map_err(|e| self.port_error(e))?;
        Ok((pool, port))
    }

    pub fn port_error(&self, e: PortError) -> RuntimeError {
        RuntimeError::Port(self.info.name.clone(), e.to_string())
    }
}

/// Queue pair `q` of `port`: its RX queue and a TX batch allocating from `pool`.
pub fn queue_pair(port: &Port, pool: &Mempool, q: u16) -> Result<(RxQueue, TxBatch), PortError> {
    let rxq = port.rx_queue(q)?;
    Ok((rxq, TxBatch::new(port.tx_queue(q)?, pool.clone())))
}

fn pick_port(eal: &Eal, want: Option<&str>, hint: &'static str) -> Result<PortInfo, RuntimeError> {
    let ids = Port::ids(eal);
    let id = match want {
        Some(w) => {
            let by_id = w.parse::<u16>().ok().filter(|id| ids.contains(id));
            match by_id.or_else(|| Port::id_by_name(eal, w).ok()) {
                Some(id) => id,
                None => return Err(RuntimeError::NoSuchPort(w.into(), port_list(eal, &ids))),
            }
        }
        None => match ids.as_slice() {
            [] => return Err(RuntimeError::NoPorts(hint)),
            [id] => *id,
            _ => return Err(RuntimeError::ManyPorts(ids.len(), port_list(eal, &ids))),
        },
    };
    Port::query(eal, id).map_err(|e| RuntimeError::Port(id.to_string(), e.to_string()))
}

fn port_list(eal: &Eal, ids: &[u16]) -> String {
    ids.iter()
        .map(|&id| match Port::query(eal, id) {
            Ok(i) => format!("{} ({id})", i.name),
            Err(_) => id.to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_say_what_to_do() {
        assert_eq!(
            RuntimeError::NoPorts("net_tap0").to_string(),
            "no DPDK ports: pass --vdev (e.g. `-- --vdev net_tap0`) or bind a NIC to a DPDK driver"
        );
    }
}
