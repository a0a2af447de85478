//! The canonical JSON that Notary signs: `github.com/docker/go/canonical/json`'s
//! `MarshalCanonical` of the `signed` object after decoding it into a generic value
//! (notary's `VerifySignatures`).
//!
//! Its rules, read from that package: object keys sorted by their bytes; no whitespace; in strings
//! only `"` and `\` are escaped (every other byte, control characters included, is written as
//! is); a number must be integral and is written as a 64-bit integer (Go decodes it to a float64
//! first, so integers beyond 2^53 lose precision there too). The `olpc-cjson` crate differs on
//! two points, so it is not used: it normalises strings to NFC, and it sorts keys by their
//! escaped, quoted form (`"ab!"` before `"ab"`), where Go sorts `ab` before `ab!`.

use anyhow::{bail, Result};
use serde_json::Value;

/// The canonical bytes of `value`.
pub fn encode(value: &Value) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    write(value, &mut out)?;
    Ok(out)
}

fn write(value: &Value, out: &mut Vec<u8>) -> Result<()> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Number(n) => {
            let f = n.as_f64().unwrap_or(f64::NAN);
            if !f.is_finite() || f.floor() != f {
                bail!("canonical JSON has no non-integral numbers (found {n})");
            }
            // As Go does: the float64 the decoder made, converted to int64.
            out.extend_from_slice((f as i64).to_string().as_bytes());
        }
        Value::String(s) => string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write(item, out)?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
            out.push(b'{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                string(k, out);
                out.push(b':');
                write(&map[k], out)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

fn string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    for b in s.bytes() {
        if b == b'"' || b == b'\\' {
            out.push(b'\\');
        }
        out.push(b);
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn enc(v: Value) -> String {
        String::from_utf8(encode(&v).unwrap()).unwrap()
    }

    #[test]
    fn keys_sort_by_bytes_and_whitespace_goes() {
        assert_eq!(enc(json!({"b": 1, "a": [true, null], "A": "x"})), r#"{"A":"x","a":[true,null],"b":1}"#);
        // A key that is a prefix of another comes first, whatever follows it.
        assert_eq!(enc(json!({"ab!": 1, "ab": 2})), r#"{"ab":2,"ab!":1}"#);
    }

    #[test]
    fn only_quote_and_backslash_are_escaped() {
        assert_eq!(enc(json!("a\"b\\c")), r#""a\"b\\c""#);
        // Control characters, `<`, `/` and non-ASCII stay as they are (no \n, no \u003c).
        assert_eq!(enc(json!("l1\nl2\t<&>/é")).as_bytes(), "\"l1\nl2\t<&>/é\"".as_bytes());
        // No Unicode normalisation: a decomposed é stays decomposed.
        assert_eq!(enc(json!("e\u{301}")), "\"e\u{301}\"");
    }

    #[test]
    fn numbers_are_integers_or_refused() {
        assert_eq!(enc(json!({"length": 1234, "version": 3})), r#"{"length":1234,"version":3}"#);
        assert_eq!(enc(serde_json::from_str("1.0").unwrap()), "1", "Go takes an integral float");
        assert_eq!(enc(serde_json::from_str("1e3").unwrap()), "1000");
        assert!(encode(&serde_json::from_str("1.5").unwrap()).is_err());
    }

    #[test]
    fn a_notary_key_id_is_the_sha256_of_its_canonical_public_form() {
        // The shape notary's TUFKey.ID() hashes: keytype, then keyval with a null private part.
        let key = json!({"keytype": "ecdsa", "keyval": {"public": "AQID", "private": null}});
        assert_eq!(enc(key), r#"{"keytype":"ecdsa","keyval":{"private":null,"public":"AQID"}}"#);
    }
}
