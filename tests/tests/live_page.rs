//! The live HTML report of a symbolic model in headless Chromium, driven over the DevTools
//! protocol (`tests::browser`): the URL fragment sets the free dims, a key on a slider or a
//! value typed into a dim's box re-evaluates the page, and the headline cards then show the
//! exact totals of `flopscope profile --dim ... --format json` at those dims.
//!
//! Needs a `chromium` binary (Debian's package; `CHROMIUM` names another). Without one these
//! tests are ignored, with the reason (`tests/build.rs`), unless `FLOPSCOPE_REQUIRE_CHROMIUM=1`
//! (set by `.ci/run`) makes that a failure. They leave full-page screenshots in
//! `target/screenshots/` for a person to look at.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use serde_json::Value;
use tests::browser::{Browser, Page};
use tests::{json_ok, model, module_path, run_ok};

/// `flopscope profile MODEL --format html`, every dim left free, written to `NAME.html` (a file
/// per test: tests run in parallel).
fn symbolic_page(name: &str, model_name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("live-page");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("{name}.html"));
    let page = run_ok(&["profile", &model(model_name), "--format", "html"]);
    std::fs::write(&file, page).unwrap();
    file
}

/// `totals` of `flopscope profile MODEL --dim NAME=VALUE... --format json`.
fn totals(model_name: &str, dims: &[(&str, u64)]) -> Value {
    report(model_name, dims)["totals"].clone()
}

/// The headline cards, by their label, and the JSON totals they show.
const HEADLINE: [(&str, &str); 5] = [
    ("Params", "params"),
    ("MACs", "macs"),
    ("FLOPs", "flops"),
    ("Weight memory", "weight_bytes"),
    ("Peak activation memory", "peak_activation_bytes"),
];

/// The exact figure of each headline card, by its label: a formula's value as the page's
/// script evaluated it (`data-v`; none when it did not), else the leading integer of the card's
/// detail line (`3,487,816 trainable + 0 buffers`).
fn headline(page: &Page<'_>) -> BTreeMap<String, Option<String>> {
    page.eval(
        "Object.fromEntries(Array.from(document.querySelectorAll('.cards .card'), (card) => {
           const v = card.querySelector('.v');
           const exact = v.dataset.f !== undefined
             ? v.dataset.v
             : (card.querySelector('.x').textContent.match(/^[\\d,]+/) || [])[0];
           return [card.querySelector('.k').textContent, exact ?? null];
         }))",
    )
}

/// Asserts that every headline card shows the total of the JSON report at `dims`, exactly.
fn assert_headline(page: &Page<'_>, model_name: &str, dims: &[(&str, u64)]) {
    let cards = headline(page);
    let want = totals(model_name, dims);
    for (label, key) in HEADLINE {
        let shown = cards
            .get(label)
            .unwrap_or_else(|| panic!("no {label} card: {cards:?}"))
            .as_deref()
            .unwrap_or_else(|| panic!("the {label} card has no exact value at {dims:?}"));
        let shown: i64 = shown.replace(',', "").parse().unwrap();
        assert_eq!(
            Some(shown),
            want[key].as_i64(),
            "{label} at {dims:?} ({key} of the JSON report)"
        );
    }
}

/// The free dims' controls: (dim, slider value, box value), in page order.
fn controls(page: &Page<'_>) -> Vec<(String, String, String)> {
    page.eval(
        "Array.from(document.querySelectorAll('#dims input[type=range]'), (range) => {
           const dim = range.id.replace(/^dim-range-/, '');
           return [dim, range.value, document.getElementById('dim-box-' + dim).value];
         })",
    )
}

/// Asserts that the page is at `dims` (every free dim, in page order): its sliders and boxes,
/// its address, and every headline card at the JSON report's totals there.
fn assert_at(page: &Page<'_>, model_name: &str, dims: &[(&str, u64)]) {
    let want: Vec<(String, String, String)> = dims
        .iter()
        .map(|(d, v)| ((*d).to_owned(), v.to_string(), v.to_string()))
        .collect();
    assert_eq!(controls(page), want);
    let hash: Vec<String> = dims.iter().map(|(d, v)| format!("{d}={v}")).collect();
    assert_eq!(
        page.eval::<String>("location.hash"),
        format!("#{}", hash.join("&"))
    );
    assert_headline(page, model_name, dims);
}

