use serde_json::json;

use super::*;

fn shop() -> Value {
    json!({
        "version": 1,
        "id": "shop",
        "title": "Shop",
        "time": {"range": "1h"},
        "widgets": [
            {
                "id": "revenue",
                "type": "stat",
                "title": "Revenue",
                "grid": {"x": 0, "y": 0, "w": 3, "h": 2},
                "series": [{"selector": "shop_revenue_dollars"}],
                "unit": "currency",
                "options": {"decimals": 1}
            },
            {
                "id": "orders",
                "type": "timeseries",
                "title": "Orders by region",
                "grid": {"x": 3, "y": 0, "w": 9, "h": 4},
                "series": [{"selector": "shop_orders_total", "label_by": "region", "rate": true}],
                "options": {"stacking": "normal", "soft_min": 0, "thresholds": [{"value": 80, "level": "warning"}]}
            },
            {
                "id": "notes",
                "type": "text",
                "title": "On call",
                "grid": {"x": 0, "y": 2, "w": 3, "h": 2},
                "options": {"markdown": "**Pager**: #shop-oncall"}
            },
            {
                "id": "deploys",
                "type": "feed",
                "title": "Deploys",
                "grid": {"x": 0, "y": 4, "w": 12, "h": 3},
                "options": {"channel": "dashboard:shop"}
            }
        ]
    })
}

fn problems(value: Value) -> Vec<(String, String)> {
    match Dashboard::from_json(&value.to_string()) {
        Ok(_) => Vec::new(),
        Err(ModelError::Invalid(problems)) => {
            problems.into_iter().map(|p| (p.path, p.message)).collect()
        }
        Err(ModelError::Shape(message)) => vec![("".into(), message)],
    }
}

#[test]
fn a_valid_dashboard_reads_and_its_canonical_text_is_stable() {
    let dashboard = Dashboard::from_json(&shop().to_string()).unwrap();
    let canonical = dashboard.to_canonical();
    // Export, import, export: the same bytes.
    let again = Dashboard::from_json(&canonical).unwrap();
    assert_eq!(again, dashboard);
    assert_eq!(again.to_canonical(), canonical);
    assert!(canonical.ends_with("}\n"));
    // Fields in the model's order, options by key, two-space indentation.
    let version = canonical.find("\"version\"").unwrap();
    let widgets = canonical.find("\"widgets\"").unwrap();
    assert!(version < widgets);
    assert!(canonical.contains("\n  \"id\": \"shop\",\n"));
    let soft_min = canonical.find("\"soft_min\"").unwrap();
    let stacking = canonical.find("\"stacking\"").unwrap();
    assert!(soft_min < stacking, "options sorted by key");
    // And so are objects inside them, whatever order they were written in.
    let level = canonical.find("\"level\"").unwrap();
    let value = canonical.find("\"value\"").unwrap();
    assert!(level < value, "{canonical}");
    // Defaults are left out, so a file says only what was chosen.
    assert!(!canonical.contains("\"rate\": false"));
    assert!(!canonical.contains("label_by\": null"));
}

#[test]
fn any_key_order_and_spacing_reads_to_the_same_canonical_text() {
    let compact = shop().to_string();
    let mut reordered: serde_json::Map<String, Value> = serde_json::Map::new();
    let Value::Object(fields) = shop() else {
        unreachable!()
    };
    for (key, value) in fields.into_iter().rev() {
        reordered.insert(key, value);
    }
    let a = Dashboard::from_json(&compact).unwrap().to_canonical();
    let b = Dashboard::from_json(&serde_json::to_string_pretty(&Value::Object(reordered)).unwrap())
        .unwrap()
        .to_canonical();
    assert_eq!(a, b);
}

