//! HTML building blocks: text escaping and the colour of a PRM probability.

/// Escapes `&`, `<`, `>`, `"` and `'` so any text is safe in element content and in quoted
/// attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Background colour of a step with PRM probability `p`: red (0) through yellow (0.5) to green
/// (1), light enough for black text; grey when unknown.
pub fn prob_color(p: Option<f64>) -> String {
    match p.filter(|p| p.is_finite()) {
        Some(p) => format!("hsl({:.0}, 75%, 82%)", 120.0 * p.clamp(0.0, 1.0)),
        None => "#e3e3e3".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape(r#"<script>alert("x&y")</script> it's"#),
            "&lt;script&gt;alert(&quot;x&amp;y&quot;)&lt;/script&gt; it&#39;s"
        );
        assert_eq!(escape(r"\frac{1}{2} ✓"), r"\frac{1}{2} ✓");
    }

    #[test]
    fn colours_span_red_to_green() {
        assert_eq!(prob_color(Some(0.0)), "hsl(0, 75%, 82%)");
        assert_eq!(prob_color(Some(0.5)), "hsl(60, 75%, 82%)");
        assert_eq!(prob_color(Some(2.0)), "hsl(120, 75%, 82%)");
        assert_eq!(prob_color(None), "#e3e3e3");
        assert_eq!(prob_color(Some(f64::NAN)), "#e3e3e3");
    }
}
