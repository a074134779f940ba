//! Chapter 02: namespaces.
