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

use super::painters;

use crate::chart::{
    bar_base, column_ms_for, label_anchor, tick_target, time_ticks, value_axis, with_thresholds,
    ChartStyle, Draw, Interpolation, LabelAnchor, Level, Line, LiveReduction, Mark, PathStep,
    ReduceTo, Reduction, Stacking, Threshold, Unit,
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

/// Draws `scene` on `canvas`; returns the layout used. `kept` holds each
/// line's reduction from the last frame of this canvas (empty at first):
/// a line that only grew since is reduced by folding in what arrived.
pub fn draw(
    canvas: &HtmlCanvasElement,
    scene: &Scene,
    kept: &mut Vec<LiveReduction>,
) -> Result<Layout, String> {
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
    let context = clear(canvas)?;
    let (from, to) = (scene.from, scene.to.max(scene.from + 1));

    // Lines are reduced to the canvas's device-pixel columns (the plot
    // is a little narrower, by the value labels, whose width depends on
    // the values): a column never wider than a pixel, and the same columns
    // whatever the labels, so a line's reduction carries over.
    let columns = ((css_width * ratio).round() as usize).max(1);
    let column_ms = column_ms_for(to - from, columns);
    let style = scene.style;
    // Stacks and bars are drawn by a split, fetched before the first frame
    // of a chart that needs it (`painters::fetch`).
    let painters = painters::painters();
    let stacker = painters.filter(|_| style.stacking != Stacking::Off);
    let stacked = stacker.and_then(|painters| (painters.stack)(scene, from, to, columns));
    let mut reductions = Vec::with_capacity(scene.lines.len());
    for drawn in scene.lines.iter().filter(|_| stacked.is_none()) {
        let to = ReduceTo {
            gap_ms: drawn.line.gap_ms().filter(|_| !style.connect_gaps),
            from,
            width: columns,
            column_ms,
        };
        let reduction = match kept.iter().position(|k| k.line() == drawn.line.id()) {
            Some(at) => {
                let mut reduction = kept.swap_remove(at);
                reduction.update(drawn.line, to);
                reduction
            }
            None => LiveReduction::new(drawn.line, to),
        };
        reductions.push(reduction);
    }
    // The value range: every visible column's extremes (or the stack's
    // edges, or a rollup's band), and the soft bounds.
    let mut low = f64::INFINITY;
    let mut high = f64::NEG_INFINITY;
    if let Some(stacked) = &stacked {
        for (lower, upper) in stacked.bands.iter().flatten().flatten() {
            low = low.min(*lower);
            high = high.max(*upper);
        }
    }
    for (drawn, reduction) in scene.lines.iter().zip(&mut reductions) {
        if drawn.line.step_ms().is_some() {
            // A bucket's band reaches past its mean; a window holds a
            // chart's width of buckets at most.
            for point in drawn.line.points().filter(|p| (from..=to).contains(&p.ts)) {
                low = low.min(point.min);
                high = high.max(point.max);
            }
            continue;
        }
        let visible = |c: &&crate::chart::Column| {
            c.index * column_ms <= to && (c.index + 1) * column_ms > from
        };
        for summary in reduction
            .reduction()
            .columns()
            .filter(visible)
            .filter_map(|c| c.summary)
        {
            low = low.min(summary.min.value);
            high = high.max(summary.max.value);
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

    // The lines, from their reductions.
    let stroke = ((1.5 * ratio).round() as u32).max(1);
    let base_y = layout.y_of(bar_base(layout.min, layout.max));
    if let Some(stacked) = &stacked {
        if let Some(painters) = stacker {
            (painters.draw_stack)(&root, scene, stacked, &layout, ratio)?;
        }
    }
    for (drawn, reduction) in scene.lines.iter().zip(&mut reductions) {
        let (r, g, b) = PALETTE[drawn.colour % PALETTE.len()];
        let colour = RGBColor(r, g, b);
        if drawn.line.step_ms().is_some() {
            draw_band(&root, drawn.line, &layout, ratio, colour)?;
        }
        let reduction = reduction.reduction();
        if style.draw == Draw::Bars {
            if let Some(painters) = painters {
                (painters.bars)(&root, reduction, &layout, ratio, colour)?;
            }
            continue;
        }
        // Straight onto the 2D context, one path per line (the pen lifted
        // at gaps), in device pixels rounded as plotters places them: no
        // vertex list is built, and a vertex costs one call.
        let css = |alpha: f64| format!("rgba({r},{g},{b},{alpha})");
        let stepped = style.interpolation == Interpolation::Step;
        if style.fill > 0.0 {
            // Each stretch closed along the base.
            let base = f64::from(px(base_y));
            let mut ends: Option<(f64, f64)> = None;
            let close = |ends: Option<(f64, f64)>| {
                if let Some((first, last)) = ends {
                    context.line_to(last, base);
                    context.line_to(first, base);
                    context.close_path();
                }
            };
            context.begin_path();
            trace(reduction, &layout, ratio, stepped, &mut |start, x, y| {
                if start {
                    close(ends);
                    context.move_to(x, y);
                    ends = Some((x, x));
                } else {
                    context.line_to(x, y);
                    ends = ends.map(|(first, _)| (first, x));
                }
            });
            close(ends);
            context.set_fill_style_str(&css(style.fill.min(1.0)));
            context.fill();
        }
        // Points: each vertex a dot. Lines: the path, and a dot for a
        // vertex alone between two gaps.
        let radius = f64::from(stroke + 1);
        let mut dots = Vec::new();
        let points = style.draw == Draw::Points;
        let mut alone = None;
        context.begin_path();
        trace(
            reduction,
            &layout,
            ratio,
            stepped && !points,
            &mut |start, x, y| {
                if points {
                    dots.push((x, y));
                } else if start {
                    dots.extend(alone);
                    alone = Some((x, y));
                    context.move_to(x, y);
                } else {
                    alone = None;
                    context.line_to(x, y);
                }
            },
        );
        dots.extend(alone);
        context.set_stroke_style_str(&css(1.0));
        context.set_line_width(f64::from(stroke));
        context.stroke();
        if !dots.is_empty() {
            context.begin_path();
            for (x, y) in dots {
                context.move_to(x + radius, y);
                context
                    .arc(x, y, radius, 0.0, std::f64::consts::TAU)
                    .map_err(|_| "could not draw a point")?;
            }
            context.set_fill_style_str(&css(1.0));
            context.fill();
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
    // Only the lines drawn now are kept: a hidden or removed line's
    // reduction goes.
    *kept = reductions;
    Ok(layout)
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

/// Walks a line's reduction in device pixels (rounded as plotters rounds
/// them): `visit(start, x, y)` for each vertex, `start` where the pen goes
/// down (first, and after a gap). A stepped line holds each value until
/// the next vertex's time.
fn trace(
    reduction: &Reduction,
    layout: &Layout,
    ratio: f64,
    stepped: bool,
    visit: &mut dyn FnMut(bool, f64, f64),
) {
    let px = |v: f64| (v * ratio).round();
    reduction.trace(stepped, &mut |step| {
        let (start, vertex) = match step {
            PathStep::MoveTo(vertex) => (true, vertex),
            PathStep::LineTo(vertex) => (false, vertex),
        };
        visit(
            start,
            px(layout.x_of(vertex.ts)),
            px(layout.y_of(vertex.value)),
        );
    });
}

/// Erases the previous frame (plotters only paints over it) and hands
/// over the 2D context, for what is drawn without plotters.
fn clear(canvas: &HtmlCanvasElement) -> Result<CanvasRenderingContext2d, String> {
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
    Ok(context)
}
