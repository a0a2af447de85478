//! Where the trust data comes from, in two engine calls: the trust database (the server's newest
//! stored file of each role, and the keys notary-signer holds for the repository), and one script
//! in the client (which identities exist, every private key file, one client's cached metadata,
//! and what a notary client says when it updates from nothing and from that cache). Building
//! the text and reading it back are pure, so both are unit-tested.

use anyhow::{bail, Context, Result};
use base64::Engine as _;

use super::view::{Check, Files, Holder, KeyHolding, RawFile};
use crate::sandbox::db;

/// Files larger than this are reported by length, not read: notary's own metadata is a few KiB,
/// and an attack that pads it (`endless-data`) should not fill a terminal or a report.
pub const MAX_FILE: u64 = 1 << 20;

/// What the server side holds for one repository.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ServerData {
    pub files: Files,
    pub signer_keys: Vec<KeyHolding>,
    /// Every repository with trust data, for the error that names what exists.
    pub repositories: Vec<String>,
}

/// The SQL for [`ServerData`]; `gun` was checked by [`super::gun`] (no quotes can occur in it).
pub fn server_sql(gun: &str) -> String {
    let (server, signer) = (db::SERVER_DB, db::SIGNER_DB);
    format!(
        "SELECT 'file', t.role, t.version, LENGTH(t.data), IF(LENGTH(t.data) <= {MAX_FILE}, HEX(t.data), '') \
         FROM {server}.tuf_files t WHERE t.gun = '{gun}' AND t.deleted_at IS NULL AND t.version = \
         (SELECT MAX(v.version) FROM {server}.tuf_files v WHERE v.gun = t.gun AND v.role = t.role AND v.deleted_at IS NULL);\n\
         SELECT 'key', key_id, role FROM {signer}.private_keys WHERE gun = '{gun}' AND deleted_at IS NULL;\n\
         SELECT DISTINCT 'gun', gun FROM {server}.tuf_files WHERE deleted_at IS NULL ORDER BY gun;\n"
    )
}

pub fn parse_server(stdout: &str) -> Result<ServerData> {
    let mut data = ServerData::default();
    for line in stdout.lines().filter(|l| !l.is_empty()) {
        let cols: Vec<&str> = line.split('\t').collect();
        match cols.as_slice() {
            ["file", role, version, length, hex] => {
                let bytes = decode_hex(hex).with_context(|| format!("the stored {role}.json"))?;
                let length = length.parse().with_context(|| format!("length of {role}.json: {length}"))?;
                let version = Some(version.parse().with_context(|| format!("version of {role}.json: {version}"))?);
                data.files.insert(role.to_string(), RawFile { bytes, length, version });
            }
            ["key", id, _role] => data.signer_keys.push(KeyHolding { key_id: id.to_string(), holder: Holder::Signer }),
            ["gun", gun] => data.repositories.push(gun.to_string()),
            _ => bail!("unexpected line from the trust database: {line}"),
        }
    }
    Ok(data)
}

fn decode_hex(hex: &str) -> Result<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        bail!("odd-length hex");
    }
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).context("not hex")).collect()
}

/// Runs in the client as `sh -c SCRIPT sh GUN SERVER CA BASE CACHE MAX VERIFY`: BASE is the
/// default client's trust directory (identities live under `BASE/identities/<name>/trust`),
/// CACHE the trust directory whose cache is read and, when VERIFY is 1, whose next update is
/// tried (on a copy, so the client's own cache is never changed).
pub const CLIENT_SCRIPT: &str = r#"gun=$1 server=$2 ca=$3 base=$4 cache=$5 max=$6 verify=$7
for d in "$base"/identities/*/trust; do [ -d "$d" ] || continue; n=${d%/trust}; printf '@@identity\t%s\n' "${n##*/}"; done
keys() {
  [ -d "$2/private" ] || return 0
  find "$2/private" -name '*.key' -type f | while IFS= read -r f; do n=${f##*/}; printf '@@key\t%s\t%s\n' "$1" "${n%.key}"; done
}
keys "" "$base"
for d in "$base"/identities/*/trust; do [ -d "$d" ] || continue; n=${d%/trust}; keys "${n##*/}" "$d"; done
m="$cache/tuf/$gun/metadata"
if [ -d "$m" ]; then
  find "$m" -name '*.json' -type f | while IFS= read -r f; do
    r=${f#"$m"/}; s=$(wc -c < "$f")
    printf '@@file\t%s\t%s\t' "${r%.json}" "$s"
    [ "$s" -gt "$max" ] || base64 -w0 < "$f"
    echo
  done
else
  echo '@@nocache'
fi
check() {
  t=$(mktemp -d)
  [ -z "$2" ] || { mkdir -p "$t/tuf/$gun" && cp -R "$2/tuf/$gun/." "$t/tuf/$gun/"; }
  o=$(timeout 60 notary -s "$server" -d "$t" --tlscacert "$ca" list "$gun" 2>&1); rc=$?
  rm -rf "$t"
  printf '@@check\t%s\t%s\t' "$1" "$rc"; printf '%s' "$o" | base64 -w0; echo
}
[ "$verify" = 1 ] || exit 0
check fresh ""
[ ! -d "$m" ] || check cache "$cache"
"#;

/// What the client side holds.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ClientData {
    pub identities: Vec<String>,
    pub holdings: Vec<KeyHolding>,
    /// None: that client has no cache of the repository.
    pub cache: Option<Files>,
    /// `fresh` (a first-time client) and `cache` (the cache's next update): exit code, output.
    pub checks: Vec<(String, i32, String)>,
}

