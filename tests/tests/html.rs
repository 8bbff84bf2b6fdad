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
use tests::{fixture, flopscope};

fn model(name: &str) -> String {
    fixture(&format!("models/{name}.onnx"))
        .display()
        .to_string()
}

fn run(args: &[&str]) -> String {
    let run = flopscope(args);
    assert!(run.success(), "{}", run.stderr);
    run.stdout
}

const MOBILENET: &str = "input=1x3x224x224";

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
    let svg = run(&[
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
    let report: Value = serde_json::from_str(&run(&[
        "profile",
        &model("mobilenet_v2"),
        "--input",
        MOBILENET,
        "--format",
        "json",
    ]))
    .unwrap();
    let mut blocks: BTreeMap<String, i64> = BTreeMap::new();
    for n in report["nodes"].as_array().unwrap() {
        let module: Vec<&str> = n["module"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect();
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
    let svg = run(&[
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
    let svg = run(&["profile", &model("mobilenet_v2"), "--format", "svg"]);
    assert!(bars(&svg).is_empty());
    assert!(svg.contains("give --input or --dim"), "{svg}");
}

fn html(model_name: &str, input: &str) -> String {
    run(&[
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
        for banned in ["<script", "<link", " src=", "url(", "@import", "<iframe"] {
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
    let layers = run(&[
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
            "--window-size=1280,1400",
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
