use super::*;
use regorus::Value;

const POLICY: &str = r#"
package barbacane.authz

default allow := false

allow if input.request.method == "GET"
"#;

/// The twenty-rule policy of `scripts/policy-load.sh` and `benches/policy.rs`.
const TWENTY: &str = include_str!("../../testdata/authz-20.rego");

fn set_of(source: &str, query: &str) -> PolicySet {
    let mut set = PolicySet::default();
    set.add("p", &[("p.rego".into(), source.into())], &[query.into()])
        .unwrap();
    set
}

fn set() -> PolicySet {
    let mut set = PolicySet::default();
    set.add(
        "authz.rego",
        &[("authz.rego".into(), POLICY.into())],
        &["data.barbacane.authz.allow".into()],
    )
    .unwrap();
    set
}

fn json(value: serde_json::Value) -> Value {
    Value::from(value)
}

fn input(method: &str) -> Value {
    json(serde_json::json!({"request": {"method": method}}))
}

fn rule<'a>(set: &'a PolicySet, query: &str) -> &'a Rule {
    &set.compiled["p"][query]
}

/// Evaluates on the machine alone and with the interpreter alone, asserting they agree.
fn both(set: &PolicySet, query: &str, input: Value) -> Result<Value, String> {
    let rule = rule(set, query);
    let machine = rule
        .run(input.clone())
        .expect("the rule has a program")
        .map_err(|e| e.to_string());
    let interpreted = rule.interpret(input.clone());
    match (&machine, &interpreted) {
        (Ok(m), Ok(i)) => assert_eq!(m, i, "input {input:?}"),
        (Err(_), Err(_)) => {}
        _ => panic!("machine {machine:?}, interpreter {interpreted:?}, input {input:?}"),
    }
    interpreted
}

#[test]
fn evaluates_a_compiled_rule() {
    let set = set();
    let query = "data.barbacane.authz.allow";
    let allow = set.eval("authz.rego", query, input("GET")).unwrap();
    assert_eq!(allow, Some(Value::from(true)));
    let deny = set.eval("authz.rego", query, input("POST")).unwrap();
    assert_eq!(deny, Some(Value::from(false)));
    assert!(set.eval("other.rego", query, input("GET")).is_err());
}

#[test]
fn a_syntax_error_names_the_file_and_line() {
    let mut set = PolicySet::default();
    let error = set
        .add(
            "bad",
            &[("bad.rego".into(), "package x\nallow if {\n".into())],
            &["data.x.allow".into()],
        )
        .unwrap_err();
    assert!(error.message.contains("bad.rego:"), "{error}");
}

#[test]
fn the_machine_agrees_with_the_interpreter_on_the_bench_policy() {
    let query = "data.barbacane.authz.allow";
    let set = set_of(TWENTY, query);
    let request = |method: &str, path: &str, extra: serde_json::Value| {
        let mut request = serde_json::json!({
            "method": method, "path": path, "params": {"owner": "alice"},
            "query": {}, "query_string": "",
            "headers": {"x-user": "alice", "x-tenant": "acme"},
        });
        if let (Some(r), Some(e)) = (request.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                r.insert(k.clone(), v.clone());
            }
        }
        request
    };
    let cases = [
        (
            serde_json::json!({"request": request("GET", "/users/alice/notes", serde_json::json!({})), "context": {}}),
            true,
        ),
        (
            serde_json::json!({"request": request("GET", "/users/alice/notes", serde_json::json!({}))}),
            true,
        ),
        (
            serde_json::json!({"request": request("GET", "/users/alice/notes", serde_json::json!({"query": {"debug": "true"}})), "context": {}}),
            false,
        ),
        (
            serde_json::json!({"request": request("DELETE", "/users/alice/notes", serde_json::json!({})), "context": {}}),
            false,
        ),
        (
            serde_json::json!({"request": request("POST", "/users/alice/notes", serde_json::json!({})), "context": {}}),
            true,
        ),
        (
            serde_json::json!({"request": request("POST", "/users/alice/notes", serde_json::json!({"headers": {"x-user": "alice", "x-tenant": "acme", "x-frozen": "yes"}})), "context": {}}),
            false,
        ),
        (
            serde_json::json!({"request": request("GET", "/users/bob/notes", serde_json::json!({"params": {"owner": "bob"}})), "context": {}}),
            false,
        ),
        (
            serde_json::json!({"request": request("GET", "/users/bob/notes", serde_json::json!({"params": {"owner": "bob"}})), "context": {"auth.roles": "ops reader"}}),
            true,
        ),
        (
            serde_json::json!({"request": request("POST", "/x", serde_json::json!({})), "context": {"auth.roles": "admin", "auth.sub": "carol"}}),
            true,
        ),
        (
            serde_json::json!({"request": request("HEAD", "/public/a", serde_json::json!({"headers": {}})), "context": {}}),
            true,
        ),
        (
            serde_json::json!({"request": request("PUT", "/x", serde_json::json!({"headers": {}})), "context": {}}),
            false,
        ),
        (
            serde_json::json!({"request": request("GET", "/x", serde_json::json!({})), "context": {"auth.claims.tenant": "other"}}),
            false,
        ),
        (serde_json::json!({"request": {}}), false),
        (serde_json::json!({}), false),
    ];
    assert!(rule(&set, query).program.is_some());
    for (input, allowed) in cases {
        let value = both(&set, query, json(input.clone())).unwrap();
        assert_eq!(value, Value::from(allowed), "{input}");
        let evaluated = set.eval("p", query, json(input)).unwrap();
        assert_eq!(evaluated, Some(Value::from(allowed)));
    }
}

