//! Chapter 03: cgroups.
