//! Protobuf bodies of built-in kinds (to be written).
