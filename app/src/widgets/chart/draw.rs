//! Drawing one frame of a time-series chart on its canvas with plotters.
//!
//! Everything here is done in device pixels: the canvas's backing store is
//! sized to its displayed size times `devicePixelRatio`, so lines and text
//! are crisp on any screen. Each line is first reduced to the plot's pixel
//! columns ([`Reduction`]: first, min, max and last of each column), so a
//! redraw costs what the chart is wide, never how many points it holds, and
//! a one-sample spike still reaches the screen. Ticks and their labels come
//! from the chart core ([`time_ticks`], [`value_axis`]), not from plotters'
//! mesh, so both axes read the same at every zoom level and in every unit.
//!
//! [`draw`] returns the [`Layout`] it drew with: the pointer handlers map
//! pixels back to time and value through it.

use plotters::{
    prelude::*,
    style::text_anchor::{HPos, Pos, VPos},
};
use plotters_canvas::CanvasBackend;
use wasm_bindgen::JsCast;
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement};

use crate::chart::{
    area, bar_base, column_ms_for, column_values, gap_after, has_gap, label_anchor, mark_gaps,
    stack, stepped, tick_target, time_ticks, value_axis, with_thresholds, ChartStyle, Draw,
    Interpolation, LabelAnchor, Level, Line, LinePoint, Mark, PathStep, Reducer, Reduction,
    Stacking, Threshold, Unit,
};

/// The series palette: distinguishable on light and dark backgrounds.
pub const PALETTE: [(u8, u8, u8); 10] = [
    (0x2f, 0x7d, 0xf6),
    (0xe8, 0x6a, 0x1c),
    (0x1f, 0xa3, 0x6b),
    (0xd6, 0x3b, 0x6a),
    (0x8e, 0x5c, 0xe0),
    (0x0f, 0x9d, 0xb8),
    (0xc9, 0x9a, 0x06),
    (0x6b, 0x7f, 0x2a),
    (0xb5, 0x4a, 0xc9),
    (0x7a, 0x86, 0x99),
];

/// Threshold colours: the page's warning amber and critical red.
pub const fn level_colour(level: Level) -> RGBColor {
    match level {
        Level::Warning => RGBColor(0xd9, 0x8a, 0x00),
        Level::Critical => RGBColor(0xd6, 0x45, 0x45),
    }
}

const GRID: RGBColor = RGBColor(0x8a, 0x94, 0xa6);
const TEXT: RGBColor = RGBColor(0x8a, 0x94, 0xa6);

/// One line to draw.
pub struct Drawn<'a> {
    /// Its points.
    pub line: &'a Line,
    /// Its index in [`PALETTE`] (wrapping).
    pub colour: usize,
}

/// What a frame shows besides the lines.
pub struct Scene<'a> {
    /// The visible lines.
    pub lines: Vec<Drawn<'a>>,
    /// The time range, Unix ms.
    pub from: i64,
    /// Its end.
    pub to: i64,
    /// What the values measure.
    pub unit: Unit,
    /// The value axis always includes these (soft bounds).
    pub soft_min: Option<f64>,
    /// See `soft_min`.
    pub soft_max: Option<f64>,
    /// The shared crosshair's time.
    pub crosshair: Option<i64>,
    /// A drag selection in progress, in Unix ms.
    pub selection: Option<(i64, i64)>,
    /// The viewer's offset from UTC, in minutes (east positive).
    pub utc_offset_minutes: i32,
    /// How the lines are drawn.
    pub style: ChartStyle,
    /// Levels drawn across the plot, always in view.
    pub thresholds: &'a [Threshold],
    /// Annotations: spans as bands, moments as lines (grouped when they
    /// crowd, with their count).
    pub marks: &'a [Mark],
}

/// Annotations' colour: apart from every series and level colour.
const ANNOTATION: RGBColor = RGBColor(0x9b, 0x4d, 0xca);

/// Where a frame put things, in CSS pixels relative to the canvas.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Layout {
    /// The plot area's left edge.
    pub left: f64,
    /// Its right edge.
    pub right: f64,
    /// Its top.
    pub top: f64,
    /// Its bottom.
    pub bottom: f64,
    /// The time at `left`.
    pub from: i64,
    /// The time at `right`.
    pub to: i64,
    /// The value at `bottom`.
    pub min: f64,
    /// The value at `top`.
    pub max: f64,
}

