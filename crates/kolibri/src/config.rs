//! k3s-style configuration layering: command-line flags, then `KOLIBRI_*` environment
//! variables, then `<config>.d/*.yaml` drop-ins, then the config file.
//!
//! The layers are turned into synthetic `--flag=value` arguments inserted right after the
//! subcommand, before the real command-line arguments, so that clap parses one argument
//! list and every flag keeps a single definition (type, default, validation, help).
//!
//! # Contract
//!
//! Which flags take part, and how, comes from the clap [`Command`] itself:
//! - every argument of the invoked (sub)command that has a long name, except `help` and
//!   `version`; the file key and the environment variable are the long name
//!   (`https-listen-port`, `KOLIBRI_HTTPS_LISTEN_PORT`; an argument's own `env` name is
//!   used when it declares one);
//! - `ArgAction::Append` arguments are lists: a layer's `key:` replaces the values of lower
//!   layers, `key+:` appends to them (k3s), an environment value is split on commas and
//!   replaces. Command-line occurrences are appended after all of them;
//! - `SetTrue`/`SetFalse` arguments are booleans (YAML booleans or `true`/`false`,
//!   `yes`/`no`, `on`/`off`, `1`/`0`); `Count` arguments take a number;
//! - every other argument takes one value; the highest layer wins, and a flag given on the
//!   command line suppresses the lower layers entirely, so clap never sees it twice.
//!
//! Config files apply only to a command that declares a `--config` argument. The file is
//! the value of `--config` on the command line, else of its environment variable
//! (`KOLIBRI_CONFIG`), else the argument's default, else [`DEFAULT_CONFIG_PATH`]. A missing
//! file is an error only when it was named explicitly. Drop-ins are the `*.yaml` files in
//! `<config>.d/`, applied in lexical order over the config file. Keys that are not flags of
//! the command are skipped with a warning, because one file usually serves several
//! commands (k3s does the same).

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use clap::{Arg, ArgAction, Command, CommandFactory};
use serde_yaml::Value;

/// Where the config file is looked for when neither `--config` nor `KOLIBRI_CONFIG` names one.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/kolibri/config.yaml";

const ENV_PREFIX: &str = "KOLIBRI_";
const CONFIG_FLAG: &str = "config";

/// Why the configuration layers could not be merged.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A config file given explicitly (`--config` or `KOLIBRI_CONFIG`) does not exist.
    #[error("config file {} does not exist", .0.display())]
    Missing(PathBuf),
    /// A config file or drop-in directory could not be read.
    #[error("{}: {source}", path.display())]
    Read {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A config file is not valid YAML; the message carries line and column.
    #[error("{}: invalid YAML: {source}", path.display())]
    Yaml {
        /// The file.
        path: PathBuf,
        /// The 1-based line of the error, when known.
        line: Option<usize>,
        /// The parser's error.
        #[source]
        source: serde_yaml::Error,
    },
    /// A value does not fit its flag (a map, a list for a single-value flag, a bad boolean).
    #[error("{origin}: {key}: {message}")]
    Value {
        /// The file path or environment variable the value came from.
        origin: String,
        /// The key or variable.
        key: String,
        /// What is wrong.
        message: String,
    },
}

/// The merged argument list, ready for clap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merged {
    /// `argv[0]`, the subcommand path, the synthetic arguments, then the real arguments.
    pub args: Vec<OsString>,
    /// Config files that were read, lowest precedence first.
    pub files: Vec<PathBuf>,
    /// Things worth telling the operator, such as skipped unknown keys.
    pub warnings: Vec<String>,
}

/// Merges the layers for the process's own command line and environment, for the binary's
/// `Cli`; prints warnings to stderr, since logging is not set up yet at this point.
pub fn merged_args(argv: Vec<OsString>) -> Result<Vec<OsString>, ConfigError> {
    let merged = merge(&crate::Cli::command(), argv, &process_env())?;
    for warning in &merged.warnings {
        eprintln!("kolibri: warning: {warning}");
    }
    Ok(merged.args)
}

