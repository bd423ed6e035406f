use std::time::Duration;

use app::dashboard::{
    Dashboard, DefaultRange, Grid, SeriesQuery, Widget, WidgetKind, MODEL_VERSION,
};

use super::*;

fn scratch(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("livedash-dashboards-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    dir
}

fn board(id: &str, title: &str) -> Dashboard {
    Dashboard {
        version: MODEL_VERSION,
        id: id.into(),
        title: title.into(),
        time: DefaultRange {
            range: Some("1h".into()),
            ..DefaultRange::default()
        },
        widgets: vec![Widget {
            id: "cpu".into(),
            kind: WidgetKind::Timeseries,
            title: "CPU".into(),
            grid: Grid {
                x: 0,
                y: 0,
                w: 6,
                h: 4,
            },
            series: vec![SeriesQuery {
                selector: "livedash_host_cpu_percent".into(),
                label_by: None,
                rate: false,
            }],
            unit: None,
            options: Default::default(),
        }],
    }
}

#[test]
fn a_save_writes_the_canonical_file_and_a_reopen_reads_it() {
    let dir = scratch("save");
    let dashboards = Dashboards::open(&dir).unwrap();
    let stored = dashboards.save(board("shop", "Shop"), None).unwrap();
    assert_eq!(
        fs::read_to_string(dir.join("shop.json")).unwrap(),
        stored.text
    );
    let again = Dashboards::open(&dir).unwrap();
    assert_eq!(again.get("shop"), Some(stored));
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn a_save_from_an_old_revision_is_refused_with_what_is_there_now() {
    let dir = scratch("conflict");
    let dashboards = Dashboards::open(&dir).unwrap();
    let first = dashboards.save(board("shop", "Shop"), None).unwrap();
    let second = dashboards
        .save(board("shop", "Shop 2"), Some(&first.revision))
        .unwrap();
    match dashboards.save(board("shop", "Mine"), Some(&first.revision)) {
        Err(SaveError::Conflict { current, text, .. }) => {
            assert_eq!(current, second.revision);
            assert_eq!(text, second.text);
        }
        other => panic!("{other:?}"),
    }
    // A new dashboard with an id in use is a conflict too, never an overwrite.
    assert!(matches!(
        dashboards.save(board("shop", "New"), None),
        Err(SaveError::Conflict { .. })
    ));
    assert_eq!(dashboards.get("shop").unwrap().dashboard.title, "Shop 2");
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn edits_from_one_revision_to_different_widgets_merge_and_to_the_same_one_conflict() {
    let dir = scratch("merge");
    let dashboards = Dashboards::open(&dir).unwrap();
    let mut two = board("shop", "Shop");
    let mut memory = two.widgets[0].clone();
    memory.id = "memory".into();
    memory.grid.x = 6;
    two.widgets.push(memory);
    let base = dashboards.save(two.clone(), None).unwrap().revision;
    // One person retitles the CPU chart, another (from the same revision)
    // the memory chart: both land.
    let mut first = two.clone();
    first.widgets[0].title = "CPU %".into();
    dashboards.save(first, Some(&base)).unwrap();
    let mut second = two.clone();
    second.widgets[1].title = "Memory used".into();
    let merged = dashboards.save(second, Some(&base)).unwrap();
    let titles: Vec<&str> = merged
        .dashboard
        .widgets
        .iter()
        .map(|w| w.title.as_str())
        .collect();
    assert_eq!(titles, ["CPU %", "Memory used"]);
    // A third, also from the first revision, retitles the CPU chart again.
    let mut third = two.clone();
    third.widgets[0].title = "Processor".into();
    match dashboards.save(third, Some(&base)) {
        Err(SaveError::Conflict { conflicts, .. }) => assert_eq!(conflicts, ["cpu"]),
        other => panic!("{other:?}"),
    }
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn each_save_keeps_the_previous_version_and_only_the_newest_fifty() {
    let dir = scratch("versions");
    let dashboards = Dashboards::open(&dir).unwrap();
    let mut revision = dashboards.save(board("shop", "v0"), None).unwrap().revision;
    for n in 1..=55 {
        revision = dashboards
            .save(board("shop", &format!("v{n}")), Some(&revision))
            .unwrap()
            .revision;
    }
    let versions = dashboards.versions("shop").unwrap();
    assert_eq!(versions.len(), MAX_VERSIONS);
    let newest = dashboards.version("shop", versions[0].number).unwrap();
    assert_eq!(newest.dashboard.title, "v54");
    let oldest = dashboards
        .version("shop", versions[MAX_VERSIONS - 1].number)
        .unwrap();
    assert_eq!(oldest.dashboard.title, "v5");
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn an_unchanged_save_keeps_no_version_and_an_invalid_one_writes_nothing() {
    let dir = scratch("unchanged");
    let dashboards = Dashboards::open(&dir).unwrap();
    let stored = dashboards.save(board("shop", "Shop"), None).unwrap();
    dashboards
        .save(board("shop", "Shop"), Some(&stored.revision))
        .unwrap();
    assert!(dashboards.versions("shop").unwrap().is_empty());
    let mut bad = board("shop", "Shop");
    bad.widgets[0].grid.w = 13;
    assert!(matches!(
        dashboards.save(bad, Some(&stored.revision)),
        Err(SaveError::Invalid(_))
    ));
    assert_eq!(
        fs::read_to_string(dir.join("shop.json")).unwrap(),
        stored.text
    );
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn files_edited_on_disk_are_read_and_broken_ones_leave_the_last_good_one() {
    let dir = scratch("disk");
    let dashboards = Dashboards::open(&dir).unwrap();
    dashboards.save(board("shop", "Shop"), None).unwrap();
    assert_eq!(dashboards.rescan(), (vec![], vec![]));
    // Edited by hand, in any layout: read and made canonical.
    let edited = serde_json::to_string(&board("shop", "Edited")).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    fs::write(dir.join("shop.json"), edited).unwrap();
    let (changed, gone) = dashboards.rescan();
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0].dashboard.title, "Edited");
    assert!(gone.is_empty());
    // A new file appears; a broken edit is ignored until fixed.
    fs::write(dir.join("ops.json"), board("ops", "Ops").to_canonical()).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    fs::write(dir.join("shop.json"), "{ not json").unwrap();
    let (changed, _) = dashboards.rescan();
    let ids: Vec<&str> = changed.iter().map(|s| s.dashboard.id.as_str()).collect();
    assert_eq!(ids, ["ops"]);
    assert_eq!(dashboards.get("shop").unwrap().dashboard.title, "Edited");
    // A file named other than its id is not read; a removed one goes.
    fs::write(
        dir.join("misnamed.json"),
        board("other", "X").to_canonical(),
    )
    .unwrap();
    fs::remove_file(dir.join("ops.json")).unwrap();
    let (changed, gone) = dashboards.rescan();
    assert!(changed.is_empty());
    assert_eq!(gone, ["ops"]);
    assert!(dashboards.get("misnamed").is_none() && dashboards.get("other").is_none());
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn the_demo_dashboard_is_valid_added_once_and_never_over_an_edited_one() {
    let dir = scratch("demo");
    let dashboards = Dashboards::open(&dir).unwrap();
    dashboards.add_demo().unwrap();
    let demo = dashboards.get("business").unwrap();
    assert_eq!(
        fs::read_to_string(dir.join("business.json")).unwrap(),
        demo.text
    );
    let mut edited = demo.dashboard.clone();
    edited.title = "Ours now".into();
    dashboards.save(edited, Some(&demo.revision)).unwrap();
    dashboards.add_demo().unwrap();
    assert_eq!(
        dashboards.get("business").unwrap().dashboard.title,
        "Ours now"
    );
    let _ = fs::remove_dir_all(&dir);
}