#[test]
#[cfg_attr(
    not(has_chromium),
    ignore = "needs Chromium: Debian's package `chromium`, or set CHROMIUM"
)]
fn without_a_fragment_the_dims_start_at_their_defaults() {
    let file = symbolic_page("mobilenet_symbolic", "mobilenet_v2");
    let browser = Browser::launch();
    let page = browser.open(&file, "");
    // The page writes its dims into the fragment, so that the address shares the view.
    assert_at(
        &page,
        "mobilenet_v2",
        &[("batch", 1), ("height", 224), ("width", 224)],
    );
    let shot = page.screenshot("mobilenet_symbolic");
    let _ = writeln!(std::io::stderr(), "screenshot: {}", shot.display());
}

#[test]
#[cfg_attr(
    not(has_chromium),
    ignore = "needs Chromium: Debian's package `chromium`, or set CHROMIUM"
)]
fn the_fragment_sets_the_dims_and_the_headline_follows() {
    let file = symbolic_page("mobilenet_b32_320", "mobilenet_v2");
    let browser = Browser::launch();
    let page = browser.open(&file, "batch=32&height=320&width=320");
    let dims = [("batch", 32), ("height", 320), ("width", 320)];
    assert_eq!(totals("mobilenet_v2", &dims)["macs"], 19_599_769_600_i64);
    assert_at(&page, "mobilenet_v2", &dims);
    // Every figure with a formula was evaluated, not only the headline's.
    let (formulas, unevaluated): (usize, usize) = page.eval(
        "[document.querySelectorAll('[data-f]').length, \
         document.querySelectorAll('[data-f]:not([data-v])').length]",
    );
    assert!(formulas > 100, "{formulas} formulas");
    assert_eq!(unevaluated, 0);
    let shot = page.screenshot("mobilenet_b32_320");
    let _ = writeln!(std::io::stderr(), "screenshot: {}", shot.display());
}

#[test]
#[cfg_attr(
    not(has_chromium),
    ignore = "needs Chromium: Debian's package `chromium`, or set CHROMIUM"
)]
fn a_key_on_a_slider_and_a_value_typed_in_a_box_move_the_figures() {
    let file = symbolic_page("mobilenet_keys", "mobilenet_v2");
    let browser = Browser::launch();
    let page = browser.open(&file, "batch=32&height=320&width=320");
    // A step right on the batch slider, as a user's key: the browser moves the slider and fires
    // `input`, and the page re-evaluates every figure.
    page.press_key("#dim-range-batch", "ArrowRight");
    assert_at(
        &page,
        "mobilenet_v2",
        &[("batch", 33), ("height", 320), ("width", 320)],
    );
    // How long that evaluation took, for a person to read: timings are the benchmark's to
    // judge (`cargo bench -p tests --bench live_page`), not a test's.
    let eval_ms: String = page.eval("document.documentElement.dataset.evalMs");
    let _ = writeln!(
        std::io::stderr(),
        "MobileNetV2 page re-evaluated in {eval_ms} ms"
    );
    // A height typed into its box, committed with Enter (`change`): the slider follows.
    page.type_into("#dim-box-height", "256");
    page.press_key("#dim-box-height", "Enter");
    assert_at(
        &page,
        "mobilenet_v2",
        &[("batch", 33), ("height", 256), ("width", 320)],
    );
    // A width typed into its box, committed by clicking elsewhere (the box loses the focus).
    page.type_into("#dim-box-width", "300");
    page.click("h1");
    assert_at(
        &page,
        "mobilenet_v2",
        &[("batch", 33), ("height", 256), ("width", 300)],
    );
}

#[test]
#[cfg_attr(
    not(has_chromium),
    ignore = "needs Chromium: Debian's package `chromium`, or set CHROMIUM"
)]
fn tiny_gpt2_at_a_longer_sequence() {
    let file = symbolic_page("tiny_gpt2_seq512", "tiny_gpt2");
    let browser = Browser::launch();
    // Only `seq` in the fragment: `batch` keeps its default.
    let page = browser.open(&file, "seq=512");
    assert_at(&page, "tiny_gpt2", &[("batch", 1), ("seq", 512)]);
    let shot = page.screenshot("tiny_gpt2_seq512");
    let _ = writeln!(std::io::stderr(), "screenshot: {}", shot.display());
}

#[test]
#[cfg_attr(
    not(has_chromium),
    ignore = "needs Chromium: Debian's package `chromium`, or set CHROMIUM"
)]
#[should_panic(expected = "TypeError: Cannot read properties of null")]
fn a_script_error_fails_the_test_with_its_text() {
    let file = symbolic_page("script_error", "tiny_gpt2");
    let browser = Browser::launch();
    let page = browser.open(&file, "");
    page.eval::<Value>("document.getElementById('no-such-element').value");
}

