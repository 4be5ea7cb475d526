//! Prints the SQL statements the worker runs for the benchmark's scenarios, as JSON, built by
//! the worker's own code (`src/store/sql.rs`) from the request bodies the benchmark sends.
//! The benchmark's database floor (scripts/lib/bench/workload.mjs) runs exactly these, so it
//! cannot drift from the worker.
//!
//! `cargo run --quiet --example sql-statements -- '<create body>' '<update body>'`

use edge_task_api::{
    auth::Caller,
    domain::{CompletionChange, ListQuery, Param, Precondition, TaskId, UserId},
    request,
    store::sql::{self, Statement},
};
use serde_json::{json, Value};

fn statement(statement: Statement) -> Value {
    let params: Vec<Value> = statement
        .params
        .iter()
        .map(|param| match param {
            Param::Text(text) => json!(text),
            Param::Bool(flag) => json!(flag.map(|flag| flag.to_string())),
        })
        .collect();
    json!({ "text": statement.text, "params": params })
}

fn main() {
    let caller = Caller::User(UserId::parse("bench-user").expect("a valid user id"));
    let task = TaskId::parse("a0000000-0000-7000-8000-000000000000").expect("a valid task id");
    let mut bodies = std::env::args().skip(1);
    let (Some(create_body), Some(update_body)) = (bodies.next(), bodies.next()) else {
        eprintln!("usage: sql-statements '<create body>' '<update body>'");
        std::process::exit(2);
    };
    let json = Some("application/json");
    let new_task =
        request::parse_new_task(json, create_body.as_bytes()).expect("the create body parses");
    let patch = request::parse_patch(json, update_body.as_bytes()).expect("the update body parses");
    let statements = json!({
        "ping": statement(sql::ping()),
        "list": statement(sql::list_tasks(&caller, &ListQuery::default(), None)),
        "select": statement(sql::select_task(&caller, task)),
        "insert": statement(sql::insert_task(&caller, &new_task, edge_task_api::config::DEFAULT_TASK_QUOTA)),
        "update": statement(sql::update_task(&caller, task, &patch, &Precondition::None)),
        "toggle": statement(sql::change_completion(
            &caller,
            task,
            CompletionChange::Toggle,
            &Precondition::None,
        )),
        "delete": statement(sql::delete_task(&caller, task, &Precondition::None)),
    });
    println!("{statements:#}");
}
