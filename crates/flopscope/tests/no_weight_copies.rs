//! Inline weights are never copied: profiling a model whose file holds a 64 MiB initializer
//! (as `raw_data`) allocates a tiny fraction of that, about as much as the same model with the
//! weight's data absent. This test binary counts every byte allocated through a global
//! allocator (its own binary, so the count concerns nothing else).

#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use flopscope::counters::ProfileOptions;
use flopscope_testkit::proto::{
    GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto,
};
use flopscope_testkit::protobuf::Message;
use flopscope_testkit::{external, value};

/// The system allocator, counting the bytes it hands out (a reallocation counts its new
/// size: a grown buffer is a new copy as far as this test cares).
struct Counting;

static ALLOCATED: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; the counter is a side
// effect that does not allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATED.fetch_add(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: the caller's contract for `alloc` is passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATED.fetch_add(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with `layout` (every allocation goes there).
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATED.fetch_add(new_size as u64, Ordering::Relaxed);
        // SAFETY: as for `dealloc`, and the caller's contract for `realloc` is passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The bytes allocated while `f` runs.
fn allocated_by<T>(f: impl FnOnce() -> T) -> (T, u64) {
    let before = ALLOCATED.load(Ordering::SeqCst);
    let out = f();
    (out, ALLOCATED.load(Ordering::SeqCst) - before)
}

/// `x [1, K]` float → MatMul with the weight `w [K, N]` → `y [1, N]`.
const K: i64 = 4096;
const N: i64 = 4096;

/// Writes the model with the weight's bytes inline (`inline`), or pointing at an external
/// file that does not exist.
fn write_model(path: &Path, inline: bool) {
    let mut weight = TensorProto {
        name: "w".to_owned(),
        dims: vec![K, N],
        data_type: 1,
        ..Default::default()
    };
    let bytes = usize::try_from(K * N * 4).unwrap();
    if inline {
        // A cheap non-zero pattern.
        weight.raw_data = (0..bytes).map(|i| (i % 251) as u8).collect();
    } else {
        let length = bytes.to_string();
        weight = external(
            weight,
            &[
                ("location", "absent.weights"),
                ("offset", "0"),
                ("length", length.as_str()),
            ],
        );
    }
    let model = ModelProto {
        ir_version: 9,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: 20,
            ..Default::default()
        }],
        graph: Some(GraphProto {
            name: "big_weight".to_owned(),
            node: vec![NodeProto {
                name: "matmul".to_owned(),
                op_type: "MatMul".to_owned(),
                input: vec!["x".to_owned(), "w".to_owned()],
                output: vec!["y".to_owned()],
                ..Default::default()
            }],
            initializer: vec![weight],
            input: vec![value("x", Some(&[1, K]))],
            output: vec![value("y", Some(&[1, N]))],
            ..Default::default()
        })
        .into(),
        ..Default::default()
    };
    std::fs::write(path, model.write_to_bytes().unwrap()).unwrap();
}

/// One test only: tests run on parallel threads, and every thread's allocations count.
#[test]
fn a_large_inline_initializer_is_never_copied() {
    let dir = std::env::temp_dir().join(format!("flopscope-no-copies-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let inline = dir.join("inline.onnx");
    let absent = dir.join("absent.onnx");
    write_model(&inline, true);
    write_model(&absent, false);
    let weight_bytes = u64::try_from(K * N * 4).unwrap();
    assert!(std::fs::metadata(&inline).unwrap().len() > weight_bytes);

    let options = ProfileOptions::default();
    let profile = |path: &Path| {
        let report = flopscope::report_file(path, &options).unwrap();
        let json = report.to_json().unwrap();
        (report, json)
    };
    // A first run, so one-time allocations (the op registry) count in neither.
    let _ = profile(&absent);
    let ((inline_report, _), inline_bytes) = allocated_by(|| profile(&inline));
    let ((absent_report, _), absent_bytes) = allocated_by(|| profile(&absent));

    // The profile is the model's: K·N parameters, K·N MACs at batch 1.
    for report in [&inline_report, &absent_report] {
        assert_eq!(report.totals.params.as_i64(), Some(K * N));
        assert_eq!(report.totals.macs.as_i64(), Some(K * N));
    }
    #[allow(clippy::print_stderr)]
    {
        eprintln!(
            "allocated while profiling: {inline_bytes} bytes with the {weight_bytes}-byte weight \
             inline, {absent_bytes} bytes with it absent"
        );
    }
    // Far below the weight's size: under 1/64 of it (1 MiB), and within 64 KiB of the model
    // without the bytes (the path differs in length, nothing else).
    assert!(
        inline_bytes < weight_bytes / 64,
        "{inline_bytes} bytes allocated for a {weight_bytes}-byte initializer"
    );
    assert!(
        inline_bytes < absent_bytes + (64 << 10),
        "inline {inline_bytes} bytes, absent {absent_bytes} bytes"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