/// The process environment as UTF-8 pairs (variables that are not UTF-8 are skipped).
pub fn process_env() -> Vec<(String, String)> {
    std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))).collect()
}

/// Merges config files and `env` into `argv` for `cmd`; see the module documentation.
pub fn merge(cmd: &Command, argv: Vec<OsString>, env: &[(String, String)]) -> Result<Merged, ConfigError> {
    let mut cmd = cmd.clone();
    // Building propagates global arguments to subcommands, so that they are seen below.
    cmd.build();
    let (target, insert_at) = invoked_command(&cmd, &argv);
    let flags = Flags::of(target);
    let cli = &argv[insert_at..];
    let env: BTreeMap<&str, &str> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();

    let mut values = Values::default();
    let mut files = Vec::new();
    let mut warnings = Vec::new();
    if let Some(config_arg) = flags.by_long(CONFIG_FLAG) {
        let (path, explicit) = config_path(config_arg, cli, &env);
        for file in config_files(&path, explicit)? {
            let layer = read_layer(&file)?;
            values.apply_file(&flags, &file, layer, &mut warnings)?;
            files.push(file);
        }
    }
    values.apply_env(&flags, &env)?;

    let mut args: Vec<OsString> = argv[..insert_at].to_vec();
    args.extend(values.into_args(&flags, cli));
    args.extend_from_slice(cli);
    Ok(Merged { args, files, warnings })
}

/// The deepest subcommand named by `argv`, and the index just after its name.
fn invoked_command<'a>(root: &'a Command, argv: &[OsString]) -> (&'a Command, usize) {
    let mut cmd = root;
    let mut i = 1;
    while let Some(sub) = argv.get(i).and_then(|a| cmd.find_subcommand(a)) {
        cmd = sub;
        i += 1;
    }
    (cmd, i.min(argv.len()))
}

/// How a flag takes values from the layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Single,
    List,
    /// `true` for `SetTrue`: the flag's presence means true.
    Bool(bool),
    Count,
}

/// The layerable flags of one command.
struct Flags<'a> {
    args: Vec<(&'a Arg, &'a str, Kind)>,
}

impl<'a> Flags<'a> {
    fn of(cmd: &'a Command) -> Self {
        let args = cmd
            .get_arguments()
            .filter(|a| !a.is_positional())
            .filter_map(|a| {
                let long = a.get_long()?;
                let kind = match a.get_action() {
                    ArgAction::Set => Kind::Single,
                    ArgAction::Append => Kind::List,
                    ArgAction::SetTrue => Kind::Bool(true),
                    ArgAction::SetFalse => Kind::Bool(false),
                    ArgAction::Count => Kind::Count,
                    // Help, Version and anything newer are not configuration.
                    _ => return None,
                };
                Some((a, long, kind))
            })
            .collect();
        Self { args }
    }

    fn by_long(&self, long: &str) -> Option<&'a Arg> {
        self.find(long).map(|(a, _)| a)
    }

    fn find(&self, long: &str) -> Option<(&'a Arg, Kind)> {
        self.args.iter().find(|(_, l, _)| *l == long).map(|(a, _, k)| (*a, *k))
    }

    fn env_name(arg: &Arg, long: &str) -> String {
        arg.get_env()
            .and_then(OsStr::to_str)
            .map(str::to_owned)
            .unwrap_or_else(|| format!("{ENV_PREFIX}{}", long.to_uppercase().replace('-', "_")))
    }
}

/// Resolved values per flag (long name), lowest layers applied first.
#[derive(Default)]
struct Values {
    map: BTreeMap<String, Vec<String>>,
}