impl Layout {
    /// The time at horizontal position `x`, clamped to the plot.
    pub fn time_at(&self, x: f64) -> i64 {
        let width = (self.right - self.left).max(1.0);
        let share = ((x - self.left) / width).clamp(0.0, 1.0);
        self.from + (share * (self.to - self.from) as f64).round() as i64
    }

    /// The value at vertical position `y`.
    pub fn value_at(&self, y: f64) -> f64 {
        let height = (self.bottom - self.top).max(1.0);
        self.max - (y - self.top) / height * (self.max - self.min)
    }

    /// The horizontal position of time `ts`.
    pub fn x_of(&self, ts: i64) -> f64 {
        let span = (self.to - self.from).max(1) as f64;
        self.left + (ts - self.from) as f64 / span * (self.right - self.left)
    }

    /// The vertical position of value `v`.
    pub fn y_of(&self, value: f64) -> f64 {
        let range = self.max - self.min;
        if range <= 0.0 {
            return self.bottom;
        }
        self.bottom - (value - self.min) / range * (self.bottom - self.top)
    }
}

/// Draws `scene` on `canvas`; returns the layout used.
pub fn draw(canvas: &HtmlCanvasElement, scene: &Scene) -> Result<Layout, String> {
    let ratio = web_sys::window()
        .map(|w| w.device_pixel_ratio())
        .unwrap_or(1.0)
        .max(1.0);
    let css_width = f64::from(canvas.client_width());
    let css_height = f64::from(canvas.client_height());
    let width = (css_width * ratio).round() as u32;
    let height = (css_height * ratio).round() as u32;
    if width > 0 && height > 0 && (canvas.width() != width || canvas.height() != height) {
        canvas.set_width(width);
        canvas.set_height(height);
    }
    clear(canvas)?;
    let (from, to) = (scene.from, scene.to.max(scene.from + 1));

    let stacked = stack_scene(
        scene,
        from,
        to,
        ((css_width * ratio).round() as usize).max(1),
    );
    // The value range: every visible point's band (or the stack's edges),
    // and the soft bounds.
    let mut low = f64::INFINITY;
    let mut high = f64::NEG_INFINITY;
    if let Some(stacked) = &stacked {
        for (lower, upper) in stacked.bands.iter().flatten().flatten() {
            low = low.min(*lower);
            high = high.max(*upper);
        }
    } else {
        // Comparisons, not `f64::min`: a line's values are finite, and
        // this pass visits every point of the window (a million, at times).
        for drawn in &scene.lines {
            'points: for part in drawn.line.slices_near(from) {
                for point in part {
                    if point.ts > to {
                        break 'points;
                    }
                    if point.ts >= from {
                        if point.min < low {
                            low = point.min;
                        }
                        if point.max > high {
                            high = point.max;
                        }
                    }
                }
            }
        }
    }
    if let Some(min) = scene.soft_min {
        low = low.min(min);
    }
    if let Some(max) = scene.soft_max {
        high = high.max(max);
    }
    (low, high) = with_thresholds(low, high, scene.thresholds);
    if !low.is_finite() || !high.is_finite() {
        (low, high) = (0.0, 1.0);
    }
    let rows = ((css_height - 30.0) / 40.0).clamp(2.0, 8.0) as usize;
    // A 100% stack reads in percent whatever its series measure.
    let unit = match scene.style.stacking {
        Stacking::Percent => Unit::Percent,
        _ => scene.unit,
    };
    let axis = value_axis(unit, low, high, rows);
    let (min, max) = match (axis.first(), axis.last()) {
        (Some(first), Some(last)) if last.value > first.value => (first.value, last.value),
        _ => (low, high.max(low + 1.0)),
    };
    let label_chars = axis
        .iter()
        .map(|t| t.label.chars().count())
        .max()
        .unwrap_or(1);
    let layout = Layout {
        left: 12.0 + label_chars as f64 * 7.0,
        right: (css_width - 10.0).max(20.0),
        top: 8.0,
        bottom: (css_height - 24.0).max(16.0),
        from,
        to,
        min,
        max,
    };

    let backend = CanvasBackend::with_canvas_object(canvas.clone()).ok_or("no 2D context")?;
    let root = backend.into_drawing_area();
    let px = |v: f64| (v * ratio).round() as i32;
    let font = ((12.0 * ratio) as u32).max(10);
    let text = |anchor: Pos| {
        (FontFamily::SansSerif, font)
            .into_font()
            .color(&TEXT)
            .pos(anchor)
    };
    let err = |e: DrawingAreaErrorKind<_>| e.to_string();

    // Grid and value labels.
    for tick in &axis {
        let y = px(layout.y_of(tick.value));
        root.draw(&PathElement::new(
            vec![(px(layout.left), y), (px(layout.right), y)],
            GRID.mix(0.2).stroke_width(1),
        ))
        .map_err(err)?;
        root.draw(&Text::new(
            tick.label.clone(),
            (px(layout.left - 6.0), y),
            text(Pos::new(HPos::Right, VPos::Center)),
        ))
        .map_err(err)?;
    }
    // Time ticks.
    let plot_css_width = layout.right - layout.left;
    for tick in time_ticks(
        from,
        to,
        tick_target(plot_css_width as u32),
        scene.utc_offset_minutes,
    ) {
        let x = px(layout.x_of(tick.ts));
        root.draw(&PathElement::new(
            vec![(x, px(layout.top)), (x, px(layout.bottom))],
            GRID.mix(0.12).stroke_width(1),
        ))
        .map_err(err)?;
        // A label centred on a tick near an edge would be cut off.
        let (label_x, align) =
            match label_anchor(layout.x_of(tick.ts), tick.label.chars().count(), css_width) {
                LabelAnchor::Centre(_) => (x, HPos::Center),
                LabelAnchor::Start(at) => (px(at), HPos::Left),
                LabelAnchor::End(at) => (px(at), HPos::Right),
            };
        root.draw(&Text::new(
            tick.label,
            (label_x, px(layout.bottom + 6.0)),
            text(Pos::new(align, VPos::Top)),
        ))
        .map_err(err)?;
    }
    root.draw(&PathElement::new(
        vec![
            (px(layout.left), px(layout.bottom)),
            (px(layout.right), px(layout.bottom)),
        ],
        GRID.mix(0.6).stroke_width(1),
    ))
    .map_err(err)?;

    // Thresholds under the lines: a band, then its line.
    let device = |points: &[(f64, f64)]| -> Vec<(i32, i32)> {
        points.iter().map(|&(x, y)| (px(x), px(y))).collect()
    };
    for threshold in scene.thresholds.iter().filter(|t| t.value.is_finite()) {
        let colour = level_colour(threshold.level);
        let y = layout.y_of(threshold.value);
        if let Some(to) = threshold.to.filter(|v| v.is_finite()) {
            root.draw(&Rectangle::new(
                [
                    (px(layout.left), px(y)),
                    (px(layout.right), px(layout.y_of(to))),
                ],
                colour.mix(0.12).filled(),
            ))
            .map_err(err)?;
        }
        // A filled row of whole device pixels, not a stroked path: a 1 px
        // stroke on a pixel boundary would blur over two rows.
        let top = px(y);
        let thickness = (ratio.round() as i32).max(1);
        root.draw(&Rectangle::new(
            [(px(layout.left), top), (px(layout.right), top + thickness)],
            colour.filled(),
        ))
        .map_err(err)?;
    }

    // The lines, reduced to the plot's device-pixel columns.
    let columns = ((plot_css_width * ratio).round() as usize).max(1);
    let column_ms = column_ms_for(to - from, columns);
    let stroke = ((1.5 * ratio).round() as u32).max(1);
    let style = scene.style;
    let base_y = layout.y_of(bar_base(layout.min, layout.max));
    if let Some(stacked) = &stacked {
        draw_stack(&root, scene, stacked, &layout, ratio)?;
    }
    for drawn in scene.lines.iter().filter(|_| stacked.is_none()) {
        let (r, g, b) = PALETTE[drawn.colour % PALETTE.len()];
        let colour = RGBColor(r, g, b);
        if drawn.line.step_ms().is_some() {
            draw_band(&root, drawn.line, &layout, ratio, colour)?;
        }
        // Read in place: a redraw costs one pass over the window's points.
        let gap_ms = drawn.line.gap_ms().filter(|_| !style.connect_gaps);
        let mut reducer = Reducer::new(gap_ms, from, columns, column_ms);
        // The window starts at the column holding `from`.
        for part in drawn.line.slices_near(from - column_ms) {
            if !reducer.push_run(part, LinePoint::pair) {
                break;
            }
        }
        let reduction = reducer.finish();
        if style.draw == Draw::Bars {
            for column in reduction.columns() {
                let Some(summary) = column.summary else {
                    continue;
                };
                let base = bar_base(layout.min, layout.max);
                // The extreme farther from the base, so a spike shows.
                let value = if summary.max.value - base >= base - summary.min.value {
                    summary.max.value
                } else {
                    summary.min.value
                };
                let left = px(layout.x_of(column.index * column_ms));
                let right = px(layout.x_of((column.index + 1) * column_ms)).max(left + 1);
                root.draw(&Rectangle::new(
                    [(left, px(layout.y_of(value))), (right, px(base_y))],
                    colour.mix(0.85).filled(),
                ))
                .map_err(err)?;
            }
            continue;
        }
        // Stretches of the line between gaps, in CSS pixels.
        let mut stretches: Vec<Vec<(f64, f64)>> = Vec::new();
        for step in reduction.path() {
            let sample = match step {
                PathStep::MoveTo(s) => {
                    stretches.push(Vec::new());
                    s
                }
                PathStep::LineTo(s) => s,
            };
            if let Some(stretch) = stretches.last_mut() {
                stretch.push((layout.x_of(sample.ts), layout.y_of(sample.value)));
            }
        }
        for stretch in stretches {
            let shape = match style.interpolation {
                Interpolation::Linear => stretch.clone(),
                Interpolation::Step => stepped(&stretch),
            };
            if style.fill > 0.0 && shape.len() >= 2 {
                root.draw(&Polygon::new(
                    device(&area(&shape, base_y)),
                    colour.mix(style.fill.min(1.0)).filled(),
                ))
                .map_err(err)?;
            }
            match (style.draw, shape.len()) {
                (_, 0) => {}
                (Draw::Points, _) | (_, 1) => {
                    for vertex in device(&stretch) {
                        root.draw(&Circle::new(vertex, stroke + 1, colour.filled()))
                            .map_err(err)?;
                    }
                }
                _ => {
                    root.draw(&PathElement::new(
                        device(&shape),
                        colour.stroke_width(stroke),
                    ))
                    .map_err(err)?;
                }
            }
        }
    }

    // Annotations over the lines, under the crosshair: a band for a span,
    // a line and a tab on top for moments, the tab counting crowded ones.
    for mark in scene.marks {
        let colour = mark.level.map_or(ANNOTATION, level_colour);
        let a = px(layout.x_of(mark.from.max(from)));
        let b = px(layout.x_of(mark.to.min(to)));
        if mark.span {
            root.draw(&Rectangle::new(
                [(a, px(layout.top)), (b.max(a + 1), px(layout.bottom))],
                colour.mix(0.12).filled(),
            ))
            .map_err(err)?;
        }
        let x = if mark.span { a } else { (a + b) / 2 };
        let thickness = (ratio.round() as i32).max(1);
        root.draw(&Rectangle::new(
            [(x, px(layout.top)), (x + thickness, px(layout.bottom))],
            colour.mix(0.8).filled(),
        ))
        .map_err(err)?;
        let tab = px(5.0);
        root.draw(&Rectangle::new(
            [
                (x - tab, px(layout.top)),
                (x + tab + thickness, px(layout.top) + tab),
            ],
            colour.filled(),
        ))
        .map_err(err)?;
        if mark.count > 1 {
            root.draw(&Text::new(
                mark.count.to_string(),
                (x + tab + px(3.0), px(layout.top)),
                text(Pos::new(HPos::Left, VPos::Top)),
            ))
            .map_err(err)?;
        }
    }
    if let Some((a, b)) = scene.selection {
        let (a, b) = (a.min(b), a.max(b));
        root.draw(&Rectangle::new(
            [
                (px(layout.x_of(a)), px(layout.top)),
                (px(layout.x_of(b)), px(layout.bottom)),
            ],
            RGBColor(0x2f, 0x7d, 0xf6).mix(0.15).filled(),
        ))
        .map_err(err)?;
    }
    if let Some(ts) = scene.crosshair.filter(|ts| (from..=to).contains(ts)) {
        let x = px(layout.x_of(ts));
        root.draw(&PathElement::new(
            vec![(x, px(layout.top)), (x, px(layout.bottom))],
            GRID.mix(0.9).stroke_width(1),
        ))
        .map_err(err)?;
    }
    root.present().map_err(|e| e.to_string())?;
    Ok(layout)
}

