//! `--format svg` and `--format html`: the chart shows the heaviest modules with their exact
//! costs, the page is self-contained, and it renders in headless Chromium.
//!
//! The Chromium test needs a `chromium` binary (Debian's package; `CHROMIUM` names another).
//! Without one it is ignored, with the reason (`tests/build.rs`), unless
//! `FLOPSCOPE_REQUIRE_CHROMIUM=1` (set by `.ci/run`) makes that a failure.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use tests::{fixture, json_ok, model, module_path, run_ok};

const MOBILENET: &str = "input=1x3x224x224";

/// What would make a page fetch something (scripts and styles are inline).
const FETCHES: [&str; 7] = [
    "<link",
    " src=",
    "url(",
    "@import",
    "<iframe",
    "fetch(",
    "XMLHttpRequest",
];

/// (label, exact value, bar width) of each bar of the chart.
fn bars(svg: &str) -> Vec<(String, i64, f64)> {
    let doc = roxmltree::Document::parse(svg).expect("the SVG is well-formed XML");
    doc.descendants()
        .filter(|n| n.has_tag_name("g"))
        .map(|g| {
            let title = g
                .children()
                .find(|c| c.has_tag_name("title"))
                .and_then(|t| t.text())
                .expect("each bar has a title");
            // `features.2: 29,202,432 MACs (9.71%)`
            let (label, rest) = title.rsplit_once(": ").unwrap();
            let value: i64 = rest
                .split_whitespace()
                .next()
                .unwrap()
                .replace(',', "")
                .parse()
                .unwrap();
            let width: f64 = g
                .children()
                .find(|c| c.has_tag_name("rect"))
                .and_then(|r| r.attribute("width"))
                .unwrap()
                .parse()
                .unwrap();
            (label.to_owned(), value, width)
        })
        .collect()
}

#[test]
fn the_chart_shows_the_heaviest_modules_with_their_macs() {
    let svg = run_ok(&[
        "profile",
        &model("mobilenet_v2"),
        "--input",
        MOBILENET,
        "--format",
        "svg",
    ]);
    let chart = bars(&svg);
    // Independently: the MACs of each block, summed over the nodes of the JSON report whose
    // module path is features/features.N (or classifier/...).
    let report: Value = json_ok(&[
        "profile",
        &model("mobilenet_v2"),
        "--input",
        MOBILENET,
        "--format",
        "json",
    ]);
    let mut blocks: BTreeMap<String, i64> = BTreeMap::new();
    for n in report["nodes"].as_array().unwrap() {
        let module = module_path(n);
        let block = match module.as_slice() {
            ["features", block, ..] => (*block).to_owned(),
            ["classifier", ..] => "classifier".to_owned(),
            _ => continue,
        };
        *blocks.entry(block).or_default() += n["macs"].as_i64().unwrap();
    }
    let mut expected: Vec<(String, i64)> = blocks.into_iter().filter(|(_, v)| *v > 0).collect();
    expected.sort_by_key(|(_, v)| std::cmp::Reverse(*v));
    assert_eq!(
        expected.len(),
        20,
        "features.0 … features.18 and the classifier"
    );
    let got: Vec<(String, i64)> = chart.iter().map(|(l, v, _)| (l.clone(), *v)).collect();
    // Equal values may come in either order; compare as sorted (value, label) lists.
    let key = |v: &[(String, i64)]| {
        let mut v = v.to_vec();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v
    };
    assert_eq!(key(&got), key(&expected));
    assert!(
        got.windows(2).all(|w| w[0].1 >= w[1].1),
        "heaviest first: {got:?}"
    );
    // Bars are drawn to scale.
    let (_, v0, w0) = chart[0];
    for (label, v, w) in &chart {
        let expected = *v as f64 / v0 as f64 * w0;
        assert!((w - expected).abs() < 0.1, "{label}: {w} vs {expected}");
    }
}

