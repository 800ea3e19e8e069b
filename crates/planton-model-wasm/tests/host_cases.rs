//! The answers every host must give: the model run natively over tests/corpus (each
//! event's ResourceProperties, checked) and tests/policies (each document, judged),
//! written to tests/hosts/cases.json. The Node and Python hosts send the same requests
//! to the WebAssembly module and must read back exactly these answers; this test fails
//! when the file differs from what the native model says (regenerate with
//! `UPDATE_HOST_CASES=1 cargo test -p planton-model-wasm`).

use planton_model_wasm::{respond, wrap, Verb};
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("json"))
        .collect();
    files.sort();
    files
}

fn name(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap()
        .to_string_lossy()
        .replace('\\', "/")
}

/// The request a host builds from a corpus event: its properties and its stack's
/// partition. Events no JSON reader agrees on (lone surrogates, not an object) are
/// recorded as skipped, so every host skips the same ones.
fn check_request(event: &Value) -> Option<Value> {
    let props = event.get("ResourceProperties")?;
    let partition = event
        .get("StackId")
        .and_then(Value::as_str)
        .and_then(|s| s.split(':').nth(1))
        .unwrap_or("aws");
    Some(json!({"Properties": props, "Partition": partition}))
}

/// An answer listing more than [`HEAD`] findings is kept as its first [`HEAD`] and its
/// count (the 10,000 bad tags of one corpus case would otherwise be most of the file);
/// hosts compare the same projection.
const HEAD: usize = 50;

fn shortened(answer: Value) -> Value {
    match answer.get("ok").and_then(Value::as_array) {
        Some(list) if list.len() > HEAD => json!({
            "ok_head": list[..HEAD].to_vec(),
            "ok_len": list.len(),
        }),
        _ => answer,
    }
}

fn cases() -> Value {
    let mut check = Map::new();
    let mut skipped = Vec::new();
    for path in json_files(&root().join("tests/corpus")) {
        let text = std::fs::read_to_string(&path).unwrap();
        let request = serde_json::from_str::<Value>(&text)
            .ok()
            .as_ref()
            .and_then(check_request);
        match request {
            Some(req) => {
                let answer = wrap(respond(Verb::Check, &req.to_string()));
                check.insert(name(&path), shortened(answer));
            }
            None => skipped.push(Value::String(name(&path))),
        }
    }
    let mut judge = Map::new();
    for kind in ["escalation", "benign"] {
        for path in json_files(&root().join("tests/policies").join(kind)) {
            let file: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let doc = file.get("document").cloned().unwrap_or(Value::Null);
            let req = json!({"Documents": [doc]});
            judge.insert(name(&path), wrap(respond(Verb::Judge, &req.to_string())));
        }
    }
    json!({
        "_about": "What every host of the model answers (crates/planton-model-wasm/tests/host_cases.rs). An answer of more than 50 findings is kept as ok_head (the first 50) and ok_len. check: {\"Properties\": event.ResourceProperties, \"Partition\": the StackId's partition} for each tests/corpus event; judge: {\"Documents\": [file.document]} for each tests/policies file.",
        "check": check,
        "check_skipped": skipped,
        "judge": judge,
    })
}

#[test]
fn every_host_answers_what_the_native_model_answers() {
    let path = root().join("tests/hosts/cases.json");
    let fresh = serde_json::to_string_pretty(&cases()).unwrap() + "\n";
    if std::env::var_os("UPDATE_HOST_CASES").is_some() {
        std::fs::write(&path, &fresh).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "tests/hosts/cases.json differs from what the model answers: UPDATE_HOST_CASES=1 cargo test -p planton-model-wasm"
    );
}
