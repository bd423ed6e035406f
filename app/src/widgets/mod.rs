//! The dashboard's widgets. Each reads only the memos it shows from the
//! [`LiveStore`](crate::ui::LiveStore) in context, so it re-renders only when
//! its own data changes.

mod connection_status;
mod cpu_chart;
mod stat_card;

pub use connection_status::ConnectionStatus;
pub use cpu_chart::CpuChart;
pub use stat_card::{CpuCard, LoadCard, MemoryCard, NetworkCard, StatCard};
