//! A restricted pickle reader for PyTorch checkpoints: it builds values, never runs code.
//!
//! Written by hand because no crate fits: `serde-pickle` (1.2) has no hook for
//! persistent ids (how torch.save refers to tensor storages) and resolves globals only by
//! replacing them with a placeholder, so it cannot rebuild tensors; the other pickle
//! crates on crates.io are unmaintained or execute nothing we can restrict. The machine
//! below knows the opcodes of protocols 0 to 5 that data (not code) needs, a short list
//! of allowed globals (torch's tensor rebuild functions, its storage classes,
//! `collections.OrderedDict`), and refuses every other global by name the moment the
//! pickle names it, before anything could be called.
//!
//! Objects live in an arena and the stack, memo and containers hold indices into it, so
//! a memoized container mutated later (as pickle does with SETITEMS after BINPUT) is
//! seen the same way Python sees it. Every object is made by an opcode that consumed at
//! least one input byte, and every length read from the input is checked against the
//! bytes that remain before anything is allocated for it.

use crate::error::{Error, Result};
use crate::tensor::DType;

/// Index of an object in a [`Heap`].
pub type Id = usize;

/// A value the unpickler can build.
#[derive(Clone, Debug, PartialEq)]
pub enum Obj {
    None,
    Bool(bool),
    Int(i64),
    /// An integer too wide for i64, as little-endian two's-complement bytes.
    BigInt(Vec<u8>),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    List(Vec<Id>),
    Tuple(Vec<Id>),
    /// dict and OrderedDict, in insertion order.
    Dict(Vec<(Id, Id)>),
    /// One of the allowed globals.
    Global(Allowed),
    /// A tensor storage named by a persistent id.
    Storage(StorageRef),
    /// A tensor rebuilt by `torch._utils._rebuild_tensor_v2` (or v1).
    Tensor(TensorRef),
    /// A TorchScript class named by a `__torch__.*` global (TorchScript mode only): it can
    /// only be instantiated as a plain object, a dict of its attributes.
    Class(String),
}

/// The globals a checkpoint may name. Anything else is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Allowed {
    OrderedDict,
    RebuildTensorV2,
    RebuildTensor,
    RebuildParameter,
    /// `torch.FloatStorage` and friends, with the element type they hold.
    StorageClass(DType),
    /// TorchScript's `torch.jit._pickle.restore_type_tag(value, type)`: the value.
    RestoreTypeTag,
    /// TorchScript's legacy `torch.jit._pickle.build_{int,double,bool,tensor}list(list)`.
    BuildList,
    /// `torch.device(name)`, a module attribute in TorchScript: kept as its name.
    Device,
}

impl Allowed {
    fn lookup(module: &str, name: &str) -> Option<Allowed> {
        Some(match (module, name) {
            ("collections", "OrderedDict") => Allowed::OrderedDict,
            ("torch._utils", "_rebuild_tensor_v2") => Allowed::RebuildTensorV2,
            ("torch._utils", "_rebuild_tensor") => Allowed::RebuildTensor,
            ("torch._utils", "_rebuild_parameter") => Allowed::RebuildParameter,
            ("torch", storage) => Allowed::StorageClass(storage_dtype(storage)?),
            _ => return None,
        })
    }
}

/// The element type of a legacy typed-storage class name.
fn storage_dtype(name: &str) -> Option<DType> {
    Some(match name {
        "DoubleStorage" => DType::F64,
        "FloatStorage" => DType::F32,
        "HalfStorage" => DType::F16,
        "BFloat16Storage" => DType::BF16,
        "LongStorage" => DType::I64,
        "IntStorage" => DType::I32,
        "ShortStorage" => DType::I16,
        "CharStorage" => DType::I8,
        "ByteStorage" => DType::U8,
        "BoolStorage" => DType::Bool,
        _ => return None,
    })
}

/// A storage as a persistent id describes it: which record holds its bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct StorageRef {
    pub key: String,
    pub dtype: DType,
    /// Elements the pickle says the storage holds.
    pub numel: u64,
    /// Elements to skip: legacy checkpoints can refer to a view into another storage.
    pub view_offset: u64,
}