#[test]
fn every_problem_is_named_with_the_field_it_is_about() {
    let mut bad = shop();
    bad["version"] = json!(2);
    bad["id"] = json!("Shop Main");
    bad["title"] = json!("  ");
    bad["time"] = json!({"range": "forever"});
    let widgets = bad["widgets"].as_array_mut().unwrap();
    widgets[0]["grid"] = json!({"x": 10, "y": 0, "w": 3, "h": 2});
    widgets[1]["id"] = json!("revenue");
    widgets[1]["series"] = json!([]);
    widgets[2]["options"] = json!({"markdown": 5, "colour": "red"});
    widgets[3]["options"] = json!({"channel": "no spaces allowed"});
    let found = problems(bad);
    let paths: Vec<&str> = found.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        [
            "version",
            "id",
            "title",
            "time",
            "widgets[0].grid.x",
            "widgets[1].id",
            "widgets[1].grid",
            "widgets[1].series",
            "widgets[2].options.colour",
            "widgets[2].options.markdown",
            "widgets[3].options.channel",
        ],
        "{found:#?}"
    );
    assert!(found[0].1.contains("version 1"));
    assert!(
        found[6].1.contains("overlaps widget \"revenue\""),
        "{}",
        found[6].1
    );
}

#[test]
fn shapes_that_are_not_dashboards_are_refused_before_any_rule() {
    for text in [
        "not json".to_string(),
        "[]".to_string(),
        json!({"version": 1, "id": "a", "title": "A", "time": {"range": "1h"}}).to_string(),
        {
            let mut typo = shop();
            typo["widgets"][0]["serie"] = json!([]);
            typo.to_string()
        },
        {
            let mut unknown = shop();
            unknown["widgets"][0]["type"] = json!("piechart");
            unknown.to_string()
        },
        {
            let mut negative = shop();
            negative["widgets"][0]["grid"]["x"] = json!(-1);
            negative.to_string()
        },
    ] {
        assert!(
            matches!(Dashboard::from_json(&text), Err(ModelError::Shape(_))),
            "{text}"
        );
    }
}

#[test]
fn grids_overlap_only_when_they_share_a_cell() {
    let a = Grid {
        x: 0,
        y: 0,
        w: 6,
        h: 2,
    };
    assert!(a.overlaps(&Grid {
        x: 5,
        y: 1,
        w: 2,
        h: 2
    }));
    assert!(!a.overlaps(&Grid {
        x: 6,
        y: 0,
        w: 6,
        h: 2
    }));
    assert!(!a.overlaps(&Grid {
        x: 0,
        y: 2,
        w: 6,
        h: 2
    }));
}

#[test]
fn ids_are_file_and_address_safe() {
    for good in ["shop", "host-1", "a_b", "9lives"] {
        assert!(valid_id(good), "{good}");
    }
    for bad in ["", "Shop", "-a", "a/b", "..", "a b", &"a".repeat(65)] {
        assert!(!valid_id(bad), "{bad}");
    }
}

#[test]
fn a_fixed_default_range_and_a_relative_one_are_both_taken() {
    for time in [
        json!({"from": "now-6h", "to": "now"}),
        json!({"from": "2026-12-01T00:00:00Z", "to": "2026-12-02T00:00:00Z"}),
        json!({"range": "7d"}),
    ] {
        let mut dashboard = shop();
        dashboard["time"] = time.clone();
        assert_eq!(
            problems(dashboard),
            Vec::<(String, String)>::new(),
            "{time}"
        );
    }
    let mut none = shop();
    none["time"] = json!({});
    assert_eq!(problems(none)[0].0, "time");
}

mod merging {
    use super::super::merge::{merge, resolve, Merged};
    use super::*;

    fn base() -> Dashboard {
        Dashboard::from_json(&shop().to_string()).unwrap()
    }

