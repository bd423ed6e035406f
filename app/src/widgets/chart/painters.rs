//! The drawing of the styles few charts use: stacked lines (each visible
//! line's columns summed on the ones below it, or as shares of 100%, drawn
//! as filled bands) and bars. It is a split of the WASM module
//! (`chart_painters`), fetched before the first frame of a chart that
//! stacks or draws bars ([`fetch`]): the page's first download does not
//! carry it (about 2.2 KB brotli). What the split hands back is plain
//! function pointers ([`Painters`]), so a frame calls into it
//! synchronously once it is there.

use std::cell::{Cell, RefCell};

use leptos::task::spawn_local;
use plotters::prelude::*;
use plotters_canvas::CanvasBackend;

use super::draw::{Layout, Scene, PALETTE};
use crate::chart::{
    bar_base, column_ms_for, column_values, stack, LiveReduction, ReduceTo, Reduction, Stacking,
};

/// The canvas plotters draws on.
pub type Root = DrawingArea<CanvasBackend, plotters::coord::Shift>;

/// The split's drawing, once fetched.
#[derive(Clone, Copy)]
pub struct Painters {
    /// The scene's lines stacked over `columns` columns from `from` to
    /// `to`; `None` when the style does not stack.
    pub stack: fn(&Scene, i64, i64, usize) -> Option<Stacked>,
    /// Draws the bands `stack` made.
    pub draw_stack: fn(&Root, &Scene, &Stacked, &Layout, f64) -> Result<(), String>,
    /// Draws a line's reduction as bars, one a column, in `colour`.
    pub bars: fn(&Root, &Reduction, &Layout, f64, RGBColor) -> Result<(), String>,
}

thread_local! {
    static PAINTERS: Cell<Option<Painters>> = const { Cell::new(None) };
    /// Charts waiting for the fetch under way (`None`: none under way).
    static WAITING: RefCell<Option<Vec<Waiting>>> = const { RefCell::new(None) };
}

/// What a chart does once the split has come.
type Waiting = Box<dyn FnOnce()>;

/// The split's drawing, if it has been fetched.
pub fn painters() -> Option<Painters> {
    PAINTERS.get()
}

/// Fetches the split's drawing, once for all charts; `done` runs when it is
/// there (not at all if the fetch fails: the chart asks again at its next
/// frame).
pub fn fetch(done: impl FnOnce() + 'static) {
    let first = WAITING.with_borrow_mut(|waiting| {
        let first = waiting.is_none();
        waiting.get_or_insert_with(Vec::new).push(Box::new(done));
        first
    });
    if !first {
        return;
    }
    spawn_local(async {
        #[cfg(feature = "split")]
        let loaded = load().await;
        #[cfg(not(feature = "split"))]
        let loaded = load();
        let waiting = WAITING.take().unwrap_or_default();
        if let Ok(painters) = loaded {
            PAINTERS.set(Some(painters));
            for done in waiting {
                done();
            }
        }
    });
}

#[cfg_attr(
    feature = "split",
    leptos::wasm_split::wasm_split(chart_painters, wasm_split_path = leptos::wasm_split, fallible)
)]
fn load() -> Result<Painters, leptos::wasm_split::SplitLoaderError> {
    Ok(Painters {
        stack: stack_scene,
        draw_stack,
        bars,
    })
}

/// One bar a column, from the base to the column's extreme farther from
/// it, so a spike shows.
fn bars(
    root: &Root,
    reduction: &Reduction,
    layout: &Layout,
    ratio: f64,
    colour: RGBColor,
) -> Result<(), String> {
    let px = |v: f64| (v * ratio).round() as i32;
    let column_ms = reduction.column_ms();
    let base = bar_base(layout.min, layout.max);
    let base_y = px(layout.y_of(base));
    for column in reduction.columns() {
        let Some(summary) = column.summary else {
            continue;
        };
        let value = if summary.max.value - base >= base - summary.min.value {
            summary.max.value
        } else {
            summary.min.value
        };
        let left = px(layout.x_of(column.index * column_ms));
        let right = px(layout.x_of((column.index + 1) * column_ms)).max(left + 1);
        root.draw(&Rectangle::new(
            [(left, px(layout.y_of(value))), (right, base_y)],
            colour.mix(0.85).filled(),
        ))
        .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// The visible lines stacked on the columns of the window.
pub struct Stacked {
    column_ms: i64,
    first_column: i64,
    /// Per line (in the scene's order), per column, its lower and upper edge.
    pub bands: Vec<Vec<Option<(f64, f64)>>>,
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
            let to = ReduceTo {
                gap_ms: drawn.line.gap_ms().filter(|_| !scene.style.connect_gaps),
                from,
                width: columns,
                column_ms,
            };
            column_values(LiveReduction::new(drawn.line, to).reduction())
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
    root: &Root,
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