impl Values {
    fn apply_file(
        &mut self,
        flags: &Flags<'_>,
        file: &Path,
        layer: Vec<(String, Value)>,
        warnings: &mut Vec<String>,
    ) -> Result<(), ConfigError> {
        let origin = file.display().to_string();
        for (key, value) in layer {
            let (name, append) = match key.strip_suffix('+') {
                Some(name) => (name, true),
                None => (key.as_str(), false),
            };
            let Some((_, kind)) = flags.find(name).filter(|_| name != CONFIG_FLAG) else {
                warnings.push(format!("{origin}: unknown flag {key:?}, skipping"));
                continue;
            };
            if value.is_null() {
                continue;
            }
            let bad = |message: String| ConfigError::Value { origin: origin.clone(), key: key.clone(), message };
            if append && kind != Kind::List {
                return Err(bad(format!("`{name}+` needs a list flag; use `{name}`")));
            }
            let items = match (&value, kind) {
                (Value::Sequence(items), Kind::List) => items.iter().map(scalar).collect(),
                (Value::Sequence(_), _) => Err("expected a single value, not a list".to_owned()),
                (v, _) => scalar(v).map(|s| vec![s]),
            }
            .map_err(bad)?;
            let items = match (kind, items.as_slice()) {
                (Kind::Bool(_), [one]) => vec![parse_bool(one).map_err(bad)?.to_string()],
                _ => items,
            };
            let slot = self.map.entry(name.to_owned()).or_default();
            if !append {
                slot.clear();
            }
            slot.extend(items);
        }
        Ok(())
    }

    fn apply_env(&mut self, flags: &Flags<'_>, env: &BTreeMap<&str, &str>) -> Result<(), ConfigError> {
        for (arg, long, kind) in &flags.args {
            let var = Flags::env_name(arg, long);
            let Some(value) = env.get(var.as_str()) else {
                continue;
            };
            let bad =
                |message: String| ConfigError::Value { origin: "environment".to_owned(), key: var.clone(), message };
            let items = match kind {
                Kind::List if value.is_empty() => Vec::new(),
                Kind::List => value.split(',').map(|s| s.trim().to_owned()).collect(),
                Kind::Bool(_) => vec![parse_bool(value).map_err(bad)?.to_string()],
                Kind::Single | Kind::Count => vec![(*value).to_owned()],
            };
            self.map.insert((*long).to_owned(), items);
        }
        Ok(())
    }

    /// The synthetic arguments, in the command's argument order.
    fn into_args(self, flags: &Flags<'_>, cli: &[OsString]) -> Vec<OsString> {
        let mut out = Vec::new();
        for (arg, long, kind) in &flags.args {
            let Some(values) = self.map.get(*long) else {
                continue;
            };
            if kind != &Kind::List && mentioned(arg, cli) {
                continue;
            }
            match kind {
                Kind::List | Kind::Single => {
                    out.extend(values.iter().map(|v| OsString::from(format!("--{long}={v}"))));
                }
                Kind::Bool(present_means) => {
                    if values.first().map(String::as_str) == Some(&present_means.to_string()) {
                        out.push(OsString::from(format!("--{long}")));
                    }
                }
                Kind::Count => {
                    let n = values.first().and_then(|v| v.parse::<usize>().ok()).unwrap_or(0);
                    out.extend(std::iter::repeat_n(OsString::from(format!("--{long}")), n));
                }
            }
        }
        out
    }
}

/// A YAML scalar as the string a command line would carry.
fn scalar(v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Tagged(t) => scalar(&t.value),
        Value::Null => Err("empty value in a list".to_owned()),
        Value::Sequence(_) => Err("nested list".to_owned()),
        Value::Mapping(_) => Err("expected a value, not a map".to_owned()),
    }
}

/// Booleans as clap accepts them in environment variables.
fn parse_bool(s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "t" | "yes" | "y" | "on" | "1" => Ok(true),
        "false" | "f" | "no" | "n" | "off" | "0" => Ok(false),
        _ => Err(format!("expected a boolean, got {s:?}")),
    }
}

