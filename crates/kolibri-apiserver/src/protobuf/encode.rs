//! JSON → protobuf.

use base64::Engine as _;
use serde_json::Value;

use super::schema::{self, Field, Label, Message, MessageId, Special, Ty};
use super::wire::{put_key, put_len_delimited, put_varint, FIXED64, VARINT};
use super::{ProtobufError, MAGIC};

const MAX_DEPTH: usize = 100;

pub(crate) fn envelope(value: &Value) -> Result<Vec<u8>, ProtobufError> {
    let api_version = value.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let kind = value.get("kind").and_then(Value::as_str).unwrap_or("");
    let id = schema::message_for_kind(api_version, kind)
        .ok_or_else(|| ProtobufError::UnknownKind { api_version: api_version.to_string(), kind: kind.to_string() })?;
    let raw = message(id, value, 0)?;
    let mut type_meta = Vec::new();
    put_len_delimited(&mut type_meta, 1, api_version.as_bytes());
    put_len_delimited(&mut type_meta, 2, kind.as_bytes());
    let mut out = Vec::with_capacity(raw.len() + type_meta.len() + 16);
    out.extend_from_slice(MAGIC);
    put_len_delimited(&mut out, 1, &type_meta);
    put_len_delimited(&mut out, 2, &raw);
    // Go always writes these two, empty: no encoding, protobuf content.
    put_len_delimited(&mut out, 3, b"");
    put_len_delimited(&mut out, 4, b"");
    Ok(out)
}

fn err(msg: &Message, field: &str, what: &str) -> ProtobufError {
    ProtobufError::Encode(format!("{}.{field}: {what}", msg.name))
}

fn message(id: MessageId, v: &Value, depth: usize) -> Result<Vec<u8>, ProtobufError> {
    if depth > MAX_DEPTH {
        return Err(ProtobufError::Encode(format!("objects nested deeper than {MAX_DEPTH}")));
    }
    let msg = schema::message(id);
    let mut out = Vec::new();
    if msg.special != Special::None {
        special(msg, v, &mut out, depth)?;
        return Ok(out);
    }
    let obj = match v {
        Value::Object(obj) => obj,
        Value::Null => return Ok(out),
        _ => return Err(err(msg, "", "expected an object")),
    };
    // Table order is tag order, which is what Go writes.
    for field in msg.fields {
        match (field.label, obj.get(field.json)) {
            // Go writes embedded structs always, from the parent's JSON object.
            (Label::Inline, _) => put_value(msg, field, field.tag, v, &mut out, depth)?,
            (_, None) => {}
            (_, Some(Value::Null)) => {
                // A null Time is Go's zero time, which it writes as an empty message.
                if let Ty::Message(id) = field.ty {
                    if matches!(schema::message(id).special, Special::Time | Special::MicroTime) {
                        put_len_delimited(&mut out, field.tag, b"");
                    }
                }
            }
            (_, Some(v)) => put_field(msg, field, v, &mut out, depth)?,
        }
    }
    Ok(out)
}

fn put_field(msg: &Message, field: &Field, v: &Value, out: &mut Vec<u8>, depth: usize) -> Result<(), ProtobufError> {
    match field.label {
        Label::Optional | Label::Inline => put_value(msg, field, field.tag, v, out, depth),
        Label::Repeated => {
            let items = v.as_array().ok_or_else(|| err(msg, field.json, "expected an array"))?;
            items.iter().try_for_each(|item| put_value(msg, field, field.tag, item, out, depth))
        }
        Label::Map => {
            let entries = v.as_object().ok_or_else(|| err(msg, field.json, "expected an object"))?;
            let mut entry = Vec::new();
            // serde_json's map is sorted, as Go sorts map keys.
            for (k, val) in entries {
                entry.clear();
                put_len_delimited(&mut entry, 1, k.as_bytes());
                if !val.is_null() {
                    put_value(msg, field, 2, val, &mut entry, depth)?;
                }
                put_len_delimited(out, field.tag, &entry);
            }
            Ok(())
        }
    }
}