#[test]
fn a_model_without_scopes_charts_its_heaviest_nodes() {
    let svg = run_ok(&[
        "profile",
        &model("light_resnet50"),
        "--input",
        "gpu_0/data_0=1x3x224x224",
        "--format",
        "svg",
    ]);
    assert!(svg.contains("Heaviest nodes by MACs"));
    let chart = bars(&svg);
    assert_eq!(chart.len(), 20);
    assert!(
        chart.iter().all(|(l, _, _)| l.ends_with("(Conv)")),
        "{chart:?}"
    );
}

#[test]
fn a_symbolic_report_says_what_to_give_instead_of_a_chart() {
    let svg = run_ok(&["profile", &model("mobilenet_v2"), "--format", "svg"]);
    assert!(bars(&svg).is_empty());
    assert!(svg.contains("give --input or --dim"), "{svg}");
}

fn html(model_name: &str, input: &str) -> String {
    run_ok(&[
        "profile",
        &model(model_name),
        "--input",
        input,
        "--format",
        "html",
    ])
}

#[test]
fn the_page_is_self_contained() {
    for (m, input) in [
        ("mobilenet_v2", MOBILENET),
        ("tiny_gpt2", "input_ids=1x128"),
    ] {
        let page = html(m, input);
        assert!(page.starts_with("<!DOCTYPE html>"));
        // Scripts are inline (the layer table sorts and filters), nothing is fetched.
        for banned in FETCHES {
            assert!(!page.contains(banned), "{m}: {banned}");
        }
        // The only address is the SVG namespace.
        let addresses = page.matches("http").count();
        assert_eq!(
            addresses,
            page.matches("http://www.w3.org/2000/svg").count(),
            "{m}"
        );
        for id in ["chart", "tree", "layers", "ops", "memory"] {
            assert!(page.contains(&format!("<h2 id=\"{id}\">")), "{m}: {id}");
        }
        assert_eq!(page.matches("<svg").count(), 1);
    }
    // Every layer of the layers view is a row of the page's layer table.
    let page = html("mobilenet_v2", MOBILENET);
    let layers = run_ok(&[
        "profile",
        &model("mobilenet_v2"),
        "--input",
        MOBILENET,
        "--format",
        "csv",
    ]);
    for line in layers.lines().skip(1) {
        let layer = line.split(',').nth(1).unwrap();
        assert!(page.contains(&format!("<td>{layer}</td>")), "{layer}");
    }
}

/// Pixels of `rgb` in an RGB(A) PNG.
fn count_pixels(png_path: &Path, rgbs: &[[u8; 3]]) -> Vec<usize> {
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(png_path).unwrap(),
    ));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let step = match info.color_type {
        png::ColorType::Rgba => 4,
        png::ColorType::Rgb => 3,
        other => panic!("unexpected PNG colour type {other:?}"),
    };
    let data = &buf[..info.buffer_size()];
    rgbs.iter()
        .map(|rgb| {
            data.chunks_exact(step)
                .filter(|px| px[..3] == rgb[..])
                .count()
        })
        .collect()
}

