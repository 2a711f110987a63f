//! Protobuf → JSON.

use base64::Engine as _;
use serde_json::{Map, Number, Value};

use super::schema::{self, Field, Label, Message, MessageId, Special, Ty};
use super::wire::{Reader, FIXED64, LEN, VARINT};
use super::{ProtobufError, MAGIC};

/// Bounds recursion on hostile input (JSONSchemaProps nests arbitrarily);
/// real objects stay far below it.
const MAX_DEPTH: usize = 100;

/// Decodes `magic + runtime.Unknown`; the GVK arguments fill an empty typeMeta.
pub(crate) fn envelope(body: &[u8], api_version: &str, kind: &str, depth: usize) -> Result<Value, ProtobufError> {
    let rest = body.strip_prefix(MAGIC).ok_or(ProtobufError::BadMagic)?;
    let mut r = Reader::new(rest);
    let (mut type_api_version, mut type_kind, mut raw, mut encoding) = ("", "", &[][..], "");
    while !r.is_empty() {
        let (tag, wire) = r.key()?;
        match (tag, wire) {
            (1, LEN) => {
                let mut tm = Reader::new(r.len_delimited()?);
                while !tm.is_empty() {
                    match tm.key()? {
                        (1, LEN) => type_api_version = utf8(tm.len_delimited()?, "apiVersion")?,
                        (2, LEN) => type_kind = utf8(tm.len_delimited()?, "kind")?,
                        (t, w) => tm.skip(t, w)?,
                    }
                }
            }
            (2, LEN) => raw = r.len_delimited()?,
            (3, LEN) => encoding = utf8(r.len_delimited()?, "contentEncoding")?,
            (t, w) => r.skip(t, w)?,
        }
    }
    if !encoding.is_empty() {
        return Err(ProtobufError::UnsupportedEncoding(encoding.to_string()));
    }
    let api_version = if type_api_version.is_empty() { api_version } else { type_api_version };
    let kind = if type_kind.is_empty() { kind } else { type_kind };
    let id = schema::message_for_kind(api_version, kind)
        .ok_or_else(|| ProtobufError::UnknownKind { api_version: api_version.to_string(), kind: kind.to_string() })?;
    let mut object = Map::new();
    // Kinds are plain messages, never one of the special JSON forms.
    decode_fields(schema::message(id), raw, &mut object, depth)?;
    if !api_version.is_empty() {
        object.insert("apiVersion".into(), api_version.into());
    }
    if !kind.is_empty() {
        object.insert("kind".into(), kind.into());
    }
    Ok(Value::Object(object))
}

fn utf8<'a>(bytes: &'a [u8], what: &str) -> Result<&'a str, ProtobufError> {
    std::str::from_utf8(bytes).map_err(|_| ProtobufError::Malformed(format!("{what} is not UTF-8")))
}

fn message(id: MessageId, buf: &[u8], depth: usize) -> Result<Value, ProtobufError> {
    if depth > MAX_DEPTH {
        return Err(ProtobufError::Malformed(format!("messages nested deeper than {MAX_DEPTH}")));
    }
    let msg = schema::message(id);
    let mut fields = Map::new();
    decode_fields(msg, buf, &mut fields, depth)?;
    if msg.special == Special::None {
        Ok(Value::Object(fields))
    } else {
        special(msg, fields, depth)
    }
}

/// Decodes the fields of `buf` into `out`, merging into what is already there
/// (a message field that occurs twice is merged, as protobuf specifies).
fn decode_fields(msg: &Message, buf: &[u8], out: &mut Map<String, Value>, depth: usize) -> Result<(), ProtobufError> {
    let mut r = Reader::new(buf);
    while !r.is_empty() {
        let (tag, wire) = r.key()?;
        let Some(field) = msg.field_by_tag(tag) else {
            // Fields of newer Kubernetes versions: ignore, like upstream.
            r.skip(tag, wire)?;
            continue;
        };
        match field.label {
            Label::Optional => {
                if let (Ty::Message(id), LEN) = (field.ty, wire) {
                    let sub = schema::message(id);
                    if sub.special == Special::None {
                        if let Some(Value::Object(existing)) = out.get_mut(field.json) {
                            decode_fields(sub, r.len_delimited()?, existing, depth + 1)?;
                            continue;
                        }
                    }
                }
                let v = value(msg, field, field.ty, wire, &mut r, depth)?;
                // Go writes empty strings into protobuf but leaves them out of JSON
                // (`omitempty`); keep the JSON form upstream would store.
                if field.ty == Ty::String && v.as_str() == Some("") {
                    continue;
                }
                if is_omitted_zero(field.json, &v) {
                    continue;
                }
                out.insert(field.json.to_string(), v);
            }
            Label::Inline => {
                let (Ty::Message(id), LEN) = (field.ty, wire) else {
                    return Err(malformed(msg, field, "inline field is not a message"));
                };
                decode_fields(schema::message(id), r.len_delimited()?, out, depth + 1)?;
            }
            Label::Repeated => {
                let items = out.entry(field.json).or_insert_with(|| Value::Array(Vec::new()));
                let Value::Array(items) = items else {
                    return Err(malformed(msg, field, "mixed repeated field"));
                };
                let packable = !matches!(field.ty, Ty::String | Ty::Bytes | Ty::Message(_));
                if packable && wire == LEN {
                    let mut packed = Reader::new(r.len_delimited()?);
                    let inner = if field.ty == Ty::Double { FIXED64 } else { VARINT };
                    while !packed.is_empty() {
                        items.push(value(msg, field, field.ty, inner, &mut packed, depth)?);
                    }
                } else {
                    items.push(value(msg, field, field.ty, wire, &mut r, depth)?);
                }
            }
            Label::Map => {
                if wire != LEN {
                    return Err(malformed(msg, field, "map entry is not length-delimited"));
                }
                let (k, v) = map_entry(msg, field, r.len_delimited()?, depth)?;
                let entries = out.entry(field.json).or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(entries) = entries {
                    entries.insert(k, v);
                }
            }
        }
    }
    Ok(())
}

