//! `kabase._native.ConsumerRecord`: kafka-python's `ConsumerRecord` as a native type.
//!
//! kafka-python's record is a 13-field namedtuple. Made as one, a polled record costs the tuple,
//! an int for its offset, its value bytes and a fresh headers list, and the tuple and the list
//! are containers Python's cyclic collector walks. This type holds what the consumer fetched
//! natively instead: topic (one shared str per batch), partition, offset, timestamp and the
//! sizes as Rust integers (made into Python ints when read), key and value as the objects the
//! caller gets (bytes, or what a deserializer returned), and the headers as the core's until
//! `headers` is first read, when they become a list that is kept (`r.headers is r.headers`, and
//! appending to it sticks, as with the namedtuple).
//!
//! It behaves as the namedtuple does (field access, `_fields`, `_field_defaults`, indexing and
//! slicing, `len`, iteration and unpacking, `in`, `count`/`index`, `+` and `*` giving tuples,
//! comparison and `hash` as the equal tuple, the namedtuple `repr`, `_asdict`, `_replace`,
//! `_make`, pickling and `copy`), but it is not a `tuple` subclass: `isinstance(r, tuple)` is
//! false, and what needs a real tuple (`"%s" % r`, `json.dumps(r)`) takes `tuple(r)`.
//!
//! The collector: a record the consumer built holds only objects that cannot refer to anything
//! (str, bytes, None, or a deserializer's result of such a type) until its headers list exists,
//! so it cannot be part of a cycle; it is kept off the collector's lists when built (as CPython
//! does with a tuple of atomic items) and put on them when its headers list is made or, from
//! the start, when a deserializer's result is a container. The consumer writes its records in
//! place ([`FetchedMaker`]), and every record is freed by [`record_dealloc`] rather than by
//! pyo3's generic destructor, both after checks made once per process. A record made from
//! Python (`ConsumerRecord(...)`, `_replace`, unpickling) holds arbitrary objects and stays
//! tracked. `__traverse__` reports
//! every object a record holds; like a tuple it has no `tp_clear` (a cycle through a record
//! always passes through a mutable container, which the collector clears).

use std::sync::OnceLock;

use kabase_sdk::{Header, PackedRecord, TimestampType};
use pyo3::basic::CompareOp;
use pyo3::exceptions::{PyIndexError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList, PyString, PyTuple, PyType};
use pyo3::{PyTraverseError, PyVisit};

/// kafka-python 2.0.2's twelve fields in its order, then `leader_epoch` (2.1 added it; kept
/// last here so code that unpacks 2.0.2's records positionally keeps working).
pub(crate) const FIELDS: [&str; 13] = [
    "topic",
    "partition",
    "offset",
    "timestamp",
    "timestamp_type",
    "key",
    "value",
    "headers",
    "checksum",
    "serialized_key_size",
    "serialized_value_size",
    "serialized_header_size",
    "leader_epoch",
];
const N: usize = FIELDS.len();
/// `leader_epoch`'s default (the only field with one, as in the namedtuple).
const EPOCH_DEFAULT: i64 = -1;

/// The fields of a record the consumer fetched, other than topic, key and value. Nothing here
/// needs a drop unless the record has headers or its headers were read: no vector is allocated
/// for a record without headers (the common case), and the list cell is empty until read.
struct Fetched {
    partition: u32,
    log_append_time: bool,
    offset: i64,
    timestamp: i64,
    key_size: i64,
    value_size: i64,
    header_size: i64,
    /// The core's headers; `None` when the record has none.
    headers: Option<Box<[Header]>>,
    /// `headers` as the list the caller sees, made on first read.
    headers_list: OnceLock<Py<PyList>>,
}

enum Rest {
    Fetched(Fetched),
    /// Made from Python: any 13 objects, as a namedtuple takes them (all of them here, topic,
    /// key and value too).
    Given(Box<[Py<PyAny>; N]>),
}