pub fn parse_client(stdout: &str) -> Result<ClientData> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut data = ClientData::default();
    for line in stdout.lines().filter(|l| !l.is_empty()) {
        let cols: Vec<&str> = line.split('\t').collect();
        match cols.as_slice() {
            ["@@identity", name] => data.identities.push(name.to_string()),
            ["@@key", who, id] => {
                let identity = (!who.is_empty()).then(|| who.to_string());
                data.holdings.push(KeyHolding { key_id: id.to_string(), holder: Holder::Client { identity } });
            }
            ["@@nocache"] => data.cache = None,
            ["@@file", role, size, content] => {
                let bytes = b64.decode(content).with_context(|| format!("the cached {role}.json"))?;
                let length = size.trim().parse().with_context(|| format!("size of the cached {role}.json"))?;
                data.cache
                    .get_or_insert_with(Files::new)
                    .insert(role.to_string(), RawFile { bytes, length, version: None });
            }
            ["@@check", who, rc, output] => {
                let output = String::from_utf8_lossy(&b64.decode(output).unwrap_or_default()).into_owned();
                data.checks.push((who.to_string(), rc.parse().unwrap_or(-1), output));
            }
            _ => bail!("unexpected line from the client: {line}"),
        }
    }
    Ok(data)
}

/// A notary client's verdict as one line: what it listed, or its last word when it refused.
pub fn check(who: &str, code: i32, output: &str) -> Check {
    let lines: Vec<&str> = output.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    if code == 0 {
        // `notary list` prints a header, a rule and one line per tag, or says there are none.
        let tags = lines.iter().skip_while(|l| !l.starts_with("----")).skip(1).count();
        let message = if tags == 0 && lines.iter().any(|l| l.starts_with("No targets")) {
            "no signed tags".to_string()
        } else {
            format!("{tags} signed tag(s)")
        };
        return Check { who: who.into(), ok: true, message };
    }
    let last = lines.last().copied().unwrap_or("no output");
    let message = last.trim_start_matches("* fatal: ").to_string();
    Check { who: who.into(), ok: false, message }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sql_reads_the_newest_live_row_of_each_role_and_the_signers_keys() {
        let sql = server_sql("sandboxregistry:5000/test/x");
        assert!(sql.contains("FROM notaryserver.tuf_files t WHERE t.gun = 'sandboxregistry:5000/test/x'"), "{sql}");
        assert!(sql.contains("MAX(v.version)") && sql.contains("deleted_at IS NULL"), "{sql}");
        assert!(sql.contains("FROM notarysigner.private_keys WHERE gun = 'sandboxregistry:5000/test/x'"), "{sql}");
        assert!(sql.contains(&format!("LENGTH(t.data) <= {MAX_FILE}, HEX(t.data)")), "{sql}");
    }

    #[test]
    fn server_rows_become_files_and_signer_keys() {
        let out = "file\troot\t2\t2\t7B7D\nfile\ttargets\t5\t20000000\t\nkey\tabc\ttimestamp\ngun\ta/b\ngun\tc/d\n";
        let d = parse_server(out).unwrap();
        assert_eq!(d.files["root"], RawFile { bytes: b"{}".to_vec(), length: 2, version: Some(2) });
        assert_eq!(d.files["targets"].bytes.len(), 0, "too large: not fetched");
        assert_eq!(d.files["targets"].length, 20_000_000);
        assert_eq!(d.signer_keys, [KeyHolding { key_id: "abc".into(), holder: Holder::Signer }]);
        assert_eq!(d.repositories, ["a/b", "c/d"]);
        assert!(parse_server("something else\n").is_err());
        assert!(parse_server("file\troot\t1\t1\tZZ\n").is_err());
    }

    #[test]
    fn client_lines_become_identities_keys_cache_and_checks() {
        let b64 = base64::engine::general_purpose::STANDARD;
        let out = format!(
            "@@identity\talice\n@@key\t\tk1\n@@key\talice\tk2\n@@file\troot\t2\t{}\n@@file\ttargets/releases\t2\t{}\n@@check\tfresh\t0\t{}\n@@check\tcache\t1\t{}\n",
            b64.encode("{}"),
            b64.encode("[]"),
            b64.encode("NAME DIGEST SIZE (BYTES) ROLE\n---- ------\nlatest abc 523 targets\n"),
            b64.encode("* fatal: could not rotate trust to a new trusted root\n"),
        );
        let d = parse_client(&out).unwrap();
        assert_eq!(d.identities, ["alice"]);
        assert_eq!(d.holdings[0].holder, Holder::Client { identity: None });
        assert_eq!(d.holdings[1].holder, Holder::Client { identity: Some("alice".into()) });
        let cache = d.cache.unwrap();
        assert_eq!(cache.keys().collect::<Vec<_>>(), ["root", "targets/releases"]);
        let (who, code, output) = &d.checks[0];
        assert_eq!(check(who, *code, output).message, "1 signed tag(s)");
        let (who, code, output) = &d.checks[1];
        let c = check(who, *code, output);
        assert!(!c.ok);
        assert_eq!(c.message, "could not rotate trust to a new trusted root");
        assert!(parse_client("@@nocache\n").unwrap().cache.is_none());
    }

    #[test]
    fn the_client_script_is_valid_sh() {
        let status = std::process::Command::new("sh").args(["-n", "-c", CLIENT_SCRIPT]).status().unwrap();
        assert!(status.success());
    }
}
