//! Figures as data, and their drawing with plotters.
//!
//! A [`Figure`] is a title over one or more stacked panels; a [`Panel`] is a
//! chart of lines against the epoch, linear or log-scaled. Drawing is
//! generic over the plotters backend, so the PNG (an RGB buffer encoded with
//! the `png` crate) and the SVG (a string) of a figure come from the same
//! code and show the same thing.

use crate::write::write_atomically;
use crate::PlotError;
use plotters::coord::ranged1d::{Ranged, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;
use std::sync::OnceLock;

/// A titled figure of stacked panels.
pub(crate) struct Figure {
    pub(crate) title: String,
    pub(crate) panels: Vec<Panel>,
}

/// One chart: lines of values against the epoch.
pub(crate) struct Panel {
    /// A caption above the chart (figures of several panels).
    pub(crate) title: Option<String>,
    /// The vertical axis label, with its unit.
    pub(crate) y_label: String,
    /// Log-scaled vertical axis; points that are not positive are skipped.
    pub(crate) log_y: bool,
    /// Where the legend goes (away from where the lines usually run).
    pub(crate) legend: Legend,
    pub(crate) series: Vec<Series>,
}

/// A named line of `(epoch, value)` points.
pub(crate) struct Series {
    pub(crate) name: String,
    pub(crate) points: Vec<(f64, f64)>,
}

impl Series {
    pub(crate) fn new(name: &str, points: Vec<(f64, f64)>) -> Series {
        Series {
            name: name.to_string(),
            points,
        }
    }
}

/// The corner of a panel that holds its legend.
#[derive(Clone, Copy)]
pub(crate) enum Legend {
    UpperRight,
    LowerRight,
}

/// The file formats a figure is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    Png,
    Svg,
}

impl Format {
    pub(crate) fn extension(self) -> &'static str {
        match self {
            Format::Png => "png",
            Format::Svg => "svg",
        }
    }

    /// The format an output path asks for by its extension.
    pub(crate) fn of(path: &Path) -> Result<Format, PlotError> {
        let extension = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase());
        match extension.as_deref() {
            Some("png") => Ok(Format::Png),
            Some("svg") => Ok(Format::Svg),
            _ => Err(PlotError::Format {
                path: path.to_path_buf(),
            }),
        }
    }
}

/// The font family every text is drawn in; the embedded DejaVu Sans is
/// registered under this name.
const FONT: &str = "sans-serif";
// Font sizes as plotters takes them: the glyphs' em is the size / 1.24, so
// 21 draws tick labels of about 17 pixels (`font-size="16.9"` in the SVG).
const TITLE_SIZE: u32 = 32;
const CAPTION_SIZE: u32 = 27;
const AXIS_LABEL_SIZE: u32 = 25;
const TICK_LABEL_SIZE: u32 = 21;
const LEGEND_SIZE: u32 = 21;
const WIDTH: u32 = 1000;
const PANEL_HEIGHT: u32 = 650;
const LINE_WIDTH: u32 = 3;
/// Series with at most this many points get a dot at each point, so short
/// runs (one or two epochs) still show.
const MARKER_LIMIT: usize = 30;

/// Tableau's ten colours: distinct, readable on white, and kind to the
/// common colour-vision deficiencies.
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// Draws `figure` and writes it to `path` atomically in `format`.
pub(crate) fn save(figure: &Figure, format: Format, path: &Path) -> Result<(), PlotError> {
    let drawn = register_font().and_then(|()| match format {
        Format::Png => render_png(figure),
        Format::Svg => render_svg(figure).map(String::into_bytes),
    });
    let bytes = drawn.map_err(|message| PlotError::Draw {
        path: path.to_path_buf(),
        message,
    })?;
    write_atomically(path, &bytes)
}

