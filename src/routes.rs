//! The route table: which resource a path names, and what each method on it does.
//!
//! A small table of our own rather than `worker::Router`, because the contract needs what that
//! router does not give: problem+json for 404 and 405, an `Allow` header listing the methods,
//! and a preflight answer per resource. Matching is pure and unit-tested natively.

use percent_encoding::percent_decode_str;

/// A request the API serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `GET /health`: liveness, with the database check cached per isolate
    Health,
    /// `GET /ready`: readiness, a database round trip every time
    Ready,
    /// `GET /openapi.json`
    OpenApi,
    /// A route under `/api/{user_id}/`: every one needs the path user's credential.
    User {
        /// The path's `user_id`, percent-decoded.
        user: String,
        /// Which of the user's routes.
        route: UserRoute,
    },
}

/// The routes under `/api/{user_id}/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserRoute {
    /// `GET /api/{user_id}/tasks`
    ListTasks,
    /// `GET /api/{user_id}/changes`
    ListChanges,
    /// `POST /api/{user_id}/tasks`
    CreateTask,
    /// `GET /api/{user_id}/tasks/{id}`
    GetTask { task: String },
    /// `PUT /api/{user_id}/tasks/{id}`
    UpdateTask { task: String },
    /// `DELETE /api/{user_id}/tasks/{id}`
    DeleteTask { task: String },
    /// `PATCH /api/{user_id}/tasks/{id}/complete`
    CompleteTask { task: String },
}

/// What to do with a request, decided from its method and path alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// Serve this route; `pattern` names it in logs without the ids.
    Serve { route: Route, pattern: &'static str },
    /// A CORS preflight (`OPTIONS`) on a known resource.
    Preflight { allowed: Allowed },
    /// The resource exists, the method does not.
    MethodNotAllowed {
        allowed: Allowed,
        pattern: &'static str,
    },
    /// No such resource.
    NotFound,
}

/// Which endpoint a method on a resource reaches, before its path parameters are attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Health,
    Ready,
    OpenApi,
    ListTasks,
    ListChanges,
    CreateTask,
    GetTask,
    UpdateTask,
    DeleteTask,
    CompleteTask,
}

/// A resource and its methods: the one table that both routing and `Allow` read.
#[derive(Debug, PartialEq, Eq)]
pub struct Resource {
    pattern: &'static str,
    methods: &'static [(&'static str, Endpoint)],
}

/// The methods a resource answers, `OPTIONS` included: for `Allow` and
/// `Access-Control-Allow-Methods`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allowed(&'static Resource);

impl Allowed {
    /// The methods, comma-separated, ending with `OPTIONS`.
    pub fn header_value(self) -> String {
        let mut methods: Vec<&str> = self.0.methods.iter().map(|(method, _)| *method).collect();
        methods.push("OPTIONS");
        methods.join(", ")
    }
}

const HEALTH: Resource = Resource {
    pattern: "/health",
    methods: &[("GET", Endpoint::Health)],
};
const READY: Resource = Resource {
    pattern: "/ready",
    methods: &[("GET", Endpoint::Ready)],
};
const OPENAPI: Resource = Resource {
    pattern: "/openapi.json",
    methods: &[("GET", Endpoint::OpenApi)],
};
const TASKS: Resource = Resource {
    pattern: "/api/{user_id}/tasks",
    methods: &[("GET", Endpoint::ListTasks), ("POST", Endpoint::CreateTask)],
};
const CHANGES: Resource = Resource {
    pattern: "/api/{user_id}/changes",
    methods: &[("GET", Endpoint::ListChanges)],
};
const TASK: Resource = Resource {
    pattern: "/api/{user_id}/tasks/{id}",
    methods: &[
        ("GET", Endpoint::GetTask),
        ("PUT", Endpoint::UpdateTask),
        ("DELETE", Endpoint::DeleteTask),
    ],
};
const COMPLETE: Resource = Resource {
    pattern: "/api/{user_id}/tasks/{id}/complete",
    methods: &[("PATCH", Endpoint::CompleteTask)],
};

