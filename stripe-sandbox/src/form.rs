//! Stripe's request parameters: `application/x-www-form-urlencoded` bodies and query strings in
//! bracket notation (`line_items[0][price_data][currency]=usd`, `metadata[order_id]=o1`), read
//! into [`Params`]. A handler takes what it knows; whatever is left is an unknown parameter,
//! refused with Stripe's error.

use std::collections::{BTreeMap, HashMap};

use indexmap::IndexMap;

use crate::error::ApiError;

/// At most this many parameters in one request.
const MAX_PARAMS: usize = 1000;
/// At most this many bracket levels in one name.
const MAX_DEPTH: usize = 8;

/// A request's parameters, by name split into its bracketed parts, in the order sent.
#[derive(Debug, Clone, Default)]
pub struct Params {
    entries: IndexMap<Vec<String>, String>,
}

/// `a[b][c]` from its parts.
pub fn join(parts: &[String]) -> String {
    let mut name = parts.first().cloned().unwrap_or_default();
    for part in parts.iter().skip(1) {
        name.push('[');
        name.push_str(part);
        name.push(']');
    }
    name
}

/// `a[b][c]` into its parts; `None` when the brackets do not pair up.
fn split(name: &str) -> Option<Vec<String>> {
    let (head, mut rest) = match name.find('[') {
        Some(i) => (&name[..i], &name[i..]),
        None => (name, ""),
    };
    if head.is_empty() || head.contains(']') {
        return None;
    }
    let mut parts = vec![head.to_owned()];
    while !rest.is_empty() {
        if parts.len() > MAX_DEPTH {
            return None;
        }
        let inner = rest.strip_prefix('[')?;
        let close = inner.find(']')?;
        let part = &inner[..close];
        if part.contains('[') {
            return None;
        }
        parts.push(part.to_owned());
        rest = &inner[close + 1..];
    }
    Some(parts)
}

impl Params {
    /// Reads a body or query string. `a[]` parts are numbered in the order they come.
    pub fn parse(input: &[u8]) -> Result<Self, ApiError> {
        let mut entries = IndexMap::new();
        let mut next_index: HashMap<Vec<String>, usize> = HashMap::new();
        for (name, value) in form_urlencoded::parse(input) {
            if entries.len() >= MAX_PARAMS {
                return Err(ApiError::invalid(format!(
                    "Too many parameters: at most {MAX_PARAMS} are accepted in one request."
                )));
            }
            let Some(mut parts) = split(&name) else {
                return Err(ApiError::unknown_param(&name));
            };
            for i in 1..parts.len() {
                if parts[i].is_empty() {
                    let counter = next_index.entry(parts[..i].to_vec()).or_default();
                    parts[i] = counter.to_string();
                    *counter += 1;
                }
            }
            entries.insert(parts, value.into_owned());
        }
        Ok(Self { entries })
    }

    /// Every parameter as `name=value`, sorted: equal for the same request however it was
    /// ordered (what an idempotency key is compared on).
    pub fn canonical(&self) -> BTreeMap<String, String> {
        self.entries
            .iter()
            .map(|(k, v)| (join(k), v.clone()))
            .collect()
    }

    /// Removes and answers the value of `path`; a name with deeper parts under `path`
    /// (`path[x]`) is left behind and so refused as unknown.
    pub fn take(&mut self, path: &[&str]) -> Option<String> {
        let key: Vec<String> = path.iter().map(|s| (*s).to_owned()).collect();
        self.entries.shift_remove(&key)
    }

    /// An integer parameter, if sent.
    pub fn take_int(&mut self, path: &[&str]) -> Result<Option<i64>, ApiError> {
        match self.take(path) {
            None => Ok(None),
            Some(v) => v
                .parse::<i64>()
                .map(Some)
                .map_err(|_| ApiError::invalid_integer(&name_of(path), &v)),
        }
    }

    /// The numbers `N` of `prefix[N]...`, sorted. Any other part there is refused.
    pub fn indices(&self, prefix: &[&str]) -> Result<Vec<usize>, ApiError> {
        let mut found = Vec::new();
        for key in self.entries.keys() {
            if key.len() <= prefix.len() || !key.iter().zip(prefix).all(|(a, b)| a == b) {
                continue;
            }
            let part = &key[prefix.len()];
            let index = part.parse::<usize>().map_err(|_| {
                ApiError::invalid_param(
                    &name_of(prefix),
                    format!(
                        "Invalid array: {} must be indexed by numbers",
                        name_of(prefix)
                    ),
                )
            })?;
            if !found.contains(&index) {
                found.push(index);
            }
        }
        found.sort_unstable();
        Ok(found)
    }

