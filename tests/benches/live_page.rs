//! How fast the live HTML page follows a slider, in headless Chromium: `cargo bench -p tests
//! --bench live_page`. For each page, a key on its first slider is pressed again and again
//! (right, then left) and the page's own timings are read back: the script's time to
//! re-evaluate every formula and redraw (`data-eval-ms`), and the time until the next frame is
//! drawn (`data-frame-ms`: style, layout and paint included). The baseline, in the same run, is
//! the page redrawn with its dims unchanged. The budget is 50 ms a move.
//!
//! Without Chromium it says so and measures nothing.

use std::io::Write;
use std::path::PathBuf;

use tests::browser::{Browser, Page};
use tests::{fixture, flopscope};

/// Moves per page; the medians are reported.
const MOVES: usize = 21;
const BUDGET_MS: f64 = 50.0;

/// (eval ms, frame ms) of what `act` (JavaScript, or a key press when `None`) started.
fn timed(page: &Page<'_>, slider: &str, key: &str, act: Option<&str>) -> (f64, f64) {
    page.eval::<bool>("delete document.documentElement.dataset.frameMs; true");
    match act {
        Some(js) => {
            page.eval::<bool>(js);
        }
        None => page.press_key(slider, key),
    }
    let (eval, frame): (String, String) = page.eval(
        "new Promise((resolve) => { const r = document.documentElement; \
         const check = () => r.dataset.frameMs !== undefined \
           ? resolve([r.dataset.evalMs, r.dataset.frameMs]) : setTimeout(check, 2); check(); })",
    );
    (eval.parse().unwrap(), frame.parse().unwrap())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let mut out = std::io::stdout();
    if let Err(why) = tests::find_chromium() {
        let _ = writeln!(out, "live_page: skipped: {why}");
        return;
    }
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("live-page-bench");
    std::fs::create_dir_all(&dir).unwrap();
    let browser = Browser::launch();
    let _ = writeln!(
        out,
        "| page | bytes | nodes | move: script ms | move: to frame ms | unchanged: to frame ms | move ÷ unchanged | move ÷ 50 ms budget |\n|---|---|---|---|---|---|---|---|"
    );
    for (name, slider) in [
        ("mobilenet_v2", "batch"),
        ("light_densenet121_dyn", "height"),
        ("tiny_gpt2", "seq"),
    ] {
        let model = fixture(&format!("models/{name}.onnx"));
        let run = flopscope(&["profile", &model.display().to_string(), "--format", "html"]);
        assert!(run.success(), "{}", run.stderr);
        let file = dir.join(format!("{name}.html"));
        std::fs::write(&file, &run.stdout).unwrap();
        let page = browser.open(&file, "");
        let nodes: usize = page.eval("flopscope.data.memory.names.length");
        let css = format!("#dim-range-{slider}");
        // One move each way first: the formulas' parse trees are then cached, as after any
        // first move.
        timed(&page, &css, "ArrowRight", None);
        timed(&page, &css, "ArrowLeft", None);
        let (mut evals, mut frames, mut unchanged) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..MOVES {
            let key = if i % 2 == 0 {
                "ArrowRight"
            } else {
                "ArrowLeft"
            };
            let (e, f) = timed(&page, &css, key, None);
            evals.push(e);
            frames.push(f);
            unchanged.push(timed(&page, &css, key, Some("flopscope.update(); true")).1);
        }
        let (e, f, u) = (median(evals), median(frames), median(unchanged));
        let _ = writeln!(
            out,
            "| {name} | {} | {nodes} | {e:.1} | {f:.1} | {u:.1} | {:.2} | {:.2} |",
            run.stdout.len(),
            f / u,
            f / BUDGET_MS
        );
    }
}
