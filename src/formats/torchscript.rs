//! TorchScript archives (`torch.jit.save`, .pt/.jit): a zip whose `<archive>/data.pkl`
//! pickles the scripted module, instances of `__torch__.*` classes whose attributes are
//! its submodules, parameters and buffers, and whose `<archive>/constants.pkl` pickles
//! the tuple of tensor constants the code refers to. Storages are the records
//! `<archive>/data/<key>` and `<archive>/constants/<key>`.
//!
//! Both pickles are read with the restricted unpickler in TorchScript mode
//! ([`super::pickle::load_torchscript`]): a `__torch__` class is only a name, each
//! instance a plain dict of the attributes its pickle sets; the scripted code (`code/`)
//! is never read, and nothing is executed. Tensors are named by their attribute path
//! (`_model.encoder.0.reparam_conv.weight`, as the module's state_dict names them) and
//! constants `constants.<index>`.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{Cursor, Read};

use super::index::{zip_kind, ZipKind};
use super::model::{Format, Model};
use super::pickle::{self, Heap, Id, Obj, StorageRef};
use super::pytorch::{materialize, walk, StorageBytes};
use crate::error::{Error, Result};

/// Attribute names every nn.Module carries; as metadata they would only repeat.
const MODULE_FLAGS: [&str; 2] = ["training", "_is_full_backward_hook"];

pub fn read(bytes: &[u8], name: &str) -> Result<Model> {
    let ZipKind::Torchscript(prefix) = zip_kind(bytes, name)? else {
        return Err(Error::Torchscript(format!(
            "`{name}` is not a TorchScript archive (no data.pkl beside a constants.pkl or code/)"
        )));
    };
    let zerr = |reason: String| Error::Zip {
        name: name.to_string(),
        reason,
    };
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| zerr(e.to_string()))?;
    let mut member = |path: &str| -> Result<Option<Vec<u8>>> {
        let mut entry = match zip.by_name(path) {
            Ok(e) => e,
            Err(zip::result::ZipError::FileNotFound) => return Ok(None),
            Err(e) => return Err(zerr(format!("record `{path}`: {e}"))),
        };
        // torch stores records uncompressed; a compressed one may claim any size, so
        // cap it by what deflate can reach from this archive (about 1032:1).
        let declared = entry.size();
        if declared > (bytes.len() as u64).saturating_mul(1100) {
            return Err(zerr(format!(
                "record `{path}` claims {declared} bytes, more than a {}-byte archive can hold",
                bytes.len()
            )));
        }
        let mut raw = Vec::with_capacity(declared as usize);
        entry
            .by_ref()
            .take(declared)
            .read_to_end(&mut raw)
            .map_err(|e| zerr(format!("record `{path}`: {e}")))?;
        Ok(Some(raw))
    };
    let big_endian = match member(&format!("{prefix}byteorder"))?.as_deref() {
        None | Some(b"little") => false,
        Some(b"big") => true,
        Some(b) => {
            return Err(Error::Torchscript(format!(
                "byteorder record says `{}`; expected `little` or `big`",
                String::from_utf8_lossy(b)
            )))
        }
    };
    let mut metadata = BTreeMap::new();
    if let Some(v) = member(&format!("{prefix}version"))? {
        metadata.insert(
            "version".into(),
            String::from_utf8_lossy(&v).trim().to_string(),
        );
    }
    let mut tensors = Vec::new();
    for (pkl, folder, root_name) in [
        ("data.pkl", "data", ""),
        ("constants.pkl", "constants", "constants"),
    ] {
        let Some(raw) = member(&format!("{prefix}{pkl}"))? else {
            if pkl == "data.pkl" {
                unreachable!("zip_kind found data.pkl");
            }
            continue;
        };
        let mut storages: Vec<StorageRef> = Vec::new();
        let (heap, root, _) = pickle::load_torchscript(&raw, &mut |heap: &Heap, pid: Id| {
            let s = pickle::storage_from_pid(heap, pid)?;
            storages.push(s.clone());
            Ok(Obj::Storage(s))
        })
        .map_err(|e| Error::Torchscript(format!("{pkl}: {e}")))?;
        let mut by_key = HashMap::new();
        for s in &storages {
            if by_key.contains_key(&s.key) {
                continue;
            }
            let path = format!("{prefix}{folder}/{}", s.key);
            let raw = member(&path)?.ok_or_else(|| {
                Error::Torchscript(format!(
                    "{pkl}: storage `{}` is missing: the archive has no record `{path}`",
                    s.key
                ))
            })?;
            by_key.insert(s.key.clone(), Cow::Owned(raw));
        }
        let data = StorageBytes { by_key, big_endian };
        collect(
            &heap,
            root,
            root_name,
            &data,
            bytes.len(),
            &mut tensors,
            &mut metadata,
        )?;
    }
    if tensors.is_empty() {
        return Err(Error::Torchscript(format!(
            "`{name}` holds no tensors in its data.pkl or constants.pkl"
        )));
    }
    Ok(Model::new(Format::Torchscript, tensors, metadata))
}

/// Every tensor reachable from `root`, named by its path under `prefix`; scalar
/// attributes (other than every module's flags) become metadata.
fn collect(
    heap: &Heap,
    root: Id,
    prefix: &str,
    data: &StorageBytes,
    file_len: usize,
    tensors: &mut Vec<crate::tensor::Tensor>,
    metadata: &mut BTreeMap<String, String>,
) -> Result<()> {
    let mut seen = HashSet::new();
    walk(
        heap,
        root,
        prefix.to_string(),
        0,
        &mut seen,
        &mut |path, id| {
            let leaf = path.rsplit('.').next().unwrap_or(&path);
            let flag = MODULE_FLAGS.contains(&leaf);
            match heap.get(id) {
                Obj::Tensor(_) => tensors.push(materialize(heap, id, path, data, file_len)?),
                Obj::Int(i) if !flag => {
                    metadata.insert(path, i.to_string());
                }
                Obj::Float(f) if !flag => {
                    metadata.insert(path, f.to_string());
                }
                Obj::Bool(b) if !flag => {
                    metadata.insert(path, b.to_string());
                }
                Obj::Str(s) if !flag && s.len() <= 256 => {
                    metadata.insert(path, s.clone());
                }
                _ => {}
            }
            Ok(())
        },
    )
}
