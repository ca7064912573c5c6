/* wit-bindgen c header for the bridge's world (stand-in). */
