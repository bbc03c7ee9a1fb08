//! Grouped bar charts as PNG for `scripts/bench/run.sh`:
//!
//! ```text
//! tcpterm-plot --out F.png --title T [--ylabel U] [--series A,B,..] [--target V:LABEL]
//!              [--better higher|lower] [--log] GROUP=V[,V..] ...
//! ```
//!
//! One group of bars per `GROUP=...` argument, one bar per series (colours and legend from
//! `--series`), each bar labelled with its value. A value of `-` leaves that bar out (a step
//! that did not run; the group's other bars close up). A value may be the samples of several
//! rounds, `V1/V2/..`: the bar is their median (the lower middle one for an even count, as
//! run.sh takes it) and a whisker spans their minimum to maximum.
//!
//! `--target` draws a dashed horizontal line; `--better` says which side of it meets the
//! target. Labels never show a value on the other side of the target from where it is: they
//! are rounded toward the side that misses it (without `--better`: away from the target), with
//! more digits where that alone would print the target itself. Without a target, labels are
//! cut toward zero (9,999,085 prints 9.99M, never 10.00M). `--log` draws a logarithmic y axis.
//!
//! Text needs a TrueType font: `$PLOT_FONT`, else DejaVu Sans from Debian's fonts-dejavu-core.

use plotters::prelude::*;
use plotters::style::text_anchor;
use plotters::style::{register_font, FontStyle};
use std::process::ExitCode;

#[derive(Clone, Copy, PartialEq, Debug)]
enum Better {
    Higher,
    Lower,
}

/// One bar: the median of its samples, and their range.
#[derive(Clone, Copy, PartialEq, Debug)]
struct Bar {
    mid: f64,
    min: f64,
    max: f64,
    samples: usize,
}

impl Bar {
    fn of(mut v: Vec<f64>) -> Bar {
        v.sort_by(f64::total_cmp);
        Bar {
            mid: v[v.len().div_ceil(2) - 1],
            min: v[0],
            max: v[v.len() - 1],
            samples: v.len(),
        }
    }
}

struct Chart {
    out: String,
    title: String,
    ylabel: String,
    series: Vec<String>,
    target: Option<(f64, String)>,
    better: Option<Better>,
    log: bool,
    groups: Vec<(String, Vec<Option<Bar>>)>,
}

const USAGE: &str = "usage: tcpterm-plot --out F.png --title T [--ylabel U] [--series A,B] [--target V:LABEL] [--better higher|lower] [--log] GROUP=V[/V..][,V..]...";

fn parse(args: &[String]) -> Result<Chart, String> {
    let mut c = Chart {
        out: String::new(),
        title: String::new(),
        ylabel: String::new(),
        series: Vec::new(),
        target: None,
        better: None,
        log: false,
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
            "--log" => c.log = true,
            "--better" => {
                c.better = match val("--better")?.as_str() {
                    "higher" => Some(Better::Higher),
                    "lower" => Some(Better::Lower),
                    b => return Err(format!("--better {b:?}: expected higher or lower")),
                }
            }
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
                            .split('/')
                            .map(|s| s.trim().parse::<f64>().ok().filter(|x| x.is_finite()))
                            .collect::<Option<Vec<f64>>>()
                            .map(|s| Some(Bar::of(s)))
                            .ok_or_else(|| format!("{g:?}: {v:?} is not a number (or V/V/..)")),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                c.groups.push((name.to_string(), vals));
            }
        }
    }
    if c.out.is_empty() || c.groups.is_empty() {
        return Err(USAGE.into());
    }
    let n = c.groups.iter().map(|(_, v)| v.len()).max().unwrap_or(1);
    if c.series.len() < n {
        c.series.resize(n, String::new());
    }
    Ok(c)
}

