//! End-to-end scenarios: `dockyard` used as a person would use docker.
//! One module per theme; each grows as the engine does.

mod run;