/// Registers the embedded DejaVu Sans (regular and bold) with plotters,
/// once per process.
fn register_font() -> Result<(), String> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            let fonts = [
                (FontStyle::Normal, dejavu::sans::regular()),
                (FontStyle::Bold, dejavu::sans::bold()),
            ];
            for (style, bytes) in fonts {
                plotters::style::register_font(FONT, style, bytes)
                    .map_err(|_| "the embedded DejaVu Sans font did not load".to_string())?;
            }
            Ok(())
        })
        .clone()
}

fn size(figure: &Figure) -> (u32, u32) {
    let panels = figure.panels.len().max(1) as u32;
    (WIDTH, 60 + PANEL_HEIGHT * panels)
}

fn render_png(figure: &Figure) -> Result<Vec<u8>, String> {
    let (width, height) = size(figure);
    let mut pixels = vec![0u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (width, height)).into_drawing_area();
        draw(&root, figure)?;
        root.present().map_err(|e| e.to_string())?;
    }
    encode_png(&pixels, width, height)
}

fn encode_png(rgb: &[u8], width: u32, height: u32) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
    writer.write_image_data(rgb).map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())?;
    Ok(bytes)
}

fn render_svg(figure: &Figure) -> Result<String, String> {
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, size(figure)).into_drawing_area();
        draw(&root, figure)?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(text)
}

/// Draws the title and the panels, stacked, on a white ground.
fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, figure: &Figure) -> Result<(), String> {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let title = (FONT, TITLE_SIZE).into_font().style(FontStyle::Bold);
    let body = root
        .margin(12, 0, 0, 0)
        .titled(&figure.title, title)
        .map_err(|e| e.to_string())?;
    let areas = body.split_evenly((figure.panels.len().max(1), 1));
    for (area, panel) in areas.iter().zip(&figure.panels) {
        draw_panel(area, panel)?;
    }
    Ok(())
}

fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    panel: &Panel,
) -> Result<(), String> {
    let (x0, x1) = x_range(panel);
    let mut builder = ChartBuilder::on(area);
    builder
        .margin(20)
        .x_label_area_size(70)
        .y_label_area_size(110);
    if let Some(title) = &panel.title {
        builder.caption(title, (FONT, CAPTION_SIZE));
    }
    if panel.log_y {
        let (y0, y1) = log_range(panel);
        let (bold, light) = log_ticks(y0, y1);
        let y = (y0..y1)
            .log_scale()
            .with_key_points(bold)
            .with_light_points(light);
        let chart = builder
            .build_cartesian_2d(x0..x1, y)
            .map_err(|e| e.to_string())?;
        draw_lines(chart, panel, 8)
    } else {
        let (y0, y1) = linear_range(panel);
        let (ticks, _) = linear_ticks(y0, y1);
        // The axis ends on round ticks, so its top and bottom are labelled.
        let (y0, y1) = (
            ticks.first().copied().unwrap_or(y0),
            ticks.last().copied().unwrap_or(y1),
        );
        let chart = builder
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(|e| e.to_string())?;
        draw_lines(chart, panel, ticks.len())
    }
}

