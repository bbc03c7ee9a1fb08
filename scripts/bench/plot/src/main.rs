//! Grouped bar charts as PNG for `scripts/bench/run.sh`:
//!
//! ```text
//! tcpterm-plot --out F.png --title T [--ylabel U] [--series A,B,..] [--target V:LABEL]
//!              GROUP=V[,V..] ...
//! ```
//!
//! One group of bars per `GROUP=...` argument, one bar per series (colours and legend from
//! `--series`), each bar labelled with its value. `--target` draws a dashed horizontal line.
//! A value of `-` leaves that bar out (a step that did not run). Text needs a TrueType font:
//! `$PLOT_FONT`, else DejaVu Sans from Debian's fonts-dejavu-core.

use plotters::prelude::*;
use plotters::style::text_anchor;
use plotters::style::{register_font, FontStyle};
use std::process::ExitCode;

struct Chart {
    out: String,
    title: String,
    ylabel: String,
    series: Vec<String>,
    target: Option<(f64, String)>,
    groups: Vec<(String, Vec<Option<f64>>)>,
}

fn parse(args: &[String]) -> Result<Chart, String> {
    let mut c = Chart {
        out: String::new(),
        title: String::new(),
        ylabel: String::new(),
        series: Vec::new(),
        target: None,
        groups: Vec::new(),
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match a.as_str() {
            "--out" => c.out = val("--out")?,
            "--title" => c.title = val("--title")?,
            "--ylabel" => c.ylabel = val("--ylabel")?,
            "--series" => c.series = val("--series")?.split(',').map(String::from).collect(),
            "--target" => {
                let v = val("--target")?;
                let (n, l) = v.split_once(':').unwrap_or((&v, "target"));
                let n = n
                    .parse()
                    .map_err(|_| format!("--target {v:?}: not a number"))?;
                c.target = Some((n, l.to_string()));
            }
            g => {
                let (name, vals) = g
                    .split_once('=')
                    .ok_or_else(|| format!("{g:?}: expected GROUP=V[,V..]"))?;
                let vals = vals
                    .split(',')
                    .map(|v| match v.trim() {
                        "-" | "" => Ok(None),
                        v => v
                            .parse::<f64>()
                            .map(Some)
                            .map_err(|_| format!("{g:?}: {v:?} is not a number")),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                c.groups.push((name.to_string(), vals));
            }
        }
    }
    if c.out.is_empty() || c.groups.is_empty() {
        return Err("usage: tcpterm-plot --out F.png --title T [--ylabel U] [--series A,B] [--target V:LABEL] GROUP=V[,V..]...".into());
    }
    let n = c.groups.iter().map(|(_, v)| v.len()).max().unwrap_or(1);
    if c.series.len() < n {
        c.series.resize(n, String::new());
    }
    Ok(c)
}

/// 1234567 -> "1.23M": bar labels stay short.
fn short(v: f64) -> String {
    let a = v.abs();
    if a >= 1e9 {
        format!("{:.2}G", v / 1e9)
    } else if a >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.1}k", v / 1e3)
    } else if a >= 100.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

fn draw(c: &Chart) -> Result<(), Box<dyn std::error::Error>> {
    let font = std::env::var("PLOT_FONT")
        .unwrap_or_else(|_| "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf".into());
    let bytes = std::fs::read(&font).map_err(|e| format!("font {font}: {e}"))?;
    // register_font wants 'static bytes; the process draws one chart and exits.
    register_font(
        "sans-serif",
        FontStyle::Normal,
        Box::leak(bytes.into_boxed_slice()),
    )
    .map_err(|_| format!("font {font}: not a TrueType font"))?;

    let n = c.series.len();
    let max = c
        .groups
        .iter()
        .flat_map(|(_, v)| v.iter().flatten())
        .copied()
        .chain(c.target.iter().map(|t| t.0))
        .fold(0.0f64, f64::max);
    let legend = c.series.iter().any(|s| !s.is_empty()) || c.target.is_some();
    // Headroom for the value labels, and for the legend in the upper right.
    let top = if max > 0.0 {
        max * if legend { 1.4 } else { 1.15 }
    } else {
        1.0
    };

    // Wide enough for the bars and for the title (22 px text: ~12 px a character).
    let width = (200 + 110 * c.groups.len() * n.max(1))
        .max(60 + 12 * c.title.chars().count())
        .clamp(640, 1600) as u32;
    let root = BitMapBackend::new(&c.out, (width, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    // Group g spans x = g..g + 1; its label sits at the centre.
    let ng = c.groups.len();
    let mut chart = ChartBuilder::on(&root)
        .caption(&c.title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(80)
        .build_cartesian_2d(0.0..ng as f64, 0.0..top)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .light_line_style(WHITE)
        .y_desc(&c.ylabel)
        .y_label_formatter(&|v| short(*v))
        // Group names are drawn below each group (plotters would pick its own tick points).
        .x_labels(0)
        .label_style(("sans-serif", 15))
        .draw()?;

    // Bars sit inside their group's segment; the segmented axis only knows whole groups, so
    // each bar is placed in pixels relative to its segment.
    let mut bars = Vec::new();
    let mut labels = Vec::new();
    {
        let area = chart.plotting_area();
        let px = |g: usize, y: f64| area.map_coordinate(&(g as f64, y));
        for s in 0..n {
            for (g, (_, vals)) in c.groups.iter().enumerate() {
                let Some(Some(v)) = vals.get(s) else { continue };
                let (x0, y0) = px(g, 0.0);
                let (x1, _) = px(g + 1, 0.0);
                let (_, yv) = px(g, *v);
                let seg = (x1 - x0) as f64;
                let bw = seg * 0.8 / n as f64;
                let bx = x0 as f64 + seg * 0.1 + bw * s as f64;
                bars.push((s, *v, bx, bw, yv, y0));
            }
        }
        for (g, (name, _)) in c.groups.iter().enumerate() {
            let (x0, y0) = px(g, 0.0);
            let (x1, _) = px(g + 1, 0.0);
            labels.push((name.clone(), (x0 + x1) / 2, y0 + 8));
        }
    }
    for (name, x, y) in labels {
        root.draw(&Text::new(
            name,
            (x, y),
            ("sans-serif", 15)
                .into_font()
                .color(&BLACK)
                .pos(text_anchor::Pos::new(
                    text_anchor::HPos::Center,
                    text_anchor::VPos::Top,
                )),
        ))?;
    }
    for (s, v, bx, bw, yv, y0) in bars {
        root.draw(&Rectangle::new(
            [(bx as i32 + 2, yv), ((bx + bw) as i32 - 2, y0)],
            Palette99::pick(s).mix(0.9).filled(),
        ))?;
        root.draw(&Text::new(
            short(v),
            ((bx + bw / 2.0) as i32, yv - 4),
            ("sans-serif", 14)
                .into_font()
                .color(&BLACK)
                .pos(text_anchor::Pos::new(
                    text_anchor::HPos::Center,
                    text_anchor::VPos::Bottom,
                )),
        ))?;
    }
    for (s, name) in c.series.iter().enumerate() {
        if !name.is_empty() {
            let colour = Palette99::pick(s).mix(0.9);
            // Legend entry: an empty series carries the label.
            chart
                .draw_series(std::iter::empty::<Rectangle<(f64, f64)>>())?
                .label(name.as_str())
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 6), (x + 14, y + 6)], colour.filled())
                });
        }
    }
    if let Some((v, label)) = &c.target {
        chart
            .draw_series(DashedLineSeries::new(
                [(0.0, *v), (ng as f64, *v)],
                8,
                5,
                RED.stroke_width(2),
            ))?
            .label(format!("{label}: {}", short(*v)))
            .legend(|(x, y)| PathElement::new([(x, y), (x + 14, y)], RED.stroke_width(2)));
    }
    if legend {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(("sans-serif", 14))
            .position(SeriesLabelPosition::UpperRight)
            .draw()?;
    }
    root.present()?;
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let chart = match parse(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tcpterm-plot: {e}");
            return ExitCode::from(2);
        }
    };
    match draw(&chart) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tcpterm-plot: {}: {e}", chart.out);
            ExitCode::FAILURE
        }
    }
}