#[test]
fn the_machine_agrees_on_undefined_values_sets_and_objects() {
    let source = r#"package t

names contains name if {
	some name in input.names
	startswith(name, "a")
}

counts[name] := count(name) if some name in input.names

doubled := [y | x := input.numbers[_]; y := x * 2]

first := input.names[0]

every_short if every name in input.names { count(name) < 6 }

result := {"names": names, "counts": counts, "doubled": doubled, "first": first, "every_short": every_short} if input.names
"#;
    for query in [
        "data.t.result",
        "data.t.names",
        "data.t.first",
        "data.t.every_short",
    ] {
        let set = set_of(source, query);
        assert!(rule(&set, query).program.is_some(), "{query}");
        for input in [
            serde_json::json!({"names": ["ann", "bob", "alexandra"], "numbers": [1, 2.5]}),
            serde_json::json!({"names": [], "numbers": []}),
            serde_json::json!({"numbers": [1]}),
            serde_json::json!({}),
        ] {
            both(&set, query, json(input)).unwrap();
        }
    }
    let set = set_of(source, "data.t.first");
    let undefined = set.eval("p", "data.t.first", json(serde_json::json!({"names": []})));
    assert_eq!(undefined, Ok(None));
}

#[test]
fn a_rule_the_bytecode_compiler_refuses_is_interpreted() {
    // `with` is beyond regorus's bytecode compiler.
    let source = r#"package t

allow if {
	method := input.method with input.other as 1
	method == "POST"
}
"#;
    let query = "data.t.allow";
    let set = set_of(source, query);
    assert!(rule(&set, query).program.is_none());
    let allow = set.eval("p", query, json(serde_json::json!({"method": "POST"})));
    assert_eq!(allow, Ok(Some(Value::from(true))));
}

#[test]
fn a_machine_failure_is_evaluated_again_by_the_interpreter() {
    let query = "data.barbacane.authz.allow";
    let set = set_of(TWENTY, query);
    let rule = rule(&set, query);
    // The only idle machine has an instruction limit the policy exceeds.
    let mut machines = rule.machines.lock().unwrap();
    machines.clear();
    let mut limited = new_machine(rule.program.as_ref().unwrap()).unwrap();
    limited.set_max_instructions(3);
    machines.push(limited);
    drop(machines);
    let input = json(serde_json::json!({
        "request": {"method": "GET", "path": "/health", "headers": {}}
    }));
    assert!(rule.run(input.clone()).unwrap().is_err());
    assert_eq!(set.eval("p", query, input), Ok(Some(Value::from(true))));
    assert_eq!(rule.machines.lock().unwrap().len(), 1);
}

#[test]
fn comparisons_across_types_agree() {
    let source = r#"package t

below if input.n < 5

not_below if not input.n < 5
"#;
    for query in ["data.t.below", "data.t.not_below"] {
        let set = set_of(source, query);
        for n in [
            serde_json::json!("x"),
            serde_json::json!(3),
            serde_json::json!(null),
        ] {
            both(&set, query, json(serde_json::json!({ "n": n }))).unwrap();
        }
    }
}

#[test]
fn where_the_interpreter_fails_the_machine_leaves_the_expression_undefined() {
    // A builtin given the wrong type, arithmetic on a string, a complete rule with two
    // values: the interpreter fails the evaluation (a 500 for the plugin); the machine
    // leaves the expression or rule undefined, as OPA does by default for builtins.
    let source = r#"package t

bad_type if split(input.n, ",")

bad_sum if input.n + 1 > 0

x := 1 if input.a

x := 2 if input.b

default guarded := false

guarded if bad_type

unblocked if not bad_type
"#;
    // In the queried rule, undefined on the machine: the interpreter's error stands.
    for (query, input) in [
        ("data.t.bad_type", serde_json::json!({"n": 7})),
        ("data.t.bad_sum", serde_json::json!({"n": "x"})),
        ("data.t.x", serde_json::json!({"a": true, "b": true})),
    ] {
        let set = set_of(source, query);
        assert_eq!(
            rule(&set, query).run(json(input.clone())),
            Some(Ok(Value::Undefined))
        );
        let evaluated = set.eval("p", query, json(input));
        assert!(evaluated.is_err(), "{query}: {evaluated:?}");
    }
    // Deeper down: the machine's answer stands.
    for (query, value) in [("data.t.guarded", false), ("data.t.unblocked", true)] {
        let set = set_of(source, query);
        let input = json(serde_json::json!({"n": 7}));
        assert!(
            rule(&set, query).interpret(input.clone()).is_err(),
            "{query}"
        );
        assert_eq!(set.eval("p", query, input), Ok(Some(Value::from(value))));
    }
    for (query, input, value) in [
        (
            "data.t.bad_type",
            serde_json::json!({"n": "a,b"}),
            Value::from(true),
        ),
        (
            "data.t.x",
            serde_json::json!({"a": true}),
            Value::from(1u64),
        ),
        (
            "data.t.x",
            serde_json::json!({"b": true}),
            Value::from(2u64),
        ),
        (
            "data.t.unblocked",
            serde_json::json!({"n": "a,b"}),
            Value::Undefined,
        ),
    ] {
        let set = set_of(source, query);
        assert_eq!(both(&set, query, json(input)), Ok(value), "{query}");
    }
}

#[test]
fn machines_are_reused() {
    let query = "data.barbacane.authz.allow";
    let set = set_of(POLICY, query);
    for _ in 0..3 {
        set.eval("p", query, input("GET")).unwrap();
    }
    let machines = rule(&set, query).machines.lock().unwrap();
    assert_eq!(machines.len(), 1);
}