    /// A hash parameter such as `metadata[key]=value`, with Stripe's limits (50 keys, keys up
    /// to 40 characters, values up to 500). `prefix=` (empty) means none.
    pub fn take_metadata(&mut self, prefix: &[&str]) -> Result<BTreeMap<String, String>, ApiError> {
        let name = name_of(prefix);
        if let Some(v) = self.take(prefix)
            && !v.is_empty()
        {
            return Err(ApiError::invalid_param(
                &name,
                format!("Invalid object: {name} must be a hash"),
            ));
        }
        let mut out = BTreeMap::new();
        let keys: Vec<Vec<String>> = self
            .entries
            .keys()
            .filter(|k| k.len() == prefix.len() + 1 && k.iter().zip(prefix).all(|(a, b)| a == b))
            .cloned()
            .collect();
        for key in keys {
            let value = self.entries.shift_remove(&key).unwrap_or_default();
            let field = key[prefix.len()].clone();
            let full = join(&key);
            if field.chars().count() > 40 {
                return Err(ApiError::invalid_param(
                    &full,
                    "Metadata keys can have at most 40 characters.",
                ));
            }
            if value.chars().count() > 500 {
                return Err(ApiError::invalid_param(
                    &full,
                    "Metadata values can have at most 500 characters.",
                ));
            }
            if !value.is_empty() {
                out.insert(field, value);
            }
        }
        if out.len() > 50 {
            return Err(ApiError::invalid_param(
                &name,
                "You can specify up to 50 keys, with key names up to 40 characters long and \
                 values up to 500 characters long.",
            ));
        }
        Ok(out)
    }

    /// Refuses the first parameter nobody took.
    pub fn finish(self) -> Result<(), ApiError> {
        match self.entries.keys().next() {
            Some(key) => Err(ApiError::unknown_param(&join(key))),
            None => Ok(()),
        }
    }
}

/// `a[b]` from `["a", "b"]`.
pub fn name_of(path: &[&str]) -> String {
    join(&path.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brackets_nest_and_unknown_names_are_refused_in_order() {
        let body = "mode=payment&line_items[0][price_data][currency]=usd\
                    &line_items[1][quantity]=2&metadata[order_id]=o%201&bogus=1&other=2";
        let mut p = Params::parse(body.as_bytes()).expect("parses");
        assert_eq!(p.indices(&["line_items"]).expect("indices"), vec![0, 1]);
        assert_eq!(
            p.take(&["line_items", "0", "price_data", "currency"])
                .as_deref(),
            Some("usd")
        );
        assert_eq!(
            p.take_int(&["line_items", "1", "quantity"]).expect("int"),
            Some(2)
        );
        let meta = p.take_metadata(&["metadata"]).expect("metadata");
        assert_eq!(meta.get("order_id").map(String::as_str), Some("o 1"));
        assert_eq!(p.take(&["mode"]).as_deref(), Some("payment"));
        let err = p.finish().expect_err("bogus is unknown");
        assert_eq!(err.message, "Received unknown parameter: bogus");
        assert_eq!(err.param.as_deref(), Some("bogus"));
    }

    #[test]
    fn malformed_names_and_bad_integers_are_refused() {
        assert!(Params::parse(b"a[b=1").is_err());
        assert!(Params::parse(b"a]b=1").is_err());
        assert!(Params::parse(b"[a]=1").is_err());
        let mut p = Params::parse(b"amount=12x&expand[]=a&expand[]=b").expect("parses");
        let err = p.take_int(&["amount"]).expect_err("not an integer");
        assert_eq!(err.message, "Invalid integer: 12x");
        assert_eq!(p.take(&["expand", "1"]).as_deref(), Some("b"));
        let mut p = Params::parse(b"line_items[x][quantity]=1").expect("parses");
        assert!(p.indices(&["line_items"]).is_err());
        assert_eq!(p.take(&["mode"]), None);
    }

    #[test]
    fn the_canonical_form_ignores_order() {
        let a = Params::parse(b"a=1&b[c]=2").expect("parses");
        let b = Params::parse(b"b[c]=2&a=1").expect("parses");
        assert_eq!(a.canonical(), b.canonical());
        assert_ne!(
            a.canonical(),
            Params::parse(b"a=1&b[c]=3").expect("parses").canonical()
        );
    }
}
