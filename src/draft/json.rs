//! A JSON sample's options: arrays of objects (`workers: [{id: 1, ...}]`) and objects of
//! objects (`queues: {mail: {...}}`) become `[[json.each]]` tables labelled by the items'
//! id or name field (or their key), and identifying text fields of the root (`pool`,
//! `name`) become labels of every record.

use serde_json::Value;

use super::layout::{toml_str, Layout};
use super::names;

/// Fields that name an item, in the order they are preferred.
const ITEM_LABELS: &[&str] = &[
    "id", "name", "pid", "key", "host", "hostname", "server", "worker", "instance", "addr",
    "address",
];

/// Text fields of the root that name the whole document.
const ROOT_LABELS: &[&str] = &[
    "pool", "name", "hostname", "host", "instance", "service", "cluster", "node",
];

/// `workers` -> `worker`.
fn singular(word: &str) -> String {
    let label = names::label_name(word);
    let plural_es = ["sses", "ches", "shes", "xes"]
        .iter()
        .find_map(|end| label.strip_suffix(end).map(|stem| (stem, end)));
    if let Some((stem, end)) = plural_es {
        return format!("{stem}{}", end.trim_end_matches("es"));
    }
    match label.strip_suffix('s') {
        Some(one) if one.len() >= 3 && !one.ends_with('s') => one.to_string(),
        _ => label,
    }
}

/// The field that tells the items apart: present in each as a scalar, distinct.
fn label_field(items: &[&serde_json::Map<String, Value>]) -> Option<&'static str> {
    ITEM_LABELS.iter().copied().find(|field| {
        let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
        items.iter().all(|item| match item.get(*field) {
            Some(v @ (Value::String(_) | Value::Number(_))) => seen.insert(v.to_string()),
            _ => false,
        })
    })
}

struct Each {
    path: String,
    label: String,
    field: Option<&'static str>,
    why: String,
}

fn find_each(v: &Value, path: &str, out: &mut Vec<Each>) {
    let Value::Object(map) = v else {
        return;
    };
    for (k, child) in map {
        if k.contains('.') {
            continue;
        }
        let here = if path.is_empty() {
            k.clone()
        } else {
            format!("{path}.{k}")
        };
        match child {
            Value::Array(items) if !items.is_empty() => {
                let objects: Vec<&serde_json::Map<String, Value>> =
                    items.iter().filter_map(Value::as_object).collect();
                if objects.len() == items.len() {
                    if let Some(field) = label_field(&objects) {
                        out.push(Each {
                            label: singular(k),
                            why: format!(
                                "`{here}` is a list of objects: one series per item, labelled by its `{field}`"
                            ),
                            path: here,
                            field: Some(field),
                        });
                    }
                }
            }
            Value::Object(entries)
                if entries.len() >= 2
                    && entries.values().all(|e| {
                        e.as_object()
                            .is_some_and(|o| o.values().all(|x| !x.is_object() && !x.is_array()))
                    }) =>
            {
                out.push(Each {
                    label: singular(k),
                    why: format!(
                        "`{here}` is an object of objects: one series per entry, labelled by its key"
                    ),
                    path: here,
                    field: None,
                });
            }
            Value::Object(_) => find_each(child, &here, out),
            _ => {}
        }
    }
}

pub fn layout(doc: &Value) -> Layout {
    let mut why = vec![
        "format json: every number (and true/false) is a record named by its path".to_string(),
    ];
    let mut options = String::new();
    let mut root_labels = Vec::new();
    if let Value::Object(map) = doc {
        for field in ROOT_LABELS {
            if let Some(Value::String(_)) = map.get(*field) {
                root_labels.push(format!(
                    "{} = {}",
                    names::label_name(field),
                    toml_str(field)
                ));
                why.push(format!(
                    "the root's `{field}` names the document: a label on every series"
                ));
            }
        }
    }
    if !root_labels.is_empty() {
        options.push_str(&format!(
            "[json]\nlabel_fields = {{ {} }}\n",
            root_labels.join(", ")
        ));
    }
    let mut each = Vec::new();
    find_each(doc, "", &mut each);
    for e in each {
        options.push_str(&format!("\n[[json.each]]\npath = {}\n", toml_str(&e.path)));
        match e.field {
            Some(field) => options.push_str(&format!(
                "label_fields = {{ {} = {} }}\n",
                e.label,
                toml_str(field)
            )),
            None => options.push_str(&format!("key_label = {}\n", toml_str(&e.label))),
        }
        why.push(e.why);
    }
    if options.contains("[[json.each]]") && !options.starts_with("[json]") {
        options.insert_str(0, "[json]\n");
    }
    let mut l = Layout {
        format: "json",
        options,
        why,
        trailing: Default::default(),
        units: Vec::new(),
    };
    l.options = l.options.trim_start().to_string();
    l
}
