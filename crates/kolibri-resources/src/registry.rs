//! Lookup of served resources (to be written).
use std::sync::Arc;

use crate::ResourceDef;

/// All served resources; built-in kinds at start, custom resources added at run time.
#[derive(Default)]
pub struct Registry {
    defs: Vec<Arc<ResourceDef>>,
}

impl Registry {
    pub fn all(&self) -> &[Arc<ResourceDef>] {
        &self.defs
    }
}
