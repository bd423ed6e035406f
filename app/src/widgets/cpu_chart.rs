//! The live CPU chart: the last minute of total CPU use
//! (`livedash_host_cpu_percent{host}`), drawn with plotters on a `<canvas>`.
//!
//! The page starts with the series' last minute from the metrics store and
//! adds the points that follow on the series channel; the window keeps each
//! time once, so where history ends and live begins shows no seam. The
//! server renders the empty canvas and the window's extent as data
//! attributes (`data-points`, `data-oldest`, `data-newest`, `data-max-gap`,
//! timestamps in Unix milliseconds); in the browser an effect that reads
//! only the CPU series redraws it whenever that series changes. Drawing
//! happens nowhere else.

use leptos::prelude::*;

use crate::{
    ui::{host::Reading, LiveStore},
    widgets::render_count,
};

/// The CPU chart.
#[component]
pub fn CpuChart() -> impl IntoView {
    let store = expect_context::<LiveStore>();
    store.need_readings(|reading| *reading == Reading::Cpu);
    let canvas = NodeRef::<leptos::html::Canvas>::new();

    #[cfg(feature = "hydrate")]
    {
        let series = store.cpu_series;
        Effect::new(move |_| {
            let Some(canvas) = canvas.get() else { return };
            series.with(|series| {
                if let Err(error) = draw::draw(&canvas, series) {
                    leptos::logging::warn!("livedash: could not draw the CPU chart: {error}");
                }
            });
        });
    }

    view! {
        <section
            class="chart-card"
            data-testid="cpu-chart-card"
            data-renders=render_count(store.cpu_series)
            data-points=move || store.cpu_series.with(|s| s.len())
            data-oldest=move || store.cpu_series.with(|s| s.oldest_ts().unwrap_or_default())
            data-newest=move || store.cpu_series.with(|s| s.newest_ts().unwrap_or_default())
            data-max-gap=move || store.cpu_series.with(|s| s.largest_gap())
        >
            <h2 class="chart-card__title">"CPU, last 60 s"</h2>
            <canvas
                class="chart-card__canvas"
                data-testid="cpu-chart"
                node_ref=canvas
                width="800"
                height="240"
                role="img"
                aria-label="Total CPU use over the last 60 seconds"
            ></canvas>
        </section>
    }
}

#[cfg(feature = "hydrate")]
mod draw {
    use plotters::prelude::*;
    use plotters_canvas::CanvasBackend;
    use web_sys::HtmlCanvasElement;

    use crate::live::series::SeriesWindow;

    const LINE: RGBColor = RGBColor(0x2f, 0x7d, 0xf6);
    const GRID: RGBColor = RGBColor(0x8a, 0x94, 0xa6);
    const TEXT: RGBColor = RGBColor(0x8a, 0x94, 0xa6);

    /// Sizes the canvas's backing store to its displayed size (crisp lines
    /// on high-density screens), then draws the series.
    pub fn draw(canvas: &HtmlCanvasElement, series: &SeriesWindow) -> Result<(), String> {
        let ratio = web_sys::window()
            .map(|w| w.device_pixel_ratio())
            .unwrap_or(1.0)
            .max(1.0);
        let width = (f64::from(canvas.client_width()) * ratio).round() as u32;
        let height = (f64::from(canvas.client_height()) * ratio).round() as u32;
        if width > 0 && height > 0 && (canvas.width() != width || canvas.height() != height) {
            canvas.set_width(width);
            canvas.set_height(height);
        }
        clear(canvas)?;
        let backend = CanvasBackend::with_canvas_object(canvas.clone()).ok_or("no 2D context")?;
        let root = backend.into_drawing_area();
        let newest = series.newest_ts().unwrap_or(0);
        let oldest = newest - series.span_ms();
        let font = ((12.0 * ratio) as u32).max(10);
        let mut chart = ChartBuilder::on(&root)
            .margin((8.0 * ratio) as u32)
            .x_label_area_size((22.0 * ratio) as u32)
            .y_label_area_size((40.0 * ratio) as u32)
            .build_cartesian_2d(oldest..newest.max(oldest + 1), 0f64..100f64)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .light_line_style(GRID.mix(0.15))
            .bold_line_style(GRID.mix(0.3))
            .axis_style(GRID.mix(0.6))
            .label_style(("sans-serif", font).into_font().color(&TEXT))
            .x_labels(7)
            .y_labels(5)
            .x_label_formatter(&|ts| format!("-{}s", ((newest - ts) as f64 / 1000.0).round()))
            .y_label_formatter(&|v| format!("{v:.0}%"))
            .draw()
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(
                AreaSeries::new(series.points(), 0.0, LINE.mix(0.15))
                    .border_style(LINE.stroke_width((2.0 * ratio) as u32)),
            )
            .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
        Ok(())
    }

    /// Erases the previous frame (plotters only paints over it; filling with
    /// a transparent colour would change nothing).
    fn clear(canvas: &HtmlCanvasElement) -> Result<(), String> {
        use wasm_bindgen::JsCast;
        let context = canvas
            .get_context("2d")
            .ok()
            .flatten()
            .and_then(|c| c.dyn_into::<web_sys::CanvasRenderingContext2d>().ok())
            .ok_or("no 2D context")?;
        context.clear_rect(
            0.0,
            0.0,
            f64::from(canvas.width()),
            f64::from(canvas.height()),
        );
        Ok(())
    }
}
