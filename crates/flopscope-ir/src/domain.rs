//! The one rule for operator domains. ONNX's default domain is written `""` or `ai.onnx` in
//! models; flopscope keys it as `""` (the frontend normalises every node, function and opset
//! import once) and shows it as `ai.onnx`. Code that compares, keys or prints a domain goes
//! through these functions, so that the two spellings never meet anywhere else.

/// The spelling users see for the default domain.
pub const DEFAULT_DOMAIN_NAME: &str = "ai.onnx";

/// The key of a domain: `""` for the default domain in either spelling, the domain itself
/// otherwise.
pub fn domain_key(domain: &str) -> &str {
    if domain == DEFAULT_DOMAIN_NAME {
        ""
    } else {
        domain
    }
}

/// The domain as users write it: `ai.onnx` for the default domain in either spelling.
pub fn display_domain(domain: &str) -> &str {
    if domain.is_empty() {
        DEFAULT_DOMAIN_NAME
    } else {
        domain
    }
}

/// Whether two spellings name the same domain.
pub fn same_domain(a: &str, b: &str) -> bool {
    domain_key(a) == domain_key(b)
}

/// Whether a domain is the default one, in either spelling.
pub fn is_default_domain(domain: &str) -> bool {
    domain_key(domain).is_empty()
}

/// An op as tables show it: `Conv` in the default domain, `com.microsoft::Attention`
/// elsewhere.
pub fn op_label(domain: &str, op_type: &str) -> String {
    if is_default_domain(domain) {
        op_type.to_owned()
    } else {
        format!("{domain}::{op_type}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_spellings_of_the_default_domain_are_one_domain() {
        assert_eq!(domain_key("ai.onnx"), "");
        assert_eq!(domain_key(""), "");
        assert_eq!(domain_key("com.microsoft"), "com.microsoft");
        assert_eq!(display_domain(""), "ai.onnx");
        assert_eq!(display_domain("ai.onnx"), "ai.onnx");
        assert!(same_domain("", "ai.onnx"));
        assert!(!same_domain("", "com.microsoft"));
        assert_eq!(op_label("ai.onnx", "Conv"), "Conv");
        assert_eq!(op_label("", "Conv"), "Conv");
        assert_eq!(
            op_label("com.microsoft", "Attention"),
            "com.microsoft::Attention"
        );
    }
}