/// A tensor's view of its storage, in elements.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorRef {
    pub storage: Id,
    pub offset: u64,
    pub size: Vec<u64>,
    pub stride: Vec<u64>,
}

/// Every object an unpickling made.
#[derive(Debug, Default)]
pub struct Heap {
    objs: Vec<Obj>,
}

impl Heap {
    pub fn get(&self, id: Id) -> &Obj {
        &self.objs[id]
    }

    fn add(&mut self, o: Obj) -> Id {
        self.objs.push(o);
        self.objs.len() - 1
    }

    fn int(&self, id: Id, what: &str) -> Result<i64> {
        match self.get(id) {
            Obj::Int(i) => Ok(*i),
            Obj::Bool(b) => Ok(*b as i64),
            other => Err(bad(format!(
                "{what} should be an integer, found {}",
                kind(other)
            ))),
        }
    }

    fn uint(&self, id: Id, what: &str) -> Result<u64> {
        let i = self.int(id, what)?;
        u64::try_from(i).map_err(|_| bad(format!("{what} is negative ({i})")))
    }

    fn uints(&self, id: Id, what: &str) -> Result<Vec<u64>> {
        match self.get(id) {
            Obj::Tuple(v) | Obj::List(v) => v.iter().map(|&i| self.uint(i, what)).collect(),
            other => Err(bad(format!(
                "{what} should be a tuple, found {}",
                kind(other)
            ))),
        }
    }

    pub fn str(&self, id: Id) -> Option<&str> {
        match self.get(id) {
            Obj::Str(s) => Some(s),
            Obj::Bytes(b) => std::str::from_utf8(b).ok(),
            _ => None,
        }
    }
}

/// What a value is, for messages.
pub fn kind(o: &Obj) -> &'static str {
    match o {
        Obj::None => "None",
        Obj::Bool(_) => "a bool",
        Obj::Int(_) | Obj::BigInt(_) => "an int",
        Obj::Float(_) => "a float",
        Obj::Str(_) => "a str",
        Obj::Bytes(_) => "bytes",
        Obj::List(_) => "a list",
        Obj::Tuple(_) => "a tuple",
        Obj::Dict(_) => "a dict",
        Obj::Global(_) => "a global",
        Obj::Storage(_) => "a storage",
        Obj::Tensor(_) => "a tensor",
        Obj::Class(_) => "a class",
    }
}

fn bad(reason: String) -> Error {
    Error::Pickle(reason)
}

/// Turns a persistent id (already built as an object) into the object it stands for.
pub type PersistentLoad<'a> = dyn FnMut(&Heap, Id) -> Result<Obj> + 'a;

/// Unpickles one pickle from the start of `input`. Returns the objects, the root, and
/// how many bytes the pickle took (a legacy checkpoint is several pickles in a row).
pub fn load(input: &[u8], persistent_load: &mut PersistentLoad) -> Result<(Heap, Id, usize)> {
    run(input, persistent_load, false)
}

/// [`load`] for a TorchScript archive's data.pkl and constants.pkl: `__torch__.*`
/// classes (the scripted modules) are also allowed, each instance built as a plain dict
/// of the attributes its BUILD sets (nothing of the class is looked up or run), plus the
/// `torch.jit._pickle` helpers that tag container types.
pub fn load_torchscript(
    input: &[u8],
    persistent_load: &mut PersistentLoad,
) -> Result<(Heap, Id, usize)> {
    run(input, persistent_load, true)
}

fn run(
    input: &[u8],
    persistent_load: &mut PersistentLoad,
    torchscript: bool,
) -> Result<(Heap, Id, usize)> {
    let mut m = Machine {
        input,
        pos: 0,
        heap: Heap::default(),
        stack: Vec::new(),
        marks: Vec::new(),
        memo: std::collections::HashMap::new(),
        torchscript,
        objects: std::collections::HashSet::new(),
    };
    let root = m.run(persistent_load)?;
    Ok((m.heap, root, m.pos))
}