/// A record consumed from a topic partition: kafka-python's `ConsumerRecord` (see the module
/// documentation for how it differs from the namedtuple).
#[pyclass(module = "kabase._native", name = "ConsumerRecord", frozen, sequence)]
pub struct PyConsumerRecord {
    // The fields read most, as struct members (read by the interpreter without a call).
    #[pyo3(get)]
    topic: Py<PyAny>,
    /// The key bytes (or the key deserializer's result); None for a null key.
    #[pyo3(get)]
    key: Py<PyAny>,
    /// The value bytes (or the value deserializer's result); None for a null value.
    #[pyo3(get)]
    value: Py<PyAny>,
    rest: Rest,
}

/// Whether `obj`'s type can hold references to other objects (is collected by the cyclic
/// collector); str, bytes, int, float and None cannot.
#[allow(unsafe_code)]
fn is_container(obj: &Bound<'_, PyAny>) -> bool {
    // SAFETY: `PyType_GetFlags` reads the flags of a live type object (the object's type).
    unsafe { pyo3::ffi::PyType_GetFlags(obj.get_type().as_type_ptr()) & pyo3::ffi::Py_TPFLAGS_HAVE_GC != 0 }
}

/// Take `obj` off the collector's lists.
#[allow(unsafe_code)]
fn untrack(obj: &Bound<'_, PyAny>) {
    // SAFETY: `obj` is a live instance of a `#[pyclass]` (a GC type) and the GIL is held;
    // untracking an untracked object does nothing, and its deallocation untracks only if
    // tracked.
    unsafe { pyo3::ffi::PyObject_GC_UnTrack(obj.as_ptr().cast()) }
}

/// Put `obj` back on the collector's lists if it is off them.
#[allow(unsafe_code)]
fn track(obj: &Bound<'_, PyAny>) {
    // SAFETY: as for `untrack`; tracking an object already tracked is a fatal error, so it is
    // checked first (with the GIL held, nothing can track it in between).
    unsafe {
        if pyo3::ffi::PyObject_GC_IsTracked(obj.as_ptr()) == 0 {
            pyo3::ffi::PyObject_GC_Track(obj.as_ptr().cast());
        }
    }
}

/// Makes the records of one poll: the type object is looked up once per poll, not once per
/// record, and each record is allocated with `PyObject_GC_New` and its Rust value written
/// straight into the object, instead of going through pyo3's generic constructor (which looks
/// the type up, calls `object.__new__` through the type's slots, which zeroes the object and
/// puts it on the collector's lists, and moves the value twice per record).
///
/// This relies on two things pyo3 does not promise, so both are checked once per process
/// ([`in_place_offset`]) and records are made through pyo3 ([`Bound::new`]) when either fails:
/// - the object's layout: a Python object header, then [`PyConsumerRecord`], then nothing. pyo3
///   lays a `frozen` class without `dict`, `weakref` or `unsendable` out that way (its borrow
///   flag, thread checker, dict and weak-reference slots are all zero-sized); checked on a
///   record pyo3 made, against the type's `__basicsize__`;
/// - the type's allocator: `tp_alloc` is `PyType_GenericAlloc` and `tp_free` `PyObject_GC_Del`
///   (no free list), whose allocation is `PyObject_GC_New`'s plus zeroing and tracking; so an
///   object from `PyObject_GC_New` is one pyo3's `tp_dealloc` can drop and free.
///
/// When both hold, the type's `tp_dealloc` is also replaced by [`record_dealloc`] (see
/// [`install_dealloc`]), which frees a record without pyo3's generic machinery.
pub(crate) struct FetchedMaker<'py> {
    ty: Bound<'py, PyType>,
    /// The offset of the Rust value in the object, when both checks passed.
    offset: Option<usize>,
}