/// Whether the command line already gives `arg` (`--long`, `--long=v`, an alias, `-s...`),
/// looking no further than `--`.
fn mentioned(arg: &Arg, cli: &[OsString]) -> bool {
    let longs: Vec<&str> = arg.get_long().into_iter().chain(arg.get_all_aliases().unwrap_or_default()).collect();
    let shorts: Vec<char> =
        arg.get_short().into_iter().chain(arg.get_all_short_aliases().unwrap_or_default()).collect();
    cli.iter().map(|a| a.to_string_lossy()).take_while(|a| a != "--").any(|a| {
        if let Some(rest) = a.strip_prefix("--") {
            let name = rest.split('=').next().unwrap_or(rest);
            longs.contains(&name)
        } else if let Some(rest) = a.strip_prefix('-') {
            rest.chars().next().is_some_and(|c| shorts.contains(&c))
        } else {
            false
        }
    })
}

/// The config file to read and whether it was named explicitly.
fn config_path(arg: &Arg, cli: &[OsString], env: &BTreeMap<&str, &str>) -> (PathBuf, bool) {
    let long = format!("--{CONFIG_FLAG}");
    let short = arg.get_short().map(|c| format!("-{c}"));
    let mut from_cli = None;
    let mut tokens = cli.iter().take_while(|a| *a != "--");
    while let Some(token) = tokens.next() {
        let s = token.to_string_lossy();
        if s == long || short.as_deref() == Some(&*s) {
            from_cli = tokens.next().cloned();
        } else if let Some(v) = s.strip_prefix(&format!("{long}=")) {
            from_cli = Some(OsString::from(v));
        } else if let Some(v) = short.as_deref().and_then(|sh| s.strip_prefix(sh)) {
            from_cli = Some(OsString::from(v.strip_prefix('=').unwrap_or(v)));
        }
    }
    if let Some(path) = from_cli {
        return (PathBuf::from(path), true);
    }
    let var = Flags::env_name(arg, CONFIG_FLAG);
    if let Some(path) = env.get(var.as_str()).filter(|p| !p.is_empty()) {
        return (PathBuf::from(path), true);
    }
    let default =
        arg.get_default_values().first().map(PathBuf::from).unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG_PATH));
    (default, false)
}

/// The config file (if it exists) followed by its drop-ins in lexical order.
fn config_files(config: &Path, explicit: bool) -> Result<Vec<PathBuf>, ConfigError> {
    let mut files = Vec::new();
    match fs::metadata(config) {
        Ok(_) => files.push(config.to_owned()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if explicit {
                return Err(ConfigError::Missing(config.to_owned()));
            }
        }
        Err(source) => return Err(ConfigError::Read { path: config.to_owned(), source }),
    }
    let mut dir = config.as_os_str().to_owned();
    dir.push(".d");
    let dir = PathBuf::from(dir);
    let entries = match fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(files),
        Err(source) => return Err(ConfigError::Read { path: dir, source }),
    };
    let mut dropins = Vec::new();
    for entry in entries {
        let path = entry.map_err(|source| ConfigError::Read { path: dir.clone(), source })?.path();
        let yaml = path.extension().is_some_and(|e| e == "yaml" || e == "yml");
        if yaml && path.is_file() {
            dropins.push(path);
        }
    }
    dropins.sort();
    files.extend(dropins);
    Ok(files)
}

