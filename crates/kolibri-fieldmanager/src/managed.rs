//! The `metadata.managedFields` list: decoding, identity of entries, encoding in
//! upstream's order, and the cap on the number of Update entries.

use serde_json::{json, Map, Value};

use crate::fieldset::Set;
use crate::Error;

/// Upstream keeps at most this many Update entries (`DefaultMaxUpdateManagers`).
pub const MAX_UPDATE_MANAGERS: usize = 10;
/// The manager the oldest Update entries are merged into beyond the cap.
pub const ANCIENT_CHANGES: &str = "ancient-changes";

/// `Apply` or `Update`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Operation {
    Apply,
    Update,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Apply => "Apply",
            Operation::Update => "Update",
        }
    }
}

/// One entry of `managedFields`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub manager: String,
    pub operation: Operation,
    pub api_version: String,
    /// RFC 3339, as stored.
    pub time: Option<String>,
    pub subresource: String,
    pub fields: Set,
}

impl Entry {
    /// Whether `self` and `other` are the same manager: appliers are one manager across
    /// API versions, updaters one per version (upstream's `BuildManagerIdentifier`).
    pub fn same_manager(&self, manager: &str, operation: Operation, api_version: &str, subresource: &str) -> bool {
        self.manager == manager
            && self.operation == operation
            && self.subresource == subresource
            && (operation == Operation::Apply || self.api_version == api_version)
    }

    /// How a conflict names this manager: `"name"`, plus `with subresource "s"`, plus
    /// `using <apiVersion>` for updaters.
    pub fn describe(&self) -> String {
        let mut s = format!("{:?}", self.manager);
        if !self.subresource.is_empty() {
            s.push_str(&format!(" with subresource {:?}", self.subresource));
        }
        if self.operation == Operation::Update {
            s.push_str(&format!(" using {}", self.api_version));
        }
        s
    }
}

/// All entries of an object.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Managed {
    pub entries: Vec<Entry>,
}

impl Managed {
    /// Decodes a `managedFields` value (absent or `null`: no entries).
    pub fn decode(v: Option<&Value>) -> Result<Managed, Error> {
        let items = match v {
            None | Some(Value::Null) => return Ok(Managed::default()),
            Some(Value::Array(items)) => items,
            Some(_) => return Err(Error::ManagedFields("expected a list".into())),
        };
        let mut managed = Managed::default();
        for item in items {
            let entry = decode_entry(item)?;
            if managed
                .entries
                .iter()
                .any(|e| e.same_manager(&entry.manager, entry.operation, &entry.api_version, &entry.subresource))
            {
                return Err(Error::ManagedFields(format!("duplicate entries for manager {:?}", entry.manager)));
            }
            managed.entries.push(entry);
        }
        Ok(managed)
    }

    /// Upstream's `isResetManagedFields`: `[]` or `[{}]` asks to drop every entry.
    pub fn is_reset_request(v: Option<&Value>) -> bool {
        match v.and_then(Value::as_array).map(Vec::as_slice) {
            Some([]) => true,
            Some([only]) => only.as_object().is_some_and(Map::is_empty),
            _ => false,
        }
    }

