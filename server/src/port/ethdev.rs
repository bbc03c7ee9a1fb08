use super::{check, rss, Eal, Mempool, PortError, Result, RxQueue, TxQueue};
use dpdk_sys as sys;
use stack::wire::{ChecksumCaps, MacAddr};
use std::ffi::{CStr, CString};
use std::sync::{Arc, Mutex};

/// The symmetric Toeplitz key (0x6d5a repeated): both directions of a flow hash alike, so a
/// connection's packets land on one queue whichever way they travel. Devices with longer keys
/// (e.g. 52 bytes) get the same pattern extended, which stays symmetric.
pub const SYMMETRIC_RSS_KEY: [u8; 40] = stack::wire::toeplitz::SYMMETRIC_KEY;

/// How a port is brought up.
#[derive(Clone, Debug)]
pub struct PortConfig {
    /// RX/TX queue pairs (one per worker).
    pub queues: u16,
    pub rx_desc: u16,
    pub tx_desc: u16,
    /// MTU to set, if any (the device default otherwise).
    pub mtu: Option<u16>,
    /// Spread flows over the queues with symmetric RSS where the device can.
    pub rss: bool,
    /// Enable IPv4/TCP checksum offloads the device supports.
    pub checksum_offload: bool,
    pub promiscuous: bool,
    pub allmulti: bool,
}

impl Default for PortConfig {
    fn default() -> Self {
        PortConfig {
            queues: 1,
            rx_desc: 1024,
            tx_desc: 1024,
            mtu: None,
            rss: true,
            checksum_offload: true,
            promiscuous: false,
            allmulti: false,
        }
    }
}

/// What a device is and can do (`rte_eth_dev_info_get`).
#[derive(Clone, Debug)]
pub struct PortInfo {
    pub id: u16,
    pub name: String,
    pub driver: String,
    pub max_rx_queues: u16,
    pub max_tx_queues: u16,
    pub rx_offload_capa: u64,
    pub tx_offload_capa: u64,
    /// RTE_ETH_RSS_* hash types the device supports (0: no RSS).
    pub flow_type_rss_offloads: u64,
    pub hash_key_size: u8,
    pub reta_size: u16,
    pub min_mtu: u16,
    pub max_mtu: u16,
}