/// A line's points as drawn: with gap markers where the style leaves gaps.
fn drawn_values(line: &Line, style: ChartStyle) -> Vec<(i64, f64)> {
    let values = line.values();
    if !style.connect_gaps {
        // A copy with markers only when there is a gap to mark: most
        // frames of a live chart have none.
        if let Some(gap) = gap_after(&values, line.step_ms()) {
            if has_gap(&values, gap) {
                return mark_gaps(&values, gap);
            }
        }
    }
    values
}

/// The visible lines stacked on the columns of the window.
struct Stacked {
    column_ms: i64,
    first_column: i64,
    /// Per line (in the scene's order), per column, its lower and upper edge.
    bands: Vec<Vec<Option<(f64, f64)>>>,
}

/// The scene's lines stacked over `columns` columns from `from` to `to`;
/// `None` when the style does not stack.
fn stack_scene(scene: &Scene, from: i64, to: i64, columns: usize) -> Option<Stacked> {
    if scene.style.stacking == Stacking::Off || scene.lines.is_empty() {
        return None;
    }
    let column_ms = column_ms_for(to - from, columns);
    let series: Vec<Vec<Option<f64>>> = scene
        .lines
        .iter()
        .map(|drawn| {
            let values = drawn_values(drawn.line, scene.style);
            column_values(&Reduction::from_iter(
                values.iter().copied(),
                None,
                from,
                columns,
                column_ms,
            ))
        })
        .collect();
    Some(Stacked {
        column_ms,
        first_column: from.div_euclid(column_ms),
        bands: stack(&series, scene.style.stacking),
    })
}