/// The whole JSON report of `flopscope profile MODEL --dim NAME=VALUE...`.
fn report(model_name: &str, dims: &[(&str, u64)]) -> Value {
    let model = model(model_name);
    let dims: Vec<String> = dims.iter().map(|(d, v)| format!("{d}={v}")).collect();
    let mut args = vec!["profile", model.as_str(), "--format", "json"];
    for d in &dims {
        args.extend(["--dim", d]);
    }
    json_ok(&args)
}

/// The sum of `field` over the report's nodes inside the module at `key` (scopes joined by
/// `/`; empty: the whole model), from the JSON's own `module` paths.
fn module_sum(report: &Value, key: &str, field: &str) -> i64 {
    let path: Vec<&str> = key.split('/').filter(|s| !s.is_empty()).collect();
    report["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| {
            let module = module_path(n);
            module.starts_with(&path)
        })
        .map(|n| n[field].as_i64().unwrap())
        .sum()
}

/// Each module the icicle draws: (key, exact value), the zoomed module first.
fn icicle(page: &Page<'_>, id: &str) -> Vec<(String, String)> {
    page.eval(&format!(
        "Array.from(document.querySelectorAll('#{id} g'), (g) => [g.dataset.key, g.dataset.v])"
    ))
}

#[test]
#[cfg_attr(
    not(has_chromium),
    ignore = "needs Chromium: Debian's package `chromium`, or set CHROMIUM"
)]
fn the_module_icicle_zooms_and_follows_the_dims() {
    let file = symbolic_page("mobilenet_icicle", "mobilenet_v2");
    let browser = Browser::launch();
    let page = browser.open(&file, "batch=32&height=320&width=320");
    let json = report(
        "mobilenet_v2",
        &[("batch", 32), ("height", 320), ("width", 320)],
    );
    // Every module drawn is as heavy as the JSON's nodes inside it.
    let check = |page: &Page<'_>, json: &Value, field: &str| {
        let drawn = icicle(page, "icicle");
        assert!(drawn.len() > 5, "{drawn:?}");
        for (key, v) in &drawn {
            if key.ends_with("(own ops)") {
                continue;
            }
            assert_eq!(
                v.parse::<i64>().unwrap(),
                module_sum(json, key, field),
                "{field} of module `{key}`"
            );
        }
        drawn
    };
    let drawn = check(&page, &json, "macs");
    assert_eq!(drawn[0], (String::new(), "19599769600".to_owned()));
    assert!(drawn.len() > 50, "{drawn:?}");
    // A click on a module zooms there: it spans the width, the path leads back, the address
    // keeps it.
    page.click("#icicle g[data-key='features/features.2']");
    let drawn = check(&page, &json, "macs");
    assert_eq!(drawn[0].0, "features/features.2");
    assert!(
        drawn
            .iter()
            .all(|(k, _)| k.starts_with("features/features.2"))
    );
    assert_eq!(
        page.eval::<String>("document.getElementById('crumbs').textContent"),
        "model › features › features.2"
    );
    assert_eq!(
        page.eval::<String>("location.hash"),
        "#batch=32&height=320&width=320&zoom=features%2Ffeatures.2"
    );
    let shot = page.screenshot("mobilenet_icicle_zoomed");
    let _ = writeln!(std::io::stderr(), "screenshot: {}", shot.display());
    // The dims move, the zoom stays.
    page.press_key("#dim-range-batch", "ArrowRight");
    let json33 = report(
        "mobilenet_v2",
        &[("batch", 33), ("height", 320), ("width", 320)],
    );
    let drawn = check(&page, &json33, "macs");
    assert_eq!(drawn[0].0, "features/features.2");
    // By params: the same modules, weighed by their params.
    page.eval::<bool>(
        "(() => { const s = document.getElementById('icicle-by'); s.value = 'params'; \
         s.dispatchEvent(new Event('change')); return true; })()",
    );
    check(&page, &json33, "params");
    assert!(
        page.eval::<String>("location.hash")
            .contains("&by=params&zoom=features%2Ffeatures.2")
    );
    // A name in the path zooms back out.
    page.click("#crumbs a[data-key='features']");
    assert_eq!(icicle(&page, "icicle")[0].0, "features");
    page.click("#crumbs a[data-key='']");
    assert_eq!(icicle(&page, "icicle")[0].0, "");
    // Opening the address restores the view.
    let shared = browser.open(
        &file,
        "batch=2&height=160&width=160&zoom=classifier&by=flops",
    );
    let json = report(
        "mobilenet_v2",
        &[("batch", 2), ("height", 160), ("width", 160)],
    );
    let drawn = icicle(&shared, "icicle");
    assert_eq!(drawn[0].0, "classifier");
    assert_eq!(
        drawn[0].1.parse::<i64>().unwrap(),
        module_sum(&json, "classifier", "flops")
    );
}

