//! One module per subcommand.

pub mod kubectl;
pub mod server;