fn map_entry(msg: &Message, field: &Field, buf: &[u8], depth: usize) -> Result<(String, Value), ProtobufError> {
    let mut r = Reader::new(buf);
    let (mut key, mut val) = (String::new(), None);
    while !r.is_empty() {
        match r.key()? {
            (1, LEN) => key = String::from_utf8_lossy(r.len_delimited()?).into_owned(),
            (2, wire) => val = Some(value(msg, field, field.ty, wire, &mut r, depth)?),
            (t, w) => r.skip(t, w)?,
        }
    }
    // An absent value is the type's zero value.
    let val = match val {
        Some(v) => v,
        None => match field.ty {
            Ty::Message(id) => message(id, &[], depth + 1)?,
            Ty::String | Ty::Bytes => Value::String(String::new()),
            Ty::Bool => Value::Bool(false),
            Ty::Int32 | Ty::Int64 | Ty::Double => Value::from(0),
        },
    };
    Ok((key, val))
}

fn value(
    msg: &Message,
    field: &Field,
    ty: Ty,
    wire: u8,
    r: &mut Reader<'_>,
    depth: usize,
) -> Result<Value, ProtobufError> {
    let expected = match ty {
        Ty::String | Ty::Bytes | Ty::Message(_) => LEN,
        Ty::Bool | Ty::Int32 | Ty::Int64 => VARINT,
        Ty::Double => FIXED64,
    };
    if wire != expected {
        return Err(malformed(msg, field, &format!("wire type {wire}, expected {expected}")));
    }
    Ok(match ty {
        // Go does not validate UTF-8 here; its JSON encoder substitutes U+FFFD.
        Ty::String => Value::String(String::from_utf8_lossy(r.len_delimited()?).into_owned()),
        Ty::Bytes => Value::String(base64::engine::general_purpose::STANDARD.encode(r.len_delimited()?)),
        Ty::Bool => Value::Bool(r.varint()? != 0),
        // Truncating casts are protobuf's int32/int64 semantics.
        Ty::Int32 => Value::from(r.varint()? as i32),
        Ty::Int64 => Value::from(r.varint()? as i64),
        Ty::Double => Number::from_f64(f64::from_bits(r.fixed64()?))
            .map(Value::Number)
            .ok_or_else(|| malformed(msg, field, "non-finite double"))?,
        Ty::Message(id) => message(id, r.len_delimited()?, depth + 1)?,
    })
}

fn malformed(msg: &Message, field: &Field, what: &str) -> ProtobufError {
    ProtobufError::Malformed(format!("{}.{}: {what}", msg.name, field.json))
}

/// The field of `tag`, decoded generically, taken out of `fields`.
fn take(msg: &Message, fields: &mut Map<String, Value>, tag: u32) -> Option<Value> {
    msg.field_by_tag(tag).and_then(|f| fields.remove(f.json))
}

fn special(msg: &Message, mut fields: Map<String, Value>, depth: usize) -> Result<Value, ProtobufError> {
    if msg.special == Special::None {
        return Ok(Value::Object(fields));
    }
    let mut take = |tag| take(msg, &mut fields, tag);
    Ok(match msg.special {
        Special::None => Value::Null,
        Special::Time | Special::MicroTime => {
            let (secs, nanos) = (take(1), take(2));
            // Go writes the zero time as an empty message; its JSON is null.
            if secs.is_none() && nanos.is_none() {
                Value::Null
            } else {
                let secs = secs.and_then(|v| v.as_i64()).unwrap_or(0);
                time(msg, secs, nanos.and_then(|v| v.as_i64()).unwrap_or(0))?
            }
        }
        Special::Duration => Value::String(go_duration(take(1).and_then(|v| v.as_i64()).unwrap_or(0))),
        // An empty Quantity is zero.
        Special::Quantity => take(1).unwrap_or_else(|| Value::String("0".into())),
        Special::IntOrString => match take(1).and_then(|v| v.as_i64()) {
            Some(1) => take(3).unwrap_or_else(|| Value::String(String::new())),
            _ => take(2).unwrap_or_else(|| Value::from(0)),
        },
        Special::RawJson => embedded(take(1), depth)?,
        Special::Unknown => embedded(take(2), depth)?,
        Special::StringArray => match take(1) {
            Some(Value::Array(items)) if !items.is_empty() => Value::Array(items),
            _ => Value::Null,
        },
        Special::SchemaOrArray => match take(2) {
            Some(Value::Array(items)) if !items.is_empty() => Value::Array(items),
            _ => take(1).unwrap_or(Value::Null),
        },
        Special::SchemaOrBool => match take(2) {
            Some(schema) => schema,
            None => Value::Bool(take(1).and_then(|v| v.as_bool()).unwrap_or(false)),
        },
        Special::SchemaOrStringArray => match take(2) {
            Some(Value::Array(items)) if !items.is_empty() => Value::Array(items),
            _ => take(1).unwrap_or(Value::Null),
        },
    })
}

