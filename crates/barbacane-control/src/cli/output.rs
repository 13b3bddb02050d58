//! Printing: aligned tables for people, JSON for scripts.

use serde_json::Value;

/// Prints `rows` under `headers`, columns padded to their widest cell.
pub fn table(headers: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(headers.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

/// A field of a JSON object as display text (`-` when absent or null).
pub fn field(value: &Value, key: &str) -> String {
    match value.get(key) {
        None | Some(Value::Null) => "-".to_owned(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
            .collect::<Vec<_>>()
            .join(","),
        Some(other) => other.to_string(),
    }
}

/// Several fields of a JSON object as display text (see [`field`]).
pub fn fields(value: &Value, keys: &[&str]) -> Vec<String> {
    keys.iter().map(|k| field(value, k)).collect()
}

/// Prints a JSON value, pretty.
pub fn json(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
    );
}

/// Prints compiler diagnostics (as the API returns them) to stderr.
pub fn diagnostics(list: &Value) {
    for d in list.as_array().into_iter().flatten() {
        let severity = d.get("severity").and_then(Value::as_str).unwrap_or("error");
        let code = field(d, "code");
        let message = field(d, "message");
        eprintln!("{severity}[{code}]: {message}");
        if let Some(file) = d.get("file").and_then(Value::as_str) {
            let pointer = d.get("json_pointer").and_then(Value::as_str).unwrap_or("");
            // `line_column` is `[line, column]` when the server knows it (syntax errors).
            match d
                .get("line_column")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
            {
                Some([line, column]) => eprintln!("  --> {file}:{line}:{column}#{pointer}"),
                _ => eprintln!("  --> {file}#{pointer}"),
            }
        }
        if let Some(hint) = d.get("hint").and_then(Value::as_str) {
            eprintln!("  = hint: {hint}");
        }
    }
}

/// A list as the API returned it: JSON with `--json`, else a table with one row per item.
pub fn listing(as_json: bool, list: &Value, headers: &[&str], row: impl Fn(&Value) -> Vec<String>) {
    if as_json {
        json(list);
        return;
    }
    let rows: Vec<Vec<String>> = list.as_array().into_iter().flatten().map(row).collect();
    table(headers, &rows);
}
