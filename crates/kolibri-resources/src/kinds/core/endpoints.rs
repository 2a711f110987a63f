//! Endpoints (`SetDefaults_Endpoints`).

use k8s_openapi::api::core::v1::Endpoints;

use crate::defaults::str_default;
use crate::typed::Kind;

impl Kind for Endpoints {
    fn default(&mut self) {
        for subset in self.subsets.iter_mut().flatten() {
            for port in subset.ports.iter_mut().flatten() {
                str_default(&mut port.protocol, "TCP");
            }
        }
    }
}