#[test]
#[cfg_attr(
    not(has_chromium),
    ignore = "needs Chromium: Debian's package `chromium`, or set CHROMIUM"
)]
fn the_charts_follow_the_dims() {
    let file = symbolic_page("mobilenet_charts", "mobilenet_v2");
    let browser = Browser::launch();
    let page = browser.open(&file, "batch=32&height=320&width=320");
    let dims = [("batch", 32), ("height", 320), ("width", 320)];
    let json = report("mobilenet_v2", &dims);
    // Memory along the execution order: its peak is the JSON's, at the same node.
    let (peak, step): (String, usize) = page.eval(
        "(() => { const g = document.getElementById('memory-peak'); \
         return [g.dataset.v, Number(g.dataset.step)]; })()",
    );
    assert_eq!(
        peak.parse::<i64>().unwrap(),
        json["totals"]["peak_activation_bytes"].as_i64().unwrap()
    );
    assert_eq!(json["nodes"][step]["name"], json["totals"]["peak_at"]);
    // The headline card and the memory view's peak row show that same peak.
    let peaks: Vec<String> =
        page.eval("Array.from(document.querySelectorAll('[data-peak=value]'), (e) => e.dataset.v)");
    assert_eq!(peaks, [peak.clone(), peak.clone()]);
    // The bars: the chart Rust draws at these dims (`--format svg`), re-weighed in the page.
    let svg = run_ok(&[
        "profile",
        &model("mobilenet_v2"),
        "--dim",
        "batch=32",
        "--dim",
        "height=320",
        "--dim",
        "width=320",
        "--format",
        "svg",
    ]);
    let want: Vec<(String, String)> = roxmltree::Document::parse(&svg)
        .unwrap()
        .descendants()
        .filter(|n| n.has_tag_name("title"))
        .map(|n| n.text().unwrap().to_owned())
        .map(|t| {
            let (label, rest) = t.rsplit_once(": ").unwrap();
            (
                label.to_owned(),
                rest.split(' ').next().unwrap().replace(',', ""),
            )
        })
        .collect();
    let shown: Vec<(String, String)> = page.eval(
        "Array.from(document.querySelectorAll('#live-chart g'), (g) => \
         [g.querySelector('title').textContent.split(': ')[0], g.dataset.v])",
    );
    assert_eq!(shown, want);
    assert!(page.eval::<bool>("document.getElementById('static-chart').hidden"));
    // The sweep: MACs along the batch, a line for 224² and one for 320², each point the JSON's.
    let points: Vec<(String, u64, String)> = page.eval(
        "Array.from(document.querySelectorAll('#sweep-chart circle'), (c) => \
         [c.parentNode.dataset.series, Number(c.dataset.x), c.dataset.v])",
    );
    assert_eq!(points.len(), 2 * 25, "{points:?}");
    for (series, batch, v) in points.iter().filter(|(_, b, _)| [1, 33, 64].contains(b)) {
        let size: u64 = series.parse().unwrap();
        let want = totals(
            "mobilenet_v2",
            &[("batch", *batch), ("height", size), ("width", size)],
        );
        assert_eq!(
            v.parse::<i64>().unwrap(),
            want["macs"].as_i64().unwrap(),
            "{series}, batch {batch}"
        );
    }
}

