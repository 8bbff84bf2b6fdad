//! The module tree adds up: every module's children sum to it (MACs, params, FLOPs, nodes)
//! and their percentages to its percentage, at every level; MobileNetV2's `features` holds the
//! blocks `features.0` … `features.18`.

use tests::{fixture, flopscope};

/// One row of the tree view's CSV: depth, path, name, heaviest child, params, % params, MACs,
/// % MACs, FLOPs, nodes.
#[derive(Debug, Clone)]
struct Row {
    depth: usize,
    name: String,
    params: i64,
    params_pct: f64,
    macs: i64,
    macs_pct: f64,
    flops: i64,
    nodes: i64,
}

fn tree_rows(model: &str, input: &str) -> Vec<Row> {
    let run = flopscope(&[
        "profile",
        &fixture(&format!("models/{model}.onnx"))
            .display()
            .to_string(),
        "--input",
        input,
        "--view",
        "tree",
        "--depth",
        "99",
        "--format",
        "csv",
    ]);
    assert!(run.success(), "{}", run.stderr);
    run.stdout
        .lines()
        .skip(1)
        .map(|line| {
            let cells: Vec<&str> = line.split(',').collect();
            // Depth, path and name as columns: no drawing characters to strip.
            assert_eq!(cells.len(), 10, "{line}");
            assert!(!line.contains(['│', '├', '└', '★']), "{line}");
            let depth: usize = cells[0].parse().unwrap();
            let path = cells[1];
            assert_eq!(
                path.split('/').filter(|p| !p.is_empty()).count(),
                depth,
                "{line}"
            );
            assert!(path.ends_with(cells[2]) || depth == 0, "{line}");
            let pct = |s: &str| s.trim_end_matches('%').parse::<f64>().unwrap();
            Row {
                depth,
                name: cells[2].to_owned(),
                params: cells[4].parse().unwrap(),
                params_pct: pct(cells[5]),
                macs: cells[6].parse().unwrap(),
                macs_pct: pct(cells[7]),
                flops: cells[8].parse().unwrap(),
                nodes: cells[9].parse().unwrap(),
            }
        })
        .collect()
}

/// The rows directly under row `i`.
fn children(rows: &[Row], i: usize) -> Vec<&Row> {
    rows[i + 1..]
        .iter()
        .take_while(|r| r.depth > rows[i].depth)
        .filter(|r| r.depth == rows[i].depth + 1)
        .collect()
}

fn check_sums(rows: &[Row]) {
    assert_eq!(rows[0].name, "model");
    assert!((rows[0].macs_pct - 100.0).abs() < 1e-9);
    for (i, parent) in rows.iter().enumerate() {
        let kids = children(rows, i);
        if kids.is_empty() {
            continue;
        }
        let sum = |f: fn(&Row) -> i64| kids.iter().map(|r| f(r)).sum::<i64>();
        assert_eq!(sum(|r| r.macs), parent.macs, "MACs under {}", parent.name);
        assert_eq!(
            sum(|r| r.params),
            parent.params,
            "params under {}",
            parent.name
        );
        assert_eq!(
            sum(|r| r.flops),
            parent.flops,
            "FLOPs under {}",
            parent.name
        );
        assert_eq!(
            sum(|r| r.nodes),
            parent.nodes,
            "nodes under {}",
            parent.name
        );
        // Percentages are rounded to 0.01 each.
        let slack = 0.005 * (kids.len() + 1) as f64;
        let pct: f64 = kids.iter().map(|r| r.macs_pct).sum();
        assert!(
            (pct - parent.macs_pct).abs() <= slack,
            "% MACs under {}: {pct} vs {}",
            parent.name,
            parent.macs_pct
        );
        let pct: f64 = kids.iter().map(|r| r.params_pct).sum();
        assert!(
            (pct - parent.params_pct).abs() <= slack,
            "% params under {}: {pct} vs {}",
            parent.name,
            parent.params_pct
        );
    }
}

#[test]
fn mobilenet_v2_features_holds_its_blocks_and_everything_adds_up() {
    let rows = tree_rows("mobilenet_v2", "input=1x3x224x224");
    check_sums(&rows);
    let features = rows
        .iter()
        .position(|r| r.depth == 1 && r.name == "features")
        .expect("a features module");
    let blocks: Vec<&str> = children(&rows, features)
        .iter()
        .map(|r| r.name.as_str())
        .collect();
    let expected: Vec<String> = (0..19).map(|i| format!("features.{i}")).collect();
    assert_eq!(blocks, expected);
    // The top level: the percentages of the model's children make 100%.
    let top: f64 = children(&rows, 0).iter().map(|r| r.macs_pct).sum();
    assert!((top - 100.0).abs() < 0.02, "{top}");
}

#[test]
fn tiny_gpt2_tree_from_exporter_scopes_adds_up() {
    let rows = tree_rows("tiny_gpt2", "input_ids=1x128");
    check_sums(&rows);
    let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
    for block in ["m.transformer.h.0", "m.transformer.h.1", "m.lm_head"] {
        assert!(names.contains(&block), "{block} in {names:?}");
    }
    assert!(
        !names
            .iter()
            .any(|n| n.starts_with("_empty_nn_module_stack")),
        "torch's placeholder scope is not a module"
    );
}