/// Each stacked line as a filled band from its lower to its upper edge,
/// outlined along the top; a column without a value breaks the band.
fn draw_stack(
    root: &DrawingArea<CanvasBackend, plotters::coord::Shift>,
    scene: &Scene,
    stacked: &Stacked,
    layout: &Layout,
    ratio: f64,
) -> Result<(), String> {
    let px = |v: f64| (v * ratio).round() as i32;
    let err = |e: DrawingAreaErrorKind<_>| e.to_string();
    let stroke = ((1.5 * ratio).round() as u32).max(1);
    let fill = if scene.style.fill > 0.0 {
        scene.style.fill.min(1.0)
    } else {
        0.6
    };
    let x_of = |slot: usize| {
        let column = stacked.first_column + slot as i64;
        px(layout.x_of(column * stacked.column_ms + stacked.column_ms / 2))
    };
    for (drawn, band) in scene.lines.iter().zip(&stacked.bands) {
        let (r, g, b) = PALETTE[drawn.colour % PALETTE.len()];
        let colour = RGBColor(r, g, b);
        let mut slot = 0;
        while slot < band.len() {
            let start = slot;
            while slot < band.len() && band[slot].is_some() {
                slot += 1;
            }
            let stretch: Vec<(usize, (f64, f64))> = (start..slot)
                .filter_map(|s| band[s].map(|edges| (s, edges)))
                .collect();
            slot += 1;
            if stretch.is_empty() {
                continue;
            }
            let top: Vec<(i32, i32)> = stretch
                .iter()
                .map(|&(s, (_, upper))| (x_of(s), px(layout.y_of(upper))))
                .collect();
            let mut outline = top.clone();
            outline.extend(
                stretch
                    .iter()
                    .rev()
                    .map(|&(s, (lower, _))| (x_of(s), px(layout.y_of(lower)))),
            );
            root.draw(&Polygon::new(outline, colour.mix(fill).filled()))
                .map_err(err)?;
            root.draw(&PathElement::new(top, colour.stroke_width(stroke)))
                .map_err(err)?;
        }
    }
    Ok(())
}

