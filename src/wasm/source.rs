//! A browser `File` (or any JavaScript reader) as a [`ByteSource`].

use std::borrow::Cow;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::formats::source::ByteSource;

/// A file's name and its bytes, as the opener takes them.
type NamedSource = (String, Box<dyn ByteSource>);

/// A file the page reads in slices: `read(offset, length)` returns a Uint8Array of
/// exactly `length` bytes (the worker reads a `File` with FileReaderSync).
struct JsSource {
    name: String,
    len: u64,
    read: js_sys::Function,
}

impl ByteSource for JsSource {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_at(&self, offset: u64, len: usize) -> crate::Result<Cow<'_, [u8]>> {
        let fail = |why: String| {
            crate::Error::Invalid(format!(
                "{}: reading {len} bytes at offset {offset}: {why}",
                self.name
            ))
        };
        let got = self
            .read
            .call2(
                &JsValue::NULL,
                &JsValue::from_f64(offset as f64),
                &JsValue::from_f64(len as f64),
            )
            .map_err(|e| fail(js_message(&e)))?;
        let bytes = got
            .dyn_into::<js_sys::Uint8Array>()
            .map_err(|_| fail("the reader did not return a Uint8Array".into()))?;
        if bytes.length() as usize != len {
            return Err(fail(format!(
                "the reader returned {} bytes",
                bytes.length()
            )));
        }
        Ok(Cow::Owned(bytes.to_vec()))
    }
}

fn js_message(e: &JsValue) -> String {
    e.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| "failed".into())
}

/// The sources of `files`, an array of `{ name, size, read(offset, length) }` where
/// `read` returns exactly `length` bytes as a Uint8Array.
pub(super) fn sources(files: js_sys::Array) -> Result<Vec<NamedSource>, JsError> {
    let field = |f: &JsValue, key: &str| {
        js_sys::Reflect::get(f, &JsValue::from_str(key))
            .map_err(|_| JsError::new(&format!("file entry has no `{key}`")))
    };
    let mut sources: Vec<NamedSource> = Vec::new();
    for f in files.iter() {
        let name = field(&f, "name")?
            .as_string()
            .ok_or_else(|| JsError::new("file entry: `name` is not a string"))?;
        let size = field(&f, "size")?
            .as_f64()
            .filter(|s| *s >= 0.0 && s.fract() == 0.0)
            .ok_or_else(|| JsError::new(&format!("{name}: `size` is not a byte count")))?;
        let read = field(&f, "read")?
            .dyn_into::<js_sys::Function>()
            .map_err(|_| JsError::new(&format!("{name}: `read` is not a function")))?;
        sources.push((
            name.clone(),
            Box::new(JsSource {
                name,
                len: size as u64,
                read,
            }),
        ));
    }
    Ok(sources)
}
