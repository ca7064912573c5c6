/* The bridge's CPython module: statically linked into python.composed.wasm by python-wasm's rebuild. */
#include "gen/zstd_cap_import.h"