/// The offset of a record's Rust value in its Python object when records can be written in
/// place (see [`FetchedMaker`]); `None` otherwise. Checked once per process.
#[allow(unsafe_code)]
fn in_place_offset(py: Python<'_>) -> PyResult<Option<usize>> {
    static OFFSET: PyOnceLock<Option<usize>> = PyOnceLock::new();
    OFFSET
        .get_or_try_init(py, || -> PyResult<Option<usize>> {
            // Where pyo3 put the value of a record it made.
            let probe = Bound::new(py, PyConsumerRecord::given(py, (0..N).map(|_| py.None()).collect())?)?;
            let value_addr = std::ptr::from_ref::<PyConsumerRecord>(probe.get()) as usize;
            let offset = value_addr.wrapping_sub(probe.as_ptr() as usize);
            let ty = py.get_type::<PyConsumerRecord>();
            let basicsize: usize = ty.getattr("__basicsize__")?.extract()?;
            let itemsize: usize = ty.getattr("__itemsize__")?.extract()?;
            let header = std::mem::size_of::<pyo3::ffi::PyObject>().next_multiple_of(std::mem::align_of::<PyConsumerRecord>());
            let layout = offset == header && basicsize == header + std::mem::size_of::<PyConsumerRecord>() && itemsize == 0;
            // SAFETY: `ty` is a live type object; the slot numbers are valid; `PyType_GetSlot`
            // only reads (null for a slot not set).
            let (alloc, free, flags) = unsafe {
                let t = ty.as_type_ptr();
                (pyo3::ffi::PyType_GetSlot(t, pyo3::ffi::Py_tp_alloc) as usize, pyo3::ffi::PyType_GetSlot(t, pyo3::ffi::Py_tp_free) as usize, pyo3::ffi::PyType_GetFlags(t))
            };
            let generic = alloc == pyo3::ffi::PyType_GenericAlloc as *const () as usize && free == pyo3::ffi::PyObject_GC_Del as *const () as usize && flags & pyo3::ffi::Py_TPFLAGS_HAVE_GC != 0;
            // SAFETY: the GIL is held and `ty` is the record type (see `install_dealloc`).
            let in_place = layout && offset == VALUE_OFFSET && generic && unsafe { install_dealloc(ty.as_type_ptr()) };
            Ok(in_place.then_some(offset))
        })
        .copied()
}

/// Where a record's Rust value lies in its object: right after the object header (what
/// [`in_place_offset`] checks before anything relies on it).
const VALUE_OFFSET: usize = std::mem::size_of::<pyo3::ffi::PyObject>().next_multiple_of(std::mem::align_of::<PyConsumerRecord>());

/// The index of `tp_dealloc` among a CPython type object's pointer-sized words: after the
/// variable-size object header (reference count, type, size), `tp_name`, `tp_basicsize` and
/// `tp_itemsize`.
const TP_DEALLOC_WORD: usize = 6;

/// Replace the record type's `tp_dealloc` (pyo3's) with [`record_dealloc`]; false, changing
/// nothing, when the type object's layout is not the one expected.
///
/// pyo3 has no way to give a class its own `tp_dealloc`, and the limited API no call that sets
/// a slot once the type exists, so the slot is written in the type object itself. The word
/// written is first checked to hold exactly what `PyType_GetSlot(Py_tp_dealloc)` returns (so
/// it is that slot in this interpreter's layout: a build with a larger object header fails the
/// check), and read back through `PyType_GetSlot` after.
///
/// # Safety
/// The GIL must be held and `ty` must be the [`PyConsumerRecord`] type, with
/// [`in_place_offset`]'s checks passed (the value at [`VALUE_OFFSET`], filling the object;
/// `tp_free` `PyObject_GC_Del`), which is what `record_dealloc` relies on.
#[allow(unsafe_code)]
unsafe fn install_dealloc(ty: *mut pyo3::ffi::PyTypeObject) -> bool {
    // SAFETY: `ty` is a live type object (a heap type, far larger than seven words); with the
    // GIL held nothing reads or writes its slots meanwhile. The write happens only when the
    // word is the `tp_dealloc` slot (checked against `PyType_GetSlot`), replacing one
    // destructor of the type's instances by another that does what pyo3's does for this type
    // (see `record_dealloc`); instances made before and after are freed alike, since both
    // allocators pair with `PyObject_GC_Del`.
    unsafe {
        let current = pyo3::ffi::PyType_GetSlot(ty, pyo3::ffi::Py_tp_dealloc) as usize;
        let word = ty.cast::<usize>().add(TP_DEALLOC_WORD);
        if current == 0 || word.read() != current {
            return false;
        }
        let ours = record_dealloc as unsafe extern "C" fn(*mut pyo3::ffi::PyObject) as usize;
        word.write(ours);
        pyo3::ffi::PyType_GetSlot(ty, pyo3::ffi::Py_tp_dealloc) as usize == ours
    }
}

