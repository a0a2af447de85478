//! The `docker save` archive format (manifest.json, one config JSON per image, one tar per layer),
//! which `docker load` and `podman load` both read. Several images go in one archive and a layer
//! they share is stored once; both engines then keep that layer once as well.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    /// `sha256:<hex>` of the uncompressed layer tar.
    pub diff_id: String,
    pub path: PathBuf,
    /// What made the layer, shown by `<engine> history`.
    pub created_by: String,
}

#[derive(Debug, Clone)]
pub struct Image {
    pub reference: String,
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub layers: Vec<Layer>,
}

fn hex_of(diff_id: &str) -> Result<&str> {
    match diff_id.strip_prefix("sha256:") {
        Some(h) if h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) => Ok(h),
        _ => bail!("not a sha256 digest: {diff_id}"),
    }
}

/// `created` is fixed (SOURCE_DATE_EPOCH) so that the same layers and command give the same
/// image ID on every machine.
pub fn config(image: &Image, created: &str) -> Value {
    json!({
        "architecture": "amd64",
        "os": "linux",
        "created": created,
        "config": { "Cmd": image.cmd, "Env": image.env },
        "rootfs": { "type": "layers", "diff_ids": image.layers.iter().map(|l| &l.diff_id).collect::<Vec<_>>() },
        "history": image.layers.iter().map(|l| json!({ "created": created, "created_by": l.created_by })).collect::<Vec<_>>(),
    })
}

/// The archive's member name for a layer.
pub fn layer_member(diff_id: &str) -> Result<String> {
    Ok(format!("{}/layer.tar", hex_of(diff_id)?))
}

/// Config bytes and their member name (the image ID's hex).
pub fn config_member(image: &Image, created: &str) -> Result<(String, Vec<u8>)> {
    let bytes = serde_json::to_vec(&config(image, created))?;
    Ok((format!("{}.json", crate::util::hex(&Sha256::digest(&bytes))), bytes))
}

pub fn manifest(images: &[Image], created: &str) -> Result<Value> {
    let mut entries = Vec::new();
    for image in images {
        let layers = image.layers.iter().map(|l| layer_member(&l.diff_id)).collect::<Result<Vec<_>>>()?;
        entries.push(json!({
            "Config": config_member(image, created)?.0,
            "RepoTags": [image.reference],
            "Layers": layers,
        }));
    }
    Ok(Value::Array(entries))
}

/// Writes the archive for `images` to `out`.
pub fn write(out: &Path, images: &[Image], created: &str, epoch: u64) -> Result<()> {
    let file = File::create(out).with_context(|| format!("creating {}", out.display()))?;
    let mut tar = tar::Builder::new(BufWriter::with_capacity(1 << 20, file));
    let add = |tar: &mut tar::Builder<_>, name: &str, size: u64, data: &mut dyn std::io::Read| -> Result<()> {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(0o644);
        h.set_mtime(epoch);
        h.set_size(size);
        tar.append_data(&mut h, name, data).with_context(|| format!("writing {name} into {}", out.display()))
    };
    let manifest = serde_json::to_vec(&manifest(images, created)?)?;
    add(&mut tar, "manifest.json", manifest.len() as u64, &mut manifest.as_slice())?;
    let mut written = BTreeSet::new();
    for image in images {
        let (name, bytes) = config_member(image, created)?;
        if written.insert(name.clone()) {
            add(&mut tar, &name, bytes.len() as u64, &mut bytes.as_slice())?;
        }
        for layer in &image.layers {
            let name = layer_member(&layer.diff_id)?;
            if !written.insert(name.clone()) {
                continue;
            }
            let mut f = File::open(&layer.path).with_context(|| format!("opening {}", layer.path.display()))?;
            let size = f.metadata()?.len();
            add(&mut tar, &name, size, &mut f)?;
        }
    }
    tar.into_inner().context("finishing the image archive")?.flush().context("writing the image archive")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CREATED: &str = "2023-11-14T22:13:20Z";

    fn digest(c: char) -> String {
        format!("sha256:{}", c.to_string().repeat(64))
    }

    fn image(name: &str, top: char, dir: &Path) -> Image {
        Image {
            reference: format!("localhost/trust-sandbox/{name}:0123456789ab"),
            cmd: vec![name.into(), "--help".into()],
            env: vec!["PATH=/usr/bin:/bin".into()],
            layers: vec![
                Layer { diff_id: digest('a'), path: dir.join("base.tar"), created_by: "base".into() },
                Layer { diff_id: digest(top), path: dir.join(format!("{name}.tar")), created_by: name.into() },
            ],
        }
    }

    #[test]
    fn config_names_layers_in_order_with_command_and_history() {
        let c = config(&image("notary", 'b', Path::new("/x")), CREATED);
        assert_eq!(c["rootfs"]["type"], "layers");
        assert_eq!(c["rootfs"]["diff_ids"], json!([digest('a'), digest('b')]));
        assert_eq!(c["config"]["Cmd"], json!(["notary", "--help"]));
        assert_eq!(c["config"]["Env"], json!(["PATH=/usr/bin:/bin"]));
        assert_eq!(c["history"].as_array().unwrap().len(), 2);
        assert_eq!(c["history"][1]["created_by"], "notary");
        assert_eq!((c["os"].as_str(), c["architecture"].as_str()), (Some("linux"), Some("amd64")));
    }

    #[test]
    fn manifest_tags_each_image_and_points_at_its_config_and_layers() {
        let imgs = [image("notary", 'b', Path::new("/x")), image("db", 'c', Path::new("/x"))];
        let m = manifest(&imgs, CREATED).unwrap();
        assert_eq!(m[0]["RepoTags"], json!(["localhost/trust-sandbox/notary:0123456789ab"]));
        assert_eq!(
            m[1]["Layers"],
            json!([format!("{}/layer.tar", "a".repeat(64)), format!("{}/layer.tar", "c".repeat(64))])
        );
        let cfg = m[0]["Config"].as_str().unwrap();
        assert_eq!(cfg.len(), 64 + ".json".len());
        assert_ne!(m[0]["Config"], m[1]["Config"]);
    }

    #[test]
    fn the_config_name_is_the_digest_of_its_bytes() {
        let img = image("notary", 'b', Path::new("/x"));
        let (name, bytes) = config_member(&img, CREATED).unwrap();
        assert_eq!(name, format!("{}.json", crate::util::hex(&Sha256::digest(&bytes))));
        assert_eq!(config_member(&img, CREATED).unwrap().1, bytes, "stable across calls");
    }

    #[test]
    fn a_shared_layer_is_stored_once() {
        let dir = tempfile::tempdir().unwrap();
        for f in ["base.tar", "notary.tar", "db.tar"] {
            std::fs::write(dir.path().join(f), f).unwrap();
        }
        let imgs = [image("notary", 'b', dir.path()), image("db", 'c', dir.path())];
        let out = dir.path().join("out.tar");
        write(&out, &imgs, CREATED, 1_700_000_000).unwrap();
        let names = crate::images::layer::list(File::open(&out).unwrap()).unwrap();
        assert_eq!(names.iter().filter(|n| n.starts_with(&"a".repeat(64))).count(), 1, "{names:?}");
        assert_eq!(names.iter().filter(|n| n.ends_with("/layer.tar")).count(), 3);
        assert_eq!(names.iter().filter(|n| n.ends_with(".json")).count(), 3, "two configs and the manifest");
        assert_eq!(names[0], "manifest.json");
    }

    #[test]
    fn bad_digests_are_refused() {
        assert!(layer_member("sha256:xyz").is_err());
        assert!(layer_member(&"a".repeat(64)).is_err());
    }
}