/// `raw` bytes holding JSON (what clients put there) or a nested protobuf
/// object; the generic decoder has already base64-encoded them.
fn embedded(raw: Option<Value>, depth: usize) -> Result<Value, ProtobufError> {
    let Some(Value::String(b64)) = raw else {
        return Ok(Value::Null);
    };
    let bytes =
        base64::engine::general_purpose::STANDARD.decode(b64).map_err(|e| ProtobufError::Malformed(e.to_string()))?;
    if bytes.is_empty() {
        Ok(Value::Null)
    } else if bytes.starts_with(MAGIC) {
        envelope(&bytes, "", "", depth + 1)
    } else {
        serde_json::from_slice(&bytes)
            .map_err(|e| ProtobufError::Malformed(format!("embedded object is not JSON: {e}")))
    }
}

/// metav1.Time / MicroTime JSON: UTC RFC 3339.
fn time(msg: &Message, secs: i64, nanos: i64) -> Result<Value, ProtobufError> {
    // Normalize like Go's time.Unix.
    let secs = secs.checked_add(nanos.div_euclid(1_000_000_000));
    let nanos = nanos.rem_euclid(1_000_000_000);
    let t = secs
        .zip(u32::try_from(nanos).ok())
        .and_then(|(s, n)| chrono::DateTime::from_timestamp(s, n))
        .ok_or_else(|| ProtobufError::Malformed(format!("{}: time out of range", msg.name)))?;
    let format = if msg.special == Special::MicroTime { "%Y-%m-%dT%H:%M:%S%.6fZ" } else { "%Y-%m-%dT%H:%M:%SZ" };
    Ok(Value::String(t.format(format).to_string()))
}

/// Go's `time.Duration.String()`: `1h2m3.5s`, `1.5ms`, `0s`.
pub(crate) fn go_duration(nanos: i64) -> String {
    const S: u64 = 1_000_000_000;
    let sign = if nanos < 0 { "-" } else { "" };
    let u = nanos.unsigned_abs();
    if u == 0 {
        return "0s".into();
    }
    if u < S {
        let (unit, scale) = match u {
            0..1_000 => ("ns", 1),
            1_000..1_000_000 => ("µs", 1_000),
            _ => ("ms", 1_000_000),
        };
        return format!("{sign}{}{unit}", decimal(u, scale));
    }
    let (h, rem) = (u / (3600 * S), u % (3600 * S));
    let (m, s) = (rem / (60 * S), rem % (60 * S));
    let s = decimal(s, S);
    match (h, m) {
        (0, 0) => format!("{sign}{s}s"),
        (0, m) => format!("{sign}{m}m{s}s"),
        (h, m) => format!("{sign}{h}h{m}m{s}s"),
    }
}

/// `v / scale` as a decimal without trailing zeros (scale is a power of ten).
fn decimal(v: u64, scale: u64) -> String {
    let (int, frac) = (v / scale, v % scale);
    if frac == 0 {
        return int.to_string();
    }
    let width = scale.ilog10() as usize;
    let digits = format!("{frac:0width$}");
    format!("{int}.{}", digits.trim_end_matches('0'))
}

/// Go writes non-pointer numbers and booleans into protobuf even when zero, but leaves them
/// out of JSON (`omitempty`). Which fields are pointers is not in the protobuf schema, so
/// this names the non-pointer ones that typed clients send as zero; for each of them zero
/// is also the unset meaning, so dropping it never changes what the object says.
const OMITTED_ZERO_FIELDS: &[&str] = &[
    "generation",
    "minReadySeconds",
    "paused",
    "hostPort",
    "stdin",
    "stdinOnce",
    "tty",
    "hostIPC",
    "hostNetwork",
    "hostPID",
    "nodePort",
    "healthCheckNodePort",
    "publishNotReadyAddresses",
    "initialDelaySeconds",
];

fn is_omitted_zero(json_name: &str, value: &Value) -> bool {
    let zero = matches!(value, Value::Bool(false)) || value.as_i64() == Some(0);
    zero && OMITTED_ZERO_FIELDS.contains(&json_name)
}
