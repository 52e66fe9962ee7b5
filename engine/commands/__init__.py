"""Sub-commands of the `kanal` CLI, one module per group."""
