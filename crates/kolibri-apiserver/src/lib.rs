//! kolibri's Kubernetes API server.

pub mod openapi;
pub mod patch;
pub mod protobuf;