    fn widget<'a>(d: &'a mut Dashboard, id: &str) -> &'a mut Widget {
        d.widgets.iter_mut().find(|w| w.id == id).unwrap()
    }

    #[test]
    fn edits_to_different_widgets_and_fields_merge() {
        let mut mine = base();
        widget(&mut mine, "revenue").title = "Revenue today".into();
        mine.title = "Shop (mine)".into();
        let mut theirs = base();
        widget(&mut theirs, "orders").unit = Some(Unit::Count);
        theirs.time = DefaultRange {
            range: Some("6h".into()),
            ..DefaultRange::default()
        };
        let Merged::Clean(merged) = merge(&base(), &mine, &theirs) else {
            panic!("a conflict")
        };
        assert_eq!(merged.title, "Shop (mine)");
        assert_eq!(merged.time.range.as_deref(), Some("6h"));
        let mut merged_copy = merged.clone();
        assert_eq!(widget(&mut merged_copy, "revenue").title, "Revenue today");
        assert_eq!(widget(&mut merged_copy, "orders").unit, Some(Unit::Count));
        // The same result whichever edit came first.
        let Merged::Clean(other_way) = merge(&base(), &theirs, &mine) else {
            panic!("a conflict")
        };
        assert_eq!(other_way.to_canonical(), merged.to_canonical());
    }

    #[test]
    fn the_same_widget_changed_both_ways_is_a_conflict_naming_it() {
        let mut mine = base();
        widget(&mut mine, "orders").title = "Mine".into();
        let mut theirs = base();
        widget(&mut theirs, "orders").title = "Theirs".into();
        widget(&mut theirs, "revenue").title = "Fine".into();
        assert_eq!(
            merge(&base(), &mine, &theirs),
            Merged::Conflict(vec!["orders".into()])
        );
        // The same change on both sides is no conflict.
        let mut same = base();
        widget(&mut same, "orders").title = "Mine".into();
        assert!(matches!(merge(&base(), &mine, &same), Merged::Clean(_)));
    }

    #[test]
    fn additions_merge_and_a_removal_conflicts_only_with_an_edit() {
        let mut mine = base();
        let mut added = mine.widgets[2].clone();
        added.id = "mine".into();
        added.grid.y = 10;
        mine.widgets.push(added);
        mine.widgets.retain(|w| w.id != "deploys");
        let mut theirs = base();
        let mut theirs_added = theirs.widgets[2].clone();
        theirs_added.id = "theirs".into();
        theirs_added.grid.y = 20;
        theirs.widgets.push(theirs_added);
        let Merged::Clean(merged) = merge(&base(), &mine, &theirs) else {
            panic!("a conflict")
        };
        let ids: Vec<&str> = merged.widgets.iter().map(|w| w.id.as_str()).collect();
        assert_eq!(ids, ["revenue", "orders", "notes", "theirs", "mine"]);
        // They edited what I removed: a conflict.
        widget(&mut theirs, "deploys").title = "Releases".into();
        assert_eq!(
            merge(&base(), &mine, &theirs),
            Merged::Conflict(vec!["deploys".into()])
        );
    }

    #[test]
    fn a_settled_conflict_takes_the_chosen_side_and_keeps_every_other_edit() {
        let mut mine = base();
        widget(&mut mine, "orders").title = "Mine".into();
        mine.title = "My shop".into();
        mine.widgets.retain(|w| w.id != "deploys");
        let mut theirs = base();
        widget(&mut theirs, "orders").title = "Theirs".into();
        widget(&mut theirs, "revenue").title = "Fine".into();
        theirs.title = "Their shop".into();
        widget(&mut theirs, "deploys").title = "Releases".into();
        let Merged::Conflict(conflicts) = merge(&base(), &mine, &theirs) else {
            panic!("no conflict")
        };
        assert_eq!(conflicts, ["title", "orders", "deploys"]);
        let all_mine = resolve(&base(), &mine, &theirs, &conflicts);
        assert_eq!(all_mine.title, "My shop");
        let mut copy = all_mine.clone();
        assert_eq!(widget(&mut copy, "orders").title, "Mine");
        assert_eq!(
            widget(&mut copy, "revenue").title,
            "Fine",
            "their other edit stays"
        );
        assert!(
            !all_mine.widgets.iter().any(|w| w.id == "deploys"),
            "my removal stands"
        );
        let all_theirs = resolve(&base(), &mine, &theirs, &[]);
        assert_eq!(all_theirs, theirs);
        let mixed = resolve(&base(), &mine, &theirs, &["orders".to_string()]);
        assert_eq!(mixed.title, "Their shop");
        let mut copy = mixed.clone();
        assert_eq!(widget(&mut copy, "orders").title, "Mine");
        assert_eq!(widget(&mut copy, "deploys").title, "Releases");
    }
}
