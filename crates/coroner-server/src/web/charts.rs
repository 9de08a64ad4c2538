//! Charts drawn on the server as SVG: they read without JavaScript, scale
//! with the page, and carry a text equivalent (`<title>`, `aria-label`).

use super::session::html_escape;
use std::fmt::Write;

const BAR: &str = "#0b5cad";

/// A row's sparkline: one bar per day, oldest first.
pub fn sparkline(days: &[i64]) -> String {
    let (w, h) = (120.0, 24.0);
    let max = days.iter().copied().max().unwrap_or(0).max(1) as f64;
    let step = w / days.len().max(1) as f64;
    let total: i64 = days.iter().sum();
    let mut svg = format!(
        "<svg class=\"chart\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\" \
         aria-label=\"{total} crashes in the last {} days\"><title>{total} crashes in the last {} days</title>\
         <line x1=\"0\" y1=\"{h}\" x2=\"{w}\" y2=\"{h}\" stroke=\"#d5dae0\"/>",
        days.len(),
        days.len()
    );
    for (i, &n) in days.iter().enumerate().filter(|(_, &n)| n > 0) {
        let bh = (n as f64 / max * (h - 2.0)).max(1.5);
        let _ = write!(
            svg,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"{BAR}\"/>",
            i as f64 * step,
            h - bh,
            (step - 1.0).max(1.0)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// A labelled bar chart: one bar per (label, count), in the order given.
/// Labels show under their bars when few, else every n-th.
pub fn bars(what: &str, points: &[(String, i64)]) -> String {
    if points.is_empty() {
        return "<p class=\"muted\">No data.</p>".into();
    }
    let (w, h, pad_l, pad_b) = (720.0, 200.0, 36.0, 54.0);
    let plot_w = w - pad_l - 8.0;
    let plot_h = h - pad_b - 10.0;
    let max = points.iter().map(|p| p.1).max().unwrap_or(0).max(1);
    let step = plot_w / points.len() as f64;
    let every = points.len().div_ceil(12);
    let total: i64 = points.iter().map(|p| p.1).sum();
    let mut svg = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {w} {h}\" width=\"100%\" style=\"max-width:{w}px\" role=\"img\" \
         aria-label=\"{}: {total} crashes\"><title>{}</title>",
        html_escape(what),
        html_escape(what)
    );
    let _ = write!(
        svg,
        "<text x=\"{}\" y=\"14\" text-anchor=\"end\">{max}</text><text x=\"{}\" y=\"{}\" text-anchor=\"end\">0</text>\
         <line x1=\"{pad_l}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#8c96a3\"/>",
        pad_l - 4.0,
        pad_l - 4.0,
        10.0 + plot_h,
        10.0 + plot_h,
        w - 8.0,
        10.0 + plot_h
    );
    for (i, (label, n)) in points.iter().enumerate() {
        let bh = (*n as f64 / max as f64 * plot_h).max(if *n > 0 { 1.5 } else { 0.0 });
        let x = pad_l + i as f64 * step;
        let _ = write!(
            svg,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"{BAR}\"><title>{}: {n}</title></rect>",
            x + step * 0.1,
            10.0 + plot_h - bh,
            (step * 0.8).max(1.0),
            html_escape(label)
        );
        if i % every == 0 {
            let short: String = label.chars().take(22).collect();
            let _ = write!(
                svg,
                "<text x=\"{:.1}\" y=\"{:.1}\" transform=\"rotate(30 {:.1} {:.1})\">{}</text>",
                x + step * 0.3,
                10.0 + plot_h + 14.0,
                x + step * 0.3,
                10.0 + plot_h + 14.0,
                html_escape(&short)
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_escape_labels_and_scale_to_the_largest() {
        let svg = bars("by release", &[("<a>".into(), 2), ("b".into(), 4)]);
        assert!(svg.contains("&lt;a&gt;: 2") && !svg.contains("<a>"));
        assert!(
            svg.contains(">4</text>"),
            "the axis names the largest count"
        );
        let spark = sparkline(&[0, 3, 0, 6]);
        assert_eq!(
            spark.matches("<rect").count(),
            2,
            "days without crashes draw nothing"
        );
        assert!(spark.contains("9 crashes in the last 4 days"));
    }
}
