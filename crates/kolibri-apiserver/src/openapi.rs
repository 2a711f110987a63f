//! OpenAPI v3 documents (to be written).