#[test]
#[cfg_attr(
    not(has_chromium),
    ignore = "needs Chromium: Debian's package `chromium`, or set CHROMIUM"
)]
fn the_page_renders_in_headless_chromium() {
    let browser = tests::chromium();
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("html-report");
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("mobilenet_v2.html");
    std::fs::write(&page, html("mobilenet_v2", MOBILENET)).unwrap();
    let shot = dir.join("mobilenet_v2.png");
    let _ = std::fs::remove_file(&shot);
    let out = Command::new(&browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            "--window-size=1280,3600",
        ])
        .arg(format!("--user-data-dir={}", dir.join("profile").display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    assert!(
        shot.is_file(),
        "no screenshot; chromium said: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The heaviest bar (amber), the other bars (blue), table headers (grey) and the heaviest
    // child rows of the tree (pale yellow) are all on screen.
    let counts = count_pixels(
        &shot,
        &[
            [217, 119, 6],
            [59, 130, 246],
            [243, 244, 246],
            [254, 243, 199],
        ],
    );
    let bar = 420 * 16;
    assert!(counts[0] >= bar * 9 / 10, "heaviest bar: {counts:?}");
    assert!(counts[1] >= bar * 5, "other bars: {counts:?}");
    assert!(counts[2] >= 5_000, "table headers: {counts:?}");
    assert!(counts[3] >= 5_000, "emphasised tree rows: {counts:?}");
    let _ = writeln!(
        std::io::stderr(),
        "screenshot of the HTML report: {}",
        shot.display()
    );
}

/// The page of the symbolic MobileNetV2: controls for its free dims, its script inline.
fn symbolic_page() -> String {
    run_ok(&["profile", &model("mobilenet_v2"), "--format", "html"])
}

#[test]
fn a_symbolic_page_carries_its_dims_and_its_script_inline() {
    let page = symbolic_page();
    for d in ["batch", "height", "width"] {
        assert!(page.contains(&format!("id=\"dim-range-{d}\"")), "{d}");
    }
    // Self-contained: inline scripts only, nothing fetched.
    for banned in FETCHES {
        assert!(!page.contains(banned), "{banned}");
    }
    assert!(page.contains("data-f=\""));
    // Readable without scripts: the controls are hidden and the figures are the formulas.
    assert!(page.contains("id=\"dims\" class=\"dims\" hidden"));
    // A dim bound on the command line has no control; the page says its value.
    let bound = run_ok(&[
        "profile",
        &model("mobilenet_v2"),
        "--dim",
        "batch=8",
        "--format",
        "html",
    ]);
    assert!(!bound.contains("id=\"dim-range-batch\""));
    assert!(bound.contains("id=\"dim-range-height\""));
    assert!(bound.contains(">batch = 8</span>"));
}

/// Chromium's DOM of `page` after its scripts ran, opened at `fragment`.
fn dump_dom(name: &str, page: &str, fragment: &str) -> String {
    let browser = tests::chromium();
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("html-live");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("{name}.html"));
    std::fs::write(&file, page).unwrap();
    let out = Command::new(&browser)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom"])
        .arg(format!(
            "--user-data-dir={}",
            dir.join(format!("profile-{name}")).display()
        ))
        .arg(format!("file://{}{fragment}", file.display()))
        .output()
        .expect("chromium runs");
    let dom = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        dom.contains("</html>"),
        "no DOM; chromium said: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    dom
}

#[test]
#[cfg_attr(
    not(has_chromium),
    ignore = "needs Chromium: Debian's package `chromium`, or set CHROMIUM"
)]
fn the_fragment_sets_the_dims_and_the_figures_follow() {
    let dom = dump_dom(
        "mobilenet",
        &symbolic_page(),
        "#batch=32&height=320&width=320",
    );
    // What `flopscope profile --dim batch=32 --dim height=320 --dim width=320` gives.
    let r: Value = json_ok(&[
        "profile",
        &model("mobilenet_v2"),
        "--dim",
        "batch=32",
        "--dim",
        "height=320",
        "--dim",
        "width=320",
        "--format",
        "json",
    ]);
    let macs = r["totals"]["macs"].as_i64().unwrap();
    assert_eq!(macs, 19_599_769_600);
    let with_commas = |v: i64| {
        let s = v.to_string();
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            if i > 0 && (s.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        out
    };
    for key in ["macs", "flops", "peak_activation_bytes"] {
        let v = r["totals"][key].as_i64().unwrap();
        let shown = if key == "peak_activation_bytes" {
            format!("{:.2} MB", v as f64 / 1e6)
        } else {
            with_commas(v)
        };
        assert!(dom.contains(&shown), "{key}: {shown} not on the page");
    }
    assert!(dom.contains("19.60 GMACs"), "the MACs card");
    // Layer rows and module rows follow too: the first convolution's MACs, as the concrete
    // profile has them, and the `features` module's share of the MACs.
    let conv = r["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["op_type"] == "Conv")
        .unwrap();
    let conv_macs = conv["macs"].as_i64().unwrap();
    assert_eq!(conv_macs, 32 * 160 * 160 * 32 * 3 * 9);
    assert!(
        dom.contains(&format!("{:.2} M</td>", conv_macs as f64 / 1e6)),
        "the first Conv row"
    );
    // The op types: every Conv together, the MACs but the classifier's Gemm (1280 · 1000 · 32).
    let conv_total = macs - 1280 * 1000 * 32;
    let conv_row = dom
        .find("<td>Conv</td><td class=\"n\">")
        .map(|i| &dom[i..dom[i..].find("</tr>").map_or(dom.len(), |e| i + e)])
        .expect("the Conv row of the op types");
    assert!(
        conv_row.contains(&format!("{:.2} GMACs</td>", conv_total as f64 / 1e9)),
        "the Conv op row: {conv_row}"
    );
    // The controls show the fragment's values.
    assert!(dom.contains("data-eval-ms"), "the script ran");
}

#[test]
#[cfg_attr(
    not(has_chromium),
    ignore = "needs Chromium: Debian's package `chromium`, or set CHROMIUM"
)]
fn the_page_evaluates_formulas_as_the_rust_evaluator_does() {
    // Every node formula of several symbolic reports (ceil, floor, min, max among them), at
    // pseudo-random bindings, evaluated by the page's script and by flopscope_ir::Dim.
    let mut cases: Vec<(String, BTreeMap<String, i64>)> = Vec::new();
    let mut state: u64 = 11;
    let mut next = |below: u64| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        1 + i64::try_from((state >> 33) % below).unwrap()
    };
    for file in [
        "models/mobilenet_v2.onnx",
        "models/tiny_gpt2.onnx",
        "models/tiny_llama_kv.onnx",
        "exports/swin_t_legacy.onnx",
        "exports/tiny_wav2vec2_dynamo.onnx",
    ] {
        let r: Value = json_ok(&[
            "profile",
            &fixture(file).display().to_string(),
            "--format",
            "json",
        ]);
        let mut formulas: Vec<String> = Vec::new();
        for n in r["nodes"].as_array().unwrap() {
            for key in ["macs", "flops", "bytes"] {
                if let Some(f) = n[key].as_str() {
                    formulas.push(f.to_owned());
                }
            }
        }
        for key in [
            "macs",
            "flops",
            "bytes",
            "peak_activation_bytes",
            "activation_bytes",
        ] {
            if let Some(f) = r["totals"][key].as_str() {
                formulas.push(f.to_owned());
            }
        }
        formulas.sort();
        formulas.dedup();
        for f in formulas {
            let dim = flopscope::ir::Dim::parse(&f).unwrap();
            let binding: BTreeMap<String, i64> = dim
                .symbols()
                .iter()
                .map(|s| (s.to_string(), next(600)))
                .collect();
            cases.push((f, binding));
        }
    }
    assert!(cases.len() > 300, "{} cases", cases.len());
    assert!(cases.iter().any(|(f, _)| f.contains("ceil(")));
    assert!(cases.iter().any(|(f, _)| f.contains("max(")));
    let json = serde_json::to_string(
        &cases
            .iter()
            .map(|(f, b)| serde_json::json!([f, b]))
            .collect::<Vec<_>>(),
    )
    .unwrap()
    .replace('<', "\\u003c");
    let page = symbolic_page().replace(
        "</body>",
        &format!(
            "<pre id=\"results\"></pre><script>const cases = {json};\n\
             document.getElementById('results').textContent = cases.map(([f, b]) => \
             {{ try {{ return window.flopscope.value(f, b); }} catch (e) {{ return 'error ' + e; }} }}).join('\\n');\
             </script>\n</body>"
        ),
    );
    let dom = dump_dom("evaluator", &page, "");
    let start = dom.find("<pre id=\"results\">").expect("results") + "<pre id=\"results\">".len();
    let end = start + dom[start..].find("</pre>").expect("end of results");
    let got: Vec<&str> = dom[start..end].lines().collect();
    assert_eq!(got.len(), cases.len());
    for ((f, b), g) in cases.iter().zip(got) {
        let want = flopscope::ir::Dim::parse(f)
            .unwrap()
            .eval(&|s| b.get(s).copied())
            .unwrap();
        assert_eq!(g, want.to_string(), "{f} at {b:?}");
    }
}

