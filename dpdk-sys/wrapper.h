/* What bindgen sees: DPDK's public headers (through the shim's includes) and the shim. */
#include "shim/shim.h"