#[test]
#[cfg_attr(
    not(has_chromium),
    ignore = "needs Chromium: Debian's package `chromium`, or set CHROMIUM"
)]
fn a_diff_page_puts_both_models_side_by_side() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("live-page");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("diff_mobilenet_bn.html");
    let (old, new) = (model("mobilenet_v2"), model("mobilenet_v2_bn"));
    std::fs::write(&file, run_ok(&["diff", &old, &new, "--format", "html"])).unwrap();
    let browser = Browser::launch();
    let page = browser.open(&file, "batch=32&height=320&width=320&by=flops");
    let diff: Value = json_ok(&[
        "diff",
        &old,
        &new,
        "--dim",
        "batch=32",
        "--dim",
        "height=320",
        "--dim",
        "width=320",
        "--format",
        "json",
    ]);
    // The same diff with the dims free: what the page was made from.
    let symbolic: Value = json_ok(&["diff", &old, &new, "--format", "json"]);
    let total = |diff: &Value, key: &str, side: &str| -> Value {
        diff["totals"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["key"] == key)
            .unwrap()[side]
            .clone()
    };
    // (total, old, new, delta): each card's exact figures where it has formulas.
    type Card = (String, Option<String>, Option<String>, Option<String>);
    let cards: Vec<Card> = page.eval(
        "Array.from(document.querySelectorAll('.card[data-total]'), (c) => [c.dataset.total, \
         ...['old', 'new', 'delta'].map((k) => c.querySelector('.' + k).dataset.v ?? null)])",
    );
    assert_eq!(cards.len(), 5);
    let mut evaluated = 0;
    for (key, old, new, delta) in &cards {
        for (shown, side) in [(old, "old"), (new, "new"), (delta, "delta")] {
            let want = total(&diff, key, side);
            match shown {
                Some(v) => {
                    assert_eq!(
                        v.parse::<i64>().ok(),
                        want.as_i64(),
                        "{side} {key} at 32×320²"
                    );
                    evaluated += 1;
                }
                // A figure that does not depend on the dims stays as the report wrote it.
                None => assert_eq!(total(&symbolic, key, side), want, "{side} {key}"),
            }
        }
    }
    // MACs and FLOPs old and new, their FLOPs delta, and the peaks.
    assert!(evaluated >= 6, "{cards:?}");
    // By FLOPs, the modules that gained a BatchNorm are outlined on both sides, and the
    // classifier (no BatchNorm) is not.
    let changed: Vec<String> = page.eval(
        "Array.from(document.querySelectorAll('#icicle-new g[data-changed]'), (g) => g.dataset.key)",
    );
    assert!(
        changed.contains(&"features/features.1".to_owned()),
        "{changed:?}"
    );
    assert!(
        changed.contains(&"features/features.0/features.0.1".to_owned()),
        "{changed:?}"
    );
    assert!(
        !changed.iter().any(|k| k.starts_with("classifier")),
        "{changed:?}"
    );
    // One click zooms both sides to the same module.
    page.click("#icicle-new g[data-key='features/features.1']");
    let (old_side, new_side) = (icicle(&page, "icicle-old"), icicle(&page, "icicle-new"));
    assert_eq!(old_side[0].0, "features/features.1");
    assert_eq!(new_side[0].0, "features/features.1");
    let shot = page.screenshot("diff_mobilenet_bn");
    let _ = writeln!(std::io::stderr(), "screenshot: {}", shot.display());
}

#[test]
#[cfg_attr(
    not(has_chromium),
    ignore = "needs Chromium: Debian's package `chromium`, or set CHROMIUM"
)]
fn the_densenet_page_stays_under_a_megabyte_and_moves() {
    let file = symbolic_page("densenet121_dyn", "light_densenet121_dyn");
    let bytes = std::fs::metadata(&file).unwrap().len();
    assert!(bytes < 1_000_000, "{bytes} bytes");
    let browser = Browser::launch();
    let page = browser.open(&file, "batch=8&height=288&width=288");
    assert_headline(
        &page,
        "light_densenet121_dyn",
        &[("batch", 8), ("height", 288), ("width", 288)],
    );
    page.press_key("#dim-range-height", "ArrowLeft");
    assert_headline(
        &page,
        "light_densenet121_dyn",
        &[("batch", 8), ("height", 287), ("width", 288)],
    );
    let _ = writeln!(std::io::stderr(), "DenseNet-121 page: {bytes} bytes");
}