/// The record type's `tp_dealloc` (installed by [`install_dealloc`]): what pyo3's does for this
/// type (take the object off the collector's lists, drop the Rust value, free the object with
/// `tp_free`, release the type), without its generic steps (a panic guard and an attach guard
/// with their thread-local counters, the type looked up again, `tp_free` looked up through
/// `PyType_GetSlot`, a thread-local check per field released).
#[allow(unsafe_code)]
unsafe extern "C" fn record_dealloc(obj: *mut pyo3::ffi::PyObject) {
    // SAFETY: CPython calls `tp_dealloc` with the GIL held, once, for an instance of the
    // record type whose reference count reached zero. Untracking first (as pyo3 does and
    // CPython requires before fields are released); the Rust value lies at `VALUE_OFFSET`
    // (checked before this function was installed) and is read out once, so it is dropped
    // exactly once (`release`, which cannot panic) and never touched again; the memory is then
    // freed with the type's `tp_free` (`PyObject_GC_Del`, checked), and the instance's
    // reference to its heap type released, as pyo3's `tp_dealloc` does last.
    unsafe {
        pyo3::ffi::PyObject_GC_UnTrack(obj.cast());
        let rec = obj.cast::<u8>().add(VALUE_OFFSET).cast::<PyConsumerRecord>().read();
        rec.release();
        let ty = pyo3::ffi::Py_TYPE(obj);
        pyo3::ffi::PyObject_GC_Del(obj.cast());
        pyo3::ffi::Py_DecRef(ty.cast());
    }
}

/// Release the reference `o` owns, directly (see [`PyConsumerRecord::release`]).
///
/// # Safety
/// The GIL must be held.
#[allow(unsafe_code)]
unsafe fn decref<T>(o: Py<T>) {
    // SAFETY: the caller holds the GIL; `into_ptr` hands over the reference `o` owned, which
    // is released once here.
    unsafe { pyo3::ffi::Py_DecRef(o.into_ptr()) }
}

/// `kabase._native._records_in_place()`: whether this process writes polled records in place
/// and frees records with [`record_dealloc`] (the checks of [`FetchedMaker`] passed). Not a
/// public API; the tests check it, so that the fast path cannot silently turn itself off.
#[pyfunction]
pub fn _records_in_place(py: Python<'_>) -> PyResult<bool> {
    Ok(FetchedMaker::new(py)?.offset.is_some())
}

impl<'py> FetchedMaker<'py> {
    pub(crate) fn new(py: Python<'py>) -> PyResult<Self> {
        Ok(FetchedMaker { ty: py.get_type::<PyConsumerRecord>(), offset: in_place_offset(py)? })
    }

