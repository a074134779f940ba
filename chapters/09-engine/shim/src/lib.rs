//! The per-container supervisor (docs to come with `supervise`).
pub mod logs;
pub mod restart;
mod timefmt;
pub use timefmt::TimeError;