#[test]
#[cfg_attr(
    not(has_chromium),
    ignore = "needs Chromium: Debian's package `chromium`, or set CHROMIUM"
)]
fn two_embedded_pages_keep_apart() {
    // What a notebook does with two reports' `_repr_html_`: both on one page.
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("live-page");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("notebook.html");
    let mobilenet = run_ok(&["profile", &model("mobilenet_v2"), "--format", "html"]);
    let gpt2 = run_ok(&["profile", &model("tiny_gpt2"), "--format", "html"]);
    std::fs::write(
        &file,
        format!(
            "<!DOCTYPE html><html><body>{}{}</body></html>",
            flopscope_report::html::embed(&mobilenet),
            flopscope_report::html::embed(&gpt2)
        ),
    )
    .unwrap();
    let browser = Browser::launch();
    let page = browser.open(&file, "");
    // Each frame evaluated its own report: MobileNetV2 at 1×224², GPT-2 at seq 128.
    let macs: Vec<String> = page.eval(
        "Array.from(document.querySelectorAll('iframe'), (f) => Array.from(\
         f.contentDocument.querySelectorAll('.card'))\
         .find((c) => c.querySelector('.k').textContent === 'MACs').querySelector('.v').dataset.v)",
    );
    let want = [
        totals(
            "mobilenet_v2",
            &[("batch", 1), ("height", 224), ("width", 224)],
        ),
        totals("tiny_gpt2", &[("batch", 1), ("seq", 128)]),
    ];
    assert_eq!(
        macs.iter()
            .map(|v| v.parse::<i64>().unwrap())
            .collect::<Vec<_>>(),
        want.iter()
            .map(|t| t["macs"].as_i64().unwrap())
            .collect::<Vec<_>>()
    );
}

#[test]
#[cfg_attr(
    not(has_chromium),
    ignore = "needs Chromium: Debian's package `chromium`, or set CHROMIUM"
)]
fn the_op_graph_shows_the_layer_table_s_nodes_and_leads_to_them() {
    let file = symbolic_page("mobilenet_graph", "mobilenet_v2");
    let browser = Browser::launch();
    let page = browser.open(&file, "batch=32&height=320&width=320");
    let json = report(
        "mobilenet_v2",
        &[("batch", 32), ("height", 320), ("width", 320)],
    );
    let macs: BTreeMap<&str, i64> = json["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["name"].as_str().unwrap(), n["macs"].as_i64().unwrap()))
        .collect();
    // One box per row of the layer table, each with the node's MACs at these dims.
    let boxes: Vec<(String, String)> = page.eval(
        "Array.from(document.querySelectorAll('#graph-chart g[data-node]'), \
         (g) => [g.dataset.node, g.dataset.v])",
    );
    let rows: usize = page.eval("document.querySelector('table.sortable').tBodies[0].rows.length");
    assert_eq!(boxes.len(), rows);
    for (name, v) in &boxes {
        assert_eq!(
            v.parse::<i64>().ok(),
            macs.get(name.as_str()).copied(),
            "{name}"
        );
    }
    // Every box but the first is reached by an edge, and edges point down the page.
    let edges: usize = page.eval("document.querySelectorAll('#graph-chart path').length");
    assert!(
        edges >= boxes.len() - 1,
        "{edges} edges for {} boxes",
        boxes.len()
    );
    // A click finds the node in the layer table.
    let conv = &boxes
        .iter()
        .find(|(name, _)| name.ends_with("features.2/conv/conv.0/conv.0.0/Conv"))
        .expect("a conv in features.2")
        .0;
    page.click(&format!("#graph-chart g[data-node='{conv}']"));
    let shown: Vec<String> = page.eval(
        "Array.from(document.querySelector('table.sortable').tBodies[0].rows)\
         .filter((r) => !r.hidden).map((r) => r.cells[1].textContent)",
    );
    assert_eq!(shown.len(), 1, "{shown:?}");
    assert!(shown[0].starts_with(conv.as_str()), "{shown:?}");
}

#[test]
#[cfg_attr(
    not(has_chromium),
    ignore = "needs Chromium: Debian's package `chromium`, or set CHROMIUM"
)]
fn the_page_s_links_keep_the_view_in_the_address() {
    let file = symbolic_page("mobilenet_links", "mobilenet_v2");
    let browser = Browser::launch();
    let page = browser.open(&file, "batch=4&height=256&width=256&zoom=features");
    let view = "#batch=4&height=256&width=256&zoom=features";
    page.click("nav a[href='#layers']");
    assert_eq!(page.eval::<String>("location.hash"), view);
    assert!(page.eval::<f64>("window.scrollY") > 500.0);
    // An address with an anchor opens there, with the dims it names.
    let anchored = browser.open(&file, "batch=4&height=256&width=256&graph");
    assert_at(
        &anchored,
        "mobilenet_v2",
        &[("batch", 4), ("height", 256), ("width", 256)],
    );
    let (top, scroll): (f64, f64) = anchored.eval(
        "new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => \
         r([document.getElementById('graph').getBoundingClientRect().top, window.scrollY]))))",
    );
    assert!(
        scroll > 500.0 && top.abs() < 5.0,
        "top {top}, scrollY {scroll}"
    );
}