/// The unit suffix and divisor that keep a label short.
fn scale(v: f64) -> (&'static str, f64) {
    let a = v.abs();
    if a >= 1e9 {
        ("G", 1e9)
    } else if a >= 1e6 {
        ("M", 1e6)
    } else if a >= 1e4 {
        ("k", 1e3)
    } else {
        ("", 1.0)
    }
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Round {
    Down,
    Up,
    TowardZero,
}

/// `v` with `d` decimals, rounded as asked: the largest d-decimal number not above `v` (Down)
/// or the smallest not below it (Up), checked against `v` itself so that float error in
/// `v * 10^d` cannot put it on the wrong side.
fn round_dec(v: f64, d: i32, r: Round) -> f64 {
    let r = match r {
        Round::TowardZero if v < 0.0 => Round::Up,
        Round::TowardZero => Round::Down,
        r => r,
    };
    let p = 10f64.powi(d);
    let mut k = (v * p).round();
    match r {
        Round::Down => {
            while k / p > v {
                k -= 1.0;
            }
            while (k + 1.0) / p <= v {
                k += 1.0;
            }
        }
        _ => {
            while k / p < v {
                k += 1.0;
            }
            while (k - 1.0) / p >= v {
                k -= 1.0;
            }
        }
    }
    k / p
}

/// The label of a bar: short, and on the same side of the target as the value.
fn label(v: f64, target: Option<f64>, better: Option<Better>) -> String {
    let (suffix, div) = scale(v);
    let mut d: i32 = if div > 1e3 {
        2
    } else if div > 1.0 {
        1
    } else if v.abs() >= 100.0 || v.fract() == 0.0 {
        0
    } else {
        2
    };
    let round = match (target, better) {
        (Some(t), _) if v == t => Round::TowardZero,
        (Some(_), Some(Better::Higher)) => Round::Down,
        (Some(_), Some(Better::Lower)) => Round::Up,
        (Some(t), None) if v < t => Round::Down,
        (Some(_), None) => Round::Up,
        (None, _) => Round::TowardZero,
    };
    loop {
        // Rounded in the label's unit, compared in the value's.
        let shown = round_dec(v / div, d, round);
        let crosses = target.is_some_and(|t| v != t && shown * div == t);
        if !crosses || d >= 9 {
            return format!("{shown:.*}{suffix}", d as usize);
        }
        d += 1;
    }
}

/// An axis tick: plain, shortest form.
fn tick(v: f64) -> String {
    let (suffix, div) = scale(v);
    let x = v / div;
    let s = format!("{x:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s}{suffix}")
}

/// How the y axis places values: linear from 0, or log10 over whole decades.
struct YAxis {
    log: bool,
    lo: f64,
    hi: f64,
}

impl YAxis {
    /// `legend`: the number of legend entries, which sit in the upper right above the bars.
    fn new(c: &Chart, legend: usize) -> YAxis {
        let vals: Vec<f64> = c
            .groups
            .iter()
            .flat_map(|(_, v)| v.iter().flatten())
            .flat_map(|b| [b.min, b.max])
            .chain(c.target.iter().map(|t| t.0))
            .collect();
        let max = vals.iter().copied().fold(0.0f64, f64::max);
        // The share of the plot's height (~370 px) above the highest bar: its value label
        // (~20 px) and the legend (~18 px an entry, plus its frame).
        let room = (20.0
            + if legend > 0 {
                20.0 + 18.0 * legend as f64
            } else {
                0.0
            })
            / 370.0;
        if c.log {
            let min_pos = vals
                .iter()
                .copied()
                .filter(|v| *v > 0.0)
                .fold(f64::INFINITY, f64::min);
            let (min_pos, max) = if min_pos.is_finite() {
                (min_pos, max)
            } else {
                (1.0, 10.0)
            };
            let mut lo = min_pos.log10().floor();
            // A bar exactly at the bottom would have no height.
            if min_pos.log10() - lo < 0.15 {
                lo -= 1.0;
            }
            let hi = (lo + (max.log10() - lo).max(0.5) / (1.0 - room)).ceil();
            YAxis { log: true, lo, hi }
        } else {
            let hi = if max > 0.0 { max / (1.0 - room) } else { 1.0 };
            YAxis {
                log: false,
                lo: 0.0,
                hi,
            }
        }
    }

    /// The chart coordinate of a value (values at or below zero sit on a log axis's floor).
    fn y(&self, v: f64) -> f64 {
        if !self.log {
            v
        } else if v > 0.0 {
            v.log10().max(self.lo)
        } else {
            self.lo
        }
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

    let rounds = c
        .groups
        .iter()
        .flat_map(|(_, v)| v.iter().flatten())
        .filter(|b| b.samples > 1)
        .map(|b| b.samples)
        .max();
    let entries = c.series.iter().filter(|s| !s.is_empty()).count()
        + usize::from(c.target.is_some())
        + usize::from(rounds.is_some());
    let legend = entries > 0;
    let axis = YAxis::new(c, entries);
    let target = c.target.as_ref().map(|t| t.0);

    // Wide enough for the bars and for the title (22 px text: ~12 px a character).
    let bars_per_group = c
        .groups
        .iter()
        .map(|(_, v)| v.iter().flatten().count())
        .max()
        .unwrap_or(1)
        .max(1);
    let width = (200 + 110 * c.groups.len() * bars_per_group)
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
        .build_cartesian_2d(0.0..ng as f64, axis.lo..axis.hi)?;
    let log = axis.log;
    let ylabel = if log {
        format!("{} (log scale)", c.ylabel)
    } else {
        c.ylabel.clone()
    };
    let ytick = move |v: &f64| if log { tick(10f64.powf(*v)) } else { tick(*v) };
    let mut mesh = chart.configure_mesh();
    mesh.disable_x_mesh()
        .light_line_style(WHITE)
        .y_desc(&ylabel)
        .y_label_formatter(&ytick)
        // Group names are drawn below each group (plotters would pick its own tick points).
        .x_labels(0)
        .label_style(("sans-serif", 15));
    if log {
        // One tick per decade.
        mesh.y_labels((axis.hi - axis.lo) as usize + 1);
    }
    mesh.draw()?;
    if log {
        // Faint lines at 2..9 of each decade, so the scale reads as logarithmic.
        let mut d = axis.lo;
        while d < axis.hi {
            for m in 2..10 {
                let y = d + (m as f64).log10();
                chart.draw_series(std::iter::once(PathElement::new(
                    [(0.0, y), (ng as f64, y)],
                    BLACK.mix(0.08),
                )))?;
            }
            chart.draw_series(std::iter::once(PathElement::new(
                [(0.0, d), (ng as f64, d)],
                BLACK.mix(0.25),
            )))?;
            d += 1.0;
        }
    }

    // Bars sit inside their group's segment, the present ones side by side and centred; each
    // is placed in pixels relative to its segment.
    struct Placed {
        series: usize,
        bar: Bar,
        x0: i32,
        x1: i32,
        y_mid: i32,
        y_min: i32,
        y_max: i32,
        y_base: i32,
    }
    let mut bars = Vec::new();
    let mut labels = Vec::new();
    {
        let area = chart.plotting_area();
        let px = |g: usize, y: f64| area.map_coordinate(&(g as f64, y));
        for (g, (name, vals)) in c.groups.iter().enumerate() {
            let present: Vec<(usize, Bar)> = vals
                .iter()
                .enumerate()
                .filter_map(|(s, b)| b.map(|b| (s, b)))
                .collect();
            let (gx0, y_base) = px(g, axis.lo);
            let (gx1, _) = px(g + 1, axis.lo);
            let seg = (gx1 - gx0) as f64;
            let bw = seg * 0.8 / bars_per_group as f64;
            let start = gx0 as f64 + (seg - bw * present.len() as f64) / 2.0;
            for (i, (s, bar)) in present.into_iter().enumerate() {
                let bx = start + bw * i as f64;
                bars.push(Placed {
                    series: s,
                    bar,
                    x0: bx as i32 + 2,
                    x1: (bx + bw) as i32 - 2,
                    y_mid: px(g, axis.y(bar.mid)).1,
                    y_min: px(g, axis.y(bar.min)).1,
                    y_max: px(g, axis.y(bar.max)).1,
                    y_base,
                });
            }
            labels.push((name.clone(), (gx0 + gx1) / 2, y_base + 8));
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
    for p in &bars {
        root.draw(&Rectangle::new(
            [(p.x0, p.y_mid), (p.x1, p.y_base)],
            Palette99::pick(p.series).mix(0.9).filled(),
        ))?;
        let mut top = p.y_mid;
        if p.bar.samples > 1 {
            // Whisker: minimum to maximum over the rounds, with caps.
            let xc = (p.x0 + p.x1) / 2;
            let cap = ((p.x1 - p.x0) / 4).max(3);
            let style = BLACK.stroke_width(2);
            root.draw(&PathElement::new([(xc, p.y_min), (xc, p.y_max)], style))?;
            for y in [p.y_min, p.y_max] {
                root.draw(&PathElement::new([(xc - cap, y), (xc + cap, y)], style))?;
            }
            top = top.min(p.y_max);
        }
        root.draw(&Text::new(
            label(p.bar.mid, target, c.better),
            ((p.x0 + p.x1) / 2, top - 4),
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
    if let Some(r) = rounds {
        chart
            .draw_series(std::iter::empty::<Rectangle<(f64, f64)>>())?
            .label(format!("bar: median of {r} rounds; whisker: min-max"))
            .legend(|(x, y)| {
                PathElement::new([(x + 7, y - 7), (x + 7, y + 7)], BLACK.stroke_width(2))
            });
    }
    if let Some((v, label_text)) = &c.target {
        let y = axis.y(*v);
        let side = match c.better {
            Some(Better::Higher) => " (at least)",
            Some(Better::Lower) => " (at most)",
            None => "",
        };
        chart
            .draw_series(DashedLineSeries::new(
                [(0.0, y), (ng as f64, y)],
                8,
                5,
                RED.stroke_width(2),
            ))?
            .label(format!("{label_text}: {}{side}", tick(*v)))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_miss_never_prints_as_the_target() {
        // 99.99% of a "higher is better" target of 100.
        assert_eq!(label(99.99, Some(100.0), Some(Better::Higher)), "99.99");
        assert_eq!(label(99.9999, Some(100.0), Some(Better::Higher)), "99.99");
        assert_eq!(label(99.999, Some(100.0), Some(Better::Higher)), "99.99");
        // 9,999,085 connections of a 10M target.
        assert_eq!(label(9_999_085.0, Some(1e7), Some(Better::Higher)), "9.99M");
        // 512.4 B against "at most 512 B" rounds up, away from the met side.
        assert_eq!(label(512.4, Some(512.0), Some(Better::Lower)), "513");
        // A hit just under a strict "< 10 µs" gets the digits to say so.
        assert_eq!(label(9.999, Some(10.0), Some(Better::Lower)), "9.999");
        // Exactly the target prints as itself.
        assert_eq!(label(100.0, Some(100.0), Some(Better::Higher)), "100");
    }

    #[test]
    fn without_a_target_labels_are_cut_toward_zero() {
        assert_eq!(label(9_999_085.0, None, None), "9.99M");
        assert_eq!(label(0.29, None, None), "0.29");
        assert_eq!(label(17.4, None, None), "17.40");
        assert_eq!(label(561.0, None, None), "561");
        assert_eq!(label(561.7, None, None), "561");
    }

    #[test]
    fn without_better_labels_stay_on_their_side_of_the_target() {
        assert_eq!(label(99.99, Some(100.0), None), "99.99");
        assert_eq!(label(100.01, Some(100.0), None), "101");
    }

    #[test]
    fn rounds_give_median_and_range() {
        let b = Bar::of(vec![3.0, 1.0, 2.0, 10.0]);
        assert_eq!((b.mid, b.min, b.max, b.samples), (2.0, 1.0, 10.0, 4));
        let b = Bar::of(vec![5.0]);
        assert_eq!((b.mid, b.min, b.max, b.samples), (5.0, 5.0, 5.0, 1));
    }

    #[test]
    fn values_parse_as_rounds() {
        let args: Vec<String> = ["--out", "x.png", "g=1/3/2,-,4"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let c = parse(&args).unwrap();
        let v = &c.groups[0].1;
        assert_eq!(v[0].unwrap().mid, 2.0);
        assert_eq!(v[1], None);
        assert_eq!(v[2].unwrap().samples, 1);
        assert!(parse(&["--out".into(), "x.png".into(), "g=1/x".into()]).is_err());
    }
}
