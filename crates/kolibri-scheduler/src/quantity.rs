//! Resource quantities (`500m`, `1.5Gi`, `2e3`) as integers: milli-units for CPU, units for
//! everything else, rounded up like upstream's `MilliValue`/`Value`.

/// A quantity that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': {0:?}")]
pub struct QuantityError(pub String);

/// The value in thousandths (`100m` → 100, `1` → 1000), rounded up.
pub fn parse_milli(s: &str) -> Result<i64, QuantityError> {
    let err = || QuantityError(s.to_string());
    let t = s.trim();
    let (negative, t) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (number, suffix) = t.split_at(split);
    if number.is_empty() || number == "." || number.matches('.').count() > 1 {
        return Err(err());
    }
    let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
    // Digits beyond 30 cannot change an i64 result meaningfully but would overflow i128.
    if int_part.len() + frac_part.len() > 30 {
        return Err(err());
    }
    let mantissa: i128 = format!("{int_part}{frac_part}").parse().map_err(|_| err())?;
    let frac_digits = frac_part.len() as i32;
    // value = mantissa * 10^-frac * 2^bin * 10^dec
    let (bin, dec): (u32, i32) = match suffix {
        "" => (0, 0),
        "Ki" => (10, 0),
        "Mi" => (20, 0),
        "Gi" => (30, 0),
        "Ti" => (40, 0),
        "Pi" => (50, 0),
        "Ei" => (60, 0),
        "n" => (0, -9),
        "u" => (0, -6),
        "m" => (0, -3),
        "k" => (0, 3),
        "M" => (0, 6),
        "G" => (0, 9),
        "T" => (0, 12),
        "P" => (0, 15),
        "E" => (0, 18),
        _ => {
            let exp = suffix.strip_prefix(['e', 'E']).ok_or_else(err)?;
            let exp: i32 = exp.parse().map_err(|_| err())?;
            if !(-30..=30).contains(&exp) {
                return Err(err());
            }
            (0, exp)
        }
    };
    // milli: one more factor of 10^3.
    let exp10 = dec + 3 - frac_digits;
    let mut num = mantissa.checked_mul(1i128 << bin).ok_or_else(err)?;
    let mut den: i128 = 1;
    if exp10 >= 0 {
        num = num.checked_mul(10i128.checked_pow(exp10 as u32).ok_or_else(err)?).ok_or_else(err)?;
    } else {
        den = 10i128.checked_pow((-exp10) as u32).ok_or_else(err)?;
    }
    let milli = (num + den - 1) / den;
    let milli = i64::try_from(milli).unwrap_or(i64::MAX);
    Ok(if negative { -milli } else { milli })
}

/// The value in units, rounded up (`1Ki` → 1024, `100m` → 1).
pub fn parse_value(s: &str) -> Result<i64, QuantityError> {
    let milli = parse_milli(s)?;
    Ok(if milli >= 0 { milli / 1000 + i64::from(milli % 1000 != 0) } else { milli / 1000 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_upstream_forms() {
        assert_eq!(parse_milli("100m"), Ok(100));
        assert_eq!(parse_milli("1"), Ok(1000));
        assert_eq!(parse_milli("1.5"), Ok(1500));
        assert_eq!(parse_milli("0.0001"), Ok(1));
        assert_eq!(parse_milli("2e3"), Ok(2_000_000));
        assert_eq!(parse_value("1Ki"), Ok(1024));
        assert_eq!(parse_value("1.5Gi"), Ok(1_610_612_736));
        assert_eq!(parse_value("128M"), Ok(128_000_000));
        assert_eq!(parse_value("100m"), Ok(1));
        assert_eq!(parse_value("110"), Ok(110));
        assert_eq!(parse_milli("-1"), Ok(-1000));
    }

    #[test]
    fn rejects_malformed() {
        for bad in ["", "abc", "1.2.3", "1Qi", "1e", "1e99", "Mi", "."] {
            assert!(parse_milli(bad).is_err(), "{bad}");
        }
    }
}