/// Matches a request against the route table.
pub fn resolve(method: &str, path: &str) -> Resolution {
    let segments: Vec<&str> = path.strip_prefix('/').unwrap_or(path).split('/').collect();
    if segments.contains(&"") {
        return Resolution::NotFound;
    }
    let (resource, user, task): (&'static Resource, _, _) = match segments.as_slice() {
        ["health"] => (&HEALTH, None, None),
        ["ready"] => (&READY, None, None),
        ["openapi.json"] => (&OPENAPI, None, None),
        ["api", user, "tasks"] => (&TASKS, Some(*user), None),
        ["api", user, "changes"] => (&CHANGES, Some(*user), None),
        ["api", user, "tasks", task] => (&TASK, Some(*user), Some(*task)),
        ["api", user, "tasks", task, "complete"] => (&COMPLETE, Some(*user), Some(*task)),
        _ => return Resolution::NotFound,
    };
    // An id segment that does not decode to UTF-8 text names nothing.
    let decode = |segment: Option<&str>| match segment {
        None => Some(String::new()),
        Some(segment) => percent_decode_str(segment)
            .decode_utf8()
            .ok()
            .map(|text| text.into_owned()),
    };
    let (Some(user), Some(task)) = (decode(user), decode(task)) else {
        return Resolution::NotFound;
    };

    let allowed = Allowed(resource);
    let pattern = resource.pattern;
    let Some(&(_, endpoint)) = resource.methods.iter().find(|(name, _)| *name == method) else {
        return if method == "OPTIONS" {
            Resolution::Preflight { allowed }
        } else {
            Resolution::MethodNotAllowed { allowed, pattern }
        };
    };
    let user_route = |route| Route::User { user, route };
    let route = match endpoint {
        Endpoint::Health => Route::Health,
        Endpoint::Ready => Route::Ready,
        Endpoint::OpenApi => Route::OpenApi,
        Endpoint::ListTasks => user_route(UserRoute::ListTasks),
        Endpoint::ListChanges => user_route(UserRoute::ListChanges),
        Endpoint::CreateTask => user_route(UserRoute::CreateTask),
        Endpoint::GetTask => user_route(UserRoute::GetTask { task }),
        Endpoint::UpdateTask => user_route(UserRoute::UpdateTask { task }),
        Endpoint::DeleteTask => user_route(UserRoute::DeleteTask { task }),
        Endpoint::CompleteTask => user_route(UserRoute::CompleteTask { task }),
    };
    Resolution::Serve { route, pattern }
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
        let user = |route| Route::User {
            user: "u1".to_owned(),
            route,
        };
        let task = || "t1".to_owned();
        assert_eq!(serve("GET", "/health"), Route::Health);
        assert_eq!(serve("GET", "/ready"), Route::Ready);
        assert_eq!(serve("GET", "/openapi.json"), Route::OpenApi);
        assert_eq!(serve("GET", "/api/u1/tasks"), user(UserRoute::ListTasks));
        assert_eq!(
            serve("GET", "/api/u1/changes"),
            user(UserRoute::ListChanges)
        );
        assert_eq!(serve("POST", "/api/u1/tasks"), user(UserRoute::CreateTask));
        assert_eq!(
            serve("GET", "/api/u1/tasks/t1"),
            user(UserRoute::GetTask { task: task() })
        );
        assert_eq!(
            serve("PUT", "/api/u1/tasks/t1"),
            user(UserRoute::UpdateTask { task: task() })
        );
        assert_eq!(
            serve("DELETE", "/api/u1/tasks/t1"),
            user(UserRoute::DeleteTask { task: task() })
        );
        assert_eq!(
            serve("PATCH", "/api/u1/tasks/t1/complete"),
            user(UserRoute::CompleteTask { task: task() })
        );
    }

    #[test]
    fn path_segments_are_percent_decoded() {
        assert_eq!(
            serve("GET", "/api/user%40example.com/tasks"),
            Route::User {
                user: "user@example.com".to_owned(),
                route: UserRoute::ListTasks
            }
        );
        assert_eq!(resolve("GET", "/api/%FF/tasks"), Resolution::NotFound);
    }

    #[test]
    fn a_known_resource_with_another_method_lists_the_allowed_ones() {
        assert_eq!(
            resolve("PATCH", "/api/u1/tasks"),
            Resolution::MethodNotAllowed {
                allowed: Allowed(&TASKS),
                pattern: TASKS.pattern
            }
        );
        assert_eq!(Allowed(&TASKS).header_value(), "GET, POST, OPTIONS");
        assert_eq!(
            resolve("GET", "/api/u1/tasks/t1/complete"),
            Resolution::MethodNotAllowed {
                allowed: Allowed(&COMPLETE),
                pattern: COMPLETE.pattern
            }
        );
        assert_eq!(Allowed(&COMPLETE).header_value(), "PATCH, OPTIONS");
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
        let Resolution::Preflight { allowed } = resolve("OPTIONS", "/api/u1/tasks/t1") else {
            panic!("expected a preflight");
        };
        assert_eq!(allowed.header_value(), "GET, PUT, DELETE, OPTIONS");
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