fn put_value(
    msg: &Message,
    field: &Field,
    tag: u32,
    v: &Value,
    out: &mut Vec<u8>,
    depth: usize,
) -> Result<(), ProtobufError> {
    let wrong = |what| err(msg, field.json, what);
    match field.ty {
        Ty::String => {
            let s = v.as_str().ok_or_else(|| wrong("expected a string"))?;
            put_len_delimited(out, tag, s.as_bytes());
        }
        Ty::Bytes => {
            let s = v.as_str().ok_or_else(|| wrong("expected a base64 string"))?;
            let bytes = base64::engine::general_purpose::STANDARD.decode(s).map_err(|_| wrong("invalid base64"))?;
            put_len_delimited(out, tag, &bytes);
        }
        Ty::Bool => {
            let b = v.as_bool().ok_or_else(|| wrong("expected a boolean"))?;
            put_key(out, tag, VARINT);
            put_varint(out, u64::from(b));
        }
        Ty::Int32 | Ty::Int64 => {
            let n = integer(v).ok_or_else(|| wrong("expected an integer"))?;
            put_key(out, tag, VARINT);
            // Negative numbers are sign-extended to ten bytes, as protobuf says.
            put_varint(out, n as u64);
        }
        Ty::Double => {
            let f = v.as_f64().ok_or_else(|| wrong("expected a number"))?;
            put_key(out, tag, FIXED64);
            out.extend_from_slice(&f.to_bits().to_le_bytes());
        }
        Ty::Message(id) => put_len_delimited(out, tag, &message(id, v, depth + 1)?),
    }
    Ok(())
}

fn integer(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| v.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
}

fn special(msg: &Message, v: &Value, out: &mut Vec<u8>, depth: usize) -> Result<(), ProtobufError> {
    // Fields of the wrapper messages, found by tag as the generic code does.
    let field = |tag| msg.field_by_tag(tag).ok_or_else(|| err(msg, "", "descriptor lacks a field"));
    let bad = |what| err(msg, "", what);
    match msg.special {
        Special::None => {}
        Special::Time | Special::MicroTime => {
            if let Some(s) = v.as_str() {
                let t = chrono::DateTime::parse_from_rfc3339(s).map_err(|_| bad("expected an RFC 3339 time"))?;
                put_value(msg, field(1)?, 1, &t.timestamp().into(), out, depth)?;
                let nanos = t.timestamp_subsec_nanos();
                if nanos != 0 {
                    put_value(msg, field(2)?, 2, &nanos.into(), out, depth)?;
                }
            } else if !v.is_null() {
                return Err(bad("expected a time string"));
            }
        }
        Special::Duration => {
            let s = v.as_str().ok_or_else(|| bad("expected a duration string"))?;
            let nanos = parse_go_duration(s).ok_or_else(|| bad("invalid duration"))?;
            put_value(msg, field(1)?, 1, &nanos.into(), out, depth)?;
        }
        Special::Quantity => {
            let s = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => return Err(bad("expected a quantity")),
            };
            put_value(msg, field(1)?, 1, &s.into(), out, depth)?;
        }
        Special::IntOrString => match v {
            Value::String(s) => {
                put_value(msg, field(1)?, 1, &1.into(), out, depth)?;
                put_value(msg, field(3)?, 3, &s.as_str().into(), out, depth)?;
            }
            Value::Number(_) => {
                put_value(msg, field(1)?, 1, &0.into(), out, depth)?;
                put_value(msg, field(2)?, 2, v, out, depth)?;
            }
            _ => return Err(bad("expected an integer or a string")),
        },
        Special::RawJson | Special::Unknown => {
            if !v.is_null() {
                let tag = if msg.special == Special::Unknown { 2 } else { 1 };
                let json = serde_json::to_vec(v).map_err(|e| err(msg, "", &e.to_string()))?;
                put_len_delimited(out, tag, &json);
            }
        }
        Special::StringArray => {
            if !v.is_null() {
                put_field(msg, field(1)?, v, out, depth)?;
            }
        }
        Special::SchemaOrArray | Special::SchemaOrStringArray => match v {
            Value::Array(_) => put_field(msg, field(2)?, v, out, depth)?,
            Value::Null => {}
            _ => put_field(msg, field(1)?, v, out, depth)?,
        },
        Special::SchemaOrBool => match v {
            Value::Bool(b) => put_field(msg, field(1)?, &(*b).into(), out, depth)?,
            Value::Null => {}
            // A schema implies additional items are allowed.
            _ => {
                put_field(msg, field(1)?, &true.into(), out, depth)?;
                put_field(msg, field(2)?, v, out, depth)?;
            }
        },
    }
    Ok(())
}

/// Parses Go's duration syntax (`1h2m3.5s`, `-1.5ms`, `0`).
pub(crate) fn parse_go_duration(s: &str) -> Option<i64> {
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: i128 = 0;
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(rest.len());
        let (num, tail) = rest.split_at(num_len);
        let unit_len = tail.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let scale: i128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return None,
        };
        let (int, frac) = num.split_once('.').unwrap_or((num, ""));
        if (int.is_empty() && frac.is_empty()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let int: i128 = if int.is_empty() { 0 } else { int.parse().ok()? };
        let mut value = int.checked_mul(scale)?;
        let mut place = scale;
        for d in frac.bytes() {
            place /= 10;
            value += i128::from(d - b'0') * place;
        }
        total = total.checked_add(value)?;
        rest = tail;
    }
    let total = if neg { -total } else { total };
    i64::try_from(total).ok()
}