    /// The record the consumer returns for `r`, with `topic` (shared by a batch) and `key` and
    /// `value` already made (bytes, or a deserializer's results). `atomic`: the caller knows
    /// `key` and `value` are bytes or None (no deserializer ran), so the record cannot be part
    /// of a cycle; otherwise their types are checked.
    #[allow(unsafe_code)]
    #[inline]
    pub(crate) fn fetched(&self, topic: &Bound<'py, PyString>, r: &PackedRecord<'_>, key: Option<Bound<'py, PyAny>>, value: Option<Bound<'py, PyAny>>, atomic: bool) -> PyResult<Bound<'py, PyConsumerRecord>> {
        let py = self.ty.py();
        let atomic = atomic || (!key.as_ref().is_some_and(is_container) && !value.as_ref().is_some_and(is_container));
        let (headers, header_size) = if r.headers.is_empty() {
            (None, -1)
        } else {
            (Some(r.headers.to_vec().into_boxed_slice()), r.headers.iter().map(|h| h.key.len() as i64 + h.value.as_ref().map_or(0, |v| v.len() as i64)).sum())
        };
        let rest = Fetched {
            partition: r.partition,
            log_append_time: matches!(r.timestamp_type, TimestampType::LogAppendTime),
            offset: r.offset,
            timestamp: r.timestamp,
            key_size: r.key.map_or(-1, |k| k.len() as i64),
            value_size: r.value.map_or(-1, |v| v.len() as i64),
            header_size,
            headers,
            headers_list: OnceLock::new(),
        };
        let obj_or_none = |o: Option<Bound<'py, PyAny>>| o.map_or_else(|| py.None(), Bound::unbind);
        let rec = PyConsumerRecord { topic: topic.clone().into_any().unbind(), key: obj_or_none(key), value: obj_or_none(value), rest: Rest::Fetched(rest) };
        Ok(match self.offset {
            // SAFETY: `PyObject_GC_New` is called with the GIL held and the record type (a GC
            // type of fixed size: `__itemsize__` 0); it returns a new reference to an object
            // of the type's `__basicsize__` with its header set (type, which it increfs as a
            // heap type's instance must, and reference count 1), not zeroed and not on the
            // collector's lists, or null with an exception set. `in_place_offset` checked that
            // the Rust value lies at `offset` and fills the rest of the object, so writing
            // `rec` there (aligned: `offset` is a multiple of its alignment, and the object
            // memory is) initializes the whole object as pyo3's constructor would; and that the
            // type's `tp_free` is `PyObject_GC_Del`, which frees what `PyObject_GC_New`
            // allocated once the record's destructor has dropped the value. The object is tracked
            // (only after it is written) when it may be part of a cycle.
            Some(offset) => unsafe {
                let raw = pyo3::ffi::PyObject_GC_New::<pyo3::ffi::PyObject>(self.ty.as_type_ptr());
                if raw.is_null() {
                    return Err(PyErr::fetch(py));
                }
                raw.cast::<u8>().add(offset).cast::<PyConsumerRecord>().write(rec);
                if !atomic {
                    pyo3::ffi::PyObject_GC_Track(raw.cast());
                }
                Bound::from_owned_ptr(py, raw).cast_into_unchecked::<PyConsumerRecord>()
            },
            None => {
                let obj = Bound::new(py, rec)?;
                if atomic {
                    untrack(obj.as_any());
                }
                obj
            }
        })
    }
}

impl PyConsumerRecord {
    /// Drop the record, releasing what it holds at once. A `Py` dropped outside one of pyo3's
    /// own entry points (as in a `tp_dealloc` CPython calls) is queued for release at pyo3's
    /// next entry rather than released, because pyo3 cannot see that the GIL is held; here
    /// the caller guarantees it is, so every reference is released directly.
    ///
    /// # Safety
    /// The GIL must be held.
    #[allow(unsafe_code)]
    unsafe fn release(self) {
        let PyConsumerRecord { topic, key, value, rest } = self;
        // SAFETY: the caller holds the GIL.
        unsafe {
            decref(topic);
            decref(key);
            decref(value);
            match rest {
                Rest::Given(items) => {
                    let items: [Py<PyAny>; N] = *items;
                    for o in items {
                        decref(o);
                    }
                }
                Rest::Fetched(f) => {
                    if let Some(list) = f.headers_list.into_inner() {
                        decref(list);
                    }
                }
            }
        }
    }

