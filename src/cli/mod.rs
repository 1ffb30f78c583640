//! The `cardbatch` command line: one file per command group.
