//! Resource quantities (`k8s.io/apimachinery/pkg/api/resource`): syntax check and an
//! approximate numeric value for comparisons (requests against limits, signs).

/// Upstream's `ErrFormatWrong`.
pub const FORMAT_ERROR: &str =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
const SUFFIX_ERROR: &str = "unable to parse quantity's suffix";

/// Parses a quantity into its value (in base units, e.g. cores or bytes).
pub fn parse(s: &str) -> Result<f64, &'static str> {
    let s = s.trim();
    let (sign, rest) = match s.as_bytes().first() {
        Some(b'-') => (-1.0, &s[1..]),
        Some(b'+') => (1.0, &s[1..]),
        _ => (1.0, s),
    };
    let num_len = rest.bytes().take_while(|c| c.is_ascii_digit() || *c == b'.').count();
    let (num, suffix) = rest.split_at(num_len);
    if num.is_empty() || !num.bytes().any(|c| c.is_ascii_digit()) || num.matches('.').count() > 1 {
        return Err(FORMAT_ERROR);
    }
    let number: f64 = num.parse().map_err(|_| FORMAT_ERROR)?;
    let suffix_shape_ok = {
        let letters = suffix.bytes().take_while(|c| b"eEinumkKMGTP".contains(c)).count();
        let tail = &suffix[letters..];
        let tail = tail.strip_prefix(['+', '-']).unwrap_or(tail);
        tail.bytes().all(|c| c.is_ascii_digit())
    };
    if !suffix_shape_ok {
        return Err(FORMAT_ERROR);
    }
    let multiplier = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        exp if exp.starts_with(['e', 'E']) => {
            let e: i32 = exp[1..].parse().map_err(|_| SUFFIX_ERROR)?;
            10f64.powi(e)
        }
        _ => return Err(SUFFIX_ERROR),
    };
    Ok(sign * number * multiplier)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_upstream_forms() {
        assert_eq!(parse("100m"), Ok(0.1));
        assert_eq!(parse("1Gi"), Ok(1073741824.0));
        assert_eq!(parse("1e3"), Ok(1000.0));
        assert_eq!(parse("-2"), Ok(-2.0));
        assert_eq!(parse("0.5"), Ok(0.5));
        assert_eq!(parse("abc"), Err(FORMAT_ERROR));
        assert_eq!(parse("1K"), Err(SUFFIX_ERROR));
        assert_eq!(parse("1 Gi"), Err(FORMAT_ERROR));
        assert_eq!(parse(""), Err(FORMAT_ERROR));
    }
}