/// The top-level keys of a config file, in file order.
fn read_layer(path: &Path) -> Result<Vec<(String, Value)>, ConfigError> {
    let text = fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
    let doc: Value = serde_yaml::from_str(&text).map_err(|source| ConfigError::Yaml {
        path: path.to_owned(),
        line: source.location().map(|l| l.line()),
        source,
    })?;
    let map = match doc {
        Value::Null => return Ok(Vec::new()),
        Value::Mapping(map) => map,
        _ => {
            return Err(ConfigError::Value {
                origin: path.display().to_string(),
                key: "(top level)".to_owned(),
                message: "expected a map of flag names to values".to_owned(),
            })
        }
    };
    map.into_iter()
        .map(|(k, v)| match k {
            Value::String(k) => Ok((k, v)),
            other => Err(ConfigError::Value {
                origin: path.display().to_string(),
                key: format!("{other:?}"),
                message: "keys must be flag names".to_owned(),
            }),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Args, FromArgMatches, Parser, Subcommand};

    #[derive(Parser, Debug)]
    #[command(name = "kolibri")]
    struct TestCli {
        #[command(subcommand)]
        command: TestCommand,
    }

    #[derive(Subcommand, Debug)]
    enum TestCommand {
        Server(TestServer),
        Agent(TestAgent),
    }

    #[derive(Args, Debug)]
    struct TestServer {
        #[arg(long, default_value_t = 6443)]
        https_listen_port: u16,
        #[arg(long, default_value = "/var/lib/kolibri")]
        data_dir: PathBuf,
        #[arg(long = "tls-san", value_delimiter = ',')]
        tls_san: Vec<String>,
        #[arg(long)]
        disable_agent: bool,
        #[arg(long, short = 'v', action = ArgAction::Count)]
        verbose: u8,
        #[arg(long, short = 'c', default_value = DEFAULT_CONFIG_PATH)]
        config: PathBuf,
    }

    #[derive(Args, Debug)]
    struct TestAgent {
        #[arg(long)]
        server: Option<String>,
        #[arg(long, short = 'c', default_value = DEFAULT_CONFIG_PATH)]
        config: PathBuf,
    }

    struct Setup {
        dir: tempfile::TempDir,
    }

    impl Setup {
        fn new() -> Self {
            Self { dir: tempfile::tempdir().unwrap() }
        }
        fn config(&self) -> PathBuf {
            self.dir.path().join("config.yaml")
        }
        fn write(&self, name: &str, text: &str) {
            let path = self.dir.path().join(name);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, text).unwrap();
        }
        /// The test CLI with `<tmp>/config.yaml` as the default config file.
        fn command(&self) -> Command {
            // clap wants a 'static default; leaking a short path per test is harmless.
            let config: &'static str = Box::leak(self.config().display().to_string().into_boxed_str());
            let with_default = |c: Command| c.mut_arg("config", |a| a.default_value(config));
            TestCli::command().mut_subcommand("server", with_default).mut_subcommand("agent", with_default)
        }
        /// Merges for `kolibri <args>`.
        fn merge(&self, args: &[&str], env: &[(&str, &str)]) -> Result<Merged, ConfigError> {
            let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
            let argv = std::iter::once("kolibri").chain(args.iter().copied()).map(OsString::from);
            merge(&self.command(), argv.collect(), &env)
        }
        fn server(&self, args: &[&str], env: &[(&str, &str)]) -> TestServer {
            let merged = self.merge(&[&["server"], args].concat(), env).unwrap();
            let matches = self.command().try_get_matches_from(&merged.args).unwrap();
            match TestCli::from_arg_matches(&matches).unwrap().command {
                TestCommand::Server(s) => s,
                TestCommand::Agent(_) => panic!("parsed as agent"),
            }
        }
    }

    #[test]
    fn precedence_is_cli_then_env_then_dropins_then_file() {
        let s = Setup::new();
        s.write("config.yaml", "https-listen-port: 1001\ndata-dir: /from/file\n");
        s.write("config.yaml.d/10-a.yaml", "https-listen-port: 1002\n");
        assert_eq!(s.server(&[], &[]).https_listen_port, 1002);
        assert_eq!(s.server(&[], &[]).data_dir, PathBuf::from("/from/file"));

        let env = [("KOLIBRI_HTTPS_LISTEN_PORT", "1003")];
        assert_eq!(s.server(&[], &env).https_listen_port, 1003);

        let cli = ["--https-listen-port", "1004"];
        assert_eq!(s.server(&cli, &env).https_listen_port, 1004);
        assert_eq!(s.server(&["--https-listen-port=1005"], &env).https_listen_port, 1005);
    }

    #[test]
    fn dropins_apply_in_lexical_order_and_only_yaml() {
        let s = Setup::new();
        s.write("config.yaml.d/20-b.yaml", "https-listen-port: 2002\n");
        s.write("config.yaml.d/10-a.yaml", "https-listen-port: 2001\ndata-dir: /a\n");
        s.write("config.yaml.d/30-c.yaml.bak", "https-listen-port: 9999\n");
        let server = s.server(&[], &[]);
        assert_eq!(server.https_listen_port, 2002);
        assert_eq!(server.data_dir, PathBuf::from("/a"));
        let merged = s.merge(&["server"], &[]).unwrap();
        let names: Vec<_> = merged.files.iter().map(|f| f.file_name().unwrap().to_owned()).collect();
        assert_eq!(names, ["10-a.yaml", "20-b.yaml"]);
    }

    #[test]
    fn list_keys_replace_and_plus_keys_append() {
        let s = Setup::new();
        s.write("config.yaml", "tls-san: [a, b]\n");
        assert_eq!(s.server(&[], &[]).tls_san, ["a", "b"]);

        s.write("config.yaml.d/10.yaml", "tls-san+: c\n");
        assert_eq!(s.server(&[], &[]).tls_san, ["a", "b", "c"]);

        s.write("config.yaml.d/20.yaml", "tls-san: d\n");
        s.write("config.yaml.d/30.yaml", "tls-san+: [e, f]\n");
        assert_eq!(s.server(&[], &[]).tls_san, ["d", "e", "f"]);

        // The environment replaces the file layers; the command line appends.
        assert_eq!(s.server(&[], &[("KOLIBRI_TLS_SAN", "x,y")]).tls_san, ["x", "y"]);
        assert_eq!(s.server(&["--tls-san", "z"], &[]).tls_san, ["d", "e", "f", "z"]);
    }

    #[test]
    fn booleans_and_counts() {
        let s = Setup::new();
        s.write("config.yaml", "disable-agent: true\nverbose: 2\n");
        let server = s.server(&[], &[]);
        assert!(server.disable_agent);
        assert_eq!(server.verbose, 2);

        s.write("config.yaml.d/10.yaml", "disable-agent: false\n");
        assert!(!s.server(&[], &[]).disable_agent);
        assert!(s.server(&[], &[("KOLIBRI_DISABLE_AGENT", "yes")]).disable_agent);
        assert!(!s.server(&[], &[("KOLIBRI_DISABLE_AGENT", "0")]).disable_agent);
        // Given on the command line too: no duplicate for clap to reject.
        assert!(s.server(&["--disable-agent"], &[("KOLIBRI_DISABLE_AGENT", "1")]).disable_agent);
        assert_eq!(s.server(&["-v"], &[]).verbose, 1);

        let err = s.merge(&["server"], &[("KOLIBRI_DISABLE_AGENT", "maybe")]).unwrap_err();
        assert!(err.to_string().contains("KOLIBRI_DISABLE_AGENT"), "{err}");
    }

    #[test]
    fn env_names_follow_flag_names() {
        let s = Setup::new();
        let server =
            s.server(&[], &[("KOLIBRI_DATA_DIR", "/env"), ("KOLIBRI_HTTPS_LISTEN_PORT", "7443"), ("DATA_DIR", "/no")]);
        assert_eq!(server.data_dir, PathBuf::from("/env"));
        assert_eq!(server.https_listen_port, 7443);
    }

    #[test]
    fn synthetic_args_go_after_the_subcommand_before_real_args() {
        let s = Setup::new();
        s.write("config.yaml", "data-dir: /d\n");
        let merged = s.merge(&["server", "--tls-san", "q"], &[]).unwrap();
        assert_eq!(merged.args, ["kolibri", "server", "--data-dir=/d", "--tls-san", "q"]);
    }

    #[test]
    fn unknown_keys_are_skipped_with_a_warning() {
        let s = Setup::new();
        s.write("config.yaml", "server: https://x:6443\nhttps-listen-port: 7000\n");
        let merged = s.merge(&["server"], &[]).unwrap();
        assert!(merged.warnings.iter().any(|w| w.contains("\"server\"")), "{:?}", merged.warnings);
        // The agent understands `server` but not `https-listen-port`.
        let merged = s.merge(&["agent"], &[]).unwrap();
        assert!(merged.args.contains(&OsString::from("--server=https://x:6443")));
        assert!(merged.warnings.iter().any(|w| w.contains("https-listen-port")));
    }

    #[test]
    fn missing_default_config_is_fine_missing_explicit_one_is_not() {
        let s = Setup::new();
        let merged = s.merge(&["server"], &[]).unwrap();
        assert!(merged.files.is_empty());

        let missing = s.dir.path().join("nope.yaml");
        let err = s.merge(&["server", "--config", missing.to_str().unwrap()], &[]).unwrap_err();
        assert!(matches!(err, ConfigError::Missing(ref p) if p == &missing), "{err:?}");
        assert!(err.to_string().contains("nope.yaml"));

        let err = s.merge(&["server"], &[("KOLIBRI_CONFIG", missing.to_str().unwrap())]).unwrap_err();
        assert!(matches!(err, ConfigError::Missing(_)), "{err:?}");
    }

    #[test]
    fn config_flag_on_the_command_line_selects_the_file() {
        let s = Setup::new();
        s.write("other.yaml", "https-listen-port: 3000\n");
        let other = s.dir.path().join("other.yaml");
        let arg = format!("--config={}", other.display());
        assert_eq!(s.server(&[&arg], &[]).https_listen_port, 3000);
        assert_eq!(s.server(&["-c", other.to_str().unwrap()], &[]).https_listen_port, 3000);
    }

    #[test]
    fn bad_yaml_names_file_and_line() {
        let s = Setup::new();
        s.write("config.yaml", "https-listen-port: 1\ntls-san: [a, b\ndata-dir: /x\n");
        let err = s.merge(&["server"], &[]).unwrap_err();
        let ConfigError::Yaml { ref path, line, .. } = err else {
            panic!("{err:?}");
        };
        assert_eq!(path, &s.config());
        assert!(matches!(line, Some(2..=4)), "{line:?}");
        let msg = err.to_string();
        assert!(msg.contains("config.yaml") && msg.contains("line"), "{msg}");
    }

    #[test]
    fn ill_typed_values_are_errors_naming_the_key() {
        let s = Setup::new();
        for (text, key) in [
            ("data-dir: [a, b]\n", "data-dir"),
            ("data-dir: {a: b}\n", "data-dir"),
            ("https-listen-port+: 1\n", "https-listen-port+"),
            ("disable-agent: perhaps\n", "disable-agent"),
            ("- just\n- a list\n", "(top level)"),
        ] {
            s.write("config.yaml", text);
            let err = s.merge(&["server"], &[]).unwrap_err();
            assert!(matches!(err, ConfigError::Value { .. }), "{text}: {err:?}");
            let msg = err.to_string();
            assert!(msg.contains(key) && msg.contains("config.yaml"), "{text}: {msg}");
        }
    }

    #[test]
    fn values_that_look_like_flags_stay_values() {
        let s = Setup::new();
        s.write("config.yaml", "data-dir: --weird\ntls-san: [\"-x\"]\n");
        let server = s.server(&[], &[]);
        assert_eq!(server.data_dir, PathBuf::from("--weird"));
        assert_eq!(server.tls_san, ["-x"]);
    }

    #[test]
    fn commands_without_subcommand_are_left_alone() {
        let argv: Vec<OsString> = ["kolibri", "--help"].map(OsString::from).to_vec();
        let merged = merge(&TestCli::command(), argv.clone(), &[]).unwrap();
        assert_eq!(merged.args, argv);
    }
}