struct Machine<'a> {
    input: &'a [u8],
    pos: usize,
    heap: Heap,
    stack: Vec<Id>,
    marks: Vec<usize>,
    memo: std::collections::HashMap<u64, Id>,
    /// TorchScript mode: `__torch__` classes allowed.
    torchscript: bool,
    /// Dicts that stand for instances of `__torch__` classes (their BUILD state is
    /// their attributes).
    objects: std::collections::HashSet<Id>,
}

impl<'a> Machine<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.input.len());
        let Some(end) = end else {
            return Err(bad(format!(
                "truncated: an opcode at byte {} needs {n} more bytes, {} remain",
                self.pos,
                self.input.len() - self.pos
            )));
        };
        let s = &self.input[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_le_bytes(self.take(2)?.try_into().expect("2")))
    }

    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4")))
    }

    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().expect("8")))
    }

    /// A length field followed by that many bytes; the length is checked against what
    /// remains before the slice is taken (no allocation on a lying length).
    fn sized(&mut self, len: u64) -> Result<&'a [u8]> {
        let n = usize::try_from(len).map_err(|_| bad(format!("length {len} is absurd")))?;
        self.take(n)
    }

    fn line(&mut self) -> Result<&'a str> {
        let rest = &self.input[self.pos..];
        let n = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| bad("truncated: a text argument has no end of line".into()))?;
        let s = std::str::from_utf8(&rest[..n])
            .map_err(|_| bad(format!("text argument at byte {} is not UTF-8", self.pos)))?;
        self.pos += n + 1;
        Ok(s)
    }

    fn push(&mut self, o: Obj) {
        let id = self.heap.add(o);
        self.stack.push(id);
    }

    fn pop(&mut self) -> Result<Id> {
        if self.marks.last().is_some_and(|&m| m >= self.stack.len()) {
            return Err(bad("an opcode pops past a MARK".into()));
        }
        self.stack
            .pop()
            .ok_or_else(|| bad("an opcode pops from an empty stack".into()))
    }

    fn top(&self) -> Result<Id> {
        self.stack
            .last()
            .copied()
            .ok_or_else(|| bad("an opcode needs a value on an empty stack".into()))
    }

    fn pop_mark(&mut self) -> Result<Vec<Id>> {
        let m = self
            .marks
            .pop()
            .ok_or_else(|| bad("an opcode needs a MARK that is not there".into()))?;
        Ok(self.stack.split_off(m))
    }

    fn memo_get(&mut self, key: u64) -> Result<()> {
        let id = *self
            .memo
            .get(&key)
            .ok_or_else(|| bad(format!("memo entry {key} is read before it is written")))?;
        self.stack.push(id);
        Ok(())
    }

    fn memo_put(&mut self, key: u64) -> Result<()> {
        let id = self.top()?;
        self.memo.insert(key, id);
        Ok(())
    }

    fn global(&mut self, module: &str, name: &str) -> Result<()> {
        if self.torchscript {
            let jit = match (module, name) {
                ("torch.jit._pickle", "restore_type_tag") => Some(Allowed::RestoreTypeTag),
                (
                    "torch.jit._pickle",
                    "build_intlist" | "build_doublelist" | "build_boollist" | "build_tensorlist",
                ) => Some(Allowed::BuildList),
                ("torch", "device") => Some(Allowed::Device),
                _ => None,
            };
            if let Some(a) = jit {
                self.push(Obj::Global(a));
                return Ok(());
            }
            if module == "__torch__" || module.starts_with("__torch__.") {
                self.push(Obj::Class(format!("{module}.{name}")));
                return Ok(());
            }
        }
        match Allowed::lookup(module, name) {
            Some(a) => {
                self.push(Obj::Global(a));
                Ok(())
            }
            None => Err(Error::ForbiddenGlobal {
                module: module.to_string(),
                name: name.to_string(),
            }),
        }
    }

    fn add_items(&mut self, target: Id, items: Vec<Id>) -> Result<()> {
        match &mut self.heap.objs[target] {
            Obj::List(v) => {
                v.extend(items);
                Ok(())
            }
            other => Err(bad(format!("APPEND(S) onto {}", kind(other)))),
        }
    }

    fn set_items(&mut self, target: Id, items: Vec<Id>) -> Result<()> {
        if items.len() % 2 != 0 {
            return Err(bad("SETITEMS with an odd number of values".into()));
        }
        let pairs: Vec<(Id, Id)> = items.chunks_exact(2).map(|c| (c[0], c[1])).collect();
        match &mut self.heap.objs[target] {
            Obj::Dict(d) => {
                d.extend(pairs);
                Ok(())
            }
            other => Err(bad(format!("SETITEM(S) onto {}", kind(other)))),
        }
    }

    fn run(&mut self, persistent_load: &mut PersistentLoad) -> Result<Id> {
        loop {
            let at = self.pos;
            let op = self
                .u8()
                .map_err(|_| bad("truncated: the pickle ends before its STOP opcode".into()))?;
            match op {
                b'\x80' => {
                    let proto = self.u8()?;
                    if proto > 5 {
                        return Err(bad(format!("unknown pickle protocol {proto}")));
                    }
                }
                b'\x95' => {
                    self.u64()?; // FRAME: a length hint only
                }
                b'.' => return self.pop(), // STOP
                b'(' => self.marks.push(self.stack.len()),
                b'0' => {
                    self.pop()?;
                }
                b'1' => {
                    self.pop_mark()?;
                }
                b'2' => {
                    let t = self.top()?;
                    self.stack.push(t);
                }
                b'N' => self.push(Obj::None),
                b'\x88' => self.push(Obj::Bool(true)),
                b'\x89' => self.push(Obj::Bool(false)),
                b'J' => {
                    let v = self.u32()? as i32;
                    self.push(Obj::Int(v as i64))
                }
                b'K' => {
                    let v = self.u8()?;
                    self.push(Obj::Int(v as i64))
                }
                b'M' => {
                    let v = self.u16()?;
                    self.push(Obj::Int(v as i64))
                }
                b'\x8a' | b'\x8b' => {
                    let n = if op == b'\x8a' {
                        self.u8()? as u64
                    } else {
                        let n = self.u32()? as i32;
                        u64::try_from(n).map_err(|_| bad("LONG4 with a negative length".into()))?
                    };
                    let b = self.sized(n)?;
                    self.push(long(b));
                }
                b'I' | b'L' => {
                    let s = self.line()?.trim_end_matches('L');
                    let o = match s {
                        "00" => Obj::Bool(false),
                        "01" => Obj::Bool(true),
                        _ => Obj::Int(s.parse().map_err(|_| {
                            bad(format!("INT/LONG argument `{s}` is not a 64-bit integer"))
                        })?),
                    };
                    self.push(o);
                }
                b'G' => {
                    let v = f64::from_be_bytes(self.take(8)?.try_into().expect("8"));
                    self.push(Obj::Float(v))
                }
                b'F' => {
                    let s = self.line()?;
                    let v = s
                        .parse()
                        .map_err(|_| bad(format!("FLOAT argument `{s}` is not a number")))?;
                    self.push(Obj::Float(v))
                }
                b'X' | b'\x8c' | b'\x8d' => {
                    let n = match op {
                        b'X' => self.u32()? as u64,
                        b'\x8c' => self.u8()? as u64,
                        _ => self.u64()?,
                    };
                    let b = self.sized(n)?;
                    let s = std::str::from_utf8(b)
                        .map_err(|_| bad(format!("string at byte {at} is not UTF-8")))?;
                    self.push(Obj::Str(s.to_string()))
                }
                b'U' | b'T' => {
                    // SHORT_BINSTRING / BINSTRING: Python 2 str, as written by old torch.
                    let n = if op == b'U' {
                        self.u8()? as u64
                    } else {
                        self.u32()? as u64
                    };
                    let b = self.sized(n)?;
                    let o = match std::str::from_utf8(b) {
                        Ok(s) => Obj::Str(s.to_string()),
                        Err(_) => Obj::Bytes(b.to_vec()),
                    };
                    self.push(o)
                }
                b'C' | b'B' | b'\x8e' | b'\x96' => {
                    let n = match op {
                        b'C' => self.u8()? as u64,
                        b'B' => self.u32()? as u64,
                        _ => self.u64()?,
                    };
                    let b = self.sized(n)?;
                    self.push(Obj::Bytes(b.to_vec()))
                }
                b']' => self.push(Obj::List(Vec::new())),
                b')' => self.push(Obj::Tuple(Vec::new())),
                b'}' => self.push(Obj::Dict(Vec::new())),
                b'l' => {
                    let items = self.pop_mark()?;
                    self.push(Obj::List(items))
                }
                b't' => {
                    let items = self.pop_mark()?;
                    self.push(Obj::Tuple(items))
                }
                b'\x85' | b'\x86' | b'\x87' => {
                    let n = (op - b'\x84') as usize;
                    let mut items = Vec::with_capacity(n);
                    for _ in 0..n {
                        items.push(self.pop()?);
                    }
                    items.reverse();
                    self.push(Obj::Tuple(items))
                }
                b'd' => {
                    let items = self.pop_mark()?;
                    let id = self.heap.add(Obj::Dict(Vec::new()));
                    self.set_items(id, items)?;
                    self.stack.push(id);
                }
                b'a' => {
                    let v = self.pop()?;
                    let list = self.top()?;
                    self.add_items(list, vec![v])?;
                }
                b'e' => {
                    let items = self.pop_mark()?;
                    let list = self.top()?;
                    self.add_items(list, items)?;
                }
                b's' => {
                    let v = self.pop()?;
                    let k = self.pop()?;
                    let d = self.top()?;
                    self.set_items(d, vec![k, v])?;
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    let d = self.top()?;
                    self.set_items(d, items)?;
                }
                b'q' => {
                    let k = self.u8()? as u64;
                    self.memo_put(k)?
                }
                b'r' => {
                    let k = self.u32()? as u64;
                    self.memo_put(k)?
                }
                b'p' => {
                    let s = self.line()?;
                    let k = s
                        .parse()
                        .map_err(|_| bad(format!("PUT argument `{s}` is not an index")))?;
                    self.memo_put(k)?
                }
                b'\x94' => {
                    let k = self.memo.len() as u64;
                    self.memo_put(k)?
                }
                b'h' => {
                    let k = self.u8()? as u64;
                    self.memo_get(k)?
                }
                b'j' => {
                    let k = self.u32()? as u64;
                    self.memo_get(k)?
                }
                b'g' => {
                    let s = self.line()?;
                    let k = s
                        .parse()
                        .map_err(|_| bad(format!("GET argument `{s}` is not an index")))?;
                    self.memo_get(k)?
                }
                b'c' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    self.global(module, name)?
                }
                b'\x93' => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    let (Some(module), Some(name)) = (self.heap.str(module), self.heap.str(name))
                    else {
                        return Err(bad("STACK_GLOBAL needs two strings".into()));
                    };
                    let (module, name) = (module.to_string(), name.to_string());
                    self.global(&module, &name)?
                }
                b'Q' => {
                    let pid = self.pop()?;
                    let o = persistent_load(&self.heap, pid)?;
                    self.push(o)
                }
                b'P' => {
                    let s = self.line()?.to_string();
                    let pid = self.heap.add(Obj::Str(s));
                    let o = persistent_load(&self.heap, pid)?;
                    self.push(o)
                }
                b'R' => {
                    let args = self.pop()?;
                    let func = self.pop()?;
                    let o = self.reduce(func, args)?;
                    self.push(o)
                }
                b'b' => {
                    // BUILD sets attributes: an OrderedDict's `_metadata`, a tensor's
                    // Python attributes. Neither holds weights; the state is dropped.
                    let state = self.pop()?;
                    let target = self.top()?;
                    if self.objects.contains(&target) {
                        // A TorchScript object: its state is its attributes (a dict), or
                        // what a class's __setstate__ takes, kept under `__state__`.
                        let items = match self.heap.get(state) {
                            Obj::Dict(d) => d.iter().flat_map(|&(k, v)| [k, v]).collect(),
                            _ => vec![self.heap.add(Obj::Str("__state__".into())), state],
                        };
                        self.set_items(target, items)?;
                        continue;
                    }
                    match self.heap.get(target) {
                        Obj::Dict(_) | Obj::Tensor(_) => {}
                        other => return Err(bad(format!("BUILD on {}", kind(other)))),
                    }
                }
                b'\x81' | b'\x92' => {
                    if op == b'\x92' {
                        self.pop()?; // NEWOBJ_EX kwargs
                    }
                    self.pop()?;
                    let cls = self.pop()?;
                    if let Obj::Class(_) = self.heap.get(cls) {
                        let id = self.heap.add(Obj::Dict(Vec::new()));
                        self.objects.insert(id);
                        self.stack.push(id);
                        continue;
                    }
                    return Err(bad(format!(
                        "NEWOBJ creates an instance of {}; only tensors and containers are allowed",
                        describe(self.heap.get(cls))
                    )));
                }
                b'i' => {
                    let module = self.line()?.to_string();
                    let name = self.line()?.to_string();
                    return Err(Error::ForbiddenGlobal { module, name });
                }
                b'o' => {
                    return Err(bad(
                        "OBJ instantiates a class from the stack; refused".into()
                    ))
                }
                b'\x82' | b'\x83' | b'\x84' => {
                    return Err(bad(
                        "EXT opcodes refer to the copyreg extension registry; refused".into(),
                    ))
                }
                b'\x97' | b'\x98' => {
                    return Err(bad(
                        "out-of-band buffers (protocol 5) are not part of a checkpoint".into(),
                    ))
                }
                b'S' | b'V' => {
                    return Err(bad(format!(
                        "protocol-0 string opcode `{}` at byte {at} is not supported",
                        op as char
                    )))
                }
                b'\x8f' | b'\x90' | b'\x91' => {
                    return Err(bad(format!(
                        "set opcode 0x{op:02x} at byte {at}: sets do not appear in checkpoints"
                    )))
                }
                other => return Err(bad(format!("unknown opcode 0x{other:02x} at byte {at}"))),
            }
        }
    }

    fn reduce(&mut self, func: Id, args: Id) -> Result<Obj> {
        let Obj::Global(g) = *self.heap.get(func) else {
            return Err(bad(format!(
                "REDUCE calls {}, which is not a function",
                kind(self.heap.get(func))
            )));
        };
        let Obj::Tuple(a) = self.heap.get(args).clone() else {
            return Err(bad("REDUCE arguments are not a tuple".into()));
        };
        match g {
            Allowed::OrderedDict => match a.as_slice() {
                [] => Ok(Obj::Dict(Vec::new())),
                // Old torch pickled OrderedDict([[key, value], ...]).
                [items] => {
                    let (Obj::List(pairs) | Obj::Tuple(pairs)) = self.heap.get(*items).clone()
                    else {
                        return Err(bad("OrderedDict(...) of something not a list".into()));
                    };
                    let mut d = Vec::with_capacity(pairs.len());
                    for p in pairs {
                        match self.heap.get(p) {
                            Obj::List(kv) | Obj::Tuple(kv) if kv.len() == 2 => {
                                d.push((kv[0], kv[1]))
                            }
                            _ => return Err(bad("OrderedDict item is not a pair".into())),
                        }
                    }
                    Ok(Obj::Dict(d))
                }
                _ => Err(bad("OrderedDict called with more than one argument".into())),
            },
            Allowed::RebuildTensorV2 | Allowed::RebuildTensor => {
                let [storage, offset, size, stride, ..] = a.as_slice() else {
                    return Err(bad(format!(
                        "_rebuild_tensor takes at least 4 arguments, got {}",
                        a.len()
                    )));
                };
                if !matches!(self.heap.get(*storage), Obj::Storage(_)) {
                    return Err(bad(format!(
                        "_rebuild_tensor's first argument is {}, not a storage",
                        kind(self.heap.get(*storage))
                    )));
                }
                let size = self.heap.uints(*size, "tensor size")?;
                let stride = self.heap.uints(*stride, "tensor stride")?;
                if size.len() != stride.len() {
                    return Err(bad(format!(
                        "tensor size has {} dimensions but stride has {}",
                        size.len(),
                        stride.len()
                    )));
                }
                Ok(Obj::Tensor(TensorRef {
                    storage: *storage,
                    offset: self.heap.uint(*offset, "storage offset")?,
                    size,
                    stride,
                }))
            }
            Allowed::RebuildParameter => match a.first().map(|&d| self.heap.get(d)) {
                Some(t @ Obj::Tensor(_)) => Ok(t.clone()),
                _ => Err(bad("_rebuild_parameter of something not a tensor".into())),
            },
            Allowed::StorageClass(d) => Err(bad(format!(
                "REDUCE calls the {d} storage class; storages come only from persistent ids"
            ))),
            Allowed::RestoreTypeTag | Allowed::BuildList => match a.first() {
                Some(&v) => Ok(self.heap.get(v).clone()),
                None => Err(bad("a torch.jit._pickle helper without arguments".into())),
            },
            Allowed::Device => match a.first().and_then(|&v| self.heap.str(v)) {
                Some(d) => Ok(Obj::Str(d.to_string())),
                None => Err(bad("torch.device(...) of something not a string".into())),
            },
        }
    }
}

