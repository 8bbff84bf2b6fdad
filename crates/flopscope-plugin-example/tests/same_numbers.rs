//! The two routes to a custom op give the same numbers: the Rust plugin's `FusedMLP` and the
//! TOML declaration of `fixtures/op-costs/fused_mlp.toml`, in one process. (The plugin is
//! linked here, so the TOML op is declared under another domain, `com.example.toml`, and the
//! model's node is moved to that domain for the second profile.)

use std::path::PathBuf;

use flopscope_counters::{NodeProfile, ProfileOptions};
use flopscope_ir::Dim;

use flopscope_plugin_example as _;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn mlp(profile: &flopscope_counters::Profile) -> &NodeProfile {
    profile
        .nodes
        .iter()
        .find(|n| n.op_type == "FusedMLP")
        .expect("the FusedMLP node")
}

#[test]
fn plugin_and_toml_count_fused_mlp_alike() {
    let path = root().join("fixtures/models/fused_mlp.onnx");
    let model = flopscope_onnx::load(&path).unwrap();
    let text = std::fs::read_to_string(root().join("fixtures/op-costs/fused_mlp.toml")).unwrap();
    assert!(text.contains("domain = \"com.example\""));
    let toml = text.replace("domain = \"com.example\"", "domain = \"com.example.toml\"");
    let declared = flopscope::op_costs::declared(
        &flopscope::op_costs::parse(&toml, &root().join("fused_mlp.toml")).unwrap(),
    );
    let mut moved = model.clone();
    for node in &mut moved.graph.nodes {
        if node.op_type == "FusedMLP" {
            node.domain = "com.example.toml".into();
        }
    }
    moved.opsets.insert("com.example.toml".into(), 1);

    for shape in [Some([3, 16, 64]), None] {
        let mut options = ProfileOptions::default();
        if let Some(s) = shape {
            options
                .inputs
                .insert("X".into(), s.map(Dim::from_i64).to_vec());
        }
        let plugin = flopscope_counters::profile(&model, &options).unwrap();
        options.declared_ops = declared.clone();
        let toml = flopscope_counters::profile(&moved, &options).unwrap();
        let (a, b) = (mlp(&plugin), mlp(&toml));
        assert_eq!(a.domain, "com.example");
        assert_eq!(b.domain, "com.example.toml");
        assert!(a.uncounted.is_none() && b.uncounted.is_none());
        assert_eq!(a.cost, b.cost, "MACs and FLOPs by kind");
        assert_eq!(a.params, b.params);
        assert_eq!(a.outputs[0].1, b.outputs[0].1, "output type");
        assert_eq!(plugin.totals.macs, toml.totals.macs);
        assert_eq!(plugin.totals.total_flops(), toml.totals.total_flops());
        assert_eq!(plugin.totals.params, toml.totals.params);
        assert_eq!(plugin.totals.bytes, toml.totals.bytes);
    }
}
