/* wit-bindgen c output for the bridge's world (stand-in). */
#include "zstd_cap_import.h"
