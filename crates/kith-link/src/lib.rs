//! The linkage party's library.
pub mod kernel;