/// A rollup line's min-max band, one quadrilateral strip.
fn draw_band(
    root: &DrawingArea<CanvasBackend, plotters::coord::Shift>,
    line: &Line,
    layout: &Layout,
    ratio: f64,
    colour: RGBColor,
) -> Result<(), String> {
    let px = |v: f64| (v * ratio).round() as i32;
    let mut outline: Vec<(i32, i32)> = line
        .points()
        .map(|p| (px(layout.x_of(p.ts)), px(layout.y_of(p.max))))
        .collect();
    outline.extend(
        line.points()
            .rev()
            .map(|p| (px(layout.x_of(p.ts)), px(layout.y_of(p.min)))),
    );
    if outline.len() >= 4 {
        root.draw(&Polygon::new(outline, colour.mix(0.15).filled()))
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Erases the previous frame (plotters only paints over it).
fn clear(canvas: &HtmlCanvasElement) -> Result<(), String> {
    let context = canvas
        .get_context("2d")
        .ok()
        .flatten()
        .and_then(|c| c.dyn_into::<CanvasRenderingContext2d>().ok())
        .ok_or("no 2D context")?;
    context.clear_rect(
        0.0,
        0.0,
        f64::from(canvas.width()),
        f64::from(canvas.height()),
    );
    Ok(())
}
