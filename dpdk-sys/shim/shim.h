/* Out-of-line wrappers for DPDK's `static inline` API, which has no symbol to link against,
 * plus constants built from function-like macros (RTE_BIT64) that bindgen cannot expand.
 * Compiled with the cflags of `pkg-config --cflags libdpdk` so struct layouts match DPDK's. */
#ifndef TCPTERM_SHIM_H
#define TCPTERM_SHIM_H

#include <stdint.h>
#include <rte_config.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_cycles.h>
#include <rte_mempool.h>
#include <rte_mbuf.h>
#include <rte_ether.h>
#include <rte_ethdev.h>

uint16_t tcpterm_rx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n);
uint16_t tcpterm_tx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n);
uint16_t tcpterm_tx_prepare(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n);

struct rte_mbuf *tcpterm_pktmbuf_alloc(struct rte_mempool *mp);
int tcpterm_pktmbuf_alloc_bulk(struct rte_mempool *mp, struct rte_mbuf **mbufs, unsigned count);
void tcpterm_pktmbuf_free(struct rte_mbuf *m);
char *tcpterm_pktmbuf_prepend(struct rte_mbuf *m, uint16_t len);
char *tcpterm_pktmbuf_append(struct rte_mbuf *m, uint16_t len);
char *tcpterm_pktmbuf_adj(struct rte_mbuf *m, uint16_t len);
int tcpterm_pktmbuf_trim(struct rte_mbuf *m, uint16_t len);
uint16_t tcpterm_pktmbuf_headroom(const struct rte_mbuf *m);
uint16_t tcpterm_pktmbuf_tailroom(const struct rte_mbuf *m);

unsigned tcpterm_lcore_id(void);
uint64_t tcpterm_rdtsc(void);
/* rte_errno is a per-lcore (thread-local) macro. */
int tcpterm_errno(void);

/* Flag macros defined through RTE_BIT64(); clang evaluates these initialisers for bindgen. */
static const uint64_t TCPTERM_ETH_RSS_IPV4 = RTE_ETH_RSS_IPV4;
static const uint64_t TCPTERM_ETH_RSS_FRAG_IPV4 = RTE_ETH_RSS_FRAG_IPV4;
static const uint64_t TCPTERM_ETH_RSS_NONFRAG_IPV4_TCP = RTE_ETH_RSS_NONFRAG_IPV4_TCP;
static const uint64_t TCPTERM_ETH_RSS_NONFRAG_IPV4_UDP = RTE_ETH_RSS_NONFRAG_IPV4_UDP;
static const uint64_t TCPTERM_ETH_RSS_NONFRAG_IPV4_OTHER = RTE_ETH_RSS_NONFRAG_IPV4_OTHER;
static const uint64_t TCPTERM_ETH_RX_OFFLOAD_IPV4_CKSUM = RTE_ETH_RX_OFFLOAD_IPV4_CKSUM;
static const uint64_t TCPTERM_ETH_RX_OFFLOAD_TCP_CKSUM = RTE_ETH_RX_OFFLOAD_TCP_CKSUM;
static const uint64_t TCPTERM_ETH_RX_OFFLOAD_RSS_HASH = RTE_ETH_RX_OFFLOAD_RSS_HASH;
static const uint64_t TCPTERM_ETH_TX_OFFLOAD_IPV4_CKSUM = RTE_ETH_TX_OFFLOAD_IPV4_CKSUM;
static const uint64_t TCPTERM_ETH_TX_OFFLOAD_TCP_CKSUM = RTE_ETH_TX_OFFLOAD_TCP_CKSUM;
static const uint64_t TCPTERM_ETH_TX_OFFLOAD_MBUF_FAST_FREE = RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE;
static const uint64_t TCPTERM_ETH_TX_OFFLOAD_MULTI_SEGS = RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
static const uint32_t TCPTERM_ETH_LINK_UP = RTE_ETH_LINK_UP;
static const uint32_t TCPTERM_ETH_LINK_FULL_DUPLEX = RTE_ETH_LINK_FULL_DUPLEX;
static const uint32_t TCPTERM_LCORE_ID_ANY = LCORE_ID_ANY;
static const uint32_t TCPTERM_MAX_ETHPORTS = RTE_MAX_ETHPORTS;
static const uint32_t TCPTERM_PKTMBUF_HEADROOM = RTE_PKTMBUF_HEADROOM;
static const uint32_t TCPTERM_MBUF_DEFAULT_BUF_SIZE = RTE_MBUF_DEFAULT_BUF_SIZE;
static const uint32_t TCPTERM_ETH_RETA_GROUP_SIZE = RTE_ETH_RETA_GROUP_SIZE;

#endif