    /// Field `i` (< 13) as a Python object.
    fn field<'py>(slf: &Bound<'py, Self>, i: usize) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let rec = slf.get();
        let f = match &rec.rest {
            Rest::Given(v) => return Ok(v[i].bind(py).clone()),
            Rest::Fetched(f) => f,
        };
        Ok(match i {
            0 => rec.topic.bind(py).clone(),
            1 => f.partition.into_pyobject(py)?.into_any(),
            2 => f.offset.into_pyobject(py)?.into_any(),
            3 => f.timestamp.into_pyobject(py)?.into_any(),
            4 => i64::from(f.log_append_time).into_pyobject(py)?.into_any(),
            5 => rec.key.bind(py).clone(),
            6 => rec.value.bind(py).clone(),
            7 => Self::headers_list(slf, f)?.into_any(),
            8 => py.None().into_bound(py),
            9 => f.key_size.into_pyobject(py)?.into_any(),
            10 => f.value_size.into_pyobject(py)?.into_any(),
            11 => f.header_size.into_pyobject(py)?.into_any(),
            _ => EPOCH_DEFAULT.into_pyobject(py)?.into_any(),
        })
    }

    /// The headers list, made on first read and kept.
    fn headers_list<'py>(slf: &Bound<'py, Self>, f: &Fetched) -> PyResult<Bound<'py, PyList>> {
        let py = slf.py();
        if let Some(l) = f.headers_list.get() {
            return Ok(l.bind(py).clone());
        }
        let list = PyList::empty(py);
        for h in f.headers.iter().flatten() {
            list.append((h.key.as_str(), crate::producer::opt_bytes(py, &h.value)))?;
        }
        // Another thread may have made the list meanwhile (making this one may run Python
        // code); the first one set wins, so every reader sees the same list.
        let _ = f.headers_list.set(list.unbind());
        // The record now holds a mutable container: it could be part of a cycle.
        track(slf.as_any());
        Ok(f.headers_list.get().map(|l| l.bind(py).clone()).unwrap_or_else(|| PyList::empty(py)))
    }

    /// The record's fields as a tuple (what it compares, hashes and iterates as).
    fn to_tuple<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyTuple>> {
        let mut items = Vec::with_capacity(N);
        for i in 0..N {
            items.push(Self::field(slf, i)?);
        }
        PyTuple::new(slf.py(), items)
    }

    /// `other` as a tuple when it is a record or a tuple (what a namedtuple compares with).
    fn other_tuple<'py>(other: &Bound<'py, PyAny>) -> PyResult<Option<Bound<'py, PyTuple>>> {
        if let Ok(r) = other.cast::<PyConsumerRecord>() {
            return Self::to_tuple(r).map(Some);
        }
        Ok(other.cast::<PyTuple>().ok().cloned())
    }

    /// A record of 13 given objects.
    fn given(py: Python<'_>, items: Vec<Py<PyAny>>) -> PyResult<Self> {
        let arr: [Py<PyAny>; N] = items.try_into().map_err(|v: Vec<_>| PyTypeError::new_err(format!("Expected {N} arguments, got {}", v.len())))?;
        Ok(PyConsumerRecord { topic: arr[0].clone_ref(py), key: arr[5].clone_ref(py), value: arr[6].clone_ref(py), rest: Rest::Given(Box::new(arr)) })
    }
}

