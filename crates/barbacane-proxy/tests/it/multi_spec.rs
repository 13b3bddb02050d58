//! Several specs compiled into one artifact.

use barbacane_test::{TestGateway, compile_yaml};

use crate::common::{assert_ok, assert_problem};

const USERS: &str = r#"
openapi: 3.1.0
info: {title: Users, version: "1"}
paths:
  /users/{id}:
    get:
      parameters:
        - {name: id, in: path, required: true, schema: {type: integer}}
      x-barbacane-dispatch: {name: mock, config: {body: '{"api":"users"}'}}
      responses: {"200": {description: ok}}
"#;

const ORDERS: &str = r#"
openapi: 3.0.3
info: {title: Orders, version: "1"}
paths:
  /orders/{id}:
    get:
      parameters:
        - {name: id, in: path, required: true, schema: {type: string, pattern: '^o-[0-9]+$'}}
      x-barbacane-dispatch: {name: mock, config: {body: '{"api":"orders"}'}}
      responses: {"200": {description: ok}}
  /users/{id}:
    delete:
      parameters:
        - {name: id, in: path, required: true, schema: {type: integer}}
      x-barbacane-dispatch: {name: mock, config: {status: 204}}
      responses: {"204": {description: gone}}
"#;

const CONFLICT_A: &str = r#"
openapi: 3.1.0
info: {title: A, version: "1"}
paths:
  /items/{id}:
    get:
      x-barbacane-dispatch: {name: mock}
      responses: {"200": {description: ok}}
"#;

const CONFLICT_B: &str = r#"
openapi: 3.1.0
info: {title: B, version: "1"}
paths:
  /items/{itemId}:
    get:
      x-barbacane-dispatch: {name: mock}
      responses: {"200": {description: ok}}
"#;

#[tokio::test]
async fn two_specs_both_route_with_their_own_rules() {
    let gw = TestGateway::from_specs(&[("users.yaml", USERS), ("orders.yaml", ORDERS)]).await;
    let users = gw.get("/users/1").await;
    assert_ok(&users, 200);
    assert_eq!(users.json()["api"], "users");
    let orders = gw.get("/orders/o-7").await;
    assert_ok(&orders, 200);
    assert_eq!(orders.json()["api"], "orders");
    assert_problem(&gw.get("/users/x").await, 400, "validation-failed");
    assert_problem(&gw.get("/orders/7").await, 400, "validation-failed");
    // Same path, different methods from different specs: merged on one route.
    let delete = gw
        .send(
            gw.request("DELETE", "/users/1")
                .body(Default::default())
                .expect("request builds"),
        )
        .await;
    assert_eq!(delete.status(), 204);
    let post = gw
        .send(
            gw.request("POST", "/users/1")
                .body(Default::default())
                .expect("request builds"),
        )
        .await;
    assert_problem(&post, 405, "method-not-allowed");
    assert_eq!(post.header("allow"), Some("GET, HEAD, DELETE"));
}

#[test]
fn conflicting_specs_fail_with_e1010() {
    let diags = compile_yaml(&[("a.yaml", CONFLICT_A), ("b.yaml", CONFLICT_B)])
        .expect_err("conflict must not compile");
    let conflict = diags.iter().find(|d| d.code.to_string() == "E1010");
    let conflict = conflict.unwrap_or_else(|| panic!("no E1010 in {diags:#?}"));
    assert!(
        conflict.message.contains("/items/{id}"),
        "{}",
        conflict.message
    );
    // Each spec alone is fine.
    assert!(compile_yaml(&[("a.yaml", CONFLICT_A)]).is_ok());
    assert!(compile_yaml(&[("b.yaml", CONFLICT_B)]).is_ok());
}

#[test]
fn non_conflicting_specs_compile() {
    assert!(compile_yaml(&[("users.yaml", USERS), ("orders.yaml", ORDERS)]).is_ok());
}
