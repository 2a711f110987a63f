//! kolibri-pki
