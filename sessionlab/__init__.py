"""The ``sessionlab`` launcher: the app with no command, the CLI with one."""
