//! Object ids in Stripe's shape: a prefix naming the kind (`cs_test_`, `pi_`, `ch_`, `re_`,
//! `evt_`, `req_`) and random letters and digits.

use rand::Rng;
use rand::distr::Alphanumeric;

fn random(prefix: &str, len: usize) -> String {
    let tail: String = rand::rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect();
    format!("{prefix}{tail}")
}

pub fn session() -> String {
    random("cs_test_", 58)
}

pub fn payment_intent() -> String {
    random("pi_", 24)
}

pub fn charge() -> String {
    random("ch_", 24)
}

pub fn refund() -> String {
    random("re_", 24)
}

pub fn event() -> String {
    random("evt_", 24)
}

pub fn request() -> String {
    random("req_", 14)
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_have_their_prefix_and_differ() {
        let a = super::session();
        assert!(a.starts_with("cs_test_") && a.len() == 66);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
        assert_ne!(a, super::session());
        assert!(super::request().starts_with("req_"));
    }
}
