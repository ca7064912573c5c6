"""compression.zstd routed through _zstd_cap (the bridge's Lib/ shim)."""