/// Draws the mesh, one line per series (with dots on short series) and the
/// legend.
fn draw_lines<'a, DB, Y>(
    mut chart: ChartContext<'a, DB, Cartesian2d<RangedCoordf64, Y>>,
    panel: &Panel,
    y_labels: usize,
) -> Result<(), String>
where
    DB: DrawingBackend + 'a,
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let (x0, x1) = x_range(panel);
    let x_labels = ((x1 - x0).round() as usize + 1).clamp(2, 11);
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc(panel.y_label.as_str())
        .x_labels(x_labels)
        .y_labels(y_labels)
        .max_light_lines(2)
        .x_label_formatter(&epoch_label)
        .y_label_formatter(&value_label)
        .label_style((FONT, TICK_LABEL_SIZE))
        .axis_desc_style((FONT, AXIS_LABEL_SIZE))
        .light_line_style(RGBColor(238, 238, 238))
        .bold_line_style(RGBColor(210, 210, 210))
        .draw()
        .map_err(|e| e.to_string())?;
    for (index, series) in panel.series.iter().enumerate() {
        let colour = PALETTE[index % PALETTE.len()];
        let style = colour.stroke_width(LINE_WIDTH);
        let points: Vec<(f64, f64)> = series
            .points
            .iter()
            .copied()
            .filter(|&(_, y)| !panel.log_y || y > 0.0)
            .collect();
        chart
            .draw_series(LineSeries::new(points.iter().copied(), style))
            .map_err(|e| e.to_string())?
            .label(series.name.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 32, y)], style));
        if points.len() <= MARKER_LIMIT {
            chart
                .draw_series(
                    points
                        .iter()
                        .map(|&point| Circle::new(point, 4, colour.filled())),
                )
                .map_err(|e| e.to_string())?;
        }
    }
    let position = match panel.legend {
        Legend::UpperRight => SeriesLabelPosition::UpperRight,
        Legend::LowerRight => SeriesLabelPosition::LowerRight,
    };
    chart
        .configure_series_labels()
        .position(position)
        .margin(15)
        .legend_area_size(45)
        .label_font((FONT, LEGEND_SIZE))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .draw()
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// The epochs of the panel's points; a single epoch is widened to a unit
/// interval around it.
fn x_range(panel: &Panel) -> (f64, f64) {
    let (lo, hi) = extent(
        panel
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.0)),
    );
    match (lo, hi) {
        (Some(lo), Some(hi)) if hi > lo => (lo, hi),
        (Some(lo), _) => (lo - 0.5, lo + 0.5),
        _ => (0.0, 1.0),
    }
}

/// The values' range with a 5% margin (not below zero for values that are
/// never negative); a constant series gets a small band.
fn linear_range(panel: &Panel) -> (f64, f64) {
    let (lo, hi) = extent(
        panel
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1)),
    );
    let (Some(lo), Some(hi)) = (lo, hi) else {
        return (0.0, 1.0);
    };
    let pad = if hi > lo {
        0.05 * (hi - lo)
    } else {
        (0.05 * hi.abs()).max(0.01)
    };
    // Values that are never negative (costs, accuracies) keep the axis at
    // or above zero.
    let bottom = if lo >= 0.0 {
        (lo - pad).max(0.0)
    } else {
        lo - pad
    };
    (bottom, hi + pad)
}

/// Evenly spaced ticks at a round step (1, 2 or 5 times a power of ten,
/// 4 to 10 of them) from a multiple of the step at or below `lo` to one at
/// or above `hi`, and the step.
fn linear_ticks(lo: f64, hi: f64) -> (Vec<f64>, f64) {
    let span = (hi - lo).abs().max(f64::MIN_POSITIVE);
    let raw = span / 6.0;
    let power = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * power)
        .find(|&s| s >= raw)
        .unwrap_or(10.0 * power);
    let first = (lo / step).floor();
    let last = (hi / step).ceil();
    let count = ((last - first) as usize).min(40);
    let ticks = (0..=count)
        .map(|k| {
            let t = (first + k as f64) * step;
            // Round away the last bits of the multiplication (0.30000000000000004).
            (t / step).round() * step
        })
        .collect();
    (ticks, step)
}

/// The positive values' range, widened by a factor 1.3 each way.
fn log_range(panel: &Panel) -> (f64, f64) {
    let positive = panel
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .filter(|&y| y > 0.0);
    match extent(positive) {
        (Some(lo), Some(hi)) => (lo / 1.3, hi * 1.3),
        _ => (0.1, 1.0),
    }
}

