//! OpenAPI schemas of the built-in kinds and their patch/list extensions (to be written).