fn describe(o: &Obj) -> String {
    match o {
        Obj::Global(g) => format!("{g:?}"),
        other => kind(other).to_string(),
    }
}

/// LONG1/LONG4 payload: little-endian two's complement.
fn long(b: &[u8]) -> Obj {
    if b.is_empty() {
        return Obj::Int(0);
    }
    if b.len() <= 8 {
        let fill = if b[b.len() - 1] & 0x80 != 0 { 0xff } else { 0 };
        let mut buf = [fill; 8];
        buf[..b.len()].copy_from_slice(b);
        Obj::Int(i64::from_le_bytes(buf))
    } else {
        Obj::BigInt(b.to_vec())
    }
}

/// Reads a storage persistent id: `('storage', StorageClass, key, location, numel)`
/// (torch.save's zip format) or the same with a sixth `view_metadata` entry
/// `(view_key, offset, view_size)` or None (the legacy format).
pub fn storage_from_pid(heap: &Heap, pid: Id) -> Result<StorageRef> {
    let Obj::Tuple(t) = heap.get(pid) else {
        return Err(bad(format!(
            "persistent id is {}, not a tuple",
            kind(heap.get(pid))
        )));
    };
    let [tag, class, key, _location, numel, rest @ ..] = t.as_slice() else {
        return Err(bad(format!(
            "persistent id has {} fields; a storage has 5 or 6",
            t.len()
        )));
    };
    if heap.str(*tag) != Some("storage") {
        return Err(bad("persistent id is not a storage".into()));
    }
    let Obj::Global(Allowed::StorageClass(dtype)) = heap.get(*class) else {
        return Err(bad(format!(
            "storage type is {}, not a torch storage class",
            kind(heap.get(*class))
        )));
    };
    let key = heap
        .str(*key)
        .ok_or_else(|| bad("storage key is not a string".into()))?
        .to_string();
    let mut s = StorageRef {
        key,
        dtype: *dtype,
        numel: heap.uint(*numel, "storage size")?,
        view_offset: 0,
    };
    if let [view, ..] = rest {
        if let Obj::Tuple(v) = heap.get(*view) {
            let [view_key, offset, view_size] = v.as_slice() else {
                return Err(bad(
                    "storage view metadata is not (key, offset, size)".into()
                ));
            };
            let _ = view_key;
            s.view_offset = heap.uint(*offset, "storage view offset")?;
            s.numel = heap.uint(*view_size, "storage view size")?;
        }
    }
    Ok(s)
}