    /// The entry of a manager.
    pub fn find(&self, manager: &str, operation: Operation, api_version: &str, subresource: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.same_manager(manager, operation, api_version, subresource))
    }

    /// The entry of a manager, created empty (without a time) when absent.
    pub fn find_mut(
        &mut self,
        manager: &str,
        operation: Operation,
        api_version: &str,
        subresource: &str,
    ) -> &mut Entry {
        let pos = self.entries.iter().position(|e| e.same_manager(manager, operation, api_version, subresource));
        let i = match pos {
            Some(i) => i,
            None => {
                self.entries.push(Entry {
                    manager: manager.to_string(),
                    operation,
                    api_version: api_version.to_string(),
                    time: None,
                    subresource: subresource.to_string(),
                    fields: Set::new(),
                });
                self.entries.len() - 1
            }
        };
        &mut self.entries[i]
    }

    /// Drops entries that own nothing.
    pub fn drop_empty(&mut self) {
        self.entries.retain(|e| !e.fields.is_empty());
    }

    /// Upstream's `capManagersManager`: beyond [`MAX_UPDATE_MANAGERS`] Update entries,
    /// the oldest are merged, per API version, into an `ancient-changes` entry.
    pub fn cap_updaters(&mut self) {
        let mut updaters: Vec<usize> =
            (0..self.entries.len()).filter(|i| self.entries[*i].operation == Operation::Update).collect();
        if updaters.len() <= MAX_UPDATE_MANAGERS {
            return;
        }
        updaters.sort_by(|a, b| {
            let (ea, eb) = (&self.entries[*a], &self.entries[*b]);
            ea.time.cmp(&eb.time).then_with(|| ea.manager.cmp(&eb.manager))
        });
        let mut length = updaters.len();
        let mut first_of_version: Vec<(String, usize)> = Vec::new();
        let mut remove = Vec::new();
        for &i in &updaters {
            if length <= MAX_UPDATE_MANAGERS {
                break;
            }
            let version = self.entries[i].api_version.clone();
            match first_of_version.iter().find(|(v, _)| *v == version).map(|(_, first)| *first) {
                Some(first) => {
                    let fields = self.entries[i].fields.clone();
                    let time = self.entries[i].time.clone();
                    let existing = self
                        .entries
                        .iter()
                        .position(|e| e.same_manager(ANCIENT_CHANGES, Operation::Update, &version, ""));
                    let bucket = match existing {
                        Some(b) if b != i => &mut self.entries[b],
                        _ => {
                            let bucket = &mut self.entries[first];
                            bucket.manager = ANCIENT_CHANGES.to_string();
                            bucket.subresource.clear();
                            bucket
                        }
                    };
                    bucket.fields.union_with(&fields);
                    bucket.time = time;
                    remove.push(i);
                    length -= 1;
                }
                None => first_of_version.push((version, i)),
            }
        }
        let mut i = 0;
        self.entries.retain(|_| {
            let keep = !remove.contains(&i);
            i += 1;
            keep
        });
    }

    /// The `managedFields` list in upstream's order (Apply first, then by time, manager,
    /// apiVersion, subresource).
    pub fn encode(&self) -> Value {
        let mut entries: Vec<&Entry> = self.entries.iter().filter(|e| !e.fields.is_empty()).collect();
        entries.sort_by(|a, b| {
            a.operation
                .cmp(&b.operation)
                .then_with(|| a.time.cmp(&b.time))
                .then_with(|| a.manager.cmp(&b.manager))
                .then_with(|| a.api_version.cmp(&b.api_version))
                .then_with(|| a.subresource.cmp(&b.subresource))
        });
        Value::Array(entries.into_iter().map(encode_entry).collect())
    }
}

fn encode_entry(e: &Entry) -> Value {
    let mut m = Map::new();
    m.insert("manager".into(), json!(e.manager));
    m.insert("operation".into(), json!(e.operation.as_str()));
    m.insert("apiVersion".into(), json!(e.api_version));
    if let Some(t) = &e.time {
        m.insert("time".into(), json!(t));
    }
    m.insert("fieldsType".into(), json!("FieldsV1"));
    m.insert("fieldsV1".into(), e.fields.to_fields_v1());
    if !e.subresource.is_empty() {
        m.insert("subresource".into(), json!(e.subresource));
    }
    Value::Object(m)
}

fn decode_entry(v: &Value) -> Result<Entry, Error> {
    let m = v.as_object().ok_or_else(|| Error::ManagedFields("expected an object".into()))?;
    let s = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    let operation = match s("operation").as_str() {
        "Apply" => Operation::Apply,
        "Update" => Operation::Update,
        other => return Err(Error::ManagedFields(format!("operation must be `Apply` or `Update`, got {other:?}"))),
    };
    match s("fieldsType").as_str() {
        "FieldsV1" => {}
        other => return Err(Error::ManagedFields(format!("unsupported fieldsType {other:?}"))),
    }
    let fields = match m.get("fieldsV1") {
        Some(f) => Set::from_fields_v1(f)?,
        None => Set::new(),
    };
    Ok(Entry {
        manager: s("manager"),
        operation,
        api_version: s("apiVersion"),
        time: m.get("time").and_then(Value::as_str).map(str::to_string),
        subresource: s("subresource"),
        fields,
    })
}
