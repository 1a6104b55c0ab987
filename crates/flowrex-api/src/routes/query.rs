//! What the paginated lists' query strings share: `limit` and `cursor`, positive ids, and
//! errors in FastAPI's 422 shape at `["query", name]`.

use serde_json::json;

use crate::validation::FieldError;

/// Items per page when `limit` is not given.
pub const DEFAULT_LIMIT: u64 = 50;
/// Items per page at most.
pub const MAX_LIMIT: u64 = 100;

/// The errors of one query string, collected while its parameters are read.
#[derive(Debug, Default)]
pub struct QueryErrors(pub Vec<FieldError>);

impl QueryErrors {
    /// Records that parameter `name` holds `input`, which breaks a rule.
    pub fn reject(&mut self, name: &str, kind: &'static str, msg: &str, input: &str) {
        self.0.push(FieldError::new(
            kind,
            vec![json!("query"), json!(name)],
            msg.to_owned(),
            Some(json!(input)),
            None,
        ));
    }

    /// `limit`: 1 to [`MAX_LIMIT`], [`DEFAULT_LIMIT`] when absent.
    pub fn limit(&mut self, raw: Option<&str>) -> u64 {
        match raw.map(str::parse::<u64>) {
            None => DEFAULT_LIMIT,
            Some(Ok(limit)) if (1..=MAX_LIMIT).contains(&limit) => limit,
            Some(_) => {
                self.reject(
                    "limit",
                    "less_than_equal",
                    "Input should be an integer from 1 to 100",
                    raw.unwrap_or_default(),
                );
                DEFAULT_LIMIT
            }
        }
    }

    /// A text parameter; absent or empty is `None`. NUL is refused: PostgreSQL cannot hold
    /// it in text, so it would otherwise fail the query instead of the request.
    pub fn text(&mut self, name: &str, raw: Option<String>) -> Option<String> {
        let value = raw.filter(|v| !v.is_empty())?;
        if value.contains('\0') {
            self.0.push(FieldError::new(
                "value_error",
                vec![json!("query"), json!(name)],
                "Value error, must not contain NUL characters".to_owned(),
                None,
                None,
            ));
            return None;
        }
        Some(value)
    }

    /// A positive integer parameter (`cursor`, an id); absent or empty is `None`.
    pub fn positive(&mut self, name: &str, raw: Option<&str>, msg: &str) -> Option<i64> {
        let value = raw.filter(|v| !v.is_empty())?;
        match value.parse::<i64>() {
            Ok(n) if n > 0 => Some(n),
            _ => {
                self.reject(name, "int_parsing", msg, value);
                None
            }
        }
    }
}
