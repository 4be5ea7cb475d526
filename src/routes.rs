//! The route table: which resource a path names, and what each method on it does.
//!
//! A small table of our own rather than `worker::Router`, because the contract needs what that
//! router does not give: problem+json for 404 and 405, an `Allow` header listing the methods,
//! and a preflight answer per resource. Matching is pure and unit-tested natively.

/// A request the API serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `GET /health`
    Health,
    /// `GET /openapi.json`
    OpenApi,
    /// `GET /api/{user_id}/tasks`
    ListTasks { user: String },
    /// `POST /api/{user_id}/tasks`
    CreateTask { user: String },
    /// `GET /api/{user_id}/tasks/{id}`
    GetTask { user: String, task: String },
    /// `PUT /api/{user_id}/tasks/{id}`
    UpdateTask { user: String, task: String },
    /// `DELETE /api/{user_id}/tasks/{id}`
    DeleteTask { user: String, task: String },
    /// `PATCH /api/{user_id}/tasks/{id}/complete`
    CompleteTask { user: String, task: String },
}

/// What to do with a request, decided from its method and path alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// Serve this route; `pattern` names it in logs without the ids.
    Serve { route: Route, pattern: &'static str },
    /// A CORS preflight (`OPTIONS`) on a known resource.
    Preflight { allowed: &'static [&'static str] },
    /// The resource exists, the method does not.
    MethodNotAllowed {
        allowed: &'static [&'static str],
        pattern: &'static str,
    },
    /// No such resource.
    NotFound,
}

const HEALTH: &str = "/health";
const OPENAPI: &str = "/openapi.json";
const TASKS: &str = "/api/{user_id}/tasks";
const TASK: &str = "/api/{user_id}/tasks/{id}";
const COMPLETE: &str = "/api/{user_id}/tasks/{id}/complete";

/// Matches a request against the route table.
pub fn resolve(method: &str, path: &str) -> Resolution {
    let segments: Vec<&str> = path.strip_prefix('/').unwrap_or(path).split('/').collect();
    if segments.contains(&"") {
        return Resolution::NotFound;
    }
    let resource = match segments.as_slice() {
        ["health"] => Some((HEALTH, None, None)),
        ["openapi.json"] => Some((OPENAPI, None, None)),
        ["api", user, "tasks"] => Some((TASKS, Some(*user), None)),
        ["api", user, "tasks", task] => Some((TASK, Some(*user), Some(*task))),
        ["api", user, "tasks", task, "complete"] => Some((COMPLETE, Some(*user), Some(*task))),
        _ => None,
    };
    let Some((pattern, user, task)) = resource else {
        return Resolution::NotFound;
    };
    // An id segment that does not decode to UTF-8 text names nothing.
    let decode = |segment: Option<&str>| segment.map(percent_decode).unwrap_or(Some(String::new()));
    let (Some(user), Some(task)) = (decode(user), decode(task)) else {
        return Resolution::NotFound;
    };

    let allowed = allowed_methods(pattern);
    let route = match (pattern, method) {
        (HEALTH, "GET") => Route::Health,
        (OPENAPI, "GET") => Route::OpenApi,
        (TASKS, "GET") => Route::ListTasks { user },
        (TASKS, "POST") => Route::CreateTask { user },
        (TASK, "GET") => Route::GetTask { user, task },
        (TASK, "PUT") => Route::UpdateTask { user, task },
        (TASK, "DELETE") => Route::DeleteTask { user, task },
        (COMPLETE, "PATCH") => Route::CompleteTask { user, task },
        (_, "OPTIONS") => return Resolution::Preflight { allowed },
        _ => return Resolution::MethodNotAllowed { allowed, pattern },
    };
    Resolution::Serve { route, pattern }
}