/// How flows are spread over a port's queues.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RssStatus {
    /// NIC RSS over IPv4/TCP with the symmetric key.
    Symmetric { reta_size: u16 },
    /// One queue, or RSS not requested.
    Off,
    /// Several queues but the device cannot hash IPv4/TCP with our key: it spreads packets its
    /// own way, if at all, and flows must be steered in software.
    Unsupported,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct LinkStatus {
    pub up: bool,
    pub speed_mbps: u32,
    pub full_duplex: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct PortStats {
    pub ipackets: u64,
    pub opackets: u64,
    pub ibytes: u64,
    pub obytes: u64,
    /// Dropped by the device for lack of RX descriptors.
    pub imissed: u64,
    pub ierrors: u64,
    pub oerrors: u64,
    /// RX allocation failures (pool empty).
    pub rx_nombuf: u64,
}

/// A configured, started port. Cloning is cheap; the device is stopped and closed when the
/// last clone and the last of its queues are dropped.
#[derive(Clone)]
pub struct Port(Arc<PortShared>);

/// Which RX and which TX queues have been handed out.
type Taken = (Vec<bool>, Vec<bool>);

pub(crate) struct PortShared {
    pub(crate) id: u16,
    info: PortInfo,
    rss: RssStatus,
    csum: ChecksumCaps,
    queues: u16,
    taken: Mutex<Taken>,
    _pool: Mempool,
    _eal: Eal,
}

fn c_name(p: *const std::ffi::c_char) -> String {
    if p.is_null() {
        String::new()
    } else {
        // SAFETY: DPDK hands out NUL-terminated strings that outlive this copy.
        unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
    }
}

fn dev_info(id: u16) -> Result<sys::rte_eth_dev_info> {
    let mut info = sys::rte_eth_dev_info::default();
    // SAFETY: info is a valid out-parameter; an invalid id is reported as -ENODEV.
    check("rte_eth_dev_info_get", unsafe {
        sys::rte_eth_dev_info_get(id, &mut info)
    })?;
    Ok(info)
}

impl Port {
    /// Ids of every available port.
    pub fn ids(_eal: &Eal) -> Vec<u16> {
        (0..sys::TCPTERM_MAX_ETHPORTS as u16)
            // SAFETY: a pure query on any id.
            .filter(|&id| unsafe { sys::rte_eth_dev_is_valid_port(id) } == 1)
            .collect()
    }

    /// The port id of a device by its name (e.g. `net_ring0`).
    pub fn id_by_name(_eal: &Eal, name: &str) -> Result<u16> {
        let c = CString::new(name).map_err(|_| PortError::NoSuchPort(name.into()))?;
        let mut id = 0u16;
        // SAFETY: valid C string and out-parameter.
        let ret = unsafe { sys::rte_eth_dev_get_port_by_name(c.as_ptr(), &mut id) };
        if ret < 0 {
            return Err(PortError::NoSuchPort(name.into()));
        }
        Ok(id)
    }

    /// Capabilities of a port.
    pub fn query(_eal: &Eal, id: u16) -> Result<PortInfo> {
        let di = dev_info(id).map_err(|_| PortError::NoSuchPort(id.to_string()))?;
        let mut name = [0 as std::ffi::c_char; sys::RTE_ETH_NAME_MAX_LEN as usize];
        // SAFETY: the buffer has RTE_ETH_NAME_MAX_LEN bytes as the API requires.
        check("rte_eth_dev_get_name_by_port", unsafe {
            sys::rte_eth_dev_get_name_by_port(id, name.as_mut_ptr())
        })?;
        Ok(PortInfo {
            id,
            name: c_name(name.as_ptr()),
            driver: c_name(di.driver_name),
            max_rx_queues: di.max_rx_queues,
            max_tx_queues: di.max_tx_queues,
            rx_offload_capa: di.rx_offload_capa,
            tx_offload_capa: di.tx_offload_capa,
            flow_type_rss_offloads: di.flow_type_rss_offloads,
            hash_key_size: di.hash_key_size,
            reta_size: di.reta_size,
            min_mtu: di.min_mtu,
            max_mtu: di.max_mtu,
        })
    }

    /// Configures port `id` with `cfg.queues` RX/TX queue pairs fed from `pool`, and starts it.
    pub fn open(eal: &Eal, id: u16, cfg: &PortConfig, pool: &Mempool) -> Result<Port> {
        let info = Self::query(eal, id)?;
        let di = dev_info(id)?;
        let q = cfg.queues;
        if q == 0 || q > info.max_rx_queues || q > info.max_tx_queues {
            return Err(PortError::Invalid(format!(
                "port {id} ({}): {q} queue pairs requested, device allows rx {} tx {}",
                info.driver, info.max_rx_queues, info.max_tx_queues
            )));
        }

        let mut conf = sys::rte_eth_conf::default();
        let rss_hf = info.flow_type_rss_offloads & rss::HF_WANTED;
        let rss = rss::plan(cfg.rss, q, &info);
        // Lives until rte_eth_dev_configure has copied it.
        let mut key = rss::device_key(info.hash_key_size);
        if matches!(rss, RssStatus::Symmetric { .. }) {
            conf.rxmode.mq_mode = sys::RTE_ETH_MQ_RX_RSS;
            conf.rx_adv_conf.rss_conf.rss_key = key.as_mut_ptr();
            conf.rx_adv_conf.rss_conf.rss_key_len = key.len() as u8;
            conf.rx_adv_conf.rss_conf.rss_hf = rss_hf;
            if info.rx_offload_capa & sys::TCPTERM_ETH_RX_OFFLOAD_RSS_HASH != 0 {
                conf.rxmode.offloads |= sys::TCPTERM_ETH_RX_OFFLOAD_RSS_HASH;
            }
        } else {
            conf.rxmode.mq_mode = sys::RTE_ETH_MQ_RX_NONE;
        }

        let mut csum = ChecksumCaps::default();
        if cfg.checksum_offload {
            let rx = info.rx_offload_capa;
            let tx = info.tx_offload_capa;
            csum.rx_ipv4 = rx & sys::TCPTERM_ETH_RX_OFFLOAD_IPV4_CKSUM != 0;
            csum.rx_tcp = rx & sys::TCPTERM_ETH_RX_OFFLOAD_TCP_CKSUM != 0;
            csum.tx_ipv4 = tx & sys::TCPTERM_ETH_TX_OFFLOAD_IPV4_CKSUM != 0;
            csum.tx_tcp = tx & sys::TCPTERM_ETH_TX_OFFLOAD_TCP_CKSUM != 0;
            if csum.rx_ipv4 {
                conf.rxmode.offloads |= sys::TCPTERM_ETH_RX_OFFLOAD_IPV4_CKSUM;
            }
            if csum.rx_tcp {
                conf.rxmode.offloads |= sys::TCPTERM_ETH_RX_OFFLOAD_TCP_CKSUM;
            }
            if csum.tx_ipv4 {
                conf.txmode.offloads |= sys::TCPTERM_ETH_TX_OFFLOAD_IPV4_CKSUM;
            }
            if csum.tx_tcp {
                conf.txmode.offloads |= sys::TCPTERM_ETH_TX_OFFLOAD_TCP_CKSUM;
            }
        }

        // SAFETY: conf is fully initialised and the key it points to outlives the call.
        check("rte_eth_dev_configure", unsafe {
            sys::rte_eth_dev_configure(id, q, q, &conf)
        })?;

        // From here on a failure must close the device again (PortShared's Drop does).
        let mut shared = PortShared {
            id,
            info,
            rss,
            csum,
            queues: q,
            taken: Mutex::new((vec![false; q as usize], vec![false; q as usize])),
            _pool: pool.clone(),
            _eal: eal.clone(),
        };

        let (mut nrx, mut ntx) = (cfg.rx_desc, cfg.tx_desc);
        // SAFETY: valid out-parameters; the device is configured.
        check("rte_eth_dev_adjust_nb_rx_tx_desc", unsafe {
            sys::rte_eth_dev_adjust_nb_rx_tx_desc(id, &mut nrx, &mut ntx)
        })?;
        if let Some(mtu) = cfg.mtu {
            // SAFETY: the device is configured and stopped.
            check("rte_eth_dev_set_mtu", unsafe {
                sys::rte_eth_dev_set_mtu(id, mtu)
            })?;
        }
        // SAFETY: a query on a valid port.
        let socket = unsafe { sys::rte_eth_dev_socket_id(id) };
        let socket = if socket < 0 {
            sys::SOCKET_ID_ANY
        } else {
            socket
        } as u32;
        let mut rxconf = di.default_rxconf;
        rxconf.offloads = conf.rxmode.offloads;
        let mut txconf = di.default_txconf;
        txconf.offloads = conf.txmode.offloads;
        for qi in 0..q {
            // SAFETY: the device is configured with q queues; rxconf is valid and copied; the
            // pool outlives the port (the port holds a handle to it).
            check("rte_eth_rx_queue_setup", unsafe {
                sys::rte_eth_rx_queue_setup(id, qi, nrx, socket, &rxconf, pool.as_ptr())
            })?;
            // SAFETY: as above.
            check("rte_eth_tx_queue_setup", unsafe {
                sys::rte_eth_tx_queue_setup(id, qi, ntx, socket, &txconf)
            })?;
        }
        // SAFETY: every queue is set up.
        check("rte_eth_dev_start", unsafe { sys::rte_eth_dev_start(id) })?;
        if cfg.promiscuous {
            // SAFETY: started port.
            check("rte_eth_promiscuous_enable", unsafe {
                sys::rte_eth_promiscuous_enable(id)
            })?;
        }
        if cfg.allmulti {
            // SAFETY: started port.
            check("rte_eth_allmulticast_enable", unsafe {
                sys::rte_eth_allmulticast_enable(id)
            })?;
        }
        if let RssStatus::Symmetric { reta_size } = shared.rss {
            if !rss::program(&mut rss::Ethdev(id), q, &key, reta_size) {
                shared.rss = RssStatus::Unsupported;
            }
        }
        Ok(Port(Arc::new(shared)))
    }

    pub fn id(&self) -> u16 {
        self.0.id
    }

    pub fn info(&self) -> &PortInfo {
        &self.0.info
    }

    pub fn queues(&self) -> u16 {
        self.0.queues
    }

    pub fn rss(&self) -> RssStatus {
        self.0.rss
    }

    /// Checksum offloads enabled on this port.
    pub fn checksum_caps(&self) -> ChecksumCaps {
        self.0.csum
    }

    /// Takes RX queue `q`; each queue can be taken once (one polling thread per queue).
    pub fn rx_queue(&self, q: u16) -> Result<RxQueue> {
        self.take(q, |t| &mut t.0)?;
        Ok(RxQueue::new(self.0.clone(), q))
    }

    /// Takes TX queue `q`; each queue can be taken once.
    pub fn tx_queue(&self, q: u16) -> Result<TxQueue> {
        self.take(q, |t| &mut t.1)?;
        Ok(TxQueue::new(self.0.clone(), q))
    }

    /// Marks queue `q` of the side `side` picks (RX or TX) as taken, unless it already is.
    fn take(&self, q: u16, side: impl FnOnce(&mut Taken) -> &mut Vec<bool>) -> Result<()> {
        let mut t = self.0.taken.lock().unwrap_or_else(|e| e.into_inner());
        match side(&mut t).get_mut(q as usize) {
            Some(slot @ false) => {
                *slot = true;
                Ok(())
            }
            _ => Err(PortError::QueueUnavailable(q)),
        }
    }

    pub fn mac(&self) -> MacAddr {
        let mut a = sys::rte_ether_addr::default();
        // SAFETY: valid port and out-parameter.
        let ret = unsafe { sys::rte_eth_macaddr_get(self.0.id, &mut a) };
        if ret < 0 {
            return MacAddr::ZERO;
        }
        MacAddr(a.addr_bytes)
    }

    pub fn mtu(&self) -> Result<u16> {
        let mut mtu = 0u16;
        // SAFETY: valid port and out-parameter.
        check("rte_eth_dev_get_mtu", unsafe {
            sys::rte_eth_dev_get_mtu(self.0.id, &mut mtu)
        })?;
        Ok(mtu)
    }

    pub fn promiscuous(&self) -> bool {
        // SAFETY: query on a valid port.
        unsafe { sys::rte_eth_promiscuous_get(self.0.id) == 1 }
    }

    /// Link state now, without waiting.
    pub fn link(&self) -> LinkStatus {
        let mut l = sys::rte_eth_link::default();
        // SAFETY: valid port and out-parameter.
        let ret = unsafe { sys::rte_eth_link_get_nowait(self.0.id, &mut l) };
        if ret < 0 {
            return LinkStatus::default();
        }
        LinkStatus {
            up: l.link_status() as u32 == sys::TCPTERM_ETH_LINK_UP,
            speed_mbps: l.link_speed,
            full_duplex: l.link_duplex() as u32 == sys::TCPTERM_ETH_LINK_FULL_DUPLEX,
        }
    }

    /// Polls the link until it is up or `timeout` passes.
    pub fn wait_link_up(&self, timeout: std::time::Duration) -> LinkStatus {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let l = self.link();
            if l.up || std::time::Instant::now() >= deadline {
                return l;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    pub fn stats(&self) -> Result<PortStats> {
        let mut s = sys::rte_eth_stats::default();
        // SAFETY: valid port and out-parameter.
        check("rte_eth_stats_get", unsafe {
            sys::rte_eth_stats_get(self.0.id, &mut s)
        })?;
        Ok(PortStats {
            ipackets: s.ipackets,
            opackets: s.opackets,
            ibytes: s.ibytes,
            obytes: s.obytes,
            imissed: s.imissed,
            ierrors: s.ierrors,
            oerrors: s.oerrors,
            rx_nombuf: s.rx_nombuf,
        })
    }

    pub fn reset_stats(&self) -> Result<()> {
        // SAFETY: valid port.
        check("rte_eth_stats_reset", unsafe {
            sys::rte_eth_stats_reset(self.0.id)
        })?;
        Ok(())
    }

    /// Extended statistics as (name, value), in the driver's order.
    pub fn xstats(&self) -> Result<Vec<(String, u64)>> {
        let id = self.0.id;
        // SAFETY: a NULL array with size 0 asks for the count.
        let n = check("rte_eth_xstats_get_names", unsafe {
            sys::rte_eth_xstats_get_names(id, std::ptr::null_mut(), 0)
        })? as usize;
        let mut names = vec![sys::rte_eth_xstat_name::default(); n];
        let mut vals = vec![sys::rte_eth_xstat::default(); n];
        // SAFETY: arrays of n elements as announced.
        let got_names = check("rte_eth_xstats_get_names", unsafe {
            sys::rte_eth_xstats_get_names(id, names.as_mut_ptr(), n as u32)
        })? as usize;
        // SAFETY: as above.
        let got_vals = check("rte_eth_xstats_get", unsafe {
            sys::rte_eth_xstats_get(id, vals.as_mut_ptr(), n as u32)
        })? as usize;
        let m = got_names.min(got_vals).min(n);
        Ok(vals[..m]
            .iter()
            .filter_map(|v| {
                let name = names.get(v.id as usize)?;
                Some((c_name(name.name.as_ptr()), v.value))
            })
            .collect())
    }
}

impl Drop for PortShared {
    fn drop(&mut self) {
        // SAFETY: the last handle and every queue of the port are gone, so no thread polls it.
        unsafe {
            let _ = sys::rte_eth_dev_stop(self.id);
            let _ = sys::rte_eth_dev_close(self.id);
        }
    }
}

impl std::fmt::Debug for Port {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Port")
            .field("id", &self.0.id)
            .field("driver", &self.0.info.driver)
            .field("queues", &self.0.queues)
            .field("rss", &self.0.rss)
            .field("csum", &self.0.csum)
            .finish()
    }
}
