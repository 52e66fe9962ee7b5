"""Source connectors: one module per transport; each hands raw bytes to the Receiver."""