#[test]
#[cfg_attr(
    not(has_chromium),
    ignore = "needs Chromium: Debian's package `chromium`, or set CHROMIUM"
)]
fn the_layer_table_sorts_and_filters() {
    // Filter the concrete MobileNetV2 page's layers to the Conv nodes ("(conv)": the op in the
    // layer cell; "conv" alone also matches module names), sort them by MACs
    // (descending): the first row is the heaviest Conv of the JSON report.
    let page = html("mobilenet_v2", MOBILENET).replace(
        "</body>",
        "<script>const t = document.querySelector('table.sortable');\n\
         window.flopscope.filterTable(t, '(conv)');\n\
         t.tHead.rows[0].cells[5].click();\n\
         const shown = Array.from(t.tBodies[0].rows).filter((r) => !r.hidden);\n\
         document.body.dataset.shown = shown.length;\n\
         document.body.dataset.first = shown[0].cells[1].textContent;\n\
         document.body.dataset.ops = [...new Set(shown.map((r) => r.cells[1].textContent.replace(/.*\\(/, '')))].join(' ');\n\
         </script>\n</body>",
    );
    assert!(page.contains("class=\"sortable\""));
    let dom = dump_dom("sortable", &page, "");
    let attr = |name: &str| {
        let key = format!("data-{name}=\"");
        let i = dom.find(&key).unwrap_or_else(|| panic!("no {key}")) + key.len();
        dom[i..i + dom[i..].find('"').unwrap()].to_owned()
    };
    let r: Value = json_ok(&[
        "profile",
        &model("mobilenet_v2"),
        "--input",
        MOBILENET,
        "--format",
        "json",
    ]);
    let convs: Vec<&Value> = r["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["op_type"] == "Conv")
        .collect();
    assert_eq!(attr("shown"), convs.len().to_string());
    assert_eq!(attr("ops"), "Conv)");
    let heaviest = convs
        .iter()
        .max_by_key(|n| n["macs"].as_i64().unwrap())
        .unwrap();
    let name = heaviest["name"].as_str().unwrap();
    assert!(
        attr("first").starts_with(name),
        "{} vs {name}",
        attr("first")
    );
}

#[test]
fn a_page_with_hardware_shows_its_roofline() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("html-report");
    std::fs::create_dir_all(&dir).unwrap();
    let svg = dir.join("mobilenet_v2_h100.svg");
    let page = run_ok(&[
        "profile",
        &model("mobilenet_v2"),
        "--input",
        MOBILENET,
        "--hardware",
        "h100-sxm",
        "--roofline",
        &svg.display().to_string(),
        "--format",
        "html",
    ]);
    // The roofline `--roofline` draws, in the page after its estimate.
    let roofline = &page[page
        .find("<h2 id=\"roofline\">")
        .expect("a roofline section")..];
    let drawn = std::fs::read_to_string(&svg).unwrap();
    assert!(
        roofline.contains(drawn.trim()),
        "the page's roofline is --roofline's"
    );
    assert!(roofline.contains("estimated"));
    assert!(page.contains("<a href=\"#roofline\">"));
    // Without hardware (or bench data) there is none.
    assert!(!html("mobilenet_v2", MOBILENET).contains("id=\"roofline\""));
}
