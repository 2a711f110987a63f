//! The `batch` group.

pub(crate) mod cronjob;
pub(crate) mod job;
