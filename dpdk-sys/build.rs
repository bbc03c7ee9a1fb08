//! Finds DPDK through pkg-config, compiles the C shim for DPDK's `static inline` API with DPDK's
//! own cflags, and generates bindings with bindgen from `wrapper.h`.

use std::env;
use std::path::PathBuf;
use std::process::Command;

const MIN_DPDK: &str = "22.11";

fn main() {
    println!("cargo:rerun-if-changed=wrapper.h");
    println!("cargo:rerun-if-changed=shim/shim.h");
    println!("cargo:rerun-if-changed=shim/shim.c");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");

    // Shared linkage: the PMDs are then loaded as plugins from Debian's driver directory
    // (RTE_EAL_PMD_PATH) when EAL starts, so every virtual device is available without
    // naming its library here.
    // Version check first (no link directives yet): the shim's static archive must come before
    // the DPDK libraries on the link line, or `--as-needed` drops the ones only it uses.
    let mut probe = pkg_config::Config::new();
    probe.atleast_version(MIN_DPDK).statik(false);
    match probe.cargo_metadata(false).probe("libdpdk") {
        Ok(_) => {}
        Err(e) => panic!(
            "\n\ndpdk-sys: DPDK >= {MIN_DPDK} not found through pkg-config ({e}).\n\
             On Debian install it with: apt-get install libdpdk-dev dpdk pkg-config\n\
             (or run scripts/setup.sh).\n\n"
        ),
    };

    // The full cflags matter, not just the include paths: `-include rte_config.h` sets the build
    // configuration every DPDK header depends on, and `-march` the ISA DPDK was built for
    // (never -march=native: the binary must run on another host).
    let cflags = pkg_config_cflags();

    let mut build = cc::Build::new();
    build
        .file("shim/shim.c")
        .include(".")
        .opt_level(3)
        .warnings(false);
    for f in &cflags {
        build.flag(f);
    }
    build.compile("tcpterm_dpdk_shim");
    probe
        .cargo_metadata(true)
        .probe("libdpdk")
        .expect("pkg-config libdpdk succeeded once and then failed");

    let mut builder = bindgen::Builder::default()
        .header("wrapper.h")
        .clang_arg("-I.")
        .clang_args(cflags.iter().cloned())
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()))
        .use_core()
        .layout_tests(true)
        .derive_default(true)
        .derive_debug(false)
        .prepend_enum_name(false)
        .default_enum_style(bindgen::EnumVariation::Consts)
        .generate_comments(false);
    for f in ALLOW_FUNCTIONS {
        builder = builder.allowlist_function(f);
    }
    for t in ALLOW_TYPES {
        builder = builder.allowlist_type(t);
    }
    for v in ALLOW_VARS {
        builder = builder.allowlist_var(v);
    }
    // Opaque: nothing in tcpterm looks inside these, and their layouts drag in a lot.
    for t in OPAQUE {
        builder = builder.opaque_type(t);
    }
    // bindgen loads libclang at run time and panics when it is missing: say which package.
    let bindings =
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| builder.generate())) {
            Ok(Ok(b)) => b,
            Ok(Err(e)) => panic!("dpdk-sys: bindgen failed on wrapper.h: {e}"),
            Err(_) => panic!(
                "\n\ndpdk-sys: bindgen could not load libclang.\n\
             On Debian install it with: apt-get install libclang1-14 libclang-common-14-dev\n\
             (or run scripts/setup.sh).\n\n"
            ),
        };
    let out = PathBuf::from(env::var("OUT_DIR").unwrap()).join("bindings.rs");
    bindings.write_to_file(&out).expect("writing bindings.rs");
}

fn pkg_config_cflags() -> Vec<String> {
    let pc = env::var("PKG_CONFIG").unwrap_or_else(|_| "pkg-config".into());
    let out = Command::new(&pc)
        .args(["--cflags", "libdpdk"])
        .output()
        .unwrap_or_else(|e| panic!("dpdk-sys: running {pc}: {e}; apt-get install pkg-config"));
    assert!(
        out.status.success(),
        "dpdk-sys: `{pc} --cflags libdpdk` failed; apt-get install libdpdk-dev"
    );
    // `-include rte_config.h` is two words; keep them together by passing them in order.
    String::from_utf8(out.stdout)
        .expect("pkg-config output is not UTF-8")
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

const ALLOW_FUNCTIONS: &[&str] = &[
    "tcpterm_.*",
    "rte_eal_init",
    "rte_eal_cleanup",
    "rte_strerror",
    "rte_socket_id",
    "rte_lcore_count",
    "rte_get_tsc_hz",
    "rte_thread_register",
    "rte_thread_unregister",
    "rte_pktmbuf_pool_create",
    "rte_pktmbuf_free_bulk",
    "rte_mempool_free",
    "rte_mempool_avail_count",
    "rte_mempool_in_use_count",
    "rte_eth_dev_count_avail",
    "rte_eth_dev_is_valid_port",
    "rte_eth_dev_get_name_by_port",
    "rte_eth_dev_get_port_by_name",
    "rte_eth_dev_info_get",
    "rte_eth_dev_configure",
    "rte_eth_dev_adjust_nb_rx_tx_desc",
    "rte_eth_rx_queue_setup",
    "rte_eth_tx_queue_setup",
    "rte_eth_dev_start",
    "rte_eth_dev_stop",
    "rte_eth_dev_close",
    "rte_eth_dev_set_mtu",
    "rte_eth_dev_get_mtu",
    "rte_eth_dev_socket_id",
    "rte_eth_promiscuous_enable",
    "rte_eth_promiscuous_disable",
    "rte_eth_promiscuous_get",
    "rte_eth_allmulticast_enable",
    "rte_eth_allmulticast_get",
    "rte_eth_link_get",
    "rte_eth_link_get_nowait",
    "rte_eth_macaddr_get",
    "rte_eth_stats_get",
    "rte_eth_stats_reset",
    "rte_eth_xstats_get",
    "rte_eth_xstats_get_names",
    "rte_eth_dev_rss_hash_conf_get",
    "rte_eth_dev_rss_hash_update",
    "rte_eth_dev_rss_reta_query",
    "rte_eth_dev_rss_reta_update",
];

const ALLOW_TYPES: &[&str] = &[
    "rte_mbuf",
    "rte_mempool",
    "rte_eth_conf",
    "rte_eth_dev_info",
    "rte_eth_rxconf",
    "rte_eth_txconf",
    "rte_eth_stats",
    "rte_eth_link",
    "rte_eth_xstat",
    "rte_eth_xstat_name",
    "rte_ether_addr",
    "rte_eth_rss_conf",
    "rte_eth_rss_reta_entry64",
];

const ALLOW_VARS: &[&str] = &[
    "TCPTERM_.*",
    "RTE_MBUF_F_.*",
    "RTE_PTYPE_.*",
    "RTE_ETH_NAME_MAX_LEN",
    "RTE_ETH_XSTATS_NAME_SIZE",
    "RTE_ETHER_ADDR_LEN",
    "RTE_ETHER_MAX_LEN",
    "RTE_ETHER_MTU",
    "RTE_ETHER_HDR_LEN",
    "RTE_MEMPOOL_CACHE_MAX_SIZE",
    "SOCKET_ID_ANY",
    "RTE_ETH_MQ_.*",
    "RTE_MBUF_L2_LEN_BITS",
];

const OPAQUE: &[&str] = &["rte_mempool", "rte_eth_dev_portconf", "rte_eth_switch_info"];