#[pymethods]
impl PyConsumerRecord {
    /// `ConsumerRecord(topic, partition, offset, timestamp, timestamp_type, key, value, headers,
    /// checksum, serialized_key_size, serialized_value_size, serialized_header_size,
    /// leader_epoch=-1)`, by position or name, any objects (as the namedtuple takes them).
    #[new]
    #[pyo3(
        signature = (*args, **kwargs),
        text_signature = "(topic, partition, offset, timestamp, timestamp_type, key, value, headers, checksum, serialized_key_size, serialized_value_size, serialized_header_size, leader_epoch=-1)"
    )]
    fn new(py: Python<'_>, args: &Bound<'_, PyTuple>, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        if args.len() > N {
            return Err(PyTypeError::new_err(format!("ConsumerRecord() takes from {} to {N} positional arguments but {} were given", N - 1, args.len())));
        }
        let mut items: Vec<Option<Py<PyAny>>> = args.iter().map(|a| Some(a.unbind())).collect();
        items.resize_with(N, || None);
        if let Some(kw) = kwargs {
            for (k, v) in kw.iter() {
                let name = k.cast::<PyString>()?.to_cow()?;
                let Some(i) = FIELDS.iter().position(|f| *f == name) else {
                    return Err(PyTypeError::new_err(format!("ConsumerRecord() got an unexpected keyword argument '{name}'")));
                };
                if items[i].is_some() {
                    return Err(PyTypeError::new_err(format!("ConsumerRecord() got multiple values for argument '{name}'")));
                }
                items[i] = Some(v.unbind());
            }
        }
        if items[N - 1].is_none() {
            items[N - 1] = Some(EPOCH_DEFAULT.into_pyobject(py)?.into_any().unbind());
        }
        let missing: Vec<String> = FIELDS.iter().zip(&items).filter(|(_, v)| v.is_none()).map(|(f, _)| format!("'{f}'")).collect();
        if !missing.is_empty() {
            return Err(PyTypeError::new_err(format!("ConsumerRecord() missing {} required argument(s): {}", missing.len(), missing.join(", "))));
        }
        Self::given(py, items.into_iter().flatten().collect())
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.topic)?;
        visit.call(&self.key)?;
        visit.call(&self.value)?;
        match &self.rest {
            Rest::Given(v) => {
                for o in v.iter() {
                    visit.call(o)?;
                }
            }
            Rest::Fetched(f) => visit.call(f.headers_list.get())?,
        }
        Ok(())
    }

    /// The field names, in order.
    #[classattr]
    fn _fields(py: Python<'_>) -> Py<PyTuple> {
        PyTuple::new(py, FIELDS).expect("a tuple of str").unbind()
    }

    /// Pattern matching by position (`case ConsumerRecord(topic, partition, ...)`).
    #[classattr]
    fn __match_args__(py: Python<'_>) -> Py<PyTuple> {
        PyTuple::new(py, FIELDS).expect("a tuple of str").unbind()
    }

    /// The fields with a default: `{'leader_epoch': -1}`.
    #[classattr]
    fn _field_defaults(py: Python<'_>) -> Py<PyDict> {
        let d = PyDict::new(py);
        d.set_item(FIELDS[N - 1], EPOCH_DEFAULT).expect("a str key");
        d.unbind()
    }

    #[getter]
    fn partition<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        Self::field(slf, 1)
    }
    #[getter]
    fn offset<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        Self::field(slf, 2)
    }
    #[getter]
    fn timestamp<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        Self::field(slf, 3)
    }
    /// 0: CreateTime, 1: LogAppendTime.
    #[getter]
    fn timestamp_type<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        Self::field(slf, 4)
    }
    /// `[(key, value)]`: one list per record, the same on every read.
    #[getter]
    fn headers<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        Self::field(slf, 7)
    }
    /// Always None (record batches v2 carry no per-record checksum).
    #[getter]
    fn checksum<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        Self::field(slf, 8)
    }
    #[getter]
    fn serialized_key_size<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        Self::field(slf, 9)
    }
    #[getter]
    fn serialized_value_size<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        Self::field(slf, 10)
    }
    #[getter]
    fn serialized_header_size<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        Self::field(slf, 11)
    }
    #[getter]
    fn leader_epoch<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        Self::field(slf, 12)
    }

    fn __len__(&self) -> usize {
        N
    }

    fn __getitem__<'py>(slf: &Bound<'py, Self>, index: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        if let Ok(i) = index.extract::<isize>() {
            let j = if i < 0 { i + N as isize } else { i };
            if !(0..N as isize).contains(&j) {
                return Err(PyIndexError::new_err("tuple index out of range"));
            }
            return Self::field(slf, j as usize);
        }
        // Slices (a tuple, as a namedtuple's are) and the tuple's own errors.
        Self::to_tuple(slf)?.as_any().get_item(index)
    }

    fn __iter__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        Ok(Self::to_tuple(slf)?.as_any().try_iter()?.into_any())
    }

    fn __contains__(slf: &Bound<'_, Self>, item: &Bound<'_, PyAny>) -> PyResult<bool> {
        Self::to_tuple(slf)?.contains(item)
    }

    /// How many fields equal `value`.
    fn count(slf: &Bound<'_, Self>, value: &Bound<'_, PyAny>) -> PyResult<usize> {
        Self::to_tuple(slf)?.call_method1("count", (value,))?.extract()
    }

    /// The first field equal to `value` (between `start` and `stop`), as `tuple.index`.
    #[pyo3(signature = (value, start=None, stop=None, /))]
    fn index(slf: &Bound<'_, Self>, value: &Bound<'_, PyAny>, start: Option<&Bound<'_, PyAny>>, stop: Option<&Bound<'_, PyAny>>) -> PyResult<usize> {
        let t = Self::to_tuple(slf)?;
        let r = match (start, stop) {
            (None, None) => t.call_method1("index", (value,))?,
            (Some(a), None) => t.call_method1("index", (value, a))?,
            (a, Some(b)) => {
                let a = a.cloned().unwrap_or_else(|| 0i64.into_pyobject(slf.py()).expect("an int").into_any());
                t.call_method1("index", (value, a, b))?
            }
        };
        r.extract()
    }

    fn __richcmp__<'py>(slf: &Bound<'py, Self>, other: &Bound<'py, PyAny>, op: CompareOp) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        match Self::other_tuple(other)? {
            Some(o) => Ok(Self::to_tuple(slf)?.as_any().rich_compare(o, op)?),
            None => Ok(py.NotImplemented().into_bound(py)),
        }
    }

    /// The hash of the equal tuple (a record with a headers list, as every polled one has, is
    /// unhashable, as kafka-python's is).
    fn __hash__(slf: &Bound<'_, Self>) -> PyResult<isize> {
        Self::to_tuple(slf)?.hash()
    }

    fn __add__<'py>(slf: &Bound<'py, Self>, other: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        match Self::other_tuple(other)? {
            Some(o) => Self::to_tuple(slf)?.as_any().add(o),
            None => Ok(py.NotImplemented().into_bound(py)),
        }
    }

    fn __radd__<'py>(slf: &Bound<'py, Self>, other: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        match Self::other_tuple(other)? {
            Some(o) => o.as_any().add(Self::to_tuple(slf)?),
            None => Ok(py.NotImplemented().into_bound(py)),
        }
    }

    fn __mul__<'py>(slf: &Bound<'py, Self>, n: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        if n.extract::<isize>().is_err() {
            return Ok(py.NotImplemented().into_bound(py));
        }
        Self::to_tuple(slf)?.as_any().mul(n)
    }

    fn __rmul__<'py>(slf: &Bound<'py, Self>, n: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        Self::__mul__(slf, n)
    }

    /// `ConsumerRecord(topic='t', partition=0, ...)`, as the namedtuple prints.
    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let mut s = String::from("ConsumerRecord(");
        for (i, name) in FIELDS.iter().enumerate() {
            if i > 0 {
                s.push_str(", ");
            }
            s.push_str(name);
            s.push('=');
            s.push_str(&Self::field(slf, i)?.repr()?.to_cow()?);
        }
        s.push(')');
        Ok(s)
    }

    /// `{field: value}` in field order.
    fn _asdict<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(slf.py());
        for (i, name) in FIELDS.iter().enumerate() {
            d.set_item(name, Self::field(slf, i)?)?;
        }
        Ok(d)
    }

    /// A new record with the named fields replaced.
    #[pyo3(signature = (**changes))]
    fn _replace(slf: &Bound<'_, Self>, changes: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        let mut items: Vec<Py<PyAny>> = (0..N).map(|i| Self::field(slf, i).map(Bound::unbind)).collect::<PyResult<_>>()?;
        let mut unknown = Vec::new();
        if let Some(ch) = changes {
            for (k, v) in ch.iter() {
                let name = k.cast::<PyString>()?.to_cow()?.into_owned();
                match FIELDS.iter().position(|f| *f == name) {
                    Some(i) => items[i] = v.unbind(),
                    None => unknown.push(format!("'{name}'")),
                }
            }
        }
        if !unknown.is_empty() {
            return Err(PyValueError::new_err(format!("Got unexpected field names: [{}]", unknown.join(", "))));
        }
        Self::given(slf.py(), items)
    }

    /// A record from an iterable of exactly 13 items.
    #[classmethod]
    fn _make(cls: &Bound<'_, PyType>, iterable: &Bound<'_, PyAny>) -> PyResult<Self> {
        let items: Vec<Py<PyAny>> = iterable.try_iter()?.map(|o| o.map(Bound::unbind)).collect::<PyResult<_>>()?;
        Self::given(cls.py(), items)
    }

    fn __getnewargs__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyTuple>> {
        Self::to_tuple(slf)
    }

    /// Pickled (and copied) as `ConsumerRecord(*fields)`.
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyType>, Bound<'py, PyTuple>)> {
        Ok((slf.get_type(), Self::to_tuple(slf)?))
    }
}