/// The ticks of a log axis from `lo` to `hi`: labelled ticks at 1, 2 and 5
/// times the powers of ten (every mantissa 1 to 9 when that gives fewer
/// than three), and grid lines at every mantissa.
fn log_ticks(lo: f64, hi: f64) -> (Vec<f64>, Vec<f64>) {
    let first = lo.log10().floor() as i32;
    let last = hi.log10().ceil() as i32;
    let ticks = |mantissas: &[f64]| -> Vec<f64> {
        (first..=last)
            .flat_map(|power| mantissas.iter().map(move |m| scaled_by_power(*m, power)))
            .filter(|v| (lo * (1.0 - 1e-9)..=hi * (1.0 + 1e-9)).contains(v))
            .collect()
    };
    let every: Vec<f64> = (1..10).map(f64::from).collect();
    let mut bold = ticks(&[1.0, 2.0, 5.0]);
    if bold.len() < 3 {
        bold = ticks(&every);
    }
    if bold.len() < 2 {
        // A range inside one mantissa step (1.1 to 1.9) is labelled at its ends.
        bold.extend([lo, hi]);
        bold.sort_by(f64::total_cmp);
    }
    (bold, ticks(&every))
}

/// `mantissa` times ten to the `power`, dividing for negative powers so
/// that 6 and -1 give the nearest double to 0.6 (not 0.6000000000000001).
fn scaled_by_power(mantissa: f64, power: i32) -> f64 {
    if power < 0 {
        mantissa / 10f64.powi(-power)
    } else {
        mantissa * 10f64.powi(power)
    }
}

fn extent(values: impl Iterator<Item = f64>) -> (Option<f64>, Option<f64>) {
    values.fold((None, None), |(lo, hi), v| {
        (
            Some(lo.map_or(v, |l: f64| l.min(v))),
            Some(hi.map_or(v, |h: f64| h.max(v))),
        )
    })
}

/// Epoch ticks: whole numbers without decimals.
fn epoch_label(x: &f64) -> String {
    if (x - x.round()).abs() < 1e-9 {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
    }
}

/// Value ticks: plain decimals without trailing zeros in the usual range,
/// scientific notation for very small or very large values.
fn value_label(v: &f64) -> String {
    let magnitude = v.abs();
    if magnitude == 0.0 {
        "0".to_string()
    } else if !(1e-3..1e5).contains(&magnitude) {
        format!("{v:.1e}")
    } else {
        let text = format!("{v:.4}");
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_labels_are_short() {
        assert_eq!(epoch_label(&3.0), "3");
        assert_eq!(epoch_label(&2.5), "2.5");
        assert_eq!(value_label(&0.25), "0.25");
        assert_eq!(value_label(&92.5), "92.5");
        assert_eq!(value_label(&100.0), "100");
        assert_eq!(value_label(&0.0001), "1.0e-4");
        assert_eq!(value_label(&0.0), "0");
    }

    #[test]
    fn linear_ticks_end_on_round_values_around_the_range() {
        let (ticks, step) = linear_ticks(-0.09, 1.88);
        assert_eq!(step, 0.5);
        assert_eq!(ticks, vec![-0.5, 0.0, 0.5, 1.0, 1.5, 2.0]);
        let (ticks, step) = linear_ticks(0.912, 0.987);
        assert!((step - 0.02).abs() < 1e-12, "{step}");
        assert!((ticks[0] - 0.90).abs() < 1e-9 && (ticks[ticks.len() - 1] - 1.0).abs() < 1e-9);
        assert!(ticks.len() <= 11);
        // A flat series still gets ticks around it.
        let (ticks, _) = linear_ticks(0.99, 1.01);
        assert!(ticks.len() >= 2);
    }

    #[test]
    fn log_ticks_follow_one_two_five() {
        let (bold, light) = log_ticks(0.03, 0.6);
        assert_eq!(bold, vec![0.05, 0.1, 0.2, 0.5]);
        assert_eq!(light.len(), 13);
        assert_eq!(log_ticks(1.1, 1.9).0, vec![1.1, 1.9]);
    }

    #[test]
    fn the_output_extension_chooses_the_format() {
        assert_eq!(Format::of(Path::new("a/b.PNG")).unwrap(), Format::Png);
        assert_eq!(Format::of(Path::new("b.svg")).unwrap(), Format::Svg);
        assert!(Format::of(Path::new("b.jpg")).is_err());
        assert!(Format::of(Path::new("b")).is_err());
    }
}