/// The methods a resource answers, for `Allow` and `Access-Control-Allow-Methods`.
fn allowed_methods(pattern: &str) -> &'static [&'static str] {
    match pattern {
        TASKS => &["GET", "POST", "OPTIONS"],
        TASK => &["GET", "PUT", "DELETE", "OPTIONS"],
        COMPLETE => &["PATCH", "OPTIONS"],
        _ => &["GET", "OPTIONS"],
    }
}

/// Decodes `%XX` escapes in a path segment; `None` when the result is not UTF-8.
fn percent_decode(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let escaped = (bytes[index] == b'%')
            .then(|| bytes.get(index + 1..index + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                decoded.push(byte);
                index += 3;
            }
            None => {
                decoded.push(bytes[index]);
                index += 1;
            }
        }
    }
    String::from_utf8(decoded).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serve(method: &str, path: &str) -> Route {
        match resolve(method, path) {
            Resolution::Serve { route, .. } => route,
            other => panic!("{method} {path}: expected a route, got {other:?}"),
        }
    }

    #[test]
    fn each_route_resolves_with_its_parameters() {
        let user = || "u1".to_owned();
        let task = || "t1".to_owned();
        assert_eq!(serve("GET", "/health"), Route::Health);
        assert_eq!(serve("GET", "/openapi.json"), Route::OpenApi);
        assert_eq!(
            serve("GET", "/api/u1/tasks"),
            Route::ListTasks { user: user() }
        );
        assert_eq!(
            serve("POST", "/api/u1/tasks"),
            Route::CreateTask { user: user() }
        );
        assert_eq!(
            serve("GET", "/api/u1/tasks/t1"),
            Route::GetTask {
                user: user(),
                task: task()
            }
        );
        assert_eq!(
            serve("PUT", "/api/u1/tasks/t1"),
            Route::UpdateTask {
                user: user(),
                task: task()
            }
        );
        assert_eq!(
            serve("DELETE", "/api/u1/tasks/t1"),
            Route::DeleteTask {
                user: user(),
                task: task()
            }
        );
        assert_eq!(
            serve("PATCH", "/api/u1/tasks/t1/complete"),
            Route::CompleteTask {
                user: user(),
                task: task()
            }
        );
    }

    #[test]
    fn path_segments_are_percent_decoded() {
        assert_eq!(
            serve("GET", "/api/user%40example.com/tasks"),
            Route::ListTasks {
                user: "user@example.com".to_owned()
            }
        );
        assert_eq!(resolve("GET", "/api/%FF/tasks"), Resolution::NotFound);
    }

    #[test]
    fn a_known_resource_with_another_method_lists_the_allowed_ones() {
        assert_eq!(
            resolve("PATCH", "/api/u1/tasks"),
            Resolution::MethodNotAllowed {
                allowed: &["GET", "POST", "OPTIONS"],
                pattern: TASKS
            }
        );
        assert_eq!(
            resolve("GET", "/api/u1/tasks/t1/complete"),
            Resolution::MethodNotAllowed {
                allowed: &["PATCH", "OPTIONS"],
                pattern: COMPLETE
            }
        );
    }

    #[test]
    fn methods_outside_the_table_are_not_allowed_even_unusual_ones() {
        for method in ["QUERY", "PROPFIND", "HEAD", "TRACE", "get"] {
            assert!(
                matches!(
                    resolve(method, "/api/u1/tasks"),
                    Resolution::MethodNotAllowed { .. }
                ),
                "{method}"
            );
        }
    }

    #[test]
    fn options_on_a_known_resource_is_a_preflight() {
        assert_eq!(
            resolve("OPTIONS", "/api/u1/tasks/t1"),
            Resolution::Preflight {
                allowed: &["GET", "PUT", "DELETE", "OPTIONS"]
            }
        );
    }

    #[test]
    fn unknown_paths_are_not_found() {
        for path in [
            "/",
            "/api",
            "/api/u1",
            "/api/u1/tasks/",
            "/api//tasks",
            "/api/u1/tasks/t1/x",
            "/healthz",
        ] {
            assert_eq!(resolve("GET", path), Resolution::NotFound, "{path}");
        }
    }
}
